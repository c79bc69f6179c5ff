"""Who may see and manage which agency's delivery targets, API keys and deliveries.

The roles are the agency groups of ``service_pages.governance`` (``<code> integrators``,
``<code> moderators``); this module gives them their rights in this app and scopes every admin
list, choice and per-object URL of it to the user's own agencies:

- an agency's **integrators** manage its plugin configurations (create, edit, test connection,
  send a test submission), its API keys (the secret is shown once) and its deliveries (the
  dashboard, replay: Django's ``change_delivery``);
- its **moderators** read its deliveries and the delivery dashboard (``view_delivery``);
- superusers and the national catalog team (holding the permissions) see every agency; the
  configurations of no agency (for every agency) are theirs only.

Permissions are global in Django, so the scope names the role: a moderator of A who is an
integrator of B replays B's deliveries, never A's.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from service_pages.governance import INTEGRATORS, MODERATORS, agency_codes_for

MANAGERS = (INTEGRATORS,)
DELIVERY_READERS = (INTEGRATORS, MODERATORS)

ROLE_PERMISSIONS = {
    INTEGRATORS: {
        "pluginconfig": ("add", "change", "view"),
        "agencycredential": ("add", "change", "view"),
        "delivery": ("view", "change"),
    },
    MODERATORS: {"delivery": ("view",)},
}


def grant_role_permissions(**signal_kwargs) -> None:
    """Answer ``agency_groups_synced``: give every agency's integrators and moderators their rights
    here (idempotent, like the rest of ``create_agency_groups``)."""
    for role, models in ROLE_PERMISSIONS.items():
        wanted = Q(pk__in=[])
        for model, actions in models.items():
            wanted |= Q(codename__in=[f"{action}_{model}" for action in actions])
        permissions = list(Permission.objects.filter(wanted, content_type__app_label="plugins"))
        for group in Group.objects.filter(name__endswith=f" {role}"):
            group.permissions.add(*permissions)


def managed_codes(user) -> set[str] | None:
    """The agencies whose targets and keys ``user`` manages (``None``: all)."""
    return agency_codes_for(user, MANAGERS)


def reader_codes(user) -> set[str] | None:
    """The agencies whose deliveries ``user`` may read (``None``: all)."""
    return agency_codes_for(user, DELIVERY_READERS)


def _scoped(queryset, codes, *fields):
    if codes is None:
        return queryset
    allowed = Q(pk__in=[])
    for field in fields:
        allowed |= Q(**{f"{field}__code__in" if field else "code__in": codes})
    return queryset.filter(allowed)


def configs_of(user, queryset):
    """Plugin configurations of the user's agencies (an agency's, or one of its services')."""
    return _scoped(queryset, managed_codes(user), "agency", "service__agency")


def credentials_of(user, queryset):
    return _scoped(queryset, managed_codes(user), "agency")


def deliveries_seen_by(user, queryset):
    return _scoped(queryset, reader_codes(user), "agency")


def deliveries_managed_by(user, queryset):
    """Deliveries ``user`` may replay: holders of ``change_delivery``, in the agencies they manage."""
    if not user.has_perm("plugins.change_delivery"):
        return queryset.none()
    return _scoped(queryset, managed_codes(user), "agency")


def agencies_managed_by(user):
    from service_pages.models import Agency

    return _scoped(Agency.objects.order_by("name_mn"), managed_codes(user), "")


def agencies_seen_by(user):
    from service_pages.models import Agency

    return _scoped(Agency.objects.order_by("name_mn"), reader_codes(user), "")
