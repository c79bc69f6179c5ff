#!/usr/bin/env python
"""Benchmark: a service page served by gunicorn (2 workers), side by side with a stock Wagtail page.

Builds a throw-away embedded site (SQLite under a temp dir, database search) with the whole
national catalog (``import_agencies``, ``import_services`` of ../shared/catalog, then
``translate_catalog --language en``), and for ``--pages`` services (every n-th code) a **stock
Wagtail page of the same content** in each language: a ``bench.stock_forms.StockContentPage``
whose rich-text body is that service page's rendered ``<article>``, in the site's base template,
served the stock way (``Page.serve``, no cache). Then gunicorn (``gunicorn.conf.py``, 2 workers
x 2 threads, ``DEBUG=false``, access log off) and wrk (a second process, a Lua script cycling
through the URLs, both languages, ``Accept-Encoding: gzip`` as browsers send it) in rounds
of ``--duration`` seconds, alternating:

- **stock**: the stock pages;
- **tumen, uncached**: the service pages with a query string (``?b=1``: the page cache leaves
  every URL with a query string alone, so this is the page as rendered);
- **tumen**: the service pages as anonymous readers get them (``cms.page_cache``), after one
  warm-up pass that filled the cache.

For each round: requests/s, p50/p99 (wrk's own histogram), non-2xx answers, the server's CPU per
request (user + system of the gunicorn processes from /proc) and the load average. Then the
ratios tumen/stock of each pair and the medians, and ``--rounds`` more rounds of the cached pages
paced at about ``--rate`` (wrk's ``delay()``: each connection pauses between requests), where the
p99 is the latency at that rate rather than flat out. Goal (issue 17): >= 300 req/s, p99 <= 50 ms.

A last check, while the site runs: publishing a new title of one page is visible in the next
answer (both workers), and the timing of the first round after such a purge (all misses).

    apt-get install -y wrk     # Debian's package
    .venv/bin/python bench/service_page.py
    .venv/bin/python bench/service_page.py --pages 200 --duration 10 --rounds 3 --connections 4
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serving import free_port, server_cpu_seconds, wait_for_healthz  # bench/ (the script's folder) is on sys.path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
GUNICORN = PYTHON.parent / "gunicorn"
MARK = "BENCH-JSON:"

SETUP = """
import json, re
from django.test import Client
from wagtail.models import Locale, Page, Site
from bench.stock_forms.models import StockContentPage
from service_pages.models import ServicePage

