#!/usr/bin/env python
"""Benchmark: deliver submissions to agency endpoints that fail, go down, and lose a worker.

One run prepares a throw-away site (PostgreSQL by default: a ``tumen_bench_delivery`` database in
the private cluster of ``scripts/postgres.sh``, created and dropped by the script; or SQLite in
the temporary folder), with ``migrate`` and ``load_demo_catalog``, and points a signed-webhook
``PluginConfig`` of one service's agency at a receiver this script runs (``ThreadingHTTPServer``
on 127.0.0.1). The receiver checks every request's signature, records its ``Idempotency-Key``
and tracking code, answers 500 to a random ``--fail-rate`` share of requests, and acknowledges a
key it has already accepted again with 200 (an idempotent agency) while counting it.

Phases, each with ``manage.py db_worker`` processes (``--no-reload --interval 0.05``):

1. healthy: ``--healthy-submissions`` submissions, endpoint never failing, 1 worker, the lease at
   its production default (120 s, so the sweep leaves the waiting backlog alone), the sweep
   interval the faults phase's: deliveries/s per worker against the target (>= 150/s, counted
   from the first attempt to the last delivery; ``--profile`` runs this worker under cProfile);
2. faults: ``--submissions`` submissions queued first (the workers start on a backlog); the
   endpoint fails ``--fail-rate`` of requests, is down (connection refused) for ``--down-seconds``
   once half of the deliveries are accepted, and one of ``--workers`` workers is killed with
   SIGKILL while it runs a delivery task (a replacement starts, like a supervisor would), and a
   ``--slow-rate`` share of requests is answered one header byte a second (a slow-headers endpoint,
   ``SLOW_HEADER_SECONDS`` long unless the client gives up; requests time out at
   ``--request-timeout``). Short retry settings via environment variables (printed). Drain time = workers started -> last
   delivery recorded; then the receiver's records are checked: every submission's key accepted
   (0 lost), no submission accepted under two keys or twice at once (0 duplicated); redeliveries
   of an already-accepted key (at-least-once) are counted and reported, not failed; so are
   requests that arrive while an earlier request with the same key is still open (a lease that
   expired under a request still waiting: the delivery sent twice while a lease was held);
   isolation (``--isolation-submissions``, 1 worker, twice): each submission has a delivery to a
   healthy target B, then also one to a target A whose endpoint answers every request with slow
   headers (it always times out); B's latency p95 (the worker's first attempt -> delivered) with A
   over B alone (<= 2x) and the worker's attempts/s with A (>= 50/s);
3. anatomy: ``tests.deliveries.attempt()`` (``claim_batch`` of that one delivery, then
   ``attempt_claimed``) called in this process on fresh deliveries, with the SQL counted per
   delivery and its stages timed (``--profile`` adds a cProfile of the same loop);
4. stock Wagtail: ``wagtail.contrib.forms`` has no outbox; ``AbstractEmailForm`` saves the
   ``FormSubmission`` and sends its e-mail inside the citizen's request. Its code path
   (``process_form_submission`` + ``EmailFormMixin.send_mail``, Django's SMTP backend) runs here on
   a stock form page against a local SMTP receiver in this process, healthy and then failing
   ``--fail-rate`` of messages (451), to compare per-submission cost and what is lost.

Creating the submissions (``form_builder.submissions.submit`` with valid answers, in
``--create-jobs`` parallel processes) is not timed as a figure; afterwards the database is
``ANALYZE``d (``--no-analyze`` to skip), since a production database has planner statistics and a
fresh one has none until autovacuum gets to it. Exit status 1 when a delivery is
lost or duplicated, or the faults phase did not drain.

    .venv/bin/python bench/delivery.py                           # 10,000 submissions, PostgreSQL
    .venv/bin/python bench/delivery.py --submissions 2000 --down-seconds 20 --healthy-submissions 1000
    .venv/bin/python bench/delivery.py --database sqlite
    # issue 16's short run (docs/benchmarks.md), in two checkouts with distinct databases:
    .venv/bin/python bench/delivery.py --healthy-submissions 1000 --submissions 1000 --down-seconds 10 \
        --isolation-submissions 300 --anatomy 0 --stock-submissions 0 --timeout 600 --db-name tumen_bench_delivery16_new

Each phase's workers' CPU (user + system, from ``/proc`` just before they stop) is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import email.header
import json
import os
import random
import select
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench_answers import answers  # bench/ (the script's folder) is on sys.path
from bench_postgres import fresh_database, stop_private_cluster

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PYTHON = Path(sys.executable)
BENCH_DB = "tumen_bench_delivery"
SETTINGS_MODULE = "tumen_bench_delivery_settings"
SECRET = "bench-delivery-signing-secret-0123456789"
TARGET_PER_WORKER = 150.0
SLOW_HEADER_SECONDS = 30  # a slow-headers answer takes this long unless the client gives up
ISOLATION_TARGET_RATIO = 2.0  # B's p95 with A timing out, over B's p95 alone
ISOLATION_TARGET_ATTEMPTS = 50.0  # attempts/s of the worker, A's and B's
CREATE_COMMAND = "__create"

# -- the agency's webhook receiver ----------------------------------------------------------------


class Receiver:
    """A stand-in agency endpoint: verifies, records keys, fails at random, can be taken down."""

    def __init__(self):
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.reset(fail_rate=0.0, seed=0)
        self.start()

    def reset(self, *, fail_rate: float, seed: int, slow_rate: float = 0.0):
        with self.lock:
            self.fail_rate = fail_rate
            self.slow_rate = slow_rate  # share of requests answered one header byte a second
            self.slow_headers = 0
            self.open_requests: Counter = Counter()  # key -> requests still open (slow ones included)
            self.overlapping = 0  # a request arriving while another with its key is still open
            self.rng = random.Random(seed)
            self.requests = 0
            self.injected_500 = 0
            self.bad_signature = 0
            self.bad_request = 0
            self.accept_count: Counter = Counter()  # key -> 2xx answers given for it
            self.item_of_key: dict[str, tuple[str, str]] = {}  # key -> (tracking code, target)
            self.keys_of_item: dict[tuple[str, str], set] = defaultdict(set)
            self.in_flight: Counter = Counter()
            self.concurrent_accepts = 0  # accepted while another request with the key was running
            self.accept_times: list[float] = []  # monotonic time of each first acceptance
            self.client_resets = 0

    @property
    def up(self) -> bool:
        return self._server is not None

    def url(self, target: str) -> str:
        return f"http://127.0.0.1:{self.port}/agency/{target}"

    @property
    def accepted(self) -> int:
        return len(self.accept_count)

    @property
    def redeliveries(self) -> int:
        return sum(count - 1 for count in self.accept_count.values())

    def handle(self, path: str, headers, body: bytes) -> tuple[int, bytes]:
        from plugins import signing

        key = headers.get("Idempotency-Key", "")
        tracking = headers.get("X-Tumen-Submission", "")
        target = path.rsplit("/", 1)[-1]
        with self.lock:
            self.requests += 1
            fail = self.rng.random() < self.fail_rate
            if fail:
                self.injected_500 += 1
            self.in_flight[key] += 1
        try:
            if fail:
                return 500, b'{"error": "injected failure"}'
            if not key or not tracking:
                with self.lock:
                    self.bad_request += 1
                return 400, b'{"error": "no idempotency key or submission"}'
            good = signing.verify(SECRET, headers.get("X-Tumen-Timestamp", ""), [tracking, key], body,
                                  headers.get("X-Tumen-Signature", ""))  # fmt: skip
            if not good:
                with self.lock:
                    self.bad_signature += 1
                return 401, b'{"error": "bad signature"}'
            with self.lock:
                if self.in_flight[key] > 1:
                    self.concurrent_accepts += 1
                first = key not in self.accept_count
                self.accept_count[key] += 1
                if first:
                    self.item_of_key[key] = (tracking, target)
                    self.keys_of_item[(tracking, target)].add(key)
                    self.accept_times.append(time.monotonic())
            return 200, b'{"ok": true, "duplicate": false}' if first else b'{"ok": true, "duplicate": true}'
        finally:
            with self.lock:
                self.in_flight[key] -= 1

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    if receiver.open_requests[key]:
                        receiver.overlapping += 1
                    receiver.open_requests[key] += 1
                    slow = receiver.slow_rate and receiver.rng.random() < receiver.slow_rate
                    receiver.slow_headers += bool(slow)
                try:
                    if slow:
                        self.trickle()
                        return
                    status, payload = receiver.handle(self.path, self.headers, body)
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    with receiver.lock:
                        receiver.open_requests[key] -= 1

            def trickle(self):
                """A slow-headers endpoint: one header byte a second for SLOW_HEADER_SECONDS, then a
                500; stops as soon as the client hangs up (seen at once, not at the next write)."""
                self.close_connection = True
                head = b"HTTP/1.1 500 Slow\r\nX-Slow: " + b"s" * SLOW_HEADER_SECONDS
                for byte in head:
                    readable, _, _ = select.select([self.connection], [], [], 1.0)
                    if readable and not self.connection.recv(1, socket.MSG_PEEK):
                        return  # the client gave up (its deadline): the request is over
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return
                with contextlib.suppress(OSError):
                    self.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

            def handle_error(self, request, client_address):
                # A client that vanished mid-request (the killed worker): counted, not printed.
                error = sys.exc_info()[1]
                if isinstance(error, ConnectionError):
                    with receiver.lock:
                        receiver.client_resets += 1
                else:
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def stop(self):
        """Down: the listening socket is closed, so connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class SMTPReceiver:
    """A minimal SMTP server on 127.0.0.1: stock Wagtail's e-mail target, and Tumen's alerts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.fail_rate = 0.0
        self.rng = random.Random(7)
        self.messages = 0
        self.failed = 0
        self.subjects: list[str] = []
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, text: str):
                self.wfile.write(text.encode() + b"\r\n")

            def handle(self):
                self.reply("220 bench ESMTP")
                in_data, subject = False, ""
                while True:
                    line = self.rfile.readline(1 << 20)
                    if not line:
                        return
                    if in_data:
                        if line.rstrip(b"\r\n") == b".":
                            in_data = False
                            with receiver.lock:
                                fail = receiver.rng.random() < receiver.fail_rate
                                if fail:
                                    receiver.failed += 1
                                else:
                                    receiver.messages += 1
                                    receiver.subjects.append(subject)
                            self.reply("451 4.3.0 injected failure" if fail else "250 2.0.0 queued")
                        elif line.lower().startswith(b"subject:") and not subject:
                            raw = line[8:].strip().decode("ascii", "replace")
                            subject = str(email.header.make_header(email.header.decode_header(raw)))
                        continue
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        self.wfile.write(b"250-bench\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    elif verb == b"DATA":
                        in_data, subject = True, ""
                        self.reply("354 end with <CRLF>.<CRLF>")
                    elif verb == b"QUIT":
                        self.reply("221 bye")
                        return
                    else:  # HELO, MAIL, RCPT, RSET, NOOP
                        self.reply("250 ok")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


# -- the throw-away site --------------------------------------------------------------------------


@dataclass
class WorkerProcess:
    worker_id: str
    process: subprocess.Popen
    started: float  # time.time()
    ended: float | None = None
    killed: bool = False
    cpu_seconds: float = 0.0  # user + system, read just before it is stopped


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process, all threads (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Site:
    """Temporary folder, database, settings overlay and worker processes; ``close()`` undoes it all."""

    def __init__(self, args):
        self.args = args
        self.var = Path(tempfile.mkdtemp(prefix="tumen-bench-delivery-"))
        self.admin_url = ""
        self.stop_cluster = False
        self.database = ""
        self.workers: list[WorkerProcess] = []
        self.creators: list[subprocess.Popen] = []
        self.worker_serial = 0
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "SEARCH_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DEBUG")
            and not key.startswith("TUMEN_")
        }
        self.env.update(TUMEN_VAR_DIR=str(self.var), DEBUG="false", TUMEN_DELIVERY_ALLOW_HTTP="true", PYTHONUNBUFFERED="1")

    def prepare(self, smtp_port: int):
        if self.args.database == "postgres":
            database = fresh_database(self.args.db_name)
            self.admin_url, self.stop_cluster = database.admin_url, database.started_cluster
            self.env["DATABASE_URL"] = database.url
            self.database = f"PostgreSQL {database.version} (database {self.args.db_name} on {database.host}:{database.port})"
        else:
            self.database = f"SQLite ({self.var / 'db.sqlite3'})"
        # The site's settings and the bench-only stock form app, with e-mail (Tumen's failure alerts,
        # stock Wagtail's form e-mail) going to this script's SMTP receiver instead of a real localhost:25.
        overlay = self.var / "settings"
        overlay.mkdir()
        (overlay / f"{SETTINGS_MODULE}.py").write_text(
            "from bench.stock_forms.settings import *  # noqa: F403\n\n"
            f"EMAIL_HOST = '127.0.0.1'\nEMAIL_PORT = {smtp_port}\nEMAIL_TIMEOUT = 5\n",
            encoding="utf-8",
        )
        self.env.update(PYTHONPATH=os.pathsep.join([str(overlay), str(ROOT)]), DJANGO_SETTINGS_MODULE=SETTINGS_MODULE)
        # This process runs Django too: polling, checks, the in-process phases.
        for key in ("DATABASE_URL", "TUMEN_VAR_DIR", "DEBUG", "TUMEN_DELIVERY_ALLOW_HTTP", "DJANGO_SETTINGS_MODULE"):
            if key in self.env:
                os.environ[key] = self.env[key]
            else:
                os.environ.pop(key, None)
        for key in [key for key in os.environ if key.startswith("TUMEN_") and key not in self.env]:
            os.environ.pop(key)
        os.environ.pop("SEARCH_URL", None)
        sys.path.insert(0, str(overlay))
        import django

        django.setup()
        from django.core.management import call_command

        print(f"  database: {self.database}; temporary folder {self.var}", flush=True)
        for command in (["migrate", "--noinput"], ["load_demo_catalog"]):
            started = time.monotonic()
            with open(os.devnull, "w") as quiet:
                call_command(*command, verbosity=0, stdout=quiet)
            print(f"  manage.py {command[0]}: {time.monotonic() - started:.1f}s", flush=True)
        # The catalog import queued its own tasks (search and reference index); run them now, as a
        # deployed site's workers would have, so the measured workers only see deliveries.
        from django_tasks_db.models import DBTaskResult

        queued = DBTaskResult.objects.filter(status="READY").count()
        started = time.monotonic()
        run = subprocess.run([str(PYTHON), "manage.py", "db_worker", "--batch", "--no-reload", "--no-startup-delay", "-v0"],
                             cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600)  # fmt: skip
        if run.returncode != 0:
            raise RuntimeError(f"db_worker --batch failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        print(f"  manage.py db_worker --batch: the setup's {queued} queued tasks (search/reference index) in "
              f"{time.monotonic() - started:.1f}s", flush=True)  # fmt: skip

    # -- workers

    def start_worker(self, extra_env: dict, profile: Path | None = None) -> WorkerProcess:
        self.worker_serial += 1
        worker_id = f"bench-{self.worker_serial}"
        log = open(self.var / f"worker-{self.worker_serial}.log", "a")
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
        process = subprocess.Popen(
            [str(PYTHON), *profiler, "manage.py", "db_worker", "--no-reload", "--interval", str(self.args.interval),
             "--no-startup-delay", "--worker-id", worker_id],
            cwd=ROOT, env={**self.env, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this script only; it stops the workers itself
        )  # fmt: skip
        log.close()
        worker = WorkerProcess(worker_id, process, time.time())
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: WorkerProcess):
        worker.cpu_seconds = cpu_seconds(worker.process.pid)
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(timeout=30)
        worker.ended, worker.killed = time.time(), True

    def stop_workers(self):
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.cpu_seconds = cpu_seconds(worker.process.pid)
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            if worker.process.poll() is None:
                try:
                    worker.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
                    worker.process.wait(timeout=10)
            if worker.ended is None:
                worker.ended = time.time()

    def worker_errors(self) -> list[str]:
        lines = []
        for path in sorted(self.var.glob("worker-*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if "Traceback" in line or " ERROR " in line or "CRITICAL" in line:
                    lines.append(f"{path.name}: {line}")
        return lines

    # -- submissions

    def create_submissions(self, service_code: str, count: int, seed: int) -> tuple[list[str], float]:
        """``count`` submissions through ``submit()`` in parallel processes; (tracking codes, seconds)."""
        jobs = max(1, min(self.args.create_jobs, count))
        share, extra = divmod(count, jobs)
        started = time.monotonic()
        outputs, start = [], 0
        for job in range(jobs):
            size = share + (1 if job < extra else 0)
            out = self.var / f"codes-{seed}-{job}.json"
            outputs.append(out)
            self.creators.append(subprocess.Popen(
                [str(PYTHON), str(Path(__file__).resolve()), CREATE_COMMAND, service_code, str(start), str(size), str(seed), str(out)],
                cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            ))  # fmt: skip
            start += size
        failures = []
        for process in self.creators:
            output, _ = process.communicate()
            if process.returncode != 0:
                failures.append(output[-3000:])
        self.creators = []
        if failures:
            raise RuntimeError("creating submissions failed:\n" + "\n".join(failures))
        codes = []
        for out in outputs:
            codes += json.loads(out.read_text())
        return codes, time.monotonic() - started

    # -- cleanup

    def close(self):
        for process in self.creators:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        self.stop_workers()
        if self.admin_url:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: BLE001, S110 - Django may not be set up yet
                pass
            try:
                import psycopg

                with psycopg.connect(self.admin_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.args.db_name}" WITH (FORCE)')
                print(f"  dropped database {self.args.db_name}", flush=True)
            except Exception as error:  # noqa: BLE001
                print(f"  WARNING: could not drop {self.args.db_name}: {error}", file=sys.stderr)
            if self.stop_cluster and not self.args.keep_postgres:
                stop_private_cluster()
                print("  stopped the PostgreSQL cluster this run started", flush=True)
        if self.args.keep:
            print(f"  kept {self.var}", flush=True)
        else:
            shutil.rmtree(self.var, ignore_errors=True)


def create_chunk(service_code: str, start: int, count: int, seed: int, out: str):
    """Child process: ``count`` submissions to ``service_code`` (tracking codes written to ``out``)."""
    import django

    django.setup()
    from form_builder.submissions import application_for, submit
    from service_pages.models import ServicePage, Soum

    application = application_for(ServicePage.objects.by_code(service_code))
    places = list(Soum.objects.order_by("code").values_list("aimag__code", "code"))
    codes = []
    for index in range(start, start + count):
        data = answers(index, random.Random(seed * 1_000_003 + index), places, "Delivery benchmark request")
        codes.append(submit(application, data).tracking_code)
    Path(out).write_text(json.dumps(codes))


# -- phases ---------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    submissions: int
    workers: int
    fail_rate: float
    down_seconds: float = 0.0
    kill: bool = False
    env: dict = field(default_factory=dict)
    profile: Path | None = None  # cProfile output of the first worker
    slow_rate: float = 0.0  # share of requests answered one header byte a second
    # results
    codes: list[str] = field(default_factory=list)
    create_seconds: float = 0.0
    created_from: object = None  # datetime: deliveries of this phase were created after it
    started: float = 0.0  # time.time() when the workers were started
    drained: bool = False
    drain_seconds: float = float("nan")
    drain_others_seconds: float = float("nan")  # every delivery but the killed worker's
    steady_seconds: float = float("nan")
    worker_seconds: float = 0.0
    states: dict = field(default_factory=dict)
    per_worker: list[dict] = field(default_factory=list)
    tasks: dict = field(default_factory=dict)
    sweeps: dict = field(default_factory=dict)
    attempts: dict = field(default_factory=dict)
    check: dict = field(default_factory=dict)
    down_window: tuple[float, float] | None = None
    kill_info: dict = field(default_factory=dict)
    db_stats: dict = field(default_factory=dict)
    receiver: dict = field(default_factory=dict)
    cpu_seconds: float = 0.0  # of the phase's workers

    @property
    def expected(self) -> int:
        return len(self.codes)

    @property
    def delivered(self) -> int:
        return self.states.get("delivered", 0)

    @property
    def per_worker_rate(self) -> float:
        """Delivered / worker-seconds (each worker from its start, process boot included)."""
        return self.delivered / self.worker_seconds if self.worker_seconds else float("nan")

    @property
    def steady_rate(self) -> float:
        """Delivered per second from the first attempt to the last delivery, per worker."""
        return self.delivered / self.steady_seconds / self.workers if self.steady_seconds else float("nan")


def db_counters() -> dict:
    """Cumulative transaction and row counters of the bench database (PostgreSQL only)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_fetched "
            "FROM pg_stat_database WHERE datname = current_database()"
        )
        row = cursor.fetchone()
    return dict(zip(["commits", "inserted", "updated", "deleted", "fetched"], row, strict=True))


