"""Public pages of the agency integrations (inside i18n_patterns: Mongolian at /, English at /en/)."""

from django.urls import path

from . import reference_views

urlpatterns = [
    path("references/<str:code>/", reference_views.citizen_reference, name="reference_request"),
    path("references/<str:code>/issued/<str:document_code>/", reference_views.reference_issued, name="reference_issued"),
    path("operator/references/<str:code>/", reference_views.operator_reference, name="operator_reference"),
]
