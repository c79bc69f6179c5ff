"""The admin's plugin configuration form: a plugin's own options, field by field.

Every plugin declares its options as a Django form (``options_form``); the admin shows those
fields one by one (``option__<name>``) for the chosen plugin, with their widgets and per-field
errors, and stores what ``Plugin.clean_options()`` returns. Secrets are never written back into
the page. Checked through the real admin views (Mongolian, the default admin language, so the
assertions look at the HTML's structure rather than at English words).
"""

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from django import forms

from plugins.base import DeliveryPlugin
from plugins.models import PluginConfig
from plugins.registry import register
from service_pages.models import ServicePage

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db
SECRET = "s3cret-shared-with-the-agency"
NEW = "/admin/plugin_configs/new/"


@pytest.fixture
def service(demo_catalog):
    return ServicePage.objects.live().canonical().filter(channel_online=True).select_related("agency").order_by("code").first()


def field_html(html: str, name: str) -> str:
    """The HTML of one field as the admin renders it: label, errors, help text and input."""
    start = html.index(f'data-contentpath="{name}"')
    end = html.find("data-field-wrapper", start)
    return html[start : end if end != -1 else len(html)]


def input_tag(html: str, name: str) -> str:
    match = re.search(rf'<(input|textarea|select)\b[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert match, f"no form control named {name!r}"
    return match.group(0)


def has_error(html: str, name: str) -> bool:
    return '<p class="error-message">' in field_html(html, name).split("data-field-help", 1)[0]


def webhook_post(service, **options):
    data = {"name": "registry", "agency": service.agency.pk, "enabled": "on"}
    data.update({f"option__{key}": value for key, value in options.items()})
    return data


def saved_webhook(service, **options):
    return PluginConfig.objects.create(
        plugin_id="webhook", name="registry", agency=service.agency,
        options=register["webhook"].clean_options({"url": "https://agency.example.mn/in", "secret": SECRET, **options}),
    )  # fmt: skip


# -- choosing the plugin ---------------------------------------------------------------------


def test_a_new_configuration_asks_for_the_plugin_first(admin_client):
    response = admin_client.get(NEW)
    assert response.status_code == 200
    html = response.content.decode()
    for plugin in register:
        assert re.search(rf'<input type="radio" name="plugin" value="{plugin.id}"', html), plugin.id
    assert 'method="get"' in html and "option__" not in html
    assert 'name="options"' not in html, "no JSON textarea"


def test_the_webhook_form_shows_each_option_with_its_own_widget(admin_client):
    response = admin_client.get(NEW + "?plugin=webhook")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="options"' not in html, "no JSON textarea any more"
    assert f'action="{NEW}?plugin=webhook"' in html
    assert 'type="url"' in input_tag(html, "option__url")
    secret = input_tag(html, "option__secret")
    assert 'type="password"' in secret and "required" in secret
    assert input_tag(html, "option__public_key").startswith("<textarea")
    checkbox = input_tag(html, "option__include_files")
    assert 'type="checkbox"' in checkbox and "checked" in checkbox, "the option's default is shown"
    assert 'type="number"' in input_tag(html, "option__timeout")
    options = register["webhook"].options_form.base_fields
    for name, form_field in options.items():
        rendered = field_html(html, f"option__{name}")
        assert f'for="id_option__{name}"' in html, "every option has its label"
        label = html.split(f'for="id_option__{name}"')[1].split("</label>")[0]
        assert ("w-required-mark" in label) == form_field.required, f"{name}: required marker"
        if form_field.help_text:
            assert 'class="help"' in rendered
    # the configuration's own fields are still there, and the plugin is fixed by the page
    for name in ("name", "agency", "service", "enabled"):
        input_tag(html, name)
    assert re.search(r'<input type="hidden" name="plugin_id" value="webhook" disabled', html)


def test_every_installed_plugin_gets_its_fields(admin_client):
    for plugin in register:
        response = admin_client.get(f"{NEW}?plugin={plugin.id}")
        assert response.status_code == 200, plugin.id
        html = response.content.decode()
        for name in plugin.options_form.base_fields:
            input_tag(html, f"option__{name}")


# -- creating ------------------------------------------------------------------------------------


def test_valid_options_are_stored_as_clean_options_gives_them(admin_client, service):
    entered = {"url": "agency.example.mn/in", "secret": SECRET, "public_key": "", "timeout": "7.5"}  # no "include_files"
    response = admin_client.post(NEW + "?plugin=webhook", webhook_post(service, **entered))
    assert response.status_code == 302, response.content.decode()[:2000]
    config = PluginConfig.objects.get()
    assert (config.plugin_id, config.name, config.agency, config.enabled) == ("webhook", "registry", service.agency, True)
    expected = register["webhook"].clean_options({**entered, "include_files": False})
    assert config.options == expected
    assert config.options == {
        "url": "https://agency.example.mn/in", "secret": SECRET, "public_key": "", "include_files": False, "timeout": 7.5,
    }  # fmt: skip


def test_an_invalid_url_is_shown_next_to_its_field_and_nothing_is_saved(admin_client, service):
    response = admin_client.post(NEW + "?plugin=webhook", webhook_post(service, url="nope nope", secret=SECRET, include_files="on"))
    assert response.status_code == 200
    assert PluginConfig.objects.count() == 0
    html = response.content.decode()
    assert has_error(html, "option__url")
    assert 'aria-invalid="true"' in input_tag(html, "option__url")
    assert not has_error(html, "option__secret") and not has_error(html, "option__timeout")
    assert 'value="nope nope"' in input_tag(html, "option__url"), "what was typed is shown again"
    assert SECRET not in html, "a secret is never written back into the page"
    assert f'action="{NEW}?plugin=webhook"' in html


def test_an_option_checked_only_by_the_plugin_is_reported_on_its_field(admin_client, service, monkeypatch):
    """Validation a plugin does in its form's clean_<name>()/clean() reaches the right place too."""

    class TwoOptions(forms.Form):
        low = forms.IntegerField(label="low")
        high = forms.IntegerField(label="high")

        def clean_high(self):
            if self.cleaned_data["high"] == 13:
                raise forms.ValidationError("unlucky")
            return self.cleaned_data["high"]

        def clean(self):
            data = super().clean()
            if data.get("low") is not None and data.get("high") is not None and data["low"] > data["high"]:
                raise forms.ValidationError("low must not exceed high")
            return data

    class Ranged(DeliveryPlugin):
        label = "ranged"
        options_form = TwoOptions

    plugin = Ranged()
    plugin.id = "ranged_test"
    monkeypatch.setitem(register._plugins, plugin.id, plugin)
    url = f"{NEW}?plugin=ranged_test"
    data = {"name": "default", "enabled": "on"}
    response = admin_client.post(url, {**data, "option__low": "1", "option__high": "13"})
    assert response.status_code == 200 and "unlucky" in field_html(response.content.decode(), "option__high")
    response = admin_client.post(url, {**data, "option__low": "5", "option__high": "2"}, follow=True)
    assert PluginConfig.objects.count() == 0
    assert "low must not exceed high" in response.content.decode()
    response = admin_client.post(url, {**data, "option__low": "2", "option__high": "5"})
    assert response.status_code == 302 and PluginConfig.objects.get().options == {"low": 2, "high": 5}


# -- editing ---------------------------------------------------------------------------------


def test_editing_shows_the_stored_values_but_never_the_secret(admin_client, service):
    config = saved_webhook(service, timeout=4, include_files=False)
    response = admin_client.get(f"/admin/plugin_configs/edit/{config.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="https://agency.example.mn/in"' in input_tag(html, "option__url")
    assert 'value="4' in input_tag(html, "option__timeout")
    assert "checked" not in input_tag(html, "option__include_files")
    secret = input_tag(html, "option__secret")
    assert 'type="password"' in secret and "value=" not in secret and "required" not in secret
    assert SECRET not in html
    assert 'name="options"' not in html


def test_the_inspect_page_lists_the_options_but_not_the_secret(admin_client, service):
    config = saved_webhook(service, timeout=4)
    html = admin_client.get(f"/admin/plugin_configs/inspect/{config.pk}/").content.decode()
    assert "https://agency.example.mn/in" in html and SECRET not in html


def test_a_blank_secret_on_edit_keeps_the_stored_one_and_a_new_one_replaces_it(admin_client, service):
    config = saved_webhook(service)
    url = f"/admin/plugin_configs/edit/{config.pk}/"
    response = admin_client.post(url, webhook_post(service, url="https://agency.example.mn/v2", secret="", include_files="on"))
    assert response.status_code == 302, response.content.decode()[:2000]
    config.refresh_from_db()
    assert config.options["secret"] == SECRET and config.options["url"] == "https://agency.example.mn/v2"
    assert config.options == register["webhook"].clean_options({**config.options})

    response = admin_client.post(url, webhook_post(service, url="https://agency.example.mn/v2", secret="short"))
    assert response.status_code == 200 and has_error(response.content.decode(), "option__secret"), "a new secret is validated"
    config.refresh_from_db()
    assert config.options["secret"] == SECRET

    response = admin_client.post(url, webhook_post(service, url="https://agency.example.mn/v2", secret="another-secret-of-16+"))
    assert response.status_code == 302
    config.refresh_from_db()
    assert config.options["secret"] == "another-secret-of-16+" and config.options["include_files"] is False


def test_changing_the_plugin_shows_the_new_plugins_fields_without_the_old_options(admin_client, service):
    config = saved_webhook(service)
    url = f"/admin/plugin_configs/edit/{config.pk}/"
    html = admin_client.get(url).content.decode()
    assert f'href="{url}?plugin="' in html, "a link to choose another plugin"
    chooser = admin_client.get(url + "?plugin=")
    assert chooser.status_code == 200
    assert re.search(r'<input type="radio" name="plugin" value="webhook"[^>]*checked', chooser.content.decode())

    response = admin_client.get(url + "?plugin=email")
    assert response.status_code == 200
    html = response.content.decode()
    input_tag(html, "option__to")
    assert "option__secret" not in html and "option__url" not in html
    assert f'action="{url}?plugin=email"' in html
    assert "help-warning" in html, "the page says that saving replaces the webhook's options"
    config.refresh_from_db()
    assert config.plugin_id == "webhook", "nothing changes before saving"

    response = admin_client.post(url + "?plugin=email", {"name": "registry", "agency": service.agency.pk, "enabled": "on", "option__to": "bad"})
    assert response.status_code == 200 and has_error(response.content.decode(), "option__to")
    assert f'action="{url}?plugin=email"' in response.content.decode(), "still the new plugin's form"
    response = admin_client.post(
        url + "?plugin=email", {"name": "registry", "agency": service.agency.pk, "enabled": "on", "option__to": "office@agency.mn"}
    )
    assert response.status_code == 302
    config.refresh_from_db()
    assert config.plugin_id == "email"
    assert config.options == {"to": "office@agency.mn", "attach_files": False}, "no webhook option is mixed in"


def test_a_copy_keeps_the_options_but_asks_for_the_secret_again(admin_client, service):
    config = saved_webhook(service, timeout=3)
    response = admin_client.get(f"/admin/plugin_configs/copy/{config.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{NEW}?plugin=webhook"' in html
    assert 'value="https://agency.example.mn/in"' in input_tag(html, "option__url")
    assert SECRET not in html and "required" in input_tag(html, "option__secret")


# -- unknown plugins ---------------------------------------------------------------------------


def test_an_unknown_plugin_id_is_explained_not_a_server_error(admin_client, service):
    response = admin_client.get(NEW + "?plugin=uninstalled_pkg")
    assert response.status_code == 200
    html = response.content.decode()
    assert "uninstalled_pkg" in field_html(html, "plugin") and has_error(html, "plugin")
    assert "option__" not in html
    response = admin_client.post(NEW + "?plugin=uninstalled_pkg", {"name": "x", "enabled": "on", "option__url": "https://x.mn"})
    assert response.status_code == 200 and PluginConfig.objects.count() == 0


def test_a_configuration_whose_plugin_was_uninstalled_can_still_be_opened(admin_client, service):
    config = PluginConfig.objects.create(plugin_id="gone_plugin", agency=service.agency, options={"token": "keep-me"})
    url = f"/admin/plugin_configs/edit/{config.pk}/"
    response = admin_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert has_error(html, "plugin") and "gone_plugin" in field_html(html, "plugin")
    assert "keep-me" not in html
    assert admin_client.post(url, {"name": "changed", "enabled": "on"}).status_code == 200
    config.refresh_from_db()
    assert (config.name, config.options) == ("default", {"token": "keep-me"}), "nothing saved"
    inspect = admin_client.get(f"/admin/plugin_configs/inspect/{config.pk}/")
    assert inspect.status_code == 200 and "keep-me" not in inspect.content.decode()
    assert admin_client.get("/admin/plugin_configs/").status_code == 200


# -- a third-party package -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_package(tmp_path_factory):
    """The example agency package, installed into the venv as an agency would (pip install)."""
    import importlib

    package = ROOT / "plugins" / "examples" / "tumen_sms_gateway"
    try:
        metadata.distribution("tumen-sms-gateway")
    except metadata.PackageNotFoundError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", str(package)],
            check=True, capture_output=True, timeout=300, cwd=tmp_path_factory.mktemp("pip"),
        )  # fmt: skip
        importlib.invalidate_caches()
    register.discover()
    return package


def test_a_third_party_plugin_gets_its_own_fields(example_package, admin_client, service):
    assert "sms_gateway" in register
    html = admin_client.get(NEW + "?plugin=sms_gateway").content.decode()
    assert 'type="url"' in input_tag(html, "option__url")
    assert 'type="password"' in input_tag(html, "option__token"), "a token is a secret by its name"
    assert 'value="phone"' in input_tag(html, "option__phone_field") and 'value="TUMEN"' in input_tag(html, "option__sender")
    assert "Gateway URL" in html and "API token" in html, "the package's own labels"

    data = {"name": "sms", "agency": service.agency.pk, "enabled": "on", "option__url": "sms.example.mn/send",
            "option__token": "t0k3n", "option__phone_field": "phone", "option__sender": "TUMEN"}  # fmt: skip
    response = admin_client.post(NEW + "?plugin=sms_gateway", {**data, "option__sender": "TOO-LONG-SENDER"})
    assert response.status_code == 200 and has_error(response.content.decode(), "option__sender")
    assert admin_client.post(NEW + "?plugin=sms_gateway", data).status_code == 302
    config = PluginConfig.objects.get(plugin_id="sms_gateway")
    assert config.options == register["sms_gateway"].clean_options(
        {"url": "sms.example.mn/send", "token": "t0k3n", "phone_field": "phone", "sender": "TUMEN"}
    )
    edit = admin_client.get(f"/admin/plugin_configs/edit/{config.pk}/").content.decode()
    assert "t0k3n" not in edit and 'value="https://sms.example.mn/send"' in input_tag(edit, "option__url")


def test_a_service_configuration_names_the_original_page_not_a_translation(admin_client, service):
    english = service.get_translations().filter(locale__language_code="en").first()
    assert english is not None, "the demo catalog has English translations"
    url = "/admin/plugin_configs/new/?plugin=webhook"
    fields = {"name": "main", "agency": service.agency.pk, "enabled": "on", "option__url": "https://agency.example.mn/hook", "option__secret": "s" * 20}
    response = admin_client.post(url, {**fields, "service": english.pk})
    assert response.status_code == 200 and not PluginConfig.objects.exists(), "a translation is refused"
    response = admin_client.post(url, {**fields, "service": service.pk})
    assert response.status_code == 302 and PluginConfig.objects.get().service_id == service.pk


def test_an_optional_secret_can_be_removed_but_is_kept_when_left_blank(admin_client, service):
    from django import forms as django_forms

    from plugins.base import DeliveryPlugin
    from plugins.registry import register as registry

    class Options(django_forms.Form):
        url = django_forms.URLField(assume_scheme="https")
        api_token = django_forms.CharField(required=False)

    @registry("test_optional_secret")
    class WithOptionalSecret(DeliveryPlugin):
        label = "optional secret"
        options_form = Options

    try:
        config = PluginConfig.objects.create(
            plugin_id="test_optional_secret", agency=service.agency, options={"url": "https://agency.example.mn/in", "api_token": "tok-123"}
        )
        url = f"/admin/plugin_configs/edit/{config.pk}/"
        html = admin_client.get(url).content.decode()
        assert 'name="clear__api_token"' in html and "tok-123" not in html
        fields = {"name": config.name, "agency": service.agency.pk, "enabled": "on", "option__url": "https://agency.example.mn/in"}
        assert admin_client.post(url, {**fields, "option__api_token": ""}).status_code == 302
        config.refresh_from_db()
        assert config.options["api_token"] == "tok-123", "blank keeps the stored secret"
        assert admin_client.post(url, {**fields, "option__api_token": "", "clear__api_token": "on"}).status_code == 302
        config.refresh_from_db()
        assert config.options["api_token"] == "", "the box removes it"
        # A required secret has no such box: it cannot be left empty.
        webhook = PluginConfig.objects.create(
            plugin_id="webhook", name="w", agency=service.agency, options={"url": "https://agency.example.mn/in", "secret": "s" * 20}
        )
        assert "clear__secret" not in admin_client.get(f"/admin/plugin_configs/edit/{webhook.pk}/").content.decode()
    finally:
        registry._plugins.pop("test_optional_secret", None)
