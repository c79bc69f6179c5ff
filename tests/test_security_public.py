"""Issue #13, findings 3–5: what the public (anonymous citizens) can reach and how much of it.

3. A service under a view restriction (password or groups) is neither found nor applied for.
4. A service offered only through soum operators takes no anonymous online application.
5. One person cannot use up a service's rate limit for everybody.
"""

import os

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from wagtail.models import PageViewRestriction

from form_builder import ratelimit
from form_builder.models import OperatorProfile, RateLimitCounter, Submission
from search import embedded, finder
from service_pages.models import ServicePage, Soum

pytestmark = pytest.mark.django_db
PASSPORT = "DEMO-00003"  # "Гадаад паспорт олгох", under the ubeg agency page
ENGINE = os.environ.get("SEARCH_URL")


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"


def soum_code():
    return Soum.objects.filter(aimag__code="65").values_list("code", flat=True).first()


def answers(**changes):
    data = {
        "register_number": "УБ99010112",
        "last_name": "Бат",
        "first_name": "Дорж",
        "phone": "9911 2233",
        "address": {"aimag": "65", "soum": soum_code(), "bag": "3-р баг"},
        "request": "Гадаад паспорт авах хүсэлтэй байна.",
        "consent": True,
    }
    data.update(changes)
    return data


def post_api(client, code, data, **extra):
    return client.post(f"/api/v1/services/{code}/submissions", {"data": data}, content_type="application/json", **extra)


def search_codes(client, q) -> list[str]:
    response = client.get("/api/v1/services/search", {"q": q})
    assert response.status_code == 200, response.content
    return [hit["code"] for hit in response.json()["results"]]


def autocomplete_titles(client, q) -> list[str]:
    response = client.get("/api/v1/services/autocomplete", {"q": q})
    assert response.status_code == 200
    return [item["title"] for item in response.json()["results"]]


def passport():
    return ServicePage.objects.by_code(PASSPORT)


def restrict(page, **fields):
    fields.setdefault("restriction_type", PageViewRestriction.PASSWORD)
    fields.setdefault("password", "secret-preview")
    return PageViewRestriction.objects.create(page=page, **fields)


def operator_client(username="public-op"):
    user = User.objects.create_user(username, password="pw")
    OperatorProfile.objects.create(user=user, role="operator", soum=Soum.objects.order_by("code").first(), office_name="office")
    client = Client()
    client.force_login(user)
    return client


# -- 3. view restrictions ------------------------------------------------------------------------


@pytest.fixture
def embedded_search(demo_catalog, settings):
    """The embedded path, whatever the environment says (the engine test is separate)."""
    from search.backends import DATABASE_BACKEND

    settings.WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": DATABASE_BACKEND}}
    finder.reset_engine_state()
    embedded.rebuild()


def test_a_restricted_service_is_found_by_no_search_until_the_restriction_goes(client, embedded_search):
    page = passport()
    assert PASSPORT in search_codes(client, "гадаад паспорт")[:3]
    before = client.get("/api/v1/services/search", {"q": "гадаад паспорт"}).json()["count"]
    restriction = restrict(page)
    assert PASSPORT not in search_codes(client, "гадаад паспорт")
    assert client.get("/api/v1/services/search", {"q": "гадаад паспорт"}).json()["count"] == before - 1
    assert PASSPORT not in search_codes(client, "")  # browsing without words, and the facet counts
    html = client.get("/search/", {"q": "гадаад паспорт"}).content.decode()
    assert "Гадаад паспорт олгох" not in html
    assert "Гадаад паспорт олгох" not in autocomplete_titles(client, "гадаад пасп")
    restriction.delete()
    assert PASSPORT in search_codes(client, "гадаад паспорт")[:3]
    assert "Гадаад паспорт олгох" in autocomplete_titles(client, "гадаад пасп")


def test_restricting_an_agency_page_hides_every_service_below_it(client, embedded_search):
    agency_page = passport().get_parent()
    group = Group.objects.create(name="preview")
    restriction = restrict(agency_page, restriction_type=PageViewRestriction.GROUPS, password="")
    restriction.groups.add(group)
    assert PASSPORT not in search_codes(client, "гадаад паспорт")
    browsed = client.get("/api/v1/services/search", {"agency": passport().agency.code}).json()
    below = set(ServicePage.objects.canonical().child_of(agency_page).values_list("code", flat=True))
    assert not below & {hit["code"] for hit in browsed["results"]}
    embedded.rebuild()  # a full rebuild leaves it out too
    assert PASSPORT not in search_codes(client, "гадаад паспорт")
    # The restricted page itself still works for its allowed users, through Wagtail.
    url = passport().url
    assert client.get(url).status_code == 302  # to the login page
    member = User.objects.create_user("preview-member", password="pw")
    member.groups.add(group)
    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200 and "Гадаад паспорт олгох" in response.content.decode()


