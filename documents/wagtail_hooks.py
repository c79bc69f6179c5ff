"""The citizen's documents on the My applications pages, and the admin's "Issued documents".

- ``/my/`` and ``/my/<tracking code>/`` (form_builder) render the sections that the
  ``tumen_my_page_sections`` and ``tumen_my_application_sections`` hooks return for the signed-in
  citizen.
- "Issued documents" in the admin: the documents an agency issued, filterable by agency,
  service, kind, date of issue and state (valid, revoked, expired), found by verification code
  (as typed from the paper), each with its metadata, its history and a "Revoke" action with a
  reason (``documents.revocation``, as ``manage.py revoke_document``). Scoped like the rest of
  the admin (``documents.access``): another agency's document is a 404 on every URL, GET and
  POST. No add, edit, copy or delete view exists: documents are issued only by
  ``documents.issuing``.

Privacy: the admin shows what a moderator needs to find and revoke a document, never whom it is
about or what it says: no holder name or register number, no data rows, no identity document of
the in-person proof (only the operator and office who issued it). The file is not offered for
an instant reference (it is the citizen's); a result document's file is, to staff who may read
its application, through the same download as everywhere (``documents.views.download``), which
writes the access log.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy

from form_builder.wagtail_hooks import guard_object_urls
from service_pages.models import Agency

from . import access
from .models import IssuedDocument, normalize_verification_code
from .revocation import LOG_ACTION as REVOKE_LOG_ACTION
from .revocation import MAX_REASON, RevocationRefused, revoke_document
from .views import my_application_documents_section, my_documents_section

hooks.register("tumen_my_page_sections", my_documents_section)
hooks.register("tumen_my_application_sections", my_application_documents_section)


# -- who may do what in the admin ----------------------------------------------------------------


class IssuedDocumentPolicy(ModelPermissionPolicy):
    """Read (``view``) and revoke (``change``) for the agencies' moderators, scoped to their
    agencies (``documents.access``); nobody adds or deletes a document in the admin."""

    def user_has_permission(self, user, action):
        if action not in ("view", "change"):
            return False
        return super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def user_has_permission_for_instance(self, user, action, instance):
        if action == "change":
            return access.may_revoke(user, instance)
        return self.user_has_permission(user, action) and access.may_see_document(user, instance)

    def instances_user_has_any_permission_for(self, user, actions):
        if not self.user_has_any_permission(user, actions):
            return self.model._default_manager.none()
        return access.documents_seen_by(user, self.model._default_manager.all())


DOCUMENT_POLICY = IssuedDocumentPolicy(IssuedDocument)
register_permission_policy(IssuedDocument, DOCUMENT_POLICY)


def _may_see(user, pk) -> bool:
    document = IssuedDocument.objects.filter(pk=pk).select_related("agency").first()
    return document is None or access.may_see_document(user, document)


# -- the listing ---------------------------------------------------------------------------------

VALID, REVOKED, EXPIRED = "valid", "revoked", "expired"
STATES = [(VALID, _("Valid")), (REVOKED, _("Revoked")), (EXPIRED, _("Expired"))]


def _agencies(request):
    """The agency filter offers the agencies of the documents the user may see (another agency's
    name is no secret, but a choice that always lists nothing is noise)."""
    if request is None:
        return Agency.objects.none()
    return Agency.objects.filter(pk__in=access.documents_seen_by(request.user).values("agency")).order_by("name_mn")


class IssuedDocumentFilterSet(WagtailFilterSet):
    agency = django_filters.ModelChoiceFilter(label=_("Agency"), queryset=_agencies)
    service = django_filters.CharFilter(label=_("Service code"), field_name="service__code", lookup_expr="iexact")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=IssuedDocument.Kind.choices)
    state = django_filters.ChoiceFilter(label=_("State"), choices=STATES, method="filter_state")
    issued_at = django_filters.DateFromToRangeFilter(label=_("Issued"), widget=DateRangePickerWidget)

    class Meta:
        model = IssuedDocument
        fields = ["agency", "service", "kind", "state", "issued_at"]

    def filter_state(self, queryset, name, value):
        today = timezone.localdate()
        expired = Q(valid_until__isnull=False, valid_until__lt=today)
        if value == REVOKED:
            return queryset.filter(revoked_at__isnull=False)
        if value == EXPIRED:
            return queryset.filter(expired, revoked_at__isnull=True)
        if value == VALID:
            return queryset.filter(revoked_at__isnull=True).exclude(expired)
        return queryset


def state_label(document) -> str:
    if document.revoked:
        return gettext("Revoked")
    return gettext("Expired") if document.expired else gettext("Valid")


def channel_label(document) -> str:
    """How the document was handed out (staff identities only, never the citizen's)."""
    if document.kind == IssuedDocument.Kind.RESULT:
        return gettext("From the agency, with an application")
    if document.operator_id is not None:
        office = (document.in_person or {}).get("office", "")
        name = document.operator.get_username()
        return gettext("At the office %(office)s, by operator %(operator)s") % {
            "office": office or "—",
            "operator": name,
        }
    return gettext("Online, by the signed-in citizen")


class IssuedDocumentIndexView(IndexView):
    def get_base_queryset(self):
        queryset = super().get_base_queryset().select_related("agency", "service", "operator")
        return access.documents_seen_by(self.request.user, queryset)

    def search_queryset(self, queryset):
        """A verification code as typed from the paper ("k7q2 9xwd mnb4") finds its document;
        anything else is looked for in the titles and service codes."""
        if not self.is_searching:
            return queryset
        code = normalize_verification_code(self.search_query)
        if code:
            return queryset.filter(verification_code=code)
        text = self.search_query
        return queryset.filter(Q(title__icontains=text) | Q(title_en__icontains=text) | Q(service__code__iexact=text))


class IssuedDocumentInspectView(InspectView):
    template_name = "documents/admin/document_inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        document = self.object
        user = self.request.user
        context["state"] = state_label(document)
        context["channel"] = channel_label(document)
        context["can_revoke"] = not document.revoked and access.may_revoke(user, document)
        context["revoke_url"] = reverse("issued_documents:revoke", args=[document.pk])
        context["history_url"] = reverse("issued_documents:history", args=[document.pk])
        context["verify_url"] = reverse("document_verify", args=[document.verification_code])
        # The file only where the download itself allows staff (result documents of applications
        # the user may read): never a citizen's instant reference.
        context["download_url"] = (
            reverse("document_download", args=[document.verification_code])
            if access.download_right(self.request, document) == access.STAFF
            else ""
        )
        return context


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for revoking"), max_length=MAX_REASON, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For staff only: the verification page says the document is no longer valid, never why."),
    )  # fmt: skip


