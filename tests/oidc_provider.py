"""The demo national identity provider (scripts/oidc_provider/) for tests: started as its own
process on a free loopback port, with its own database, and a browser-less way through its
sign-in page. Nothing of the provider is mocked: tokens, keys and userinfo are its own."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_DIR = ROOT / "scripts" / "oidc_provider"
CLIENT_ID = "tumen-test"


@dataclass
class Provider:
    issuer: str
    client_id: str
    client_secret: str
    process: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return self.issuer.rsplit("/o", 1)[0]


def start(var: Path, port: int, *, tumen_bases=("http://testserver", "http://127.0.0.1"), timeout: float = 60) -> Provider:
    """Migrate, register Tumen's client (callbacks under ``tumen_bases``; any port on 127.0.0.1)
    and serve; fails the test session if the provider never answers (in CI too: never a skip)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DAN_VAR_DIR=str(var), DAN_FAULTS="true")
    secret = secrets.token_urlsafe(24)
    manage = [sys.executable, "manage.py"]
    # "--client-secret=…" in one argument: a random secret may start with "-", which argparse would
    # take for an option.
    setup = ["dan_setup", "--client-id", CLIENT_ID, f"--client-secret={secret}"]
    for base in tumen_bases:
        setup += ["--redirect-uri", f"{base}/signin/callback/"]
        setup += ["--post-logout-uri", f"{base}/signout/done/", "--post-logout-uri", f"{base}/en/signout/done/"]
    for command in (["migrate", "--noinput", "-v0"], setup):
        done = subprocess.run([*manage, *command], cwd=PROVIDER_DIR, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode:
            pytest.fail(f"the identity provider could not be set up ({command[0]}):\n{done.stdout}{done.stderr}", pytrace=False)
    log = var / "provider.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--threads", "4", "dan.wsgi:application"],
            cwd=PROVIDER_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
    issuer = f"http://127.0.0.1:{port}/o"
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2).close()
            return Provider(issuer, CLIENT_ID, secret, process, log)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the identity provider did not start:\n" + log.read_text(), pytrace=False)
            time.sleep(0.3)


def sign_in_at_provider(authorize_url: str, username: str, password: str = "demo") -> str:
    """What a person does at the provider: its sign-in page, then back. Returns the callback URL."""
    session = requests.Session()
    page = session.get(authorize_url, timeout=10)  # -> the provider's sign-in page
    assert page.status_code == 200, page.text[:500]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    next_url = re.search(r'name="next" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
    answer = session.post(
        page.url, data={"csrfmiddlewaretoken": token, "username": username, "password": password, "next": next_url},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 302, answer.text[:500]
    back = session.get(urljoin(page.url, answer.headers["Location"]), allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text[:500]
    return back.headers["Location"]
