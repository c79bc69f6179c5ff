"""The search engines a benchmark measures: the configured one, or every dev node that answers.

``make services-start`` runs two dev nodes (scripts/search-engine.sh): OpenSearch 2.19 on
127.0.0.1:9200 and Elasticsearch 7.10 on 127.0.0.1:9201. The benchmarks measure each engine
that answers, side by side, unless told which (``--url`` / ``SEARCH_URL``).

Which engine answers is read from its ``GET /`` (``version.distribution``, absent on
Elasticsearch, and the major version), which also gives the ``SEARCH_BACKEND`` name to run
Tumen with and the client package to talk to it: opensearch-py or elasticsearch.
"""

import base64
import json
import os
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DEV_NODES = ("http://127.0.0.1:9200", "http://127.0.0.1:9201")


@dataclass(frozen=True)
class Engine:
    url: str
    distribution: str  # "opensearch" or "elasticsearch"
    version: str  # "2.19.6"

    @property
    def backend(self) -> str:
        """The SEARCH_BACKEND value for this engine (opensearch2, elasticsearch7, ...)."""
        return f"{self.distribution}{self.version.split('.')[0]}"

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version}"

    @property
    def short(self) -> str:
        """A short column name: os2.19, es7.10."""
        prefix = "os" if self.distribution == "opensearch" else "es"
        return prefix + ".".join(self.version.split(".")[:2])


def probe(url: str, timeout: float = 3.0) -> Engine | None:
    """The engine answering at ``url``, or None when nothing does."""
    parts = urlsplit(url)
    request_url = url.rstrip("/") + "/"
    headers = {}
    if parts.username is not None:  # user:password@ in the URL, as SEARCH_URL allows
        credentials = f"{parts.username}:{parts.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        request_url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/", "", ""))
    try:
        with urllib.request.urlopen(urllib.request.Request(request_url, headers=headers), timeout=timeout) as response:
            version = json.load(response)["version"]
    except (OSError, ValueError, KeyError):
        return None
    return Engine(url=url, distribution=version.get("distribution", "elasticsearch"), version=version["number"])


def reachable(urls: list[str] | None = None) -> list[Engine]:
    """The engines at ``urls``; else at SEARCH_URL; else the dev nodes that answer."""
    if not urls:
        urls = [os.environ["SEARCH_URL"]] if os.environ.get("SEARCH_URL") else list(DEV_NODES)
    return [engine for engine in map(probe, urls) if engine]


def client(engine: Engine, timeout: int = 60):
    """A client of the engine's own package (the one Wagtail's backend for it uses)."""
    if engine.distribution == "opensearch":
        from opensearchpy import OpenSearch

        return OpenSearch(hosts=[engine.url], timeout=timeout)
    from elasticsearch import Elasticsearch

    return Elasticsearch(hosts=[engine.url], timeout=timeout)


def bulk(client, actions, **kwargs):
    """``helpers.bulk`` of the client's package."""
    if type(client).__module__.startswith("opensearchpy"):
        from opensearchpy.helpers import bulk as bulk_
    else:
        from elasticsearch.helpers import bulk as bulk_
    return bulk_(client, actions, **kwargs)
