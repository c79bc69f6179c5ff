"""Mongolian first, English second: the English page tree, the language switcher, canonical
service lookups, search in both languages, agency rights on the English pages, translate_catalog.

The demo catalog (tests/conftest.py) is loaded with its English tree, as `make run` does.
"""

import os
import re

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from wagtail.models import Page, Revision

from form_builder.models import Submission
from service_pages.bulk import import_service_rows
from service_pages.catalog import read_csv
from service_pages.governance import sync_agency_groups
from service_pages.management.commands.load_demo_catalog import DEMO_DIR
from service_pages.models import AgencyPage, ServicePage
from service_pages.translations import translate

pytestmark = pytest.mark.django_db

PASSPORT = "DEMO-00003"  # "Гадаад паспорт олгох" / "Issue a passport"
SWITCH_LINK = re.compile(r'<li><a href="([^"]*)" hreflang="(\w+)"')


def english(code: str) -> ServicePage:
    return ServicePage.objects.in_language("en").get(code=code)


def switcher(html: str) -> dict[str, str]:
    """The language switcher's links: {language code: href}."""
    return {code: href for href, code in SWITCH_LINK.findall(html)}


def h1(html: str) -> str:
    return re.search(r"<h1>(.*?)</h1>", html, re.S).group(1).strip()


def demo_row(code: str) -> dict:
    return next(dict(row) for row in read_csv(DEMO_DIR / "services.csv") if row["code"] == code)


# -- pages in both languages --------------------------------------------------------------------


def test_the_english_translation_is_served_under_en_with_its_english_title(client, demo_catalog):
    original = ServicePage.objects.by_code(PASSPORT)
    page = english(PASSPORT)
    assert page.translation_key == original.translation_key and page.pk != original.pk
    assert page.title == "Issue a passport" and page.fee_mnt == original.fee_mnt
    assert page.url == "/en/uilchilgee/ubeg/demo-00003/"
    response = client.get(page.url)
    html = response.content.decode()
    assert response.status_code == 200 and response.context["page"].pk == page.pk
    assert 'lang="en"' in html and h1(html) == "Issue a passport"
    assert 'data-testid="untranslated-notice"' not in html


def test_the_mongolian_page_stays_at_the_root(client, demo_catalog):
    original = ServicePage.objects.by_code(PASSPORT)
    assert original.url == "/uilchilgee/ubeg/demo-00003/"
    html = client.get(original.url).content.decode()
    assert 'lang="mn"' in html and h1(html) == "Гадаад паспорт олгох"
    home = client.get("/").content.decode()
    assert h1(home) == "Төрийн үйлчилгээ"


def test_the_english_home_catalog_and_agency_pages(client, demo_catalog):
    home = client.get("/en/").content.decode()
    assert h1(home) == "Public services"
    services = ServicePage.objects.live().canonical().count()
    assert f"{services} services in the catalog" in home, "each service is counted once"
    agency = client.get("/en/uilchilgee/ubeg/").content.decode()
    assert h1(agency) == "General Authority for State Registration"
    assert 'href="/en/uilchilgee/ubeg/demo-00003/">Issue a passport</a>' in agency
    catalog = client.get("/en/uilchilgee/").content.decode()
    assert 'href="/en/uilchilgee/ubeg/"' in catalog


def test_the_language_switcher_points_to_the_translation(client, demo_catalog):
    original, page = ServicePage.objects.by_code(PASSPORT), english(PASSPORT)
    # A translator gave the English page its own URL: the switcher follows the translation, not the path.
    page.slug = "passport"
    page.save_revision().publish()
    page.refresh_from_db()
    assert page.url == "/en/uilchilgee/ubeg/passport/"
    assert switcher(client.get(original.url).content.decode()) == {"mn": original.url, "en": page.url}
    assert switcher(client.get(page.url).content.decode()) == {"mn": original.url, "en": page.url}
    assert switcher(client.get("/").content.decode()) == {"mn": "/", "en": "/en/"}


