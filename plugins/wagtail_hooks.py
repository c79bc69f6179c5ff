"""Admin: plugin configurations (with "test connection"), deliveries, dashboard, agency keys.

Everything here is scoped to the user's agencies by ``plugins.access`` (an agency's integrators
manage its targets, keys and deliveries; its moderators read its deliveries): every listing,
every agency choice, and every per-object URL, which answers 404 for another agency's object.
"""

import datetime

import django_filters
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.db.models import Count, Min, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from wagtail import hooks
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.menu import MenuItem
from wagtail.admin.utils import set_query_params
from wagtail.admin.views.generic import CopyView, CreateView, EditView, IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet, ModelViewSetGroup
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy

from form_builder.wagtail_hooks import guard_object_urls
from service_pages.panels import NeedItem, add_panel

from . import access
from .base import is_secret_option
from .delivery import (
    coverage,
    plan_deliveries,
    replay,
    send_test_submission,
    undelivered_by_agency,
    undelivered_submissions,
)
from .forms import AgencyCredentialForm, PluginChoiceForm, PluginConfigForm
from .models import AgencyCredential, Delivery, DeliveryAttempt, PluginConfig
from .registry import register


class PluginConfigInspectView(InspectView):
    template_name = "plugins/admin/config_inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["check_url"] = reverse("plugins_check_config", args=[self.object.pk])
        context["send_test_url"] = reverse("plugins_send_test", args=[self.object.pk])
        context["can_change"] = self.request.user.has_perm("plugins.change_pluginconfig")
        context["plugin"] = plugin = self.object.plugin
        declared = plugin.options_form.base_fields if plugin else {}
        context["options"] = []
        for name, value in (self.object.options or {}).items():
            form_field = declared.get(name) or forms.CharField()  # an uninstalled plugin's: judged by name
            secret = is_secret_option(name, form_field)
            context["options"].append({"label": form_field.label or name, "value": value, "secret": secret})
        return context


class PluginOptionsMixin:
    """The create, copy and edit views of a configuration show one plugin's option fields.

    The plugin is ``?plugin=<id>`` when given (a new configuration, or changing a configuration's
    plugin), else the configuration's own. Without one, or with an id no installed plugin has
    (its package was uninstalled), the page asks which plugin instead and saves nothing.
    """

    choose_template_name = "plugins/admin/config_choose_plugin.html"

    def default_plugin_id(self) -> str:
        return ""

    @cached_property
    def plugin_id(self) -> str:
        if "plugin" in self.request.GET:
            return self.request.GET["plugin"].strip()
        return self.default_plugin_id()

    @cached_property
    def plugin(self):
        return register.get(self.plugin_id) if self.plugin_id else None

    def with_plugin(self, url):
        return set_query_params(url, {"plugin": self.plugin.id}) if self.plugin else url

    def post(self, request, *args, **kwargs):
        if self.plugin is None:
            return self.get(request, *args, **kwargs)
        return super().post(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["plugin"] = self.plugin
        if self.plugin is None:  # the plugin chooser is shown; posted values are not used
            kwargs.pop("data", None)
            kwargs.pop("files", None)
        return kwargs

    def get_template_names(self):
        if self.plugin is None:
            return [self.choose_template_name]
        return super().get_template_names()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["plugin"] = self.plugin
        if self.plugin is None:
            context["choose_url"] = self.request.path
            if self.plugin_id:  # bound, so the page says that this id is not installed
                context["choose_form"] = PluginChoiceForm(data={"plugin": self.plugin_id})
            else:
                context["choose_form"] = PluginChoiceForm(initial={"plugin": self.default_plugin_id()})
        else:
            context["change_plugin_url"] = set_query_params(self.request.path, {"plugin": ""})
        return context


class PluginConfigCreateView(PluginOptionsMixin, CreateView):
    template_name = "plugins/admin/config_create.html"

    def get_add_url(self):
        return self.with_plugin(super().get_add_url())


class PluginConfigCopyView(PluginOptionsMixin, CopyView):
    @cached_property
    def original(self):
        return self.get_object()

    def default_plugin_id(self):
        return self.original.plugin_id

    def get_initial_form_instance(self):
        """A new configuration with the original's values; its secrets are entered again."""
        original = self.original
        return PluginConfig(
            plugin_id=original.plugin_id, name=original.name, agency_id=original.agency_id,
            service_id=original.service_id, enabled=original.enabled, options=dict(original.options or {}),
        )  # fmt: skip

    def get_add_url(self):
        return self.with_plugin(super().get_add_url())


class PluginConfigEditView(PluginOptionsMixin, EditView):
    template_name = "plugins/admin/config_edit.html"

    def default_plugin_id(self):
        if not hasattr(self, "object"):
            self.object = self.get_object()
        return self.object.plugin_id

    def get_edit_url(self):
        url = super().get_edit_url()
        return self.with_plugin(url) if "plugin" in self.request.GET else url


class ScopedPolicy(ModelPermissionPolicy):
    """Model permissions, narrowed to the user's agencies by ``scope(user, queryset)``."""

    def __init__(self, model, scope):
        super().__init__(model)
        self.scope = scope

    def user_has_permission_for_instance(self, user, action, instance):
        if not self.user_has_permission(user, action):
            return False
        return self.scope(user, self.model._default_manager.filter(pk=instance.pk)).exists()

    def instances_user_has_any_permission_for(self, user, actions):
        if not self.user_has_any_permission(user, actions):
            return self.model._default_manager.none()
        return self.scope(user, self.model._default_manager.all())

    def may_see(self, user, pk) -> bool:
        """For ``guard_object_urls``: another agency's object (or none) is a 404."""
        try:
            return self.scope(user, self.model._default_manager.filter(pk=pk)).exists()
        except (ValueError, forms.ValidationError):
            return False


class ReadOnlyPolicy(ScopedPolicy):
    """Deliveries are made by the engine, never created or edited by hand (only replayed, which
    needs ``change_delivery``: the replay views check it)."""

    def user_has_permission(self, user, action):
        if action in ("add", "delete", "copy", "change"):
            return False
        return super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)


