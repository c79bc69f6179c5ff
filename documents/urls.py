"""Public document pages (inside i18n_patterns: Mongolian at /, English at /en/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("verify/", views.verify_page, name="document_verify_form"),
    path("verify/<str:code>/", views.verify_page, name="document_verify"),
    path("my/documents/<str:code>.pdf", views.download, name="document_download"),
]
