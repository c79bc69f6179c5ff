"""Wagtail's bulk actions, scoped to the user's agencies (``governance``).

A bulk action's confirmation page names every object it was given, the ones the user may not act
on under "you don't have permission": trying ids (``/admin/bulk/.../delete/?id=N``) would read
the names of other agencies' forms and draft pages. The scoped actions drop the objects the user
may not see (404 when none is left); ``wagtail_hooks`` registers them in place of Wagtail's.
"""

from django.http import Http404
from wagtail.admin.views.pages.bulk_actions.delete import DeleteBulkAction
from wagtail.admin.views.pages.bulk_actions.move import MoveBulkAction
from wagtail.admin.views.pages.bulk_actions.publish import PublishBulkAction
from wagtail.admin.views.pages.bulk_actions.unpublish import UnpublishBulkAction

from .governance import filter_pages


class AgencyScopedBulkActionMixin:
    """Acts on, and names, only the objects of ``visible_objects(queryset)``."""

    def visible_objects(self, queryset):
        raise NotImplementedError

    def get_actionable_objects(self):
        objects, extra = super().get_actionable_objects()
        refused = extra["items_with_no_access"]
        given = self.model._default_manager.filter(pk__in=[obj.pk for obj in [*objects, *refused]])
        visible = set(self.visible_objects(given).values_list("pk", flat=True))
        if not visible:
            raise Http404
        return (
            [obj for obj in objects if obj.pk in visible],
            {**extra, "items_with_no_access": [obj for obj in refused if obj.pk in visible]},
        )


class AgencyPagesMixin(AgencyScopedBulkActionMixin):
    def visible_objects(self, queryset):
        return filter_pages(queryset, self.request.user)


class AgencyPageDeleteBulkAction(AgencyPagesMixin, DeleteBulkAction):
    pass


class AgencyPageMoveBulkAction(AgencyPagesMixin, MoveBulkAction):
    pass


class AgencyPagePublishBulkAction(AgencyPagesMixin, PublishBulkAction):
    pass


class AgencyPageUnpublishBulkAction(AgencyPagesMixin, UnpublishBulkAction):
    pass


PAGE_BULK_ACTIONS = (
    AgencyPageDeleteBulkAction,
    AgencyPageMoveBulkAction,
    AgencyPagePublishBulkAction,
    AgencyPageUnpublishBulkAction,
)
