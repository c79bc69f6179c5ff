"""Issue #16, item 6: the admin home page shows each person what needs them (moderators: what
awaits their review and their agency's waiting applications; integrators and moderators: their
agency's failed deliveries; integrators: their failing targets), each linking to where it is
handled, and nothing of another agency."""

import re

import pytest
from django.test import Client

from plugins.models import PluginConfig
from service_pages.governance import sync_agency_groups
from service_pages.models import AgencyPage, ServicePage
from tests.deliveries import attempt
from tests.test_forms import agency_member
from tests.test_plugins import SECRET, submit
from tests.test_security_agency import form_in_review

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


@pytest.fixture
def agencies(demo_catalog):
    sync_agency_groups()
    own, other = (page.agency for page in AgencyPage.objects.canonical().select_related("agency").order_by("path")[:2])
    return own, other


def home(user):
    client = Client()
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 200
    return response.content.decode()


def panel(html, name):
    """The items of one of our panels as {link text: (href, count)}; {} when the panel is absent."""
    found = re.search(rf'data-needs-you="{name}">(.*?)</ul>', html, re.S)
    if not found:
        return {}
    items = {}
    for href, text, count in re.findall(r'<a href="([^"]+)">([^<]+)</a>(?:: <strong>(\d+)</strong>)?', found.group(1)):
        items[text.strip()] = (href, int(count) if count else None)
    return items


def online_service(agency):
    return (
        ServicePage.objects.live()
        .canonical()
        .filter(agency=agency, channel_online=True, stages__lte=1)
        .order_by("code")
        .first()
    )


def test_a_moderator_sees_the_forms_awaiting_their_review_and_no_other_agencys(agencies):
    own, other = agencies
    editor = agency_member("a-editor", own, role="editors")
    definition = form_in_review(own, "А агентлагийн маягт", "a-form", editor)
    mine = panel(home(agency_member("a-moderator", own)), "tumen-review")
    [(label, (href, _count))] = mine.items()
    assert "А агентлагийн маягт" in label and href.endswith(f"/{definition.pk}/")
    assert panel(home(agency_member("b-moderator", other)), "tumen-review") == {}
    assert panel(home(editor), "tumen-review") == {}, "editors submit, they do not review"


def test_moderators_see_their_agencys_waiting_applications(agencies, client):
    own, other = agencies
    submit(client, online_service(own))
    submit(client, online_service(own))
    mine = panel(home(agency_member("a-moderator", own)), "tumen-applications")
    href, count = next(value for label, value in mine.items() if "?status=received" in value[0])
    assert count == 2 and href == "/admin/submissions/?status=received"
    theirs = panel(home(agency_member("b-moderator", other)), "tumen-applications")
    assert all(count != 2 for _href, count in theirs.values())
    assert panel(home(agency_member("a-editor", own, role="editors")), "tumen-applications") == {}, (
        "no access to applications"
    )


def test_integrators_see_failed_deliveries_and_failing_targets_of_their_agency_only(agencies, client, agency_server):
    own, other = agencies
    agency_server.plan = [400]
    config = PluginConfig.objects.create(
        plugin_id="webhook", agency=own, options={"url": agency_server.url, "secret": SECRET}
    )
    assert attempt(submit(client, online_service(own)).deliveries.get().pk) == "dead"
    integrator = agency_member("a-integrator", own, role="integrators")
    mine = panel(home(integrator), "tumen-deliveries")
    assert mine[next(label for label in mine if "?state=dead" in mine[label][0])] == (
        "/admin/deliveries/?state=dead",
        1,
    )
    target = next(value for value in mine.values() if value[0] == f"/admin/plugin_configs/inspect/{config.pk}/")
    assert target[1] is None
    moderator = panel(home(agency_member("a-moderator", own)), "tumen-deliveries")
    assert any(href == "/admin/deliveries/?state=dead" for href, _count in moderator.values())
    assert not any("plugin_configs" in href for href, _count in moderator.values()), "targets are the integrators'"
    theirs = panel(home(agency_member("b-integrator", other, role="integrators")), "tumen-deliveries")
    assert not any("plugin_configs" in href or href.endswith("?state=dead") for href, _count in theirs.values())
    # Once the target works again it is no longer listed.
    agency_server.plan = [200]
    assert attempt(submit(client, online_service(own)).deliveries.get().pk) == "delivered"
    after = panel(home(integrator), "tumen-deliveries")
    assert not any(href == f"/admin/plugin_configs/inspect/{config.pk}/" for href, _count in after.values())
