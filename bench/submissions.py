#!/usr/bin/env python
"""Benchmark: submissions through the API at a fixed request rate, against stock Wagtail forms.

For each mode (``embedded``: SQLite in a throw-away folder; ``postgres``: a throw-away
``tumen_bench_submissions`` database in the private cluster of ``scripts/postgres.sh``) it prepares
a site like ``make serve`` does (migrate, demo catalog, collectstatic), adds one stock Wagtail
form page (``bench.stock_forms``' ``StockFormPage``, the general application form's questions as stock
fields), and starts gunicorn (``gunicorn.conf.py``, 2 workers, rate limits off). Then, each on a
freshly started server, after a short warm-up at the same rate:

- Tumen: ``POST /api/v1/services/<code>/submissions`` with a JSON body of valid answers (register
  numbers, names and phones vary, no attachment); accepted = 201 with a tracking code;
- stock Wagtail: ``POST`` of the same answers to the form page (CSRF cookie and token fetched by
  one GET per connection); accepted = 200 with the landing page (an invalid form comes back 200
  too, as the form again: counted as refused).

Requests are sent open-loop at ``--rate`` per second for ``--duration`` seconds per form over
``--connections`` keep-alive connections (standard library only), in ``--rounds`` slices that
alternate Tumen and stock, each on a fresh gunicorn; a request's latency is counted from the moment
the schedule meant to send it, so a client that falls behind shows up in the figures instead of
hiding a slow server. The machine may be shared: the CPU used by other processes is measured during
each slice (Linux /proc); a slice first waits (up to ``--quiet-wait`` s) for the machine to be
quiet, and a slice disturbed anyway (> ``--max-other-cpu`` cores) is measured again, up to
``--retries`` times. The server's CPU (gunicorn, plus the bench database's PostgreSQL backends) per
accepted submission is printed too: a cost figure that such noise barely moves.

Afterwards every tracking code that got a 201 (warm-ups and repeated slices included) is looked up
in the database ("missing: 0"), and the stock form's FormSubmission rows are compared with its
accepted count. Prints accepted/s, p50/p95/p99 latency, errors by status, the Tumen/stock ratios
and whether the target (p95 <= 80 ms at 100 req/s on PostgreSQL, zero accepted submissions
missing) is met. Exit status 1 when an accepted submission is missing.

    .venv/bin/python bench/submissions.py                      # both modes, 100 req/s for 20 s
    .venv/bin/python bench/submissions.py --modes postgres --rate 150 --duration 30
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench_answers import answers  # bench/ (the script's folder) is on sys.path
from bench_postgres import fresh_database, stop_private_cluster

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
GUNICORN = PYTHON.parent / "gunicorn"
BENCH_DB = "tumen_bench_submissions"
TARGET_P95_MS = 80.0
TARGET_RATE = 100.0
JSON_MARK = "BENCH-JSON:"

# -- the stock Wagtail form page ----------------------------------------------------------------

SETUP_CODE = """
import json
from django.db import transaction
from cms.models import HomePage
from bench.stock_forms.models import StockFormField, StockFormPage
from form_builder.submissions import ServiceUnavailable, application_for
from service_pages.models import Aimag, ServicePage, Soum

wanted = {service!r}
service = None
for candidate in ServicePage.objects.live().canonical().order_by("code"):
    if wanted and candidate.code != wanted:
        continue
    try:
        application_for(candidate)
    except ServiceUnavailable:
        continue
    service = candidate
    break
if service is None:
    raise SystemExit("no published service accepts applications" + (": " + wanted if wanted else ""))
aimags = list(Aimag.objects.order_by("code").values_list("code", flat=True))
soums = list(Soum.objects.order_by("code").values_list("code", "aimag__code"))
fields = [
    ("Register number", "singleline", True, ""),
    ("Family name", "singleline", True, ""),
    ("Given name", "singleline", True, ""),
    ("Phone number", "singleline", True, ""),
    ("Email address", "email", False, ""),
    ("Aimag", "dropdown", True, "\\n".join(aimags)),
    ("Soum", "dropdown", True, "\\n".join(code for code, _ in soums)),
    ("Bag", "singleline", False, ""),
    ("Your request", "multiline", True, ""),
    ("Consent", "checkbox", True, ""),
]
home = HomePage.objects.first()
with transaction.atomic():
    page = StockFormPage(title="Stock Wagtail form (benchmark)", slug="stock-form-bench", locale_id=home.locale_id)
    page.form_fields = [
        StockFormField(sort_order=n, label=label, field_type=kind, required=required, choices=choices)
        for n, (label, kind, required, choices) in enumerate(fields)
    ]
    home.add_child(instance=page)
    page.save_revision().publish()
