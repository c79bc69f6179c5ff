"""Settings for the test suites: ``base`` with fast hashing and synchronous tasks.

The same environment variables choose the database and the search engine, so
``make test`` runs the suite twice: embedded (SQLite + database search) and
services (PostgreSQL + OpenSearch).
"""

from cms.env import env_str
from search.backends import search_backends_setting

from .base import *  # noqa: F403
from .base import SEARCH_BACKEND, SEARCH_TIMEOUT, SEARCH_URL, STATIC_ROOT

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Run enqueued tasks (search indexing, reference index) at once, inside the test.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
# Never write into the development index.
SEARCH_INDEX = env_str("SEARCH_INDEX", "tumen_test")
WAGTAILSEARCH_BACKENDS = search_backends_setting(SEARCH_URL, SEARCH_BACKEND, SEARCH_INDEX, SEARCH_TIMEOUT)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# WhiteNoise warns about a missing STATIC_ROOT on every request otherwise.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Rate limits are switched on by the tests that check them (tests/test_forms.py); otherwise a
# suite posting hundreds of applications from 127.0.0.1 would be throttled.
TUMEN_RATE_PER_IP = TUMEN_RATE_PER_SERVICE = TUMEN_RATE_LOOKUPS = TUMEN_RATE_VERIFY = TUMEN_RATE_REFERENCES = "0"
# Agency stand-ins in tests listen on http://127.0.0.1.
TUMEN_DELIVERY_ALLOW_HTTP = True
# The page cache is off: rolled-back tests reuse page-log ids, so an entry of one test could match
# the next test's pages. tests/test_page_cache.py switches it on, with an empty cache per test.
TUMEN_PAGE_CACHE_SECONDS = 0
CACHES = {**CACHES, "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tumen-test-pages"}}  # noqa: F405
