"""Whether to ask the search engine: configured, and not failed in the last few seconds.

After the engine fails (unreachable, timeout, 5xx) searches answer from the
embedded index for ``ENGINE_RETRY_SECONDS`` instead of each waiting for the
engine to time out again. The state is per process.
"""

import time

from django.conf import settings

from search.backends import DATABASE_BACKEND

# After a failed engine call, answer from the embedded index for this long before retrying.
ENGINE_RETRY_SECONDS = 10

_engine_down_until = 0.0


class EngineUnavailable(Exception):
    """The search engine did not answer this query.

    ``engine_down``: it is unreachable or failing (connection refused, timeout,
    5xx), so skip it for a while; False when it refused this one request (4xx),
    which says nothing about the next.
    """

    def __init__(self, message: str, engine_down: bool = True):
        super().__init__(message)
        self.engine_down = engine_down


def engine_configured() -> bool:
    return settings.WAGTAILSEARCH_BACKENDS["default"]["BACKEND"] != DATABASE_BACKEND


def engine_skipped() -> bool:
    """True while a recent failure says to answer from the embedded index without asking the engine."""
    return time.monotonic() < _engine_down_until


def mark_engine_down() -> None:
    """Skip the engine for the next ``ENGINE_RETRY_SECONDS``."""
    global _engine_down_until
    _engine_down_until = time.monotonic() + ENGINE_RETRY_SECONDS


def forget_engine_failure() -> None:
    global _engine_down_until
    _engine_down_until = 0.0
