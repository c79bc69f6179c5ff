"""``manage.py revoke_document CODE --reason "..."``: mark an issued document no longer valid
(through ``documents.revocation``, as the admin's "Revoke" action)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from documents.models import IssuedDocument, normalize_verification_code
from documents.revocation import RevocationRefused, revoke_document


class Command(BaseCommand):
    help = (
        "Revoke an issued document (an instant reference or a result document) by its verification code. "
        "/verify/<code>/ then says it is no longer valid; the file is kept and the holder can still download it. "
        "The reason is kept for staff and never shown on the verification page. "
        "Staff may also revoke from the admin (Issued documents → the document → Revoke)."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", help="the verification code printed on the document, e.g. K7Q2-9XWD-MNB4 (case, spaces and hyphens do not matter)")
        parser.add_argument("--reason", required=True, help="why, for staff (at most 500 characters), e.g. 'issued for the wrong person'")

    def handle(self, *args, code, reason, **options):
        normalized = normalize_verification_code(code)
        document = IssuedDocument.objects.select_related("agency").filter(verification_code=normalized).first() if normalized else None
        if document is None:
            raise CommandError(f"no document has the verification code {code!r}")
        try:
            with translation.override("en"):  # the command speaks English, as its other messages
                document = revoke_document(document, reason, via="command")
        except RevocationRefused as refused:
            raise CommandError(str(refused.message)) from None
        self.stdout.write(f"revoked {document.verification_code} ({document.get_kind_display()}, {document.agency.code})")
