"""What a search answers: ranked hits, facet values and where the answer came from.

One shape for both indexes (``search.engine`` and the embedded index in
``search.finder``), so the page, the API and operator mode never ask which one answered.
"""

from dataclasses import dataclass, field

from search.params import Query
from service_pages.models import ServicePage

# Loaded with every hit: results show the agency and place, the API their codes.
HIT_RELATED = ("agency", "category", "aimag", "soum")


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False
    url: str = ""  # the search page link that toggles this value (set by the view)


@dataclass
class Hit:
    page: ServicePage  # the original (Mongolian) page: only originals are indexed
    score: float
    snippet: str = ""
    best_bet: bool = False
    translation: ServicePage | None = None  # its page in the reader's language, set by localize()

    @property
    def shown(self) -> ServicePage:
        """The page to link to and title with: the translation when there is one."""
        return self.translation or self.page


@dataclass
class Results:
    query: Query
    count: int = 0
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    source: str = "embedded"  # "engine" or "embedded"
    degraded: bool = False  # an engine is configured but did not answer
    suggestions: list[str] = field(default_factory=list)
    took_ms: float = 0.0

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.query.page_size))


@dataclass
class Window:
    """Which ranked results one page shows, once the pinned best bets are set aside."""

    exclude_ids: list[int]
    offset: int
    size: int
