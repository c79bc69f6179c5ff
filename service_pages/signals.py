"""Translations follow their originals as it happens, whatever changed the original.

Wagtail's admin can cascade an action to translations (``construct_translated_pages_to_cascade_actions``),
but only in its single-page views: ``page.unpublish()``, ``page.delete()``, bulk actions and scheduled
expiry (``publish_scheduled``) would leave an English page live after its service was withdrawn.
These receivers act on the signals every path sends, for originals (Mongolian pages) only:

- unpublished, expired, published again, or published while private: the translations are
  withdrawn or republished (``translations.follow_originals``);
- a view restriction (``PageViewRestriction``) added to an original or an ancestor: the
  translations of the page and of everything below it are withdrawn at once; removed: they are
  republished (the ones the restriction withdrew), as far as no other restriction still applies;
- deleted: its translations are deleted (with their subtrees);
- moved: its translations move under the translation of the new parent.

``translate_catalog`` repeats the first two for the whole catalog, in case a change bypassed the
signals (``QuerySet.update``, raw SQL).
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from wagtail.models import Page, PageViewRestriction
from wagtail.signals import page_published, page_unpublished, post_page_move

from core.languages import is_original, original_of

from . import translations
from .models import AgencyPage, ServicePage

FOLLOWING = (ServicePage, AgencyPage)


@receiver(page_unpublished)
@receiver(page_published)
def follow_publication(sender, instance, **kwargs):
    """Unpublished or published: the original's translations follow; a translation published while its
    original is not visible (unpublished, private) is withdrawn again."""
    if not issubclass(sender, FOLLOWING):
        return
    original = original_of(instance)
    if original is not None:
        translations.follow_originals(Page.objects.filter(pk=original.pk))


@receiver(post_save, sender=PageViewRestriction)
@receiver(post_delete, sender=PageViewRestriction)
def follow_restriction(sender, instance, **kwargs):
    page = Page.objects.filter(pk=instance.page_id).first()  # gone when the page itself is being deleted
    if page is None or not is_original(page):
        return
    translations.follow_originals(Page.objects.descendant_of(page, inclusive=True))


def delete_translations(sender, instance, **kwargs):
    if not is_original(instance):
        return
    doomed = Page.objects.filter(translation_key=instance.translation_key, alias_of__isnull=True).exclude(
        locale_id=instance.locale_id
    )
    if doomed.exists():
        doomed.delete()  # treebeard: with their subtrees, parents' numchild kept right


for _model in FOLLOWING:
    post_delete.connect(delete_translations, sender=_model, dispatch_uid=f"delete-translations-{_model.__name__}")


@receiver(post_page_move)
def move_translations(sender, instance, parent_page_before, parent_page_after, **kwargs):
    if not issubclass(sender, FOLLOWING) or parent_page_before.pk == parent_page_after.pk:
        return
    original = instance.specific
    if not is_original(original):
        return
    for page in Page.objects.filter(translation_key=original.translation_key, alias_of__isnull=True).exclude(
        locale_id=original.locale_id
    ):
        target = translations.translated_parent(original, page.locale)
        if target is not None and page.get_parent().pk != target.pk:
            page.move(target, pos="last-child")