def test_the_language_switcher_on_other_views_keeps_the_path(client, demo_catalog):
    links = switcher(client.get("/search/", {"q": "паспорт"}).content.decode())
    assert links == {"mn": "/search/?q=%D0%BF%D0%B0%D1%81%D0%BF%D0%BE%D1%80%D1%82",
                     "en": "/en/search/?q=%D0%BF%D0%B0%D1%81%D0%BF%D0%BE%D1%80%D1%82"}  # fmt: skip
    assert switcher(client.get("/en/track/").content.decode()) == {"mn": "/track/", "en": "/en/track/"}
    links = switcher(client.get(f"/en/apply/{PASSPORT}/step/1/").content.decode())
    assert links == {"mn": f"/apply/{PASSPORT}/step/1/", "en": f"/en/apply/{PASSPORT}/step/1/"}


@pytest.mark.parametrize("how", ["deleted", "draft"])
def test_a_service_without_an_english_page_is_shown_in_mongolian_with_a_notice(client, demo_catalog, how):
    original = ServicePage.objects.by_code("DEMO-00002")
    if how == "deleted":
        english("DEMO-00002").delete()
    else:
        english("DEMO-00002").unpublish()  # e.g. a translator's work in progress
    path = "/en/uilchilgee/ubeg/demo-00002/"
    response = client.get(path)
    html = response.content.decode()
    assert response.status_code == 200 and response.context["page"].pk == original.pk
    assert 'lang="en"' in html and h1(html) == original.title
    assert 'data-testid="untranslated-notice"' in html and "shown in its original language (Mongolian)" in html
    assert switcher(html) == {"mn": original.url, "en": path}
    # The English agency page still lists it, in Mongolian.
    listing = client.get("/en/uilchilgee/ubeg/").content.decode()
    assert f'href="{original.url}">{original.title}</a>' in listing
    assert client.get("/en/uilchilgee/ubeg/no-such-service/").status_code == 404


def test_an_english_copy_still_in_mongolian_says_so(client, demo_catalog):
    html = client.get(english(PASSPORT).url).content.decode()
    assert 'data-testid="partly-untranslated-notice"' in html, "its summary is still the Mongolian text"
    page = english(PASSPORT)
    page.summary, page.description = "The passport office issues passports.", "<p>Apply online.</p>"
    page.save_revision().publish()
    html = client.get(page.url).content.decode()
    assert "notice" not in re.sub(r"<head>.*</head>", "", html, flags=re.S)


# -- one service, one code: applications refer to the original ----------------------------------


