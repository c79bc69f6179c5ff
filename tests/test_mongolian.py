"""Mongolian analysis: skeletons, stop words, stems, and the engine doing the same."""

import copy
import re
import unicodedata
import uuid

import pytest

from core.analysis import index_settings
from core.mongolian import CHAR_MAPPINGS, STOPWORDS, skeleton, stem, tokens

CYRILLIC_LETTERS = "абвгдеёжзийклмноөпрстуүфхцчшщъыьэюя"


def same(*texts: str) -> bool:
    return len({skeleton(text) for text in texts}) == 1


# --- skeleton -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cyrillic, latin",
    [
        ("тэтгэвэр", "tetgever"),
        ("Иргэний үнэмлэх", "irgenii unemleh"),
        ("жолооны", "jolooni"),
        ("Сайнцагаан", "saintsagaan"),
        ("барих зөвшөөрөл олгох", "barih zuvshuurul olgoh"),  # ө typed as u
        ("хүчингүй болгох", "huchingui bolgoh"),
        ("ноолуурын урамшуулал", "nooluurin uramshuulal"),  # ы typed as i
        ("тэтгэврийн", "tetgevriin"),
    ],
)
def test_cyrillic_and_informal_latin_share_a_skeleton(cyrillic, latin):
    assert skeleton(cyrillic) == skeleton(latin)


def test_latin_styles_of_one_word_agree():
    # MNS 5217:2012, NSO ASCII style, informal with h / x / kh for х.
    assert same("хүчингүй", "khüchingüi", "khuchingui", "huchingui", "xuchingui", "HUCHINGUI")
    assert same("Цэцэг", "Tsetseg", "Cecег", "tsetseg")
    assert same("ерөнхий", "yerönkhii", "erunhii")
    assert same("Говь-Алтай", "Govi-Altai", "govialtai")  # ь is "i" in every Latin style
    assert same("Дорноговь", "Dornogovi")
    assert same("ноолуурын", "nooluuryn", "nooluurin")  # ы as y (MNS) or i (informal)


def test_o_and_u_vowels_are_one_class():
    assert same("хүүхдийн мөнгөний", "хуухдийн монгоний", "huuhdiin mungunii", "huuhdiin mongonii")
    assert same("хөдөлмөрийн гэрээ", "ходолморийн гэрээ")
    assert same("шилжүүлэх", "шилжуулэх", "shiljuuleh")


def test_e_and_yo_are_one_letter():
    assert same("Ёс", "ес", "yos")


def test_hyphens_inside_names_are_removed():
    assert same("Цагаан-Үүр", "tsagaanuur", "цагаануур", "Tsagaan-Uur", "ЦАГААН-ҮҮР")
    assert same("Цогт-Овоо", "Цогтовоо", "tsogt-ovoo")
    assert skeleton("Цагаан-Үүр сум") == skeleton("Цагаануур") + " sum"


def test_punctuation_separates_words_and_digits_stay():
    assert skeleton("Иргэний үнэмлэх, 2024 он!") == "irgenii unemleh 2024 un"
    assert skeleton("Жижиг, дунд үйлдвэр — Дорнод") == "jijig dund uildver durnud"
    assert skeleton("a.b_f:d;e") == "a b f d e"
    assert skeleton("") == "" and skeleton("  —  ") == ""


def test_soft_and_hard_signs_and_apostrophes():
    assert same("сургууль", "surguuli")
    assert same("тур'", "тур")


def test_upper_case_and_decomposed_input():
    text = "ЙӨРӨӨЛ Ёс Үнэмлэх"
    assert skeleton(text) == skeleton(text.lower())
    assert skeleton(unicodedata.normalize("NFD", text)) == skeleton(text)


def test_skeleton_is_plain_lowercase_ascii():
    for text in ["Улаанбаатар хот", "KHÖVSGÖL", "Эрчим хүчний тусгай зөвшөөрөл", "Ñandú café"]:
        assert re.fullmatch(r"[a-z0-9 ]*", skeleton(text)), text


def test_skeleton_is_idempotent():
    for text in ["Цагаан-Үүр", "Хөвсгөл аймаг, Цагаан-Үүр сум", "tsergiin uuregtnii unemleh"]:
        assert skeleton(skeleton(text)) == skeleton(text)


# --- tokens and stop words ------------------------------------------------------------


def test_tokens_drop_stop_words():
    assert tokens("энэ нь иргэний үнэмлэх юм") == ["irgenii", "unemleh"]
    assert tokens("иргэний үнэмлэх ба паспорт") == ["irgenii", "unemleh", "paspurt"]
    assert tokens("энэ нь", stopwords=False) == ["ene", "ni"]


def test_stop_words_that_are_also_content_words_are_kept():
    # бол = бүл (family), дүнд = дунд (middle, SMEs), сан (fund) with one vowel class.
    assert tokens("гэр бүл") == ["ger", "bul"]
    assert tokens("жижиг дунд үйлдвэр") == ["jijig", "dund", "uildver"]
    assert "san" in tokens("Хөгжлийн сан")


def test_stopwords_are_skeletons():
    assert STOPWORDS and all(skeleton(word) == word for word in STOPWORDS)
    assert {"ni", "ene", "ba", "yum"} <= STOPWORDS


# --- stem -----------------------------------------------------------------------------


def test_stem_joins_case_forms():
    def stems(text):
        return [stem(token) for token in tokens(text)]

    assert stems("тэтгэвэр") == stems("тэтгэврийн")
    assert stems("үнэмлэх") == stems("үнэмлэхийн")
    assert stems("гэрчилгээ") == stems("гэрчилгээний")
    assert stems("зөвшөөрөл") == stems("зөвшөөрлийн")
    # Informal Latin that types long vowels short.
    assert stems("шилжүүлэх") == stems("shiljuleh")
    assert stems("гэрчилгээ") == stems("gerchilge")


