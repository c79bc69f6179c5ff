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

from form_builder.models import OperatorProfile, Submission
from search import embedded, service
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
    service.reset_engine_state()
    embedded.rebuild()


def test_a_restricted_service_is_found_by_no_search_until_the_restriction_goes(client, embedded_search):
    page = passport()
    assert PASSPORT in search_codes(client, "гадаад паспорт")[:3]
    restriction = restrict(page)
    assert PASSPORT not in search_codes(client, "гадаад паспорт")
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

    service.reset_engine_state()
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
    response = client.post(f"/apply/{PASSPORT}/review/", {"in_person_reason": "Иргэн биеэр ирж баталгаажуулав"})
    assert response.status_code == 302, response.content.decode()[:2000]
    submission = Submission.objects.get(service_code=PASSPORT)
    assert submission.source == "operator"


def test_an_online_only_service_stays_open_to_citizens_and_operators(client, demo_catalog):
    page = passport()
    page.channel_online, page.channel_operator = True, False
    page.save_revision().publish()
    assert post_api(client, PASSPORT, answers()).status_code == 201
    assert operator_client().get(f"/operator/apply/{PASSPORT}/").status_code == 200
