"""Headless API routes of the agency integrations (mounted under ``/api/v1/`` by ``cms.urls``)."""

from django.urls import path

from . import payments, views

urlpatterns = [
    path("submissions/<str:tracking_code>/status", views.status_callback, name="api_submission_status_callback"),
    path("submissions/<str:tracking_code>/documents", views.attach_document, name="api_submission_documents"),
    path("payments/<str:config_id>/callback", payments.payment_callback, name="api_payment_callback"),
]
