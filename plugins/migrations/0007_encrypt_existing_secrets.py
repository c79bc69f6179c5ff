"""Encrypt the secrets stored in clear before 0006 (plugin secret options, API key secrets).

Forward: every secret option of every configuration and every key's secret is encrypted with the
newest key of TUMEN_SECRETS_KEYS (plugins.secrets); values already encrypted are left alone, so
running it on a half-encrypted database is safe. Backward: everything is decrypted again (for a
downgrade to code that reads clear text).
"""

from django.db import migrations
from django.db.models import TextField, Value


def encrypt_secrets(apps, schema_editor):
    from plugins.secrets import encrypt, seal_options, secret_option_names

    PluginConfig = apps.get_model("plugins", "PluginConfig")
    AgencyCredential = apps.get_model("plugins", "AgencyCredential")
    for config in PluginConfig.objects.only("pk", "plugin_id", "options").iterator():
        sealed = seal_options(config.options, secret_option_names(config.plugin_id, config.options))
        PluginConfig.objects.filter(pk=config.pk).update(options=sealed)
    for credential in AgencyCredential.objects.only("pk", "secret").iterator():
        AgencyCredential.objects.filter(pk=credential.pk).update(
            secret=Value(encrypt(credential.secret), output_field=TextField())
        )


def decrypt_secrets(apps, schema_editor):
    PluginConfig = apps.get_model("plugins", "PluginConfig")
    AgencyCredential = apps.get_model("plugins", "AgencyCredential")
    # Read through the fields (they decrypt), written back as they are (update() seals nothing).
    for config in PluginConfig.objects.only("pk", "options").iterator():
        PluginConfig.objects.filter(pk=config.pk).update(options=config.options)
    for credential in AgencyCredential.objects.only("pk", "secret").iterator():
        AgencyCredential.objects.filter(pk=credential.pk).update(
            secret=Value(credential.secret, output_field=TextField())
        )


class Migration(migrations.Migration):
    dependencies = [
        ("plugins", "0006_secrets_encrypted_at_rest"),
    ]

    operations = [migrations.RunPython(encrypt_secrets, decrypt_secrets, elidable=False)]
