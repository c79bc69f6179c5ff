"""The project's Wagtail hooks."""

from wagtail import hooks

from cms.page_cache import mark_cacheable

hooks.register("before_serve_page", mark_cacheable)
