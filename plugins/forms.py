"""Admin form of a plugin configuration: the plugin's own options form validates the options."""

import json

from django import forms
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from .registry import register


def options_help():
    return format_html_join(
        "",
        "<p><strong>{}</strong> ({}): {}</p>",
        (
            (plugin.id, plugin.kind, ", ".join(f"{o['name']}{'*' if o['required'] else ''}" for o in plugin.options_schema()) or "—")
            for plugin in register
        ),
    )


class PluginConfigForm(WagtailAdminModelForm):
    plugin_id = forms.ChoiceField(label=_("plugin"), choices=lambda: register.choices())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "options" in self.fields:
            self.fields["options"].widget = forms.Textarea(attrs={"rows": 8, "style": "font-family: monospace"})
            self.fields["options"].help_text = format_html_join(
                "", "{}", [(_("A JSON object. Options per plugin (* = required):"),)]
            ) + options_help()

    def clean_options(self):
        value = self.cleaned_data.get("options")
        if isinstance(value, str):
            try:
                value = json.loads(value or "{}")
            except ValueError:
                raise forms.ValidationError(_("Enter a JSON object.")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Enter a JSON object."))
        return value
