from django.core.management.base import BaseCommand

from service_pages.governance import sync_agency_groups


class Command(BaseCommand):
    help = (
        "Create (or update) each agency's 'editors', 'moderators' and 'integrators' groups, their page "
        "permissions on the agency's catalog section and the agency's review workflow (integrators: the "
        "agency's delivery targets, API keys and deliveries, no pages), plus the 'National catalog team' "
        "group that may edit the whole catalog. Safe to run again, e.g. after import_agencies. Then add "
        "people to the groups in Settings → Users."
    )

    def handle(self, *args, **options):
        def progress(number, total, code):
            if number == total or number % 25 == 0:
                self.stdout.write(f"  {number}/{total} agencies ({code})")

        total = sync_agency_groups(progress)
        self.stdout.write(self.style.SUCCESS(f"Groups and workflows are in place for {total} agencies."))
