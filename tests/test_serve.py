"""`make serve`: the app under gunicorn, static files through WhiteNoise.

``live_site`` (tests/conftest.py) runs a real gunicorn on a free loopback port
against a throw-away SQLite database with the demo catalog, the way an
operator would; these tests talk HTTP to it.
"""

import urllib.request


def _get(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_gunicorn_serves_health(live_site):
    status, body, _ = _get(live_site + "/healthz")
    assert status == 200
    assert b'"status": "ok"' in body


def test_gunicorn_serves_static_files_through_whitenoise(live_site):
    status, body, headers = _get(live_site + "/static/css/tumen.css")
    assert status == 200
    assert b"--accent" in body
    assert headers.get("Content-Type", "").startswith("text/css")


def test_gunicorn_serves_the_home_page_in_mongolian(live_site):
    status, body, _ = _get(live_site + "/")
    assert status == 200
    assert 'lang="mn"'.encode() in body
