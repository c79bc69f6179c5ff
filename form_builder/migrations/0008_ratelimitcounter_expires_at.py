"""Rate-limit counters know when their window ends, so finished ones can be deleted.

Existing rows get 0 (already expired): they are deleted at the next clean-up and their keys
start a fresh window, which at most forgives one window's count.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("form_builder", "0007_retention_and_access_log"),
    ]

    operations = [
        migrations.AddField(
            model_name="ratelimitcounter",
            name="expires_at",
            field=models.BigIntegerField(db_index=True, default=0),
        ),
    ]
