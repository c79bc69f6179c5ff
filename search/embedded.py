"""The embedded search index: fast catalog search on plain database tables.

Why: stock Wagtail's database backend takes 11–15 s per query on SQLite with
the 11,250-service catalog, and when the OpenSearch engine is down the site
must still answer from PostgreSQL. This index is an inverted index in ordinary
tables (``search.models``) that both databases serve from one B-tree index, so
a query is a single ``GROUP BY page_id`` over the rows of its terms.

Matching, best first (all on ``core.mongolian`` skeletons, so о/ө, у/ү and
informal Latin already coincide):

1. exact term;
2. same stem and only another suffix (the stem family is expanded from the
   in-memory vocabulary, not stored in the table): "тэтгэврийн" for "тэтгэвэр",
   not "тэтгэмж", and not "Завханмандал" for "Завхан";
3. for a query word the catalog lacks (a typo, or a form it never uses):
   vocabulary terms within edit distance 1 (2 from 7 letters, as the engine's
   AUTO:4,7), even when its stem is known ("эмнэлхийн" is "эмнэлгийн"); terms
   whose stem differs in its last letter (verb forms: "олгуулах", "олгоно" for
   "олгох"), and when no spelling is close any term of its stem ("оношшохооны");
4. for a last word with no match at all: terms it begins (as-you-type prefixes).

Each term's factor is match quality × IDF, where the other forms of a query
word take the IDF of its commonest form (as the engine's stem sub-field and
Lucene's fuzzy queries do), so a rare form never outweighs the typed word; a
page's score is the sum of ``weight × factor`` over its matching terms, where
``weight`` was fixed at index time from the fields holding the term
(``core.weights``: title 4, place 3, keywords 2, title_en 2, agency 1, summary
and body 1), how often it occurs there (BM25's saturation: "Ховд аймаг, Ховд
сум" names Ховд twice) and a light length normalisation.
Pages matching more of the query words rank higher (coverage²), and matching
every word earns a bonus: AND beats OR, without dropping OR matches. A word
found on most pages ("аймаг", "сум", "үйлчилгээ") only scores the pages the
other words found (Lucene's CommonTermsQuery): fewer rows read, and
"Баянхонгор аймаг" lists Bayankhongor's services rather than every aimag's.

The vocabulary (terms, their page counts, display forms, stem and bigram maps)
is cached per process and reloaded when ``SearchIndexState`` changes.
"""

import html
import math
import os
import re
import uuid
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import Case, Count, ExpressionWrapper, F, FloatField, IntegerField, Q, Sum, Value, When
from django.utils.html import strip_tags

from core.mongolian import STEM_LENGTH, stem, tokens
from core.weights import EMBEDDED_BODY_WEIGHT, FIELD_WEIGHTS
from search.models import SearchIndexState, SearchTerm, SearchWord
from service_pages.channels import CHANNELS
from service_pages.models import ServicePage
from service_pages.search_text import agency_text, place_text

BATCH_SIZE = 500  # pages per read/delete batch
# field: (bit in SearchTerm.fields, weight (core.weights), typical length in tokens for the normalisation)
FIELDS = {
    "title": (SearchTerm.TITLE, FIELD_WEIGHTS["title"], 6),
    "place": (SearchTerm.PLACE, FIELD_WEIGHTS["place"], 4),
    "keywords": (SearchTerm.KEYWORDS, FIELD_WEIGHTS["keywords"], 3),
    "title_en": (SearchTerm.TITLE_EN, FIELD_WEIGHTS["title_en"], 5),
    "agency": (SearchTerm.AGENCY, FIELD_WEIGHTS["agency"], 6),
    "body": (SearchTerm.BODY, EMBEDDED_BODY_WEIGHT, 40),
}
LENGTH_NORM = 0.3  # BM25's b, kept low: a long title is only a little weaker
# BM25's k1: a word twice in a field weighs 1.375 times once ("Ховд аймаг, Ховд сум" for "Ховд"),
# as in the engine; more repeats add less and less.
TF_SATURATION = 1.2
MAX_TERM_LENGTH = 64
# Match quality: exact > stem > prefix (as you type) > typo.
EXACT, STEM, PREFIX, TYPO = 1.0, 0.7, 0.5, {1: 0.5, 2: 0.35}
STEM_TYPO = 0.35  # another form whose stem is one edit away: "олгуулах", "олгоно" for "олгох"
ALL_WORDS_BONUS = 1.5
COMMON_SHARE = 0.5  # a query word on more than this share of pages does not add results by itself
SUFFIX_SLACK = 2  # letters at the end of a word that a suffix may change ("тэтгэвэр" / "тэтгэврийн")
MAX_SUFFIX = 5  # letters a suffix adds ("giin", "uulah", "nuud"); more is another word ("Завхан-мандал")
MIN_TYPO_LENGTH = 4  # shorter words have too many neighbours to guess from
LONG_WORD = 7  # words this long may have two typos (the engine's fuzziness AUTO:4,7)
MAX_EXPANSION = 12  # terms one typo or prefix may expand to
STATE = "embedded"
PAGE_VALUES = ("pk", "title", "title_en", "summary", "description", "keywords", "agency__name_mn",
               "agency__name_en", "aimag__name_mn", "aimag__name_en", "soum__name_mn", "soum__name_en")  # fmt: skip
