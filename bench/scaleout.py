#!/usr/bin/env python
"""Benchmark: Tumen across several machines (on loopback), under mixed load, losing one of each.

Runs against the cluster of ``scripts/cluster.sh`` (start it first): HAProxy on 127.0.0.1:8180 in
front of 2 gunicorn app servers, a 3-node OpenSearch cluster, 3 task workers, one PostgreSQL.

1. capacity: searches only (``GET /api/v1/services/search``), ``--concurrency`` client threads
   through the load balancer, alternately with both app servers and with one (the other taken
   out of rotation through HAProxy's runtime API; it keeps running), ``--capacity-seconds``
   each, twice: searches/s with 1 and 2 app servers and their ratio.
2. mixed load through the load balancer, closed loop (each thread sends its next request when
   the last one is answered): 80% searches (the dev queries of ``../shared/catalog`` and demo
   queries), 15% service pages, 5% applications (``POST /api/v1/services/<code>/submissions``,
   valid answers to the general form). The applications' agencies deliver (signed webhook, a
   ``PluginConfig`` named ``scaleout-agency`` per agency) to a recording agency endpoint this
   script runs, which checks the signature and counts deliveries by idempotency key.
   During the run, one after the other, each after ``--window`` seconds of calm:
   - a search node is killed (kill -9 of its JVM; the node holding the index's primary shard),
     left down ``--down-seconds``, then started again (``scripts/cluster.sh start searchN``);
   - an app server is killed (kill -9 of gunicorn's master and workers, as a machine dies);
     the time until HAProxy marks it down is read from its runtime API; started again later;
   - a worker is killed while it holds leased deliveries (the agency answers slowly, ``--agency-
     delay`` seconds, during this fault only, so that deliveries are in flight); its deliveries
     must come back after the lease (15 s in the cluster); started again.
   For each fault it prints throughput, p95 latency and the error rate before (``--window`` s),
   during (kill -> component back) and after (``--window`` s), the seconds after the kill with
   errors, and searches answered from the embedded index (``degraded``).
3. the agency's count: every application the site stored (201, or stored although the client
   got an error) delivered exactly once per target: lost (stored, never accepted), duplicated
   (accepted under two keys), redelivered keys (at-least-once: the same key again, which an
   idempotent agency ignores), half-written (stored without its status event or delivery row).

Exit status 1 when an application is lost, duplicated or half-written.

    scripts/cluster.sh start
    .venv/bin/python bench/scaleout.py
    .venv/bin/python bench/scaleout.py --concurrency 6 --window 15 --down-seconds 15 --capacity-seconds 15
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench_answers import answers  # bench/ (the script's folder) is on sys.path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CLUSTER = ROOT / "scripts" / "cluster.sh"
SECRET = "scaleout-agency-signing-secret-0123456789"
TARGET = "scaleout-agency"
DEMO_QUERIES = ["гадаад паспорт", "торсний гэрчилгээ", "jolooni unemleh", "gerlelt burtgeh", "тэтгэвэр",
                "иргэний үнэмлэх", "газар өмчлөх", "хаягийн лавлагаа", "малын тооллого", "нийгмийн даатгал"]  # fmt: skip


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# -- the cluster ----------------------------------------------------------------------------------


class Cluster:
    """The processes of scripts/cluster.sh: pid files, HAProxy's runtime API, restarts."""

    def __init__(self, directory: Path, lb_port: int, search_ports: list[int]):
        self.dir = directory
        self.lb_port = lb_port
        self.search_ports = search_ports
        self.env = dict(line.split("=", 1) for line in (directory / "env").read_text().splitlines()
                        if line and not line.startswith("#"))  # fmt: skip

    def pid(self, name: str) -> int:
        path = self.dir / (f"{name}/node.pid" if name.startswith("search") else f"{name}.pid")
        return int(path.read_text().strip())

    def cpu_seconds(self, names: list[str]) -> float:
        """CPU time used so far by these components' processes (their process groups; a search node's JVM).

        A group leader's reaped children (gunicorn's recycled workers) count through its cutime.
        """
        tick = os.sysconf("SC_CLK_TCK")
        groups, pids = set(), set()
        for name in names:
            try:
                (pids if name.startswith("search") else groups).add(self.pid(name))
            except (OSError, ValueError):
                continue
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, pgid = int(entry), int(fields[2])
            if pid in pids or pgid in groups:
                total += int(fields[11]) + int(fields[12])  # utime, stime
                if pid in groups or pid in pids:
                    total += int(fields[13]) + int(fields[14])  # cutime, cstime
        return total / tick

    def start(self, name: str) -> float:
        started = time.monotonic()
        run = subprocess.run([str(CLUSTER), "start", name], capture_output=True, text=True, timeout=900)
        if run.returncode != 0:
            raise RuntimeError(f"cluster.sh start {name} failed:\n{run.stdout}{run.stderr}")
        return time.monotonic() - started

    def haproxy(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(self.dir / "haproxy.sock"))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_states(self) -> dict[str, str]:
        """app1 -> UP / DOWN / MAINT ... as HAProxy sees it now."""
        rows = csv.reader(line for line in self.haproxy("show stat").lstrip("# ").splitlines() if line)
        header = next(rows)
        at = {name: header.index(name) for name in ("pxname", "svname", "status")}
        return {row[at["svname"]]: row[at["status"]] for row in rows if row and row[at["pxname"]] == "app" and row[at["svname"]].startswith("app")}

    def search(self, path: str) -> dict | list:
        for port in self.search_ports:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", path)
                response = conn.getresponse()
                if response.status == 200:
                    return json.loads(response.read())
            except OSError:
                continue
        raise RuntimeError("no search node answers")

    def primary_node(self, index: str) -> int:
        """Number (1..3) of the search node holding the primary shard of the pages index (``index``_wagtailcore_page)."""
        shards = self.search(f"/_cat/shards/{index}_wagtailcore_page*?format=json&h=index,shard,prirep,state,node")
        for shard in shards:
            if shard["prirep"] == "p" and shard["state"] == "STARTED":
                return int(shard["node"].rsplit("-", 1)[-1])
        raise RuntimeError(f"no started primary shard of {index}: {shards}")


