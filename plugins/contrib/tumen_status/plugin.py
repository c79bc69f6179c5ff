"""The default status-callback format: ``{"status": "<status>", "message": "<optional staff note>",
"public_message": "<optional message for the citizen>", "document": <optional result document>}``.
``message`` stays with staff; ``document`` is read by ``plugins.result_documents``."""

import json

from django.utils.translation import gettext_lazy as _

from plugins.base import StatusCallbackPlugin, StatusUpdate
from plugins.registry import register


@register("tumen_status")
class TumenStatusPlugin(StatusCallbackPlugin):
    label = _("Tumen status JSON")
    version = "1.0"

    def parse(self, body, headers, options):
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            raise ValueError('expected {"status": "...", "message": "..."}')
        message = data.get("message") or ""
        public_message = data.get("public_message") or ""
        if not isinstance(public_message, str):
            raise ValueError("public_message must be a string")
        document = data.get("document")
        return StatusUpdate(
            status=data["status"], message=str(message)[:2000], public_message=public_message[:2000],
            document=document if document is not None else None,
        )  # fmt: skip