VOWELS = "aeiou"  # of the skeleton
EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")


# --- indexing ---------------------------------------------------------------------------


def page_texts(row: dict) -> dict[str, str]:
    """The text of each weighted field of a page (a ``PAGE_VALUES`` row)."""
    place = place_text((row["soum__name_mn"], row["soum__name_en"]), (row["aimag__name_mn"], row["aimag__name_en"]))
    description = html.unescape(strip_tags(row["description"] or ""))
    return {
        "title": row["title"] or "",
        "place": place,
        "keywords": (row["keywords"] or "").replace("|", " "),
        "title_en": row["title_en"] or "",
        "agency": agency_text(row["agency__name_mn"], row["agency__name_en"]),
        "body": f"{row['summary'] or ''} {description}",
    }


@lru_cache(maxsize=50_000)
def _chunk_tokens(chunk: str) -> tuple[tuple[str, str], ...]:
    """(token, display form) of one whitespace-separated chunk of text.

    Catalog text repeats the same words thousands of times, so the cache
    spares most ``skeleton()`` calls of a rebuild. ``skeleton()`` never joins
    letters across whitespace, so this gives the same tokens as ``tokens()``
    on the whole text.
    """
    found = tokens(chunk)
    if len(found) == 1:
        return ((found[0], EDGE_PUNCTUATION.sub("", chunk).lower()),)
    pairs = []
    for piece in re.split(r"[^\w-]+", chunk):  # "a,b" or "(a)": show each piece by itself
        piece_tokens = tokens(piece)
        pairs += [(token, piece.lower() if len(piece_tokens) == 1 else token) for token in piece_tokens]
    return tuple(pairs)


def page_terms(row: dict) -> tuple[dict[str, list], dict[str, str]]:
    """``{term: [weight, field bits]}`` of one page, and ``{term: display form}``."""
    terms: dict[str, list] = {}
    display: dict[str, str] = {}
    for name, text in page_texts(row).items():
        bit, weight, typical = FIELDS[name]
        found = []
        for chunk in text.split():
            for token, shown in _chunk_tokens(chunk):
                if len(token) <= MAX_TERM_LENGTH:
                    found.append(token)
                    display.setdefault(token, shown[:100])
        if not found:
            continue
        # BM25-style length normalisation against a fixed typical length: stable
        # across catalogs, and a page's weights do not depend on the other pages.
        weight /= 1 - LENGTH_NORM + LENGTH_NORM * len(found) / typical
        for token, count in Counter(found).items():
            entry = terms.setdefault(token, [0.0, 0])
            entry[0] += weight * count * (TF_SATURATION + 1) / (count + TF_SATURATION)
            entry[1] |= bit
    return terms, display


