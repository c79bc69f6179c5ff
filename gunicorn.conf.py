"""gunicorn settings for `make serve` and production (override with env vars)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: Django views are synchronous; two per core plus one is the usual start.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
# Recycle workers now and then so a slow leak cannot grow without bound. Not too often: a new
# worker loads Django and Wagtail again (about 2 s of CPU), and cached pages are served at several
# hundred a second (bench/service_page.py), so 2,000 requests meant a restart every few seconds.
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
wsgi_app = "cms.wsgi:application"
