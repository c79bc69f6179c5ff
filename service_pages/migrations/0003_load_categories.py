"""Load the life-event categories (stable slugs) shipped in service_pages/data/categories.csv."""

import csv
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"


def load_categories(apps, schema_editor):
    Category = apps.get_model("service_pages", "Category")
    with (DATA / "categories.csv").open(encoding="utf-8") as handle:
        for order, row in enumerate(csv.DictReader(handle)):
            Category.objects.update_or_create(
                slug=row["slug"], defaults={"name_mn": row["name_mn"], "name_en": row["name_en"], "sort_order": order}
            )


class Migration(migrations.Migration):
    dependencies = [("service_pages", "0002_load_places")]

    operations = [migrations.RunPython(load_categories, migrations.RunPython.noop)]