CONFIG_POLICY = ScopedPolicy(PluginConfig, access.configs_of)
CREDENTIAL_POLICY = ScopedPolicy(AgencyCredential, access.credentials_of)
DELIVERY_POLICY = ReadOnlyPolicy(Delivery, access.deliveries_seen_by)
register_permission_policy(PluginConfig, CONFIG_POLICY)
register_permission_policy(AgencyCredential, CREDENTIAL_POLICY)
register_permission_policy(Delivery, DELIVERY_POLICY)


def scoped_index_view(scope, related=()):
    class ScopedIndexView(IndexView):
        def get_base_queryset(self):
            return scope(self.request.user, super().get_base_queryset().select_related(*related))

    return ScopedIndexView


class PluginConfigFilterSet(WagtailFilterSet):
    plugin_id = django_filters.ChoiceFilter(label=_("Plugin"), choices=lambda: register.choices())
    agency = django_filters.ModelChoiceFilter(
        label=_("Agency"), queryset=lambda request: access.agencies_managed_by(request.user)
    )
    enabled = django_filters.BooleanFilter(label=_("enabled"))

    class Meta:
        model = PluginConfig
        fields = ["plugin_id", "agency", "enabled"]


class PluginConfigViewSet(ModelViewSet):
    model = PluginConfig
    icon = "plug"
    menu_label = _("Plugin configurations")
    list_display = ["plugin_id", "name", "agency", "service", "enabled", "updated_at"]
    list_filter = PluginConfigFilterSet
    filterset_class = PluginConfigFilterSet
    index_view_class = scoped_index_view(access.configs_of, ("agency", "service"))
    add_view_class = PluginConfigCreateView
    copy_view_class = PluginConfigCopyView
    edit_view_class = PluginConfigEditView
    inspect_view_enabled = True
    inspect_view_class = PluginConfigInspectView
    inspect_view_fields_exclude = ["options"]  # listed one by one, secrets hidden (config_inspect.html)
    add_to_reference_index = False

    def get_form_class(self, for_update=False):
        return PluginConfigForm

    def get_urlpatterns(self):
        return guard_object_urls(super().get_urlpatterns(), CONFIG_POLICY.may_see)


class DeliveryFilterSet(WagtailFilterSet):
    state = django_filters.ChoiceFilter(label=_("State"), choices=Delivery.State.choices)
    agency = django_filters.ModelChoiceFilter(
        label=_("Agency"), queryset=lambda request: access.agencies_seen_by(request.user)
    )
    plugin_id = django_filters.CharFilter(label=_("Plugin"))

    class Meta:
        model = Delivery
        fields = ["state", "agency", "plugin_id"]


