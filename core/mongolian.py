"""Mongolian text as citizens type it, reduced to one comparable "skeleton".

Pure Python (no Django at import time): the search engine's analysis chain
(``core.analysis``), the OpenSearch query builder (``search.query``), the
embedded search, synonyms and highlighting all use the same rules, so a word
means the same thing everywhere.

Why a skeleton
--------------
People type Mongolian in several ways, often on phones and Latin keyboards:

- Cyrillic, with о/ө and у/ү mixed up ("хучингуй" for "хүчингүй");
- MNS 5217:2012 Latin ("zövshööröl", "tetgevriin", "khüchingüi");
- informal Latin ("zuvshuurul", "huchingui", "nooluurin", "tsergiin", "x" or
  "h" for х, "c" for ц, "y" or "i" for ы/й, ө and ү typed as "u" or "o").

Instead of guessing which spelling was meant, every letter is mapped to a small
ASCII alphabet where all these spellings of one word coincide. The mapping is a
table of "from => to" rules applied left to right, longest rule first, exactly
like OpenSearch's ``mapping`` char filter; ``CHAR_MAPPINGS`` *is* that table,
so the engine and this module cannot disagree (``tests/test_mongolian.py``
checks every Cyrillic letter, and checks the engine with ``_analyze``).

Vowel classes: one, not two (measured)
--------------------------------------
о, ө, у and ү all become "u". The confusions to absorb are о/ө and у/ү, which
two classes (о,ө → o; у,ү → u) would do; but informal Latin writes ө as "u"
("zuvshuurul", "unemleh": the informal column of
../shared/data/text/mongolian_cyrillic_latin_mappings.csv says "u (or o)"), and
ө is in most service titles (зөвшөөрөл, өөрчлөх, нөхөн, төрийн). Measured with
``bench/search_relevance.py --words``:

- the informal-Latin spelling of the 590 distinct title words of the catalog
  has the Cyrillic word's skeleton for 100% of them with one class, 88% with
  two classes, 76% with no merging (MNS 5217 with ö/ü: 100% for all three);
- the price: of the 567,212 word forms of the hunspell mn_MN dictionary, 4.0%
  share their skeleton with another form with one class, 2.4% with two classes
  (0.1% with no vowel merging); among the catalog's own 701 words only
  үүр/уур meet, and they do with two classes too;
- ranking (``--experiments``; 46 dev + 700 generated queries): recall@10 is
  1.00 either way (fuzziness and the query's other words rescue two classes),
  but MRR on the generated Latin queries is 0.97 with one class, 0.92 with two.

Other choices
-------------
- е, ё and э → "e" (е/ё are confused, informal Latin writes all three "e",
  MNS "ye"/"yo" → "e"); и, й, ы → "i" (MNS writes ы "y", informal "i").
- ь and ъ → "i", not dropped: all three Latin conventions of the mapping table
  write them "i" (Govi-Altai, Dornogovi, surguuli, khuuli). Dropping them leaves
  23 of the 701 catalog words (говь, сургууль, хууль, байгаль ...) unequal to
  their Latin spelling; "i" makes all of them agree. Apostrophes are dropped.
- х/kh/x/h → "h"; ц/ts/c → "ts"; ж/j/zh → "j"; w → "v".
- Hyphens vanish, so "Цагаан-Үүр" == "Цагаануур" == "tsagaan-uur"; other
  punctuation becomes a space; digits are kept.
- Vowel length is kept in the skeleton ("хоол" food ≠ "хол" far, "шийдэх" ≠
  "шидэх"): collapsing "aa" → "a" there makes 10.6% of the dictionary's forms
  share a skeleton instead of 4.0%. Stems do collapse it (see ``stem``), and
  typo tolerance covers a single missing letter.
"""

import re
import unicodedata

# --- The letter table ---------------------------------------------------------
# Source: ../shared/data/text/mongolian_cyrillic_latin_mappings.csv (MNS 5217:2012
# from CLDR, the NSO English-table ASCII style, informal texting style) and the
# Latin look-alikes of hunspell's mn_MN REP table (x for х, c for с/ц).

VOWEL = "u"  # the single class of о, ө, у, ү (see the module docstring)

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "j",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": VOWEL,
    "ө": VOWEL, "п": "p", "р": "r", "с": "s", "т": "t", "у": VOWEL, "ү": VOWEL,
    "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "i", "ы": "i",
    "ь": "i", "э": "e", "ю": "y" + VOWEL, "я": "ya",
    # Old or Russian letters that appear in names and pasted text.
    "і": "i", "ї": "i", "є": "e", "ў": VOWEL,
}  # fmt: skip

