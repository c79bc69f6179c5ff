"""The service catalog: agencies, places, categories and service pages.

The page tree is deliberately shallow: ``CatalogIndexPage`` → ``AgencyPage`` →
``ServicePage``. Every service of an agency sits under that agency's page, so
Wagtail's page permissions on one subtree give an agency's editors exactly
their own services (Plone-style governance), and treebeard paths stay short
even with 11,250 services.

Each page also exists in English: a Wagtail translation (same ``translation_key``,
locale "en") in a parallel tree under the English home page, made and kept in
sync by ``manage.py translate_catalog`` (``service_pages.translations``). The
Mongolian pages are the originals: ``ServicePage.objects.by_code()`` finds them.
"""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef
from django.db.models.functions import Length, Substr
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.fields import RichTextField
from wagtail.models import AbstractGroupApprovalTask, Page, PageViewRestriction
from wagtail.search import index
from wagtail.snippets.models import register_snippet

from core.analysis import STEM_SUBFIELD
from core.languages import (
    CatalogPageManager,
    CatalogPageQuerySet,
    FallbackRoutingMixin,
    bilingual,
    default_language,
    localized_children,
)
from core.weights import index_boost

from .channels import CHANNEL_FIELDS, CHANNELS
from .search_text import agency_text, place_text


class BilingualName:
    """``name``: the English name on the English site when there is one, else the Mongolian one."""

    @property
    def name(self) -> str:
        return bilingual(self.name_mn, self.name_en)


class Agency(BilingualName, models.Model):
    """A public body that owns services and receives their submissions."""

    class Kind(models.TextChoices):
        MINISTRY = "ministry", _("Ministry")
        AGENCY = "agency", _("Agency")
        AIMAG_OFFICE = "aimag_office", _("Aimag office")
        DISTRICT_OFFICE = "district_office", _("District office")

    code = models.SlugField(_("code"), max_length=64, unique=True, help_text=_("Stable identifier, e.g. 'ubeg'."))
    name_mn = models.CharField(_("name (Mongolian)"), max_length=255)
    name_en = models.CharField(_("name (English)"), max_length=255, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.AGENCY)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent agency"), null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    technical_contact_email = models.EmailField(
        _("technical contact e-mail"), blank=True, help_text=_("Told when deliveries to this agency keep failing.")
    )
    allow_private_endpoints = models.BooleanField(
        _("allow private network endpoints"),
        default=False,
        help_text=_("Let delivery plugins reach private or link-local addresses (an agency inside the government network)."),
    )
    website = models.URLField(_("website"), blank=True)
    endpoint_path = models.CharField(
        _("delivery endpoint path"), max_length=255, blank=True, help_text=_("Relative path of the agency's endpoint.")
    )
    endpoint_url = models.URLField(
        _("delivery endpoint URL"), max_length=500, blank=True, help_text=_("Where submissions are delivered.")
    )

    panels = [
        FieldPanel("code"),
        FieldRowPanel([FieldPanel("name_mn"), FieldPanel("name_en")]),
        FieldRowPanel([FieldPanel("kind"), FieldPanel("parent")]),
        MultiFieldPanel(
            [FieldPanel("contact_email"), FieldPanel("contact_phone"), FieldPanel("website")], heading=_("Contact")
        ),
        MultiFieldPanel(
            [
                FieldPanel("endpoint_path"),
                FieldPanel("endpoint_url"),
                FieldPanel("technical_contact_email"),
                FieldPanel("allow_private_endpoints"),
            ],
            heading=_("Delivery"),
        ),
    ]

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["name_mn"]

    def __str__(self):
        return self.name_mn


