"""How popular each service is: its recent clicks in search results and applications.

Counted per service and week (``ServiceActivity``), with no trace of who: a click comes from
``search.analytics.record_click``, an application from ``form_builder`` (it sits above search and
calls :func:`record_application` when a submission is received). :func:`refresh` (daily,
``manage.py search_analytics``) sums the last ``WINDOW_WEEKS`` weeks into ``ServicePopularity``
and rewrites the changed services in the engine's index (their ``search_popularity`` field, read
through the ``tumen_service_popularity`` hook of ``ServicePage.search_popularity``).

Both search paths multiply relevance by ``core.weights.popularity_factor(score)``: the engine
with a ``function_score`` (``search.query.with_popularity``), the embedded index here
(:func:`rerank`).
"""

import datetime
import time
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from core.weights import APPLICATION_WEIGHT, popularity_factor
from search.models import SearchIndexState, ServiceActivity, ServicePopularity
from search.tasks import reindex_popular_pages
from service_pages.models import ServicePage

WINDOW_WEEKS = 12
STATE = "popularity"
RECHECK_SECONDS = 5.0  # how stale a process's copy of the scores may be

_cache: dict = {"token": None, "checked": -float("inf"), "scores": {}}


def week_of(day: datetime.date) -> datetime.date:
    """The Monday of ``day``'s week: activity and the report count by week."""
    return day - datetime.timedelta(days=day.weekday())


def original_id(page) -> int | None:
    """The id of the original (Mongolian) page of a service page or its translation: only originals are indexed."""
    if page is None:
        return None
    return ServicePage.objects.canonical().filter(translation_key=page.translation_key).values_list("pk", flat=True).first()


def _count(page_id: int, field: str) -> None:
    """Add one to this week's count of ``field`` for the service (one UPDATE, an INSERT the first time)."""
    week = week_of(timezone.localdate())
    if ServiceActivity.objects.filter(page_id=page_id, week=week).update(**{field: F(field) + 1}):
        return
    try:
        with transaction.atomic():
            ServiceActivity.objects.create(page_id=page_id, week=week, **{field: 1})
    except IntegrityError:  # another request created the week's row first
        ServiceActivity.objects.filter(page_id=page_id, week=week).update(**{field: F(field) + 1})


def record_click(page_id: int) -> None:
    _count(page_id, "clicks")


def record_application(page) -> None:
    """A submission for this service was received (``form_builder`` calls this)."""
    page_id = original_id(page)
    if page_id is not None:
        _count(page_id, "applications")


def refresh(today: datetime.date | None = None) -> list[int]:
    """Recompute every service's score over the last ``WINDOW_WEEKS`` weeks; returns the changed page ids.

    The changed services are written again to the engine's index (``search.tasks``), so its
    ``search_popularity`` field follows; the embedded path reads the scores from the table.
    """
    today = today or timezone.localdate()
    since = week_of(today) - datetime.timedelta(weeks=WINDOW_WEEKS - 1)
    sums = (
        ServiceActivity.objects.filter(week__gte=since).order_by().values("page_id")
        .annotate(clicks=Sum("clicks"), applications=Sum("applications"))
    )  # fmt: skip
    new = {row["page_id"]: float(row["clicks"] + APPLICATION_WEIGHT * row["applications"]) for row in sums}
    new = {page_id: score for page_id, score in new.items() if score > 0}
    old = dict(ServicePopularity.objects.values_list("page_id", "score"))
    changed = sorted(page_id for page_id in set(old) | set(new) if old.get(page_id) != new.get(page_id))
    if not changed:
        return []
    with transaction.atomic():
        ServicePopularity.objects.filter(page_id__in=[page_id for page_id in changed if page_id not in new]).delete()
        for page_id in changed:
            if page_id in new:
                ServicePopularity.objects.update_or_create(page_id=page_id, defaults={"score": new[page_id]})
        _changed()
    forget()
    transaction.on_commit(lambda: reindex_popular_pages.enqueue(changed))
    return changed


def _changed() -> None:
    token = uuid.uuid4().hex
    if not SearchIndexState.objects.filter(name=STATE).update(token=token):
        SearchIndexState.objects.create(name=STATE, token=token)


def scores() -> dict[int, float]:
    """Every popular service's score by page id, cached per process (re-checked every few seconds)."""
    now = time.monotonic()
    if now - _cache["checked"] >= RECHECK_SECONDS:
        token = SearchIndexState.objects.filter(name=STATE).values_list("token", flat=True).first()
        if token != _cache["token"]:
            _cache["scores"] = dict(ServicePopularity.objects.values_list("page_id", "score"))
            _cache["token"] = token
        _cache["checked"] = now
    return _cache["scores"]


def forget() -> None:
    """Drop this process's copy of the scores (tests, and after ``refresh`` in the same process)."""
    _cache.update(token=None, checked=-float("inf"), scores={})


def score_of(page) -> float:
    """The ``tumen_service_popularity`` hook: the value indexed as ``search_popularity``."""
    return scores().get(page.pk, 0.0)


def weight() -> float:
    """The popularity weight in use (``TUMEN_SEARCH_POPULARITY_WEIGHT``; 0 switches the boost off)."""
    return settings.TUMEN_SEARCH_POPULARITY_WEIGHT


def rerank(
    ranked: list[tuple[int, float]], popularity: dict[int, float] | None = None, boost: float | None = None
) -> list[tuple[int, float]]:
    """(page_id, score) best first, each score multiplied by the page's popularity factor.

    ``boost``: the weight, else :func:`weight` (the relevance bench tries others)."""
    boost = weight() if boost is None else boost
    if boost <= 0:
        return ranked
    popularity = scores() if popularity is None else popularity
    if not popularity:
        return ranked
    boosted = [(page_id, score * popularity_factor(popularity.get(page_id, 0.0), boost)) for page_id, score in ranked]
    return sorted(boosted, key=lambda item: -item[1])
