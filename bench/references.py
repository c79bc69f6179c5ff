#!/usr/bin/env python
"""Benchmark: instant references end to end, and ``/verify/<code>/``, on a real gunicorn.

Prepares a throw-away site (PostgreSQL by default: a ``tumen_bench_references`` database in the
private cluster of ``scripts/postgres.sh``, created here; or ``--database sqlite``) like
``make serve`` does (migrate, demo catalog), points the demo agency ``ubeg``'s reference source
(``reference_json``) at the stand-in agency of ``tests/reference_server.py`` running in this
process on 127.0.0.1 and answering signed JSON after ``--agency-ms`` (50 ms), creates
``--citizens`` signed-in citizen sessions (what the sign-in leaves: a logged-in user and the
verified identity in the session), and starts gunicorn (``gunicorn.conf.py``, ``--workers``).

1. references: open loop at ``--rate`` per second for ``--duration`` seconds: each request is
   ``POST /references/DEMO-00008/`` (a new request token) from one of the sessions, then the
   ``GET`` of the issued page's PDF: the time from the moment the schedule meant to send it to
   the last byte of the PDF (so a client or server falling behind shows in the figures);
2. verify: ``GET /verify/<code>/`` of the issued codes, open loop at ``--verify-rate``;
3. baseline, in the same run: ``GET /healthz`` (no database work) at ``--verify-rate``, so the
   machine's own noise is seen beside the figures (the machine is shared).

Each phase also prints the server's CPU per request (the gunicorn processes' user + system time
from /proc, divided by the requests): a cost figure that other load on the machine barely moves,
and the machine's load average.

Afterwards it checks in the database that every reference answered is stored once with its
file. Prints p50/p95/p99 and the goals (p95 <= 300 ms for a reference at 20/s with a 50 ms
agency; p95 <= 20 ms for verify). Exit status 1 when a request failed or a document is missing.

    .venv/bin/python bench/references.py
    .venv/bin/python bench/references.py --database sqlite --rate 10 --duration 10
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_postgres import fresh_database  # noqa: E402
from serving import (  # noqa: E402  bench/ (the script's folder) is on sys.path
    free_port,
    server_cpu_seconds,
    wait_for_healthz,
)

PYTHON = Path(sys.executable)
GUNICORN = PYTHON.parent / "gunicorn"
BENCH_DB = "tumen_bench_references"
SERVICE = "DEMO-00008"
MARK = "BENCH-JSON:"

SETUP = """
import json
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from citizens.identity import SESSION_KEY as CITIZEN
from plugins.models import PluginConfig
from service_pages.models import ServicePage

service = ServicePage.objects.by_code({service!r})
assert service.instant_reference, "the demo reference is not marked"
PluginConfig.objects.create(plugin_id="reference_json", agency=service.agency,
                            options={{"url": {url!r}, "secret": {secret!r}}})
User = get_user_model()
keys = []
for n in range({citizens}):
    user = User.objects.create_user(f"bench-citizen-{{n}}")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[CITIZEN] = {{"subject": f"sub-{{n}}", "register_number": f"УБ9{{n:07d}}"[:10], "last_name": "Бат",
                        "first_name": "Өлзий", "phone": "", "represents": ""}}
    session.create()
    keys.append(session.session_key)
print({mark!r} + json.dumps({{"sessions": keys}}))
"""

CHECK = """
import json
from documents.models import IssuedDocument
codes = json.load(open({path!r}))
rows = IssuedDocument.objects.filter(verification_code__in=codes)
print({mark!r} + json.dumps({{"answered": len(set(codes)), "stored": rows.count(),
      "with_file": sum(1 for d in rows if d.file.storage.exists(d.file.name)), "total": IssuedDocument.objects.count()}}))
"""


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


class Session:
    """One signed-in citizen's keep-alive connection, with its CSRF token."""

    def __init__(self, port: int, session_key: str):
        self.port, self.session_key = port, session_key
        self.connection = None
        self.csrf = ""
        self.lock = threading.Lock()

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            cookie = f"sessionid={self.session_key}" + (f"; csrftoken={self.csrf}" if self.csrf else "")
            try:
                self.connection.request(method, path, body=body, headers={"Cookie": cookie, **(headers or {})})
                response = self.connection.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise

    def prepare(self):
        status, headers, body = self.request("GET", f"/references/{SERVICE}/")
        if status != 200:
            raise RuntimeError(f"the reference page answered {status}")
        match = re.search(r"csrftoken=([^;]+)", headers.get("Set-Cookie", ""))
        self.csrf = match.group(1) if match else ""
        if not self.csrf:
            raise RuntimeError("no CSRF cookie")

    def get_reference(self, token: str) -> str:
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.csrf, "request_token": token})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Referer": f"http://127.0.0.1:{self.port}/"}
        status, response_headers, _body = self.request("POST", f"/references/{SERVICE}/", body, headers)
        if status != 302:
            raise RuntimeError(f"POST answered {status}")
        code = response_headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        status, response_headers, pdf = self.request("GET", f"/my/documents/{code}.pdf")
        if status != 200 or not pdf.startswith(b"%PDF-"):
            raise RuntimeError(f"download answered {status}")
        return code


def open_loop(rate: float, duration: float, job, workers: int):
    """Run ``job(n)`` at ``rate``/s for ``duration`` s; latency counted from the scheduled time."""
    count = int(rate * duration)
    latencies, errors, results = [], [], []
    lock = threading.Lock()
    start = time.monotonic() + 0.2

    def one(n):
        scheduled = start + n / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            result = job(n)
            elapsed = (time.monotonic() - scheduled) * 1000
            with lock:
                latencies.append(elapsed)
                results.append(result)
        except Exception as error:
            with lock:
                errors.append(str(error)[:200])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(count)))
    return latencies, errors, results


