"""Headless API routes (outside i18n_patterns; the language comes from Accept-Language)."""

from django.urls import path

from . import api, my_views, operator_views, payment_views, statistics_views

urlpatterns = [
    path("services/<str:code>/form", api.service_form, name="api_service_form"),
    path("services/<str:code>/submissions", api.create_submission, name="api_submissions"),
    path("submissions/<str:tracking_code>", api.submission_status, name="api_submission_status"),
    path("submissions/<str:tracking_code>/payment", payment_views.api_payment, name="api_submission_payment"),
    path("statistics", statistics_views.api_statistics, name="api_statistics"),
    path("operator/submissions", operator_views.api_queue, name="api_operator_submissions"),
    path("my/submissions", my_views.api_my_submissions, name="api_my_submissions"),
]