class Aimag(BilingualName, models.Model):
    """One of the 21 aimags, or the capital Ulaanbaatar (statistics-office code)."""

    code = models.CharField(_("code"), max_length=4, unique=True)
    name_mn = models.CharField(_("name (Mongolian)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    is_capital = models.BooleanField(_("capital city"), default=False)

    class Meta:
        verbose_name = _("aimag")
        verbose_name_plural = _("aimags")
        ordering = ["name_mn"]

    def __str__(self):
        return self.name_mn


class Soum(BilingualName, models.Model):
    """A soum of an aimag, or a district (дүүрэг) of Ulaanbaatar."""

    class Kind(models.TextChoices):
        SOUM = "soum", _("Soum")
        DISTRICT = "district", _("District")

    code = models.CharField(_("code"), max_length=6, unique=True)
    aimag = models.ForeignKey(Aimag, verbose_name=_("aimag"), on_delete=models.PROTECT, related_name="soums")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SOUM)
    name_mn = models.CharField(_("name (Mongolian)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)

    class Meta:
        verbose_name = _("soum or district")
        verbose_name_plural = _("soums and districts")
        ordering = ["aimag__name_mn", "name_mn"]

    def __str__(self):
        return f"{self.name_mn} ({self.aimag.name_mn})"


class Category(BilingualName, models.Model):
    """A life-event category; the slug is stable and used in URLs and imports."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name_mn = models.CharField(_("name (Mongolian)"), max_length=255)
    name_en = models.CharField(_("name (English)"), max_length=255, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    default_form = models.ForeignKey(
        "form_builder.FormDefinition",
        verbose_name=_("default application form"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="categories",
        help_text=_("The form of this category's services that have none of their own."),
    )

    panels = [
        FieldPanel("slug"),
        FieldPanel("name_mn"),
        FieldPanel("name_en"),
        FieldPanel("sort_order"),
        FieldPanel("default_form"),
    ]

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort_order", "name_mn"]

    def __str__(self):
        return self.name_mn


register_snippet(Agency)
register_snippet(Category)
register_snippet(Aimag)
register_snippet(Soum)


class PageLocaleCopy(models.Model):
    """A copy of the page's locale in the page type's own table, for "unique per language" constraints.

    Why: a database constraint covers one table, and ``locale`` lives in ``wagtailcore_page``.
    With this copy, "one service page per code in each language" is a ``UniqueConstraint``.
    It is set from ``locale`` on every save; the bulk writers set it themselves.
    """

    page_locale = models.ForeignKey("wagtailcore.Locale", on_delete=models.PROTECT, editable=False, related_name="+")

    class Meta:
        abstract = True

    def _set_core_field_defaults(self):
        super()._set_core_field_defaults()
        self.page_locale_id = self.locale_id

    def clean(self):
        """Check the page type's "unique per language" constraints here, on their other field.

        The database enforces them anyway; but the admin's forms leave out ``page_locale`` and so
        skip any constraint naming it, and the save would then fail with a server error. Each
        constraint's own message is reported on its other field (e.g. ``code``).
        """
        super().clean()
        if self.locale_id is None:
            return
        for constraint in self._meta.constraints:
            fields = getattr(constraint, "fields", ())
            if "page_locale" not in fields or len(fields) != 2:
                continue
            name = next(field for field in fields if field != "page_locale")
            attname = self._meta.get_field(name).attname
            value = getattr(self, attname)
            if value is None:
                continue
            if type(self).objects.filter(**{attname: value, "locale_id": self.locale_id}).exclude(pk=self.pk).exists():
                raise ValidationError({name: constraint.violation_error_message})

    def save(self, *args, **kwargs):
        if self.locale_id is None:
            self.locale = self.get_default_locale()
        self.page_locale_id = self.locale_id
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "locale" in update_fields:
            kwargs["update_fields"] = {*update_fields, "page_locale"}
        return super().save(*args, **kwargs)


class SyncedTranslation(models.Model):
    """What ``translate_catalog`` last wrote into a translation's text fields.

    Fingerprints (``service_pages.translations.fingerprint``) by field name. A field whose value
    still has its fingerprint was not edited by a translator, so the next run may refresh it
    (a new ``title_en``, a new Mongolian summary); a field a translator changed is left alone.
    Empty on the Mongolian originals.
    """

    sync_fingerprints = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        abstract = True


class CatalogIndexPage(FallbackRoutingMixin, Page):
    """Root of the catalog; its children are the agencies' pages."""

    intro = RichTextField(_("introduction"), blank=True)
    objects = CatalogPageManager()

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["agency_pages"] = localized_children(self, AgencyPage)
        return context

    content_panels = Page.content_panels + [FieldPanel("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = ["service_pages.AgencyPage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("service catalog")


class AgencyPage(FallbackRoutingMixin, SyncedTranslation, PageLocaleCopy, Page):
    """An agency's section of the catalog (one per language); holds that agency's services."""

    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="pages")
    objects = CatalogPageManager()

    content_panels = Page.content_panels + [FieldPanel("agency")]
    parent_page_types = ["service_pages.CatalogIndexPage"]
    subpage_types = ["service_pages.ServicePage"]

    class Meta:
        verbose_name = _("agency page")
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "page_locale"],
                name="agency_page_unique_per_locale",
                violation_error_message=_("This agency already has a page in this language."),
            )
        ]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        # Every service of the agency, in this page's language where translated.
        context["services"] = sorted(localized_children(self, ServicePage), key=lambda page: page.title)
        return context


class ServicePageForm(WagtailAdminPageForm):
    """A service's agency is the agency of the section it is in, never a free choice.

    The section (``AgencyPage``) is where the agency's editing rights and workflow live, so the
    tree is the source of truth: the field shows that agency and ignores whatever is posted
    (an editor cannot publish a service under another agency's name, and a page left with a
    wrong agency gets its section's on the next save). Moving a service to another agency is
    done by the importer or a move, which places it under the other agency's section.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        parent = getattr(self.parent_page, "specific", self.parent_page)
        field = self.fields.get("agency")
        if field is None or not isinstance(parent, AgencyPage):
            return
        field.widget = forms.Select()
        field.empty_label = None
        field.queryset = Agency.objects.filter(pk=parent.agency_id)
        field.disabled = True
        field.help_text = _("The agency of the catalog section this service is in.")
        self.initial["agency"] = parent.agency_id


def stage_agencies_problem(stages: int, text: str, known_codes) -> str:
    """Why a service's stage agencies cannot be used ("" when they can): each code must name an
    agency, and a multi-stage service lists one agency per stage (else its later stages would
    quietly go back to the service's own agency)."""
    codes = [code.strip() for code in (text or "").split("|") if code.strip()]
    unknown = [code for code in codes if code not in known_codes]
    if unknown:
        return _("Unknown agency code(s): %(codes)s.") % {"codes": ", ".join(unknown)}
    if (stages > 1 or codes) and len(codes) != max(stages, 1):
        return _("List one agency code per stage, separated by ' | ': %(stages)s stage(s), %(count)s code(s).") % {
            "stages": max(stages, 1),
            "count": len(codes),
        }
    return ""


class ServicePageQuerySet(CatalogPageQuerySet):
    def by_code(self, code: str):
        """The original (Mongolian) page of the service with this code, or None.

        Applications, submissions, rate limits and deliveries always refer to the original,
        whatever the language of the page or URL the citizen came from.
        """
        return self.canonical().filter(code=code).first()

    def with_view_restriction(self):
        """Annotate ``view_restricted``: a view restriction covers the page (its own or an ancestor's).

        One subquery for the whole queryset, so indexing thousands of pages does not ask once per
        page (``ServicePage.search_restricted``).
        """
        return self.annotate(view_restricted=view_restricted())


def view_restricted() -> Exists:
    """True where a ``PageViewRestriction`` sits on the page or an ancestor (a prefix of its path)."""
    covering = PageViewRestriction.objects.filter(page__path=Substr(OuterRef("path"), 1, Length("page__path")))
    return Exists(covering)


ServicePageManager = CatalogPageManager.from_queryset(ServicePageQuerySet)


# The field's own help text predates the national floor; the editor panel shows the current rule.
RETENTION_HELP = _(
    "How long the applicants' answers, files and identities are kept after the application is last closed "
    "(completed or rejected); then they are anonymised. Open applications are kept until staff close them. "
    "At least the national minimum (TUMEN_RETENTION_MIN_DAYS, 90 days by default); leave empty for the national default."
)


class ServicePage(SyncedTranslation, PageLocaleCopy, Page):
    """One public service as citizens see it (the Mongolian original, or its English translation)."""

    code = models.CharField(
        _("service code"), max_length=32, db_index=True, help_text=_("Stable import key, e.g. SRV-000001.")
    )
    title_en = models.CharField(_("title (English)"), max_length=255, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    description = RichTextField(_("description"), blank=True)
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="services")
    category = models.ForeignKey(
        Category, verbose_name=_("category"), null=True, blank=True, on_delete=models.SET_NULL, related_name="services"
    )
    required_documents = models.TextField(_("required documents"), blank=True, help_text=_("One document per line."))
    fee_mnt = models.PositiveIntegerField(_("fee (MNT)"), default=0, help_text=_("0 means free of charge."))
    processing_days = models.PositiveSmallIntegerField(_("processing time (days)"), default=0)
    channel_online = models.BooleanField(_("online"), default=True)
    channel_operator = models.BooleanField(_("through a soum operator"), default=False)
    channel_in_person = models.BooleanField(_("in person"), default=False)
    stages = models.PositiveSmallIntegerField(_("number of stages"), default=1)
    stage_agencies = models.CharField(
        _("agencies of each stage"), max_length=500, blank=True, help_text=_("Agency codes in order, separated by ' | '.")
    )
    legal_basis = models.CharField(_("legal basis"), max_length=500, blank=True)
    aimag = models.ForeignKey(
        Aimag, verbose_name=_("aimag"), null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    soum = models.ForeignKey(
        Soum, verbose_name=_("soum or district"), null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    xyp_code = models.CharField(_("ХУР (XYP) operation"), max_length=64, blank=True)
    keywords = models.CharField(_("keywords"), max_length=500, blank=True, help_text=_("Separated by ' | '."))
    instant_reference = models.BooleanField(
        _("instant reference"),
        default=False,
        help_text=_(
            "A reference (лавлагаа) issued on the spot: a signed-in citizen, or an operator for a citizen present in "
            "person, gets the document at once from the agency's reference source instead of applying."
        ),
    )
    accepts_applications = models.BooleanField(
        _("accepts applications"),
        default=True,
        help_text=_("Untick to close applications (the page stays published) while the service is suspended."),
    )
    form_definition = models.ForeignKey(
        "form_builder.FormDefinition",
        verbose_name=_("application form"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="services",
        help_text=_("Leave empty to use the category's form, or else the default application form."),
    )
    retention_days = models.PositiveIntegerField(
        _("retention of personal data (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=RETENTION_HELP,
    )

    content_panels = Page.content_panels + [
        FieldPanel("code"),
        FieldPanel("title_en"),
        FieldPanel("summary"),
        FieldPanel("description"),
        FieldRowPanel([FieldPanel("agency"), FieldPanel("category")]),
        FieldPanel("required_documents"),
        FieldRowPanel([FieldPanel("fee_mnt"), FieldPanel("processing_days")]),
        MultiFieldPanel(
            [FieldPanel(name) for name in CHANNEL_FIELDS],
            heading=_("Channels"),
        ),
        FieldRowPanel([FieldPanel("stages"), FieldPanel("stage_agencies")]),
        FieldPanel("legal_basis"),
        FieldRowPanel([FieldPanel("aimag"), FieldPanel("soum")]),
        FieldRowPanel([FieldPanel("xyp_code"), FieldPanel("instant_reference")]),
        FieldPanel("keywords"),
        MultiFieldPanel(
            [
                FieldPanel("accepts_applications"),
                FieldPanel("form_definition"),
                FieldPanel("retention_days"),
            ],
            heading=_("Application form"),
        ),
    ]

    # What the search engines index. The text fields carry a stemmed sub-field
    # (core.analysis.STEM_SUBFIELD) for suffix-tolerant matching; place and
    # agency names are indexed as text so "Хангал иргэний үнэмлэх" finds the
    # Khangal soum's service. Boosts: core.weights. The filter fields feed facets and filters.
    search_fields = Page.search_fields + [
        index.SearchField("search_title", boost=index_boost("title"), es_extra=STEM_SUBFIELD),
        index.SearchField("title_en", boost=index_boost("title_en"), es_extra=STEM_SUBFIELD),
        index.SearchField("keywords", boost=index_boost("keywords"), es_extra=STEM_SUBFIELD),
        index.SearchField("search_place", boost=index_boost("place"), es_extra=STEM_SUBFIELD),
        index.SearchField("search_agency", boost=index_boost("agency"), es_extra=STEM_SUBFIELD),
        index.SearchField("summary", boost=index_boost("summary"), es_extra=STEM_SUBFIELD),
        index.SearchField("description", boost=index_boost("description"), es_extra=STEM_SUBFIELD),
        index.FilterField("code"),
        index.FilterField("agency"),
        index.FilterField("category"),
        index.FilterField("aimag"),
        index.FilterField("soum"),
        *[index.FilterField(name) for name in CHANNEL_FIELDS],
        index.FilterField("stages"),
        # Public search leaves these out (search.engine); editors still find them in the admin.
        index.FilterField("search_restricted"),
        # Recent clicks and applications (search.popularity), multiplying relevance in the engine.
        index.FilterField("search_popularity", es_extra={"type": "float"}),
    ]

    parent_page_types = ["service_pages.AgencyPage"]
    subpage_types = []
    objects = ServicePageManager()
    base_form_class = ServicePageForm

    class Meta:
        verbose_name = _("service page")
        constraints = [
            models.UniqueConstraint(
                fields=["code", "page_locale"],
                name="service_code_unique_per_locale",
                violation_error_message=_("Another service page in this language has this code."),
            )
        ]

    def clean(self):
        """One page per code in each language (``PageLocaleCopy``); a translation keeps its original's
        code; the stage agencies name real agencies, one per stage."""
        super().clean()
        if self.locale_id is not None and self.locale.language_code != default_language():
            self._clean_translation()
        known = set(Agency.objects.values_list("code", flat=True))
        problem = stage_agencies_problem(self.stages or 1, self.stage_agencies, known)
        if problem:
            raise ValidationError({"stage_agencies": problem})
        self._clean_retention()

    def _clean_retention(self):
        """No service keeps citizens' data shorter than the national floor (an appeal may need it)."""
        floor = settings.TUMEN_RETENTION_MIN_DAYS
        if self.retention_days is not None and self.retention_days < floor:
            message = _("Personal data must be kept at least %(days)s days (the national minimum).") % {"days": floor}
            raise ValidationError({"retention_days": message})

    def _clean_translation(self):
        """A page in another language is a translation of a Mongolian service, with its code.

        Applications, imports and the translate command all go by the original's code; a page
        made directly in the English tree, or a translation given another code, would be a
        service nobody can apply for and would block ``translate_catalog``.
        """
        original = (
            ServicePage.objects.canonical().filter(translation_key=self.translation_key).values_list("code", flat=True).first()
        )
        if original is None:
            raise ValidationError(
                _("A service is created in Mongolian first; add it there, then use “Translate” to make this language's page.")
            )
        if self.code != original:
            raise ValidationError({"code": _("A translation keeps its original's service code (%(code)s).") % {"code": original}})

    @classmethod
    def get_indexed_objects(cls):
        """Only the originals: they carry ``title_en`` too, so each service is found once.

        With their agency and places joined: the indexed text names them (``search_place``,
        ``search_agency``), which would otherwise cost three queries a page (a third of the
        national catalog's import time went there).
        """
        return (
            super().get_indexed_objects().filter(locale__language_code=default_language())
            .select_related("agency", "aimag", "soum")
            .annotate(view_restricted=view_restricted())
        )  # fmt: skip

    def search_popularity(self) -> float:
        """The service's popularity score, from the search app's ``tumen_service_popularity`` hook.

        The search app sits above this one: it answers through a Wagtail hook, not an import.
        """
        return sum(float(fn(self)) for fn in hooks.get_hooks("tumen_service_popularity"))

    @property
    def is_public(self) -> bool:
        """No view restriction (password or groups) covers this page or any page above it.

        A restricted service is for the people its restriction lets in, through Wagtail's page
        serving only: search leaves it out and applications are refused (``application_for``).
        """
        return not self.search_restricted()

    def search_restricted(self) -> bool:
        """The indexed value of ``is_public``'s opposite (annotated in bulk by ``get_indexed_objects``)."""
        annotated = getattr(self, "view_restricted", None)
        if annotated is not None:
            return bool(annotated)
        return self.get_view_restrictions().exists()

    @cached_property
    def in_reader_language(self) -> "ServicePage":
        """This service's live page in the language of the request (itself if untranslated).

        The application pages work on the original; their titles and "back" links use this, so
        an English reader stays on the English site. Cached: templates ask for it several times.
        """
        return self.localized

    @property
    def document_list(self) -> list[str]:
        return [line.strip() for line in self.required_documents.splitlines() if line.strip()]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["structured_data"] = self.structured_data(request)
        return context

    @property
    def meta_description(self) -> str:
        """The search-result snippet (``<meta name="description">``): the summary, else the start
        of the description, at most 160 characters."""
        text = self.summary or strip_tags(self.description or "")
        return Truncator(" ".join(text.split())).chars(160)

    def structured_data(self, request) -> dict:
        """schema.org ``GovernmentService`` for search engines (JSON-LD on the service page)."""
        page_url = request.build_absolute_uri(self.url) if self.url else ""
        channels = []
        for key, channel in CHANNELS.items():
            if not getattr(self, channel.field):
                continue
            entry = {"@type": "ServiceChannel", "name": str(channel.label)}
            if key == "online" and self.accepts_applications and self.is_public:
                # An instant reference is asked for (plugins' "reference_request"), not applied for.
                online = "reference_request" if self.instant_reference else "form_start"
                entry["serviceUrl"] = request.build_absolute_uri(reverse(online, args=[self.code]))
            channels.append(entry)
        place = self.soum or self.aimag
        data = {
            "@context": "https://schema.org",
            "@type": "GovernmentService",
            "name": self.title,
            "identifier": self.code,
            "description": self.meta_description,
            "url": page_url,
            "provider": {"@type": "GovernmentOrganization", "name": self.agency.name if self.agency_id else ""},
            "areaServed": {"@type": "AdministrativeArea", "name": place.name if place else str(_("Mongolia"))},
            "offers": {"@type": "Offer", "price": self.fee_mnt, "priceCurrency": "MNT"},
            "availableChannel": channels,
        }
        if self.category_id:
            data["serviceType"] = self.category.name
        if self.processing_days:
            data["processingTime"] = f"P{self.processing_days}D"
        return data

    @property
    def channel_list(self) -> list[str]:
        """Channel labels in display order (``channels.CHANNELS``)."""
        return [channel.label for channel in CHANNELS.values() if getattr(self, channel.field)]

    def search_title(self) -> str:
        return self.title

    def search_place(self) -> str:
        """Names of the soum and aimag in both languages ("" for national services)."""
        names = [None if place is None else (place.name_mn, place.name_en) for place in (self.soum, self.aimag)]
        return place_text(*names)

    def search_agency(self) -> str:
        return agency_text(self.agency.name_mn, self.agency.name_en)


class AgencyApprovalTask(AbstractGroupApprovalTask):
    """A group approval where reviewers act only on their own agency's pages and forms.

    One workflow can then serve every agency (used for application forms): the task's groups are
    all agencies' moderators, and a moderator of agency A cannot approve agency B's form.
    """

    class Meta:
        verbose_name = _("agency approval task")
        verbose_name_plural = _("agency approval tasks")

    @staticmethod
    def _agency_of(obj):
        obj = obj.specific if hasattr(obj, "specific") else obj
        return getattr(obj, "agency", None)

    def _may(self, obj, user):
        from .governance import may_work_on

        return user.is_superuser or (self._user_in_groups(user) and may_work_on(user, self._agency_of(obj)))

    def user_can_access_editor(self, obj, user):
        return self._may(obj, user)

    def locked_for_user(self, obj, user):
        return not self._may(obj, user)

    def user_can_lock(self, obj, user):
        return self._may(obj, user)

    def get_actions(self, obj, user):
        return super().get_actions(obj, user) if self._may(obj, user) else []

    def get_task_states_user_can_moderate(self, user, **kwargs):
        """What awaits this user's review (the dashboard, the reports): their agency's only."""
        from .governance import filter_workflow_states

        states = super().get_task_states_user_can_moderate(user, **kwargs)
        return filter_workflow_states(states, user, prefix="workflow_state__")

    @classmethod
    def get_description(cls):
        return _("Members of the chosen groups approve or reject, each only for their own agency")
