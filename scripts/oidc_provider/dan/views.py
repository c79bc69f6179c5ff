from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponse

from . import citizens


def home(request):
    return HttpResponse("Demo national identity provider (ДАН stand-in). Discovery: /o/.well-known/openid-configuration\n",
                        content_type="text/plain; charset=utf-8")


class DemoLoginForm(AuthenticationForm):
    """Pick a demo citizen and type the demo password."""

    username = forms.ChoiceField(label="Иргэн / Citizen", widget=forms.RadioSelect)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].choices = [
            (name, f"{claims['family_name']} {claims['given_name']} ({claims.get('register_number', '—')})")
            for name, claims in citizens.accounts().items()
        ]


class DemoLoginView(auth_views.LoginView):
    template_name = "dan/login.html"
    authentication_form = DemoLoginForm