def test_apply_track_and_api_by_code_refer_to_the_mongolian_original(client, demo_catalog):
    original = ServicePage.objects.by_code("DEMO-00001")
    page = english("DEMO-00001")
    assert original.code == page.code
    html = client.get(page.url).content.decode()
    assert 'href="/en/apply/DEMO-00001/"' in html, "the English page's Apply button stays in English"
    step = client.get("/en/apply/DEMO-00001/step/1/")
    assert step.status_code == 200
    assert f'<a href="{page.url}">{page.title}</a>' in step.content.decode(), "the form links back to the English page"
    form = client.get("/api/v1/services/DEMO-00001/form", HTTP_ACCEPT_LANGUAGE="en")
    assert form.status_code == 200 and form.json()["service"]["code"] == "DEMO-00001"
    answers = {
        "register_number": "УБ99010112", "last_name": "Бат", "first_name": "Дорж", "phone": "9911 2233",
        "address": {"aimag": "65", "soum": "6504", "bag": ""}, "request": "Please", "consent": True,
    }  # fmt: skip
    response = client.post(
        "/api/v1/services/DEMO-00001/submissions", {"data": answers}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    submission = Submission.objects.get(tracking_code=response.json()["tracking_code"])
    assert submission.service_id == original.pk and submission.service_code == "DEMO-00001"
    assert submission.service.locale.language_code == "mn"
    assert client.get(f"/en/track/{submission.tracking_code}/").status_code == 200


def test_a_service_code_is_unique_per_language(demo_catalog):
    original = ServicePage.objects.by_code(PASSPORT)
    assert ServicePage.objects.filter(code=PASSPORT).count() == 2, "the same code in Mongolian and English"
    # A second Mongolian page with that code is refused, with a message on the code field ...
    duplicate = ServicePage(title="Давхар", code=PASSPORT, agency=original.agency, slug="davhar")
    with pytest.raises(ValidationError) as error:
        original.get_parent().add_child(instance=duplicate)
    assert "code" in error.value.message_dict
    # ... and by the database, whatever writes it.
    other = ServicePage.objects.by_code("DEMO-00004")
    with pytest.raises(IntegrityError), transaction.atomic():
        ServicePage.objects.filter(pk=other.pk).update(code=PASSPORT)
    assert ServicePage.objects.by_code(PASSPORT).pk == original.pk


def test_the_admin_refuses_a_second_mongolian_page_with_a_code(admin_client, demo_catalog):
    from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text

    agency_page = AgencyPage.objects.canonical().get(agency__code="ubeg")

    def add(code, slug):
        data = nested_form_data({
            "title": "Шинэ үйлчилгээ", "slug": slug, "code": code, "agency": agency_page.agency_id,
            "description": rich_text(""), "fee_mnt": 0, "processing_days": 1, "stages": 1,
            "channel_online": "on", "accepts_applications": "on", "comments": inline_formset([]),
            "action-publish": "action-publish",
        })  # fmt: skip
        return admin_client.post(f"/admin/pages/add/service_pages/servicepage/{agency_page.pk}/", data)

    refused = add(PASSPORT, "davhar")
    assert refused.status_code == 200 and "code" in refused.context["form"].errors
    assert add("DEMO-NEW-1", "demo-new-1").status_code == 302
    created = ServicePage.objects.by_code("DEMO-NEW-1")
    assert created.live and created.page_locale_id == created.locale_id


# -- search -------------------------------------------------------------------------------------


@pytest.fixture
def fresh_search(demo_catalog):
    """With a search engine (services suite): an index rebuilt from this session's database.

    The engine's index outlives the test database, whose page ids start again each session.
    """
    from search import finder
    from search.failover import engine_configured

    if engine_configured():
        from wagtail.search.backends import get_search_backend

        with open(os.devnull, "w") as devnull:
            call_command("update_index", stdout=devnull)
        get_search_backend().get_index_for_model(ServicePage).refresh()
    finder.reset_engine_state()


def test_search_under_en_finds_each_service_once_and_links_to_its_english_page(client, fresh_search):
    html = client.get("/en/search/", {"q": "паспорт"}).content.decode()
    links = re.findall(r'<h3><a href="([^"]+)">([^<]+)</a></h3>', html)
    assert ("/en/uilchilgee/ubeg/demo-00003/", "Issue a passport") in links
    assert len(links) == len(set(links)) and all(href.startswith("/en/") for href, _title in links)
    body = client.get("/api/v1/services/search", {"q": "passport"}, HTTP_ACCEPT_LANGUAGE="en").json()
    codes = [hit["code"] for hit in body["results"]]
    assert PASSPORT in codes and len(codes) == len(set(codes))
    hit = next(hit for hit in body["results"] if hit["code"] == PASSPORT)
    assert hit["url"].endswith("/uilchilgee/ubeg/demo-00003/") and "/en/" not in hit["url"]
    assert hit["localized"] == {"language": "en", "title": "Issue a passport",
                                "url": "http://testserver/en/uilchilgee/ubeg/demo-00003/"}  # fmt: skip
    # Browsing a facet (no query text) counts every service once as well.
    ubeg = ServicePage.objects.live().canonical().filter(agency__code="ubeg").count()
    assert client.get("/api/v1/services/search", {"agency": "ubeg"}).json()["count"] == ubeg


def test_english_links_of_a_result_page_take_one_query(client, fresh_search):
    def queries(page_size):
        client.get("/en/search/", {"agency": "ubeg", "page_size": 1})  # warm the per-process caches
        with CaptureQueriesContext(connection) as captured:
            client.get("/en/search/", {"agency": "ubeg", "page_size": page_size})
        return len(captured)

    assert queries(2) == queries(20)


def test_only_the_originals_are_indexed(fresh_search):
    from search.models import SearchTerm

    assert not ServicePage.get_indexed_objects().filter(locale__language_code="en").exists()
    english_ids = ServicePage.objects.in_language("en").values("pk")
    assert not SearchTerm.objects.filter(page_id__in=english_ids).exists()
    page = english(PASSPORT)
    page.title = "Issue a passport (translated)"
    page.save_revision().publish()
    assert not SearchTerm.objects.filter(page_id=page.pk).exists(), "publishing a translation does not index it"
    found = list(ServicePage.objects.live().search("passport"))
    assert found and {result.locale.language_code for result in found} == {"mn"}


# -- governance ---------------------------------------------------------------------------------


@pytest.fixture
def agencies(demo_catalog):
    sync_agency_groups()
    return list(AgencyPage.objects.canonical().select_related("agency").order_by("path")[:2])


def member(username, *group_names):
    user = User.objects.create_user(username, password="pw")
    user.groups.add(*Group.objects.filter(name__in=group_names))
    return user


def english_service_of(agency_page) -> ServicePage:
    original = ServicePage.objects.child_of(agency_page).live().order_by("path").first()
    return english(original.code)


def refused(response) -> bool:
    """Wagtail's admin answers a denied page action with a redirect to the dashboard and an error message."""
    return response.status_code == 302 and response.url == "/admin/"


def test_an_agency_editor_edits_their_english_pages_and_no_others(agencies):
    own, other = agencies
    editor = member("editor", f"{own.agency.code} editors")
    mine, theirs = english_service_of(own), english_service_of(other)
    assert mine.permissions_for_user(editor).can_edit()
    assert not mine.permissions_for_user(editor).can_publish(), "English pages go through review too"
    assert mine.get_workflow().name == f"{own.agency.code} review"
    client = Client()
    client.force_login(editor)
    assert client.get(f"/admin/pages/{mine.pk}/edit/").status_code == 200
    denied = client.get(f"/admin/pages/{theirs.pk}/edit/")
    assert refused(denied)
    assert [message.level_tag for message in client.get(denied.url).context["messages"]] == ["error"]
    assert refused(client.post(f"/admin/pages/{theirs.pk}/unpublish/"))
    theirs.refresh_from_db()
    assert theirs.live


def test_an_agency_editor_may_translate_their_own_pages(agencies):
    own, other = agencies
    editor = member("translator", f"{own.agency.code} editors")
    client = Client()
    client.force_login(editor)
    mine = ServicePage.objects.child_of(own).first()
    theirs = ServicePage.objects.child_of(other).first()
    assert client.get(f"/admin/translation/submit/page/{mine.pk}/").status_code == 200
    assert refused(client.get(f"/admin/translation/submit/page/{theirs.pk}/"))


def test_a_new_english_agency_page_gets_the_agencys_rights(agencies):
    own, _other = agencies
    english_page = own.get_translations().get()
    english_page.delete()
    translate("en", [own.agency.code])
    english_page = own.get_translations().get().specific
    editor = member("editor", f"{own.agency.code} editors")
    assert english_page.permissions_for_user(editor).can_add_subpage()
    assert english_page.get_workflow().name == f"{own.agency.code} review"


def test_unpublishing_an_original_in_the_admin_unpublishes_its_translation(admin_client, demo_catalog):
    original = ServicePage.objects.by_code("DEMO-00002")
    assert admin_client.post(f"/admin/pages/{original.pk}/unpublish/").status_code == 302
    assert not ServicePage.objects.get(pk=original.pk).live
    assert not english("DEMO-00002").live


# -- translate_catalog and the import -------------------------------------------------------------


def test_translate_catalog_is_idempotent(demo_catalog, capsys):
    pages = Page.objects.count()
    services = ServicePage.objects.canonical().count()
    call_command("translate_catalog")
    call_command("translate_catalog", "--language", "en")
    out = capsys.readouterr().out
    assert Page.objects.count() == pages
    assert out.count(f"language=en created=0 updated=0 unchanged={services} ") == 2
    assert ServicePage.objects.in_language("en").count() == services


def test_translate_catalog_refuses_an_unknown_agency_or_language(demo_catalog):
    with pytest.raises(CommandError, match="no-such-agency"):
        call_command("translate_catalog", "--agency", "no-such-agency")
    with pytest.raises(CommandError):
        call_command("translate_catalog", "--language", "mn")


def test_translate_catalog_keeps_translator_edits_and_refreshes_the_rest(demo_catalog):
    edited, untouched = english("DEMO-00001"), english("DEMO-00002")
    edited.title = "Get your first ID card"  # a translator's wording
    edited.summary = "The registration office issues ID cards."
    edited.save_revision().publish()
    for code in ("DEMO-00001", "DEMO-00002"):
        original = ServicePage.objects.by_code(code)
        original.title_en = f"New catalog title {code}"
        original.summary = "Шинэчилсэн хураангуй"
        original.fee_mnt = 4321
        original.save_revision().publish()
    report = translate("en")
    assert report.updated == 2 and report.created == 0 and report.edits_kept == 2
    edited.refresh_from_db()
    untouched.refresh_from_db()
    assert edited.title == "Get your first ID card"
    assert edited.summary == "The registration office issues ID cards."
    assert untouched.title == "New catalog title DEMO-00002" and untouched.summary == "Шинэчилсэн хураангуй"
    assert edited.fee_mnt == untouched.fee_mnt == 4321, "facts always follow the original"
    assert untouched.draft_title == untouched.title and untouched.live_revision.content["fee_mnt"] == 4321


def test_an_agency_page_follows_the_agencys_english_name_until_a_translator_retitles_it(demo_catalog):
    pages = {code: AgencyPage.objects.in_language("en").get(agency__code=code) for code in ("ubeg", "mta")}
    retitled = pages["mta"]
    retitled.title = "Tax office"
    retitled.save_revision().publish()
    for code in pages:
        agency = pages[code].agency
        agency.name_en = f"Renamed {code}"
        agency.save()
    translate("en")
    assert AgencyPage.objects.in_language("en").get(agency__code="ubeg").title == "Renamed ubeg"
    assert AgencyPage.objects.in_language("en").get(agency__code="mta").title == "Tax office"


def test_a_reimport_updates_the_english_facts_and_moves_the_page_with_its_agency(demo_catalog):
    translated = english("DEMO-00005")
    translated.title = "Marriage registration"
    translated.save_revision().publish()
    row = demo_row("DEMO-00005")
    row.update(fee_mnt="777", agency_code="mta", channels="in_person", title_en="Register your marriage")
    report = import_service_rows([row])
    assert report.updated == 1 and report.translations_updated == 1
    translated.refresh_from_db()
    assert translated.fee_mnt == 777 and translated.agency.code == "mta"
    assert (translated.channel_online, translated.channel_operator, translated.channel_in_person) == (
        False,
        False,
        True,
    )
    assert translated.title == "Marriage registration", "the translator's title stays"
    assert translated.get_parent().specific == AgencyPage.objects.in_language("en").get(agency__code="mta")
    assert translated.url == "/en/uilchilgee/mta/demo-00005/"


def test_a_translators_draft_survives_a_reimport(demo_catalog):
    translated = english("DEMO-00006")
    translated.title = "Divorce registration (draft)"
    draft = translated.save_revision()
    row = demo_row("DEMO-00006")
    row["fee_mnt"] = "999"
    import_service_rows([row])
    translated.refresh_from_db()
    draft.refresh_from_db()
    assert translated.fee_mnt == 999 and translated.has_unpublished_changes
    assert translated.latest_revision_id == draft.pk, "no revision was stacked on the draft"
    assert draft.content["title"] == "Divorce registration (draft)" and draft.content["fee_mnt"] == 999
    assert Revision.objects.filter(object_id=str(translated.pk)).count() == 2


# -- the services suite ----------------------------------------------------------------------------


@pytest.mark.engine
def test_engine_search_under_en_finds_each_service_once(client, fresh_search):
    body = client.get("/api/v1/services/search", {"q": "паспорт"}, HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["source"] == "engine"
    codes = [hit["code"] for hit in body["results"]]
    assert PASSPORT in codes and len(codes) == len(set(codes))
    hit = next(hit for hit in body["results"] if hit["code"] == PASSPORT)
    assert hit["localized"]["url"].endswith("/en/uilchilgee/ubeg/demo-00003/")


# -- the English tree follows its originals (review fixes) -----------------------------------------


def live(page) -> bool:
    return Page.objects.get(pk=page.pk).live


@pytest.mark.parametrize("where", ["service", "agency"])
def test_a_private_original_is_never_public_in_english(client, demo_catalog, where):
    from wagtail.models import PageViewRestriction

    original = ServicePage.objects.by_code("DEMO-00002")
    restricted = original if where == "service" else original.get_parent()
    path = "/en/uilchilgee/ubeg/demo-00002/"
    # Restricted after translation: the English copy is withdrawn at once, /en/ asks for the login too.
    restriction = PageViewRestriction.objects.create(page=restricted, restriction_type="login")
    assert client.get(original.url).status_code == 302
    assert not live(english("DEMO-00002"))
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.url
    # translate_catalog does not publish it again, nor a new copy of a private service.
    english("DEMO-00002").delete()
    report = translate("en")
    assert client.get(path).status_code == 302
    assert not ServicePage.objects.in_language("en").filter(code="DEMO-00002", live=True).exists()
    assert report.code_conflicts == []
    # Restriction removed: the withdrawn pages come back (here: the agency's other services, and a new copy).
    restriction.delete()
    translate("en")
    assert client.get(path).status_code == 200 and english("DEMO-00002").live
    assert all(page.live for page in ServicePage.objects.in_language("en").filter(agency__code="ubeg"))


@pytest.mark.parametrize("how", ["unpublish", "delete", "expire", "bulk"])
def test_a_withdrawn_service_is_withdrawn_in_english_whatever_did_it(client, demo_catalog, admin_user, how):
    from datetime import timedelta

    from django.utils import timezone

    original = ServicePage.objects.by_code("DEMO-00004")
    translated = english("DEMO-00004")
    if how == "unpublish":
        original.unpublish()
    elif how == "delete":
        original.delete()
    elif how == "expire":
        original.expire_at = timezone.now() - timedelta(minutes=1)
        original.save()
        call_command("publish_scheduled", stdout=open(os.devnull, "w"))
    else:
        admin = Client()
        admin.force_login(admin_user)
        response = admin.post(
            f"/admin/bulk/wagtailcore/page/unpublish/?id={original.pk}&next=/admin/", {"include_descendants": ""}
        )
        assert response.status_code == 302
    assert not ServicePage.objects.filter(pk=original.pk, live=True).exists()
    assert not ServicePage.objects.filter(pk=translated.pk, live=True).exists()
    assert client.get("/en/uilchilgee/ubeg/demo-00004/").status_code == 404


def test_translate_catalog_withdraws_a_translation_whose_original_is_not_live(demo_catalog):
    original = ServicePage.objects.by_code("DEMO-00004")
    ServicePage.objects.filter(pk=original.pk).update(live=False)  # no signal: e.g. a raw update
    report = translate("en")
    assert report.withdrawn == 1 and not english("DEMO-00004").live


def test_a_translation_keeps_its_originals_expiry(demo_catalog):
    from datetime import timedelta

    from django.utils import timezone

    original = ServicePage.objects.by_code("DEMO-00004")
    original.expire_at = timezone.now() + timedelta(days=3)
    original.save_revision().publish()
    translate("en")
    assert english("DEMO-00004").expire_at == ServicePage.objects.by_code("DEMO-00004").expire_at


def test_an_english_page_with_a_new_services_code_does_not_break_translate_catalog(demo_catalog):
    from wagtail.models import Locale

    agency_page = AgencyPage.objects.in_language("en").get(agency__code="ubeg")
    original = ServicePage.objects.by_code("DEMO-00001")
    row = {**demo_row("DEMO-00001"), "code": "NEW-9"}
    import_service_rows([row])
    new = ServicePage.objects.by_code("NEW-9")
    # An editor's hand-made English page with that code (a draft), not a translation of anything.
    by_hand = ServicePage(title="New service (EN)", slug="new-service-en", code="NEW-9", agency=original.agency,
                          locale=Locale.objects.get(language_code="en"), live=False)  # fmt: skip
    agency_page.add_child(instance=by_hand)
    # Another English page holds a second new service's code and *is* a translation (of DEMO-00006,
    # private for now, so translate_catalog does not give it its code back).
    from wagtail.models import PageViewRestriction

    import_service_rows([{**demo_row("DEMO-00001"), "code": "NEW-10"}])
    PageViewRestriction.objects.create(page=ServicePage.objects.by_code("DEMO-00006"), restriction_type="login")
    ServicePage.objects.filter(pk=english("DEMO-00006").pk).update(code="NEW-10")
    report = translate("en")
    assert report.adopted == 1 and report.code_conflicts == ["NEW-10"]
    assert "code_conflicts=1 (NEW-10)" in report.summary()
    assert english("NEW-9").pk == by_hand.pk and english("NEW-9").translation_key == new.translation_key
    assert (
        not ServicePage.objects.in_language("en")
        .filter(translation_key=ServicePage.objects.by_code("NEW-10").translation_key)
        .exists()
    )


def test_translate_catalog_keeps_an_admin_move(admin_client, demo_catalog):
    original = ServicePage.objects.by_code("DEMO-00006")
    destination = AgencyPage.objects.canonical().get(agency__code="ndeg")
    assert admin_client.post(f"/admin/pages/{original.pk}/move/{destination.pk}/confirm/").status_code == 302
    english_destination = AgencyPage.objects.in_language("en").get(agency__code="ndeg")
    assert english("DEMO-00006").get_parent().pk == english_destination.pk
    report = translate("en")
    assert report.moved == 0
    assert english("DEMO-00006").get_parent().pk == english_destination.pk
    assert english("DEMO-00006").url == "/en/uilchilgee/ndeg/demo-00006/"


def test_a_translation_comes_back_when_its_original_is_published_again(client, admin_client, demo_catalog):
    original = ServicePage.objects.by_code("DEMO-00009")
    path = english("DEMO-00009").url
    assert admin_client.post(f"/admin/pages/{original.pk}/unpublish/").status_code == 302
    assert not english("DEMO-00009").live
    original = ServicePage.objects.get(pk=original.pk)
    original.get_latest_revision().publish()
    translated = english("DEMO-00009")
    assert translated.live and not translated.has_unpublished_changes
    response = client.get(path)
    assert response.status_code == 200 and response.context["page"].pk == translated.pk
    # A translation a translator unpublished stays unpublished.
    translated.unpublish()
    original.save_revision().publish()
    translate("en")
    assert not english("DEMO-00009").live


def test_translate_catalog_does_not_publish_a_draft_original_in_english(demo_catalog):
    catalog = AgencyPage.objects.canonical().get(agency__code="ubeg").get_parent()
    from service_pages.models import Agency

    agency = Agency.objects.create(code="draftag", name_mn="Ноорог", name_en="Draft agency")
    draft = AgencyPage(title="Ноорог", slug="draftag", agency=agency, live=False)
    catalog.add_child(instance=draft)
    draft.save_revision()
    translate("en")
    assert not AgencyPage.objects.in_language("en").filter(agency=agency).exists()


def test_an_english_agency_draft_is_published_with_the_agencys_rights(agencies):
    from wagtail.models import Locale

    own, _other = agencies
    own.get_translations().get().delete()
    # An editor used "Translate": an unpublished copy, with no rights for the agency's groups.
    draft = own.copy_for_translation(Locale.objects.get(language_code="en"))
    from wagtail.models import GroupPagePermission, WorkflowPage

    GroupPagePermission.objects.filter(page=draft).delete()
    WorkflowPage.objects.filter(page=draft).delete()
    assert not draft.live
    translate("en", [own.agency.code])
    page = AgencyPage.objects.get(pk=draft.pk)
    assert page.live and page.title == (own.agency.name_en or own.agency.name_mn)
    editor = member("editor", f"{own.agency.code} editors")
    assert page.permissions_for_user(editor).can_add_subpage()
    assert page.get_workflow().name == f"{own.agency.code} review"
    assert Client().get(page.url).status_code == 200
