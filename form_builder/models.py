"""Forms attached to services, their frozen versions, drafts and submissions.

How the pieces relate (see docs/ARCHITECTURE.md, "How a submission flows"):

- :class:`FormDefinition` is what editors build in the admin (a snippet with drafts, revisions
  and publishing). One definition serves many services: a service points at one, else its
  category's default, else the site's default form.
- Publishing a definition freezes a :class:`FormVersion`: the form's JSON, never changed again.
  Each :class:`Submission` and :class:`Draft` points at the version it was made with, so later
  edits (a renamed label, a new question) never change what an old submission means.
- A submission is written in one transaction with its first :class:`SubmissionEvent` (status
  ``received``) and its :class:`StoredFile` rows; the ``submission_received`` signal, sent inside
  that transaction, lets the plugins app write its deliveries in it too.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import DraftStateMixin, LockableMixin, RevisionMixin, WorkflowMixin

from service_pages.governance import filter_submissions

from .blocks import StepBlock
from .spec import FormSchemaError, FormSpec

# -- private file storage ------------------------------------------------------------------------


class PrivateStorage(LazyObject):
    """Uploads live under ``TUMEN_PRIVATE_MEDIA_ROOT``, which no URL serves; staff download them
    through a permission-checked view (``form_builder.admin_views.download_file``)."""

    def _setup(self):
        self._wrapped = FileSystemStorage(location=settings.TUMEN_PRIVATE_MEDIA_ROOT, base_url=None)

    def reset(self):
        """Forget the folder: the next use reads ``TUMEN_PRIVATE_MEDIA_ROOT`` again (tests move it)."""
        self._wrapped = empty


_private_storage = PrivateStorage()


def private_storage():
    """A callable, so migrations refer to it by name instead of freezing a path."""
    return _private_storage


def _upload_path(instance, filename):
    # Random names: the citizen's file name is kept in the database only.
    return f"submissions/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


# -- form definitions and versions ----------------------------------------------------------------

_KEY_TRANSLIT = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "j", "з": "z",
        "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "ө": "u", "п": "p",
        "р": "r", "с": "s", "т": "t", "у": "u", "ү": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch",
        "ш": "sh", "щ": "sh", "ъ": "", "ы": "y", "ь": "i", "э": "e", "ю": "yu", "я": "ya",
    }
)  # fmt: skip


def key_from_label(label: str, taken: set[str]) -> str:
    """A stable answer key from a (usually Mongolian) label: "Утасны дугаар" -> "utasny_dugaar"."""
    text = slugify(str(label).lower().translate(_KEY_TRANSLIT)).replace("-", "_")[:48].strip("_")
    if not text or not text[0].isalpha():
        text = f"q_{text}".strip("_")
    key, number = text, 2
    while key in taken:
        key, number = f"{text}_{number}", number + 1
    return key


def _condition_json(value):
    if not value or not value.get("field"):
        return None
    return {"field": value["field"], "op": value.get("op") or "equals", "value": value.get("value") or None}


def _choices_json(text: str) -> list[dict]:
    choices = []
    for line in (text or "").splitlines():
        parts = [part.strip() for part in line.split("|")]
        if not parts[0]:
            continue
        mn = parts[1] if len(parts) > 1 and parts[1] else parts[0]
        en = parts[2] if len(parts) > 2 and parts[2] else ""
        choices.append({"value": parts[0], "label": {"mn": mn, "en": en}})
    return choices


def _number_or_text(value):
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


class FormDefinition(WorkflowMixin, DraftStateMixin, LockableMixin, RevisionMixin, models.Model):
    """A reusable application form, built by editors from steps and questions."""

    name = models.CharField(_("name"), max_length=255)
    slug = models.SlugField(_("slug"), max_length=64, unique=True, help_text=_("Stable name used by imports and the API."))
    description = models.TextField(_("description"), blank=True)
    steps = StreamField([("step", StepBlock())], verbose_name=_("steps"), use_json_field=True)
    agency = models.ForeignKey(
        "service_pages.Agency",
        verbose_name=_("agency"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="forms",
        help_text=_("The agency whose editors maintain this form. Empty: the national catalog team."),
    )
    is_default = models.BooleanField(
        _("default form"),
        default=False,
        help_text=_("Used by services that have no form of their own and whose category has none."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    panels = [
        FieldPanel("name"),
        FieldPanel("slug"),
        FieldPanel("description"),
        FieldPanel("agency"),
        FieldPanel("is_default"),
        FieldPanel("steps"),
    ]

    class Meta:
        verbose_name = _("application form")
        verbose_name_plural = _("application forms")
        ordering = ["name"]

    def __str__(self):
        return self.name

    # The stream as editors left it -> the plain JSON a version freezes.
    def assign_missing_keys(self):
        """Give every question without a key one made from its label, and keep it from then on."""
        taken = {item["key"] for step in self.steps for item in step.value["fields"] if item["key"]}
        for step in self.steps:
            for item in step.value["fields"]:
                if not item["key"]:
                    item["key"] = key_from_label(item["label"], taken)
                    taken.add(item["key"])

    def build_schema(self) -> dict:
        steps = []
        for index, step in enumerate(self.steps, start=1):
            value = step.value
            fields = []
            for item in value["fields"]:
                options = {}
                if item["choices"]:
                    options["choices"] = _choices_json(item["choices"])
                for name in ("min", "max"):
                    if item[name] not in (None, ""):
                        options[name] = item[name] if item["type"] == "date" else _number_or_text(item[name])
                if item["max_length"]:
                    options["max_length"] = item["max_length"]
                if item["max_size_mb"]:
                    options["max_size_mb"] = item["max_size_mb"]
                if item["allowed_types"]:
                    options["allowed_types"] = [ext.strip().lstrip(".").lower() for ext in item["allowed_types"].split(",") if ext.strip()]
                fields.append(
                    {
                        "key": item["key"],
                        "type": item["type"],
                        "label": {"mn": item["label"], "en": item["label_en"]},
                        "help_text": {"mn": item["help_text"], "en": item["help_text_en"]},
                        "required": bool(item["required"]),
                        "options": options,
                        "show_if": _condition_json(item["show_if"]),
                        "required_if": _condition_json(item["required_if"]),
                    }
                )
            steps.append(
                {
                    "key": f"step-{index}",
                    "title": {"mn": value["title"], "en": value["title_en"]},
                    "skip_if": _condition_json(value["skip_if"]),
                    "fields": fields,
                }
            )
        return {"steps": steps}

    def clean(self):
        super().clean()
        self.assign_missing_keys()
        try:
            FormSpec.from_schema(self.build_schema())
        except FormSchemaError as error:
            raise ValidationError({"steps": _("The form cannot be used: %(problem)s") % {"problem": error}}) from None

    def save(self, *args, **kwargs):
        self.assign_missing_keys()
        super().save(*args, **kwargs)

    @property
    def current_version(self) -> FormVersion | None:
        return self.versions.order_by("-number").first()

    def freeze_version(self, user=None) -> FormVersion:
        """The version citizens get from now on; a new one only when the form really changed."""
        schema = self.build_schema()
        FormSpec.from_schema(schema)  # never freeze an unusable form
        latest = self.current_version
        if latest is not None and latest.schema == schema:
            return latest
        return FormVersion.objects.create(
            definition=self, number=(latest.number + 1 if latest else 1), schema=schema, created_by=user
        )


class FormVersion(models.Model):
    """A published form, frozen: submissions keep pointing at the version they answered."""

    definition = models.ForeignKey(FormDefinition, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    schema = models.JSONField(_("form"))
    created_at = models.DateTimeField(_("published"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("form version")
        constraints = [models.UniqueConstraint(fields=["definition", "number"], name="form_version_unique_number")]

    def __str__(self):
        return f"{self.definition} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None and FormVersion.objects.filter(pk=self.pk).exclude(schema=self.schema).exists():
            raise ValidationError("a published form version is frozen; publish a new version instead")
        super().save(*args, **kwargs)

    @property
    def spec(self) -> FormSpec:
        """The parsed form, shared per version by the whole process: versions never change."""
        key = (self.pk, self.created_at)  # a rolled-back id may be reused; its timestamp is not
        spec = _SPEC_CACHE.get(key) if self.pk else None
        if spec is None:
            spec = FormSpec.from_schema(self.schema)
            if self.pk:
                if len(_SPEC_CACHE) >= 512:
                    _SPEC_CACHE.clear()
                _SPEC_CACHE[key] = spec
        return spec


_SPEC_CACHE: dict[tuple, FormSpec] = {}


def form_for_service(service) -> FormDefinition | None:
    """The live form a service is applied for with: its own, its category's, else the default."""
    for candidate in (
        getattr(service, "form_definition", None),
        getattr(getattr(service, "category", None), "default_form", None),
    ):
        if candidate is not None and candidate.live:
            return candidate
    return FormDefinition.objects.filter(live=True, is_default=True).order_by("pk").first()


