"""Citizens' search through the API and the search page.

The same tests run in both suites: embedded (SQLite, our database index) and
services (PostgreSQL + a real OpenSearch engine); ``EXPECTED_SOURCE`` checks
that the engine really answered in the services suite.
"""

import os
import socket
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from search import embedded, failover, finder
from search.backends import search_backends_setting
from search.editorial import BestBet, BestBetService, Synonym
from search.params import MAX_PAGE_SIZE, MAX_RESULTS
from service_pages.catalog import Lookups, create_service_page, service_fields
from service_pages.channels import CHANNELS
from service_pages.models import ServicePage

pytestmark = pytest.mark.django_db
EXPECTED_SOURCE = "engine" if os.environ.get("SEARCH_URL") else "embedded"


@pytest.fixture(autouse=True)
def search_index(demo_catalog, capsys):
    """Both indexes rebuilt from the database, as after a deploy."""
    finder.reset_engine_state()
    embedded.rebuild()
    if EXPECTED_SOURCE == "engine":
        call_command("update_index")
    capsys.readouterr()


def api(client, **params):
    response = client.get("/api/v1/services/search", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["source"] == EXPECTED_SOURCE
    return body


def codes(body) -> list[str]:
    return [hit["code"] for hit in body["results"]]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("гадаад паспорт", "DEMO-00003"),  # Cyrillic
        ("торсний гэрчилгээ", "DEMO-00004"),  # ө typed as о
        ("jolooni unemleh", "DEMO-00026"),  # informal Latin
        ("gerlelt burtgeh", "DEMO-00005"),
        ("жолоонны үнэмлэх", "DEMO-00026"),  # typo
        ("тэтгэврийн тогтоолгох өндөр", "DEMO-00012"),  # another inflection
        ("Налайх малын тооллого", "DEMO-00039"),  # place name
    ],
)
def test_citizens_find_services_the_way_they_type(client, q, expected):
    assert expected in codes(api(client, q=q))[:3]


def test_results_carry_what_a_client_needs(client):
    body = api(client, q="гадаад паспорт")
    first = body["results"][0]
    page = ServicePage.objects.by_code(first["code"])
    assert first["title"] == page.title
    assert first["url"].endswith(page.url)
    assert (first["agency"], first["category"]) == (page.agency.code, page.category.slug)
    assert isinstance(first["score"], float)
    assert body["count"] >= len(body["results"])


def test_facets_count_every_value_and_filters_apply(client):
    body = api(client, q="лавлагаа")
    assert set(body["facets"]) == {"agency", "category", "aimag", "soum", "channel", "stages"}
    soums = body["facets"]["soum"]
    assert len(soums) > 10  # not capped at Wagtail's default of 10
    filtered = api(client, q="лавлагаа", soum=soums[0]["value"], page_size=100)
    assert filtered["count"] == soums[0]["count"]
    assert {hit["soum"] for hit in filtered["results"]} == {soums[0]["value"]}
    police = api(client, q="үнэмлэх", agency="police", page_size=100)
    assert police["count"] >= 1 and {hit["agency"] for hit in police["results"]} == {"police"}


def test_channel_and_stage_filters(client):
    for channel in ("online", "in_person"):
        body = api(client, q="лавлагаа", channel=channel, page_size=100)
        field = CHANNELS[channel][0]
        assert all(getattr(ServicePage.objects.by_code(c), field) for c in codes(body))
    multi = api(client, q="олгох", stages="multi", page_size=100)
    assert multi["count"] >= 1
    assert all(ServicePage.objects.by_code(c).stages > 1 for c in codes(multi))


def test_pagination_is_stable(client):
    first = api(client, q="лавлагаа", page_size=5, page=1)
    second = api(client, q="лавлагаа", page_size=5, page=2)
    assert first["count"] == second["count"] > 10
    assert not set(codes(first)) & set(codes(second))


