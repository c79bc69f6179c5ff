"""The site's settings plus the stock baselines (the stock form app, Wagtail's own sitemap): what the
benchmarks' settings overlays import."""

from cms.settings.base import *  # noqa: F403
from cms.settings.base import INSTALLED_APPS as _INSTALLED_APPS

INSTALLED_APPS = [*_INSTALLED_APPS, "bench.stock_forms", "django.contrib.sitemaps", "wagtail.contrib.sitemaps"]
