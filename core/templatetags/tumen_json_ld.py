"""``{% json_ld data %}``: structured data for search engines, safe inside an HTML page."""

import json

from django import template
from django.utils.safestring import mark_safe

register = template.Library()

# "</script>" or "<!--" in a value must not end the data block early (as django.utils.html.json_script).
ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


@register.simple_tag
def json_ld(data: dict) -> str:
    """A ``<script type="application/ld+json">`` block (data, never run as script, so CSP-neutral)."""
    text = json.dumps(data, ensure_ascii=False, default=str).translate(ESCAPES)
    return mark_safe(f'<script type="application/ld+json">{text}</script>')
