"""Tables of the embedded search index (``search.embedded``).

Stock Wagtail's database backend needs 11–15 s per query on SQLite with the
national catalog, and the same index must serve PostgreSQL when the search
engine is down, so this is a plain inverted index: ordinary tables and B-tree
indexes, the same on both databases.

- ``SearchTerm``: one row per (live service page, term). ``term`` is a
  Mongolian skeleton token (``core.mongolian``); ``weight`` already combines
  the fields the term occurs in (title 4, place 3, ...) and a light field-length
  normalisation, so scoring is one ``SUM`` per page with no joins. Stems are not
  stored: stem and typo matches are expanded at query time from the in-memory
  vocabulary into plain terms, which keeps the table half the size.
- ``SearchWord``: one readable, original-script form per term, for "did you mean".
- ``SearchIndexState``: a random token rewritten on every change, so each process
  knows cheaply (one primary-key read) when its cached vocabulary is stale. A
  counter would not do: a rolled-back transaction can hand out the same number twice.
"""

from django.db import models

from service_pages.models import ServicePage


class SearchTerm(models.Model):
    """A term of a live service page, with the page's weight for it."""

    # Bits of ``fields``: where the term occurs in the page (for explaining a score).
    TITLE, PLACE, KEYWORDS, TITLE_EN, AGENCY, BODY = 1, 2, 4, 8, 16, 32

    page = models.ForeignKey(ServicePage, on_delete=models.CASCADE, related_name="+", db_index=True)
    term = models.CharField(max_length=64)
    weight = models.FloatField()
    fields = models.PositiveSmallIntegerField(default=0)

    class Meta:
        # Covering index: a query reads (term -> page, weight) from the index alone.
        indexes = [models.Index(fields=["term", "page", "weight"], name="tumen_search_term_idx")]

    def __str__(self):
        return f"{self.term} @ {self.page_id} ({self.weight:.2f})"


class SearchWord(models.Model):
    """How a term is shown to people: the first original word seen for it."""

    term = models.CharField(max_length=64, primary_key=True)
    display = models.CharField(max_length=100)

    def __str__(self):
        return self.display


class SearchIndexState(models.Model):
    """Change marker of the embedded index (one row, ``name="embedded"``)."""

    name = models.CharField(max_length=32, primary_key=True)
    token = models.CharField(max_length=32)

    def __str__(self):
        return f"{self.name}: {self.token}"


class SearchQueryLog(models.Model):
    """One citizen search on the search page, kept without personal data (``search.analytics``).

    No IP address, session, user or exact time: the normalised text (long digit runs and e-mail
    addresses masked), the language, how many services it found, the day, the facet filters
    and the agencies of the services shown (so agency staff see only the searches that concern
    their services). ``token`` is random, only to tie later clicks (``SearchClick``) to it.
    """

    # One index only (the day, which every report reads by): each index is more pages written
    # by the INSERT every search costs. Clicks find their search through ``SearchClick.token``.
    token = models.CharField(max_length=32)
    day = models.DateField(db_index=True)
    text = models.CharField(max_length=200)
    query_key = models.CharField(max_length=200)  # the skeleton: "ДАН", "дан", "dan" are one
    language = models.CharField(max_length=8)
    result_count = models.PositiveIntegerField()
    filters = models.CharField(max_length=200, blank=True)
    agencies = models.CharField(max_length=500, blank=True)  # "|3|7|": agency ids of the shown results and filter

    def __str__(self):
        return f"{self.day} {self.text} ({self.result_count})"


class SearchClick(models.Model):
    """A result clicked after a logged search: which service, for which search (by its token)."""

    token = models.CharField(max_length=32, db_index=True)
    page = models.ForeignKey(ServicePage, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "page"], name="tumen_search_click_once")]

    def __str__(self):
        return f"{self.token} -> {self.page_id}"


class ServiceActivity(models.Model):
    """Clicks in search results and applications submitted, per service and week (``search.popularity``)."""

    page = models.ForeignKey(ServicePage, on_delete=models.CASCADE, related_name="+")
    week = models.DateField()  # the Monday
    clicks = models.PositiveIntegerField(default=0)
    applications = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["page", "week"], name="tumen_service_activity_week")]

    def __str__(self):
        return f"{self.page_id} {self.week}: {self.clicks} clicks, {self.applications} applications"


class ServicePopularity(models.Model):
    """A service's popularity score over the recent weeks, recomputed by ``search.popularity.refresh``."""

    page = models.OneToOneField(ServicePage, on_delete=models.CASCADE, primary_key=True, related_name="+")
    score = models.FloatField()

    def __str__(self):
        return f"{self.page_id}: {self.score:g}"


# The editors' rules (synonyms, best bets) live in search.editorial; importing
# them here registers them with the app at start-up, for migrations, snippets
# and the cascade when a service page is deleted.
from search.editorial import BestBet, BestBetService, Synonym  # noqa: E402, F401