# -- the agency -----------------------------------------------------------------------------------


class Agency:
    """A recording agency endpoint: verifies the signature, counts deliveries by idempotency key."""

    def __init__(self):
        self.lock = threading.Lock()
        self.delay = 0.0
        self.accept_count: Counter = Counter()  # key -> 2xx answers
        self.keys_of_tracking: dict[str, set] = defaultdict(set)
        self.first_accept: dict[str, float] = {}  # key -> monotonic time
        self.bad = 0
        agency = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                from plugins import signing

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key", "")
                tracking = self.headers.get("X-Tumen-Submission", "")
                if agency.delay:
                    time.sleep(agency.delay)
                good = signing.verify(SECRET, self.headers.get("X-Tumen-Timestamp", ""), [tracking, key], body,
                                      self.headers.get("X-Tumen-Signature", ""))  # fmt: skip
                with agency.lock:
                    if good and key:
                        agency.accept_count[key] += 1
                        agency.keys_of_tracking[tracking].add(key)
                        agency.first_accept.setdefault(key, time.monotonic())
                    else:
                        agency.bad += 1
                payload = b'{"ok": true}' if good else b'{"error": "bad signature"}'
                self.send_response(200 if good else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request, client_address):
                pass  # a killed worker's connection

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/agency"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()


# -- the load -------------------------------------------------------------------------------------


@dataclass
class Sample:
    start: float
    end: float
    kind: str  # search, page, submit
    ok: bool
    status: int  # 0 = no HTTP answer
    degraded: bool = False


@dataclass
class Submitted:
    email: str
    code: str  # service
    status: int
    tracking: str = ""