def revoke_view(request, pk):
    """``issued-documents/revoke/<pk>/``: GET the form, POST a reason to revoke (``revocation``)."""
    document = get_object_or_404(IssuedDocument.objects.select_related("agency", "service"), pk=pk)
    if not access.may_see_document(request.user, document):
        raise Http404
    if not access.may_revoke(request.user, document):
        raise PermissionDenied
    inspect_url = reverse("issued_documents:inspect", args=[document.pk])
    form = RevokeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                revoke_document(document, form.cleaned_data["reason"], user=request.user)
            except RevocationRefused as refused:
                messages.error(request, refused.message)
                return redirect(inspect_url)
            messages.success(
                request, gettext("%(code)s is revoked: its verification page now says it is no longer valid.")
                % {"code": document.verification_code},
            )  # fmt: skip
            return redirect(inspect_url)
        status = 400
    elif document.revoked:
        messages.warning(request, gettext("This document is already revoked."))
        return redirect(inspect_url)
    context = {"document": document, "form": form, "inspect_url": inspect_url, "header_icon": "warning"}
    return TemplateResponse(request, "documents/admin/revoke.html", context, status=status)


class IssuedDocumentViewSet(ModelViewSet):
    """Issued documents: a listing, a detail view, the history and "Revoke"; nothing else."""

    model = IssuedDocument
    icon = "doc-full"
    menu_label = _("Issued documents")
    menu_order = 225
    add_to_admin_menu = True
    list_display = [
        "verification_code",
        "title",
        "kind",
        "agency",
        Column(
            "service",
            label=_("Service code"),
            accessor=lambda document: document.service.code if document.service else "—",
        ),
        "issued_at",
        Column("state", label=_("State"), accessor=state_label),
    ]
    list_filter = IssuedDocumentFilterSet
    filterset_class = IssuedDocumentFilterSet
    search_fields = ["verification_code"]  # see IssuedDocumentIndexView.search_queryset
    index_view_class = IssuedDocumentIndexView
    inspect_view_enabled = True
    inspect_view_class = IssuedDocumentInspectView
    # What the template shows is chosen there; the generic field list would hold the holder's data.
    inspect_view_fields = ["verification_code"]
    copy_view_enabled = False
    add_to_reference_index = False
    form_fields = []  # never used: there is no add or edit view

    def get_common_view_kwargs(self, **kwargs):
        """No view links to an add, edit, copy, delete or usage URL: none exists."""
        view_kwargs = super().get_common_view_kwargs(**kwargs)
        for name in ("add_url_name", "edit_url_name", "delete_url_name", "usage_url_name", "copy_url_name"):
            view_kwargs[name] = None
        return view_kwargs

    def get_urlpatterns(self):
        """The listing, the detail view, the history and "Revoke": no add, edit, copy or delete URL."""
        patterns = [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
            path("history/<int:pk>/", self.history_view, name="history"),
            path("history-results/<int:pk>/", self.history_results_view, name="history_results"),
            path("revoke/<int:pk>/", revoke_view, name="revoke"),
        ]
        return guard_object_urls(patterns, _may_see)


@hooks.register("register_admin_viewset")
def register_issued_document_viewset():
    return IssuedDocumentViewSet("issued_documents")


@hooks.register("register_log_actions")
def register_revoke_log_action(actions):
    from wagtail.log_actions import LogFormatter

    @actions.register_action(REVOKE_LOG_ACTION)
    class DocumentRevoked(LogFormatter):
        label = _("Revoke")

        def format_message(self, log_entry):
            data = log_entry.data or {}
            return _("Revoked: %(reason)s") % {"reason": data.get("reason", "")}