def state_counts(phase: Phase) -> dict:
    from django.db.models import Count

    from plugins.models import Delivery

    rows = Delivery.objects.filter(created_at__gte=phase.created_from).values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows}


DRAIN_TASK = "plugins.tasks.deliver_due"


def find_running_task(worker_id: str, pid: int):
    """The victim's RUNNING drain task and the deliveries it holds a lease on (mid-delivery)."""
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from plugins.models import Delivery

    for task in DBTaskResult.objects.filter(status="RUNNING", task_path=DRAIN_TASK).only("id", "worker_ids"):
        if worker_id in (task.worker_ids or []):
            leased = list(Delivery.objects.filter(leased_by__endswith=f":{pid}",
                                                  leased_until__gt=timezone.now()).values_list("pk", flat=True))  # fmt: skip
            if leased:
                return task, [str(pk) for pk in leased]
    return None


def run_phase(site: Site, receiver: Receiver, phase: Phase, service_code: str, seed: int) -> Phase:
    from django.utils import timezone

    args = site.args
    print(f"\n== {phase.name}: {phase.submissions} submissions, {phase.workers} worker(s), fail rate {phase.fail_rate:g}"
          + (f", down {phase.down_seconds:g}s at 50%" if phase.down_seconds else "")
          + (f", one worker killed (SIGKILL) at {args.kill_at:.0%}" if phase.kill else "") + " ==", flush=True)  # fmt: skip
    settings_text = ", ".join(f"{key}={value}" for key, value in phase.env.items()) or "production defaults"
    print(f"  worker settings: {settings_text}", flush=True)
    phase.created_from = timezone.now()
    phase.codes, phase.create_seconds = site.create_submissions(service_code, phase.submissions, seed)
    print(f"  created {len(phase.codes)} submissions in {phase.create_seconds:.1f}s "
          f"({len(phase.codes) / phase.create_seconds:.0f}/s, {args.create_jobs} process(es); not a measured figure)", flush=True)  # fmt: skip
    if args.analyze:
        # A production database has planner statistics; a fresh one has none until autovacuum runs
        # (up to a minute), and without them django-tasks' queue query sorts every READY task.
        from django.db import connection

        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"  ANALYZE: {time.monotonic() - started:.1f}s (planner statistics, as autovacuum keeps them in production)", flush=True)
    expected = phase.expected * args.targets
    receiver.reset(fail_rate=phase.fail_rate, seed=seed, slow_rate=phase.slow_rate)
    before = db_counters()

    phase.started = time.time()
    started_mono = time.monotonic()
    pool = [site.start_worker(phase.env, phase.profile if n == 0 else None) for n in range(phase.workers)]
    victim = pool[0] if phase.kill else None
    down_at = down_until = None
    last_print = last_poll = time.monotonic()
    last_accepted = 0
    states = {}
    deadline = started_mono + args.timeout
    while True:
        now = time.monotonic()
        accepted = receiver.accepted
        if victim is not None and not phase.kill_info and accepted >= args.kill_at * expected:
            phase.kill_info = kill_mid_delivery(site, victim, phase.env, replace=args.replace, started=started_mono)
        if phase.down_seconds and down_at is None and accepted >= 0.5 * expected:
            receiver.stop()
            down_at, down_until = now, now + phase.down_seconds
            print(f"  [{now - started_mono:6.1f}s] endpoint DOWN (connection refused) for {phase.down_seconds:g}s "
                  f"at {accepted} accepted", flush=True)  # fmt: skip
        if down_until is not None and not receiver.up and now >= down_until:
            receiver.start()
            phase.down_window = (down_at - started_mono, now - started_mono)
            print(f"  [{now - started_mono:6.1f}s] endpoint UP again", flush=True)
        if now - last_poll >= 1.0 or not states:
            states, last_poll = state_counts(phase), now
            active = states.get("pending", 0) + states.get("retrying", 0)
            if active == 0 and receiver.up and sum(states.values()) >= expected:
                phase.drained = True
                break
        if now - last_print >= args.progress:
            alive = sum(1 for worker in site.workers if worker.process.poll() is None)
            print(f"  [{now - started_mono:6.1f}s] receiver accepted {accepted}/{expected} (+{(accepted - last_accepted) / (now - last_print):.0f}/s), "
                  f"injected 500s {receiver.injected_500}, redeliveries {receiver.redeliveries} | db "
                  + " ".join(f"{key} {value}" for key, value in sorted(states.items()))
                  + f" | workers alive {alive} | endpoint {'up' if receiver.up else 'DOWN'}", flush=True)  # fmt: skip
            last_print, last_accepted = now, accepted
        for worker in site.workers:
            if worker.process.poll() is not None and not worker.killed and worker.ended is None:
                worker.ended = time.time()
                print(f"  WARNING: worker {worker.worker_id} exited with {worker.process.returncode}", flush=True)
        if now > deadline:
            print(f"  TIMEOUT after {args.timeout:g}s: not drained", flush=True)
            break
        time.sleep(0.05)
    finished = time.time()
    if not receiver.up:
        receiver.start()
    site.stop_workers()
    phase.cpu_seconds = sum(worker.cpu_seconds for worker in site.workers if worker.started >= phase.started)
    collect(site, receiver, phase, finished, before)
    if phase.profile and phase.profile.exists():
        import io
        import pstats

        stats = pstats.Stats(str(phase.profile))
        calls = Counter()
        for (filename, _line, function), (_cc, ncalls, *_rest) in stats.stats.items():
            if function in ("run_task", "_execute_send", "_exec_command") and ("psycopg" in filename or "db_worker" in filename):
                calls[function] += ncalls
        if calls["run_task"]:
            tasks = calls["run_task"]
            print(f"  worker round trips per task (from the profile): {calls['_execute_send'] / tasks:.1f} SQL statements + "
                  f"{calls['_exec_command'] / tasks:.1f} BEGIN/COMMIT commands ({tasks} tasks)")  # fmt: skip
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(str(phase.profile), stream=out).sort_stats(order).print_stats(30)
            print(f"  cProfile of worker {pool[0].worker_id} (whole process), top 30 by {order}:")
            print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip() and "Ordered by" not in line))
    return phase


