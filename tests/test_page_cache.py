"""The page cache (cms.page_cache): anonymous readers of a service page share one rendering, and
nobody ever sees a stale, another language's, another reader's or a restricted page from it."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import caches
from django.test import Client
from wagtail.models import Locale, PageViewRestriction

from service_pages.models import Agency, ServicePage
from tests.test_signin import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def page_cache(settings):
    settings.TUMEN_PAGE_CACHE_SECONDS = 300
    caches["pages"].clear()
    yield
    caches["pages"].clear()


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.live().canonical().filter(channel_online=True).order_by("code").first()


def english_of(page):
    return page.get_translation(Locale.objects.get(language_code="en"))


def get(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response


def test_the_second_anonymous_reader_gets_the_same_page_from_the_cache(client, service):
    first = get(client, service.url)
    assert first["X-Tumen-Page-Cache"] == "miss"
    second = get(Client(), service.url)
    assert second["X-Tumen-Page-Cache"] == "hit"
    assert second.content == first.content
    # The security headers came with it.
    assert second["Content-Security-Policy"] == first["Content-Security-Policy"]
    assert second["Content-Language"] == "mn"
    assert "Set-Cookie" not in second


def test_a_published_change_is_visible_at_once(client, service):
    get(client, service.url)
    assert get(client, service.url)["X-Tumen-Page-Cache"] == "hit"
    revision = service.get_latest_revision_as_object()
    revision.summary = "Шинэчилсэн товч тайлбар"
    revision.save_revision().publish()
    assert "Шинэчилсэн товч тайлбар" in get(client, service.url).content.decode()


def test_unpublishing_moving_and_deleting_reach_the_cached_page(client, service):
    url = service.url
    get(client, url)
    get(client, url)
    service.unpublish()
    assert client.get(url).status_code == 404
    service.get_latest_revision().publish()
    get(client, url)
    get(client, url)
    service.delete()
    assert client.get(url).status_code == 404


def test_an_agency_name_change_is_visible_at_once(client, service, django_capture_on_commit_callbacks):
    get(client, service.url)
    agency = Agency.objects.get(pk=service.agency_id)
    agency.name_mn = "Шинэ нэртэй агентлаг"
    with django_capture_on_commit_callbacks(execute=True):  # the purge waits for the commit
        agency.save()
    assert "Шинэ нэртэй агентлаг" in get(client, service.url).content.decode()


def test_the_english_and_mongolian_pages_never_mix(client, service):
    english = english_of(service)
    for _ in range(2):
        mongolian_page = get(client, service.url)
        english_page = get(client, english.url)
        assert mongolian_page["Content-Language"] == "mn" and b'<html lang="mn">' in mongolian_page.content
        assert english_page["Content-Language"] == "en" and b'<html lang="en">' in english_page.content
    assert english_page["X-Tumen-Page-Cache"] == mongolian_page["X-Tumen-Page-Cache"] == "hit"
    # An English reader's browser asking for the Mongolian URL still gets the Mongolian page.
    assert b'<html lang="mn">' in client.get(service.url, HTTP_ACCEPT_LANGUAGE="en").content


def test_a_signed_in_citizen_is_never_served_or_stored(signin_settings, service):
    anonymous = Client()
    get(anonymous, service.url)  # cached for anonymous readers
    citizen = Client()
    sign_in(citizen, "bold")
    page = get(citizen, service.url)
    assert "X-Tumen-Page-Cache" not in page  # not from the cache, and not stored
    assert 'data-testid="citizen-name"' in page.content.decode()
    again = get(Client(), service.url)
    assert again["X-Tumen-Page-Cache"] == "hit"
    assert 'data-testid="citizen-name"' not in again.content.decode()
    assert "csrfmiddlewaretoken" not in again.content.decode()


def test_a_restricted_page_is_never_cached_for_anyone(client, service, django_capture_on_commit_callbacks):
    url = service.url
    get(client, url)
    assert get(client, url)["X-Tumen-Page-Cache"] == "hit"
    group = Group.objects.create(name="Inspectors")
    with django_capture_on_commit_callbacks(execute=True):  # restricting purges the public copy
        restriction = PageViewRestriction.objects.create(
            page=service.get_parent(), restriction_type=PageViewRestriction.GROUPS
        )
    restriction.groups.add(group)
    inspector = User.objects.create_user("inspector", password="x")
    inspector.groups.add(group)
    staff = Client()
    staff.force_login(inspector)
    for _ in range(2):
        assert get(staff, url).content.decode().count(service.title)
    assert client.get(url).status_code == 302  # to the sign-in page, not the inspector's copy
    assert client.get(url).status_code == 302

    restriction.delete()
    password = PageViewRestriction.objects.create(
        page=service, restriction_type=PageViewRestriction.PASSWORD, password="x"
    )
    form = get(client, url)
    assert 'name="password"' in form.content.decode() and "X-Tumen-Page-Cache" not in form
    passed = Client()
    assert (
        passed.post(
            f"/_util/authenticate_with_password/{password.pk}/{service.pk}/", {"password": "x", "return_url": url}
        ).status_code
        == 302
    )
    assert service.title in get(passed, url).content.decode()
    assert 'name="password"' in get(Client(), url).content.decode()


def test_a_reader_with_a_message_or_a_query_string_is_served_fresh(client, service):
    get(client, service.url)
    client.cookies["messages"] = "anything"
    assert "X-Tumen-Page-Cache" not in get(client, service.url)
    assert "X-Tumen-Page-Cache" not in get(Client(), service.url + "?utm_source=x")


def test_the_cache_can_be_switched_off(settings, client, service):
    settings.TUMEN_PAGE_CACHE_SECONDS = 0
    get(client, service.url)
    assert "X-Tumen-Page-Cache" not in get(client, service.url)
