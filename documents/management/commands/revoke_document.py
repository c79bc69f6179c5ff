"""``manage.py revoke_document CODE --reason "..."``: mark an issued document no longer valid."""

from django.core.management.base import BaseCommand, CommandError

from documents.models import IssuedDocument, normalize_verification_code


class Command(BaseCommand):
    help = (
        "Revoke an issued document (an instant reference or a result document) by its verification code. "
        "/verify/<code>/ then says it is no longer valid; the file is kept and the holder can still download it. "
        "The reason is kept for staff and never shown on the verification page."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", help="the verification code printed on the document, e.g. K7Q2-9XWD-MNB4 (case, spaces and hyphens do not matter)")
        parser.add_argument("--reason", required=True, help="why, for staff (at most 500 characters), e.g. 'issued for the wrong person'")

    def handle(self, *args, code, reason, **options):
        normalized = normalize_verification_code(code)
        document = IssuedDocument.objects.filter(verification_code=normalized).first() if normalized else None
        if document is None:
            raise CommandError(f"no document has the verification code {code!r}")
        if document.revoked:
            raise CommandError(f"{document.verification_code} was already revoked on {document.revoked_at:%Y-%m-%d %H:%M}")
        if not reason.strip():
            raise CommandError("give a reason (--reason)")
        document.revoke(reason.strip())
        self.stdout.write(f"revoked {document.verification_code} ({document.get_kind_display()}, {document.agency.code})")
