"""The site the API fuzz test (tests/test_api_fuzz.py) runs against: what it holds, and how it is made.

A throw-away copy of the demo catalog behind a real gunicorn, with the few things the public API
needs to do real work rather than answer 404 to everything: services that take applications (the
shipped general form, and a form with every field type and conditions), a closed, an unpublished and
a two-stage service, applications with known tracking codes, an agency key whose secret the test
knows (so it can sign status callbacks), and a signed-in soum operator's session.

Everything is fixed here, so the fuzzer's strategies can name real codes before the site exists.
``python -m tests.fuzz_site SESSION_FILE`` (with the site's settings in the environment) migrates,
loads the demo catalog, writes all this into the database and the operator's session key to
SESSION_FILE.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OPEN_SERVICE = "DEMO-00001"  # the shipped general form
EVERY_TYPE_SERVICE = "DEMO-00002"  # a form with every field type, conditions and a skipped step
CLOSED_SERVICE = "DEMO-00003"  # takes no applications online
UNPUBLISHED_SERVICE = "DEMO-00004"
TWO_STAGE_SERVICE = "DEMO-00005"
SERVICE_CODES = [OPEN_SERVICE, EVERY_TYPE_SERVICE, CLOSED_SERVICE, UNPUBLISHED_SERVICE, TWO_STAGE_SERVICE]

# Applications, each to one of the open services (Crockford base 32: no I, L, O, U).
TRACKING_CODES = ["TMN-F22Z-0001", "TMN-F22Z-0002", "TMN-F22Z-0003", "TMN-F22Z-0004", "TMN-F22Z-0005"]

# The agency key of the services' agency (ubeg), for signed status callbacks.
AGENCY_KEY_ID = "ak_fuzz00000000"
AGENCY_SECRET = "fuzz-secret-" + "0" * 52

OPERATOR_SOUM = "6504"

EVERY_TYPE_STEPS = [
    {
        "title": "Өргөдөл гаргагч",
        "title_en": "Applicant",
        "fields": [
            {"type": "register_number", "key": "register_number", "label": "Регистр", "required": True},
            {"type": "company_number", "key": "company", "label": "Байгууллагын регистр"},
            {"type": "phone_mn", "key": "phone", "label": "Утас", "required": True},
            {"type": "email", "key": "email", "label": "И-мэйл"},
            {"type": "place", "key": "address", "label": "Хаяг"},
            {"type": "heading", "key": "more", "label": "Нэмэлт"},
            {"type": "number", "key": "children", "label": "Хүүхдийн тоо", "min": "0", "max": "20"},
            {"type": "date", "key": "since", "label": "Хэзээнээс", "min": "2000-01-01", "max": "today"},
            {"type": "yes_no", "key": "has_vehicle", "label": "Тээврийн хэрэгсэлтэй юу?", "required": True},
            {"type": "short_text", "key": "plate", "label": "Улсын дугаар", "max_length": 10,
             "show_if": {"field": "has_vehicle", "op": "equals", "value": "true"},
             "required_if": {"field": "has_vehicle", "op": "equals", "value": "true"}},
        ],
    },
    {
        "title": "Тээврийн хэрэгсэл",
        "title_en": "Vehicle",
        "skip_if": {"field": "has_vehicle", "op": "equals", "value": "false"},
        "fields": [
            {"type": "choice", "key": "vehicle_kind", "label": "Төрөл", "required": True,
             "choices": "car | Суудлын | Car\ntruck | Ачааны | Truck"},
            {"type": "multiple_choice", "key": "uses", "label": "Хэрэглээ", "min": "1", "max": "2",
             "choices": "work | Ажил | Work\nhome | Гэр | Home\nfarm | Мал аж ахуй | Farming"},
        ],
    },
    {
        "title": "Баталгаа",
        "title_en": "Confirmation",
        "fields": [
            {"type": "long_text", "key": "note", "label": "Тайлбар", "max_length": 500},
            {"type": "file", "key": "document", "label": "Баримт", "max_size_mb": 1, "allowed_types": "pdf, png"},
            {"type": "checkbox", "key": "consent", "label": "Зөвшөөрч байна", "required": True},
        ],
    },
]  # fmt: skip

GENERAL_ANSWERS = {
    "register_number": "УБ99010112",
    "last_name": "Бат",
    "first_name": "Дорж",
    "phone": "99112233",
    "address": {"aimag": "65", "soum": OPERATOR_SOUM, "bag": "1-р баг"},
    "request": "Иргэний үнэмлэх шинээр авах хүсэлт",
    "consent": True,
}
EVERY_TYPE_ANSWERS = {
    "register_number": "УБ99010112",
    "phone": "99112233",
    "has_vehicle": True,
    "plate": "1234УБА",
    "vehicle_kind": "car",
    "uses": ["work"],
    "consent": True,
}


def seed(session_file: Path) -> None:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from form_builder import defaults
    from form_builder.models import FormDefinition, Source, Submission
    from form_builder.submissions import application_for, submit
    from plugins.models import AgencyCredential
    from service_pages.models import Agency, ServicePage

    services = {code: ServicePage.objects.by_code(code) for code in SERVICE_CODES}
    for service in services.values():
        service.channel_online = True
        service.accepts_applications = True
        service.save_revision().publish()

    definition = FormDefinition(name="Бүх төрөл", slug="every-type", steps=defaults.stream_data(EVERY_TYPE_STEPS))
    definition.save()
    definition.save_revision().publish()
    every_type = ServicePage.objects.by_code(EVERY_TYPE_SERVICE)
    every_type.form_definition = definition
    every_type.save_revision().publish()

    closed = ServicePage.objects.by_code(CLOSED_SERVICE)
    closed.channel_online = closed.channel_operator = closed.channel_in_person = False
    closed.save_revision().publish()
    ServicePage.objects.by_code(UNPUBLISHED_SERVICE).unpublish()

    two_stage = ServicePage.objects.by_code(TWO_STAGE_SERVICE)
    second = Agency.objects.exclude(pk=two_stage.agency_id).order_by("code").first()
    two_stage.stages = 2
    two_stage.stage_agencies = f"{two_stage.agency.code} | {second.code}"
    two_stage.save_revision().publish()

    for tracking_code, (code, answers) in zip(
        TRACKING_CODES,
        [(OPEN_SERVICE, GENERAL_ANSWERS), (OPEN_SERVICE, GENERAL_ANSWERS), (EVERY_TYPE_SERVICE, EVERY_TYPE_ANSWERS),
         (TWO_STAGE_SERVICE, GENERAL_ANSWERS), (TWO_STAGE_SERVICE, GENERAL_ANSWERS)],
        strict=True,
    ):  # fmt: skip
        submission = submit(application_for(ServicePage.objects.by_code(code)), answers, source=Source.API)
        Submission.objects.filter(pk=submission.pk).update(tracking_code=tracking_code)

    AgencyCredential.objects.create(agency=services[OPEN_SERVICE].agency, key_id=AGENCY_KEY_ID, secret=AGENCY_SECRET)

    # A running site's worker keeps the statistics snapshot (a brand-new one answers 503 for a minute).
    call_command("refresh_statistics", verbosity=0, stdout=open(os.devnull, "w"))
    call_command("create_operator", "fuzz-operator", "--soum", OPERATOR_SOUM, "--password", "fuzz-operator-pw")
    operator = User.objects.get(username="fuzz-operator")
    session = SessionStore()
    session[SESSION_KEY] = str(operator.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = operator.get_session_auth_hash()
    session.create()
    session_file.write_text(session.session_key)


def build(session_file: Path) -> None:
    """The whole site's database in one process: migrate, the demo catalog, then :func:`seed`."""
    import os

    from django.core.management import call_command

    with open(os.devnull, "w") as devnull:
        call_command("migrate", "--noinput", verbosity=0, stdout=devnull)
        call_command("load_demo_catalog", stdout=devnull)
        seed(session_file)


if __name__ == "__main__":
    import django

    django.setup()
    build(Path(sys.argv[1]))
