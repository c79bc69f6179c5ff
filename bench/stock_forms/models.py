from django.db import models
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import InlinePanel
from wagtail.contrib.forms.models import AbstractForm, AbstractFormField


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
