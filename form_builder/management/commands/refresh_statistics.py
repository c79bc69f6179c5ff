from django.core.management.base import BaseCommand

from form_builder import statistics, tasks


class Command(BaseCommand):
    help = (
        "Recompute the public processing-time figures (/statistics/ and /api/v1/statistics) from "
        "the applications completed in the last 12 months, and store them as the snapshot those "
        "pages read: no request ever computes them. Workers (manage.py db_worker) already refresh "
        "them every TUMEN_STATISTICS_REFRESH_SECONDS (default 3600); run this after a deploy or a "
        "bulk change to show new figures at once, or from cron if no worker runs. --schedule also "
        "queues the periodic refresh for the workers."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule", action="store_true",
            help="Also make sure a periodic refresh task is queued for db_worker (does nothing if one is waiting).",
        )  # fmt: skip

    def handle(self, *args, **options):
        snapshot = statistics.refresh_snapshot(progress=self.stdout.write)
        services, agencies = len(snapshot.data["services"]), len(snapshot.data["agencies"])
        self.stdout.write(f"Done: {services} service row(s), {agencies} agency row(s).")
        if options["schedule"]:
            tasks.schedule_next_refresh()
            self.stdout.write("The periodic refresh is queued for the workers.")