class Load:
    """``concurrency`` threads sending requests to the load balancer until stopped."""

    def __init__(self, args, mix: dict[str, float], catalog: dict, run_id: str):
        self.args = args
        self.mix = mix
        self.catalog = catalog
        self.run_id = run_id
        self.samples: list[Sample] = []
        self.submitted: list[Submitted] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.serial = 0
        self.threads = [threading.Thread(target=self.loop, args=(n,), daemon=True) for n in range(args.concurrency)]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def loop(self, number: int):
        rng = random.Random(f"{self.run_id}-{number}")
        kinds, weights = zip(*self.mix.items(), strict=True)
        conn = None
        while not self.stopping.is_set():
            kind = rng.choices(kinds, weights)[0]
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.args.lb_port, timeout=self.args.timeout)
            started = time.monotonic()
            sample, submitted = Sample(started, 0.0, kind, False, 0), None
            try:
                if kind == "search":
                    q = rng.choice(self.catalog["queries"])
                    conn.request("GET", "/api/v1/services/search?" + urllib.parse.urlencode({"q": q}))
                    response = conn.getresponse()
                    body = response.read()
                    sample.status = response.status
                    if response.status == 200:
                        result = json.loads(body)
                        sample.ok = True
                        sample.degraded = bool(result.get("degraded")) or result.get("source") != "engine"
                elif kind == "page":
                    conn.request("GET", rng.choice(self.catalog["pages"]))
                    response = conn.getresponse()
                    response.read()
                    sample.status, sample.ok = response.status, response.status == 200
                else:
                    with self.lock:
                        self.serial += 1
                        serial = self.serial
                    code = rng.choice(self.catalog["services"])
                    data = answers(serial, rng, self.catalog["places"], label="scaleout")
                    data["email"] = f"so-{self.run_id}-{serial}@example.mn"
                    submitted = Submitted(data["email"], code, 0)
                    conn.request("POST", f"/api/v1/services/{code}/submissions", json.dumps({"data": data}).encode(),
                                 {"Content-Type": "application/json"})  # fmt: skip
                    response = conn.getresponse()
                    body = response.read()
                    sample.status = submitted.status = response.status
                    if response.status == 201:
                        sample.ok = True
                        submitted.tracking = json.loads(body)["tracking_code"]
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ValueError):
                if conn is not None:
                    conn.close()
                conn = None
            sample.end = time.monotonic()
            with self.lock:
                self.samples.append(sample)
                if submitted is not None:
                    self.submitted.append(submitted)


def window_stats(samples: list[Sample], start: float, end: float) -> dict:
    chosen = [s for s in samples if start <= s.end < end]
    seconds = max(end - start, 1e-9)
    searches = [s for s in chosen if s.kind == "search"]
    errors = [s for s in chosen if not s.ok]
    return {
        "seconds": seconds,
        "requests": len(chosen),
        "rps": len(chosen) / seconds,
        "search_rps": sum(1 for s in searches if s.ok) / seconds,
        "p95": percentile([(s.end - s.start) * 1000 for s in chosen if s.ok], 0.95),
        "errors": len(errors),
        "error_rate": len(errors) / len(chosen) if chosen else 0.0,
        "degraded": sum(1 for s in searches if s.degraded),
        "statuses": dict(Counter(s.status for s in errors)),
    }


def error_seconds(samples: list[Sample], kill: float, end: float) -> str:
    """Which seconds after the kill had failed requests (or degraded searches): e.g. '0-1: 3'."""
    buckets: Counter = Counter()
    for s in samples:
        if kill <= s.end < end and (not s.ok or s.degraded):
            buckets[int(s.end - kill)] += 1
    return ", ".join(f"{second}s: {count}" for second, count in sorted(buckets.items())) or "none"


# -- setup ----------------------------------------------------------------------------------------


def setup_django(cluster: Cluster):
    for key, value in cluster.env.items():
        os.environ[key] = value
    import django

    django.setup()


def load_catalog(args) -> dict:
    from form_builder.submissions import ServiceUnavailable, application_for
    from service_pages.models import ServicePage, Soum

    rng = random.Random(7)
    queries = list(DEMO_QUERIES)
    dev = ROOT.parent / "shared" / "catalog" / "queries_dev.csv"
    if not dev.exists():
        dev = ROOT.parent.parent / "shared" / "catalog" / "queries_dev.csv"
    if dev.exists():
        with dev.open(encoding="utf-8") as f:
            queries += [row["query"] for row in csv.DictReader(f)]
    pages = [page.url for page in rng.sample(list(ServicePage.objects.live().public()), 400)]
    services = []
    for service in ServicePage.objects.live().filter(agency__isnull=False).select_related("agency").order_by("code"):
        try:
            application_for(service)
        except ServiceUnavailable:
            continue
        services.append(service)
        if len(services) >= 200:
            break
    services = rng.sample(services, min(args.services, len(services)))
    places = list(Soum.objects.order_by("code").values_list("aimag__code", "code"))
    return {"queries": queries, "pages": [p for p in pages if p], "services": [s.code for s in services],
            "agencies": {s.agency for s in services}, "places": places}  # fmt: skip


