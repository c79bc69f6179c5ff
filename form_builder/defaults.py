"""The general application form the product ships with (installed by a data migration).

Every service offered online or through an operator can be applied for from day one with it:
the citizen's register number, name, phone, place and a free-text request, plus an optional
attachment. Editors replace it per service or per category with specific forms.

Kept here as plain data, so the migration can write both the editable stream and the frozen
version 1 from one description (``tests/test_forms.py`` checks the two agree).
"""

import uuid

GENERAL_FORM_SLUG = "general-application"
GENERAL_FORM_NAME = "Ерөнхий өргөдлийн маягт / General application form"

_EMPTY_CONDITION = {"field": "", "op": "equals", "value": ""}

GENERAL_FORM_STEPS = [
    {
        "title": "Өргөдөл гаргагч",
        "title_en": "Applicant",
        "fields": [
            {"type": "register_number", "key": "register_number", "label": "Регистрийн дугаар",
             "label_en": "Register number", "required": True, "help_text": "Жишээ нь: УБ99010112",
             "help_text_en": "For example: УБ99010112"},
            {"type": "short_text", "key": "last_name", "label": "Эцэг (эх)-ийн нэр", "label_en": "Family name",
             "required": True, "max_length": 100},
            {"type": "short_text", "key": "first_name", "label": "Нэр", "label_en": "Given name",
             "required": True, "max_length": 100},
            {"type": "phone_mn", "key": "phone", "label": "Утасны дугаар", "label_en": "Phone number",
             "required": True},
            {"type": "email", "key": "email", "label": "И-мэйл хаяг", "label_en": "Email address"},
            {"type": "place", "key": "address", "label": "Оршин суугаа газар", "label_en": "Place of residence",
             "required": True, "help_text": "Аймаг эсвэл нийслэл, сум эсвэл дүүрэг, баг эсвэл хороо",
             "help_text_en": "Aimag or the capital, soum or district, bag or khoroo"},
        ],
    },
    {
        "title": "Хүсэлт",
        "title_en": "Request",
        "fields": [
            {"type": "long_text", "key": "request", "label": "Хүсэлтийн агуулга", "label_en": "Your request",
             "required": True, "max_length": 5000},
            {"type": "file", "key": "attachment", "label": "Хавсралт", "label_en": "Attachment",
             "help_text": "PDF, JPG эсвэл PNG, 10 МБ хүртэл", "help_text_en": "PDF, JPG or PNG, up to 10 MB",
             "max_size_mb": 10, "allowed_types": "pdf, jpg, jpeg, png"},
            {"type": "checkbox", "key": "consent", "label": "Миний өгсөн мэдээлэл үнэн зөв болохыг баталж байна",
             "label_en": "I confirm that the information I gave is true", "required": True},
        ],
    },
]  # fmt: skip

_FIELD_DEFAULTS = {
    "key": "",
    "label_en": "",
    "help_text": "",
    "help_text_en": "",
    "required": False,
    "choices": "",
    "min": "",
    "max": "",
    "max_length": None,
    "max_size_mb": None,
    "allowed_types": "",
}


def stream_data(steps=GENERAL_FORM_STEPS) -> list[dict]:
    """The StreamField's raw JSON for ``steps`` (what the admin editor loads)."""
    stream = []
    for step in steps:
        fields = [
            {
                "type": "item",
                "id": str(uuid.uuid4()),
                "value": {
                    **_FIELD_DEFAULTS,
                    **field,
                    "show_if": field.get("show_if", dict(_EMPTY_CONDITION)),
                    "required_if": field.get("required_if", dict(_EMPTY_CONDITION)),
                },
            }
            for field in step["fields"]
        ]
        stream.append(
            {
                "type": "step",
                "id": str(uuid.uuid4()),
                "value": {
                    "title": step["title"],
                    "title_en": step.get("title_en", ""),
                    "skip_if": step.get("skip_if", dict(_EMPTY_CONDITION)),
                    "fields": fields,
                },
            }
        )
    return stream
