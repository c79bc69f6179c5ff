"""OutboxEvent goes: it was written with each submission and marked processed by the delivery
planner in the same transaction, and never read. The deliveries themselves (``plugins.Delivery``,
written in that transaction) are the outbox. Its rows carry nothing else, so the table is dropped."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('form_builder', '0011_move_stock_form_page_to_bench'),
    ]

    operations = [
        migrations.DeleteModel(
            name='OutboxEvent',
        ),
    ]
