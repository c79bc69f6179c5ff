"""The stock Wagtail form page (a benchmark baseline) leaves the product for ``bench/stock_forms``.

Its tables are dropped, not handed over: only the benchmarks ever made such a page (it is not
creatable in the admin), on throw-away databases that are migrated from scratch with the bench app.
A database that still holds one refuses this migration rather than leave pages of a missing type.
"""

from django.db import migrations


def refuse_if_stock_pages(apps, schema_editor):
    pages = apps.get_model("form_builder", "StockFormPage").objects.values_list("pk", flat=True)
    if pages.exists():
        raise RuntimeError(
            "Stock Wagtail form pages (a benchmark's baseline) exist, ids "
            f"{list(pages[:20])}: delete them with the previous version (admin or shell), then migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("form_builder", "0010_statistics_snapshot"),
    ]

    operations = [
        migrations.RunPython(refuse_if_stock_pages, migrations.RunPython.noop),
        migrations.DeleteModel(name="StockFormField"),
        migrations.DeleteModel(name="StockFormPage"),
    ]
