"""A citizen's search, validated: the request parameters become a ``Query`` or a ``QueryError``.

Kept apart from running the search so the HTML page, the JSON API and operator
mode refuse the same parameters with the same messages, before any index is asked.
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from service_pages.channels import CHANNELS
from service_pages.models import Agency, Aimag, Category, Soum

MAX_PAGE_SIZE = 100
MAX_QUERY_LENGTH = 200
# The engines' default result window (index.max_result_window): deeper pages are refused.
MAX_RESULTS = 10_000
STAGES = {"single": gettext_lazy("Single-stage"), "multi": gettext_lazy("Multi-stage")}
FACET_NAMES = ("agency", "category", "aimag", "soum", "channel", "stages")


class QueryError(ValueError):
    """A search parameter is invalid; ``field`` names it for the 400 answer."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass
class Query:
    q: str = ""
    agency: str = ""  # agency code
    category: str = ""  # category slug
    aimag: str = ""  # aimag code
    soum: str = ""  # soum code
    channel: str = ""  # online | operator | in_person
    stages: str = ""  # single | multi
    page: int = 1
    page_size: int = 20
    # Database ids of the agency/category/aimag/soum filters, resolved once by parse_query().
    ids: dict = field(default_factory=dict)

    def filters(self) -> dict:
        """The facet filters that are set, by facet name."""
        return {name: getattr(self, name) for name in FACET_NAMES if getattr(self, name)}


def parse_query(params) -> Query:
    """Validate request parameters (a QueryDict or dict) into a ``Query``; ``QueryError`` if bad."""
    query = Query()
    for name in params:
        if "\x00" in (params.get(name) or ""):
            raise QueryError(name, _("%(name)s contains a character that is not allowed.") % {"name": name})
    query.q = (params.get("q") or "").strip()
    if len(query.q) > MAX_QUERY_LENGTH:
        raise QueryError("q", _("The search text is too long (at most %(max)s characters).") % {"max": MAX_QUERY_LENGTH})
    for name in ("page", "page_size"):
        raw = params.get(name)
        if raw in (None, ""):
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise QueryError(name, _("%(name)s must be a whole number.") % {"name": name}) from None
        if value < 1:
            raise QueryError(name, _("%(name)s must be 1 or more.") % {"name": name})
        setattr(query, name, value)
    if query.page_size > MAX_PAGE_SIZE:
        raise QueryError("page_size", _("page_size must be at most %(max)s.") % {"max": MAX_PAGE_SIZE})
    if query.page * query.page_size > MAX_RESULTS:
        raise QueryError(
            "page", _("Only the first %(max)s results can be paged through; narrow the search.") % {"max": MAX_RESULTS}
        )
    lookups = {
        "agency": (Agency, "code"),
        "category": (Category, "slug"),
        "aimag": (Aimag, "code"),
        "soum": (Soum, "code"),
    }
    for name, (model, key) in lookups.items():
        value = (params.get(name) or "").strip()
        if value:
            pk = model.objects.filter(**{key: value}).values_list("pk", flat=True).first()
            if pk is None:
                raise QueryError(name, _("Unknown %(name)s: %(value)s") % {"name": name, "value": value})
            query.ids[name] = pk
        setattr(query, name, value)
    for name, allowed in (("channel", CHANNELS), ("stages", STAGES)):
        value = (params.get(name) or "").strip()
        if value and value not in allowed:
            raise QueryError(
                name,
                _("%(name)s must be one of: %(choices)s") % {"name": name, "choices": ", ".join(allowed)},
            )
        setattr(query, name, value)
    return query
