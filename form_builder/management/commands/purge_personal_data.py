from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from form_builder.retention import DEFAULT_BATCH_SIZE, open_past_retention, purge_personal_data


class Command(BaseCommand):
    help = (
        "Anonymise the applications whose retention period is over: answers, the citizen's and the "
        "operator's identity, consent proofs, uploaded files (deleted from disk), status-change "
        "messages and delivery error texts. Service, agency, status, channel, dates and the status "
        "timeline stay for the statistics. The period is the service's 'retention' (days), else "
        "TUMEN_RETENTION_DAYS (default 1826, five years), never below TUMEN_RETENTION_MIN_DAYS (default "
        "90), counted from the application's last closing. Only applications closed now (completed or "
        "rejected) are purged, and none with a delivery still pending or retrying; open ones are kept "
        "however old (their number is reported: staff should close them). Also deletes expired drafts "
        "and uploads that belong to nothing. Safe to run twice; run it daily, e.g. from cron. "
        "What it purged is counted in the admin's audit log (Reports → Site history)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be purged; change nothing.")
        parser.add_argument(
            "--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
            help=f"Applications per transaction (default {DEFAULT_BATCH_SIZE}).",
        )  # fmt: skip

    def handle(self, *args, dry_run=False, batch_size=DEFAULT_BATCH_SIZE, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        done = {"submissions": 0, "drafts": 0, "files": 0}

        def progress(kind, number):
            done[kind] += number
            self.stdout.write(f"  {kind}: {done[kind]} so far")

        self.stdout.write(
            f"{'Counting' if dry_run else 'Purging'} personal data past retention "
            f"(default {settings.TUMEN_RETENTION_DAYS} days)…"
        )
        report = purge_personal_data(dry_run=dry_run, batch_size=batch_size, progress=progress)
        verb = "would be purged" if dry_run else "purged"
        waiting = open_past_retention().count()
        if waiting:
            self.stdout.write(
                f"{waiting} open applications are older than their retention period: kept until staff close them."
            )
        if not report.total:
            self.stdout.write(f"Nothing {verb}.")
            return
        for label, number in sorted(report.counts.items()):
            self.stdout.write(f"{label}: {number} {verb}")
        if not dry_run:
            self.stdout.write("Counts recorded in the audit log (tumen.purge_personal_data).")
