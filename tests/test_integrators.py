"""Issue #16, item 1: an agency's integrators manage their own agency's delivery targets, API keys
and deliveries in the admin, and see nothing of another agency's; moderators read their agency's
deliveries. Each right is tested from the other side (another agency's integrator gets 404 on every
per-object URL)."""

import json

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from plugins import signing
from plugins.models import AgencyCredential, Delivery, PluginConfig
from service_pages.governance import sync_agency_groups
from service_pages.models import Agency, ServicePage
from tests.deliveries import attempt
from tests.test_forms import agency_member
from tests.test_plugins import SECRET, submit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


def online_service(agency=None, exclude=None):
    services = (
        ServicePage.objects.live().canonical().filter(channel_online=True, stages__lte=1).select_related("agency")
    )
    if agency is not None:
        services = services.filter(agency=agency)
    if exclude is not None:
        services = services.exclude(agency=exclude)
    return services.order_by("code").first()


@pytest.fixture
def two_agencies(demo_catalog, agency_server):
    """Agencies A and B, each with a webhook target, a dead delivery and an API key."""
    sync_agency_groups()
    service_a = online_service()
    service_b = online_service(exclude=service_a.agency)
    result = {}
    agency_server.plan = [400]
    for name, service in (("a", service_a), ("b", service_b)):
        config = PluginConfig.objects.create(
            plugin_id="webhook", agency=service.agency, options={"url": agency_server.url, "secret": SECRET}
        )
        delivery = submit(Client(), service).deliveries.get()
        assert attempt(delivery.pk) == "dead"
        key = AgencyCredential.objects.create(agency=service.agency)
        result[name] = {
            "service": service,
            "agency": service.agency,
            "config": config,
            "delivery": delivery,
            "key": key,
        }
    agency_server.plan = [200]
    return result


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def integrator_of(agency, username="integrator"):
    return logged_in(agency_member(username, agency, role="integrators"))


def per_object_urls():
    """Every admin URL of this app's objects, as (pattern text, kind of object)."""
    found = []

    def walk(patterns, prefix):
        for pattern in patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, text)
            elif isinstance(pattern, URLPattern):
                for part, kind in (("plugin_configs/", "config"), ("deliveries/", "delivery"), ("agency_keys/", "key")):
                    if text.startswith("admin/" + part) and "<" in text:
                        found.append((text, kind))
                if text.startswith("admin/delivery-dashboard/") and "<" in text:
                    found.append((text, "agency"))

    walk(get_resolver().url_patterns, "")
    return found


def fill(pattern, value):
    import re

    return "/" + re.sub(r"<[^>]+>", str(value), pattern)


# -- the role ------------------------------------------------------------------------------------


def test_every_agency_gets_an_integrators_group_with_delivery_rights(demo_catalog):
    sync_agency_groups()
    agency = Agency.objects.filter(pages__isnull=False).order_by("code").first()
    integrators = Group.objects.get(name=f"{agency.code} integrators")
    codes = set(integrators.permissions.values_list("codename", flat=True))
    assert {
        "add_pluginconfig",
        "change_pluginconfig",
        "add_agencycredential",
        "view_delivery",
        "change_delivery",
    } <= codes
    assert "access_admin" in codes
    assert not codes & {"change_page", "view_submission", "change_submission", "delete_pluginconfig"}, (
        "no pages, no applications"
    )
    moderators = set(Group.objects.get(name=f"{agency.code} moderators").permissions.values_list("codename", flat=True))
    assert (
        "view_delivery" in moderators
        and "change_delivery" not in moderators
        and "change_pluginconfig" not in moderators
    )
    sync_agency_groups()  # idempotent
    assert Group.objects.filter(name=f"{agency.code} integrators").count() == 1


# -- scoping: lists, choices, per-object URLs -----------------------------------------------------


