"""Issue #16, item 4: agencies' secrets are encrypted at rest (plugin secret options, API key
secrets), with keys from TUMEN_SECRETS_KEYS that can be rotated; a database written by the code
before is encrypted by a migration."""

import json
import os
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from plugins import secrets
from plugins.models import AgencyCredential, PluginConfig
from plugins.secrets import check_secrets_readable, stored_text
from service_pages.models import ServicePage
from tests.deliveries import attempt
from tests.test_plugins import SECRET, signed_callback, submit

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]
OLD_KEY, NEW_KEY, OTHER_KEY = (Fernet.generate_key().decode() for _ in range(3))


@pytest.fixture
def service(demo_catalog):
    return (
        ServicePage.objects.live()
        .canonical()
        .filter(channel_online=True, stages__lte=1)
        .select_related("agency")
        .order_by("code")
        .first()
    )


def raw_options(config) -> dict:
    return json.loads(stored_text(PluginConfig, config.pk, "options"))


def test_secret_options_and_key_secrets_are_encrypted_in_the_database(service):
    config = PluginConfig.objects.create(
        plugin_id="webhook", agency=service.agency, options={"url": "https://agency.example.mn/in", "secret": SECRET}
    )
    stored = raw_options(config)
    assert stored["url"] == "https://agency.example.mn/in", "only secrets are encrypted"
    assert stored["secret"].startswith("tumen:fernet:") and SECRET not in json.dumps(stored)
    assert PluginConfig.objects.get(pk=config.pk).options["secret"] == SECRET, "the code reads it in clear"
    sms = PluginConfig.objects.create(
        plugin_id="sms_http", options={"url": "https://sms.example.mn/send", "api_key": "gateway-key-123"}
    )
    assert "gateway-key-123" not in stored_text(PluginConfig, sms.pk, "options")
    key = AgencyCredential.objects.create(agency=service.agency)
    assert len(key.secret) == 64
    raw = stored_text(AgencyCredential, key.pk, "secret")
    assert raw.startswith("tumen:fernet:") and key.secret not in raw
    assert AgencyCredential.objects.get(pk=key.pk).secret == key.secret
    # Each encryption is different (random IV): equal secrets do not show as equal in the database.
    other = PluginConfig.objects.create(
        plugin_id="webhook", name="second", agency=service.agency, options={"secret": SECRET}
    )
    assert raw_options(other)["secret"] != stored["secret"]


def test_deliveries_and_callbacks_work_with_encrypted_secrets(client, service, agency_server):
    PluginConfig.objects.create(
        plugin_id="webhook", agency=service.agency, options={"url": agency_server.url, "secret": SECRET}
    )
    submission = submit(client, service)
    assert attempt(submission.deliveries.get().pk) == "delivered"
    assert agency_server.received[-1].headers["x-tumen-signature"].startswith("v1=")
    credential = AgencyCredential.objects.create(agency=service.agency)
    response = signed_callback(client, submission.tracking_code, {"status": "in_progress"}, credential)
    assert response.status_code == 200, response.content


def test_rotating_the_key_re_encrypts_everything_and_the_old_key_can_go(settings, service, agency_server):
    settings.TUMEN_SECRETS_KEYS = [OLD_KEY]
    config = PluginConfig.objects.create(
        plugin_id="webhook", agency=service.agency, options={"url": agency_server.url, "secret": SECRET}
    )
    key = AgencyCredential.objects.create(agency=service.agency)
    settings.TUMEN_SECRETS_KEYS = [NEW_KEY, OLD_KEY]  # the new key first, the old one still there
    assert PluginConfig.objects.get(pk=config.pk).options["secret"] == SECRET
    out = StringIO()
    call_command("rotate_secrets", stdout=out, stderr=StringIO())
    assert "re-encrypted 2 secrets" in out.getvalue() and "unreadable=0" in out.getvalue()
    settings.TUMEN_SECRETS_KEYS = [NEW_KEY]  # the old key removed
    assert PluginConfig.objects.get(pk=config.pk).options["secret"] == SECRET
    assert AgencyCredential.objects.get(pk=key.pk).secret == key.secret
    assert check_secrets_readable(databases=["default"]) == []
    call_command("rotate_secrets", stdout=StringIO(), stderr=StringIO())  # again: harmless
    assert PluginConfig.objects.get(pk=config.pk).options["secret"] == SECRET