class DeliveryInspectView(InspectView):
    template_name = "plugins/admin/delivery_inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["attempts"] = self.object.attempt_log.all()
        context["replay_url"] = reverse("plugins_replay_delivery", args=[self.object.pk])
        context["can_replay"] = self.object.state in (Delivery.State.DEAD, Delivery.State.RETRYING) and (
            access.deliveries_managed_by(self.request.user, Delivery.objects.filter(pk=self.object.pk)).exists()
        )
        return context


class DeliveryViewSet(ModelViewSet):
    model = Delivery
    icon = "mail"
    menu_label = _("Deliveries")
    list_display = ["submission", "agency", "plugin_id", "target", "state", "attempts", "next_attempt_at", "last_error"]
    list_filter = DeliveryFilterSet
    filterset_class = DeliveryFilterSet
    index_view_class = scoped_index_view(access.deliveries_seen_by, ("submission", "agency"))
    inspect_view_enabled = True
    inspect_view_class = DeliveryInspectView
    copy_view_enabled = False
    add_to_reference_index = False
    list_export = [
        "id",
        "submission",
        "agency",
        "plugin_id",
        "target",
        "state",
        "attempts",
        "created_at",
        "delivered_at",
        "last_error",
    ]
    form_fields = []

    def get_urlpatterns(self):
        return guard_object_urls(super().get_urlpatterns(), DELIVERY_POLICY.may_see)


class AgencyCredentialCreateView(CreateView):
    """The new key's secret is on the page that answers the form, and nowhere ever after: it is
    kept encrypted, and no page shows it again (a lost secret means a new key)."""

    def save_action(self):
        response = TemplateResponse(
            self.request, "plugins/admin/credential_created.html",
            {"credential": self.object, "header_icon": "key", "index_url": reverse("agency_keys:index")},
        )  # fmt: skip
        response["Cache-Control"] = "no-store"
        return response


class AgencyCredentialViewSet(ModelViewSet):
    model = AgencyCredential
    icon = "key"
    menu_label = _("Agency API keys")
    list_display = ["key_id", "agency", "active", "created_at", "last_used_at"]
    form_fields = ["agency", "active"]
    index_view_class = scoped_index_view(access.credentials_of, ("agency",))
    add_view_class = AgencyCredentialCreateView
    copy_view_enabled = False
    inspect_view_enabled = True
    inspect_view_fields = ["key_id", "agency", "active", "created_at", "last_used_at"]  # never the secret
    add_to_reference_index = False

    def get_form_class(self, for_update=False):
        return AgencyCredentialForm

    def get_urlpatterns(self):
        return guard_object_urls(super().get_urlpatterns(), CREDENTIAL_POLICY.may_see)


class DeliveryGroup(ModelViewSetGroup):
    menu_label = _("Delivery")
    menu_icon = "mail"
    menu_order = 230
    items = (
        DeliveryViewSet("deliveries"),
        PluginConfigViewSet("plugin_configs"),
        AgencyCredentialViewSet("agency_keys"),
    )


@hooks.register("register_admin_viewset")
def register_delivery_group():
    return DeliveryGroup()


# -- dashboard, replay, test connection --------------------------------------------------------


def dashboard_rows(now=None, deliveries=None):
    """Per agency: deliveries by state, oldest pending age and the attempts' error rate (24 h).

    ``deliveries``: the rows to count (the user's agencies'); all by default.
    """
    now = now or timezone.now()
    deliveries = Delivery.objects.all() if deliveries is None else deliveries
    active = [Delivery.State.PENDING, Delivery.State.RETRYING]
    rows = (
        deliveries.values("agency__code", "agency__name_mn", "agency_id")
        .annotate(
            pending=Count("pk", filter=Q(state=Delivery.State.PENDING)),
            retrying=Count("pk", filter=Q(state=Delivery.State.RETRYING)),
            delivered=Count("pk", filter=Q(state=Delivery.State.DELIVERED)),
            dead=Count("pk", filter=Q(state=Delivery.State.DEAD)),
            oldest=Min("created_at", filter=Q(state__in=active)),
        )
        .order_by("agency__name_mn")
    )
    since = now - datetime.timedelta(hours=24)
    attempts = {
        row["delivery__agency_id"]: row
        for row in DeliveryAttempt.objects.filter(started_at__gte=since, delivery__in=deliveries.values("pk"))
        .values("delivery__agency_id")
        .annotate(total=Count("pk"), failed=Count("pk", filter=Q(ok=False)))
    }
    result = []
    for row in rows:
        stats = attempts.get(row["agency_id"], {"total": 0, "failed": 0})
        result.append(
            {
                **row,
                "oldest_age": (now - row["oldest"]) if row["oldest"] else None,
                "attempts_24h": stats["total"],
                "error_rate": (stats["failed"] / stats["total"]) if stats["total"] else 0.0,
            }
        )
    return result