# Latin spellings, lower case; upper-case variants are generated below.
_LATIN = {
    # Digraphs first in meaning: the mapping always takes the longest match.
    "kh": "h", "x": "h",
    "ts": "ts", "c": "ts", "ch": "ch", "sh": "sh",
    "zh": "j",
    # y: ы/й alone ("nooluuryn", "tsagaany"), iotation before a vowel.
    "y": "i", "ya": "ya", "yu": "y" + VOWEL, "yo": "e", "ye": "e", "yö": "e", "yü": "y" + VOWEL,
    "o": VOWEL, "u": VOWEL, "ö": VOWEL, "ü": VOWEL, "w": "v",
}  # fmt: skip
_LATIN.update({letter: letter for letter in "abdefghijklmnpqrstvz" if letter not in _LATIN})

_MARKS = {
    # Decomposed input (NFD): й = и + U+0306, ё = е + U+0308, ü = u + U+0308.
    "\u0306": "", "\u0308": "", "\u0301": "", "\u0300": "",
    # Hyphens join parts of one name: "Цагаан-Үүр", "Цогт-Овоо", "Баян-Өлгий".
    "-": "", "\u2010": "", "\u2011": "",
    # Apostrophes stand for ь/ъ in Latin ("tur'" ) and are dropped like them.
    "'": "", "\u2019": "", "\u02bc": "",
    # Characters the standard tokenizer keeps inside a word ("a.b", "1,5", "a_b"),
    # made separators so that the engine splits words where skeleton() does.
    ".": " ", ",": " ", ":": " ", ";": " ", "_": " ", "\u00b7": " ",
}  # fmt: skip


def _with_case_variants(rules: dict[str, str]) -> dict[str, str]:
    """Every upper/lower/title-case spelling of each key, to the same value.

    The engine's mapping char filter runs before its lowercase filter, so "KH",
    "Kh" and "kh" each need a rule.
    """
    out = {}
    for key, value in rules.items():
        variants = {key, key.upper(), key.capitalize(), key.lower()}
        if len(key) == 2:
            variants |= {key[0].upper() + key[1], key[0] + key[1].upper()}
        for variant in variants:
            out.setdefault(variant, value)
    return out


def build_rules(cyrillic=None, latin=None) -> dict[str, str]:
    """The complete "from → to" table (public so benchmarks can try variants)."""
    rules = {}
    rules.update(_with_case_variants(cyrillic if cyrillic is not None else _CYRILLIC))
    rules.update(_with_case_variants(latin if latin is not None else _LATIN))
    rules.update(_MARKS)
    return rules


_RULES = build_rules()

# Stems ignore vowel length: a run of one vowel counts once (core.analysis does
# the same with a pattern_replace token filter in the stem analyzer).
COLLAPSE_PATTERN = r"([aeiou])\1+"
COLLAPSE_REPLACEMENT = "$1"
_COLLAPSE = re.compile(COLLAPSE_PATTERN)


def _escape(text: str) -> str:
    """A mapping-rule side: letters as they are, anything else as \\uXXXX."""
    return "".join(char if char.isalnum() else f"\\u{ord(char):04x}" for char in text)


def _mapping_lines(rules: dict[str, str]) -> list[str]:
    return [f"{_escape(key)} => {_escape(value)}" for key, value in sorted(rules.items())]


CHAR_MAPPINGS: list[str] = _mapping_lines(_RULES)


class Skeletonizer:
    """skeleton() for a given rule table; the module functions use the shipped one."""

    def __init__(self, rules: dict[str, str], collapse: bool = False):
        self.rules = rules
        self.longest = max(len(key) for key in rules)
        self.collapse = collapse  # only for benchmarks: the shipped skeleton keeps vowel length

    def map(self, text: str) -> str:
        """Apply the rules left to right, longest match first (as the engine does)."""
        out, i, rules, n = [], 0, self.rules, len(text)
        while i < n:
            for size in range(min(self.longest, n - i), 0, -1):
                piece = text[i : i + size]
                if piece in rules:
                    out.append(rules[piece])
                    i += size
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def __call__(self, text: str) -> str:
        text = self.map(unicodedata.normalize("NFC", text or ""))
        if self.collapse:
            text = _COLLAPSE.sub(r"\1", text)
        # What the engine's lowercase + asciifolding filters do to what is left.
        text = unicodedata.normalize("NFKD", text.lower())
        text = "".join(char for char in text if not unicodedata.combining(char))
        return " ".join(re.findall(r"[a-z0-9]+", text))


_skeleton = Skeletonizer(_RULES)


