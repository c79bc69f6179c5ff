"""Make sure the two content languages exist as Wagtail locales.

Wagtail's own migration (wagtailcore 0054) creates one locale from LANGUAGE_CODE: "mn" here,
in a fresh database and in every existing one (LANGUAGE_CODE has been "mn" from the start),
and every page so far is in it. "en" is new: the English translations live in it.
"""

from django.db import migrations

LANGUAGES = ("mn", "en")


def ensure_locales(apps, schema_editor):
    Locale = apps.get_model("wagtailcore", "Locale")
    for code in LANGUAGES:
        Locale.objects.get_or_create(language_code=code)


class Migration(migrations.Migration):
    dependencies = [
        ("service_pages", "0006_agencyapprovaltask"),
        ("wagtailcore", "0098_apitoken"),
    ]

    # Nothing to undo: the locales may already hold pages when migrating back.
    operations = [migrations.RunPython(ensure_locales, migrations.RunPython.noop)]
