"""Re-encrypt every stored secret with the newest key of TUMEN_SECRETS_KEYS."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import TextField, Value

from core.progress import Progress
from plugins import secrets
from plugins.models import AgencyCredential, PluginConfig


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret Tumen stores for agencies (the secret options of plugin configurations, such "
        "as a webhook's signing secret or an SMS gateway's API key, and the secrets of agency API keys) with "
        "the FIRST key of TUMEN_SECRETS_KEYS. Rotating a key: (1) make a new key (python -c 'from "
        "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'); (2) put it first in "
        "TUMEN_SECRETS_KEYS, keeping the old key after it, and restart the site and the workers; (3) run this "
        "command; (4) remove the old key and restart again. Any secret still in clear text (written before "
        "encryption) is encrypted too. Secrets no key can decrypt are counted and left untouched, and the "
        "command then fails: put back the key they were encrypted with and run it again. Safe to run any "
        "number of times. Shows a progress bar on a terminal."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be re-encrypted; change nothing.")

    def handle(self, *args, **options):
        try:
            secrets.fernet()
        except secrets.BadSecretsKey as error:
            raise CommandError(str(error)) from None
        dry_run = options["dry_run"]
        configs = PluginConfig.objects.only("pk", "plugin_id", "options").order_by("pk")
        credentials = AgencyCredential.objects.only("pk", "secret").order_by("pk")
        progress = Progress("rotate_secrets", configs.count() + credentials.count(), stream=self.stderr._out)
        done = rotated = unreadable = 0
        for config in configs.iterator():
            stuck = secrets.unreadable_options(config.options)
            names = [name for name in config.secret_option_names() if name not in stuck and config.options.get(name)]
            if stuck:
                unreadable += 1
            if names and not dry_run:
                sealed = secrets.seal_options(config.options, names)  # read in clear, sealed with the newest key
                PluginConfig.objects.filter(pk=config.pk).update(options=sealed)  # updated_at unchanged
            rotated += len(names)
            done += 1
            progress.update(done)
        for credential in credentials.iterator():
            if secrets.is_encrypted(credential.secret):  # still encrypted after reading: no key opens it
                unreadable += 1
            elif credential.secret:
                if not dry_run:
                    sealed = Value(secrets.encrypt(credential.secret), output_field=TextField())
                    AgencyCredential.objects.filter(pk=credential.pk).update(secret=sealed)
                rotated += 1
            done += 1
            progress.update(done)
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(f"rotate_secrets: {verb} {rotated} secrets with the newest key; unreadable={unreadable}")
        if unreadable:
            raise CommandError(
                f"{unreadable} configurations or keys hold secrets that no key of TUMEN_SECRETS_KEYS decrypts; "
                "they were left as they are. Put back the key they were encrypted with (after the newest) and run "
                "rotate_secrets again, or enter those secrets again in the admin."
            )
