from django.core.management.base import BaseCommand

from plugins.delivery import sweep


class Command(BaseCommand):
    help = (
        "Re-queue deliveries whose background task was lost (a worker crashed or was killed while "
        "delivering). Workers already run this every TUMEN_DELIVERY_SWEEP_SECONDS; run it by hand or "
        "from cron after an outage."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"Re-queued {sweep()} delivery(ies).")