def kill_mid_delivery(site: Site, victim: WorkerProcess, env: dict, *, replace: bool, started: float) -> dict:
    """SIGKILL ``victim`` while it runs a delivery task (a RUNNING task claimed by it), then replace it."""
    found = None
    deadline = time.monotonic() + 5
    while found is None and time.monotonic() < deadline:
        found = find_running_task(victim.worker_id, victim.process.pid)
        if found is None:
            time.sleep(0.002)
    site.kill_worker(victim)
    task, leased = found or (None, [])
    info = {"worker": victim.worker_id, "pid": victim.process.pid, "at": time.monotonic() - started,
            "task": str(task.id) if task else None, "delivery": leased[0] if leased else None, "leased": leased}  # fmt: skip
    if task is not None:
        task.refresh_from_db(fields=["status"])
        info["mid_task"] = task.status == "RUNNING"  # else it finished between the look and the kill
    print(f"  [{info['at']:6.1f}s] KILLED worker {victim.worker_id} (pid {victim.process.pid}, SIGKILL) "
          + ((f"while its drain task held the lease of {len(leased)} deliveries (e.g. {info['delivery']})" if info["mid_task"] else
              "just after its drain task finished") if task else "(no running drain task with a lease seen in 5 s)"),
          flush=True)  # fmt: skip
    if replace:
        replacement = site.start_worker(env)
        info["replacement"] = replacement.worker_id
        print(f"  [{time.monotonic() - started:6.1f}s] started replacement worker {replacement.worker_id}", flush=True)
    return info