def configure_agency(agencies, url: str, enabled: bool = True):
    from plugins.models import PluginConfig

    for agency in agencies:
        config, _created = PluginConfig.objects.get_or_create(
            plugin_id="webhook", name=TARGET, agency=agency, service=None,
            defaults={"options": {"url": url, "secret": SECRET, "include_files": False}},
        )  # fmt: skip
        config.options = {"url": url, "secret": SECRET, "include_files": False}
        config.enabled = enabled
        config.full_clean()
        config.save()


# -- phases ---------------------------------------------------------------------------------------


def check_sessions(cluster: Cluster, app_ports: list[int]) -> str:
    """Sign in to the admin on the first app server; the second one must know the session."""
    import re
    from http.cookies import SimpleCookie

    def request(port, method, path, body=None, cookies=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Host": "127.0.0.1"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, urllib.parse.urlencode(body) if body is not None else None, headers)
        response = conn.getresponse()
        content = response.read().decode("utf-8", "replace")
        jar = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        return response.status, response.getheader("Location", ""), content, {k: m.value for k, m in jar.items()}

    _status, _location, page, cookies = request(app_ports[0], "GET", "/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    status, location, _page, new = request(app_ports[0], "POST", "/admin/login/", {
        "csrfmiddlewaretoken": token, "username": cluster.env["ADMIN_USERNAME"], "password": cluster.env["ADMIN_PASSWORD"],
        "next": "/admin/"}, cookies)  # fmt: skip
    cookies.update(new)
    if status != 302 or "sessionid" not in cookies:
        return f"FAILED: sign-in on :{app_ports[0]} answered {status}"
    status, location, _page, _new = request(app_ports[1], "GET", "/admin/", cookies=cookies)
    if status == 200:
        return f"signed in on :{app_ports[0]}, the admin on :{app_ports[1]} answers 200 with that session (database sessions)"
    return f"FAILED: :{app_ports[1]} answered {status} {location} to the session made on :{app_ports[0]}"