def test_an_integrator_lists_only_their_agencys_targets_deliveries_and_keys(two_agencies):
    a, b = two_agencies["a"], two_agencies["b"]
    client = integrator_of(a["agency"])
    configs = client.get("/admin/plugin_configs/").content.decode()
    assert f"/admin/plugin_configs/edit/{a['config'].pk}/" in configs
    assert f"/admin/plugin_configs/edit/{b['config'].pk}/" not in configs
    deliveries = client.get("/admin/deliveries/").content.decode()
    assert str(a["delivery"].pk) in deliveries and str(b["delivery"].pk) not in deliveries
    # Filtering by the other agency shows nothing of it either (the choice is not offered).
    filtered = client.get(f"/admin/deliveries/?agency={b['agency'].pk}").content.decode()
    assert str(b["delivery"].pk) not in filtered
    keys = client.get("/admin/agency_keys/").content.decode()
    assert a["key"].key_id in keys and b["key"].key_id not in keys
    dashboard = client.get("/admin/delivery-dashboard/").content.decode()
    assert f'data-agency="{a["agency"].code}"' in dashboard and f'data-agency="{b["agency"].code}"' not in dashboard
    exported = client.get("/admin/deliveries/?export=csv")
    assert str(b["delivery"].pk) not in b"".join(exported.streaming_content).decode()


def test_another_agencys_objects_answer_404_on_every_per_object_url(two_agencies):
    a, b = two_agencies["a"], two_agencies["b"]
    client = integrator_of(a["agency"])
    theirs = {"config": b["config"].pk, "delivery": b["delivery"].pk, "key": b["key"].pk, "agency": b["agency"].pk}
    urls = per_object_urls()
    assert len(urls) >= 20, urls
    for pattern, kind in urls:
        url = fill(pattern, theirs[kind])
        for method in (client.get, client.post):
            status = method(url).status_code
            assert status in (404, 405), f"{method.__name__.upper()} {url} answered {status}"
    # Nothing of B's changed.
    b["delivery"].refresh_from_db()
    b["config"].refresh_from_db()
    assert b["delivery"].state == "dead" and PluginConfig.objects.filter(pk=b["config"].pk).exists()
    assert AgencyCredential.objects.filter(pk=b["key"].pk, active=True).exists()


def test_the_integrator_opens_their_own_objects(two_agencies):
    a = two_agencies["a"]
    client = integrator_of(a["agency"])
    for url in (
        f"/admin/plugin_configs/inspect/{a['config'].pk}/",
        f"/admin/plugin_configs/edit/{a['config'].pk}/",
        f"/admin/deliveries/inspect/{a['delivery'].pk}/",
        f"/admin/agency_keys/inspect/{a['key'].pk}/",
        f"/admin/agency_keys/edit/{a['key'].pk}/",
    ):
        assert client.get(url).status_code == 200, url


def test_the_agency_choices_are_the_integrators_own_and_a_national_target_is_refused(two_agencies):
    a, b = two_agencies["a"], two_agencies["b"]
    client = integrator_of(a["agency"])
    page = client.get("/admin/plugin_configs/new/?plugin=webhook").content.decode()
    assert f'value="{a["agency"].pk}"' in page and f'value="{b["agency"].pk}"' not in page
    assert f'value="{b["service"].pk}"' not in page
    form = {
        "name": "registry",
        "enabled": "on",
        "option__url": "https://registry.example.mn/in",
        "option__secret": "x" * 20,
    }
    before = PluginConfig.objects.count()
    for agency in (b["agency"].pk, ""):  # another agency's, or every agency's
        response = client.post("/admin/plugin_configs/new/?plugin=webhook", {**form, "agency": agency})
        assert response.status_code == 200 and PluginConfig.objects.count() == before
    response = client.post(
        "/admin/plugin_configs/new/?plugin=webhook", {**form, "agency": a["agency"].pk, "service": b["service"].pk}
    )
    assert response.status_code == 200 and PluginConfig.objects.count() == before
    response = client.post("/admin/plugin_configs/new/?plugin=webhook", {**form, "agency": a["agency"].pk})
    assert response.status_code == 302
    created = PluginConfig.objects.get(name="registry")
    assert created.agency == a["agency"] and created.options["secret"] == "x" * 20
    keys = client.get("/admin/agency_keys/new/").content.decode()
    assert f'value="{a["agency"].pk}"' in keys and f'value="{b["agency"].pk}"' not in keys
    assert client.post("/admin/agency_keys/new/", {"agency": b["agency"].pk, "active": "on"}).status_code == 200
    assert not AgencyCredential.objects.filter(agency=b["agency"]).exclude(pk=b["key"].pk).exists()