def index_pages(pages: Iterable) -> int:
    """Replace the terms of these pages (``ServicePage`` objects or ids); returns how many are live.

    Only live, public originals (Mongolian pages no view restriction covers) get terms; the
    others are removed from the index.
    A translation is never indexed: its original carries ``title_en`` too, so each service is
    found once. Text is read back from the database in batches, so what is indexed is what is saved.
    """
    ids = sorted({getattr(page, "pk", page) for page in pages} - {None})
    if not ids:
        return 0
    with transaction.atomic():
        indexed = _index_ids(ids, replace=True)
        _changed()
    return indexed


def _index_ids(ids: list[int], replace: bool, progress: Callable[[int, int], None] | None = None) -> int:
    indexed = 0
    words_seen: set[str] = set()
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        if replace:
            SearchTerm.objects.filter(page_id__in=chunk).delete()
        rows, words = [], {}
        for row in ServicePage.objects.canonical().filter(pk__in=chunk, live=True).public().values(*PAGE_VALUES):
            terms, display = page_terms(row)
            rows += [(row["pk"], term, round(weight, 4), bits) for term, (weight, bits) in terms.items()]
            words.update((term, shown) for term, shown in display.items() if term not in words_seen)
            indexed += 1
        _insert_terms(rows)
        SearchWord.objects.bulk_create(
            [SearchWord(term=term, display=shown) for term, shown in words.items()], ignore_conflicts=True
        )
        words_seen.update(words)
        if progress:
            progress(min(start + BATCH_SIZE, len(ids)), len(ids))
    return indexed