# -- submissions --------------------------------------------------------------------------------


class Status(models.TextChoices):
    RECEIVED = "received", _("Received")
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
    PAID = "paid", _("Paid")
    DELIVERED = "delivered", _("Sent to the agency")
    IN_PROGRESS = "in_progress", _("In progress")
    STAGE_COMPLETED = "stage_completed", _("Stage completed")
    NEEDS_INFORMATION = "needs_information", _("More information needed")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    COMPLETED = "completed", _("Completed")


class Source(models.TextChoices):
    WEB = "web", _("Website")
    API = "api", _("API (mobile app, kiosk)")
    OPERATOR = "operator", _("Soum operator")


# Crockford's base 32 without I, L, O, U: no letters a person confuses with digits.
TRACKING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_PREFIX = "TMN"


def new_tracking_code() -> str:
    """``TMN-XXXX-XXXX``: 40 random bits, easy to read out over the phone."""
    body = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(8))
    return f"{TRACKING_PREFIX}-{body[:4]}-{body[4:]}"


def normalize_tracking_code(text: str) -> str:
    """What a person typed ("tmn 7k3q 9xwd", "TMN7K3Q9XWD") -> the stored form, or ""."""
    cleaned = "".join(ch for ch in str(text).upper() if ch.isalnum())
    cleaned = cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if cleaned.startswith(TRACKING_PREFIX):
        cleaned = cleaned[len(TRACKING_PREFIX) :]
    if len(cleaned) != 8 or any(ch not in TRACKING_ALPHABET for ch in cleaned):
        return ""
    return f"{TRACKING_PREFIX}-{cleaned[:4]}-{cleaned[4:]}"


