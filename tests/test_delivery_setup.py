"""Issue #16, item 2: delivery works out of the box. `import_agencies --endpoint-base` gives each
agency a signed webhook target (its secret printed once); an application of an agency without a
target is shown as such (delivery dashboard, /healthz for staff), never silently "received"; the
demo agency endpoint of `make run` verifies the signature and the application is delivered."""

import csv
import json
import re
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from form_builder.models import Status
from plugins import signing
from plugins.models import PluginConfig
from service_pages.models import Agency, ServicePage
from tests.deliveries import attempt
from tests.test_plugins import submit

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


@pytest.fixture
def service(demo_catalog):
    return (
        ServicePage.objects.live()
        .canonical()
        .filter(channel_online=True, stages__lte=1)
        .select_related("agency")
        .order_by("code")
        .first()
    )


def agencies_csv(tmp_path, *agencies) -> Path:
    path = tmp_path / "agencies.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "name_mn", "name_en", "kind", "parent_code", "endpoint_path"])
        for agency in agencies:
            writer.writerow(
                [agency.code, agency.name_mn, agency.name_en, agency.kind, "", f"/agencies/{agency.code}/submissions"]
            )
    return path


def test_import_agencies_with_an_endpoint_base_makes_each_agency_a_signed_target(
    tmp_path, client, service, agency_server
):
    other = Agency.objects.exclude(pk=service.agency_id).filter(pages__isnull=False).order_by("code").first()
    path = agencies_csv(tmp_path, service.agency, other)
    base = f"http://127.0.0.1:{agency_server.port}"
    out = StringIO()
    call_command("import_agencies", str(path), endpoint_base=base, stdout=out)
    text = out.getvalue()
    assert "delivery targets: created=2 existing=0" in text
    secrets = dict(re.findall(r"\n  (\S+): webhook to .*\n    signing secret \(shown only now[^:]*\): (\S+)", text))
    assert set(secrets) == {service.agency.code, other.code}
    config = PluginConfig.objects.get(agency=service.agency, plugin_id="webhook")
    assert f"/admin/plugin_configs/inspect/{config.pk}/" in text
    assert config.options["secret"] == secrets[service.agency.code] and not config.options.get("url"), (
        "follows the agency's URL"
    )
    # Imported again: the targets are kept, no secret is printed (nor changed).
    again = StringIO()
    call_command("import_agencies", str(path), endpoint_base=base, stdout=again)
    assert "created=0 existing=2" in again.getvalue() and "signing secret" not in again.getvalue()
    assert PluginConfig.objects.get(pk=config.pk).options["secret"] == secrets[service.agency.code]
    # An application of that agency is delivered, signed with the printed secret.
    submission = submit(client, service)
    assert attempt(submission.deliveries.get().pk) == "delivered"
    received = agency_server.received[-1]
    assert received.path == f"/agencies/{service.agency.code}/submissions"
    assert signing.verify(
        secrets[service.agency.code], received.headers["x-tumen-timestamp"],
        [received.headers["x-tumen-submission"], received.headers["idempotency-key"]], received.body,
        received.headers["x-tumen-signature"],
    )  # fmt: skip
    submission.refresh_from_db()
    assert submission.status == Status.DELIVERED


def test_an_agency_that_already_has_a_target_keeps_it(tmp_path, service):
    mine = PluginConfig.objects.create(
        plugin_id="email", agency=service.agency, options={"to": "registry@agency.gov.mn"}
    )
    out = StringIO()
    call_command(
        "import_agencies",
        str(agencies_csv(tmp_path, service.agency)),
        endpoint_base="https://gateway.example.mn",
        stdout=out,
    )
    assert "created=0 existing=1" in out.getvalue()
    assert list(PluginConfig.objects.filter(agency=service.agency)) == [mine]


def test_applications_without_a_target_are_shown_and_can_be_sent_once_one_exists(
    client, service, admin_client, agency_server
):
    submission = submit(client, service)
    assert not submission.deliveries.exists() and submission.status == Status.RECEIVED
    dashboard = admin_client.get("/admin/delivery-dashboard/").content.decode()
    assert f'data-agency-without-target="{service.agency.code}"' in dashboard
    health = admin_client.get("/healthz").json()["deliveries"]
    assert health["without_target"] >= 1 and service.agency.code in health["agencies_without_target"]
    assert health["ok"] is False
    assert "deliveries" not in Client().get("/healthz").json(), "details are for staff"
    # The agency's integrator adds a target, then sends the waiting applications to it.
    PluginConfig.objects.create(
        plugin_id="webhook", agency=service.agency, options={"url": agency_server.url, "secret": "s" * 20}
    )
    response = admin_client.post(f"/admin/delivery-dashboard/deliver-waiting/{service.agency.code}/")
    assert response.status_code == 302
    delivery = submission.deliveries.get()
    assert attempt(delivery.pk) == "delivered"
    dashboard = admin_client.get("/admin/delivery-dashboard/").content.decode()
    assert f'data-agency-without-target="{service.agency.code}"' not in dashboard


def test_another_agencys_integrator_cannot_send_their_waiting_applications(client, service):
    from tests.test_forms import agency_member

    submit(client, service)
    other = Agency.objects.exclude(pk=service.agency_id).filter(pages__isnull=False).order_by("code").first()
    outsider = Client()
    outsider.force_login(agency_member("outsider", other, role="integrators"))
    page = outsider.get("/admin/delivery-dashboard/").content.decode()
    assert f'data-agency-without-target="{service.agency.code}"' not in page
    assert outsider.post(f"/admin/delivery-dashboard/deliver-waiting/{service.agency.code}/").status_code == 404


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_agency(settings, tmp_path):
    """scripts/demo_agency.py, as `make run` starts it, reading the secrets the demo loader writes."""
    settings.VAR_DIR = tmp_path
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "demo_agency.py"), "--port", str(port), "--secrets", str(tmp_path / "demo-agency-secrets.json")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def test_the_demo_agencies_of_make_run_receive_their_applications(demo_agency, tmp_path, client, service):
    out = StringIO()
    call_command("load_demo_catalog", endpoint_base=demo_agency, stdout=out)
    assert "demo delivery targets" in out.getvalue()
    secrets = json.loads((tmp_path / "demo-agency-secrets.json").read_text())
    assert service.agency.code in secrets and (tmp_path / "demo-agency-secrets.json").stat().st_mode & 0o077 == 0
    submission = submit(client, service)
    assert attempt(submission.deliveries.get().pk) == "delivered"
    submission.refresh_from_db()
    assert submission.status == Status.DELIVERED
    # The endpoint really checks the signature: a target with another secret is refused.
    config = PluginConfig.objects.get(agency=service.agency, plugin_id="webhook")
    config.options = {**config.options, "secret": "not-the-agencys-secret-at-all"}
    config.save()
    refused = submit(client, service).deliveries.get()
    assert attempt(refused.pk) == "dead"
    refused.refresh_from_db()
    assert "HTTP 401" in refused.last_error