page.refresh_from_db()
names = {{f.label: f.clean_name for f in page.form_fields.all()}}
print({mark!r} + json.dumps({{
    "service": service.code,
    "stock_page_id": page.pk,
    "stock_url": page.get_url(),
    "stock_fields": names,
    "places": [[aimag, code] for code, aimag in soums],
}}))
"""

VERIFY_CODE = """
import json
from wagtail.contrib.forms.models import FormSubmission
from form_builder.models import Submission, SubmissionEvent

codes = json.load(open({path!r}))
found = set()
for start in range(0, len(codes), 500):
    chunk = codes[start:start + 500]
    found.update(Submission.objects.filter(tracking_code__in=chunk).values_list("tracking_code", flat=True))
missing = sorted(set(codes) - found)
print({mark!r} + json.dumps({{
    "checked": len(set(codes)),
    "found": len(found),
    "missing": missing[:20],
    "missing_count": len(missing),
    "submissions_total": Submission.objects.count(),
    "events_received": SubmissionEvent.objects.filter(status="received").count(),
    "stock_rows": FormSubmission.objects.filter(page_id={page_id}).count(),
}}))
"""


# -- load ------------------------------------------------------------------------------------------

RETRYABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class Connection:
    """One keep-alive HTTP connection; a request on a reused connection the server has just closed
    (keep-alive timeout, worker recycled) is sent again once on a new one, as browsers do."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def request(self, method, path, body=None, headers=None) -> tuple[int, dict, bytes]:
        for attempt in (1, 2):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                if response.will_close:
                    self.close()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, data
            except RETRYABLE:
                self.close()
                if fresh or attempt == 2:
                    raise
                self.reconnects += 1
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")

    def stop_cluster_if_unused(self):
        """Stop the cluster this run started, unless someone else connected to it meanwhile."""
        try:
            others = int(self.admin_query(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ))  # fmt: skip
        except Exception as error:  # noqa: BLE001
            print(f"  WARNING: PostgreSQL cluster left running (cannot check who uses it: {error})", file=sys.stderr)
            return
        if others:
            print(f"  PostgreSQL cluster left running: {others} other connection(s) use it now", flush=True)
            return
        stop_private_cluster()
        print("  stopped the PostgreSQL cluster this run started", flush=True)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class TumenClient:
    name = "Tumen API"

    def __init__(self, host, port, site: dict):
        self.connection = Connection(host, port)
        self.path = f"/api/v1/services/{urllib.parse.quote(site['service'])}/submissions"

    def prepare(self):
        pass

    def submit(self, data: dict) -> tuple[str, str | None]:
        """(outcome, tracking code): outcome "accepted" or the HTTP status / error name."""
        body = json.dumps({"data": data}).encode()
        status, _headers, content = self.connection.request(
            "POST", self.path, body, {"Content-Type": "application/json", "Accept": "application/json"}
        )
        if status == 201:
            code = json.loads(content).get("tracking_code")
            return ("accepted", code) if code else ("201 without tracking code", None)
        return str(status), None