def collect(site: Site, receiver: Receiver, phase: Phase, finished: float, before: dict):
    """Figures and checks of a finished phase, from the database and the receiver."""
    import datetime

    from django.db.models import Count, Max, Min, Q
    from django_tasks_db.models import DBTaskResult

    from plugins.models import Delivery, DeliveryAttempt

    args = site.args
    deliveries = Delivery.objects.filter(created_at__gte=phase.created_from)
    phase.states = state_counts(phase)
    span = deliveries.aggregate(last=Max("delivered_at"))
    first = DeliveryAttempt.objects.filter(delivery__created_at__gte=phase.created_from).aggregate(first=Min("started_at"))["first"]
    start = datetime.datetime.fromtimestamp(phase.started, tz=datetime.timezone.utc)
    if span["last"]:
        phase.drain_seconds = (span["last"] - start).total_seconds()
        if first:
            phase.steady_seconds = (span["last"] - first).total_seconds()
    end = span["last"].timestamp() if span["last"] else finished
    phase.worker_seconds = sum(max(0.0, min(w.ended or end, end) - max(w.started, phase.started)) for w in site.workers
                               if w.started < end and (w.ended or end) > phase.started)  # fmt: skip

    attempts = DeliveryAttempt.objects.filter(delivery__created_at__gte=phase.created_from)
    phase.attempts = attempts.aggregate(total=Count("id"), ok=Count("id", filter=Q(ok=True)))
    phase.per_worker = list(
        attempts.values("worker").annotate(total=Count("id"), ok=Count("id", filter=Q(ok=True)), first=Min("started_at"),
                                           last=Max("started_at")).order_by("worker")  # fmt: skip
    )
    tasks = DBTaskResult.objects.filter(task_path=DRAIN_TASK, enqueued_at__gte=phase.created_from)
    outcome = Counter()
    for status, value in tasks.values_list("status", "return_value"):
        outcome[status.lower()] += 1
        outcome["attempted"] += value or 0
    phase.tasks = dict(outcome)
    sweeps = DBTaskResult.objects.filter(task_path="plugins.tasks.sweep_deliveries", status="SUCCESSFUL",
                                         finished_at__gte=start)  # fmt: skip
    runs = list(sweeps.values_list("return_value", "started_at", "finished_at"))
    requeued = [value for value, *_ in runs if value]
    phase.sweeps = {"runs": len(runs), "requeued": sum(requeued), "largest": max(requeued, default=0),
                    "busy": sum((finished - started).total_seconds() for _, started, finished in runs)}  # fmt: skip
    killed_ids = phase.kill_info.get("leased")
    if killed_ids and span["last"]:
        others = deliveries.exclude(pk__in=killed_ids).aggregate(last=Max("delivered_at"))["last"]
        phase.drain_others_seconds = (others - start).total_seconds() if others else float("nan")
    time.sleep(1.2)  # PostgreSQL flushes backend statistics about once a second
    after = db_counters()
    phase.db_stats = {key: after[key] - before[key] for key in after} if before and after else {}

    # -- checks: the database's deliveries against what the receiver accepted
    db_rows = list(deliveries.values_list("id", "submission__tracking_code", "target", "state"))
    db_keys = {str(pk): (code, target) for pk, code, target, _state in db_rows}
    codes = set(phase.codes)
    targets = [f"t{n}" for n in range(1, args.targets + 1)]
    items = {(code, target) for code in codes for target in targets}
    planned = {(code, target) for code, target in db_keys.values()}
    accepted_items = {item for item, keys in receiver.keys_of_item.items() if keys}
    lost = sorted(items - accepted_items)
    two_keys = sorted(item for item, keys in receiver.keys_of_item.items() if len(keys) > 1)
    unknown_keys = sorted(key for key in receiver.accept_count if key not in db_keys)
    wrong_item = sorted(key for key, item in receiver.item_of_key.items() if key in db_keys and db_keys[key] != item)
    ok_twice = list(attempts.filter(ok=True).values("delivery").annotate(n=Count("id")).filter(n__gt=1).values_list("delivery", "n"))
    redelivered = {key: count for key, count in receiver.accept_count.items() if count > 1}
    phase.check = {
        "expected": len(items),
        "planned": len(items & planned),
        "not_planned": len(items - planned),
        "accepted": len(items & accepted_items),
        "lost": len(lost),
        "lost_sample": [f"{code}/{target}" for code, target in lost[:10]],
        "duplicated": len(two_keys) + receiver.concurrent_accepts,
        "two_keys": len(two_keys),
        "concurrent_accepts": receiver.concurrent_accepts,
        "unknown_keys": len(unknown_keys) + len(wrong_item),
        "redelivered_keys": len(redelivered),
        "redeliveries": sum(count - 1 for count in redelivered.values()),
        "redelivered_sample": sorted(redelivered)[:5],
        "ok_attempts_twice": len(ok_twice),
        "dead": phase.states.get("dead", 0),
    }
    phase.receiver = {"requests": receiver.requests, "injected_500": receiver.injected_500, "client_resets": receiver.client_resets,
                      "bad_signature": receiver.bad_signature, "bad_request": receiver.bad_request,
                      "slow_headers": receiver.slow_headers, "overlapping": receiver.overlapping}  # fmt: skip
    if phase.kill_info.get("delivery"):
        delivery_id = phase.kill_info["delivery"]
        killed = Delivery.objects.filter(pk=delivery_id).values("state", "attempts").first() or {}
        log = [(number, ok, worker, at.timestamp() - phase.started) for number, ok, worker, at in
               DeliveryAttempt.objects.filter(delivery_id=delivery_id).order_by("started_at").values_list("number", "ok", "worker", "started_at")]  # fmt: skip
        leased = phase.kill_info["leased"]
        phase.kill_info["leased_states"] = dict(Counter(Delivery.objects.filter(pk__in=leased).values_list("state", flat=True)))
        phase.kill_info.update(state=killed.get("state"), attempts=killed.get("attempts"),
                               accepted_by_receiver=receiver.accept_count.get(str(delivery_id), 0),
                               attempt_log=[f"#{n} {'ok' if ok else 'failed'} by {worker} at {at:.1f}s" for n, ok, worker, at in log])  # fmt: skip


