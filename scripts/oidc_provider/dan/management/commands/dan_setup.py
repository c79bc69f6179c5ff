"""Create (or update) the demo citizens and Tumen's client registration; safe to run again."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from oauth2_provider.models import get_application_model

from dan import citizens


class Command(BaseCommand):
    help = (
        "Create or update the demo citizens (password 'demo') and the confidential client Tumen signs in with "
        "(authorization code + PKCE, RS256 ID tokens). Idempotent: run it at every start."
    )

    def add_arguments(self, parser):
        parser.add_argument("--client-id", required=True, help="the client id Tumen uses (TUMEN_OIDC_CLIENT_ID)")
        parser.add_argument("--client-secret", required=True, help="its secret (TUMEN_OIDC_CLIENT_SECRET)")
        parser.add_argument(
            "--redirect-uri", action="append", required=True,
            help="Tumen's callback URL, e.g. http://127.0.0.1:8000/signin/callback/ (repeatable; any port on 127.0.0.1)",
        )  # fmt: skip
        parser.add_argument(
            "--post-logout-uri", action="append", default=[],
            help="where the provider may send the browser after signing out (repeatable)",
        )  # fmt: skip

    def handle(self, *args, **options):
        User = get_user_model()
        for username in citizens.accounts():
            user, _created = User.objects.get_or_create(username=username)
            user.set_password("demo")
            user.save()
        Application = get_application_model()
        application = Application.objects.filter(client_id=options["client_id"]).first() or Application(
            client_id=options["client_id"]
        )
        application.name = "Tumen"
        application.client_type = Application.CLIENT_CONFIDENTIAL
        application.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
        application.client_secret = options["client_secret"]
        application.redirect_uris = " ".join(options["redirect_uri"])
        application.post_logout_redirect_uris = " ".join(options["post_logout_uri"])
        application.algorithm = Application.RS256_ALGORITHM
        application.skip_authorization = True
        application.save()
        self.stdout.write(f"demo citizens: {len(citizens.accounts())}; client {application.client_id} registered")