class StockClient:
    name = "stock Wagtail form"
    TOKEN_RE = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')

    def __init__(self, host, port, site: dict):
        self.connection = Connection(host, port)
        self.path = site["stock_url"]
        self.names = site["stock_fields"]
        self.cookie = self.token = None

    def prepare(self):
        """What a browser does first: GET the form, keeping the CSRF cookie and token."""
        status, headers, content = self.connection.request("GET", self.path)
        match = self.TOKEN_RE.search(content)
        cookie = re.search(r"csrftoken=([^;]+)", headers.get("set-cookie", ""))
        if status != 200 or not match or not cookie:
            raise RuntimeError(f"GET {self.path}: {status}, no CSRF token/cookie: {content[:300]!r}")
        self.token, self.cookie = match.group(1).decode(), cookie.group(1)

    def submit(self, data: dict) -> tuple[str, str | None]:
        n = self.names
        fields = {
            "csrfmiddlewaretoken": self.token,
            n["Register number"]: data["register_number"],
            n["Family name"]: data["last_name"],
            n["Given name"]: data["first_name"],
            n["Phone number"]: data["phone"],
            n["Email address"]: data["email"],
            n["Aimag"]: data["address"]["aimag"],
            n["Soum"]: data["address"]["soum"],
            n["Bag"]: data["address"]["bag"],
            n["Your request"]: data["request"],
            n["Consent"]: "on",
        }
        status, _headers, content = self.connection.request(
            "POST",
            self.path,
            urllib.parse.urlencode(fields).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={self.cookie}"},
        )
        if status == 200:
            # The landing page has no form; a refused form is rendered again (with its fields; the
            # site's own pages may carry other forms with a CSRF token, so that is no sign).
            refused = f'name="{self.names["Register number"]}"'.encode() in content
            return ("200 form refused", None) if refused else ("accepted", None)
        return str(status), None


@dataclass
class Result:
    label: str
    rate: float
    duration: float
    sent: int = 0
    accepted: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # from the scheduled send time
    service_ms: list[float] = field(default_factory=list)  # from the actual send time
    outcomes: Counter = field(default_factory=Counter)
    codes: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    max_lag_ms: float = 0.0
    reconnects: int = 0
    warmup_accepted: int = 0
    other_cores: list[float] = field(default_factory=list)  # CPU used by other processes, per slice
    server_cpu_s: float = 0.0  # CPU of gunicorn (+ PostgreSQL) during the timed part
    server_cpu_known: bool = False
    repeated: int = 0  # slices measured again because other processes disturbed them

    @property
    def server_cpu_ms(self) -> float:
        """Server CPU per accepted submission (gunicorn, plus PostgreSQL in postgres mode)."""
        return self.server_cpu_s * 1000 / self.accepted if self.accepted and self.server_cpu_known else float("nan")

    @property
    def throughput(self) -> float:
        return self.accepted / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def errors(self) -> dict:
        return {key: value for key, value in sorted(self.outcomes.items()) if key != "accepted"}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def run_load(client_class, site: dict, base: tuple[str, int], *, rate: float, duration: float, connections: int,
             seed: int, label: str, stop: threading.Event) -> Result:  # fmt: skip
    """Send ``rate * duration`` submissions open-loop at ``rate``/s over ``connections`` threads."""
    total = max(1, int(round(rate * duration)))
    result = Result(label=label, rate=rate, duration=duration)
    clients = [client_class(*base, site) for _ in range(connections)]
    for client in clients:
        client.prepare()
    payloads = [answers(i, random.Random(seed * 1_000_003 + i), site["places"], "Benchmark request number") for i in range(total)]
    lock = threading.Lock()
    state = {"next": 0}
    start = time.perf_counter() + 0.05

    def worker(client):
        while not stop.is_set():
            with lock:
                index = state["next"]
                state["next"] += 1
            if index >= total:
                return
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            try:
                outcome, code = client.submit(payloads[index])
            except Exception as error:  # noqa: BLE001 - every failure is a counted outcome
                outcome, code = f"connection error ({type(error).__name__})", None
            done = time.perf_counter()
            with lock:
                result.sent += 1
                result.outcomes[outcome] += 1
                result.max_lag_ms = max(result.max_lag_ms, (sent - scheduled) * 1000)
                result.elapsed = max(result.elapsed, done - start)
                if outcome == "accepted":
                    result.accepted += 1
                    result.latencies_ms.append((done - scheduled) * 1000)
                    result.service_ms.append((done - sent) * 1000)
                    if code:
                        result.codes.append(code)

    threads = [threading.Thread(target=worker, args=(client,), daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    last_report = time.monotonic()
    try:
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.2)
            if time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                with lock:
                    print(f"      {label}: {result.sent}/{total} sent, {result.accepted} accepted", flush=True)
    except KeyboardInterrupt:
        stop.set()
        raise
    for client in clients:
        result.reconnects += client.connection.reconnects
        client.connection.close()
    return result


class CpuMeter:
    """CPU time spent on this machine during a slice (Linux ``/proc``): by the server under test
    (the gunicorn tree, plus the PostgreSQL backends of the bench database in postgres mode), by
    this script, and by everyone else.

    The machine is shared: "other" CPU shows a slice disturbed by someone else's work, and the
    server's CPU per accepted submission is a cost figure that such noise barely moves.
    """

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, server_pid: int, with_postgres: bool):
        self.server_pid, self.with_postgres = server_pid, with_postgres
        self.available = Path("/proc/stat").exists()

    @staticmethod
    def _machine_busy() -> int:
        values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = values
        return user + nice + system + irq + softirq + steal

    def _processes(self) -> dict[int, tuple[str, int, int]]:
        """pid -> (comm, ppid, utime + stime of all its threads, in ticks)."""
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                text = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            rest = text[text.rindex(")") + 2 :].split()
            found[int(entry.name)] = (text[text.index("(") + 1 : text.rindex(")")], int(rest[1]), int(rest[11]) + int(rest[12]))
        return found

    @staticmethod
    def _serves_bench_db(pid: int) -> bool:
        try:  # a backend's title: "postgres: <user> <database> <client> <state>"
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        return f" {BENCH_DB} " in title

    def sample(self):
        if not self.available:
            return None
        processes = self._processes()
        server = {self.server_pid}
        changed = True
        while changed:  # the gunicorn tree: its master and every descendant
            before = len(server)
            server |= {pid for pid, (_comm, ppid, _cpu) in processes.items() if ppid in server}
            changed = len(server) != before
        if self.with_postgres:  # the backends serving the bench database (others may share the cluster)
            server |= {pid for pid, (comm, _ppid, _cpu) in processes.items()
                       if comm.startswith("postgres") and self._serves_bench_db(pid)}  # fmt: skip
        own = os.getpid()
        return time.monotonic(), self._machine_busy(), {pid: processes[pid][2] for pid in server if pid in processes}, \
            processes.get(own, ("", 0, 0))[2]  # fmt: skip

    def between(self, start, end) -> dict | None:
        """{"server_s", "client_s", "other_cores"} between two samples."""
        if start is None or end is None:
            return None
        (t0, busy0, server0, own0), (t1, busy1, server1, own1) = start, end
        server = sum(cpu - server0.get(pid, 0) for pid, cpu in server1.items()) / self.TICK
        client = (own1 - own0) / self.TICK
        machine = (busy1 - busy0) / self.TICK
        wall = max(t1 - t0, 1e-6)
        return {"server_s": server, "client_s": client, "other_cores": max(0.0, (machine - server - client) / wall)}