def skeleton(text: str) -> str:
    """Canonical lowercase ASCII form of Cyrillic / Latin Mongolian text.

    >>> skeleton("Зөвшөөрөл") == skeleton("zuvshuurul") == skeleton("зовшоорол")
    True
    >>> skeleton("Цагаан-Үүр") == skeleton("tsagaanuur") == skeleton("цагаануур")
    True

    Words are separated by single spaces; punctuation is a separator, hyphens
    are removed, digits are kept.
    """
    return _skeleton(text)


# --- Stop words -----------------------------------------------------------------
# Source: the union of ../shared/data/text/stopwords_mn_elasticsearch_issue_40434.txt
# (84 words posted in elastic/elasticsearch#40434) and stopwords_mn_hplt_xangis.txt
# (36 words, Xangis/extra-stopwords via hplt-project), in skeleton form.
_STOPWORDS_CYRILLIC = """
аа аанхаа алив ба байгаа байдаг байжээ байна байсаар байсан байх байхаа бас бий
бишүү бол болжээ болно болоо болох болсон бөгөөд буй бусад бүр бэ вэ гэж гэжээ
гэлтгүй гэсэн гэтэл гэх даа доо дөө дээ дараа даг дог дөг дүнд дэг за заа л маань
минь мөн мэт нь оо өө руу рүү сан сон сөн сэн та талаар тийм тэг тэд тэр уг уруу уу
учраас үрүү үү харин хө хэд хэн ч чинь шүү энэ юм юмаа юу юү яг ын ийн ээ
""".split()

# Left out: their skeleton is also a content word people search for (one vowel
# class merges о/ө/у/ү), found by comparing the skeletons of the stop words with
# the catalog's words and the hunspell mn_MN dictionary (--words in the bench).
_KEPT_OUT = {
    "бол",  # = бүл: "гэр бүл" (family) is in catalog titles
    "дүнд",  # = дунд: "жижиг, дунд үйлдвэр" (SMEs)
    "сан",  # "сан" (fund) is in catalog titles
    "доо", "дөө",  # = дуу (song, voice), дүү (younger sibling)
    "уг",  # = үг (word), өг- (give)
    "уруу", "үрүү",  # = өрөө (room)
}  # fmt: skip

STOPWORDS: frozenset[str] = frozenset(
    skeleton(word) for word in _STOPWORDS_CYRILLIC if word not in _KEPT_OUT and skeleton(word)
)


def tokens(text: str, *, stopwords: bool = True) -> list[str]:
    """Skeleton words of ``text``, without Mongolian stop words unless asked."""
    words = skeleton(text).split()
    if stopwords:
        words = [word for word in words if word not in STOPWORDS]
    return words


# --- Stemming -------------------------------------------------------------------

STEM_LENGTH = 5


def collapse_vowels(token: str) -> str:
    """Long and short vowels alike: "aa" → "a", "uu" → "u" ..."""
    return _COLLAPSE.sub(r"\1", token)


def stem(token: str) -> str:
    """Light, suffix-tolerant stem of a skeleton token: vowel runs collapsed, 5 letters kept.

    Mongolian is agglutinative and its suffixes change the stem (a vowel drops:
    тэтгэвэр → тэтгэврийн, "tetgever" → "tetgevriin"), so stripping case
    suffixes leaves different stems ("tetgevr" ≠ "tetgever") where truncation
    gives "tetge" for both. Measured (``bench/search_relevance.py --words``) on
    2,284 forms (catalog words and the case forms of them that hunspell mn_MN
    accepts), grouped by hunspell's lemma: share of same-lemma pairs given one
    stem / share of lemmas whose stem another lemma shares:

    ============================  =========  ============
    stemmer                       conflated  false merges
    ============================  =========  ============
    cut to 4 letters              0.86       0.64
    cut to 5 letters              0.73       0.49
    collapse vowels, cut to 5     0.68       0.51
    cut to 6 letters              0.56       0.36
    collapse, strip case suffixes 0.60       0.57
    ============================  =========  ============

    Suffix stripping is worse than cutting on both counts. Collapsing vowel runs
    before cutting costs a little, but informal Latin often types long vowels
    short ("shiljuleh", "gerchilgenii"): then the stem still equals the
    Cyrillic word's for 100% of those forms, against 78% without the collapse.
    Ranking hardly tells these stemmers apart (``--experiments``: recall@10
    1.00 for all; MRR on the generated morph queries 0.99 shipped, 0.97 with 6
    or 7 letters or suffix stripping), so the choice rests on the word counts.
    The engine does the same with pattern_replace + truncate token filters
    (``core.analysis``).
    """
    return collapse_vowels(token)[:STEM_LENGTH]