class Submission(models.Model):
    """An application a citizen made (online, through the API or through a soum operator)."""

    tracking_code = models.CharField(_("tracking code"), max_length=16, unique=True, editable=False)
    service = models.ForeignKey(
        "service_pages.ServicePage", verbose_name=_("service"), null=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    service_code = models.CharField(_("service code"), max_length=32, db_index=True)
    service_title = models.CharField(_("service"), max_length=255)
    agency = models.ForeignKey(
        "service_pages.Agency", verbose_name=_("agency"), null=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    form_version = models.ForeignKey(FormVersion, verbose_name=_("form version"), on_delete=models.PROTECT, related_name="submissions")
    data = models.JSONField(_("answers"))
    status = models.CharField(_("status"), max_length=32, choices=Status.choices, default=Status.RECEIVED)
    source = models.CharField(_("channel"), max_length=16, choices=Source.choices, default=Source.WEB)
    language = models.CharField(_("language"), max_length=8, default="mn")
    applicant_register_number = models.CharField(_("applicant's register number"), max_length=10, blank=True, db_index=True)
    # A citizen signed in through the national identity service (ДАН): who they are as it verified
    # them (citizens.identity.Identity, and the organisation they acted for); empty otherwise.
    verified_identity = models.JSONField(
        _("verified identity"), default=dict, blank=True, help_text=_("The signed-in applicant as the national identity service verified them.")
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Operator mode: who the application is for, and the office that made it (scoping, statistics).
    citizen = models.JSONField(_("citizen"), default=dict, blank=True, help_text=_("Register number, name and phone given to the operator."))
    office_soum = models.ForeignKey(
        "service_pages.Soum", verbose_name=_("office"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The office's aimag (an aimag supervisor applying has an aimag but no soum): their queue.
    office_aimag = models.ForeignKey(
        "service_pages.Aimag", verbose_name=_("office's aimag"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    consent = models.JSONField(_("consent"), default=dict, blank=True, help_text=_("How the citizen confirmed the application."))
    # Multi-stage services: the agencies of each stage (codes, in order) and the current stage.
    stage_agencies = models.JSONField(_("agencies of each stage"), default=list, blank=True)
    stage = models.PositiveSmallIntegerField(_("current stage"), default=1)
    # The fee charged (MNT), copied from the service page when the application was made: a later
    # revision of the page changes new applications' fee, never this one's (form_builder.payments).
    fee_mnt = models.PositiveIntegerField(_("fee (MNT)"), default=0)
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Set by ``purge_personal_data`` when the retention period ended: answers, identities, files
    # and messages are gone; what the statistics need (service, agency, status, dates, channel) stays.
    anonymised_at = models.DateTimeField(_("anonymised"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(fields=["agency", "status", "submitted_at"], name="submission_agency_status"),
            models.Index(fields=["service", "submitted_at"], name="submission_service"),
        ]

    def __str__(self):
        return self.tracking_code

    @classmethod
    def records_visible_to(cls, user):
        """The applications ``user`` may see, for the audit log's filter
        (``service_pages.governance.filter_log_entries``): each stage's agency, from that stage on."""
        return filter_submissions(cls._default_manager.all(), user)

    @cached_property
    def spec(self) -> FormSpec:
        return self.form_version.spec

    def answer_rows(self, language=None):
        """(label, shown value, field) for each answer, in the order of the form it was made with."""
        from .display import answer_rows

        return answer_rows(self.spec, self.data, language)

    def set_status(self, status, *, actor="", message="", public_message="", agency_code=""):
        from .notify import status_changed

        self.status = status
        self.save(update_fields=["status", "updated_at"])
        if status != Status.RECEIVED:
            status_changed(self, str(Status(status).label))
        return self.events.create(
            status=status, actor=actor, message=message, public_message=public_message,
            stage=self.stage if self.stage_count > 1 else None, agency_code=agency_code,
        )  # fmt: skip

    @property
    def stage_count(self) -> int:
        return max(1, len(self.stage_agencies or []))

    @property
    def current_stage_agency_code(self) -> str:
        codes = self.stage_agencies or []
        return codes[self.stage - 1] if 0 < self.stage <= len(codes) else (self.agency.code if self.agency else "")


class SubmissionEvent(models.Model):
    """One step of a submission's status timeline (received, sent, approved...)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(_("status"), max_length=32, choices=Status.choices)
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.CharField(_("by"), max_length=100, blank=True)
    message = models.TextField(_("message"), blank=True, help_text=_("Shown to staff only."))
    stage = models.PositiveSmallIntegerField(_("stage"), null=True, blank=True)
    agency_code = models.CharField(_("agency"), max_length=64, blank=True)
    public_message = models.TextField(_("message to the citizen"), blank=True, help_text=_("E.g. the reason of a rejection."))

    class Meta:
        verbose_name = _("status change")
        ordering = ["created_at", "pk"]


class Draft(models.Model):
    """Answers saved server-side while a person goes through a form; resumable by a one-time link."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey("service_pages.ServicePage", on_delete=models.CASCADE, related_name="+")
    form_version = models.ForeignKey(FormVersion, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict)
    step = models.PositiveSmallIntegerField(default=0)
    resume_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    citizen = models.JSONField(default=dict, blank=True)
    consent = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("draft")

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(normalize_resume_code(token).encode()).hexdigest()

    def issue_resume_code(self) -> str:
        """A new one-time code (the previous one stops working); only its hash is stored."""
        code = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(12))
        self.resume_token_hash = self.hash_token(code)
        self.save(update_fields=["resume_token_hash", "updated_at"])
        return f"{code[:4]}-{code[4:8]}-{code[8:]}"

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()


def normalize_resume_code(text: str) -> str:
    return "".join(ch for ch in str(text).upper() if ch.isalnum())


class StoredFile(models.Model):
    """An uploaded file, in private storage, belonging to a draft and then to its submission."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    submission = models.ForeignKey(Submission, null=True, blank=True, on_delete=models.CASCADE, related_name="files")
    draft = models.ForeignKey(Draft, null=True, blank=True, on_delete=models.SET_NULL, related_name="files")
    field_key = models.CharField(_("question"), max_length=64)
    file = models.FileField(storage=private_storage, upload_to=_upload_path, max_length=255)
    name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("type"), max_length=128)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("uploaded file")

    def metadata(self) -> dict:
        return {"id": str(self.id), "name": self.name, "size": self.size, "content_type": self.content_type, "sha256": self.sha256}


class OperatorProfile(models.Model):
    """A staff user serving citizens at a soum (or district) office; a supervisor oversees an aimag."""

    class Role(models.TextChoices):
        OPERATOR = "operator", _("Soum operator")
        SUPERVISOR = "supervisor", _("Aimag supervisor")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_profile")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.OPERATOR)
    soum = models.ForeignKey("service_pages.Soum", verbose_name=_("office (soum or district)"), null=True, blank=True, on_delete=models.PROTECT)
    aimag = models.ForeignKey("service_pages.Aimag", verbose_name=_("aimag"), null=True, blank=True, on_delete=models.PROTECT)
    office_name = models.CharField(_("office name"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("operator")
        verbose_name_plural = _("operators")

    def __str__(self):
        return f"{self.user.get_username()} ({self.soum or self.aimag})"

    def clean(self):
        if self.role == self.Role.OPERATOR and self.soum_id is None:
            raise ValidationError({"soum": _("An operator works at a soum or district office.")})
        if self.role == self.Role.SUPERVISOR and self.aimag_id is None:
            raise ValidationError({"aimag": _("A supervisor oversees an aimag.")})

    def submissions(self):
        """The submissions this person may see: their office's, or their aimag's offices'."""
        queryset = Submission.objects.filter(source=Source.OPERATOR)
        if self.role == self.Role.SUPERVISOR:
            return queryset.filter(models.Q(office_aimag=self.aimag_id) | models.Q(office_soum__aimag=self.aimag_id))
        return queryset.filter(office_soum=self.soum_id)


class RateLimitCounter(models.Model):
    """Requests counted per key (an IP, a service) in the current fixed window; shared by all workers."""

    key = models.CharField(max_length=200, unique=True)
    window = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)
    # When the window ends (Unix seconds): later the row is only waiting to be deleted.
    expires_at = models.BigIntegerField(default=0, db_index=True)



class StatisticsSnapshot(models.Model):
    """The processing-time figures of ``/statistics/`` and ``/api/v1/statistics``, precomputed.

    Computing them reads a year of completed applications, so no request does: the
    ``refresh_statistics`` task (and command) writes this row, and every web worker on every
    machine reads the same one (no shared cache server is needed). One row per ``name``.
    """

    name = models.CharField(max_length=64, unique=True)
    computed_at = models.DateTimeField()
    period_days = models.PositiveIntegerField()
    # {"services": [row, ...], "agencies": [row, ...]}; a row is a dict of statistics.Row's fields.
    data = models.JSONField(default=dict)
    duration_ms = models.FloatField(default=0)

    class Meta:
        verbose_name = _("statistics snapshot")

    def __str__(self):
        return f"{self.name} ({self.computed_at:%Y-%m-%d %H:%M})"

# The access log lives in its own module; importing it here registers the model with the app.
from .access_log import AccessLogEntry  # noqa: E402, F401

# The payments of a submission (form_builder.payments owns the model, its states and transitions).
from .payments import Payment  # noqa: E402,F401
