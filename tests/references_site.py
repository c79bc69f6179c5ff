"""What the reference browser tests (tests/test_browser_references.py) need on the live site, and
what they read back from it. Run with the live site's environment (``gunicorn_site.LIVE_SITE_ENV``):

- ``python -m tests.references_site source URL``: the reference service's agency (ubeg, the
  demo's "Оршин суугаа хаягийн лавлагаа") asks the stand-in reference source at ``URL`` (a
  ``tests.reference_server.ReferenceServer`` on loopback, signed JSON); prints the service as JSON;
- ``python -m tests.references_site document CODE``: the stored facts of the document with this
  verification code (its operator, holder, in-person proof, file) and the access-log entries of
  its downloads, as JSON.
"""

from __future__ import annotations

import json
import sys

SERVICE = "DEMO-00008"


def source(url: str) -> dict:
    from plugins.models import PluginConfig
    from service_pages.models import ServicePage
    from tests.reference_server import SECRET

    service = ServicePage.objects.select_related("agency").by_code(SERVICE)
    PluginConfig.objects.update_or_create(
        plugin_id="reference_json", name="browser-test", agency=service.agency, service=None,
        defaults={"options": {"url": url, "secret": SECRET}, "enabled": True},
    )  # fmt: skip
    return {"code": service.code, "title": service.title, "agency": service.agency.code}


def document(code: str) -> dict:
    from documents.models import IssuedDocument
    from form_builder.access_log import AccessLogEntry

    found = IssuedDocument.objects.select_related("agency", "operator").get(verification_code=code)
    entries = AccessLogEntry.objects.filter(document_code=code).select_related("agency").order_by("at")
    return {
        "holder_register_number": found.holder_register_number,
        "holder_name": found.holder_name,
        "operator": found.operator.get_username() if found.operator else None,
        "in_person": found.in_person,
        "stored": found.file.storage.exists(found.file.name),
        "access_log": [
            {
                "username": entry.username,
                "action": entry.action,
                "agency": entry.agency.code if entry.agency else None,
                "detail": entry.detail,
            }
            for entry in entries
        ],
    }


if __name__ == "__main__":
    import django

    django.setup()
    command, argument = sys.argv[1], sys.argv[2]
    print(json.dumps({"source": source, "document": document}[command](argument), ensure_ascii=False))
