"""Load the 22 aimag-level units and 339 soums/districts shipped in service_pages/data/.

The codes and names are the national statistics office's (see docs/DATA.md);
shipping them here lets the product run without ../shared/.
"""

import csv
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"


def load_places(apps, schema_editor):
    Aimag = apps.get_model("service_pages", "Aimag")
    Soum = apps.get_model("service_pages", "Soum")
    with (DATA / "aimags.csv").open(encoding="utf-8") as handle:
        aimags = {
            row["code"]: Aimag.objects.update_or_create(
                code=row["code"],
                defaults={"name_mn": row["name_mn"], "name_en": row["name_en"], "is_capital": row["is_capital"] == "1"},
            )[0]
            for row in csv.DictReader(handle)
        }
    with (DATA / "soums.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            Soum.objects.update_or_create(
                code=row["code"],
                defaults={
                    "aimag": aimags[row["aimag_code"]],
                    "kind": row["kind"],
                    "name_mn": row["name_mn"],
                    "name_en": row["name_en"],
                },
            )


class Migration(migrations.Migration):
    dependencies = [("service_pages", "0001_initial")]

    operations = [migrations.RunPython(load_places, migrations.RunPython.noop)]
