"""Production settings: everything of ``base`` plus HTTPS hardening.

Use with ``DJANGO_SETTINGS_MODULE=cms.settings.production``. It refuses to start without
``ALLOWED_HOSTS``; without a real ``SECRET_KEY``, with ``DEBUG=true``, without an explicit
``TUMEN_TRUSTED_PROXIES`` or with private uploads inside a served folder, the system checks fail
(``python manage.py check --deploy`` lists them) and the web server refuses to start. With all of
them right, ``check --deploy`` passes with no warnings.
"""

from django.core.exceptions import ImproperlyConfigured

from cms.env import env_bool, env_int, env_list

from .base import *  # noqa: F403

# A weak or missing SECRET_KEY, DEBUG=true, an unsaid TUMEN_TRUSTED_PROXIES or private uploads
# inside a served folder are reported by the checks of cms/checks.py (tumen.E001-E004). With this
# on they run with every management command, and cms.wsgi refuses to start the web server.
TUMEN_REFUSE_UNSAFE_DEPLOY = True

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the public host names, e.g. ALLOWED_HOSTS=services.gov.mn")

# TLS is terminated by the load balancer, which sets X-Forwarded-Proto. Only trusted behind one:
# with no proxy in front (TUMEN_TRUSTED_PROXIES=0) a client could claim https with the header.
if TUMEN_TRUSTED_PROXIES > 0:  # noqa: F405 (from base)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# Health probes come over plain HTTP from inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True

# Compressed, cache-busted static files served by WhiteNoise.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Deliveries go over https only (base.py allows http to loopback when DEBUG is on).
TUMEN_DELIVERY_ALLOW_HTTP = env_bool("TUMEN_DELIVERY_ALLOW_HTTP", False)
