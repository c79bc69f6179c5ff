"""Headless API routes of the documents (mounted under ``/api/v1/`` by ``cms.urls``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("documents/<str:code>/verify", views.verify_api, name="api_document_verify"),
]