def print_phase(phase: Phase, site: Site):
    check, per_worker_rate = phase.check, phase.per_worker_rate
    print(f"  drained: {'yes' if phase.drained else 'NO'}; states " + ", ".join(f"{k} {v}" for k, v in sorted(phase.states.items())))
    print(f"  drain time (workers started -> last delivery recorded): {phase.drain_seconds:.1f}s; "
          f"first attempt -> last delivery: {phase.steady_seconds:.1f}s; worker-seconds {phase.worker_seconds:.1f}")  # fmt: skip
    print(f"  deliveries/s: {phase.delivered / phase.drain_seconds:.1f} overall, {per_worker_rate:.1f} per worker "
          f"(delivered / worker-seconds); attempts {phase.attempts['total']} ({phase.attempts['ok']} ok), "
          f"{phase.attempts['total'] / phase.worker_seconds:.1f} attempts/s per worker")  # fmt: skip
    for row in phase.per_worker:
        active = (row["last"] - row["first"]).total_seconds() if row["first"] and row["last"] else 0
        print(f"    worker {row['worker']}: {row['total']} attempts, {row['ok']} delivered, active {active:.1f}s")
    if phase.drain_others_seconds == phase.drain_others_seconds:  # not NaN
        print(f"  drain time of every delivery but those the killed worker held: {phase.drain_others_seconds:.1f}s")
    print("  drain tasks: " + ", ".join(f"{k} {v}" for k, v in sorted(phase.tasks.items()))
          + f" (attempted = deliveries attempted by finished drains; ready = still queued when the workers were stopped); "
          f"sweeps {phase.sweeps['runs']} found {phase.sweeps['requeued']} stranded deliveries (largest {phase.sweeps['largest']}), "
          f"busy {phase.sweeps['busy']:.1f} worker-s")  # fmt: skip
    if phase.db_stats and phase.delivered:
        n = phase.delivered
        print(f"  PostgreSQL per delivered: {phase.db_stats['commits'] / n:.1f} commits, {phase.db_stats['inserted'] / n:.1f} rows "
              f"inserted, {phase.db_stats['updated'] / n:.1f} updated, {phase.db_stats['fetched'] / n:.1f} fetched")  # fmt: skip
    r = phase.receiver
    print(f"  receiver: {r['requests']} requests, {r['injected_500']} injected 500s, {r['slow_headers']} slow-headers answers, "
          f"{r['bad_signature']} bad signatures, {r['bad_request']} bad requests, {r['client_resets']} connections reset by a client; "
          f"requests sent while an earlier one with the same key was still open (a lease outlived by its request): "
          f"{r['overlapping']}")  # fmt: skip
    span = phase.drain_seconds if phase.drain_seconds == phase.drain_seconds else float("nan")
    print(f"  worker CPU: {phase.cpu_seconds:.1f} s user+system ({phase.cpu_seconds / span:.2f} cores over the drain; "
          f"{1000 * phase.cpu_seconds / max(1, phase.attempts['total']):.2f} ms per attempt)")  # fmt: skip
    if phase.down_window:
        print(f"  endpoint down from {phase.down_window[0]:.1f}s to {phase.down_window[1]:.1f}s")
    if phase.kill_info:
        k = phase.kill_info
        print(f"  killed worker {k['worker']} at {k['at']:.1f}s {'mid-task' if k.get('mid_task') else 'right after the task'} "
              f"holding {len(k.get('leased', []))} deliveries, now {k.get('leased_states')}; e.g. {k.get('delivery')}: now {k.get('state')} "
              f"after {k.get('attempts')} attempt(s) [{'; '.join(k.get('attempt_log', []))}], "
              f"accepted by the receiver {k.get('accepted_by_receiver')}x")  # fmt: skip
    print(f"  check: {check['accepted']}/{check['expected']} submission×target accepted; lost {check['lost']}"
          f" (not planned {check['not_planned']}, dead {check['dead']}); duplicated {check['duplicated']} "
          f"(two keys for one submission×target {check['two_keys']}, accepted concurrently {check['concurrent_accepts']}); "
          f"keys unknown to the database {check['unknown_keys']}")  # fmt: skip
    print(f"  redeliveries (same key again after a 2xx; allowed, at-least-once): {check['redeliveries']} "
          f"on {check['redelivered_keys']} key(s); deliveries recorded ok twice: {check['ok_attempts_twice']}"
          + (f"; e.g. {', '.join(check['redelivered_sample'])}" if check["redelivered_sample"] else ""))  # fmt: skip
    if check["lost_sample"]:
        print(f"  LOST (first 10): {', '.join(check['lost_sample'])}")
    errors = site.worker_errors()
    if errors:
        print(f"  worker logs: {len(errors)} error lines, e.g. {errors[0][:300]}")


# -- anatomy of one delivery, in this process ------------------------------------------------------


def run_isolation(site: Site, receiver: Receiver, service_code: str, args, *, with_a: bool) -> dict:
    """One worker drains ``--isolation-submissions`` submissions, each with a delivery to a healthy
    target B and (``with_a``) one to a target A whose endpoint never answers in time (slow headers,
    one byte a second). B's latency (the worker's first attempt -> delivered: a backlog drained)
    and the worker's attempts/s."""
    import datetime
    import statistics

    from django.db.models import Max
    from django.utils import timezone

    from plugins.models import Delivery, DeliveryAttempt, PluginConfig
    from service_pages.models import ServicePage

    label = "isolation, A times out + B healthy" if with_a else "isolation, B alone"
    print(f"\n== {label}: {args.isolation_submissions} submissions, 1 worker, request timeout {args.request_timeout:g}s ==", flush=True)
    service = ServicePage.objects.by_code(service_code)
    slow = Receiver()
    slow.reset(fail_rate=0.0, seed=0, slow_rate=1.0)
    receiver.reset(fail_rate=0.0, seed=0)
    PluginConfig.objects.filter(agency=service.agency).update(enabled=False)
    for name, url, enabled in (("iso-b", receiver.url("iso-b"), True), ("iso-a", slow.url("iso-a"), with_a)):
        PluginConfig.objects.update_or_create(plugin_id="webhook", name=name, agency=service.agency, service=None, defaults={
            "enabled": enabled, "options": {"url": url, "secret": SECRET, "include_files": False}})  # fmt: skip
    created_from = timezone.now()
    codes, _ = site.create_submissions(service_code, args.isolation_submissions, args.seed + 7 + with_a)
    b = Delivery.objects.filter(created_at__gte=created_from, target="iso-b")
    env = {"TUMEN_DELIVERY_TIMEOUT": f"{args.request_timeout:g}", "TUMEN_DELIVERY_SWEEP_SECONDS": str(args.sweep)}
    started = time.time()
    worker = site.start_worker(env)
    deadline = time.monotonic() + args.isolation_timeout
    while b.exclude(state="delivered").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    finished = time.time()
    site.stop_workers()
    slow.stop()
    attempts = DeliveryAttempt.objects.filter(delivery__created_at__gte=created_from)
    first = attempts.order_by("started_at").values_list("started_at", flat=True).first()
    # From the worker's first attempt (its start-up, seconds on a loaded machine, is not the engine's).
    start = first or datetime.datetime.fromtimestamp(started, tz=datetime.timezone.utc)
    latencies = sorted((at - start).total_seconds() for at in b.filter(state="delivered").values_list("delivered_at", flat=True))
    last = b.aggregate(last=Max("delivered_at"))["last"]
    span = (last - first).total_seconds() if first and last else float("nan")
    made = attempts.filter(started_at__lte=last) if last else attempts  # started by B's last delivery
    a_attempts = made.filter(delivery__target="iso-a").count()
    total = made.count()
    result = {
        "label": label, "submissions": len(codes), "b_delivered": len(latencies), "b_expected": b.count(),
        "b_p50": statistics.median(latencies) if latencies else float("nan"),
        "b_p95": latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
        "attempts": total, "a_attempts": a_attempts, "span": span, "attempts_per_s": total / span if span == span and span else float("nan"),
        "elapsed": finished - started, "cpu_seconds": worker.cpu_seconds, "slow_overlapping": slow.overlapping,
    }  # fmt: skip
    print(f"  B delivered {result['b_delivered']}/{result['b_expected']} in {result['elapsed']:.1f}s; B latency (worker's first attempt -> "
          f"delivered) p50 {result['b_p50']:.2f}s p95 {result['b_p95']:.2f}s; attempts {total} (A {a_attempts}) in {span:.1f}s "
          f"first attempt -> B's last delivery: {result['attempts_per_s']:.1f} attempts/s; worker CPU {worker.cpu_seconds:.1f}s",
          flush=True)  # fmt: skip
    PluginConfig.objects.filter(name__in=["iso-a", "iso-b"], agency=service.agency).update(enabled=False)
    return result


