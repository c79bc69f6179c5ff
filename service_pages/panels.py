"""The admin home page's "what needs you" panels (Wagtail's ``construct_homepage_panels``).

Each app adds its own panel from its own ``wagtail_hooks.py``, with what it knows needs the signed-in
person: ``service_pages`` the pages and forms awaiting their review, ``form_builder`` their agency's
applications waiting in the current stage, ``plugins`` their agency's failed deliveries and failing
delivery targets. A panel with nothing in it is not shown, so each person sees only what is theirs
to do. This module is the panels' common shape (apps above import it); every item links to the page
where it is handled.
"""

from __future__ import annotations

from dataclasses import dataclass

from wagtail.admin.ui.components import Component


@dataclass
class NeedItem:
    label: str
    url: str
    count: int | None = None  # a number of things, or None for one thing (a page, a target)
    detail: str = ""


class NeedsYouPanel(Component):
    template_name = "service_pages/admin/needs_you_panel.html"

    def __init__(self, name: str, heading, items: list[NeedItem], order: int = 90):
        self.name, self.heading, self.items, self.order = name, heading, items, order

    def get_context_data(self, parent_context):
        return {"panel_id": self.name, "heading": self.heading, "items": self.items}


def add_panel(panels: list, name: str, heading, items: list[NeedItem], order: int = 90) -> None:
    """Add the panel only when something needs the user."""
    items = [item for item in items if item.count is None or item.count > 0]
    if items:
        panels.append(NeedsYouPanel(name, heading, items, order))
