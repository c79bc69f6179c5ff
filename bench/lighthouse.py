#!/usr/bin/env python
"""Benchmark: Lighthouse scores of the public site on a slow mobile link, in both languages.

Builds a throw-away production-like site under a temp dir: ``cms.settings.production``
(``DEBUG=false``, hashed and compressed static files: ``collectstatic`` with WhiteNoise's
``CompressedManifestStaticFilesStorage``; plain HTTP on loopback, so ``SECURE_SSL_REDIRECT=false``),
SQLite with the demo catalog (``load_demo_catalog``, then the queued background work as
``make demo`` does), served by gunicorn (``gunicorn.conf.py``, 2 workers) as in ``make serve``.
Then Lighthouse (the npm package, its default mobile form factor and simulated throttling:
slow 4G, 4x CPU slowdown) drives Debian's chromium (``CHROME_PATH``, default
``/usr/bin/chromium``, headless) over eight pages:

    home, a search result page, a service page, a form step — in Mongolian (/) and English (/en/)

and prints the four category scores (performance, accessibility, best practices, SEO) and the
page weight (Lighthouse's ``total-byte-weight``: every byte the page loaded, as transferred).
Goal (issue 17): every score >= 95. Exit status 1 when one is below. A form step's SEO score
loses Lighthouse's ``is-crawlable`` audit on purpose (``robots.txt`` disallows ``/apply/``: a
form step is no content for a search engine, only a thin copy of its service page); the line
under it gives the score without that audit.

Lighthouse is installed with npm into ``var/lighthouse`` (not in git) on first use:

    .venv/bin/python bench/lighthouse.py
    .venv/bin/python bench/lighthouse.py --runs 3        # median of three runs per page
    .venv/bin/python bench/lighthouse.py --json var/lighthouse/report   # keep the JSON reports
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet
from serving import free_port, wait_for_healthz  # bench/ (the script's folder) is on sys.path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
GUNICORN = PYTHON.parent / "gunicorn"
LIGHTHOUSE_DIR = ROOT / "var" / "lighthouse"
LIGHTHOUSE_VERSION = "12.8.2"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
GOAL = 95
MARK = "BENCH-JSON:"

# A service page, its English translation, and a search that finds it.
PAGES = """
import json
from service_pages.models import ServicePage
from wagtail.models import Locale
service = ServicePage.objects.live().canonical().filter(channel_online=True, accepts_applications=True, instant_reference=False).order_by("code").first()
english = service.get_translation(Locale.objects.get(language_code="en"))
print({mark!r} + json.dumps({{"code": service.code, "mn": service.url, "en": english.url, "query_mn": service.title.split()[0], "query_en": (service.title_en or service.title).split()[0]}}))
"""


def lighthouse_binary() -> Path:
    binary = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        print(f"installing lighthouse {LIGHTHOUSE_VERSION} into {LIGHTHOUSE_DIR} (npm)...", flush=True)
        LIGHTHOUSE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(LIGHTHOUSE_DIR), "--no-audit", "--no-fund", f"lighthouse@{LIGHTHOUSE_VERSION}"],
                       check=True, capture_output=True)  # fmt: skip
    return binary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="Lighthouse runs per page; the median is shown (default 1)")
    parser.add_argument("--json", help="folder to keep the Lighthouse JSON reports in")
    parser.add_argument("--chrome", default=os.environ.get("CHROME_PATH", "/usr/bin/chromium"))
    args = parser.parse_args()
    lighthouse = lighthouse_binary()

    var = Path(tempfile.mkdtemp(prefix="tumen-bench-lighthouse-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEARCH_URL", "DJANGO_SETTINGS_MODULE") and not k.startswith(("GUNICORN_", "TUMEN_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="cms.settings.production", TUMEN_VAR_DIR=str(var), DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="localhost,127.0.0.1", TUMEN_TRUSTED_PROXIES="0",
        SECURE_SSL_REDIRECT="false", TUMEN_SECRETS_KEYS=Fernet.generate_key().decode(), GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2", PYTHONPATH=str(ROOT),
    )  # fmt: skip

    def manage(*command):
        run = subprocess.run([str(PYTHON), "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if run.returncode:
            shutil.rmtree(var, ignore_errors=True)
            raise SystemExit(f"manage.py {command[0]} failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        return run.stdout

    for command in (
        ["migrate", "--noinput", "-v0"],
        ["load_demo_catalog"],
        ["db_worker", "--queue-name", "*", "--batch", "--no-startup-delay", "--no-reload", "-v0"],
        ["collectstatic", "--noinput", "-v0"],
    ):
        manage(*command)
    for line in reversed(manage("shell", "--no-imports", "-c", PAGES.format(mark=MARK)).splitlines()):
        if line.startswith(MARK):
            found = json.loads(line[len(MARK) :])
            break
    base = f"http://localhost:{port}"
    urls = [
        ("home", "mn", "/"),
        ("home", "en", "/en/"),
        ("search", "mn", f"/search/?q={found['query_mn']}"),
        ("search", "en", f"/en/search/?q={found['query_en']}"),
        ("service page", "mn", found["mn"]),
        ("service page", "en", found["en"]),
        ("form step", "mn", f"/apply/{found['code']}/step/1/"),
        ("form step", "en", f"/en/apply/{found['code']}/step/1/"),
    ]

    log = open(var / "gunicorn.log", "a")
    server = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", "--no-control-socket", "--access-logfile", "/dev/null"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    failed = False
    try:
        wait_for_healthz(port, server, var / "gunicorn.log")
        print(f"lighthouse {LIGHTHOUSE_VERSION}, mobile (simulated slow 4G, 4x CPU), {args.runs} run(s) per page; "
              f"load average {os.getloadavg()[0]:.2f}\n")  # fmt: skip
        print("| page | lang | performance | accessibility | best practices | SEO | weight (KiB) |")
        print("|---|---|---|---|---|---|---|")
        for name, language, path in urls:
            reports = [run_lighthouse(lighthouse, args.chrome, base + path, var) for _ in range(args.runs)]
            scores = {c: statistics.median(round(100 * r["categories"][c]["score"]) for r in reports) for c in CATEGORIES}
            weight = statistics.median(r["audits"]["total-byte-weight"]["numericValue"] for r in reports) / 1024
            low = [c for c in CATEGORIES if scores[c] < GOAL]
            failed |= bool(low)
            cells = " | ".join(f"{scores[c]:.0f}" + (" ✗" if c in low else "") for c in CATEGORIES)
            print(f"| {name} | {language} | {cells} | {weight:.1f} |", flush=True)
            for c in low:
                print(f"    {c}: " + ", ".join(failing_audits(reports[0], c)), flush=True)
            if scores["seo"] < GOAL and failing_audits(reports[0], "seo") == ["is-crawlable (0.00)"]:
                # robots.txt keeps crawlers out of the forms on purpose (cms.sitemaps.robots_txt).
                print(f"    seo without is-crawlable (robots.txt disallows /apply/ on purpose): {score_without(reports[0], 'seo', 'is-crawlable'):.0f}")
            if args.json:
                folder = Path(args.json)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{name.replace(' ', '-')}-{language}.json").write_text(json.dumps(reports[0]))
        print(f"\nload average {os.getloadavg()[0]:.2f}; goal: every score >= {GOAL}: {'NOT met' if failed else 'met'}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        shutil.rmtree(var, ignore_errors=True)
    sys.exit(1 if failed else 0)


def run_lighthouse(lighthouse: Path, chrome: str, url: str, var: Path) -> dict:
    output = var / "report.json"
    run = subprocess.run(
        [str(lighthouse), url, "--quiet", "--output=json", f"--output-path={output}",
         f"--only-categories={','.join(CATEGORIES)}", "--chrome-flags=--headless=new --no-sandbox --disable-gpu"],
        env={**os.environ, "CHROME_PATH": chrome}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if run.returncode:
        raise SystemExit(f"lighthouse {url} failed:\n{run.stderr[-2000:]}")
    return json.loads(output.read_text())


def failing_audits(report: dict, category: str) -> list[str]:
    """The audits of ``category`` that cost points, e.g. ``color-contrast (0)``."""
    refs = report["categories"][category]["auditRefs"]
    low = []
    for ref in refs:
        audit = report["audits"][ref["id"]]
        if ref["weight"] and audit.get("score") is not None and audit["score"] < 1:
            low.append(f"{ref['id']} ({audit['score']:.2f})")
    return low


def score_without(report: dict, category: str, audit_id: str) -> float:
    """The category's score as Lighthouse computes it (weighted mean of the scored audits), one audit left out."""
    refs = [r for r in report["categories"][category]["auditRefs"] if r["id"] != audit_id and r["weight"]]
    scored = [(r["weight"], report["audits"][r["id"]].get("score")) for r in refs]
    scored = [(weight, score) for weight, score in scored if score is not None]
    return 100 * sum(weight * score for weight, score in scored) / sum(weight for weight, _ in scored)


if __name__ == "__main__":
    main()
