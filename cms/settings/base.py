"""Settings for Tumen, read from environment variables (12-factor).

Every value has a safe default for the *embedded* mode: SQLite under ``var/``,
Wagtail's database search backend and the django-tasks database worker on the
same database. Nothing here needs Java, PostgreSQL or a network. Production
overrides live in ``cms.settings.production``.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from cms.env import DEVELOPMENT_SECRET_KEY, email_settings, env_bool, env_int, env_list, env_str
from core.weights import POPULARITY_WEIGHT

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PROJECT_DIR = BASE_DIR / "cms"
# Runtime state (SQLite file, search engine data, uploads in dev) stays out of git.
VAR_DIR = Path(env_str("TUMEN_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "cms",
    "core",
    "citizens",
    "service_pages",
    "form_builder",
    "search",
    "documents",
    "plugins",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    # The admin's "Translate" action: copies a page into the other language's tree.
    "wagtail.contrib.simple_translation",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.locales",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "import_export",
    "django_tasks",
    "django_tasks_db",
    # django-csp: its system checks and {% load csp %} for nonces (the header comes from the middleware).
    "csp",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise serves collected static files under gunicorn without a web server in front.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # HTML pages gzipped for slow mobile links (static files come pre-compressed from WhiteNoise).
    "cms.compression.HtmlGZipMiddleware",
    # Anonymous GETs of public service pages from memory, purged on every change (cms.page_cache).
    # Above the headers, sessions and CSRF: a hit skips them, its stored response has their headers.
    "cms.page_cache.PageCacheMiddleware",
    # Security headers on every page and API response (static files above need none):
    # Content-Security-Policy (django-csp, the admin's policy by path) and Permissions-Policy.
    "cms.security_headers.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "cms.urls"
WSGI_APPLICATION = "cms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PROJECT_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
                "citizens.context_processors.citizen",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# DATABASE_URL unset -> SQLite at var/db.sqlite3 (embedded mode).
# e.g. DATABASE_URL=postgres://tumen:secret@db.internal:5432/tumen
from cms.env import database_config  # noqa: E402

DATABASES = {"default": database_config(env_str("DATABASE_URL", ""), VAR_DIR / "db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Search ---------------------------------------------------------------
# SEARCH_URL unset -> Wagtail's database backend (no services needed).
# SEARCH_URL set   -> a real engine; SEARCH_BACKEND picks the client/dialect.
from search.backends import search_backends_setting  # noqa: E402

SEARCH_URL = env_str("SEARCH_URL", "")
SEARCH_BACKEND = env_str("SEARCH_BACKEND", "opensearch2")
SEARCH_INDEX = env_str("SEARCH_INDEX", "tumen")
# Seconds per request of Wagtail's backend (indexing on save, update_index, the admin's search).
SEARCH_TIMEOUT = env_int("SEARCH_TIMEOUT", 5)
# Seconds per request of the public search and autocomplete (search.engine). With several nodes
# in SEARCH_URL a timed-out query is asked once more on the next node; when that times out too
# (or the only node does) they answer from the embedded index and leave the engine alone for 10 s.
SEARCH_QUERY_TIMEOUT = env_int("SEARCH_QUERY_TIMEOUT", 2)
try:
    WAGTAILSEARCH_BACKENDS = search_backends_setting(SEARCH_URL, SEARCH_BACKEND, SEARCH_INDEX, SEARCH_TIMEOUT)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
# Search analytics (search.analytics): log the search page's searches (no personal data) and keep
# them this many days (the report's 13 weeks); `manage.py search_analytics` deletes older ones.
TUMEN_SEARCH_ANALYTICS = env_bool("TUMEN_SEARCH_ANALYTICS", True)
TUMEN_SEARCH_LOG_DAYS = env_int("TUMEN_SEARCH_LOG_DAYS", 91)
# The popularity boost's weight (core.weights: clicks and applications multiply relevance by at
# most 1 + 6 × weight); 0, the default, switches it off (why: core.weights).
TUMEN_SEARCH_POPULARITY_WEIGHT = float(env_str("TUMEN_SEARCH_POPULARITY_WEIGHT", str(POPULARITY_WEIGHT)))

# --- Background tasks -----------------------------------------------------
# django-tasks with its database backend: `python manage.py db_worker` runs them,
# on any number of machines, using the same database as the site.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- Passwords ------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Languages: Mongolian first, English second ----------------------------
# Two page trees (Wagtail locales): the Mongolian originals at /, their English translations
# under /en/ (manage.py translate_catalog). See docs/ARCHITECTURE.md, "Languages".
LANGUAGE_CODE = "mn"
LANGUAGES = [("mn", "Монгол"), ("en", "English")]
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Ulaanbaatar")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [PROJECT_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# --- Caches -----------------------------------------------------------------
# "pages": rendered service pages for anonymous readers (cms.page_cache), in files under var/ that
# every gunicorn worker of this machine shares and that outlive a worker's restart; the purge goes
# through the database, so every worker and every app node sees it at once. About 5 kB a page
# (compressed): 30,000 pages (the catalog in two languages) are ~150 MB at most.
# TUMEN_PAGE_CACHE_SECONDS=0 turns it off.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "pages": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": env_str("TUMEN_PAGE_CACHE_DIR", str(VAR_DIR / "cache" / "pages")),
        "OPTIONS": {"MAX_ENTRIES": env_int("TUMEN_PAGE_CACHE_ENTRIES", 30_000)},
    },
}
TUMEN_PAGE_CACHE_SECONDS = env_int("TUMEN_PAGE_CACHE_SECONDS", 300)

# --- Wagtail --------------------------------------------------------------
WAGTAIL_SITE_NAME = "Tumen"
WAGTAILADMIN_BASE_URL = env_str("WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000")
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "odt", "pdf", "xlsx"]

# --- E-mail -------------------------------------------------------------------
# SMTP from EMAIL_URL (smtp://user:pass@host:587/?tls=true; submission://, smtps://) or from
# EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_USE_SSL;
# EMAIL_TIMEOUT (10 s), DEFAULT_FROM_EMAIL and SERVER_EMAIL. See cms.env.email_settings.
try:
    _email = email_settings()
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = _email["EMAIL_TIMEOUT"]
DEFAULT_FROM_EMAIL = _email["DEFAULT_FROM_EMAIL"]
SERVER_EMAIL = _email["SERVER_EMAIL"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # The search clients log every request at INFO; keep only warnings.
        "opensearch": {"level": "WARNING"},
        "elasticsearch": {"level": "WARNING"},
        # Wagtail logs every page action at INFO; the audit log keeps them in the database.
        "wagtail": {"level": env_str("WAGTAIL_LOG_LEVEL", "WARNING")},
        "elastic_transport": {"level": "WARNING"},
        # The development SMS sender writes messages (with consent codes) at DEBUG level, shown
        # here; it refuses to run without DEBUG, so production logs never get them. INFO and
        # above of this logger carry no personal data (masked numbers only).
        "form_builder.sms": {"level": "DEBUG"},
    },
}

TUMEN_SITE_NAME = _("Tumen: public services")
# Largest catalog spreadsheet accepted by import_services and the admin import.
TUMEN_IMPORT_MAX_BYTES = env_int("TUMEN_IMPORT_MAX_BYTES", 50 * 1024 * 1024)

# --- Forms and submissions --------------------------------------------------
# Uploads live here, outside every public URL and outside MEDIA_ROOT and STATIC_ROOT (a deploy
# check refuses those); staff download them through the admin.
TUMEN_PRIVATE_MEDIA_ROOT = Path(env_str("TUMEN_PRIVATE_MEDIA_ROOT", str(VAR_DIR / "private")))
# Saved drafts (save and resume) are deleted this many days after their last save.
TUMEN_DRAFT_TTL_DAYS = env_int("TUMEN_DRAFT_TTL_DAYS", 30)
# Personal data of a closed (completed or rejected) application is anonymised this many days after
# its last closing, unless its service sets its own period (purge_personal_data, run daily). Open
# applications are never anonymised: staff close them.
TUMEN_RETENTION_DAYS = env_int("TUMEN_RETENTION_DAYS", 1826)
# The national floor: no period (the default or a service's) is shorter (an appeal or a complaint
# may still need the file); production refuses a TUMEN_RETENTION_DAYS below it (tumen.E005).
TUMEN_RETENTION_MIN_DAYS = env_int("TUMEN_RETENTION_MIN_DAYS", 90)
# Shared PCs: a browser lets go of a draft left untouched this long (resumable with its code), and
# shows a receipt with the answers only this long after submitting (and not once a new one starts).
TUMEN_DRAFT_IDLE_MINUTES = env_int("TUMEN_DRAFT_IDLE_MINUTES", 60)
TUMEN_RECEIPT_MINUTES = env_int("TUMEN_RECEIPT_MINUTES", 30)
TUMEN_UPLOAD_MAX_FILES = env_int("TUMEN_UPLOAD_MAX_FILES", 10)
TUMEN_UPLOAD_MAX_TOTAL_MB = env_int("TUMEN_UPLOAD_MAX_TOTAL_MB", 50)
# Rate limits as "<count>/<period>" (s, m, h, d); "0" switches one off. Soum offices submit for
# many citizens from one address, so the per-address limit is generous.
TUMEN_RATE_PER_IP = env_str("TUMEN_RATE_PER_IP", "60/m")
TUMEN_RATE_PER_SERVICE = env_str("TUMEN_RATE_PER_SERVICE", "1200/m")
TUMEN_RATE_LOOKUPS = env_str("TUMEN_RATE_LOOKUPS", "60/m")
# Behind N reverse proxies, the client address is the Nth from the right of X-Forwarded-For.
TUMEN_TRUSTED_PROXIES = env_int("TUMEN_TRUSTED_PROXIES", 0)
# Uploads bigger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Delivery to agencies (plugins) ---------------------------------------------------------
# Retries back off exponentially (with jitter) from BASE to MAX seconds, for WINDOW hours,
# then the delivery becomes a dead letter (replayable from the admin).
TUMEN_DELIVERY_BACKOFF_BASE_SECONDS = float(env_str("TUMEN_DELIVERY_BACKOFF_BASE_SECONDS", "30"))
TUMEN_DELIVERY_BACKOFF_MAX_SECONDS = float(env_str("TUMEN_DELIVERY_BACKOFF_MAX_SECONDS", "3600"))
TUMEN_DELIVERY_RETRY_WINDOW_HOURS = float(env_str("TUMEN_DELIVERY_RETRY_WINDOW_HOURS", "48"))
# A worker that crashed mid-delivery loses its claim after this long; the sweep wakes a drain for it.
TUMEN_DELIVERY_LEASE_SECONDS = env_int("TUMEN_DELIVERY_LEASE_SECONDS", 120)
TUMEN_DELIVERY_SWEEP_SECONDS = env_int("TUMEN_DELIVERY_SWEEP_SECONDS", 60)
# One deliver_due task works through due deliveries for at most this long (capped at half the
# lease), then hands over to a fresh task.
TUMEN_DELIVERY_DRAIN_SECONDS = float(env_str("TUMEN_DELIVERY_DRAIN_SECONDS", "30"))
# One hard deadline (seconds) per outgoing request: connect, headers and body (plugins.deadlines).
# A target's own "timeout" option may differ; either is capped by what is left of the lease.
TUMEN_DELIVERY_TIMEOUT = float(env_str("TUMEN_DELIVERY_TIMEOUT", "10"))
# Requests one worker sends at once (plugins/delivery/sending.py), and at most this many to one
# target: a dead or slow agency endpoint holds only its own share of the worker.
TUMEN_DELIVERY_SENDERS = env_int("TUMEN_DELIVERY_SENDERS", 8)
TUMEN_DELIVERY_SENDERS_PER_TARGET = env_int("TUMEN_DELIVERY_SENDERS_PER_TARGET", 4)
# The overall deadline (seconds) of a submission's pre-submit checks, run in parallel while the
# citizen waits (plugins.checks); a check's own shorter "timeout" applies first.
TUMEN_PRE_SUBMIT_TIMEOUT = float(env_str("TUMEN_PRE_SUBMIT_TIMEOUT", "5"))
TUMEN_DELIVERY_MAX_RESPONSE_BYTES = env_int("TUMEN_DELIVERY_MAX_RESPONSE_BYTES", 64 * 1024)
TUMEN_DELIVERY_ALERT_AFTER_ATTEMPTS = env_int("TUMEN_DELIVERY_ALERT_AFTER_ATTEMPTS", 5)
# Plain http (to loopback only) for development and tests; production needs https.
TUMEN_DELIVERY_ALLOW_HTTP = env_bool("TUMEN_DELIVERY_ALLOW_HTTP", DEBUG)
# Keys that encrypt agencies' secrets at rest (plugin secret options, API key secrets;
# plugins/secrets.py): comma-separated Fernet keys, newest first. Empty: a DEVELOPMENT key derived
# from SECRET_KEY; production refuses to start without it (tumen.E006, cms/checks.py).
TUMEN_SECRETS_KEYS = env_list("TUMEN_SECRETS_KEYS", [])

# /healthz answers anyone with its status only; a monitor sending this in X-Health-Token (or
# signed-in staff) also gets the database, search engine and task queue details. Empty: staff only.
TUMEN_HEALTH_TOKEN = env_str("TUMEN_HEALTH_TOKEN", "")
# /statistics/ and /api/v1/statistics read a snapshot that db_worker recomputes this often.
TUMEN_STATISTICS_REFRESH_SECONDS = env_int("TUMEN_STATISTICS_REFRESH_SECONDS", 3600)

# SMS to citizens (form_builder.sms): the SMS gateway plugin configured in the admin sends them.
# Without one, these name a sender class with send(phone, text): the operator-mode consent code,
# and status changes. Empty (the default) with no gateway: a DEBUG site writes them to its log at
# DEBUG level; a production site sends nothing and says so (system checks form_builder.W001 and
# plugins.W001).
TUMEN_CONSENT_SENDER = env_str("TUMEN_CONSENT_SENDER", "")
TUMEN_NOTIFY_SENDER = env_str("TUMEN_NOTIFY_SENDER", "")
# Operator mode: how many confirmation codes may be sent per application, per phone number and
# per operator ("<count>/<period>"; "0" = off). A code lives 10 minutes and dies after 5 wrong tries.
TUMEN_CONSENT_CODES_PER_DRAFT = env_str("TUMEN_CONSENT_CODES_PER_DRAFT", "3/15m")
TUMEN_CONSENT_CODES_PER_PHONE = env_str("TUMEN_CONSENT_CODES_PER_PHONE", "3/15m")
TUMEN_CONSENT_CODES_PER_OPERATOR = env_str("TUMEN_CONSENT_CODES_PER_OPERATOR", "50/d")
LOGIN_URL = "wagtailadmin_login"

# --- Citizen sign-in: the national identity provider (ДАН) over OpenID Connect (citizens.oidc) ---
# Empty issuer: no sign-in (everyone applies anonymously). The endpoints come from the issuer's
# discovery document; `make run` points these at the demo provider (scripts/oidc-provider.sh).
TUMEN_OIDC_ISSUER = env_str("TUMEN_OIDC_ISSUER", "")
TUMEN_OIDC_CLIENT_ID = env_str("TUMEN_OIDC_CLIENT_ID", "")
TUMEN_OIDC_CLIENT_SECRET = env_str("TUMEN_OIDC_CLIENT_SECRET", "")
TUMEN_OIDC_SCOPES = env_str("TUMEN_OIDC_SCOPES", "openid profile phone register_number")
# Seconds per request to the provider (discovery, token, keys, userinfo).
TUMEN_OIDC_TIMEOUT = env_int("TUMEN_OIDC_TIMEOUT", 5)
# Where a citizen lands after signing in when no page asked for it (a URL name).
TUMEN_CITIZEN_HOME = "my_applications"
# Staff sign in with a password (ModelBackend); citizens only through the provider, as users with
# no password, no groups and never staff (citizens.models.CitizenAccount).
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "citizens.oidc.NationalIdentityBackend"]
# mozilla-django-oidc: authorization code flow with PKCE (S256), state and nonce; RS256 ID tokens.
OIDC_RP_CLIENT_ID = TUMEN_OIDC_CLIENT_ID
OIDC_RP_CLIENT_SECRET = TUMEN_OIDC_CLIENT_SECRET
OIDC_RP_SCOPES = TUMEN_OIDC_SCOPES
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_TIMEOUT = TUMEN_OIDC_TIMEOUT
OIDC_AUTHENTICATION_CALLBACK_URL = "citizens_callback"
# --- Fees and payments (form_builder.payments, plugins' payment providers) -------------------
# An open invoice whose callback has not come is asked about after this many seconds (polling);
# one poll works at most the budget's seconds (the rest waits for the next poll).
TUMEN_PAYMENT_POLL_SECONDS = env_int("TUMEN_PAYMENT_POLL_SECONDS", 60)
TUMEN_PAYMENT_POLL_BUDGET_SECONDS = env_int("TUMEN_PAYMENT_POLL_BUDGET_SECONDS", 30)
# --- Issued documents (documents, plugins' reference sources) --------------------------------
# The site's public address, printed on documents and in their QR codes (".../verify/<code>/").
# Empty: WAGTAILADMIN_BASE_URL.
TUMEN_PUBLIC_URL = env_str("TUMEN_PUBLIC_URL", "")
# Lookups of /verify/<code>/ and /api/v1/documents/<code>/verify per client address.
TUMEN_RATE_VERIFY = env_str("TUMEN_RATE_VERIFY", "60/m")
# The one deadline (seconds) of an agency's reference source while a citizen or an operator waits.
TUMEN_REFERENCE_TIMEOUT = float(env_str("TUMEN_REFERENCE_TIMEOUT", "5"))
# References a signed-in citizen (or an operator) may request ("<count>/<period>", "0" = off).
TUMEN_RATE_REFERENCES = env_str("TUMEN_RATE_REFERENCES", "20/h")

# --- Security headers (cms/security_headers.py) ------------------------------
# Content-Security-Policy through django-csp: a strict policy for the public site and the API, a
# looser one (Wagtail's inline styles) under /admin/. TUMEN_CSP_REPORT_ONLY=true sends both as
# Content-Security-Policy-Report-Only instead (to stage a change); TUMEN_CSP_REPORT_URI adds a
# report-uri where browsers post what the policy blocked (or would have blocked).
from cms import security_headers  # noqa: E402

TUMEN_CSP_REPORT_ONLY = env_bool("TUMEN_CSP_REPORT_ONLY", False)
TUMEN_CSP_REPORT_URI = env_str("TUMEN_CSP_REPORT_URI", "")
_public_csp = {
    "DIRECTIVES": security_headers.directives_with_report_uri(security_headers.PUBLIC_DIRECTIVES, TUMEN_CSP_REPORT_URI)
}
if TUMEN_OIDC_ISSUER:
    # Signing out is a form posted here that redirects to the provider's end-session endpoint.
    from urllib.parse import urlsplit  # noqa: E402

    _issuer = urlsplit(TUMEN_OIDC_ISSUER)
    _public_csp["DIRECTIVES"]["form-action"] = [*_public_csp["DIRECTIVES"]["form-action"], f"{_issuer.scheme}://{_issuer.netloc}"]
CONTENT_SECURITY_POLICY = None if TUMEN_CSP_REPORT_ONLY else _public_csp
CONTENT_SECURITY_POLICY_REPORT_ONLY = _public_csp if TUMEN_CSP_REPORT_ONLY else None
TUMEN_ADMIN_CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": security_headers.directives_with_report_uri(security_headers.ADMIN_DIRECTIVES, TUMEN_CSP_REPORT_URI)
}
# The admin loads nothing from other origins, so the two Wagtail features that would are off: the
# dashboard's new-version check (a request to Wagtail's release server from every staff browser;
# versions are pinned in requirements.txt and upgraded deliberately) and Gravatar avatars (they
# would send a hash of every staff member's e-mail address to a third party; the built-in avatar is shown).
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAIL_GRAVATAR_PROVIDER_URL = None
# Permissions-Policy through django-permissions-policy: every listed browser feature off ("()").
PERMISSIONS_POLICY = {feature: [] for feature in security_headers.PERMISSIONS_POLICY_DENIED}