def test_a_service_moved_into_a_restricted_section_leaves_search(client, embedded_search):
    from service_pages.models import AgencyPage

    page = passport()
    home = page.get_parent()
    elsewhere = AgencyPage.objects.canonical().exclude(pk=home.pk).order_by("pk").first()
    restrict(elsewhere)
    before = client.get("/api/v1/services/search", {"q": "гадаад паспорт"}).json()["count"]
    page.move(elsewhere, pos="last-child")
    after = client.get("/api/v1/services/search", {"q": "гадаад паспорт"}).json()
    assert PASSPORT not in [hit["code"] for hit in after["results"]]
    assert after["count"] == before - 1, "not counted either: it left the index"
    passport().move(home, pos="last-child")  # and back out: found again
    assert PASSPORT in search_codes(client, "гадаад паспорт")[:3]


def test_a_best_bet_does_not_pin_a_restricted_service(client, embedded_search):
    from search.editorial import BestBet, BestBetService

    bet = BestBet.objects.create(query="паспорт хэрэгтэй")
    BestBetService.objects.create(best_bet=bet, service=passport())
    assert search_codes(client, "паспорт хэрэгтэй")[:1] == [PASSPORT]
    restrict(passport())
    assert PASSPORT not in search_codes(client, "паспорт хэрэгтэй")


def test_a_restricted_service_refuses_applications_on_every_path(client, demo_catalog):
    page = passport()
    restrict(page)
    response = post_api(client, PASSPORT, answers())
    assert response.status_code == 409 and response.json()["error"]["code"] == "service_restricted"
    assert response.json()["error"]["message"]["en"]
    assert client.get(f"/api/v1/services/{PASSPORT}/form").status_code == 409
    response = client.get(f"/apply/{PASSPORT}/step/1/")
    assert response.status_code == 409
    assert operator_client().get(f"/operator/apply/{PASSPORT}/").status_code == 409
    assert Submission.objects.filter(service_code=PASSPORT).count() == 0
    # A restriction on the agency page applies to the services below it.
    PageViewRestriction.objects.all().delete()
    assert post_api(client, PASSPORT, answers()).status_code == 201
    restrict(page.get_parent())
    assert post_api(client, PASSPORT, answers()).status_code == 409


def test_a_draft_started_before_the_restriction_cannot_be_submitted(client, demo_catalog):
    page = passport()
    step = {"register_number": "уб99010112", "last_name": "Бат", "first_name": "Дорж", "phone": "99112233",
            "address_0": "65", "address_1": soum_code(), "address_2": "", "action": "next"}  # fmt: skip
    assert client.post(f"/apply/{PASSPORT}/step/1/", step).status_code == 302
    client.post(f"/apply/{PASSPORT}/step/2/", {"request": "Хүсэлт", "consent": "on", "action": "next"})
    restrict(page)
    assert client.post(f"/apply/{PASSPORT}/review/").status_code == 409
    assert Submission.objects.filter(service_code=PASSPORT).count() == 0


@pytest.mark.engine
def test_a_restricted_service_is_not_found_by_the_engine(client, demo_catalog, capsys):
    from wagtail.search.backends import get_search_backend

    def refresh():
        get_search_backend().get_index_for_model(ServicePage).refresh()

    finder.reset_engine_state()
    embedded.rebuild()
    call_command("update_index")
    capsys.readouterr()
    refresh()
    page = passport()

    def engine_codes(q):
        response = client.get("/api/v1/services/search", {"q": q})
        assert response.json()["source"] == "engine"
        return [hit["code"] for hit in response.json()["results"]]

    assert PASSPORT in engine_codes("гадаад паспорт")[:3]
    restriction = restrict(page.get_parent())
    refresh()
    assert PASSPORT not in engine_codes("гадаад паспорт")
    assert "Гадаад паспорт олгох" not in autocomplete_titles(client, "гадаад пасп")
    call_command("update_index")  # a rebuild keeps it out
    capsys.readouterr()
    refresh()
    assert PASSPORT not in engine_codes("гадаад паспорт")
    restriction.delete()
    refresh()
    assert PASSPORT in engine_codes("гадаад паспорт")[:3]
    assert "Гадаад паспорт олгох" in autocomplete_titles(client, "гадаад пасп")


