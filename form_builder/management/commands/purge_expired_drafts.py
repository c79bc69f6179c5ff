from django.core.management.base import BaseCommand

from form_builder.ratelimit import purge_expired_counters
from form_builder.submissions import purge_expired_drafts


class Command(BaseCommand):
    help = (
        "Delete saved application drafts (save and resume) whose expiry has passed, with their "
        "uploaded files. Drafts expire TUMEN_DRAFT_TTL_DAYS days (default 30) after their last save. "
        "Also deletes rate-limit counters whose window has ended. Run it daily, e.g. from cron."
    )

    def handle(self, *args, **options):
        count = purge_expired_drafts()
        self.stdout.write(f"Deleted {count} expired draft(s).")
        self.stdout.write(f"Deleted {purge_expired_counters()} expired rate-limit counter(s).")
