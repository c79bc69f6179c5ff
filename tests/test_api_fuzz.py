"""The public API against its contract, docs/openapi.yaml: Schemathesis sends what the description
allows (and what it does not) to a real gunicorn, and every answer must be one the description
promises: no server error, a documented status code, content type, headers and body.

Every operation is covered, with its real data mixed into the generated values: the catalog's
service codes, applications' tracking codes, valid answers (JSON and multipart, with a file),
callbacks signed with a real agency key, and an operator's session (see tests/fuzz_site.py).
The run is bounded and reproducible: a fixed seed, derandomized, no example database, and at most
``FUZZ_EXAMPLES`` generated cases per operation (besides the schema's examples and the coverage phase).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

from plugins import signing
from tests import fuzz_site, gunicorn_site

ROOT = Path(__file__).resolve().parent.parent
FUZZ_EXAMPLES = int(os.environ.get("TUMEN_FUZZ_EXAMPLES", "100"))
FUZZ_SEED = 13

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": FUZZ_SEED,
        "generation": {"max-examples": FUZZ_EXAMPLES, "deterministic": True, "database": "none", "mode": "all"},
        "checks": {
            # Answers and search filters are checked against what the description cannot hold (a
            # service's form, the catalog's codes), so a request the schema allows may rightly get a
            # documented 400.
            "positive_data_acceptance": {"enabled": False},
            # The search reads parameters the way the website's form sends them (a blank filter is no
            # filter, the text is trimmed before its length is checked): lenient on purpose.
            "negative_data_rejection": {"enabled": False},
        },
    }
)
schema = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.yaml", config=CONFIG)

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def fuzz_site_url(tmp_path_factory):
    """gunicorn on a free loopback port, with the test settings (rate limits off), the demo catalog
    and the fuzz data of tests/fuzz_site.py in a throw-away SQLite database. With ``SEARCH_URL`` set
    (the services suite) searches go to that engine, in an index of their own."""
    var = tmp_path_factory.mktemp("fuzz-site")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "cms.settings.test",
            "TUMEN_VAR_DIR": str(var),
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "2",
            "SEARCH_INDEX": os.environ.get("SEARCH_INDEX", "tumen_test") + "_fuzz",
        }
    )
    session_file = var / "operator-session"
    command = [sys.executable, "-m", "tests.fuzz_site", str(session_file)]
    done = subprocess.run(command, cwd=ROOT, env=env, timeout=300, capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"building the fuzz site failed:\n{done.stderr[-3000:]}", pytrace=False)
    process, base, log_path = gunicorn_site.start(env, var, port)
    yield {"url": base, "operator_session": session_file.read_text().strip(), "log": log_path}
    process.send_signal(signal.SIGQUIT)  # a throw-away site: gunicorn's quick shutdown
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


# -- real data mixed into the generated values ---------------------------------------------------

REAL_PATH_VALUES = {
    "code": fuzz_site.SERVICE_CODES,
    "tracking_code": fuzz_site.TRACKING_CODES + ["tmn f22z 0001", "F22Z0002"],
}


@schema.hook
def before_generate_path_parameters(context, strategy):
    """Half of the paths name a real service or application, so the operation does its work."""
    names = [p.name for p in context.operation.path_parameters]
    real = {name: st.sampled_from(REAL_PATH_VALUES[name]) for name in names if name in REAL_PATH_VALUES}
    if not real:
        return strategy
    return st.one_of(strategy, st.fixed_dictionaries(real))


def _valid_answers():
    return st.sampled_from([{"data": fuzz_site.GENERAL_ANSWERS}, {"data": fuzz_site.EVERY_TYPE_ANSWERS}])


@schema.hook
def before_generate_body(context, strategy):
    """Half of the applications are valid answers, and half of the callbacks name a real status."""
    path = context.operation.path
    if path == "/api/v1/services/{code}/submissions":
        return st.one_of(strategy, _valid_answers())
    if path == "/api/v1/submissions/{tracking_code}/status":
        statuses = st.sampled_from(["in_progress", "needs_information", "approved", "completed", "rejected", "teleported"])
        real = st.fixed_dictionaries({"status": statuses}, optional={"message": st.text(max_size=50)})
        return st.one_of(strategy, real)
    return strategy


SUBMISSION_PARTS = {
    fuzz_site.OPEN_SERVICE: (fuzz_site.GENERAL_ANSWERS, "attachment"),
    fuzz_site.EVERY_TYPE_SERVICE: (fuzz_site.EVERY_TYPE_ANSWERS, "document"),
}


def _signed(case):
    """Headers and body of ``case`` signed with the agency's real key, over the body as it is sent."""
    raw = b"" if case.body is None or not isinstance(case.body, (dict, list, str, int, float, bool)) else json.dumps(case.body).encode()
    timestamp = str(int(time.time()))
    tracking_code = case.path_parameters["tracking_code"]
    headers = {
        "Content-Type": "application/json",
        "X-Tumen-Key": fuzz_site.AGENCY_KEY_ID,
        "X-Tumen-Timestamp": timestamp,
        "X-Tumen-Signature": signing.signature(fuzz_site.AGENCY_SECRET, timestamp, [tracking_code], raw),
    }
    return headers, raw


NOT_FROM_THE_API = {405: "a method the route does not take (Django's require_GET)", 414: "a URL over gunicorn's limit"}


def answers_in_json(ctx, response, case):
    """Stricter than content_type_conformance, which skips the coverage phase's request-shape probes
    (a missing or odd Content-Type, ...): whatever was sent, the API answers in JSON."""
    if response.status_code in NOT_FROM_THE_API or response.status_code == 304:  # 304: no body
        return None
    if case.operation.path == "/api/v1/services.csv" and response.status_code == 200:
        return None  # the open-data download is CSV, as described
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.split(";")[0] == "application/json", f"{response.status_code} answered in {content_type!r}"
    return None


@schema.parametrize()
def test_the_api_keeps_its_contract(case, fuzz_site_url, http):
    base_url = fuzz_site_url["url"]
    path = case.operation.path
    case.call_and_validate(base_url=base_url, session=http, additional_checks=[answers_in_json])
    if path == "/api/v1/submissions/{tracking_code}/status" and case.meta.generation.mode == GenerationMode.POSITIVE:
        # The same callback again, signed with the agency's real key over what is sent.
        headers, raw = _signed(case)
        case.call_and_validate(base_url=base_url, session=http, headers=headers, data=raw, additional_checks=[answers_in_json])
    if path == "/api/v1/services/{code}/submissions" and case.meta.generation.mode == GenerationMode.POSITIVE:
        # A whole application as multipart/form-data: the answers as JSON and a real PDF.
        answers, file_key = SUBMISSION_PARTS.get(case.path_parameters["code"], SUBMISSION_PARTS[fuzz_site.OPEN_SERVICE])
        files = {"data": (None, json.dumps(answers), "application/json"), file_key: ("scan.pdf", PDF, "application/pdf")}
        url = f"{base_url}/api/v1/services/{case.path_parameters['code']}/submissions"
        case.validate_response(http.post(url, files=files, headers=case.headers or {}, timeout=30), additional_checks=[answers_in_json])
    if path == "/api/v1/operator/submissions":
        http.cookies.set("sessionid", fuzz_site_url["operator_session"])
        try:
            case.call_and_validate(base_url=base_url, session=http, additional_checks=[answers_in_json])
        finally:
            http.cookies.clear()
