"""The admin keeps the two language trees consistent: mistakes are form errors, never 500s."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from wagtail.test.utils.form_data import nested_form_data

from service_pages.models import AgencyPage, ServicePage

pytestmark = pytest.mark.django_db
PASSPORT = "DEMO-00003"


def english(code: str) -> ServicePage:
    return ServicePage.objects.in_language("en").get(code=code)


def test_giving_an_agency_page_an_agency_that_already_has_one_is_a_form_error(admin_client, demo_catalog):
    ubeg = AgencyPage.objects.canonical().get(agency__code="ubeg")
    other = AgencyPage.objects.canonical().exclude(pk=ubeg.pk).first()
    data = nested_form_data({"title": ubeg.title, "slug": ubeg.slug, "agency": other.agency_id, "action-publish": "action-publish"})
    response = admin_client.post(f"/admin/pages/{ubeg.pk}/edit/", data)
    assert response.status_code == 200, "shown again with the problem, not a server error"
    assert "agency" in response.context["form"].errors
    ubeg.refresh_from_db()
    assert ubeg.agency.code == "ubeg"


def test_a_translation_keeps_its_originals_code(demo_catalog):
    page = english(PASSPORT)
    page.code = "DEMO-99999"
    with pytest.raises(ValidationError) as error:
        page.full_clean()
    assert "code" in error.value.message_dict and PASSPORT in " ".join(error.value.message_dict["code"])


def test_a_service_cannot_be_created_in_english_first(demo_catalog):
    parent = AgencyPage.objects.in_language("en").get(agency__code="ubeg")
    stray = ServicePage(title="English only", slug="english-only", code="NEW-9", agency=parent.agency)
    with pytest.raises(ValidationError) as error:
        parent.add_child(instance=stray)
    with translation.override("en"):
        assert "Mongolian first" in " ".join(error.value.messages)
    assert not ServicePage.objects.filter(code="NEW-9").exists()


def test_the_admin_translate_action_still_makes_a_translation(admin_client, demo_catalog):
    original = ServicePage.objects.by_code(PASSPORT)
    english(PASSPORT).delete()
    response = admin_client.post(
        f"/admin/translation/submit/page/{original.pk}/", {"locales": [english_locale_id()], "include_subtree": ""}
    )
    assert response.status_code == 302, response.content[:500]
    copy = ServicePage.objects.in_language("en").get(code=PASSPORT)
    assert copy.translation_key == original.translation_key


def english_locale_id():
    from wagtail.models import Locale

    return Locale.objects.get(language_code="en").pk
