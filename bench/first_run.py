#!/usr/bin/env python
"""Benchmark: ``make run`` on a fresh database, from a finished install to the site answering.

Issue 17's goal: the whole national catalog (11,250 services, English pages included) served on
the embedded default (SQLite) in at most 90 s. This runs the README's ``make run`` in a new,
empty ``TUMEN_VAR_DIR`` (free ports for the site, the demo agency endpoint and the demo identity
provider, so it never touches a running development site), and times until ``GET /`` answers 200
with the expected count ("11,250 services" for the national catalog). Then it stops what it
started, and, with ``--again``, times a second ``make run`` on the database it left (the daily
restart: nothing to import).

``-o .venv/.installed`` tells make the install is finished (in a git worktree the requirement
files are newer than the shared virtualenv's stamp, which would reinstall).

    .venv/bin/python bench/first_run.py               # national catalog (make run)
    .venv/bin/python bench/first_run.py --demo small  # make run DEMO=small
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from serving import free_port  # bench/ (the script's folder) is on sys.path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {"national": "11,250", "small": "303"}


def answers(url: str, expected: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and expected in response.read().decode("utf-8")
    except OSError:
        return False


def make_run(var_dir: Path, demo: str, timeout: float, log_path: Path) -> tuple[float, list[tuple[float, str]]]:
    """Seconds from ``make run`` to the home page showing the count; the timed output lines."""
    port, agency_port, provider_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEARCH_URL", "SEARCH_BACKEND")}
    env.update(
        TUMEN_VAR_DIR=str(var_dir),
        DAN_VAR_DIR=str(var_dir / "oidc"),
        DAN_PORT=str(provider_port),
        TUMEN_URL=f"http://127.0.0.1:{port}",
        ADMIN_PASSWORD="bench-only-password",
    )
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"DEMO={demo}", f"PORT={port}",
               f"DEMO_AGENCY_PORT={agency_port}"]  # fmt: skip
    started = time.monotonic()
    lines: list[tuple[float, str]] = []
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        os.set_blocking(process.stdout.fileno(), False)
        try:
            while time.monotonic() - started < timeout:
                for line in iter(process.stdout.readline, ""):
                    lines.append((time.monotonic() - started, line.rstrip()))
                    log.write(f"{lines[-1][0]:6.1f} {line}")
                if process.poll() is not None:
                    raise SystemExit(f"make run stopped (exit {process.returncode}); see {log_path}")
                if any("Tumen: http" in line for _t, line in lines) and answers(
                    f"http://127.0.0.1:{port}/", f"{EXPECTED[demo]} services"
                ):
                    return time.monotonic() - started, lines
                time.sleep(0.2)
            raise SystemExit(f"not answering after {timeout:.0f} s; see {log_path}")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def report(label: str, seconds: float, lines: list[tuple[float, str]]) -> None:
    print(f"{label}: site answering after {seconds:.1f} s")
    for at, line in lines:
        if re.match(r"(\.venv/bin/python|loading|services:|demo catalog|Tumen:)", line.strip()):
            print(f"  {at:6.1f} s  {line.strip()[:150]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", choices=sorted(EXPECTED), default="national")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--again", action="store_true", help="also time a second make run on the same database")
    parser.add_argument("--keep", action="store_true", help="keep the temporary var directory")
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min), "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    var_dir = Path(tempfile.mkdtemp(prefix="tumen-first-run-"))
    try:
        seconds, lines = make_run(var_dir, args.demo, args.timeout, var_dir.parent / (var_dir.name + "-1.log"))
        report(f"make run DEMO={args.demo}, fresh database", seconds, lines)
        if args.again:
            seconds, lines = make_run(var_dir, args.demo, args.timeout, var_dir.parent / (var_dir.name + "-2.log"))
            report(f"make run DEMO={args.demo}, again (database already loaded)", seconds, lines)
    finally:
        if args.keep:
            print(f"kept {var_dir} (for bench/catalog_api.py --var-dir)")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    print(f"load after: {os.getloadavg()[0]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