def _insert_terms(rows: list[tuple]) -> None:
    """Insert (page_id, term, weight, fields) rows in bulk.

    ``bulk_create`` spends ~25 µs a row building model objects and SQL, and the
    catalog has ~350,000 rows. A plain parameterised ``executemany`` loads them
    in ~1.5 s on SQLite; PostgreSQL takes ~8 s for that but ~1.5 s with ``COPY``
    (the table and its indexes stay the same on both).
    """
    if not rows:
        return
    table = connection.ops.quote_name(SearchTerm._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(name) for name in ("page_id", "term", "weight", "fields"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s)", rows)


def remove_pages(page_ids: Iterable[int]) -> None:
    """Drop these pages from the index (unpublished or deleted)."""
    ids = list(page_ids)
    with transaction.atomic():
        for start in range(0, len(ids), BATCH_SIZE):
            SearchTerm.objects.filter(page_id__in=ids[start : start + BATCH_SIZE]).delete()
        _changed()


def rebuild(progress: Callable[[int, int], None] | None = None) -> int:
    """Index every live, public original ServicePage from scratch; returns how many were indexed.

    ``progress(done, total)`` is called after each batch of pages.
    """
    ids = list(ServicePage.objects.canonical().filter(live=True).public().order_by("pk").values_list("pk", flat=True))
    with transaction.atomic():
        SearchTerm.objects.all().delete()
        SearchWord.objects.all().delete()  # display forms are chosen afresh
        indexed = _index_ids(ids, replace=False, progress=progress)
        _changed()
    if progress and not ids:
        progress(0, 0)
    return indexed


def _changed() -> None:
    """Tell every process that its cached vocabulary is stale."""
    token = uuid.uuid4().hex
    if not SearchIndexState.objects.filter(name=STATE).update(token=token):
        SearchIndexState.objects.create(name=STATE, token=token)


# --- the vocabulary -------------------------------------------------------------------


def _bigrams(term: str) -> set[str]:
    padded = f"^{term}$"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


@dataclass
class Vocabulary:
    """Every indexed term with its page count, display form, stem family and bigrams."""

    token: str | None
    documents: int
    df: dict[str, int]
    display: dict[str, str]
    by_stem: dict[str, list[str]]
    by_head: dict[str, list[str]]  # stems by their first STEM_LENGTH - 1 letters
    by_bigram: dict[str, list[str]]
    ordered: list[str]  # sorted terms, for prefixes

    @classmethod
    def load(cls, token: str | None) -> "Vocabulary":
        df = dict(SearchTerm.objects.order_by().values_list("term").annotate(pages=Count("id")))
        documents = SearchTerm.objects.order_by().values("page_id").distinct().count()
        display = dict(SearchWord.objects.filter(term__in=list(df)).values_list("term", "display")) if df else {}
        by_stem, by_head, by_bigram = defaultdict(list), defaultdict(list), defaultdict(list)
        for term in df:
            by_stem[stem(term)].append(term)
            for gram in _bigrams(term):
                by_bigram[gram].append(term)
        for term_stem in by_stem:
            if len(term_stem) >= STEM_LENGTH - 1:
                by_head[term_stem[: STEM_LENGTH - 1]].append(term_stem)
        return cls(token, documents, df, display, dict(by_stem), dict(by_head), dict(by_bigram), sorted(df))

    def idf(self, term: str) -> float:
        return math.log(1 + self.documents / self.df[term])

    def blended_idf(self, terms: Iterable[str]) -> float:
        """The IDF of the commonest of ``terms``: what the other forms of one query word weigh.

        Why: a rare form ("үнэмлэхийн", 8 pages) would otherwise outweigh the typed word
        itself ("үнэмлэх", 359 pages) and put a stem match above an exact one. The engine's
        stem sub-field has one term for all forms, and Lucene blends the statistics of a
        fuzzy query's expansions the same way.
        """
        return math.log(1 + self.documents / max(self.df[term] for term in terms))

    def stem_family(self, word: str) -> list[str]:
        """Terms with the stem of ``word`` that differ from it only in the last few letters.

        ``stem()`` alone (the first five letters) would also join different
        words, e.g. every "Баян-…" soum; a suffix changes only the end of a word.
        """
        return [term for term in self.by_stem.get(stem(word), ()) if _same_word(word, term, SUFFIX_SLACK)]

    def stem_neighbours(self, word: str, loose: bool = True) -> list[str]:
        """For a word the catalog lacks: terms with its stem, or a stem that differs in its last letter.

        Verbs change there: "олгуулах", "олгоно" (stems "ulgul", "ulgun") for "олгох" ("ulguh"),
        "сунгуулах" for "сунгах"; and a word with two slips after its stem ("оношшохооны")
        still has the stem of the word meant (those only when ``loose``). The engine reaches these by (fuzzy) matching on
        its stem sub-field (``search.query``'s coverage clauses). Closest spelling first (shared
        letter pairs), then commonest.
        """
        word_stem = stem(word)
        if len(word_stem) < STEM_LENGTH:
            return []
        found = [
            term
            for other in self.by_head.get(word_stem[: STEM_LENGTH - 1], ())
            for term in self.by_stem[other]
            if (loose and other == word_stem) or _same_word(word, term, STEM_LENGTH - 1)
        ]
        grams = _bigrams(word)
        found.sort(key=lambda term: (-len(grams & _bigrams(term)), -self.df[term], term))
        return found[:MAX_EXPANSION]

    def close_terms(self, token: str) -> list[tuple[str, int]]:
        """(term, edit distance) within 1 (2 for long words), closest and commonest first."""
        if len(token) < MIN_TYPO_LENGTH:
            return []
        limit = 2 if len(token) >= LONG_WORD else 1
        grams = _bigrams(token)
        # One edit changes at most three bigrams (a transposition), so a term within
        # ``limit`` edits shares at least len(grams) - 3 * limit of them.
        need = max(1, len(grams) - 3 * limit)
        shared = Counter()
        for gram in grams:
            shared.update(self.by_bigram.get(gram, ()))
        found = []
        for term, count in shared.items():
            if count >= need and abs(len(term) - len(token)) <= limit and term != token:
                distance = edit_distance(token, term, limit)
                if distance <= limit:
                    found.append((term, distance))
        found.sort(key=lambda item: (item[1], -self.df[item[0]], item[0]))
        return found[:MAX_EXPANSION]

    def prefixed(self, token: str) -> list[str]:
        """The commonest terms that start with ``token`` (for words still being typed)."""
        start = bisect_left(self.ordered, token)
        found = []
        for term in self.ordered[start:]:
            if not term.startswith(token):
                break
            found.append(term)
        return sorted(found, key=lambda term: -self.df[term])[:MAX_EXPANSION]


def _same_word(word: str, term: str, shared: int) -> bool:
    """Whether ``term`` may be ``word`` with another suffix.

    They share their first letters (all but ``shared`` of the shorter, or ``shared`` letters
    when it is above ``SUFFIX_SLACK``), neither goes on for more than a suffix after them (so
    "Завханмандал" is not "Завхан"), and what the shorter has after them is a vowel a suffix
    drops ("барилга" / "барилгын") or one before its last consonant ("тэтгэвэр" / "тэтгэврийн"),
    so "тэтгэмж" is not "тэтгэвэр".
    """
    common = len(os.path.commonprefix((word, term)))
    need = min(len(word), len(term)) - shared if shared <= SUFFIX_SLACK else shared
    if common < need or max(len(word), len(term)) - common > MAX_SUFFIX:
        return False
    if shared > SUFFIX_SLACK:
        return True
    short, long = sorted((word, term), key=len)
    rest = short[common:]
    return rest.strip(VOWELS) == "" or (
        rest[0] in VOWELS and rest[1:].lstrip(VOWELS) == rest[-1:] and long[common:].startswith(rest[-1])
    )


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of neighbours is one edit), or limit + 1."""
    previous2, previous = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


_vocabulary: Vocabulary | None = None


def state_token() -> str | None:
    """Changes whenever the embedded index changes (any publish, unpublish, delete or import).

    Per-process caches of the live catalog (this vocabulary, the search service's
    facet summary) compare it to know when to reload: one primary-key read.
    """
    return SearchIndexState.objects.filter(name=STATE).values_list("token", flat=True).first()


def vocabulary() -> Vocabulary:
    """The cached vocabulary, reloaded when the index changed (one primary-key read per call)."""
    global _vocabulary
    token = state_token()
    if _vocabulary is None or _vocabulary.token != token:
        _vocabulary = Vocabulary.load(token)
    return _vocabulary


def all_words_known(q: str) -> bool:
    """Whether every word of ``q`` (or its stem) occurs in the live catalog.

    The engine path asks for fuzzy (typo-tolerant) matching only when this is
    False: fuzzy expansion is most of the engine's time, and a query whose words
    all exist in the catalog is not misspelt in a way fuzziness would fix.
    """
    vocabulary_ = vocabulary()
    return all(word in vocabulary_.df or stem(word) in vocabulary_.by_stem for word in tokens(q))


# --- searching --------------------------------------------------------------------------


def expand(words: list[str], vocab: Vocabulary) -> list[dict[str, float]]:
    """For each query word, the vocabulary terms it matches and their match quality."""
    expansions = []
    for position, word in enumerate(words):
        found = {}
        if word in vocab.df:
            found[word] = EXACT
        for term in vocab.stem_family(word):
            found.setdefault(term, STEM)
        if word not in vocab.df:
            # A word the catalog lacks is a typo or another form, even when its stem
            # is known ("эмнэлхийн" has the stem of "эмнэлэг" but means "эмнэлгийн").
            close = vocab.close_terms(word)
            for term, distance in close:
                found.setdefault(term, TYPO[distance])
            # Any term of the same stem only when no spelling is close: "сэргээлгөх" means
            # "сэргээлгэх", not "Сэргэлэн".
            for term in vocab.stem_neighbours(word, loose=not close):
                found.setdefault(term, STEM_TYPO)
        if not found:
            if position == len(words) - 1 and len(word) >= 3:
                for term in vocab.prefixed(word):
                    found.setdefault(term, PREFIX)
        expansions.append(found)
    return expansions


def _filtered(queryset, filters: dict):
    """``queryset`` of SearchTerm restricted to pages passing the facet filters."""
    pages = ServicePage.objects.all()
    narrowed = False
    for key in ("agency_id", "category_id", "aimag_id", "soum_id"):
        value = filters.get(key)
        if value not in (None, "", [], ()):
            values = list(value) if isinstance(value, list | tuple | set) else [value]
            pages, narrowed = pages.filter(**{f"{key}__in": [int(item) for item in values]}), True
    channel = filters.get("channel")
    if channel:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
        pages, narrowed = pages.filter(**{CHANNELS[channel].field: True}), True
    stages = filters.get("stages")
    if stages:
        if stages not in ("single", "multi"):
            raise ValueError(f"unknown stages {stages!r}; expected 'single' or 'multi'")
        pages, narrowed = pages.filter(Q(stages__lte=1) if stages == "single" else Q(stages__gt=1)), True
    return queryset.filter(page_id__in=pages.values("pk")) if narrowed else queryset


def search_ids(q: str, filters: dict | None = None, limit: int = 1000) -> list[tuple[int, float]]:
    """Live service pages matching ``q`` as (page_id, score), best first.

    ``filters``: ``agency_id``, ``category_id``, ``aimag_id``, ``soum_id`` (an int
    or a list of ints), ``channel`` ("online", "operator", "in_person"),
    ``stages`` ("single" or "multi").
    """
    words = list(dict.fromkeys(tokens(q or "")))
    if not words:
        return []
    vocab = vocabulary()
    factors: dict[str, float] = {}  # term -> match quality x IDF
    position: dict[str, int] = {}  # term -> the query word it stands for
    common, rare = set(), set()
    matchable = 0
    for index, found in enumerate(expand(words, vocab)):
        if not found:
            continue
        matchable += 1
        is_common = max(vocab.df[term] for term in found) > COMMON_SHARE * vocab.documents
        (common if is_common else rare).update(found)
        blended = vocab.blended_idf(found)
        for term, quality in found.items():
            idf = vocab.idf(term) if quality == EXACT else blended
            factors[term] = max(factors.get(term, 0.0), quality * idf)
            position.setdefault(term, index)
    if not factors:
        return []
    terms = SearchTerm.objects.filter(term__in=list(factors))
    if common and rare:
        # Words on most pages only score the pages the other words found (see the
        # module docstring): a few hundred index rows instead of ten thousand.
        recruited = SearchTerm.objects.filter(term__in=list(rare)).values("page_id")
        terms = SearchTerm.objects.filter(Q(term__in=list(rare)) | Q(term__in=list(common - rare), page_id__in=recruited))
    score = Sum(F("weight") * Case(*[When(term=term, then=Value(factor)) for term, factor in factors.items()],
                                   output_field=FloatField()))  # fmt: skip
    matched = Count(Case(*[When(term=term, then=Value(index)) for term, index in position.items()],
                         output_field=IntegerField()), distinct=True)  # fmt: skip
    # Coverage squared, and a bonus for every word: AND beats OR without dropping OR.
    coverage = Case(When(matched=matchable, then=Value(ALL_WORDS_BONUS)), default=Value(1.0), output_field=FloatField())
    rank = ExpressionWrapper(
        F("score") * F("matched") * F("matched") * coverage / Value(float(matchable * matchable)),
        output_field=FloatField(),
    )
    rows = (
        _filtered(terms, filters or {})
        .order_by()
        .values("page_id")
        .annotate(score=score, matched=matched)
        .annotate(rank=rank)
        .order_by("-rank", "page_id")
        .values_list("page_id", "rank")[:limit]
    )
    return [(page_id, float(rank)) for page_id, rank in rows]


def suggest(q: str, limit: int = 5) -> list[str]:
    """"Did you mean" queries: ``q`` with its unknown words replaced by close vocabulary words.

    Words in the vocabulary and stop words stay as typed; any other word (a typo,
    or an inflection the catalog never uses) is replaced by the closest terms.
    Returns [] when nothing needs correcting or nothing close is known.
    """
    vocab = vocabulary()
    typed = (q or "").split()
    # Per typed word: (word to show instead, edit distance), closest and commonest first.
    options = []
    for word in typed:
        unknown = [token for token in tokens(word) if token not in vocab.df]
        close = vocab.close_terms(unknown[0]) if unknown else []
        options.append([(vocab.display.get(term, term), distance) for term, distance in close])
    if not any(options):
        return []
    best = [found[0][0] if found else word for word, found in zip(typed, options, strict=True)]
    phrases = [(0, 0, best)]  # (extra distance, rank of the alternative, words)
    for index, found in enumerate(options):
        for rank, (shown, distance) in enumerate(found[1:], start=1):
            phrases.append((distance - found[0][1], rank, best[:index] + [shown] + best[index + 1 :]))
    phrases.sort(key=lambda item: item[:2])
    return list(dict.fromkeys(" ".join(words) for _extra, _rank, words in phrases))[:limit]
