"""Facet counts and labels, from per-process caches of the catalog.

Counting facets in Python over a cached summary of the live catalog, and
labelling them from a cached table of names, costs less than the GROUP BY and
name queries it replaces on every search.
"""

import time
from collections import Counter
from dataclasses import dataclass

from core.languages import bilingual
from search import embedded
from search.params import FACET_NAMES, STAGES, Query
from search.results import FacetValue
from service_pages.channels import CHANNEL_FIELDS, CHANNELS
from service_pages.models import Agency, Aimag, Category, ServicePage, Soum


@dataclass
class CatalogSummary:
    """Facet attributes of every live, public service, cached per process until the catalog changes.

    Counting facets over a list of matched ids in Python takes a few ms for the
    whole catalog, and saves one GROUP BY query per facet per search.
    """

    version: str | None
    rows: dict  # page_id -> (agency_id, category_id, aimag_id, soum_id, online, operator, in_person, stages)

    def filtered_ids(self, filters: dict) -> list[int]:
        return [page_id for page_id in sorted(self.rows) if self._matches(self.rows[page_id], filters)]

    @staticmethod
    def _matches(row, filters) -> bool:
        keys = {"agency_id": 0, "category_id": 1, "aimag_id": 2, "soum_id": 3}
        for key, position in keys.items():
            if key in filters and row[position] != filters[key]:
                return False
        if "channel" in filters and not row[4 + list(CHANNELS).index(filters["channel"])]:
            return False
        if "stages" in filters and (row[-1] > 1) != (filters["stages"] == "multi"):
            return False
        return True

    def facets(self, page_ids: list[int], query: Query) -> dict[str, list[FacetValue]]:
        counters = {name: Counter() for name in FACET_NAMES}
        for page_id in page_ids:
            row = self.rows.get(page_id)
            if row is None:
                continue
            counters["agency"][row[0]] += 1
            counters["category"][row[1]] += 1
            counters["aimag"][row[2]] += 1
            counters["soum"][row[3]] += 1
            for position, channel in enumerate(CHANNELS):
                if row[4 + position]:
                    counters["channel"][channel] += 1
            counters["stages"]["multi" if row[-1] > 1 else "single"] += 1
        return facet_values(counters, query)


_summary: CatalogSummary | None = None


def catalog_version() -> str | None:
    """The embedded index's change token: every change to a live service changes it."""
    return embedded.state_token()


def catalog_summary() -> CatalogSummary:
    global _summary
    version = catalog_version()
    if _summary is None or _summary.version != version:
        fields = ("pk", "agency_id", "category_id", "aimag_id", "soum_id", *CHANNEL_FIELDS, "stages")
        rows = {row[0]: row[1:] for row in ServicePage.objects.live().public().canonical().values_list(*fields)}
        _summary = CatalogSummary(version=version, rows=rows)
    return _summary


LABEL_SECONDS = 60
_labels: tuple[float, dict] | None = None


def facet_labels() -> dict:
    """(value, label) of every agency, category, aimag and soum by id, cached per process for a minute.

    Hundreds of rows that change a few times a year: reading them on every
    search cost more than the search itself. A renamed agency shows its new
    name within a minute.
    """
    global _labels
    now = time.monotonic()
    if _labels is None or now - _labels[0] > LABEL_SECONDS:
        tables = {"agency": (Agency, "code"), "category": (Category, "slug"), "aimag": (Aimag, "code"),
                  "soum": (Soum, "code")}  # fmt: skip
        # Both names: the label is picked in the reader's language (facet_values).
        labels = {
            name: {
                pk: (key, (name_mn, name_en))
                for pk, key, name_mn, name_en in model.objects.values_list("pk", key_field, "name_mn", "name_en")
            }
            for name, (model, key_field) in tables.items()
        }
        labels["channel"] = {key: (key, channel.label) for key, channel in CHANNELS.items()}
        labels["stages"] = dict((key, (key, label)) for key, label in STAGES.items())
        _labels = (now, labels)
    return _labels[1]


def facet_values(counters: dict[str, Counter], query: Query) -> dict[str, list[FacetValue]]:
    """Turn id counters into labelled facet values, every value (no top-10 cap), biggest first."""
    labels = facet_labels()
    facets = {}
    for name in FACET_NAMES:
        values = []
        for key, count in counters[name].items():
            if key is None or key not in labels[name]:
                continue
            value, label = labels[name][key]
            label = bilingual(*label) if isinstance(label, tuple) else str(label)
            values.append(FacetValue(value=value, label=label, count=count, selected=getattr(query, name) == value))
        values.sort(key=lambda item: (-item.count, item.label))
        facets[name] = values
    return facets


def forget_labels() -> None:
    """Read the facet labels again on the next search (tests, and after an operator renamed things)."""
    global _labels
    _labels = None