@permission_required("plugins.view_delivery")
def dashboard(request):
    user = request.user
    rows = dashboard_rows(deliveries=access.deliveries_seen_by(user, Delivery.objects.all()))
    add_undelivered(rows, undelivered_by_agency(access.reader_codes(user)))
    managed = access.managed_codes(user)
    for row in rows:
        row["can_replay"] = user.has_perm("plugins.change_delivery") and (managed is None or row["agency__code"] in managed)
    context = {
        "rows": rows,
        "header_icon": "mail",
        "without_target": [row for row in rows if row["without_target"]],
        "add_target_url": reverse("plugin_configs:add") + "?plugin=webhook",
        "can_add_target": user.has_perm("plugins.add_pluginconfig"),
    }
    return TemplateResponse(request, "plugins/admin/dashboard.html", context)


def add_undelivered(rows, undelivered: dict[str, int]) -> None:
    """Each row's applications waiting with no delivery target, and a row for each agency that has
    such applications but no deliveries at all (a new installation without targets)."""
    from service_pages.models import Agency

    by_code = {row["agency__code"]: row for row in rows}
    names = dict(Agency.objects.filter(code__in=list(undelivered)).values_list("code", "name_mn"))
    for code, count in undelivered.items():
        row = by_code.get(code or None)
        if row is None:
            row = {"agency__code": code, "agency__name_mn": names.get(code, code), "agency_id": None, "pending": 0,
                   "retrying": 0, "delivered": 0, "dead": 0, "oldest": None, "oldest_age": None, "attempts_24h": 0,
                   "error_rate": 0.0}  # fmt: skip
            rows.append(row)
            by_code[code] = row
        row["without_target"] = count
    for row in rows:
        row.setdefault("without_target", 0)


@require_POST
@permission_required("plugins.change_delivery")
def replay_delivery(request, pk):
    delivery = get_object_or_404(access.deliveries_managed_by(request.user, Delivery.objects.all()), pk=pk)
    if replay(delivery):
        messages.success(request, gettext("The delivery will be sent again now."))
    else:
        messages.warning(request, gettext("Only failed or retrying deliveries can be replayed."))
    return redirect(reverse("deliveries:inspect", args=[pk]))


@require_POST
@permission_required("plugins.change_delivery")
def replay_dead(request, agency_id):
    dead = access.deliveries_managed_by(
        request.user, Delivery.objects.filter(agency_id=agency_id, state=Delivery.State.DEAD)
    )
    if not access.agencies_managed_by(request.user).filter(pk=agency_id).exists():
        raise Http404
    count = sum(replay(delivery) for delivery in dead)
    messages.success(request, gettext("%(count)s deliveries will be sent again.") % {"count": count})
    return redirect("plugins_dashboard")


@require_POST
@permission_required("plugins.change_delivery")
def deliver_waiting(request, code):
    """Plan the deliveries of an agency's applications that waited with no target (after one was added)."""
    managed = access.managed_codes(request.user)
    if managed is not None and code not in managed:
        raise Http404
    waiting = [
        submission
        for submission in undelivered_submissions().select_related("service", "agency")
        if coverage.current_agency_code(submission.agency.code if submission.agency_id else "", submission.stage_agencies,
                                        submission.stage) == code
    ]  # fmt: skip
    planned = 0
    for submission in waiting:
        with transaction.atomic():
            planned += len(plan_deliveries(submission=submission, stage=submission.stage))
    if planned:
        messages.success(request, gettext("%(count)s deliveries were planned for the waiting applications.") % {"count": planned})
    else:
        messages.warning(request, gettext("Nothing was planned: the agency still has no enabled delivery target."))
    return redirect("plugins_dashboard")


def _managed_config(request, pk) -> PluginConfig:
    """The configuration if the user may change it (its agency is theirs), else 404."""
    if not request.user.has_perm("plugins.change_pluginconfig"):
        raise Http404
    return get_object_or_404(
        access.configs_of(request.user, PluginConfig.objects.select_related("agency", "service")), pk=pk
    )


