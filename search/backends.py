"""Which Wagtail search backend Tumen uses, chosen from the environment.

``SEARCH_URL`` unset means the embedded database backend; set, it points at a
real engine: one URL, or the nodes of a cluster separated by commas. With
several, the engine's own client spreads requests over them and, when a node
refuses or drops a connection, retries the request on the next node and leaves
the dead one aside for a while, so one node's death is not an engine failure
(``search.failover``). ``SEARCH_BACKEND`` names the engine family. The engines
speak the same Elasticsearch-style API, so only the client differs.

Tested (``make test`` runs the engine tests on both): ``opensearch2`` against
OpenSearch 2.19 and ``elasticsearch7`` against Elasticsearch 7.10, the last
Apache-2.0 release. ``elasticsearch8`` / ``elasticsearch9`` are selectable but
untested here. Each needs its own client package: opensearch-py
(requirements.txt), elasticsearch 7.13.4 (requirements-elasticsearch7.txt),
or elasticsearch 8.x / 9.x.
"""

from urllib.parse import urlsplit, urlunsplit

from core.analysis import index_settings

ENGINE_BACKENDS = {
    "opensearch2": "wagtail.search.backends.opensearch2",
    "elasticsearch7": "wagtail.search.backends.elasticsearch7",
    "elasticsearch8": "wagtail.search.backends.elasticsearch8",
    "elasticsearch9": "wagtail.search.backends.elasticsearch9",
}
DATABASE_BACKEND = "wagtail.search.backends.database"


def search_backends_setting(url: str, backend: str, index: str, timeout: int) -> dict:
    """Build ``WAGTAILSEARCH_BACKENDS`` for the given environment values."""
    if not url:
        return {"default": {"BACKEND": DATABASE_BACKEND}}
    if backend not in ENGINE_BACKENDS:
        choices = ", ".join(sorted(ENGINE_BACKENDS))
        raise ValueError(f"SEARCH_BACKEND={backend!r} is not supported; choose one of: {choices}")
    urls = node_urls(url)
    if not urls:
        raise ValueError(f"SEARCH_URL lists no URL: {url!r}")
    for node in urls:
        parts = urlsplit(node)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "SEARCH_URL must be an http(s) URL such as http://127.0.0.1:9200, or several separated by "
                f"commas, got {redact_url(node)!r}"
            )
    return {
        "default": {
            "BACKEND": ENGINE_BACKENDS[backend],
            # The client's own node failover: round robin, a refused or dropped connection is
            # retried on another node (up to 3 retries), a dead node is left aside for 60 s.
            "URLS": urls,
            "INDEX_PREFIX": f"{index}_",
            "TIMEOUT": timeout,
            "OPTIONS": {},
            # Mongolian analysis: one skeleton for Cyrillic, о/ө у/ү and Latin typing (core.analysis).
            "INDEX_SETTINGS": index_settings(),
        }
    }


def engine_family(backend: str) -> tuple[str, int]:
    """The engine a ``SEARCH_BACKEND`` name talks to and its major version.

    ``("opensearch", 2)`` for opensearch2, ``("elasticsearch", 7)`` for elasticsearch7: the
    engine's ``GET /`` says ``version.distribution`` (Elasticsearch has none) and
    ``version.number``.
    """
    family = backend.rstrip("0123456789")
    return family, int(backend[len(family) :])


def node_urls(url: str) -> list[str]:
    """The node URLs of ``SEARCH_URL``: one, or several separated by commas (blanks ignored)."""
    return [part.strip() for part in url.split(",") if part.strip()]


def redact_url(url: str) -> str:
    """The URL without its password, safe to show in /healthz and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