def print_isolation(alone: dict, mixed: dict):
    ratio = mixed["b_p95"] / alone["b_p95"] if alone["b_p95"] else float("nan")
    print(f"| isolation: B's p95 latency with A timing out / B alone | **{ratio:.2f}** ({mixed['b_p95']:.2f} s / {alone['b_p95']:.2f} s; "
          f"B delivered {mixed['b_delivered']}/{mixed['b_expected']}) | ≤ {ISOLATION_TARGET_RATIO:g}: "
          f"{'met' if ratio <= ISOLATION_TARGET_RATIO and mixed['b_delivered'] == mixed['b_expected'] else 'NOT met'} |")  # fmt: skip
    print(f"| isolation: attempts/s of the worker (A's and B's) | **{mixed['attempts_per_s']:.1f}** ({mixed['attempts']} attempts, "
          f"{mixed['a_attempts']} to A) | ≥ {ISOLATION_TARGET_ATTEMPTS:g}: "
          f"{'met' if mixed['attempts_per_s'] >= ISOLATION_TARGET_ATTEMPTS else 'NOT met'} |")  # fmt: skip
    return ratio


def run_anatomy(site: Site, service_code: str, count: int, profile: bool) -> dict:
    """``attempt()`` on ``count`` fresh deliveries in this process: ms and SQL per delivery."""
    import cProfile
    import io
    import pstats
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from form_builder.submissions import application_for, submit
    from plugins.models import Delivery
    from service_pages.models import ServicePage, Soum
    from tests.deliveries import attempt  # one given delivery: claim_batch + attempt_claimed

    print(f"\n== anatomy: {count} submissions, attempt() in this process, SQL counted ==", flush=True)
    application = application_for(ServicePage.objects.by_code(service_code))
    places = list(Soum.objects.order_by("code").values_list("aimag__code", "code"))
    submit_ms, submit_queries, ids = [], [], []
    for index in range(count):
        data = answers(900_000 + index, random.Random(index), places, "Delivery benchmark request")
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            submission = submit(application, data)
            submit_ms.append((time.perf_counter() - started) * 1000)
        submit_queries.append(len(queries))
        ids += [str(pk) for pk in Delivery.objects.filter(submission=submission).values_list("pk", flat=True)]
    kinds: Counter = Counter()
    kind_ms: Counter = Counter()
    total_ms, per_delivery = [], []
    profiler = cProfile.Profile() if profile else None
    stage_ms: Counter = Counter()
    patched = []

    def timed(owner, name, label):
        original = getattr(owner, name)

        def wrapper(*a, **kw):
            started = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                stage_ms[label] += (time.perf_counter() - started) * 1000

        setattr(owner, name, wrapper)
        patched.append((owner, name, original))

    # Time the stages of attempt() by wrapping module globals it looks up at call time (the
    # engine's code is not changed; the wrappers are removed afterwards).
    import plugins.delivery as engine
    from plugins import http as plugin_http
    from plugins.contrib.webhook import plugin as webhook
    from plugins.delivery import attempts

    timed(engine, "claim_batch", "claim_batch of one (SELECT due ids, lease UPDATE, SELECT with its target)")
    timed(attempts, "record", "record (attempt log, state, submission status)")
    timed(attempts, "mark_submission_delivered", "  of which mark_submission_delivered")
    timed(engine.DeliveryContext, "payload", "plugin: payload() (metadata, answers, JSON Schema)")
    timed(webhook, "encode_body", "plugin: encode_body (JSON)")
    timed(plugin_http, "request", "plugin: HTTP request to the receiver")
    table = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)
    for delivery_id in ids:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            outcome = attempt(delivery_id, worker="bench-inprocess")
            if profiler:
                profiler.disable()
            total_ms.append((time.perf_counter() - started) * 1000)
        assert outcome == "delivered", outcome
        per_delivery.append(len(queries))
        for query in queries.captured_queries:
            sql = query["sql"].lstrip()
            verb = sql.split(None, 1)[0].upper()
            match = table.search(sql)
            kind = f"{verb} {match.group(1) if match else ''}".strip()
            kinds[kind] += 1
            kind_ms[kind] += float(query["time"]) * 1000
    for owner, name, original in patched:
        setattr(owner, name, original)
    from plugins.models import DeliveryAttempt

    # The same work the way a worker does it: one drain over a backlog, claimed in batches.
    backlog = []
    for index in range(count):
        data = answers(950_000 + index, random.Random(index), places, "Delivery benchmark request")
        backlog += list(Delivery.objects.filter(submission=submit(application, data)).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        drained = engine.drain(worker="bench-inprocess", budget_seconds=600)
        drain_ms = (time.perf_counter() - started) * 1000
    assert drained == len(backlog) and not Delivery.objects.filter(pk__in=backlog).exclude(state="delivered").exists()

    plugin_ms = list(DeliveryAttempt.objects.filter(delivery_id__in=ids).values_list("duration_ms", flat=True))
    result = {
        "deliveries": len(ids),
        "ms": sum(total_ms) / len(total_ms),
        "plugin_ms": sum(plugin_ms) / len(plugin_ms),
        "queries": sum(per_delivery) / len(per_delivery),
        "kinds": {key: value / len(ids) for key, value in kinds.most_common()},
        "kind_ms": {key: kind_ms[key] / kinds[key] for key in kinds},
        "sql_ms": sum(kind_ms.values()) / len(ids),
        "stages": {key: value / len(ids) for key, value in stage_ms.items()},
        "submit_ms": sum(submit_ms) / len(submit_ms),
        "submit_queries": sum(submit_queries) / len(submit_queries),
        "drain_ms": drain_ms / len(backlog),
        "drain_queries": len(queries) / len(backlog),
        "batch": engine.batch_size(),
    }
    print(f"  submit(): {result['submit_ms']:.1f} ms and {result['submit_queries']:.1f} queries per submission (in-request cost)")
    print(f"  attempt(): {result['ms']:.1f} ms per delivery, of which {result['plugin_ms']:.1f} ms in the plugin "
          f"(payload, signature, HTTP; DeliveryAttempt.duration_ms); {result['queries']:.1f} SQL queries per delivery:")  # fmt: skip
    for key, value in result["kinds"].items():
        print(f"    {value:5.2f} × {result['kind_ms'][key]:5.2f} ms  {key}")
    print(f"  drain(): {result['drain_ms']:.1f} ms and {result['drain_queries']:.1f} SQL queries per delivery "
          f"({len(backlog)} deliveries claimed {result['batch']} at a time; what a worker's deliver_due task does)")  # fmt: skip
    print(f"  time in SQL (as Django measures it): {result['sql_ms']:.1f} ms per delivery; stages (ms per delivery, "
          "timing wrappers add a little):")  # fmt: skip
    for key, value in result["stages"].items():
        print(f"    {value:6.2f}  {key}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print("  cProfile of attempt(), by cumulative time (top 25):")
        print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip()))
    return result


# -- stock Wagtail: the form page's in-request e-mail -----------------------------------------------

STOCK_FIELDS = [
    ("Register number", "register_number"), ("Family name", "last_name"), ("Given name", "first_name"),
    ("Phone number", "phone"), ("Email address", "email"), ("Aimag", "aimag"), ("Soum", "soum"),
    ("Your request", "request"),
]  # fmt: skip


