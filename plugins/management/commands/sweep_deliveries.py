from django.core.management.base import BaseCommand

from plugins.delivery import sweep


class Command(BaseCommand):
    help = (
        "Wake a delivery task for due deliveries nobody has attempted for a lease period (a worker "
        "crashed or was killed while delivering, or its task was deleted). Workers already run this "
        "every TUMEN_DELIVERY_SWEEP_SECONDS; run it by hand or from cron after an outage."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"Woke a delivery task for {sweep()} stranded delivery(ies).")