def measured(label, pgid, rate, duration, job, workers, goal_ms=None):
    cpu_before, load_before = server_cpu_seconds(pgid), os.getloadavg()[0]
    latencies, errors, results = open_loop(rate, duration, job, workers)
    cpu = server_cpu_seconds(pgid) - cpu_before
    p95 = percentile(latencies, 95)
    goal = f"  (goal p95 <= {goal_ms} ms: {'met' if p95 <= goal_ms else 'NOT met'})" if goal_ms else ""
    print(f"\n{label}: {len(latencies)} at {rate:g}/s for {duration:g} s, {len(errors)} failed; load average {load_before:.1f}")
    print(f"  latency: p50 {percentile(latencies, 50):.1f} ms, p95 {p95:.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
          f"max {max(latencies or [0]):.1f} ms{goal}")  # fmt: skip
    print(f"  server CPU: {1000 * cpu / max(1, len(latencies)):.1f} ms per request")
    if errors:
        print("  errors:", errors[:5])
    return latencies, errors, results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--rate", type=float, default=20.0, help="references per second (default 20)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per phase (default 20)")
    parser.add_argument("--verify-rate", type=float, default=50.0, help="verify look-ups per second (default 50)")
    parser.add_argument("--agency-ms", type=int, default=50, help="the stand-in agency's answer time (default 50 ms)")
    parser.add_argument("--citizens", type=int, default=40, help="signed-in sessions (default 40)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4, 2 threads each)")
    args = parser.parse_args()

    from tests.reference_server import SECRET, ReferenceServer

    agency = ReferenceServer()
    agency.delay_ms = args.agency_ms
    var = Path(tempfile.mkdtemp(prefix="tumen-bench-references-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEARCH_URL", "DJANGO_SETTINGS_MODULE") and not k.startswith(("GUNICORN_", "TUMEN_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="cms.settings.base", TUMEN_VAR_DIR=str(var), DEBUG="false", GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS=str(args.workers), TUMEN_RATE_VERIFY="0", TUMEN_RATE_REFERENCES="0", TUMEN_DELIVERY_ALLOW_HTTP="true",
        TUMEN_PUBLIC_URL="https://tumen.example.mn", PYTHONPATH=str(ROOT),
    )  # fmt: skip
    if args.database == "postgres":
        database = fresh_database(BENCH_DB)
        env["DATABASE_URL"] = database.url
        print(f"database: PostgreSQL {database.version} ({BENCH_DB})", flush=True)
    else:
        print(f"database: SQLite in {var}", flush=True)

    def manage(*command):
        run = subprocess.run([str(PYTHON), "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if run.returncode:
            raise SystemExit(f"manage.py {command[0]} failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        return run.stdout

    def shell(code):
        for line in reversed(manage("shell", "--no-imports", "-c", code).splitlines()):
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])
        raise SystemExit("no result from manage.py shell")

    for command in (["migrate", "--noinput", "-v0"], ["load_demo_catalog"]):
        started = time.monotonic()
        manage(*command)
        print(f"manage.py {command[0]}: {time.monotonic() - started:.1f}s", flush=True)
    sessions_keys = shell(SETUP.format(service=SERVICE, url=agency.url, secret=SECRET, citizens=args.citizens, mark=MARK))["sessions"]

    log = open(var / "gunicorn.log", "a")
    server = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", "--no-control-socket", "--access-logfile", "/dev/null"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    failed = False
    try:
        wait_for_healthz(port, server, var / "gunicorn.log")
        sessions = [Session(port, key) for key in sessions_keys]
        for session in sessions:
            session.prepare()
        print(f"gunicorn: {args.workers} workers x 2 threads on 127.0.0.1:{port}; agency answers in {args.agency_ms} ms", flush=True)

        def reference(n):
            session = sessions[n % len(sessions)]
            with session.lock:
                return session.get_reference(f"bench-{n:06d}-{time.time_ns()}")

        open_loop(args.rate, 3, reference, workers=len(sessions))  # warm-up: every worker renders once
        _lat, errors, codes = measured("references (POST + PDF download)", server.pid, args.rate, args.duration, reference,
                                       len(sessions), goal_ms=300)  # fmt: skip
        failed = bool(errors)
        verifier = threading.local()

        def get(path, check=b""):
            connection = getattr(verifier, "connection", None)
            if connection is None:
                connection = verifier.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200 or check not in body:
                raise RuntimeError(f"{path} answered {response.status}")

        def verify(n):
            get(f"/verify/{codes[n % len(codes)]}/", b'data-valid="true"')

        open_loop(args.verify_rate, 2, verify, workers=8)
        _lat, errors, _ = measured("verify (GET /verify/<code>/)", server.pid, args.verify_rate, args.duration, verify, 8, goal_ms=20)
        failed = failed or bool(errors)
        _lat, errors, _ = measured("baseline (GET /healthz)", server.pid, args.verify_rate, args.duration, lambda n: get("/healthz"), 8)

        path = var / "codes.json"
        path.write_text(json.dumps(codes))
        check = shell(CHECK.format(path=str(path), mark=MARK))
        print(f"\nstored: {check['stored']} of {check['answered']} answered references, {check['with_file']} with their file "
              f"({check['total']} documents in all, warm-up included); agency requests: {len(agency.received)}")  # fmt: skip
        failed = failed or check["stored"] != check["answered"] or check["with_file"] != check["answered"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        agency.stop()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
