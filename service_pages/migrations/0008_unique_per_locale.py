"""Service codes (and agency pages) unique per language instead of globally.

An English translation has the same code and agency as its Mongolian original. Constraints
cannot reach ``wagtailcore_page.locale``, so the page types keep a copy of it (``page_locale``),
filled here from the page's locale and then made required.
"""

import django.db.models.deletion
from django.db import migrations, models


def copy_locales(apps, schema_editor):
    Page = apps.get_model("wagtailcore", "Page")
    for model_name in ("ServicePage", "AgencyPage"):
        model = apps.get_model("service_pages", model_name)
        locale_of = models.Subquery(Page.objects.filter(pk=models.OuterRef("pk")).values("locale_id")[:1])
        model.objects.update(page_locale_id=locale_of)


class Migration(migrations.Migration):
    dependencies = [
        ("service_pages", "0007_locales"),
        ("wagtailcore", "0098_apitoken"),
    ]

    operations = [
        migrations.AddField(
            model_name="servicepage",
            name="page_locale",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="wagtailcore.locale",
            ),
        ),
        migrations.AddField(
            model_name="agencypage",
            name="page_locale",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="wagtailcore.locale",
            ),
        ),
        migrations.RunPython(copy_locales, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="servicepage",
            name="page_locale",
            field=models.ForeignKey(
                editable=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="wagtailcore.locale"
            ),
        ),
        migrations.AlterField(
            model_name="agencypage",
            name="page_locale",
            field=models.ForeignKey(
                editable=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="wagtailcore.locale"
            ),
        ),
        migrations.AddField(
            model_name="servicepage",
            name="sync_fingerprints",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        migrations.AddField(
            model_name="agencypage",
            name="sync_fingerprints",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        migrations.AlterField(
            model_name="servicepage",
            name="code",
            field=models.CharField(
                db_index=True,
                help_text="Stable import key, e.g. SRV-000001.",
                max_length=32,
                verbose_name="service code",
            ),
        ),
        migrations.AlterField(
            model_name="agencypage",
            name="agency",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="pages",
                to="service_pages.agency",
                verbose_name="agency",
            ),
        ),
        migrations.AddConstraint(
            model_name="servicepage",
            constraint=models.UniqueConstraint(
                fields=("code", "page_locale"),
                name="service_code_unique_per_locale",
                violation_error_message="Another service page in this language has this code.",
            ),
        ),
        migrations.AddConstraint(
            model_name="agencypage",
            constraint=models.UniqueConstraint(
                fields=("agency", "page_locale"),
                name="agency_page_unique_per_locale",
                violation_error_message="This agency already has a page in this language.",
            ),
        ),
    ]