def test_a_secret_no_key_opens_is_reported_never_used(settings, client, service, agency_server):
    settings.TUMEN_SECRETS_KEYS = [OLD_KEY]
    config = PluginConfig.objects.create(
        plugin_id="webhook", agency=service.agency, options={"url": agency_server.url, "secret": SECRET}
    )
    settings.TUMEN_SECRETS_KEYS = [OTHER_KEY]  # the old key was dropped before rotate_secrets ran
    loaded = PluginConfig.objects.get(pk=config.pk)
    assert secrets.is_encrypted(loaded.options["secret"]), "kept as stored, not replaced"
    [error] = check_secrets_readable(databases=["default"])
    assert error.id == "plugins.E002" and "1 plugin configurations" in error.msg
    delivery = submit(client, service).deliveries.get()
    assert attempt(delivery.pk) == "retrying" and not agency_server.received
    delivery.refresh_from_db()
    assert "cannot be decrypted" in delivery.last_error
    with pytest.raises(CommandError, match="no key of TUMEN_SECRETS_KEYS decrypts"):
        call_command("rotate_secrets", stdout=StringIO(), stderr=StringIO())
    settings.TUMEN_SECRETS_KEYS = [OTHER_KEY, OLD_KEY]  # the key put back: it all works again
    assert PluginConfig.objects.get(pk=config.pk).options["secret"] == SECRET
    assert attempt(delivery.pk) == "delivered"


def test_rotate_secrets_explains_itself(capsys):
    with pytest.raises(SystemExit):
        call_command("rotate_secrets", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "FIRST key of TUMEN_SECRETS_KEYS" in text
    assert "--dry-run" in text and "remove the old key" in text


def test_the_development_key_comes_from_secret_key_and_bad_keys_are_refused(settings):
    settings.TUMEN_SECRETS_KEYS = []
    [development] = secrets.configured_keys()
    assert development == secrets.development_key(settings.SECRET_KEY)
    settings.SECRET_KEY = "another-" + settings.SECRET_KEY
    assert secrets.configured_keys() != [development], "one installation's key is not another's"
    from cms.checks import secrets_keys_usable

    settings.TUMEN_SECRETS_KEYS = [NEW_KEY, "not-a-key"]
    [error] = secrets_keys_usable(None)
    assert error.id == "tumen.E006" and "key 2" in error.msg and NEW_KEY not in error.msg


MIGRATION_SCRIPT = textwrap.dedent(
    """
    import json, django
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", "plugins", "0005", verbosity=0)  # the schema of the code before
    from service_pages.models import Agency  # its app is fully migrated: its model is the table's

    agency = Agency.objects.create(code="old", name_mn="Хуучин агентлаг").pk
    with connection.cursor() as cursor:
        options = json.dumps({"url": "https://old.example.mn/in", "secret": "plain-old-signing-secret"})
        cursor.execute("INSERT INTO plugins_pluginconfig (plugin_id, name, agency_id, enabled, options, created_at, updated_at) "
                       "VALUES ('webhook', 'default', %s, 1, %s, '2025-01-01', '2025-01-01')", [agency, options])
        cursor.execute("INSERT INTO plugins_agencycredential (agency_id, key_id, secret, active, created_at) "
                       "VALUES (%s, 'ak_old', 'plain-old-key-secret', 1, '2025-01-01')", [agency])
    call_command("migrate", verbosity=0)  # forward: 0006 and 0007
    from plugins.models import AgencyCredential, PluginConfig
    with connection.cursor() as cursor:
        cursor.execute("SELECT options FROM plugins_pluginconfig")
        stored_options = cursor.fetchone()[0]
        cursor.execute("SELECT secret FROM plugins_agencycredential")
        stored_secret = cursor.fetchone()[0]
    print(json.dumps({
        "stored_options": stored_options, "stored_secret": stored_secret,
        "read_secret": PluginConfig.objects.get().options["secret"], "read_key": AgencyCredential.objects.get().secret,
    }))
    call_command("migrate", "plugins", "0005", verbosity=0)  # and back: clear text again
    with connection.cursor() as cursor:
        cursor.execute("SELECT options FROM plugins_pluginconfig")
        print(cursor.fetchone()[0])
        cursor.execute("SELECT secret FROM plugins_agencycredential")
        print(cursor.fetchone()[0])
    """
)


def test_the_migration_encrypts_the_secrets_of_a_database_made_before(tmp_path):
    """A database migrated with the code before (plugins at 0005) holding clear-text secrets."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEARCH_URL", "TUMEN_SECRETS_KEYS")}
    env.update(DJANGO_SETTINGS_MODULE="cms.settings.test", TUMEN_VAR_DIR=str(tmp_path), TUMEN_SECRETS_KEYS=NEW_KEY)
    setup = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert setup.returncode == 0, setup.stderr
    result = subprocess.run(
        [sys.executable, "-c", MIGRATION_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    forward, back_options, back_secret = result.stdout.strip().splitlines()[-3:]
    after = json.loads(forward)
    assert "plain-old-signing-secret" not in after["stored_options"] and "tumen:fernet:" in after["stored_options"]
    assert "https://old.example.mn/in" in after["stored_options"]
    assert after["stored_secret"].startswith("tumen:fernet:") and "plain-old-key-secret" not in after["stored_secret"]
    assert after["read_secret"] == "plain-old-signing-secret" and after["read_key"] == "plain-old-key-secret"
    assert (
        Fernet(NEW_KEY.encode()).decrypt(after["stored_secret"][len("tumen:fernet:") :].encode())
        == b"plain-old-key-secret"
    )
    assert json.loads(back_options)["secret"] == "plain-old-signing-secret" and back_secret == "plain-old-key-secret"
