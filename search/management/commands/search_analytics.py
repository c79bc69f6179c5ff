"""Daily housekeeping of search analytics: popularity scores refreshed, old searches deleted.

    manage.py search_analytics

Idempotent; run it once a day from the scheduler that runs ``purge_personal_data`` (docs/deploy.md).
"""

from django.core.management.base import BaseCommand

from search import analytics, popularity


class Command(BaseCommand):
    help = "Refresh the services' popularity from recent clicks and applications; delete searches past retention."

    def handle(self, *args, **options):
        changed = popularity.refresh()
        deleted = analytics.purge()
        self.stdout.write(
            f"popularity: {len(changed)} services changed; searches deleted after "
            f"{analytics.retention_days()} days: {deleted}"
        )
