"""Submissions remember their office's aimag, so an aimag supervisor's own applications (an aimag,
no soum) land in the aimag's queue. Existing operator submissions get it from their soum office,
or from the supervisor's profile when they had none."""

import django.db.models.deletion
from django.db import migrations, models


def fill_office_aimag(apps, schema_editor):
    Submission = apps.get_model("form_builder", "Submission")
    OperatorProfile = apps.get_model("form_builder", "OperatorProfile")
    Soum = apps.get_model("service_pages", "Soum")
    aimag_of_soum = dict(Soum.objects.values_list("pk", "aimag_id"))
    aimag_of_operator = dict(OperatorProfile.objects.filter(aimag__isnull=False).values_list("user_id", "aimag_id"))
    rows = Submission.objects.filter(source="operator", office_aimag__isnull=True).values_list("pk", "office_soum_id", "operator_id")
    for pk, soum_id, operator_id in rows.iterator():
        aimag_id = aimag_of_soum.get(soum_id) if soum_id else aimag_of_operator.get(operator_id)
        if aimag_id:
            Submission.objects.filter(pk=pk).update(office_aimag_id=aimag_id)


class Migration(migrations.Migration):
    dependencies = [
        ("form_builder", "0008_ratelimitcounter_expires_at"),
        ("service_pages", "0008_unique_per_locale"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="office_aimag",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                to="service_pages.aimag", verbose_name="office's aimag",
            ),
        ),
        migrations.RunPython(fill_office_aimag, migrations.RunPython.noop),
    ]