@require_POST
@login_required
def check_config(request, pk):
    """ "Test connection": the plugin's ``check_config`` (the webhook's: SSRF rules and a HEAD)."""
    config = _managed_config(request, pk)
    plugin = config.plugin
    if plugin is None:
        messages.error(request, gettext("No plugin is installed under this id."))
    else:
        try:
            result = plugin.check_config(config.options, agency=config.agency)
        except Exception as error:  # the admin shows what went wrong instead of a 500
            messages.error(request, f"{type(error).__name__}: {error}")
        else:
            (messages.success if result.ok else messages.error)(request, result.message)
    return redirect(reverse("plugin_configs:inspect", args=[pk]))


@require_POST
@login_required
def send_test(request, pk):
    """ "Send a test submission": a made-up application through the target, stored nowhere."""
    config = _managed_config(request, pk)
    result = send_test_submission(config)
    if result.ok:
        messages.success(request, gettext("The test submission was delivered: %(detail)s") % {"detail": result.message})
    else:
        messages.error(
            request, gettext("The test submission was not delivered: %(detail)s") % {"detail": result.message}
        )
    return redirect(reverse("plugin_configs:inspect", args=[pk]))


@hooks.register("register_admin_urls")
def register_plugin_admin_urls():
    return [
        path("delivery-dashboard/", dashboard, name="plugins_dashboard"),
        path("delivery-dashboard/replay/<int:agency_id>/", replay_dead, name="plugins_replay_dead"),
        path("deliveries/replay/<uuid:pk>/", replay_delivery, name="plugins_replay_delivery"),
        path("delivery-dashboard/deliver-waiting/<slug:code>/", deliver_waiting, name="plugins_deliver_waiting"),
        path("plugin_configs/check/<int:pk>/", check_config, name="plugins_check_config"),
        path("plugin_configs/send-test/<int:pk>/", send_test, name="plugins_send_test"),
    ]


class DashboardMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm("plugins.view_delivery")


@hooks.register("register_admin_menu_item")
def register_dashboard_menu_item():
    return DashboardMenuItem(_("Delivery dashboard"), reverse("plugins_dashboard"), icon_name="mail", order=229)


# -- the home page: failed deliveries and failing targets of the user's agency ----------------------


def failing_targets(user):
    """The user's agencies' enabled targets whose most recent attempt failed."""
    from django.db.models import OuterRef, Subquery

    last = DeliveryAttempt.objects.filter(delivery__config=OuterRef("pk")).order_by("-started_at", "-pk")
    configs = access.configs_of(user, PluginConfig.objects.filter(enabled=True)).select_related("agency", "service")
    return configs.annotate(last_ok=Subquery(last.values("ok")[:1]), last_error=Subquery(last.values("error")[:1])).filter(
        last_ok=False
    )


@hooks.register("construct_homepage_panels")
def add_delivery_panel(request, panels):
    user = request.user
    if not user.has_perm("plugins.view_delivery"):
        return
    seen = access.deliveries_seen_by(user, Delivery.objects.all())
    deliveries = reverse("deliveries:index")
    items = [
        NeedItem(gettext("Failed deliveries (dead letters)"), f"{deliveries}?state=dead", seen.filter(state=Delivery.State.DEAD).count()),
        NeedItem(gettext("Deliveries being retried"), f"{deliveries}?state=retrying", seen.filter(state=Delivery.State.RETRYING).count()),
        NeedItem(
            gettext("Applications that reach no agency system (no delivery target)"), reverse("plugins_dashboard"),
            sum(undelivered_by_agency(access.reader_codes(user)).values()),
        ),
    ]  # fmt: skip
    if user.has_perm("plugins.change_pluginconfig"):
        for config in failing_targets(user)[:10]:
            items.append(
                NeedItem(
                    gettext("Target “%(target)s”: its last attempt failed") % {"target": config},
                    reverse("plugin_configs:inspect", args=[config.pk]),
                    detail=(config.last_error or "")[:200],
                )
            )
    add_panel(panels, "tumen-deliveries", _("Deliveries of your agency"), items, order=90)


# -- operator mode: instant references ------------------------------------------------------------


@hooks.register("tumen_operator_service_links")
def operator_reference_link(request, service):
    """The operator's service search (``form_builder.operator_views``) offers "Issue the reference"
    for an instant reference (``reference_views.operator_reference``), in place of an application."""
    if not service.instant_reference:
        return []
    return [(gettext("Issue the reference"), reverse("operator_reference", args=[service.code]))]
