"""Search analytics for editors (issue #17, item 4): searches logged without personal data, clicks
and applications counted per service, the agency-scoped report, its one-step synonym and best bet,
the popularity boost in both search paths, and retention."""

import datetime
import os
import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.utils import timezone

from form_builder.submissions import application_for, submit
from search import analytics, embedded, finder, popularity
from search.editorial import Synonym
from search.models import SearchClick, SearchQueryLog, ServiceActivity
from search.params import parse_query
from service_pages.governance import sync_agency_groups
from service_pages.models import ServicePage
from tests.fuzz_site import GENERAL_ANSWERS

pytestmark = pytest.mark.django_db
ENGINE = bool(os.environ.get("SEARCH_URL"))
NOTHING = "зуурмагжуулалт"  # found in no service


@pytest.fixture(autouse=True)
def search_index(demo_catalog, capsys):
    finder.reset_engine_state()
    embedded.rebuild()
    if ENGINE:
        call_command("update_index")
    capsys.readouterr()
    yield
    popularity.forget()


def search(client, q, **params):
    response = client.get("/search/", {"q": q, **params})
    assert response.status_code == 200
    return response


def click_token(response) -> str:
    return re.search(r'data-click-token="([^"]+)"', response.content.decode()).group(1)


def member(username, *group_names):
    user = User.objects.create_user(username, password="pw")
    user.groups.add(*Group.objects.filter(name__in=group_names))
    return user


# -- logging -----------------------------------------------------------------------------------


def test_a_search_is_logged_without_personal_data(client):
    user = User.objects.create_user("citizen-like", password="pw")
    client.force_login(user)
    search(client, "Паспорт  УБ99010112 me@example.mn", HTTP_X_FORWARDED_FOR="203.0.113.9", REMOTE_ADDR="203.0.113.9")
    row = SearchQueryLog.objects.get()
    stored = {f.attname: getattr(row, f.attname) for f in SearchQueryLog._meta.fields if f.attname not in ("id", "token")}
    assert stored == {
        "day": timezone.localdate(),
        "text": "паспорт уб# @",  # lower case, the register number and the e-mail masked
        "query_key": stored["query_key"],
        "language": "mn",
        "result_count": stored["result_count"],
        "filters": "",
        "agencies": stored["agencies"],
    }
    assert isinstance(row.day, datetime.date) and not isinstance(row.day, datetime.datetime), "a day, no time"
    everything = " ".join(str(value) for value in stored.values())
    for personal in ("203.0.113", "99010112", "example.mn", "citizen-like", client.session.session_key):
        assert personal not in everything
    assert re.fullmatch(r"(\|\d+)+\|", stored["agencies"]), "the agencies of the services shown"


def test_only_the_first_page_of_a_search_with_words_is_logged(client):
    search(client, "иргэний үнэмлэх", page=2)
    client.get("/search/", {"agency": ServicePage.objects.live().first().agency.code})
    client.get("/api/v1/services/search", {"q": "паспорт"})
    assert not SearchQueryLog.objects.exists()


def test_a_zero_result_search_is_logged_with_its_count(client):
    search(client, NOTHING)
    assert SearchQueryLog.objects.get().result_count == 0


# -- clicks and applications -----------------------------------------------------------------


def test_a_click_is_counted_once_per_search_and_service(client):
    response = search(client, "гадаад паспорт")
    token = click_token(response)
    code = re.search(r'data-code="([^"]+)"', response.content.decode()).group(1)
    assert 'src="/static/search/clicks.js"' in response.content.decode()
    for _ in range(2):
        assert client.post("/search/click/", {"t": token, "code": code}).status_code == 204
    page = ServicePage.objects.by_code(code)
    assert SearchClick.objects.get().page == page
    assert ServiceActivity.objects.get(page=page).clicks == 1


@pytest.mark.parametrize("token, code", [("forged", "DEMO-00003"), (None, "NO-SUCH-CODE")])
def test_a_forged_click_is_refused_with_a_message(client, token, code):
    token = token or click_token(search(client, "гадаад паспорт"))
    response = client.post("/search/click/", {"t": token, "code": code})
    assert response.status_code == 400
    assert response.json()["error"]["message"]
    assert not ServiceActivity.objects.exists()


def test_an_application_counts_for_its_service():
    service = ServicePage.objects.live().canonical().filter(channel_online=True, stages__lte=1).order_by("code").first()
    submit(application_for(service), GENERAL_ANSWERS)
    activity = ServiceActivity.objects.get(page=service)
    assert (activity.applications, activity.clicks) == (1, 0)


# -- the report, its scope and its one-step fixes ------------------------------------------------


def two_agencies():
    """Two agencies' editors, and a query that shows services of A only."""
    sync_agency_groups()
    first = ServicePage.objects.live().canonical().order_by("code").first()
    other = ServicePage.objects.live().canonical().exclude(agency=first.agency).order_by("code").first()
    return first, other


def test_the_report_shows_top_zero_and_no_click_searches_to_the_national_team(client, admin_user):
    search(client, NOTHING)
    search(client, NOTHING.upper())  # the same search, typed differently
    search(client, "гадаад паспорт")
    client.force_login(admin_user)
    response = client.get("/admin/search-report/")
    assert response.status_code == 200
    html = response.content.decode()
    zero = html.split('data-report="zero"')[1].split("</table>")[0]
    assert f'data-query="{NOTHING}"' in zero and "<td>2</td>" in zero
    top = html.split('data-report="top"')[1].split("</table>")[0]
    assert 'data-query="гадаад паспорт"' in top
    no_click = html.split('data-report="no-click"')[1].split("</table>")[0]
    assert 'data-query="гадаад паспорт"' in no_click and NOTHING not in no_click


