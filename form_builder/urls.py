"""Public application pages (mounted inside i18n_patterns: Mongolian at /, English at /en/)."""

from django.urls import path

from . import my_views, operator_views, payment_views, statistics_views, views

urlpatterns = [
    path("apply/<str:code>/", views.start, name="form_start"),
    path("apply/<str:code>/step/<int:number>/", views.step, name="form_step"),
    path("apply/<str:code>/review/", views.review, name="form_review"),
    path("apply/<str:code>/saved/", views.saved, name="form_saved"),
    path("apply/<str:code>/start-again/", views.start_again, name="form_start_again"),
    path("resume/", views.resume, name="form_resume"),
    # Old links with the code in the path: a form that posts it (see views.resume).
    path("resume/<str:resume_code>/", views.resume, name="form_resume_link"),
    path("receipt/<str:tracking_code>/", views.receipt, name="form_receipt"),
    path("receipt/<str:tracking_code>/download/", views.receipt_download, name="form_receipt_download"),
    path("pay/<str:tracking_code>/", payment_views.pay, name="form_pay"),
    path("operator/pay/<str:tracking_code>/", payment_views.operator_pay, name="operator_pay"),
    path("operator/", operator_views.queue, name="operator_queue"),
    path("operator/search/", operator_views.search, name="operator_search"),
    path("operator/apply/<str:code>/", operator_views.start, name="operator_start"),
    path("track/", views.track, name="track"),
    path("my/", my_views.my_applications, name="my_applications"),
    path("my/<str:tracking_code>/", my_views.my_application, name="my_application"),
    path("my/<str:tracking_code>/receipt/", my_views.my_receipt, name="my_receipt"),
    path("statistics/", statistics_views.processing_statistics, name="processing_statistics"),
    path("track/<str:tracking_code>/", views.track_status, name="track_status"),
]
