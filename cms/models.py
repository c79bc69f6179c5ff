"""The home page of the public site."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page

from core.languages import CatalogPageManager, FallbackRoutingMixin
from service_pages.models import Category, ServicePage


class HomePage(FallbackRoutingMixin, Page):
    """Landing page: search box, life-event categories, most used services.

    One per language: the English home page is the Mongolian one's translation (made by
    ``translate_catalog``) and the root of the site's English URLs (``/en/``).
    """

    intro = RichTextField(_("introduction"), blank=True)
    objects = CatalogPageManager()

    content_panels = Page.content_panels + [FieldPanel("intro")]
    subpage_types = ["service_pages.CatalogIndexPage"]
    # Editors cannot add another home page; translations (copies, which skip this check) can.
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["categories"] = Category.objects.all()
        context["service_count"] = count = ServicePage.objects.live().canonical().count()
        # "11,250": digits grouped by commas in both languages (Mongolian groups them the same way;
        # Django's "mn" formats leave NUMBER_GROUPING unset, so its own formatting would not).
        context["service_count_shown"] = f"{count:,}"
        return context


class PageCacheGeneration(models.Model):
    """One row: bumped by ``cms.page_cache`` when something a cached page shows changes outside
    the page tree (an agency's name, a category, a place, a view restriction, a site).

    It lives in the database, not in a cache, so that every worker of every app node sees a purge
    at the same moment (the cached pages themselves are in each worker's memory).
    """

    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("page cache generation")
