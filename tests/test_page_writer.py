"""The bulk page writer (``service_pages.page_writer``) against Wagtail's and treebeard's own API.

The writer inserts page rows, tree paths and revisions by hand. These tests read what it wrote
only through the public API (treebeard's tree checks, parents and children, URLs, revisions,
Wagtail's own ``add_child`` and ``publish`` afterwards), so a Wagtail or treebeard upgrade that
changes the internals the writer relies on fails here, not in a citizen's catalog import.
"""

import uuid

import pytest
from django.utils import timezone
from wagtail.models import Page, PageLogEntry

from service_pages import page_writer
from service_pages.models import AgencyPage, ServicePage

pytestmark = pytest.mark.django_db


def _write_children(parent, count: int, user=None) -> list[ServicePage]:
    service_ct, _page_ct = page_writer.content_types()
    template = ServicePage.objects.canonical().child_of(parent).first()
    now = timezone.now()
    step = page_writer.next_free_step(parent)
    pages = []
    for number in range(count):
        code = f"PW-{uuid.uuid4().hex[:8]}"
        step += 1
        pages.append(
            page_writer.published_child(
                parent, step, code.lower(), content_type=service_ct, now=now, user=user,
                translation_key=uuid.uuid4(), code=code, title=f"Бичигдсэн үйлчилгээ {number}",
                agency=template.agency, category=template.category,
            )
        )  # fmt: skip
    page_writer.reserve_children(parent, count)
    ids = page_writer.insert_pages(pages, user=user, now=now, source="page writer test")
    return list(ServicePage.objects.filter(pk__in=ids).order_by("path"))


def _agency_page() -> AgencyPage:
    return AgencyPage.objects.canonical().filter(numchild__gt=0).first()


def test_written_pages_make_a_valid_tree_wagtail_can_grow(demo_catalog, client):
    parent = _agency_page()
    before = parent.numchild
    written = _write_children(parent, 3)

    # treebeard's own consistency check: paths, depths and child counts agree.
    problems = Page.find_problems()
    assert all(not found for found in problems), problems
    parent.refresh_from_db()
    assert parent.numchild == before + 3
    for page in written:
        assert page.get_parent().pk == parent.pk
        assert page.live and page.url_path == f"{parent.url_path}{page.slug}/"
        assert client.get(page.url).status_code == 200

    # Wagtail adds and publishes a page after the bulk write without a path clash.
    later = written[0].copy(update_attrs={"slug": "after-bulk", "code": "PW-AFTER", "title": "Дараа нь"}, to=parent)
    later.save_revision().publish()
    assert later.get_parent().pk == parent.pk
    assert later.path > written[-1].path
    assert all(not found for found in Page.find_problems())


def test_written_pages_have_a_live_revision_and_an_audit_trail(demo_catalog):
    written = _write_children(_agency_page(), 2)
    for page in written:
        assert page.live_revision_id == page.latest_revision_id is not None
        restored = page.live_revision.as_object()
        assert (restored.pk, restored.title, restored.code) == (page.pk, page.title, page.code)
        actions = set(PageLogEntry.objects.filter(page=page).values_list("action", flat=True))
        assert actions == {"wagtail.create", "wagtail.publish"}
    # Editing and publishing in the usual way builds on the written revision.
    page = written[0]
    written_revision = page.live_revision_id
    page.title = "Засварласан"
    page.save_revision().publish()
    page.refresh_from_db()
    assert page.title == "Засварласан"
    assert page.live_revision_id == page.latest_revision_id != written_revision


def test_update_published_writes_a_new_revision_of_the_new_values(demo_catalog):
    page = _write_children(_agency_page(), 1)[0]
    first_revision = page.live_revision_id
    page.fee_mnt = 12345
    page_writer.update_published([page], ["fee_mnt"], source="page writer test", user=None)
    page.refresh_from_db()
    assert page.fee_mnt == 12345
    assert page.live_revision_id != first_revision
    assert page.live_revision.as_object().fee_mnt == 12345
    assert not page.has_unpublished_changes
