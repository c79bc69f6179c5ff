from django.db import models
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.contrib.forms.models import AbstractForm, AbstractFormField
from wagtail.fields import RichTextField
from wagtail.models import Page


class StockFormPage(AbstractForm):
    """A plain ``wagtail.contrib.forms`` page: what Tumen's forms are measured against.

    Not creatable in the admin (the benchmarks make one); it exists so that a benchmark compares
    with stock Wagtail doing the same work in the same run.
    """

    content_panels = AbstractForm.content_panels + [InlinePanel("form_fields", label="Form fields")]
    is_creatable = False

    class Meta:
        verbose_name = "stock Wagtail form page"


class StockFormField(AbstractFormField):
    page = ParentalKey(StockFormPage, on_delete=models.CASCADE, related_name="form_fields")


class StockContentPage(Page):
    """A plain Wagtail page with a rich-text body: the stock baseline of a service page.

    ``bench/service_page.py`` fills the body with a service page's own rendered article, so both
    pages show the same content inside the same site template; this one is served the stock way
    (``Page.serve``, no cache).
    """

    body = RichTextField(blank=True)
    content_panels = Page.content_panels + [FieldPanel("body")]
    is_creatable = False

    class Meta:
        verbose_name = "stock Wagtail content page"