def run_stock(smtp: SMTPReceiver, count: int, fail_rate: float) -> dict:
    """Stock ``AbstractEmailForm.process_form_submission``: a FormSubmission row, then the e-mail."""
    from django.db import transaction
    from wagtail.contrib.forms.models import EmailFormMixin

    from bench.stock_forms.models import StockFormField, StockFormPage
    from cms.models import HomePage
    from service_pages.models import Soum

    print(f"\n== stock Wagtail: {count} form submissions with in-request e-mail to the local SMTP receiver, "
          f"healthy, then failing {fail_rate:.0%} ==", flush=True)  # fmt: skip
    home = HomePage.objects.first()
    with transaction.atomic():
        page = StockFormPage(title="Stock Wagtail form (delivery benchmark)", slug="stock-delivery-bench", locale_id=home.locale_id)
        page.form_fields = [StockFormField(sort_order=n, label=label, field_type="singleline" if key != "request" else "multiline",
                                           required=True) for n, (label, key) in enumerate(STOCK_FIELDS)]  # fmt: skip
        home.add_child(instance=page)
        page.save_revision().publish()
    page.refresh_from_db()
    # The project has no AbstractEmailForm model; the stock e-mail fields are set on this instance
    # and EmailFormMixin's own send_mail runs, i.e. exactly AbstractEmailForm.process_form_submission.
    page.to_address, page.from_address, page.subject = "agency@example.mn", "forms@example.mn", "New application"
    page.render_email = types.MethodType(EmailFormMixin.render_email, page)
    names = {form_field.label: form_field.clean_name for form_field in page.get_form_fields()}
    places = list(Soum.objects.order_by("code").values_list("aimag__code", "code"))

    def one(index: int) -> tuple[float, float, bool]:
        data = answers(500_000 + index, random.Random(index), places, "Delivery benchmark request")
        flat = dict(data, aimag=data["address"]["aimag"], soum=data["address"]["soum"])
        started = time.perf_counter()
        form = page.get_form({names[label]: flat[key] for label, key in STOCK_FIELDS}, page=page, user=None)
        assert form.is_valid(), form.errors
        page.process_form_submission(form)  # AbstractForm: the FormSubmission row
        saved = time.perf_counter()
        try:
            EmailFormMixin.send_mail(page, form)  # what AbstractEmailForm adds, in the same request
            sent = True
        except Exception as error:  # noqa: BLE001 - the citizen's request fails; the e-mail is gone
            errors[type(error).__name__] += 1
            sent = False
        done = time.perf_counter()
        return (done - started) * 1000, (done - saved) * 1000, sent

    results = {}
    for label, rate in (("healthy", 0.0), ("failing", fail_rate)):
        smtp.fail_rate, smtp.rng = rate, random.Random(11)
        errors = Counter()
        before = smtp.messages
        runs = [one(index + (0 if label == "healthy" else count)) for index in range(count)]
        results[label] = {
            "request_ms": sum(r[0] for r in runs) / count,
            "send_ms": sum(r[1] for r in runs) / count,
            "sent": sum(1 for r in runs if r[2]),
            "received": smtp.messages - before,
            "lost": sum(1 for r in runs if not r[2]),
            "errors": dict(errors),
        }
        r = results[label]
        print(f"  {label}: {r['request_ms']:.1f} ms per submission in the request, of which {r['send_ms']:.1f} ms sending the "
              f"e-mail; sent {r['sent']}/{count}, received {r['received']}; lost (request failed, no retry): {r['lost']}"
              + (f" ({', '.join(f'{k} {v}' for k, v in errors.items())})" if errors else ""), flush=True)  # fmt: skip
    smtp.fail_rate = 0.0
    return results


# -- the run --------------------------------------------------------------------------------------


def pick_service() -> str:
    from form_builder.submissions import ServiceUnavailable, application_for
    from service_pages.models import ServicePage

    for service in ServicePage.objects.live().filter(agency__isnull=False).order_by("code"):
        try:
            application_for(service)
        except ServiceUnavailable:
            continue
        return service.code
    raise SystemExit("no published service with an agency accepts applications")


def configure_targets(service_code: str, receiver: Receiver, targets: int):
    from plugins.models import PluginConfig
    from service_pages.models import ServicePage

    service = ServicePage.objects.by_code(service_code)
    # Tumen e-mails the agency's technical contact when a target keeps failing (at most hourly).
    service.agency.technical_contact_email = "tech@agency.example.mn"
    service.agency.save(update_fields=["technical_contact_email"])
    for n in range(1, targets + 1):
        config = PluginConfig(plugin_id="webhook", name=f"t{n}", agency=service.agency,
                              options={"url": receiver.url(f"t{n}"), "secret": SECRET, "include_files": False})  # fmt: skip
        config.full_clean()
        config.save()
    return service