# -- replay, test connection, test submission ------------------------------------------------------


def test_replay_needs_change_permission_and_the_integrator_replays(two_agencies):
    a = two_agencies["a"]
    moderator = logged_in(agency_member("a-moderator", a["agency"]))
    assert moderator.get("/admin/delivery-dashboard/").status_code == 200, "moderators read their dashboard"
    page = moderator.get(f"/admin/deliveries/inspect/{a['delivery'].pk}/").content.decode()
    assert "Replay now" not in page and "Дахин илгээх" not in page
    for url in (f"/admin/deliveries/replay/{a['delivery'].pk}/", f"/admin/delivery-dashboard/replay/{a['agency'].pk}/"):
        response = moderator.post(url)
        assert response.status_code in (302, 403) and "/login/" in response.get("Location", "/login/")
    a["delivery"].refresh_from_db()
    assert a["delivery"].state == "dead", "view permission does not replay"
    assert moderator.get("/admin/plugin_configs/").status_code in (302, 403)
    integrator = integrator_of(a["agency"])
    assert integrator.post(f"/admin/deliveries/replay/{a['delivery'].pk}/").status_code == 302
    a["delivery"].refresh_from_db()
    assert a["delivery"].state in ("pending", "delivered")


def test_an_integrator_of_one_agency_who_moderates_another_replays_only_their_own(two_agencies):
    a, b = two_agencies["a"], two_agencies["b"]
    user = agency_member("two-hats", a["agency"], role="integrators")
    user.groups.add(Group.objects.get(name=f"{b['agency'].code} moderators"))
    client = logged_in(user)
    dashboard = client.get("/admin/delivery-dashboard/").content.decode()
    assert f'data-agency="{b["agency"].code}"' in dashboard, "reads B's deliveries as B's moderator"
    assert client.post(f"/admin/deliveries/replay/{b['delivery'].pk}/").status_code == 404
    assert client.get(f"/admin/plugin_configs/edit/{b['config'].pk}/").status_code == 404
    b["delivery"].refresh_from_db()
    assert b["delivery"].state == "dead"


def test_test_connection_and_a_test_submission_reach_the_agency(two_agencies, agency_server):
    a = two_agencies["a"]
    client = integrator_of(a["agency"])
    agency_server.received.clear()
    check = client.post(f"/admin/plugin_configs/check/{a['config'].pk}/", follow=True).content.decode()
    assert "HTTP 200" in check and agency_server.received[-1].method == "HEAD"
    sent = client.post(f"/admin/plugin_configs/send-test/{a['config'].pk}/", follow=True).content.decode()
    assert "HTTP 200" in sent
    request = agency_server.received[-1]
    assert request.method == "POST"
    headers = request.headers
    assert signing.verify(
        SECRET, headers["x-tumen-timestamp"], [headers["x-tumen-submission"], headers["idempotency-key"]],
        request.body, headers["x-tumen-signature"],
    )  # fmt: skip
    body = json.loads(request.body)
    assert body["metadata"]["test"] is True and body["metadata"]["agency"] == a["agency"].code
    assert not Delivery.objects.filter(pk=headers["idempotency-key"]).exists(), "a test submission is stored nowhere"
    agency_server.plan = [503]
    failed = client.post(f"/admin/plugin_configs/send-test/{a['config'].pk}/", follow=True).content.decode()
    assert "HTTP 503" in failed
    # Viewing is not enough to call an agency's endpoint.
    moderator = logged_in(agency_member("a-moderator", a["agency"]))
    assert moderator.post(f"/admin/plugin_configs/check/{a['config'].pk}/").status_code == 404


def test_a_new_keys_secret_is_shown_once(two_agencies):
    a = two_agencies["a"]
    client = integrator_of(a["agency"])
    response = client.post("/admin/agency_keys/new/", {"agency": a["agency"].pk, "active": "on"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    key = AgencyCredential.objects.exclude(pk=a["key"].pk).get(agency=a["agency"])
    html = response.content.decode()
    assert key.secret in html and key.key_id in html
    for url in (f"/admin/agency_keys/inspect/{key.pk}/", f"/admin/agency_keys/edit/{key.pk}/", "/admin/agency_keys/"):
        assert key.secret not in client.get(url).content.decode(), url