def test_stem_keeps_different_words_apart():
    assert stem(skeleton("газар")) != stem(skeleton("гэрээ"))
    assert stem(skeleton("паспорт")) != stem(skeleton("патент"))


def test_stem_of_short_words_is_the_word():
    assert stem("gaz") == "gaz"
    assert stem("") == ""


# --- CHAR_MAPPINGS: the engine's rule table is skeleton()'s -----------------------------


def parse_mappings(lines: list[str]) -> dict[str, str]:
    """The rules as OpenSearch's mapping char filter reads them (\\uXXXX escapes)."""

    def unescape(side: str) -> str:
        return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), side.strip())

    rules = {}
    for line in lines:
        left, right = line.split("=>")
        rules[unescape(left)] = unescape(right)
    return rules


def apply_mappings(rules: dict[str, str], text: str) -> str:
    """Longest match first, left to right, as Lucene's MappingCharFilter does."""
    longest = max(map(len, rules))
    out, i = [], 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 0, -1):
            if text[i : i + size] in rules:
                out.append(rules[text[i : i + size]])
                i += size
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def test_char_mappings_cover_every_cyrillic_letter_in_both_cases():
    rules = parse_mappings(CHAR_MAPPINGS)
    for letter in CYRILLIC_LETTERS:
        assert letter in rules and letter.upper() in rules, letter


def test_char_mappings_agree_with_skeleton_for_every_cyrillic_letter():
    rules = parse_mappings(CHAR_MAPPINGS)
    for letter in CYRILLIC_LETTERS + CYRILLIC_LETTERS.upper():
        mapped = apply_mappings(rules, letter)
        assert re.fullmatch(r"[a-z]+", mapped), (letter, mapped)
        assert mapped == skeleton(letter), letter


def test_char_mappings_agree_with_skeleton_on_text():
    rules = parse_mappings(CHAR_MAPPINGS)
    for text in [
        "Хөвсгөл аймаг, Цагаан-Үүр сум",
        "Tsergiin uuregtnii unemleh olgokh",
        "ХҮЧИНГҮЙ болгох; Khüchingüi",
        "Говь-Алтай Yos yaam yum",
    ]:
        words = re.findall(r"[a-z0-9]+", apply_mappings(rules, text).lower())
        assert " ".join(words) == skeleton(text), text


# --- The engine: the analyzers give what this module gives ------------------------------


@pytest.fixture
def engine_index():
    """A throw-away index with Tumen's analysis merged into modelsearch's defaults."""
    from modelsearch.backends.elasticsearchbase import ElasticsearchBaseSearchBackend
    from modelsearch.utils import deep_update
    from wagtail.search.backends import get_search_backend

    # The configured engine's client (opensearch-py for OpenSearch, elasticsearch for Elasticsearch).
    client = get_search_backend().es
    name = f"tumen_s1_test_{uuid.uuid4().hex[:10]}"
    settings = deep_update(copy.deepcopy(ElasticsearchBaseSearchBackend.settings), index_settings())
    client.indices.create(index=name, body=settings, request_timeout=30)
    try:
        yield client, name
    finally:
        client.indices.delete(index=name, ignore_unavailable=True)


def analyze(client, index: str, analyzer: str, text: str) -> list[str]:
    response = client.indices.analyze(index=index, body={"analyzer": analyzer, "text": text})
    return [token["token"] for token in response["tokens"]]


@pytest.mark.engine
def test_engine_analyzes_like_this_module(engine_index):
    """Cyrillic, informal Latin and о/ө-confused input give the same tokens in the engine."""
    client, index = engine_index
    spellings = [
        "Иргэний үнэмлэх олгох",  # Cyrillic
        "irgenii unemleh olgoh",  # informal Latin
        "иргэний унэмлэх олгох",  # ү typed as у
        "IRGENII ÜNEMLEKH OLGOKH",  # MNS 5217, upper case
    ]
    analysed = {text: analyze(client, index, "default", text) for text in spellings}
    assert all(tokens_ == tokens(spellings[0]) for tokens_ in analysed.values()), analysed

    place = ["Хөвсгөл аймаг, Цагаан-Үүр сум", "Khovsgol aimag Tsagaanuur sum", "ховсгол аймаг цагаануур сум"]
    assert len({tuple(analyze(client, index, "default", text)) for text in place}) == 1

    # Stop words go in "default" and stay in "standard" (the as-you-type search side).
    assert analyze(client, index, "default", "энэ нь паспорт") == ["paspurt"]
    assert analyze(client, index, "standard", "энэ нь паспорт") == ["ene", "ni", "paspurt"]

    # The stem sub-field's analyzer is core.mongolian.stem().
    text = "Тэтгэврийн лавлагаа shiljuleh"
    assert analyze(client, index, "mn_stem", text) == [stem(token) for token in tokens(text)]
    assert analyze(client, index, "mn_stem", "тэтгэвэр") == analyze(client, index, "mn_stem", "тэтгэврийн")

    # Autocomplete: the indexed edge n-grams of a title hold the typed prefix's skeleton.
    grams = analyze(client, index, "edgengram_analyzer", "Тэтгэврийн лавлагаа")
    assert analyze(client, index, "standard", "tetgev")[0] in grams

    # Every Cyrillic letter, both cases, as skeleton() maps it.
    letters = CYRILLIC_LETTERS + CYRILLIC_LETTERS.upper()
    analysed = analyze(client, index, "standard", " ".join(letters))
    assert analysed == [skeleton(letter) for letter in letters]