def test_agency_staff_see_only_searches_about_their_services(client):
    first, other = two_agencies()
    search(client, first.title, agency=first.agency.code)
    search(client, other.title, agency=other.agency.code)
    search(client, NOTHING)  # concerns no agency: the national team's
    editor = member("editor-a", f"{first.agency.code} editors")
    client.force_login(editor)
    html = client.get("/admin/search-report/").content.decode()
    assert first.title.lower() in html
    assert other.title.lower() not in html and NOTHING not in html
    assert client.get("/admin/search-report/", {"agency": other.agency.code}).status_code == 404
    assert client.get("/admin/search-report/", {"agency": first.agency.code}).status_code == 200
    # No snippet rights: no fix forms, and posting one is refused.
    assert 'data-fix="synonym"' not in html
    response = client.post("/admin/search-report/synonym/", {"query": NOTHING, "words": "паспорт"})
    assert response.status_code == 302 and response.url == "/admin/", "Wagtail's answer to PermissionDenied"
    assert not Synonym.objects.filter(terms__contains=NOTHING).exists()


def test_staff_of_no_agency_see_no_report(client):
    user = User.objects.create_user("nobody", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(user)
    response = client.get("/admin/search-report/")
    assert response.status_code == 302 and response.url == "/admin/"


def test_one_step_synonym_makes_the_zero_result_search_find_services(client, admin_user):
    search(client, NOTHING)
    client.force_login(admin_user)
    html = client.get("/admin/search-report/").content.decode()
    assert 'data-fix="synonym"' in html
    response = client.post("/admin/search-report/synonym/", {"query": NOTHING, "words": "гадаад паспорт"})
    assert response.status_code == 302
    results = finder.search(parse_query({"q": NOTHING}))
    assert results.count > 0 and "DEMO-00003" in [hit.page.code for hit in results.hits[:3]]


def test_one_step_best_bet_pins_a_service(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/admin/search-report/best-bet/", {"query": NOTHING, "code": "DEMO-00003"})
    assert response.status_code == 302
    hits = finder.search(parse_query({"q": NOTHING})).hits
    assert hits[0].page.code == "DEMO-00003" and hits[0].best_bet


@pytest.mark.parametrize(
    "url, data",
    [("/admin/search-report/synonym/", {"query": NOTHING, "words": " "}),
     ("/admin/search-report/synonym/", {"query": "паспорт", "words": "ПАСПОРТ"}),
     ("/admin/search-report/best-bet/", {"query": NOTHING, "code": "NO-SUCH"})],
)  # fmt: skip
def test_a_bad_fix_is_a_400_with_a_message(client, admin_user, url, data):
    client.force_login(admin_user)
    response = client.post(url, data)
    assert response.status_code == 400
    assert "data-report-error" in response.content.decode()


# -- popularity --------------------------------------------------------------------------------


def _close_runner_up(q: str):
    """A hit below the first whose score is within popularity's reach, and the first."""
    hits = finder.search(parse_query({"q": q})).hits
    top = hits[0]
    runner = next(hit for hit in hits[1:] if hit.score * 1.25 > top.score)
    return top.page, runner.page


def popularity_moves_a_service_up(q: str, on_commit, settings):
    settings.TUMEN_SEARCH_POPULARITY_WEIGHT = 0.05  # the boost on, whatever the shipped default
    top, runner = _close_runner_up(q)
    ServiceActivity.objects.create(page=runner, week=popularity.week_of(timezone.localdate()), clicks=5000)
    with on_commit(execute=True):  # the engine's copy is rewritten once the scores are committed
        assert popularity.refresh() == [runner.pk]
    hits = finder.search(parse_query({"q": q})).hits
    assert hits[0].page == runner, "the popular service comes first"
    assert top in [hit.page for hit in hits]
    settings.TUMEN_SEARCH_POPULARITY_WEIGHT = 0  # switched off: the order of relevance alone
    assert finder.search(parse_query({"q": q})).hits[0].page == top


def test_popularity_changes_the_order_in_the_embedded_path(django_capture_on_commit_callbacks, settings):
    if ENGINE:
        pytest.skip("the services suite searches through the engine (see the engine test)")
    popularity_moves_a_service_up("иргэний үнэмлэх", django_capture_on_commit_callbacks, settings)


@pytest.mark.engine
def test_popularity_changes_the_order_in_the_engine_path(django_capture_on_commit_callbacks, settings):
    results = finder.search(parse_query({"q": "иргэний үнэмлэх"}))
    assert results.source == "engine"
    popularity_moves_a_service_up("иргэний үнэмлэх", django_capture_on_commit_callbacks, settings)


def test_popularity_counts_recent_weeks_only():
    page = ServicePage.objects.live().canonical().first()
    old = popularity.week_of(timezone.localdate()) - datetime.timedelta(weeks=popularity.WINDOW_WEEKS)
    ServiceActivity.objects.create(page=page, week=old, clicks=10, applications=10)
    assert popularity.refresh() == []


# -- retention ---------------------------------------------------------------------------------


def test_old_searches_and_clicks_are_deleted(client):
    token = click_token(search(client, "гадаад паспорт"))
    client.post("/search/click/", {"t": token, "code": "DEMO-00003"})
    later = timezone.localdate() + datetime.timedelta(days=analytics.retention_days() + 1)
    assert analytics.purge(today=later) == 1
    assert not SearchQueryLog.objects.exists() and not SearchClick.objects.exists()
    assert ServiceActivity.objects.exists(), "the weekly counts per service hold no query and stay"