client = Client(HTTP_HOST="127.0.0.1")
home = Site.objects.get(is_default_site=True).root_page
codes = list(ServicePage.objects.live().canonical().order_by("code").values_list("code", flat=True))
step = max(1, len(codes) // {pages})
chosen = codes[::step][:{pages}]
english = Locale.objects.get(language_code="en")
tumen, stock = [], []
for language, root in (("mn", home), ("en", home.get_translation(english))):
    for code in chosen:
        service = ServicePage.objects.live().get(code=code, locale__language_code=language) if language != "mn" else ServicePage.objects.by_code(code)
        url = service.url
        html = client.get(url).content.decode()
        article = re.search(r'<article class="service">.*</article>', html, re.S).group(0)
        page = root.add_child(instance=StockContentPage(title=service.title, slug="stock-" + code.lower(), body=article))
        tumen.append(url)
        stock.append(page.url)
print({mark!r} + json.dumps({{"tumen": tumen, "stock": stock, "services": len(codes)}}))
"""

PUBLISH = """
import json
from service_pages.models import ServicePage
page = ServicePage.objects.by_code({code!r})
revision = page.get_latest_revision_as_object()
revision.title = {title!r}
revision.save_revision().publish()
print({mark!r} + json.dumps({{"url": page.url}}))
"""

WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("BENCH_URLS")) do paths[#paths + 1] = line end
local n = 0
-- As browsers do: the HTML comes gzipped (cms.compression).
wrk.headers["Accept-Encoding"] = "gzip"
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
-- --rate: each connection waits this long after an answer (0: as fast as the server answers).
local pause = tonumber(os.getenv("BENCH_PAUSE_MS") or "0")
if pause > 0 then delay = function() return pause end end
done = function(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "seconds": %f, "non2xx": %d, "errors": %d, "p50": %f, "p99": %f, "max": %f}\\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", default=str(ROOT.parent / "shared" / "catalog"), help="services.csv and agencies.csv")
    parser.add_argument("--pages", type=int, default=200, help="services measured, each in both languages (default 200)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of stock / uncached / cached (default 3)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4: 2 workers x 2 threads)")
    parser.add_argument("--rate", type=int, default=300, help="the paced rounds' target rate (default 300 req/s)")
    parser.add_argument("--site", help="build the site in this folder and keep it; reused as it is when already built")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    catalog = Path(args.catalog)

    var = Path(args.site) if args.site else Path(tempfile.mkdtemp(prefix="tumen-bench-service-page-"))
    var.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEARCH_URL", "DJANGO_SETTINGS_MODULE") and not k.startswith(("GUNICORN_", "TUMEN_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.stock_forms.settings", TUMEN_VAR_DIR=str(var), DEBUG="false",
        GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2", PYTHONPATH=str(ROOT),
    )  # fmt: skip

    def manage(*command):
        run = subprocess.run([str(PYTHON), "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        if run.returncode:
            raise SystemExit(f"manage.py {command[0]} failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        return run.stdout

    def shell(code):
        for line in reversed(manage("shell", "--no-imports", "-c", code).splitlines()):
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])
        raise SystemExit("no result from manage.py shell")

    built = var / "urls.json"
    if built.exists():
        urls = json.loads(built.read_text())
        print(f"site: reusing {var}")
    else:
        for command in (
            ["migrate", "--noinput", "-v0"],
            ["import_agencies", str(catalog / "agencies.csv")],
            ["import_services", str(catalog / "services.csv")],
            ["translate_catalog", "--language", "en"],
        ):
            started = time.monotonic()
            manage(*command)
            print(f"manage.py {command[0]}: {time.monotonic() - started:.0f} s", flush=True)
        urls = shell(SETUP.format(pages=args.pages, mark=MARK))
        built.write_text(json.dumps(urls))
    print(f"catalog: {urls['services']} services; measured: {len(urls['tumen'])} service pages and as many stock pages (mn + en)")
    lists = {
        "stock": urls["stock"],
        "tumen, uncached": [url + "?b=1" for url in urls["tumen"]],
        "tumen": urls["tumen"],
    }
    for name, paths in lists.items():
        (var / f"{name}.txt").write_text("\n".join(paths) + "\n")
    (var / "bench.lua").write_text(WRK_SCRIPT)

    log = open(var / "gunicorn.log", "a")
    server = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", "--no-control-socket", "--access-logfile", "/dev/null"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        wait_for_healthz(port, server, var / "gunicorn.log")
        print(f"gunicorn: 2 workers x 2 threads on 127.0.0.1:{port}; wrk: {args.connections} connections, {args.duration} s rounds")

        def load(name, seconds, pause_ms=0):
            before_cpu, load_average = server_cpu_seconds(server.pid), os.getloadavg()[0]
            run = subprocess.run(
                [wrk, "-t1", f"-c{args.connections}", f"-d{seconds}s", "-s", str(var / "bench.lua"), f"http://127.0.0.1:{port}"],
                env={**os.environ, "BENCH_URLS": str(var / f"{name}.txt"), "BENCH_PAUSE_MS": str(pause_ms)},
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            cpu = server_cpu_seconds(server.pid) - before_cpu  # NaN below: a worker was recycled meanwhile
            cpu = cpu if cpu >= 0 else float("nan")
            result = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("RESULT "))[7:])
            result.update(rate=result["requests"] / result["seconds"], cpu_ms=1000 * cpu / max(1, result["requests"]), load=load_average)
            return result

        # Warm-up: every URL once (imports, template caches, the page cache filled).
        for name in lists:
            for path in lists[name]:
                get(port, path)
        rows = []
        for number in range(1, args.rounds + 1):
            for name in lists:
                result = load(name, args.duration)
                rows.append((number, name, result))
                print(f"round {number} {name:16s} {result['rate']:7.0f} req/s  p50 {result['p50']:6.1f} ms  p99 {result['p99']:6.1f} ms  "
                      f"CPU {result['cpu_ms']:5.2f} ms/req  non-2xx {result['non2xx'] + result['errors']}  load {result['load']:.2f}",
                      flush=True)  # fmt: skip
        summarise(rows)
        # At the goal's rate rather than flat out: each connection pauses between requests.
        pause = max(1, int(1000 * args.connections / args.rate) - 3)  # minus about one answer's time
        for number in range(1, args.rounds + 1):
            result = load("tumen", args.duration, pause)
            print(f"tumen at ~{args.rate} req/s, round {number}: {result['rate']:.0f} req/s  p50 {result['p50']:.1f} ms  "
                  f"p99 {result['p99']:.1f} ms  CPU {result['cpu_ms']:.2f} ms/req  load {result['load']:.2f}", flush=True)  # fmt: skip
        check_purge(port, shell, lists["tumen"], load, args.duration)
        print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        if not args.site:
            shutil.rmtree(var, ignore_errors=True)


def summarise(rows):
    by_round = {}
    for number, name, result in rows:
        by_round.setdefault(number, {})[name] = result
    rates = [r["tumen"]["rate"] / r["stock"]["rate"] for r in by_round.values()]
    p99s = [r["tumen"]["p99"] / r["stock"]["p99"] for r in by_round.values()]
    uncached = [r["tumen, uncached"]["rate"] / r["stock"]["rate"] for r in by_round.values()]
    tumen = [r["tumen"] for r in by_round.values()]
    median_rate = statistics.median(r["rate"] for r in tumen)
    median_p99 = statistics.median(r["p99"] for r in tumen)
    print(f"ratios per round, tumen / stock: req/s {', '.join(f'{x:.1f}' for x in rates)}; p99 {', '.join(f'{x:.2f}' for x in p99s)}; "
          f"uncached tumen / stock req/s {', '.join(f'{x:.2f}' for x in uncached)}")  # fmt: skip
    print(f"tumen (cached) median: {median_rate:.0f} req/s, p99 {median_p99:.1f} ms  "
          f"(goal >= 300 req/s: {'met' if median_rate >= 300 else 'NOT met'}; p99 <= 50 ms: {'met' if median_p99 <= 50 else 'NOT met'})")  # fmt: skip


def check_purge(port, shell, paths, load, seconds):
    """A publication is visible in the very next answer of both workers; then one round of misses."""
    code = paths[0].rstrip("/").rsplit("/", 1)[1].upper()
    title = f"Bench title {time.time_ns()}"
    published = shell(PUBLISH.format(code=code, title=title, mark=MARK))
    seen = [title in get(port, published["url"])[1] for _ in range(6)]
    print(f"purge: the new title in {sum(seen)} of {len(seen)} answers right after publishing ({'ok' if all(seen) else 'STALE'})")
    result = load("tumen", seconds)
    print(f"first round after the purge (misses, then hits): {result['rate']:.0f} req/s, p99 {result['p99']:.1f} ms")


def get(port, path) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read().decode()
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status}")
    return response.status, body


if __name__ == "__main__":
    main()
