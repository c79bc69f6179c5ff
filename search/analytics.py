"""What citizens search for, kept without personal data, for the editors' report (``search.report``).

Each search on the public search page (its first page; paging on is the same search) is one
``SearchQueryLog`` row written with a single INSERT once the page has been sent (``save_after``): the normalised text, the language, how
many services it found, the day (no time), the facet filters and the agencies of the services
shown. Never the IP address, session, user, user agent or exact time. Citizens sometimes type
their register or phone number into a search box: runs of four or more digits and e-mail
addresses are masked before anything is stored.

A click on a result is sent by ``search/static/search/clicks.js`` (a beacon, no inline script:
the public CSP allows only our own files) with a signed token naming the search; it becomes a
``SearchClick`` row (once per search and service) and a click in the service's weekly counts
(``search.popularity``). Retention: raw rows are deleted after ``TUMEN_SEARCH_LOG_DAYS`` days
(default 91, the report's 13 weeks; ``purge``); the per-service weekly counts hold no query
text and are kept for popularity.
"""

import datetime
import logging
import re
import uuid

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.mongolian import skeleton
from search import popularity
from search.models import SearchClick, SearchQueryLog
from search.params import Query
from search.results import Results
from service_pages.models import ServicePage

logger = logging.getLogger(__name__)
SALT = "tumen.search.click"
TOKEN_MAX_AGE = 24 * 3600  # a click more than a day after its search is not counted
MAX_CLICKS_PER_SEARCH = 3  # distinct services one search may count clicks for
DIGITS = re.compile(r"\d{4,}")
EMAIL = re.compile(r"\S+@\S+")
SPACES = re.compile(r"\s+")


def normalise(q: str) -> str:
    """The search text as stored: lower case, single spaces, digit runs and e-mail addresses masked."""
    text = EMAIL.sub("@", q or "")
    text = DIGITS.sub("#", text)
    return SPACES.sub(" ", text).strip().lower()[:200]


def retention_days() -> int:
    return settings.TUMEN_SEARCH_LOG_DAYS


def entry(query: Query, results: Results, language: str) -> tuple[str | None, SearchQueryLog | None]:
    """The row to store for this search (not yet saved) and the signed token for its clicks.

    Only searches with words, on their first page, are logged (none when
    ``TUMEN_SEARCH_ANALYTICS`` is off): ``(None, None)`` otherwise.
    """
    if not query.q or query.page != 1 or not settings.TUMEN_SEARCH_ANALYTICS:
        return None, None
    text = normalise(query.q)
    agencies = {hit.page.agency_id for hit in results.hits} | ({query.ids["agency"]} if "agency" in query.ids else set())
    filters = ";".join(f"{name}={value}" for name, value in sorted(query.filters().items()))
    token = uuid.uuid4().hex
    row = SearchQueryLog(
        token=token,
        day=timezone.localdate(),
        text=text,
        query_key=skeleton(text)[:200],
        language=language[:8],
        result_count=results.count,
        filters=filters[:200],
        agencies="|" + "|".join(str(pk) for pk in sorted(agencies)) + "|" if agencies else "",
    )
    return signing.dumps(token, salt=SALT), row


def save_after(response, row: SearchQueryLog | None) -> None:
    """Store ``row`` once ``response`` has been sent, so the citizen never waits for the INSERT.

    The WSGI server calls ``response.close()`` after the last byte went out; Django runs the
    response's resource closers there (before ``request_finished``, so still on the request's
    database connection). A failure is logged, never shown: the search has been answered.
    """
    if row is not None:
        response._resource_closers.append(lambda: _insert_quietly(row))


def _insert_quietly(row: SearchQueryLog) -> None:
    try:
        _insert(row)
    except Exception:
        logger.exception("could not log a search")


def log_search(query: Query, results: Results, language: str) -> str | None:
    """Store one search now (see :func:`entry`); returns the signed token for its clicks."""
    token, row = entry(query, results, language)
    if row is not None:
        _insert(row)
    return token


def _insert(row: SearchQueryLog) -> None:
    """One INSERT. On PostgreSQL its commit does not wait for the disk (``synchronous_commit``
    off for this transaction only): a crash may lose the last fraction of a second of searches,
    never anything else, and the search does not wait ~1 ms for a WAL flush."""
    if connection.vendor != "postgresql":
        row.save(force_insert=True)
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        row.save(force_insert=True)


class ClickError(ValueError):
    """The click beacon's token or service is not valid."""


def record_click(signed_token: str, code: str) -> bool:
    """Count a click on service ``code`` after the search of ``signed_token``; False if already counted.

    ``ClickError`` for a forged or expired token, or an unknown service.
    """
    try:
        token = signing.loads(signed_token or "", salt=SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature as error:
        raise ClickError("token") from error
    page_id = ServicePage.objects.canonical().filter(code=code or "").values_list("pk", flat=True).first()
    if page_id is None:
        raise ClickError("code")
    if SearchClick.objects.filter(token=token).count() >= MAX_CLICKS_PER_SEARCH:
        return False
    try:
        with transaction.atomic():
            SearchClick.objects.create(token=token, page_id=page_id, day=timezone.localdate())
    except IntegrityError:  # this service was already clicked for this search
        return False
    popularity.record_click(page_id)
    return True


def purge(today: datetime.date | None = None) -> int:
    """Delete searches and clicks older than the retention period; returns how many searches went."""
    today = today or timezone.localdate()
    before = today - datetime.timedelta(days=retention_days())
    SearchClick.objects.filter(day__lt=before).delete()
    deleted, _rows = SearchQueryLog.objects.filter(day__lt=before).delete()
    return deleted