# -- 4. channels depend on who applies ---------------------------------------------------------


@pytest.fixture
def operator_only(demo_catalog):
    page = passport()
    page.channel_online, page.channel_operator = False, True
    page.save_revision().publish()
    return ServicePage.objects.by_code(PASSPORT)


def test_an_operator_only_service_refuses_anonymous_online_applications(client, operator_only):
    response = post_api(client, PASSPORT, answers())
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "operator_only"
    assert "soum operator" in error["message"]["en"] and error["message"]["mn"]
    assert client.get(f"/api/v1/services/{PASSPORT}/form").status_code == 409
    response = client.get(f"/en/apply/{PASSPORT}/step/1/")
    assert response.status_code == 409 and "soum operator" in response.content.decode()
    assert Submission.objects.count() == 0


def test_operators_still_apply_for_citizens_on_an_operator_only_service(operator_only):
    client = operator_client()
    citizen = {"register_number": "чб88051234", "last_name": "Дорж", "first_name": "Сараа", "phone": "8811 2233"}
    response = client.post(f"/operator/apply/{PASSPORT}/", citizen)
    assert response.status_code == 302 and response.url.endswith("/step/1/")
    soum = Soum.objects.order_by("code").first()
    response = client.post(f"/apply/{PASSPORT}/step/1/", {**citizen, "address_0": soum.aimag.code, "address_1": soum.code,
                                                          "address_2": "", "action": "next"})  # fmt: skip
    assert response.status_code == 302 and response.url.endswith("/step/2/")
    client.post(f"/apply/{PASSPORT}/step/2/", {"request": "Иргэний өмнөөс", "consent": "on", "action": "next"})
    response = client.post(f"/apply/{PASSPORT}/review/", {"in_person_reason": "no_phone", "id_document_type": "national_id", "id_document_number": "0456789", "in_person_checked": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    submission = Submission.objects.get(service_code=PASSPORT)
    assert submission.source == "operator"


def test_an_online_only_service_stays_open_to_citizens_and_operators(client, demo_catalog):
    page = passport()
    page.channel_online, page.channel_operator = True, False
    page.save_revision().publish()
    assert post_api(client, PASSPORT, answers()).status_code == 201
    assert operator_client().get(f"/operator/apply/{PASSPORT}/").status_code == 200


# -- 5. rate limits nobody can use up for everybody --------------------------------------------


def test_a_flood_of_bad_requests_does_not_block_a_good_applicant(client, demo_catalog, settings):
    settings.TUMEN_RATE_PER_IP = "0"
    settings.TUMEN_RATE_PER_SERVICE = "3/h"
    for n in range(10):
        address = f"10.66.{n}.1"
        assert post_api(client, PASSPORT, answers(phone="not a phone"), REMOTE_ADDR=address).status_code == 400
        bad_body = client.post(f"/api/v1/services/{PASSPORT}/submissions", "{", content_type="application/json", REMOTE_ADDR=address)
        assert bad_body.status_code == 400
    assert post_api(client, PASSPORT, answers(), REMOTE_ADDR="10.1.1.1").status_code == 201
    # Valid applications still count: the limit holds for a real flood.
    assert post_api(client, PASSPORT, answers(), REMOTE_ADDR="10.1.1.2").status_code == 201
    assert post_api(client, PASSPORT, answers(), REMOTE_ADDR="10.1.1.3").status_code == 201
    refused = post_api(client, PASSPORT, answers(), REMOTE_ADDR="10.1.1.4")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"


def test_bad_uploads_in_the_html_steps_do_not_use_up_the_service(demo_catalog, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.TUMEN_RATE_PER_IP = "0"
    settings.TUMEN_RATE_PER_SERVICE = "1/h"
    step1 = {"register_number": "уб99010112", "last_name": "Бат", "first_name": "Дорж", "phone": "99112233",
             "address_0": "65", "address_1": soum_code(), "address_2": "", "action": "next"}  # fmt: skip
    step2 = {"request": "Хүсэлт", "consent": "on", "action": "next"}
    for n in range(5):
        flooder = Client(REMOTE_ADDR=f"10.5.0.{n}")
        flooder.post(f"/apply/{PASSPORT}/step/1/", step1)
        forged = SimpleUploadedFile("scan.png", b"MZ not an image", content_type="image/png")
        assert flooder.post(f"/apply/{PASSPORT}/step/2/", {**step2, "attachment": forged}).status_code == 400
    applicant = Client(REMOTE_ADDR="10.6.0.1")
    applicant.post(f"/apply/{PASSPORT}/step/1/", step1)
    scan = SimpleUploadedFile("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, content_type="image/png")
    response = applicant.post(f"/apply/{PASSPORT}/step/2/", {**step2, "attachment": scan})
    assert response.status_code == 302 and response.url.endswith("/review/")


def test_one_address_cannot_fill_the_database_with_drafts(demo_catalog, settings):
    """Each first step without a draft makes one (kept for days): the per-address limit applies."""
    from form_builder.models import Draft

    settings.TUMEN_RATE_PER_IP = "2/m"
    step1 = {"register_number": "уб99010112", "last_name": "Бат", "first_name": "Дорж", "phone": "99112233",
             "address_0": "65", "address_1": soum_code(), "address_2": "", "action": "next"}  # fmt: skip
    answers_codes = [Client(REMOTE_ADDR="10.7.0.1").post(f"/apply/{PASSPORT}/step/1/", step1).status_code for _ in range(4)]
    assert answers_codes == [302, 302, 429, 429]
    assert Draft.objects.count() == 2
    assert Client(REMOTE_ADDR="10.8.0.1").post(f"/apply/{PASSPORT}/step/1/", step1).status_code == 302, "others are not blocked"


def test_closed_and_unknown_services_do_not_count_or_create_counters(client, demo_catalog, settings):
    settings.TUMEN_RATE_PER_IP = "0"
    settings.TUMEN_RATE_PER_SERVICE = "1/h"
    for n in range(20):
        assert post_api(client, f"NO-SUCH-{n}", answers(), REMOTE_ADDR=f"10.7.0.{n}").status_code == 404
    assert RateLimitCounter.objects.count() == 0
    page = passport()
    page.accepts_applications = False
    page.save_revision().publish()
    assert post_api(client, PASSPORT, answers()).status_code == 409
    assert RateLimitCounter.objects.count() == 0


def test_expired_counter_rows_are_cleaned_up(demo_catalog, settings):
    rate = ratelimit.Rate.parse("5/m")
    for n in range(30):
        assert ratelimit.hit(f"submit:ip:10.0.0.{n}", rate, now=1_000).allowed
    assert RateLimitCounter.objects.count() == 30
    ratelimit.hit("submit:ip:10.9.9.9", rate, now=1_000 + 3600)  # an hour later, a new key
    assert list(RateLimitCounter.objects.values_list("key", flat=True)) == ["submit:ip:10.9.9.9"]
    # The daily housekeeping command clears them too.
    ratelimit.hit("submit:ip:10.9.9.8", rate, now=1_000 + 3600)
    assert ratelimit.purge_expired_counters(now=1_000 + 7200) == 2
    assert RateLimitCounter.objects.count() == 0


@pytest.mark.parametrize(
    "first, second, shared",
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", True),  # one /64
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),  # two /64s
        ("::ffff:10.1.2.3", "10.1.2.3", True),  # IPv4-mapped IPv6 is the IPv4 address
        ("10.1.2.3", "10.1.2.4", False),  # IPv4: each address apart
    ],
)
def test_the_per_address_limit_buckets_ipv6_by_64(client, demo_catalog, settings, first, second, shared):
    settings.TUMEN_RATE_PER_IP = "1/m"
    settings.TUMEN_RATE_PER_SERVICE = "0"
    assert post_api(client, PASSPORT, answers(), REMOTE_ADDR=first).status_code == 201
    assert post_api(client, PASSPORT, answers(), REMOTE_ADDR=second).status_code == (429 if shared else 201)


def test_forwarded_ipv6_addresses_are_bucketed_too(rf, settings):
    settings.TUMEN_TRUSTED_PROXIES = 1
    request = rf.get("/", HTTP_X_FORWARDED_FOR="2001:db8:aa:bb:1:2:3:4", REMOTE_ADDR="10.0.0.1")
    assert ratelimit.client_bucket(request) == "2001:db8:aa:bb::/64"
    request = rf.get("/", REMOTE_ADDR="not an address")
    assert ratelimit.client_bucket(request) == "not an address"
