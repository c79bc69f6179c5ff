#!/usr/bin/env python
"""Benchmark: the open catalog API on the whole national catalog, over HTTP, embedded default.

Loads the shipped national catalog (``load_demo_catalog --national``, 11,250 services with their
English pages) into a throw-away SQLite database, or reuses one (``--var-dir``, e.g. kept by
``bench/first_run.py --keep``), starts the product's gunicorn on it (``gunicorn.conf.py``, 2
workers, DEBUG off) on a free loopback port, and measures, one request at a time:

- the whole catalog listed page by page through ``next`` (``limit=1000`` and the default 100),
  every code seen once; goal (issue 17): ≤ 10 s for 11,250;
- service details of random codes, interleaved in the same loop with two baselines: ``/healthz``
  (no database work: the server's floor) and the search API filtered by agency (a catalog read
  of the same site); p50/p95/p99 of each; goal: detail p95 ≤ 15 ms;
- the same details as conditional requests (``If-None-Match``: 304);
- the CSV and JSON downloads, first (built) and second (streamed from disk).

The machine is shared and noisy: compare the columns of one run, and read the load printed.

    .venv/bin/python bench/catalog_api.py [--var-dir DIR] [--details 500]
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serving import free_port  # bench/ (the script's folder) is on sys.path

ROOT = Path(__file__).resolve().parent.parent
PY = str(Path(sys.executable))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} CPUs)"


class Http:
    def __init__(self, port: int):
        self.port = port

    def get(self, path: str, headers=None) -> tuple[float, int, dict, bytes]:
        """(milliseconds, status, headers, body) of one GET on a new connection (gunicorn sync workers)."""
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        connection.close()
        return elapsed, response.status, dict(response.getheaders()), body


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def at(share):
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    return f"p50 {at(0.5):6.1f} ms  p95 {at(0.95):6.1f} ms  p99 {at(0.99):6.1f} ms  (n={len(ordered)})"


def build_catalog(var_dir: Path, env: dict) -> None:
    started = time.monotonic()
    for command in (["migrate", "--noinput", "-v0"], ["load_demo_catalog", "--national"]):
        subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"catalog loaded in {time.monotonic() - started:.1f} s into {var_dir}")


def start_gunicorn(env: dict, port: int, var_dir: Path) -> subprocess.Popen:
    log = open(var_dir / "bench-gunicorn.log", "w")
    process = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    client = Http(port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.get("/healthz")[1] == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"gunicorn did not start: see {var_dir / 'bench-gunicorn.log'}")


def walk(client: Http, limit: int) -> tuple[float, int, int]:
    """(seconds, services, pages) listing the whole catalog through ``next``."""
    started, url, codes, pages = time.perf_counter(), f"/api/v1/services?limit={limit}", [], 0
    while url:
        _ms, status, _headers, body = client.get(url)
        assert status == 200, (status, body[:300])
        data = json.loads(body)
        codes += [item["code"] for item in data["results"]]
        url, pages = data["next"], pages + 1
    assert len(codes) == len(set(codes)), "a code twice"
    return time.perf_counter() - started, len(codes), pages


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--var-dir", help="a TUMEN_VAR_DIR whose database already holds the national catalog")
    parser.add_argument("--details", type=int, default=500, help="service details measured (default 500)")
    args = parser.parse_args()
    print(f"load before: {load()}")
    var_dir = Path(args.var_dir) if args.var_dir else Path(tempfile.mkdtemp(prefix="tumen-bench-api-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEARCH_URL", "SEARCH_BACKEND")}
    env.update(TUMEN_VAR_DIR=str(var_dir), DEBUG="false", GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2",
               LOG_LEVEL="WARNING")  # fmt: skip
    if not args.var_dir:
        build_catalog(var_dir, env)
    process = start_gunicorn(env, port, var_dir)
    try:
        client = Http(port)
        for limit in (1000, 100):
            client.get(f"/api/v1/services?limit={limit}")  # each worker's first answer warms it
            seconds, count, pages = walk(client, limit)
            print(f"list everything, limit={limit:4}: {seconds:5.2f} s for {count} services in {pages} pages")
        codes, url = [], "/api/v1/services?limit=1000"
        while url:
            data = json.loads(client.get(url)[3])
            codes += [item["code"] for item in data["results"]]
            url = data["next"]
        agencies = [agency["code"] for agency in json.loads(client.get("/api/v1/agencies")[3])["results"]]
        rng = random.Random(17)
        detail, health, search, etags = [], [], [], {}
        for _ in range(args.details):
            code = rng.choice(codes)
            ms, status, headers, _body = client.get(f"/api/v1/services/{code}")
            assert status == 200, status
            detail.append(ms)
            etags[code] = headers["ETag"]
            health.append(client.get("/healthz")[0])
            search.append(client.get(f"/api/v1/services/search?agency={rng.choice(agencies)}&page_size=10")[0])
        not_modified = []
        for code, etag in list(etags.items())[: args.details]:
            ms, status, _headers, _body = client.get(f"/api/v1/services/{code}", {"If-None-Match": etag})
            assert status == 304, status
            not_modified.append(ms)
        print(f"service detail              {percentiles(detail)}")
        print(f"  same, If-None-Match (304) {percentiles(not_modified)}")
        print(f"baseline /healthz           {percentiles(health)}")
        print(f"baseline search API (agency filter, 10 results) {percentiles(search)}")
        for fmt in ("csv", "json"):
            first = client.get(f"/api/v1/services.{fmt}")
            second = client.get(f"/api/v1/services.{fmt}")
            print(f"download services.{fmt}: first {first[0] / 1000:5.2f} s (built), then {second[0]:7.1f} ms "
                  f"({len(second[3]) / 2**20:.1f} MiB)")  # fmt: skip
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        if not args.var_dir:
            shutil.rmtree(var_dir, ignore_errors=True)
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
