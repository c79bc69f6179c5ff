"""Admin forms of a plugin configuration.

A configuration is edited for one plugin at a time (the views take it from ``?plugin=<id>`` or
from the configuration itself). :class:`PluginConfigForm` adds that plugin's own option fields,
from its ``options_form``, one by one as ``option__<name>``: their labels, help texts, widgets
and per-field errors are the plugin's. What is stored in ``PluginConfig.options`` is exactly what
``Plugin.clean_options()`` returns for the entered values.

Secret options (see :func:`plugins.base.is_secret_option`) are never written back into the page;
on an existing configuration a blank secret keeps the stored one.

The agency and service choices are the user's own agencies' (``plugins.access``): an agency's
integrator configures targets for their agency only, never one for every agency.
"""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.utils import pretty_name
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from service_pages.models import ServicePage

from . import access
from .base import is_secret_option
from .models import AgencyCredential, PluginConfig
from .registry import register

OPTION_PREFIX = "option__"
CLEAR_PREFIX = "clear__"  # "remove the stored value" of an optional secret

KIND_LABELS = {
    "delivery": _("Delivery"),
    "pre_submit": _("Pre-submit check"),
    "status_callback": _("Status callback"),
    "sms": _("SMS gateway"),
    "reference_source": _("Reference source (instant references)"),
    "payment": _("Payment provider (fees)"),
}


def plugin_choices():
    """The installed plugins, grouped by kind."""
    return [(KIND_LABELS[kind], register.choices(kind)) for kind in KIND_LABELS if register.of_kind(kind)]


class PluginChoiceForm(forms.Form):
    """The first step of a new configuration (or of changing a configuration's plugin)."""

    plugin = forms.ChoiceField(
        label=_("plugin"),
        choices=plugin_choices,
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": _(
                "No plugin is installed under the id “%(value)s” (was its package uninstalled?). "
                "Choose an installed plugin, or reinstall the package and restart the site."
            )
        },
    )


class RequiredAgencyField(forms.ModelChoiceField):
    """One of the user's agencies (required: no agency would mean every agency's)."""

    def __init__(self, queryset, label):
        super().__init__(queryset=queryset, label=label, empty_label=None, help_text=_("Your agency's only."))


def limit_agency_choices(form, user, services=False):
    """Offer only the agencies (and their services) ``user`` manages; superusers and the national
    team keep every choice, including none (every agency)."""
    codes = access.managed_codes(user) if user is not None else None
    if codes is None:
        return
    if "agency" in form.fields:
        form.fields["agency"] = RequiredAgencyField(access.agencies_managed_by(user), form.fields["agency"].label)
    if services and "service" in form.fields:
        field = form.fields["service"]
        field.queryset = field.queryset.filter(agency__code__in=codes)


class PluginConfigForm(WagtailAdminModelForm):
    """A configuration with the option fields of ``plugin`` (a registered plugin instance)."""

    class Meta:
        model = PluginConfig
        fields = ["plugin_id", "name", "agency", "service", "enabled"]
        widgets = {"plugin_id": forms.HiddenInput}

    def __init__(self, *args, plugin=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.plugin = plugin
        self.stored_secrets = {}
        self.replaces_plugin_id = ""
        # A service's configuration belongs to its original (Mongolian) page: submissions and
        # deliveries refer to the original whatever language the citizen applied in.
        if "service" in self.fields:
            self.fields["service"].queryset = ServicePage.objects.canonical()
            self.fields["service"].help_text = _(
                "The service's original (Mongolian) page; it applies to its translations too."
            )
        limit_agency_choices(self, getattr(self, "for_user", None), services=True)
        # The plugin is fixed by the page (the views' ?plugin=): never taken from the posted data.
        self.fields["plugin_id"].disabled = True
        self.fields["plugin_id"].required = False
        if plugin is None:
            return
        self.initial["plugin_id"] = plugin.id
        same_plugin = self.instance.plugin_id == plugin.id
        # Changing an existing configuration's plugin: its stored options are not reused.
        self.replaces_plugin_id = self.instance.plugin_id if self.instance.pk and not same_plugin else ""
        stored = dict(self.instance.options or {}) if same_plugin else {}
        for name, field in plugin.options_form().fields.items():  # this instance's own copies
            field.label = field.label or pretty_name(name)
            if is_secret_option(name, field):
                attrs = {**field.widget.attrs, "autocomplete": "new-password"}
                field.widget = forms.PasswordInput(attrs=attrs, render_value=False)
                if self.instance.pk and stored.get(name):
                    self.stored_secrets[name] = stored[name]
                    optional = not field.required
                    field.required = False
                    keep = _("A value is stored; leave this blank to keep it.")
                    field.help_text = f"{field.help_text} {keep}" if field.help_text else keep
                    self.fields[OPTION_PREFIX + name] = field
                    if optional:  # blank means "keep", so removing it needs its own box
                        self.fields[CLEAR_PREFIX + name] = forms.BooleanField(
                            label=_("Remove the stored value of “%(label)s”") % {"label": field.label}, required=False
                        )
                    continue
            elif name in stored:
                self.initial[OPTION_PREFIX + name] = stored[name]
            self.fields[OPTION_PREFIX + name] = field

    def option_fields(self):
        """The bound fields of the plugin's options, in the plugin's order (a secret's "remove"
        box right after it)."""
        return [field for field in self.visible_fields() if field.name.startswith((OPTION_PREFIX, CLEAR_PREFIX))]

    def config_fields(self):
        return [field for field in self.visible_fields() if not field.name.startswith((OPTION_PREFIX, CLEAR_PREFIX))]

    def clean(self):
        cleaned_data = super().clean()
        if self.plugin is None:  # PluginConfig.clean() refuses a configuration without a plugin
            return cleaned_data
        names = [name[len(OPTION_PREFIX) :] for name in self.fields if name.startswith(OPTION_PREFIX)]
        if any(self.has_error(OPTION_PREFIX + name) for name in names):
            return cleaned_data  # each problem is shown next to its field already
        values = {name: cleaned_data.get(OPTION_PREFIX + name) for name in names}
        for name, stored in self.stored_secrets.items():
            if values.get(name) in (None, "") and not cleaned_data.get(CLEAR_PREFIX + name):
                values[name] = stored
        try:
            self.instance.options = self.plugin.clean_options(values)
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                field = OPTION_PREFIX + name
                self.add_error(field if field in self.fields else None, messages)
        return cleaned_data

    def _update_errors(self, errors):
        # PluginConfig.clean() checks the options again and reports under "options", which is not
        # a field of this form: its problems are already next to the option fields (or, if only
        # the model found them, they are shown above the form).
        error_dict = getattr(errors, "error_dict", None)
        if error_dict and "options" in error_dict:
            problems = error_dict.pop("options")
            if not any(self.has_error(name) for name in self.fields if name.startswith(OPTION_PREFIX)):
                error_dict.setdefault(NON_FIELD_ERRORS, []).extend(problems)
        super()._update_errors(errors)


class AgencyCredentialForm(WagtailAdminModelForm):
    """A new or existing key: which agency, and whether it is active (the secret is generated)."""

    class Meta:
        model = AgencyCredential
        fields = ["agency", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit_agency_choices(self, getattr(self, "for_user", None))
        if self.instance.pk and "agency" in self.fields:
            self.fields["agency"].disabled = True  # a key stays with the agency it was made for
