"""`make serve`: the app under gunicorn, static files through WhiteNoise.

Starts a real gunicorn on a free loopback port against a throw-away SQLite
database, the way an operator would, and talks HTTP to it.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


@pytest.fixture(scope="module")
def gunicorn_server(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEARCH_URL")},
        "DJANGO_SETTINGS_MODULE": "cms.settings.base",
        "TUMEN_VAR_DIR": str(var),
        "DEBUG": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
    }
    for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=300)
    log = open(var / "gunicorn.log", "w")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _get(base + "/healthz")
            break
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.3)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        if process.returncode not in (0, -15):
            print((var / "gunicorn.log").read_text())


def test_gunicorn_serves_health(gunicorn_server):
    status, body, _ = _get(gunicorn_server + "/healthz")
    assert status == 200
    assert b'"status": "ok"' in body


def test_gunicorn_serves_static_files_through_whitenoise(gunicorn_server):
    status, body, headers = _get(gunicorn_server + "/static/css/tumen.css")
    assert status == 200
    assert b"--accent" in body
    assert headers.get("Content-Type", "").startswith("text/css")


def test_gunicorn_serves_the_home_page_in_mongolian(gunicorn_server):
    status, body, _ = _get(gunicorn_server + "/")
    assert status == 200
    assert 'lang="mn"'.encode() in body
