"""Sign-in pages in the reader's language (Mongolian at /, English under /en/).

The provider's callback (``/signin/callback/``) is outside the language prefixes (cms/urls.py):
the provider is told one redirect URI.
"""

from django.urls import path

from . import views

urlpatterns = [
    path("signin/", views.sign_in, name="citizens_signin"),
    path("signin/organisation/", views.act_for, name="citizens_act_for"),
    path("signout/", views.sign_out, name="citizens_signout"),
    path("signout/done/", views.signed_out, name="citizens_signed_out"),
]
