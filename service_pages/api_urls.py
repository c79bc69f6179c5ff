"""The open catalog API's routes (outside i18n_patterns; the language comes from Accept-Language)."""

from django.urls import path

from . import api

urlpatterns = [
    path("services", api.services, name="api_catalog_services"),
    path("services.csv", api.download_csv, name="api_catalog_csv"),
    path("services.json", api.download_json, name="api_catalog_json"),
    path("services/<str:code>", api.service, name="api_catalog_service"),
    path("agencies", api.agencies, name="api_catalog_agencies"),
    path("categories", api.categories, name="api_catalog_categories"),
]
