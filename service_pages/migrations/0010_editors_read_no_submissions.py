"""Content editors no longer read citizens' applications (issue #13, finding 6).

``create_agency_groups`` used to give every ``<agency> editors`` group ``view_submission``; it
now gives it to moderators only. This takes the right back from the groups of existing databases
(running ``create_agency_groups`` again does the same).
"""

from django.db import migrations


def editors_read_no_submissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    rights = Permission.objects.filter(content_type__app_label="form_builder", content_type__model="submission")
    for group in Group.objects.filter(name__endswith=" editors"):
        group.permissions.remove(*rights)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("service_pages", "0009_retention_days"),
    ]

    operations = [migrations.RunPython(editors_read_no_submissions, migrations.RunPython.noop)]
