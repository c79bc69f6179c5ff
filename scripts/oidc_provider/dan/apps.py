from django.apps import AppConfig


class DanConfig(AppConfig):
    name = "dan"
    verbose_name = "Demo national identity provider"
