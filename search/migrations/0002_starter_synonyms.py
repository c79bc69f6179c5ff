"""Starter synonym groups: how citizens name what the catalog calls otherwise.

General vocabulary of public services, not tuned to any test query: a citizen
"gets" (авах) what an agency "issues" (олгох), "cancels" (цуцлах) what the
catalog "annuls" (хүчингүй болгох). Near-synonyms that name different
documents (лавлагаа "reference" / тодорхойлолт "certificate") are left out. Editors change or delete them in the admin
(Snippets → Synonym groups).
"""

from django.db import migrations

STARTER_GROUPS = [
    "ДАН, нэвтрэх",
    "паспорт, гадаад паспорт",
    "авах, олгох",
    "цуцлах, хүчингүй болгох",
    "сунгах, хугацаа сунгах",
]


def add_groups(apps, schema_editor):
    Synonym = apps.get_model("tumen_search", "Synonym")
    for terms in STARTER_GROUPS:
        Synonym.objects.get_or_create(terms=terms)


def remove_groups(apps, schema_editor):
    apps.get_model("tumen_search", "Synonym").objects.filter(terms__in=STARTER_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("tumen_search", "0001_initial")]

    operations = [migrations.RunPython(add_groups, remove_groups)]