def print_summary(args, site: Site, healthy: Phase | None, faults: Phase, anatomy: dict | None, stock: dict | None, smtp: SMTPReceiver):
    print("\n== Delivery: results ==")
    print(f"database: {site.database}; {args.targets} webhook target(s); machine load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    print("| measure | result | target |")
    print("|---|---|---|")
    if healthy is not None:
        met = healthy.steady_rate >= TARGET_PER_WORKER
        print(f"| healthy endpoint, {healthy.expected} deliveries, 1 worker: deliveries/s per worker (first attempt → last) | "
              f"**{healthy.steady_rate:.1f}** ({healthy.delivered} in {healthy.steady_seconds:.1f} s; counting the worker's "
              f"start-up: {healthy.per_worker_rate:.1f}/s) | ≥ {TARGET_PER_WORKER:g}: {'met' if met else 'NOT met'} |")  # fmt: skip
    f = faults
    print(f"| faults: drain time, {f.expected} submissions × {args.targets} target(s), {args.workers} workers | "
          f"**{f.drain_seconds:.1f} s** (endpoint down {args.down_seconds:g} s of it"
          + (f"; every delivery but those the killed worker held: {f.drain_others_seconds:.1f} s" if f.kill_info.get("leased") else "")
          + ") | — |")  # fmt: skip
    print(f"| faults: deliveries/s per worker (delivered / worker-seconds) | {f.per_worker_rate:.1f} "
          f"({f.attempts['total'] / f.worker_seconds:.1f} attempts/s per worker) | — |")  # fmt: skip
    print(f"| faults: attempts per delivery | {f.attempts['total'] / max(1, f.delivered):.2f} ({f.receiver['injected_500']} injected 500s) | — |")
    print(f"| faults: lost / duplicated at the receiver | **{f.check['lost']} / {f.check['duplicated']}** | 0 / 0 |")
    print(f"| faults: redeliveries of an accepted key (at-least-once) | {f.check['redeliveries']} | reported |")
    print(f"| faults: dead letters | {f.check['dead']} | 0 |")
    finished_tasks = f.tasks.get("successful", 0)
    print(f"| faults: drain tasks run / deliveries attempted per drain task / still queued at the end | {finished_tasks} / "
          f"{f.tasks.get('attempted', 0) / max(1, finished_tasks):.1f} / {f.tasks.get('ready', 0)} "
          f"(sweeps found {f.sweeps['requeued']} stranded, busy {f.sweeps['busy']:.0f} worker-s) | — |")  # fmt: skip
    if anatomy:
        print(f"| attempt() in-process: ms / SQL queries per delivery | {anatomy['ms']:.1f} ms / {anatomy['queries']:.1f} "
              f"(plugin incl. HTTP {anatomy['plugin_ms']:.1f} ms) | — |")  # fmt: skip
        print(f"| drain() in-process (batches of {anatomy['batch']}): ms / SQL queries per delivery | {anatomy['drain_ms']:.1f} ms / "
              f"{anatomy['drain_queries']:.1f} | — |")  # fmt: skip
    if stock and healthy is not None:
        worker_ms = 1000 / healthy.steady_rate
        h, bad = stock["healthy"], stock["failing"]
        print(f"| delivering one submission: Tumen worker (queue included) vs stock in-request e-mail | "
              f"{worker_ms:.1f} ms vs {h['send_ms']:.1f} ms (**{worker_ms / h['send_ms']:.2f}×**) | — |")  # fmt: skip
        if anatomy:
            print(f"| citizen's request: Tumen submit() vs stock save + e-mail | {anatomy['submit_ms']:.1f} ms vs "
                  f"{h['request_ms']:.1f} ms (**{anatomy['submit_ms'] / h['request_ms']:.2f}×**) | — |")  # fmt: skip
        print(f"| lost with {args.fail_rate:.0%} of sends failing: Tumen vs stock | {f.check['lost']} of {f.check['expected']} vs "
              f"{bad['lost']} of {bad['lost'] + bad['sent']} | — |")  # fmt: skip
    alerts = [subject for subject in smtp.subjects if "[Tumen]" in subject]
    print(f"\nfailure alerts e-mailed by Tumen during the run: {len(alerts)}" + (f" (e.g. {alerts[0]!r})" if alerts else ""))
    env = ", ".join(f"{key}={value}" for key, value in faults.env.items())
    print(f"faults phase settings (environment): {env}; healthy phase: TUMEN_DELIVERY_SWEEP_SECONDS={args.sweep}, "
          "the rest at production defaults (lease 120 s)" + ("; healthy worker under cProfile (slower)" if args.profile else ""))  # fmt: skip
    print(f"workers: manage.py db_worker --no-reload --interval {args.interval:g} --no-startup-delay; DEBUG=false")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == CREATE_COMMAND:
        service_code, start, count, seed, out = sys.argv[2:7]
        create_chunk(service_code, int(start), int(count), int(seed), out)
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres", help="default postgres (scripts/postgres.sh)")
    parser.add_argument("--submissions", type=int, default=10_000, help="submissions in the faults phase (default 10000)")
    parser.add_argument("--fail-rate", type=float, default=0.3, help="share of requests the endpoint answers 500 (default 0.3)")
    parser.add_argument("--down-seconds", type=float, default=60.0, help="endpoint down (refusing) once half is accepted (default 60; 0: never)")
    parser.add_argument("--workers", type=int, default=2, help="db_worker processes in the faults phase (default 2)")
    parser.add_argument("--kill-at", type=float, default=0.3, help="kill a worker once this share is accepted (default 0.3)")
    parser.add_argument("--no-kill", dest="kill", action="store_false", help="do not kill a worker")
    parser.add_argument("--no-replace", dest="replace", action="store_false", help="do not start a replacement for the killed worker")
    parser.add_argument("--targets", type=int, default=1, help="webhook targets per submission (default 1)")
    parser.add_argument("--healthy-submissions", type=int, default=2000, help="submissions of the healthy phase, 1 worker (default 2000; 0: skip)")
    parser.add_argument("--anatomy", type=int, default=200, help="deliveries attempted in-process with SQL counted (default 200; 0: skip)")
    parser.add_argument("--profile", action="store_true",
                        help="run the healthy phase's worker under cProfile and cProfile the in-process attempts (slower)")  # fmt: skip
    parser.add_argument("--stock-submissions", type=int, default=1000, help="stock Wagtail submissions per round (default 1000; 0: skip)")
    parser.add_argument("--backoff-base", type=float, default=0.5, help="TUMEN_DELIVERY_BACKOFF_BASE_SECONDS in the faults phase (default 0.5)")
    parser.add_argument("--backoff-max", type=float, default=5.0, help="TUMEN_DELIVERY_BACKOFF_MAX_SECONDS in the faults phase (default 5)")
    parser.add_argument("--lease", type=int, default=10, help="TUMEN_DELIVERY_LEASE_SECONDS in the faults phase (default 10)")
    parser.add_argument("--sweep", type=int, default=5, help="TUMEN_DELIVERY_SWEEP_SECONDS in the faults phase (default 5)")
    parser.add_argument("--no-analyze", dest="analyze", action="store_false",
                        help="do not ANALYZE after creating the submissions (cold planner statistics, see docs/benchmarks.md)")  # fmt: skip
    parser.add_argument("--interval", type=float, default=0.05, help="db_worker --interval when idle (default 0.05)")
    parser.add_argument("--create-jobs", type=int, default=2, help="processes creating submissions (default 2)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up on draining the faults phase after this (default 1800 s)")
    parser.add_argument("--progress", type=float, default=5, help="seconds between progress lines (default 5)")
    parser.add_argument("--seed", type=int, default=2025, help="seed of answers and injected failures (default 2025)")
    parser.add_argument("--slow-rate", type=float, default=0.02,
                        help="share of requests the endpoint answers one header byte a second in the faults phase (default 0.02)")
    parser.add_argument("--request-timeout", type=float, default=3.0,
                        help="TUMEN_DELIVERY_TIMEOUT in the faults and isolation phases (default 3)")
    parser.add_argument("--isolation-submissions", type=int, default=300,
                        help="submissions of each isolation run, 1 worker (default 300; 0: skip)")
    parser.add_argument("--isolation-timeout", type=float, default=120, help="give up on an isolation run after this (default 120 s)")
    parser.add_argument("--db-name", default=BENCH_DB, help=f"the PostgreSQL database created and dropped (default {BENCH_DB})")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (worker logs)")
    parser.add_argument("--keep-postgres", action="store_true", help="leave the PostgreSQL cluster running if this run started it")
    args = parser.parse_args()
    if args.submissions < 1 or args.workers < 1 or args.targets < 1 or not 0 <= args.fail_rate < 1:
        parser.error("--submissions, --workers and --targets must be positive, --fail-rate in [0, 1)")
    if args.kill and args.workers < 2 and not args.replace:
        parser.error("killing the only worker without a replacement would never drain")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # SIGINT too: it may be ignored when started with &
        signal.signal(signum, on_term)
    site = Site(args)
    smtp = receiver = None
    try:
        smtp = SMTPReceiver()
        receiver = Receiver()
        print("== setup ==", flush=True)
        site.prepare(smtp.port)
        service_code = pick_service()
        service = configure_targets(service_code, receiver, args.targets)
        print(f"  service {service_code} ({service.agency.code}); webhook target(s) → {receiver.url('t1')} "
              f"(signed, secret checked by the receiver); SMTP receiver on 127.0.0.1:{smtp.port}", flush=True)  # fmt: skip
        healthy = None
        if args.healthy_submissions > 0:
            # Lease at its production default (120 s): a waiting backlog is not re-queued by the sweep.
            # The sweep interval is the faults phase's, so its next sweep is due soon after.
            healthy_env = {"TUMEN_DELIVERY_SWEEP_SECONDS": str(args.sweep)}
            profile = site.var / "healthy-worker.prof" if args.profile else None
            healthy = run_phase(site, receiver, Phase("healthy", args.healthy_submissions, 1, 0.0, env=healthy_env, profile=profile),
                                service_code, args.seed + 1)  # fmt: skip
            print_phase(healthy, site)
        faults_env = {
            "TUMEN_DELIVERY_BACKOFF_BASE_SECONDS": f"{args.backoff_base:g}",
            "TUMEN_DELIVERY_BACKOFF_MAX_SECONDS": f"{args.backoff_max:g}",
            "TUMEN_DELIVERY_LEASE_SECONDS": str(args.lease),
            "TUMEN_DELIVERY_SWEEP_SECONDS": str(args.sweep),
            "TUMEN_DELIVERY_TIMEOUT": f"{args.request_timeout:g}",
        }
        faults = run_phase(site, receiver, Phase("faults", args.submissions, args.workers, args.fail_rate, args.down_seconds,
                                                 args.kill, faults_env, slow_rate=args.slow_rate), service_code, args.seed)  # fmt: skip
        print_phase(faults, site)
        isolation = None
        if args.isolation_submissions > 0:
            isolation = (run_isolation(site, receiver, service_code, args, with_a=False),
                         run_isolation(site, receiver, service_code, args, with_a=True))  # fmt: skip
        receiver.reset(fail_rate=0.0, seed=0)
        anatomy = run_anatomy(site, service_code, args.anatomy, args.profile) if args.anatomy > 0 else None
        stock = run_stock(smtp, args.stock_submissions, args.fail_rate) if args.stock_submissions > 0 else None
        print_summary(args, site, healthy, faults, anatomy, stock, smtp)
        if isolation is not None:
            print_isolation(*isolation)
        ok = faults.drained and faults.check["lost"] == 0 and faults.check["duplicated"] == 0 and faults.check["dead"] == 0
        verdict = "HELD" if ok else "FAILED"
        print(f"0 lost / 0 duplicated: {verdict}")
        if healthy is not None:
            print(f"target ≥ {TARGET_PER_WORKER:g} deliveries/s per worker (healthy endpoint): "
                  f"{'MET' if healthy.steady_rate >= TARGET_PER_WORKER else 'NOT MET'} ({healthy.steady_rate:.1f}/s from the first "
                  "attempt to the last delivery)")  # fmt: skip
        return 0 if ok else 1
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        return 130
    finally:
        site.close()
        if receiver is not None:
            receiver.stop()
        if smtp is not None:
            smtp.stop()


if __name__ == "__main__":
    sys.exit(main())
