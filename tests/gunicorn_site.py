"""Start the product's own gunicorn (``gunicorn.conf.py``) on loopback for a test that needs a
real server: the browser tests' live site and the API fuzz run share it."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The environment of the session's live site (tests/conftest.py ``live_site``), once it runs: a
# test adds data to its database with ``python -m ...`` under this environment.
LIVE_SITE_ENV: dict = {}


def start(env: dict, var: Path, port: int, *, timeout: float = 60) -> tuple[subprocess.Popen, str, Path]:
    """``(process, base URL, log path)`` once ``/healthz`` answers; fails the test if it never does."""
    log_path = var / "gunicorn.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2).close()
            return process, base, log_path
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("gunicorn did not start:\n" + log_path.read_text(), pytrace=False)
            time.sleep(0.3)
