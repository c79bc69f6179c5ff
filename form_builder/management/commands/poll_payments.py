from django.core.management.base import BaseCommand

from form_builder import payments


class Command(BaseCommand):
    help = (
        "Ask the payment providers about open invoices whose callback has not come (a lost "
        "callback), within a time budget, and record what they say; expire invoices past their "
        "expiry. Workers (manage.py db_worker) already do this every TUMEN_PAYMENT_POLL_SECONDS "
        "while invoices are open; run this from cron if no worker runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=60, help="Only invoices at least this old, in seconds (default 60).")
        parser.add_argument("--budget", type=float, default=30.0, help="Stop after this many seconds (default 30).")

    def handle(self, *args, **options):
        counts = payments.poll_open_payments(older_than_seconds=options["older_than"], deadline_seconds=options["budget"])
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in counts.items()))