@pytest.mark.parametrize(
    "params, field",
    [
        ({"q": "x", "page": "abc"}, "page"),
        ({"q": "x", "page_size": "1000"}, "page_size"),
        ({"q": "x", "page": "0"}, "page"),
        ({"q": "x", "agency": "no-such-agency"}, "agency"),
        ({"q": "x", "channel": "fax"}, "channel"),
        ({"q": "x", "stages": "3"}, "stages"),
        ({"q": "я" * 201}, "q"),
    ],
)
def test_bad_parameters_are_a_400_with_a_message(client, params, field):
    response = client.get("/api/v1/services/search", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == field and error["message"]


def test_error_messages_follow_the_language(client):
    mongolian = client.get("/api/v1/services/search", {"channel": "fax"}).json()["error"]["message"]
    english = client.get("/api/v1/services/search", {"channel": "fax"}, HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["error"]["message"].startswith("channel must be one of")
    assert mongolian != english["error"]["message"]


def test_best_bets_pin_a_service_on_top(client):
    target = ServicePage.objects.by_code("DEMO-00010")
    bet = BestBet.objects.create(query="ДАН")
    BestBetService.objects.create(best_bet=bet, service=target)
    body = api(client, q="дан")
    assert body["results"][0]["code"] == "DEMO-00010"
    assert body["results"][0]["best_bet"] is True


def test_synonyms_widen_the_query(client):
    assert "DEMO-00005" not in codes(api(client, q="хурим"))
    Synonym.objects.create(terms="хурим, гэрлэлт")
    assert "DEMO-00005" in codes(api(client, q="хурим"))[:3]


def test_autocomplete_in_cyrillic_and_latin(client):
    for prefix in ("гадаад пасп", "gadaad pasp"):
        response = client.get("/api/v1/services/autocomplete", {"q": prefix})
        assert response.status_code == 200
        assert "Гадаад паспорт олгох" in [item["title"] for item in response.json()["results"]]


def test_publishing_and_unpublishing_update_search_without_a_rebuild(client):
    row = {"code": "NEW-SEARCH-1", "title_mn": "Тэмээн уралдааны зөвшөөрөл олгох", "agency_code": "ubeg",
           "category": "business-licensing", "channels": "online"}  # fmt: skip
    page = create_service_page(service_fields(row, Lookups.load()))
    _refresh_engine()
    assert codes(api(client, q="тэмээн уралдаан"))[:1] == ["NEW-SEARCH-1"]
    page.unpublish()
    _refresh_engine()
    assert "NEW-SEARCH-1" not in codes(api(client, q="тэмээн уралдаан"))


def _refresh_engine():
    if EXPECTED_SOURCE == "engine":
        from wagtail.search.backends import get_search_backend

        get_search_backend().get_index_for_model(ServicePage).refresh()


def test_search_page_lists_results_with_facets_and_highlights(client):
    response = client.get("/search/", {"q": "паспорт"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Гадаад паспорт олгох" in html
    assert "<mark>" in html
    assert 'data-facet="agency"' in html
    assert '<label for="search-q">' in html


def test_search_page_without_results_helps(client):
    html = client.get("/search/", {"q": "qqqqzzzz"}).content.decode()
    assert "qqqqzzzz" in html
    assert client.get("/search/", {"q": "qqqqzzzz"}).status_code == 200


def test_search_page_in_english(client):
    response = client.get("/en/search/", {"q": "passport"})
    assert response.status_code == 200
    assert 'lang="en"' in response.content.decode()


def test_search_page_bad_parameter_is_a_400_page(client):
    response = client.get("/search/", {"q": "x", "page": "-3"})
    assert response.status_code == 400
    assert "<h1>" in response.content.decode()


@pytest.mark.engine
def test_the_site_keeps_answering_when_the_engine_is_down(client):
    # The configured engine's own client meets the refused connection (opensearch-py or elasticsearch).
    down = search_backends_setting("http://127.0.0.1:9", settings.SEARCH_BACKEND, "tumen_test", 1)
    with override_settings(WAGTAILSEARCH_BACKENDS=down):
        finder.reset_engine_state()
        body = client.get("/api/v1/services/search", {"q": "гадаад паспорт"}).json()
        assert body["source"] == "embedded" and body["degraded"] is True
        assert "DEMO-00003" in codes(body)[:3]
        assert client.get("/healthz").json()["status"] == "degraded"
    finder.reset_engine_state()
    assert api(client, q="гадаад паспорт")["source"] == "engine"


class DeadNode:
    """A search node that died: it accepts connections (as the port still did) and drops them unanswered."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._drop, daemon=True).start()

    def _drop(self):
        while True:
            try:
                conn, _address = self.sock.accept()
            except OSError:  # closed
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.sock.close()


@pytest.mark.engine
def test_one_dead_node_of_several_is_retried_on_another_not_a_failover(client, settings):
    # SEARCH_URL lists the cluster's nodes: one node down is for the client to route around (it
    # retries on the next node), not a reason to answer from the embedded index for 10 s.
    dead = DeadNode()
    try:
        nodes = f"{dead.url},{os.environ['SEARCH_URL']}"
        cluster = search_backends_setting(nodes, settings.SEARCH_BACKEND, settings.SEARCH_INDEX, 5)
        with override_settings(WAGTAILSEARCH_BACKENDS=cluster):
            finder.reset_engine_state()
            for _ in range(4):  # round robin: the dead node's turn comes within two requests
                body = api(client, q="гадаад паспорт")
                assert body["degraded"] is False and "DEMO-00003" in codes(body)[:3]
            assert dead.connections >= 1  # it was asked, and its requests went to the live node
            assert not failover.engine_skipped()
            assert client.get("/healthz").json()["status"] == "ok"
    finally:
        dead.close()
        finder.reset_engine_state()


class BusyNode(DeadNode):
    """A search node too busy to answer: it keeps the connection open and never replies."""

    def _drop(self):
        held = []
        while True:
            try:
                conn, _address = self.sock.accept()
            except OSError:  # closed
                for conn in held:
                    conn.close()
                return
            self.connections += 1
            held.append(conn)


@pytest.mark.engine
def test_a_busy_node_of_several_is_asked_again_on_another_not_a_failover(client, settings):
    # While a killed node's copy is recovered one node can pass the query timeout while the
    # others answer: the search is asked again on the next node, and the site keeps the engine.
    settings.SEARCH_QUERY_TIMEOUT = 1
    busy = BusyNode()
    try:
        nodes = f"{busy.url},{os.environ['SEARCH_URL']}"
        cluster = search_backends_setting(nodes, settings.SEARCH_BACKEND, settings.SEARCH_INDEX, 5)
        with override_settings(WAGTAILSEARCH_BACKENDS=cluster):
            finder.reset_engine_state()
            for _ in range(4):  # round robin: the busy node's turn comes within two requests
                body = api(client, q="гадаад паспорт")
                assert body["source"] == "engine" and body["degraded"] is False
                assert "DEMO-00003" in codes(body)[:3]
            assert busy.connections >= 1
            assert not failover.engine_skipped()
    finally:
        busy.close()
        finder.reset_engine_state()


@pytest.mark.engine
def test_when_every_node_is_busy_the_site_answers_from_the_embedded_index(client, settings):
    settings.SEARCH_QUERY_TIMEOUT = 1
    busy = [BusyNode(), BusyNode()]
    try:
        cluster = search_backends_setting(",".join(node.url for node in busy), settings.SEARCH_BACKEND, "tumen_test", 5)
        with override_settings(WAGTAILSEARCH_BACKENDS=cluster):
            finder.reset_engine_state()
            started = time.monotonic()
            body = client.get("/api/v1/services/search", {"q": "гадаад паспорт"}).json()
            assert body["source"] == "embedded" and body["degraded"] is True
            assert "DEMO-00003" in codes(body)[:3]
            assert time.monotonic() - started < 4  # two tries of 1 s, not one per node and retry
            assert [node.connections for node in busy] == [1, 1]  # each node asked once
            assert failover.engine_skipped()  # the next searches do not wait again
    finally:
        for node in busy:
            node.close()
        finder.reset_engine_state()


@pytest.mark.parametrize("model", ["synonym", "bestbet"])
def test_editors_manage_synonyms_and_best_bets_in_the_admin(admin_client, model):
    assert admin_client.get(f"/admin/snippets/tumen_search/{model}/").status_code == 200
    assert admin_client.get(f"/admin/snippets/tumen_search/{model}/add/").status_code == 200


def test_synonym_group_saved_in_the_admin_applies_at_once(admin_client, client):
    response = admin_client.post("/admin/snippets/tumen_search/synonym/add/", {"terms": "хурим, гэрлэлт"})
    assert response.status_code == 302
    assert "DEMO-00005" in codes(api(client, q="хурим"))[:3]


def test_paging_beyond_the_result_window_is_a_400_not_a_degraded_engine(client):
    response = client.get("/api/v1/services/search", {"q": "лавлагаа", "page": "501", "page_size": "20"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "page"
    assert api(client, q="лавлагаа")["degraded"] is False


def test_a_nul_byte_is_a_400(client):
    for params in ({"q": "a\x00b"}, {"q": "x", "agency": "ubeg\x00"}):
        assert client.get("/api/v1/services/search", params).status_code == 400


def test_best_bets_keep_pagination_whole(client):
    everything = api(client, q="лавлагаа", page_size=100)
    total = everything["count"]
    pinned = ServicePage.objects.by_code(everything["results"][-1]["code"])  # a result from deep down
    bet = BestBet.objects.create(query="лавлагаа")
    BestBetService.objects.create(best_bet=bet, service=pinned)
    pages = [api(client, q="лавлагаа", page_size=10, page=n) for n in range(1, -(-total // 10) + 1)]
    assert {page["count"] for page in pages} == {total}
    seen = [code for page in pages for code in codes(page)]
    assert seen[0] == pinned.code and pages[0]["results"][0]["best_bet"] is True
    assert len(seen) == len(set(seen)) == total


def test_typo_tolerance_is_asked_for_only_when_a_word_is_unknown():
    # The engine's fuzzy matching is its costliest part; known words do not need it.
    assert embedded.all_words_known("гадаад паспорт") is True
    assert embedded.all_words_known("gadaad pasport") is True  # the same words, typed in Latin
    assert embedded.all_words_known("жолоонны үнэмлэх") is True  # a slip after the stem: the stem matches
    assert embedded.all_words_known("жлооны үнэмлэх") is False


def _described_parameters(path: str) -> dict:
    import yaml

    description = yaml.safe_load((Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml").read_text())
    return {parameter["name"]: parameter for parameter in description["paths"][path]["get"]["parameters"]}


def test_the_api_description_states_the_paging_limits_the_search_enforces(client):
    """docs/openapi.yaml said ``page`` ≤ 1000, but only the first 10,000 results can be paged through:
    page 1000 at the default 20 a page is refused, page 5000 at 2 a page is served."""
    parameters = _described_parameters("/api/v1/services/search")
    assert parameters["page_size"]["schema"]["maximum"] == MAX_PAGE_SIZE
    assert parameters["page"]["schema"]["maximum"] == MAX_RESULTS  # at page_size 1
    assert f"{MAX_RESULTS:,}" in parameters["page"]["description"]
    assert client.get("/api/v1/services/search", {"page": MAX_RESULTS}).status_code == 400
    assert client.get("/api/v1/services/search", {"page": MAX_RESULTS, "page_size": 1}).status_code == 200
    assert client.get("/api/v1/services/search", {"page": 500}).status_code == 200


def test_the_api_description_says_autocomplete_text_is_optional(client):
    """Without ``q`` autocomplete answers an empty list, as the description now says (it said required)."""
    assert not _described_parameters("/api/v1/services/autocomplete")["q"].get("required", False)
    response = client.get("/api/v1/services/autocomplete")
    assert response.status_code == 200 and response.json() == {"results": []}
