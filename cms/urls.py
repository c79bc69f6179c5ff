from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path, re_path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from citizens import views as citizens_views
from cms.health import healthz
from cms.media import public_media
from cms.sitemaps import robots_txt, sitemap_index, sitemap_section
from search import views as search_views
from service_pages.reports import report_urls

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("robots.txt", robots_txt, name="robots_txt"),
    path("sitemap.xml", sitemap_index, name="sitemap"),
    path("sitemap-<int:number>.xml", sitemap_section, name="sitemap_section"),
    # The identity provider's answer: one redirect URI whatever the reader's language.
    path("signin/callback/", citizens_views.callback, name="citizens_callback"),
    path("api/v1/services/search", search_views.api_search, name="api_search"),
    path("api/v1/services/autocomplete", search_views.api_autocomplete, name="search_autocomplete"),
    path("api/v1/openapi.yaml", search_views.openapi, name="openapi"),
    path("search/click/", search_views.click, name="search_click"),
    # The open catalog (list, detail, agencies, categories, CSV/JSON downloads).
    path("api/v1/", include("service_pages.api_urls")),
    path("api/v1/", include("form_builder.api_urls")),
    path("api/v1/", include("plugins.api_urls")),
    path("api/v1/", include("documents.api_urls")),
    # Wagtail's workflow reports, scoped to the user's agencies (they come first: first match wins).
    *report_urls(),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("i18n/", include("django.conf.urls.i18n")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
    urlpatterns += [re_path(r"^%s(?P<path>.*)$" % settings.MEDIA_URL.lstrip("/"), public_media)]

# Public pages: Mongolian (the default) without a prefix, English under /en/.
urlpatterns += i18n_patterns(
    path("search/", search_views.search_page, name="search"),
    path("", include("citizens.urls")),
    path("", include("form_builder.urls")),
    path("", include("documents.urls")),
    path("", include("plugins.urls")),
    path("", include(wagtail_urls)),
    prefix_default_language=False,
)