# -- the throw-away site --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site:
    """One mode's throw-away site: folder, database, settings, gunicorn. ``close()`` undoes it all."""

    def __init__(self, mode: str, args):
        self.mode, self.args = mode, args
        self.var = Path(tempfile.mkdtemp(prefix=f"tumen-bench-submissions-{mode}-"))
        self.process: subprocess.Popen | None = None
        self.admin_url = None
        self.stop_cluster = False
        self.database = ""
        self.port = free_port()
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "SEARCH_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH")
            and not key.startswith(("GUNICORN_", "TUMEN_"))
        }
        limit = "0" if not args.rate_limiter else "100000000/m"
        self.env.update(
            DJANGO_SETTINGS_MODULE="cms.settings.base",
            TUMEN_VAR_DIR=str(self.var),
            DEBUG="false",
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            GUNICORN_WORKERS=str(args.workers),
            TUMEN_RATE_PER_IP=limit,
            TUMEN_RATE_PER_SERVICE=limit,
            TUMEN_RATE_LOOKUPS=limit,
        )
        self.overlay_settings()

    def overlay_settings(self):
        """The site's settings plus the bench-only app of the stock form page (``bench.stock_forms``,
        with Wagtail's documented form templates); ``ROOT`` on the path so that gunicorn finds it."""
        self.env["PYTHONPATH"] = str(ROOT)
        self.env["DJANGO_SETTINGS_MODULE"] = "bench.stock_forms.settings"

    def prepare(self) -> dict:
        if self.mode == "postgres":
            database = fresh_database(BENCH_DB)
            self.admin_url, self.stop_cluster = database.admin_url, database.started_cluster
            self.env["DATABASE_URL"] = database.url
            self.database = f"PostgreSQL {database.version} (database {BENCH_DB}, {database.host}:{database.port})"
        else:
            self.database = f"SQLite ({self.var / 'db.sqlite3'})"
        print(f"  database: {self.database}", flush=True)
        for command in (["migrate", "--noinput", "-v0"], ["load_demo_catalog"], ["collectstatic", "--noinput", "-v0"]):
            started = time.monotonic()
            self.manage(*command)
            print(f"  manage.py {command[0]}: {time.monotonic() - started:.1f}s", flush=True)
        site = self.shell(SETUP_CODE.format(service=self.args.service or "", mark=JSON_MARK))
        print(f"  service {site['service']}; stock form page {site['stock_url']} "
              f"({len(site['stock_fields'])} stock fields)", flush=True)  # fmt: skip
        return site

    def admin_query(self, sql: str) -> str:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            return str(conn.execute(sql).fetchone()[0])

    def manage(self, *command, timeout=600) -> str:
        run = subprocess.run(
            [str(PYTHON), "manage.py", *command], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if run.returncode != 0:
            raise RuntimeError(f"manage.py {command[0]} failed ({run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
        return run.stdout

    def shell(self, code: str) -> dict:
        output = self.manage("shell", "--no-imports", "-c", code)
        for line in reversed(output.splitlines()):
            if line.startswith(JSON_MARK):
                return json.loads(line[len(JSON_MARK) :])
        raise RuntimeError("manage.py shell printed no result:\n" + output[-2000:])

    def start_server(self):
        log = open(self.var / "gunicorn.log", "a")
        self.process = subprocess.Popen(
            # No control socket: gunicorn's default path is shared by every gunicorn of the user.
            [str(GUNICORN), "-c", "gunicorn.conf.py", "--no-control-socket"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this script only; it stops gunicorn itself
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop_server()
                tail = (self.var / "gunicorn.log").read_text(errors="replace")[-3000:]
                raise RuntimeError("gunicorn did not start:\n" + tail)
            time.sleep(0.2)

    def stop_server(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def server_errors(self) -> list[str]:
        path = self.var / "gunicorn.log"
        if not path.exists():
            return []
        lines = path.read_text(errors="replace").splitlines()
        return [line for line in lines if " ERROR " in line or "Traceback" in line or "[CRITICAL]" in line]

    def last_exception(self) -> str:
        """The last line of the last traceback in the gunicorn log (what went wrong), or ""."""
        path = self.var / "gunicorn.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        found = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b", line)]
        return found[-1][:400] if found else ""

    def verify(self, codes: list[str], page_id: int) -> dict:
        path = self.var / "codes.json"
        path.write_text(json.dumps(codes))
        return self.shell(VERIFY_CODE.format(path=str(path), page_id=page_id, mark=JSON_MARK))

    def close(self):
        self.stop_server()
        if self.admin_url:
            try:
                self.admin_query("SELECT 1")
                import psycopg

                with psycopg.connect(self.admin_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
                print(f"  dropped database {BENCH_DB}", flush=True)
            except Exception as error:  # noqa: BLE001
                print(f"  WARNING: could not drop {BENCH_DB}: {error}", file=sys.stderr)
            if self.stop_cluster and not self.args.keep_postgres:
                self.stop_cluster_if_unused()
        if self.args.keep:
            print(f"  kept {self.var}", flush=True)
        else:
            shutil.rmtree(self.var, ignore_errors=True)


# -- a run ----------------------------------------------------------------------------------------


@dataclass
class ModeReport:
    mode: str
    database: str
    tumen: Result
    stock: Result
    tumen_missing: int
    stock_missing: int
    stock_extra: int
    check: dict
    server_errors: int


def wait_for_quiet(args, stop: threading.Event):
    """Before a slice, wait (up to --quiet-wait s) while other processes keep the machine busy."""
    if not Path("/proc/stat").exists() or args.quiet_wait <= 0:
        return
    deadline = time.monotonic() + args.quiet_wait
    said = False
    while not stop.is_set():
        own0, busy0, t0 = time.process_time(), CpuMeter._machine_busy(), time.monotonic()
        time.sleep(2)
        wall = time.monotonic() - t0
        other = max(0.0, ((CpuMeter._machine_busy() - busy0) / CpuMeter.TICK - (time.process_time() - own0)) / wall)
        if other <= args.max_other_cpu:
            if said:
                print(f"      quiet again (other processes {other:.2f} cores)", flush=True)
            return
        if time.monotonic() > deadline:
            print(f"      still busy after {args.quiet_wait:g}s (other processes {other:.2f} cores): measuring anyway",
                  flush=True)  # fmt: skip
            return
        if not said:
            print(f"      waiting for the machine to quieten (other processes use {other:.2f} cores)", flush=True)
            said = True


def measure(site: Site, info: dict, client_class, label: str, args, stop: threading.Event, seed: int,
            duration: float) -> Result:  # fmt: skip
    """One slice on a freshly started gunicorn: warm-up (checked, not timed), then ``duration`` s timed."""
    wait_for_quiet(args, stop)
    site.start_server()
    try:
        base = ("127.0.0.1", site.port)
        warm = None
        if args.warmup > 0:
            warm = run_load(client_class, info, base, rate=args.rate, duration=args.warmup,
                            connections=args.connections, seed=seed + 7, label=label + " warm-up", stop=stop)  # fmt: skip
        if warm is not None and warm.sent and not warm.accepted:
            raise RuntimeError(f"{label}: nothing accepted during the warm-up ({dict(warm.outcomes)}); "
                               f"gunicorn log: {site.last_exception() or 'no exception'}")  # fmt: skip
        meter = CpuMeter(site.process.pid, with_postgres=site.mode == "postgres")
        before = meter.sample()
        result = run_load(client_class, info, base, rate=args.rate, duration=duration,
                          connections=args.connections, seed=seed, label=label, stop=stop)  # fmt: skip
        cpu = meter.between(before, meter.sample())
        if cpu is not None:
            result.other_cores.append(cpu["other_cores"])
            result.server_cpu_s, result.server_cpu_known = cpu["server_s"], True
        if warm is not None:  # warm-up submissions are real too: they are checked, not timed
            result.codes = warm.codes + result.codes
            result.warmup_accepted = warm.accepted
    finally:
        site.stop_server()
    if stop.is_set():
        raise KeyboardInterrupt
    return result


def merge(total: Result | None, part: Result) -> Result:
    if total is None:
        return part
    total.sent += part.sent
    total.accepted += part.accepted
    total.latencies_ms += part.latencies_ms
    total.service_ms += part.service_ms
    total.outcomes += part.outcomes
    total.codes += part.codes
    total.elapsed += part.elapsed
    total.duration += part.duration
    total.max_lag_ms = max(total.max_lag_ms, part.max_lag_ms)
    total.reconnects += part.reconnects
    total.warmup_accepted += part.warmup_accepted
    total.other_cores += part.other_cores
    total.server_cpu_s += part.server_cpu_s
    total.server_cpu_known = total.server_cpu_known and part.server_cpu_known
    total.repeated += part.repeated
    return total


def describe(result: Result) -> str:
    errors = ", ".join(f"{key}: {value}" for key, value in result.errors.items()) or "none"
    return (f"    {result.label:<20} sent {result.sent}, accepted {result.accepted} ({result.throughput:.1f}/s); "
            f"latency p50 {result.pct(0.5):.1f} / p95 {result.pct(0.95):.1f} / p99 {result.pct(0.99):.1f} / "
            f"max {max(result.latencies_ms, default=float('nan')):.1f} ms; server time p95 "
            f"{percentile(result.service_ms, 0.95):.1f} ms; client lag max {result.max_lag_ms:.1f} ms; "
            f"reconnects {result.reconnects}; server CPU {result.server_cpu_ms:.1f} ms/submission; "
            f"other processes {other_cpu(result)} cores; refused/errors: {errors}")  # fmt: skip


def other_cpu(result: Result) -> str:
    return ", ".join(f"{x:.2f}" for x in result.other_cores) or "?"


def run_mode(mode: str, args, stop: threading.Event) -> ModeReport:
    print(f"\n== {mode} ==", flush=True)
    site = Site(mode, args)
    try:
        info = site.prepare()
        forms = [(TumenClient, "Tumen API"), (StockClient, "stock Wagtail")]
        results = {label: None for _, label in forms}
        checked_codes = {label: [] for _, label in forms}
        checked_accepted = {label: 0 for _, label in forms}
        slice_seconds = args.duration / args.rounds
        for number in range(args.rounds):
            # Alternate which form goes first, so a burst of noise on the shared machine hits both.
            for client_class, label in forms if number % 2 == 0 else forms[::-1]:
                print(f"  round {number + 1}/{args.rounds}, {label}: {args.rate:g} req/s for {slice_seconds:g}s "
                      f"(+{args.warmup:g}s warm-up), {args.connections} connections, gunicorn {args.workers} workers",
                      flush=True)  # fmt: skip
                seed = args.seed + 1000 * number  # the same answers to both forms
                for attempt in range(args.retries + 1):
                    part = measure(site, info, client_class, label, args, stop, seed + 100 * attempt, slice_seconds)
                    print(describe(part), flush=True)
                    # Every accepted submission is checked, kept slice or not.
                    checked_codes[label] += part.codes
                    checked_accepted[label] += part.accepted + part.warmup_accepted
                    disturbed = part.accepted and any(x > args.max_other_cpu for x in part.other_cores)
                    if not disturbed or attempt == args.retries:
                        break
                    print(f"      other processes used {other_cpu(part)} cores (> {args.max_other_cpu:g}): "
                          "measuring this slice again", flush=True)  # fmt: skip
                part.repeated = attempt
                results[label] = merge(results[label], part)
        if args.rounds > 1:
            print("  all rounds:", flush=True)
            for label in results:
                print(describe(results[label]), flush=True)
        tumen, stock = results["Tumen API"], results["stock Wagtail"]
        check = site.verify(checked_codes["Tumen API"], info["stock_page_id"])
        stock_accepted = checked_accepted["stock Wagtail"]
        stock_missing = max(0, stock_accepted - check["stock_rows"])
        stock_extra = max(0, check["stock_rows"] - stock_accepted)
        errors = site.server_errors()
        print(f"  check: {check['found']}/{check['checked']} Tumen tracking codes found; "
              f"missing: {check['missing_count']}; submissions in the database {check['submissions_total']}, "
              f"'received' events {check['events_received']}", flush=True)  # fmt: skip
        if check["missing"]:
            print(f"  MISSING tracking codes (first 20): {', '.join(check['missing'])}", flush=True)
        print(f"  check: stock FormSubmission rows {check['stock_rows']} for {stock_accepted} accepted; "
              f"missing: {stock_missing}" + (f", extra rows: {stock_extra}" if stock_extra else ""), flush=True)
        if errors:
            print(f"  gunicorn log: {len(errors)} error lines, e.g. {errors[0][:200]}", flush=True)
        return ModeReport(mode, site.database, tumen, stock, check["missing_count"], stock_missing, stock_extra,
                          check, len(errors))  # fmt: skip
    finally:
        site.close()


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b and not (math.isnan(a) or math.isnan(b)) else "n/a"


def print_table(reports: list[ModeReport], args):
    print("\n== Submissions: results ==")
    header = ("| mode | form | accepted/s | p50 ms | p95 ms | p99 ms | max ms | server CPU ms/submission "
              "| refused/errors | missing | other CPU (cores) |")
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for report in reports:
        for result, missing in ((report.tumen, report.tumen_missing), (report.stock, report.stock_missing)):
            errors = ", ".join(f"{key}: {value}" for key, value in result.errors.items()) or "0"
            print(f"| {report.mode} | {result.label} | {result.throughput:.1f} | {result.pct(0.5):.1f} | "
                  f"{result.pct(0.95):.1f} | {result.pct(0.99):.1f} | {max(result.latencies_ms, default=0):.1f} | "
                  f"{result.server_cpu_ms:.1f} | {errors} | {missing} | {other_cpu(result)} |")  # fmt: skip
        t, s = report.tumen, report.stock
        print(f"| {report.mode} | ratio Tumen/stock | {ratio(t.throughput, s.throughput)} | "
              f"{ratio(t.pct(0.5), s.pct(0.5))} | {ratio(t.pct(0.95), s.pct(0.95))} | | | "
              f"{ratio(t.server_cpu_ms, s.server_cpu_ms)} | | | |")  # fmt: skip
    print(f"\noffered: {args.rate:g} req/s for {args.duration:g}s per form ({int(round(args.rate * args.duration))} "
          f"requests, in {args.rounds} alternating slices on fresh servers), {args.connections} keep-alive connections, "
          f"gunicorn {args.workers} workers (gthread, gunicorn.conf.py), rate limits {'counting (huge limits)' if args.rate_limiter else 'off'}; "
          "latency counted from the scheduled send time; ratios < 1× on latency and CPU mean Tumen is faster")  # fmt: skip
    repeated = sum(r.tumen.repeated + r.stock.repeated for r in reports)
    print(f"slices measured again because other processes used > {args.max_other_cpu:g} cores: {repeated}; "
          "'other CPU' = cores used by other processes during each kept slice (the machine is shared)")

    postgres = next((r for r in reports if r.mode == "postgres"), None)
    all_missing = sum(r.tumen_missing + r.stock_missing for r in reports)
    print(f"missing: {all_missing}")
    if postgres is None:
        print("target (p95 ≤ 80 ms at 100 req/s on PostgreSQL; zero accepted submissions missing): "
              "not evaluated (postgres mode not run)")  # fmt: skip
        return
    p95 = postgres.tumen.pct(0.95)
    kept_rate = postgres.tumen.throughput >= 0.95 * TARGET_RATE
    refused = sum(postgres.tumen.errors.values())
    problems = []
    if args.rate < TARGET_RATE:
        problems.append(f"offered only {args.rate:g} req/s")
    if not kept_rate:
        problems.append(f"accepted only {postgres.tumen.throughput:.1f}/s")
    if not p95 <= TARGET_P95_MS:
        problems.append(f"p95 {p95:.1f} ms > {TARGET_P95_MS:g} ms")
    if postgres.tumen_missing:
        problems.append(f"{postgres.tumen_missing} accepted submissions missing")
    if refused:
        problems.append(f"{refused} requests refused or failed")
    verdict = "MET" if not problems else "NOT MET (" + "; ".join(problems) + ")"
    print(f"target (p95 ≤ 80 ms at 100 req/s on PostgreSQL; zero accepted submissions missing): {verdict} — "
          f"Tumen p95 {p95:.1f} ms at {postgres.tumen.throughput:.1f} accepted/s, "
          f"missing {postgres.tumen_missing}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--modes", default="embedded,postgres", help="comma-separated: embedded, postgres (default both)")
    parser.add_argument("--rate", type=float, default=100.0, help="requests sent per second (default 100)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per form (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds at the same rate before measuring, not timed "
                        "(default 3; its submissions are checked too)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=2, help="split --duration into this many slices per form, "
                        "alternating Tumen and stock, each on a fresh gunicorn (default 2)")  # fmt: skip
    parser.add_argument("--max-other-cpu", type=float, default=0.3, help="a slice during which other processes used "
                        "more CPU than this (cores) is measured again (default 0.3)")  # fmt: skip
    parser.add_argument("--retries", type=int, default=2, help="how many times a disturbed slice is measured again "
                        "(default 2; then it is kept, and the table shows the other CPU)")  # fmt: skip
    parser.add_argument("--quiet-wait", type=float, default=180, help="before each slice, wait up to this many "
                        "seconds while other processes use more than --max-other-cpu (default 180; 0 = never wait)")  # fmt: skip
    parser.add_argument("--connections", type=int, default=16, help="keep-alive client connections (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (GUNICORN_WORKERS, default 2)")
    parser.add_argument("--service", default="", help="service code to apply for (default: the first that accepts)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the generated answers (default 2024)")
    parser.add_argument("--rate-limiter", action="store_true",
                        help="keep the rate limiter counting (limits so high nothing is refused) instead of off")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (logs) for inspection")
    parser.add_argument("--keep-postgres", action="store_true",
                        help="leave the PostgreSQL cluster running if this run started it")  # fmt: skip
    args = parser.parse_args()
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = set(modes) - {"embedded", "postgres"}
    if unknown or not modes:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown)) or '(none)'}; use embedded and/or postgres")
    if args.rate <= 0 or args.duration <= 0 or args.connections < 1 or args.rounds < 1:
        parser.error("--rate, --duration, --rounds and --connections must be positive")

    stop = threading.Event()

    def on_term(signum, frame):
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even if started with SIGINT ignored
    reports = []
    try:
        for mode in modes:
            reports.append(run_mode(mode, args, stop))
    except KeyboardInterrupt:
        stop.set()
        print("\ninterrupted: cleaned up", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        print(f"\nerror: {error}\n(cleaned up)", file=sys.stderr)
        return 2
    print_table(reports, args)
    return 1 if any(r.tumen_missing or r.stock_missing for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