def capacity(args, cluster: Cluster, catalog: dict, run_id: str) -> dict:
    print(f"\n== capacity: searches only, {args.concurrency} threads through the load balancer, "
          f"{args.capacity_seconds:g} s per measure ==", flush=True)  # fmt: skip
    results = defaultdict(list)
    try:
        for servers in (2, 1, 2, 1):
            cluster.haproxy("enable server app/app2" if servers == 2 else "disable server app/app2")
            time.sleep(1)
            load = Load(args, {"search": 1.0}, catalog, f"{run_id}-cap{servers}").start()
            time.sleep(2)  # warm-up, not counted
            apps, engine = cluster.cpu_seconds(["app1", "app2"]), cluster.cpu_seconds(["search1", "search2", "search3"])
            start = time.monotonic()
            time.sleep(args.capacity_seconds)
            end = time.monotonic()
            apps = cluster.cpu_seconds(["app1", "app2"]) - apps
            engine = cluster.cpu_seconds(["search1", "search2", "search3"]) - engine
            load.stop()
            stats = window_stats(load.samples, start, end)
            done = stats["search_rps"] * stats["seconds"]
            stats["app_ms"] = apps * 1000 / done if done else 0.0
            stats["engine_ms"] = engine * 1000 / done if done else 0.0
            stats["cores"] = (apps + engine) / stats["seconds"]
            results[servers].append(stats)
            statuses = ", ".join(f"{k or 'no answer'}: {v}" for k, v in stats["statuses"].items())
            print(f"  {servers} app server(s): {stats['search_rps']:.1f} searches/s, p95 {stats['p95']:.0f} ms, "
                  f"errors {stats['errors']}{' (' + statuses + ')' if statuses else ''}; CPU per search: app servers "
                  f"{stats['app_ms']:.1f} ms, search nodes {stats['engine_ms']:.1f} ms ({stats['cores']:.2f} cores busy "
                  f"with both); load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    finally:
        cluster.haproxy("enable server app/app2")
    one = sum(s["search_rps"] for s in results[1]) / len(results[1])
    two = sum(s["search_rps"] for s in results[2]) / len(results[2])
    every = results[1] + results[2]
    app_ms = sum(s["app_ms"] for s in every) / len(every)
    engine_ms = sum(s["engine_ms"] for s in every) / len(every)
    print(f"  mean: 1 server {one:.1f}/s, 2 servers {two:.1f}/s, ratio {two / one:.2f}; CPU per search: app servers "
          f"{app_ms:.1f} ms, search nodes {engine_ms:.1f} ms", flush=True)  # fmt: skip
    return {"one": one, "two": two, "ratio": two / one, "app_ms": app_ms, "engine_ms": engine_ms}


def wait_until(predicate, timeout: float, step: float = 0.1) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic()
        time.sleep(step)
    return None


def fault_search(args, cluster: Cluster) -> dict:
    node = cluster.primary_node(cluster.env["SEARCH_INDEX"])
    pid = cluster.pid(f"search{node}")
    print(f"  kill -9 search{node} (pid {pid}, holds the primary shard)", flush=True)
    kill = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    time.sleep(args.down_seconds)
    print(f"  starting search{node} again", flush=True)
    took = cluster.start(f"search{node}")
    back = time.monotonic()
    print(f"  search{node} back in the cluster after {took:.0f} s", flush=True)
    return {"component": f"search{node}", "kill": kill, "back": back}


def fault_app(args, cluster: Cluster) -> dict:
    pid = cluster.pid("app1")
    print(f"  kill -9 app1 (gunicorn master and workers, process group {pid})", flush=True)
    kill = time.monotonic()
    os.killpg(pid, signal.SIGKILL)
    down = wait_until(lambda: cluster.server_states().get("app1", "").startswith("DOWN"), 30)
    detected = (down - kill) if down else None
    print(f"  HAProxy marked app1 DOWN after {detected:.2f} s" if detected is not None else "  HAProxy never marked app1 down",
          flush=True)  # fmt: skip
    time.sleep(max(0.0, args.down_seconds - (time.monotonic() - kill)))
    print("  starting app1 again", flush=True)
    cluster.start("app1")
    up = wait_until(lambda: cluster.server_states().get("app1", "").startswith("UP"), 30)
    back = up or time.monotonic()
    print(f"  app1 back in rotation {back - kill:.0f} s after the kill", flush=True)
    return {"component": "app1", "kill": kill, "back": back, "detected": detected}


def fault_worker(args, cluster: Cluster, agency: Agency, load: Load) -> dict:
    from plugins.models import Delivery

    host = socket.gethostname()
    agency.delay = args.agency_delay
    pid = cluster.pid("worker1")
    leased = wait_until(lambda: Delivery.objects.filter(leased_by=f"{host}:{pid}", target=TARGET).exists(), 60, 0.05)
    keys = {str(key) for key in Delivery.objects.filter(leased_by=f"{host}:{pid}", target=TARGET).values_list("id", flat=True)}
    print(f"  kill -9 worker1 (pid {pid}) holding {len(keys)} leased deliveries"
          + ("" if leased else " (none leased within 60 s)"), flush=True)  # fmt: skip
    kill = time.monotonic()
    os.killpg(pid, signal.SIGKILL)
    agency.delay = 0.0
    recovered = wait_until(lambda: all(key in agency.first_accept for key in keys), 120, 0.2)
    # A key the dead worker had already sent counts as accepted then; the redelivery comes after the lease.
    redelivered = wait_until(lambda: all(agency.accept_count[key] >= 1 and Delivery.objects.filter(pk=key, state="delivered").exists()
                                         for key in keys), 120, 0.5)  # fmt: skip
    print(f"  its deliveries: accepted by the agency {recovered - kill:.1f} s after the kill; marked delivered "
          f"{(redelivered or time.monotonic()) - kill:.1f} s after" if recovered else "  its deliveries were not delivered within 120 s",
          flush=True)  # fmt: skip
    time.sleep(max(0.0, args.down_seconds - (time.monotonic() - kill)))
    print("  starting worker1 again", flush=True)
    cluster.start("worker1")
    back = time.monotonic()
    return {"component": "worker1", "kill": kill, "back": back, "leased": len(keys),
            "recovered": (redelivered - kill) if redelivered else None}  # fmt: skip


def print_fault(fault: dict, samples: list[Sample], window: float):
    rows = [("before", fault["kill"] - window, fault["kill"]), ("during", fault["kill"], fault["back"]),
            ("after", fault["back"], fault["back"] + window)]  # fmt: skip
    for label, start, end in rows:
        s = window_stats(samples, start, end)
        statuses = ", ".join(f"{k or 'no answer'}: {v}" for k, v in s["statuses"].items())
        print(f"| {fault['component']} | {label} ({s['seconds']:.0f} s) | {s['rps']:.1f} | {s['search_rps']:.1f} | {s['p95']:.0f} | "
              f"{s['errors']}/{s['requests']} ({s['error_rate']:.2%}){' ' + statuses if statuses else ''} | {s['degraded']} |")  # fmt: skip
    fault["error_seconds"] = error_seconds(samples, fault["kill"], fault["back"] + window)


def agency_count(load: Load, agency: Agency, run_id: str, timeout: float) -> dict:
    from form_builder.models import Submission
    from plugins.models import Delivery

    emails = {s.email: s for s in load.submitted}
    stored = list(Submission.objects.filter(data__email__startswith=f"so-{run_id}-").values("pk", "tracking_code", "data__email"))
    stored_ids = [row["pk"] for row in stored]

    def pending():
        return Delivery.objects.filter(submission_id__in=stored_ids, target=TARGET).exclude(state="delivered").count()

    drained = wait_until(lambda: pending() == 0, timeout, 1.0)
    deliveries = Delivery.objects.filter(submission_id__in=stored_ids, target=TARGET)
    with_delivery = set(deliveries.values_list("submission_id", flat=True))
    with_event = set(Submission.objects.filter(pk__in=stored_ids, events__isnull=False).values_list("pk", flat=True))
    tracking_by_pk = {row["pk"]: row["tracking_code"] for row in stored}
    lost = [tracking_by_pk[pk] for pk in with_delivery if not agency.keys_of_tracking.get(tracking_by_pk[pk])]
    duplicated = [t for t, keys in agency.keys_of_tracking.items() if len(keys) > 1 and t in tracking_by_pk.values()]
    half = [row["tracking_code"] for row in stored if row["pk"] not in with_delivery or row["pk"] not in with_event]
    answered = Counter(s.status for s in load.submitted)
    error_but_stored = sum(1 for row in stored if emails.get(row["data__email"]) and emails[row["data__email"]].status != 201)
    created_not_stored = sum(1 for s in load.submitted if s.status == 201 and s.tracking not in tracking_by_pk.values())
    return {
        "sent": len(load.submitted), "answered": dict(answered), "stored": len(stored), "drained": drained is not None,
        "pending": pending(), "lost": lost, "duplicated": duplicated, "half_written": half,
        "redeliveries": sum(agency.accept_count[str(key)] - 1 for key in deliveries.values_list("id", flat=True)
                            if agency.accept_count[str(key)] > 1),
        "error_but_stored": error_but_stored, "created_not_stored": created_not_stored, "bad_signatures": agency.bad,
    }  # fmt: skip


# -- main -----------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--cluster-dir", type=Path, default=ROOT / "var" / "cluster")
    parser.add_argument("--lb-port", type=int, default=8180)
    parser.add_argument("--search-ports", default="9231,9232,9233")
    parser.add_argument("--concurrency", type=int, default=6, help="client threads (default 6)")
    parser.add_argument("--timeout", type=float, default=15.0, help="client timeout per request, s (default 15)")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured before and after each fault (default 20)")
    parser.add_argument("--down-seconds", type=float, default=20.0, help="how long a killed component stays down (default 20)")
    parser.add_argument("--capacity-seconds", type=float, default=20.0, help="seconds per capacity measure (default 20)")
    parser.add_argument("--agency-delay", type=float, default=2.0, help="agency's answer delay while a worker is killed (default 2 s)")
    parser.add_argument("--services", type=int, default=20, help="services the applications go to (default 20)")
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    args = parser.parse_args()

    cluster = Cluster(args.cluster_dir, args.lb_port, [int(p) for p in args.search_ports.split(",")])
    setup_django(cluster)
    run_id = f"{int(time.time()):x}"
    catalog = load_catalog(args)
    agency = Agency()
    configure_agency(catalog["agencies"], agency.url)
    from service_pages.models import ServicePage

    print(f"cluster: {cluster.dir}; load balancer http://127.0.0.1:{args.lb_port}; {ServicePage.objects.live().count()} live "
          f"services; {len(catalog['queries'])} queries, {len(catalog['pages'])} pages, applications to "
          f"{len(catalog['services'])} services of {len(catalog['agencies'])} agencies; agency endpoint {agency.url}; "
          f"run {run_id}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip

    sessions = check_sessions(cluster, [8181, 8182])
    print(f"sessions across app servers: {sessions}", flush=True)
    ratio = None if args.skip_capacity else capacity(args, cluster, catalog, run_id)

    print(f"\n== mixed load: 80% search, 15% pages, 5% applications, {args.concurrency} threads ==", flush=True)
    load = Load(args, {"search": 0.80, "page": 0.15, "submit": 0.05}, catalog, run_id).start()
    faults = []
    try:
        time.sleep(3 + args.window)
        for name in ("search", "app", "worker"):
            print(f"fault: {name}", flush=True)
            if name == "search":
                faults.append(fault_search(args, cluster))
            elif name == "app":
                faults.append(fault_app(args, cluster))
            else:
                faults.append(fault_worker(args, cluster, agency, load))
            time.sleep(args.window)
    finally:
        load.stop()

    print("\n| fault | window | requests/s | searches/s | p95 ms | errors | degraded searches |")
    print("|---|---|---|---|---|---|---|")
    for fault in faults:
        print_fault(fault, load.samples, args.window)
    for fault in faults:
        extra = ""
        if "detected" in fault:
            extra = f"; HAProxy marked it down after {fault['detected']:.2f} s" if fault["detected"] is not None else "; never marked down"
        if "leased" in fault:
            extra = f"; {fault['leased']} leased deliveries, delivered {fault['recovered']:.1f} s after the kill" if fault["recovered"] else \
                f"; {fault['leased']} leased deliveries NOT delivered"  # fmt: skip
        print(f"{fault['component']}: seconds after the kill with errors or degraded searches: {fault['error_seconds']}{extra}")
    total = window_stats(load.samples, 0, float("inf"))
    print(f"whole mixed run: {total['requests']} requests, {total['errors']} errors, {total['degraded']} degraded searches; "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip

    print("\n== the agency ==", flush=True)
    count = agency_count(load, agency, run_id, args.drain_timeout)
    configure_agency(catalog["agencies"], agency.url, enabled=False)
    print(f"applications sent {count['sent']}, answers {count['answered']}; stored {count['stored']} "
          f"(of which the client got an error for {count['error_but_stored']}; 201 but not stored: {count['created_not_stored']})")
    print(f"delivered to the agency: lost {len(count['lost'])}, duplicated {len(count['duplicated'])}, half-written "
          f"{len(count['half_written'])}, still pending {count['pending']}; redelivered keys (at-least-once, ignored by the "
          f"agency) {count['redeliveries']}; bad signatures {count['bad_signatures']}")  # fmt: skip
    if ratio:
        print(f"searches/s: 1 app server {ratio['one']:.1f}, 2 app servers {ratio['two']:.1f}, ratio {ratio['ratio']:.2f}; "
              f"CPU per search: app servers {ratio['app_ms']:.1f} ms, search nodes {ratio['engine_ms']:.1f} ms")
    print(f"sessions across app servers: {sessions}")
    failed = sessions.startswith("FAILED") or count["lost"] or count["duplicated"] or count["half_written"] or count["pending"] or count["created_not_stored"]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
