"""The editors' search report: top queries, zero-result queries and queries with no click, per week.

Read from the logged searches (``search.analytics``). Scoped by agency like every admin record
(``service_pages.governance.agency_codes_for``): superusers and the national catalog team see
every search; an agency's editors and moderators only the searches that showed their services or
were filtered to their agency. A search that found nothing and named no agency concerns no agency
in particular, so only the national team sees it.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from search.analytics import retention_days
from search.models import SearchClick, SearchQueryLog
from search.popularity import week_of
from service_pages.governance import agency_codes_for
from service_pages.models import Agency

ROWS = 50


@dataclass
class Report:
    week: datetime.date
    agency: Agency | None
    searches: int = 0
    top: list[dict] = field(default_factory=list)
    zero: list[dict] = field(default_factory=list)
    no_click: list[dict] = field(default_factory=list)


def agencies_for(user):
    """The agencies whose searches ``user`` may see (all for the national team)."""
    codes = agency_codes_for(user)
    agencies = Agency.objects.order_by("name_mn")
    return agencies if codes is None else agencies.filter(code__in=codes)


def _concerning(agency_ids) -> Q:
    rows = Q(pk__in=[])
    for pk in agency_ids:
        rows |= Q(agencies__contains=f"|{pk}|")
    return rows


def visible_logs(user, agency: Agency | None = None):
    """The logged searches ``user`` may see, narrowed to ``agency`` when given (one of theirs)."""
    logs = SearchQueryLog.objects.all()
    if agency is not None:
        return logs.filter(_concerning([agency.pk]))
    if agency_codes_for(user) is None:
        return logs
    return logs.filter(_concerning(agencies_for(user).values_list("pk", flat=True)))


def weeks(today: datetime.date | None = None) -> list[datetime.date]:
    """The Mondays of the weeks still held (see ``search.analytics.retention_days``), newest first."""
    current = week_of(today or timezone.localdate())
    return [current - datetime.timedelta(weeks=n) for n in range(max(1, retention_days() // 7))]


def _grouped(logs, limit: int) -> list[dict]:
    """Searches grouped by their skeleton (so "ДАН", "дан" and "dan" are one row), commonest first."""
    rows = (
        logs.order_by().values("query_key")
        .annotate(text=Max("text"), searches=Count("pk"), results=Max("result_count"),
                  clicked=Count("pk", filter=Q(has_click=True)))
        .order_by("-searches", "text")[:limit]
    )  # fmt: skip
    return list(rows)


def build(user, week: datetime.date, agency: Agency | None = None, limit: int = ROWS) -> Report:
    """The report of ``week`` (a Monday) for ``user``, for one of their agencies or all they may see."""
    logs = visible_logs(user, agency).filter(day__gte=week, day__lt=week + datetime.timedelta(days=7))
    logs = logs.annotate(has_click=Exists(SearchClick.objects.filter(token=OuterRef("token"))))
    report = Report(week=week, agency=agency, searches=logs.count())
    report.top = _grouped(logs, limit)
    report.zero = _grouped(logs.filter(result_count=0), limit)
    report.no_click = _grouped(logs.filter(result_count__gt=0, has_click=False), limit)
    return report
