"""Install the general application form (form_builder.defaults) as the site's default, version 1."""

from django.db import migrations
from django.utils import timezone


def install(apps, schema_editor):
    from form_builder import defaults
    from form_builder.models import FormDefinition as CurrentFormDefinition

    FormDefinition = apps.get_model("form_builder", "FormDefinition")
    FormVersion = apps.get_model("form_builder", "FormVersion")
    if FormDefinition.objects.filter(slug=defaults.GENERAL_FORM_SLUG).exists():
        return
    stream = defaults.stream_data()
    # build_schema() only reads the stream: the current model's code turns it into the frozen JSON.
    schema = CurrentFormDefinition(steps=stream).build_schema()
    now = timezone.now()
    definition = FormDefinition.objects.create(
        name=defaults.GENERAL_FORM_NAME,
        slug=defaults.GENERAL_FORM_SLUG,
        description="Регистрийн дугаар, нэр, утас, хаяг, чөлөөт хүсэлт, хавсралт. / "
        "Register number, name, phone, place, a free-text request and an attachment.",
        steps=stream,
        is_default=True,
        live=True,
        first_published_at=now,
        last_published_at=now,
    )
    FormVersion.objects.create(definition=definition, number=1, schema=schema)


def uninstall(apps, schema_editor):
    from form_builder import defaults

    FormDefinition = apps.get_model("form_builder", "FormDefinition")
    FormVersion = apps.get_model("form_builder", "FormVersion")
    FormVersion.objects.filter(definition__slug=defaults.GENERAL_FORM_SLUG, submissions__isnull=True).delete()
    FormDefinition.objects.filter(slug=defaults.GENERAL_FORM_SLUG, versions__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("form_builder", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
