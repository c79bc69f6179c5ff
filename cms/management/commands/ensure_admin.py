"""Create the first Wagtail administrator if there is none."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create a superuser for the Wagtail admin (/admin/) unless one already exists. The user name "
        "and password come from ADMIN_USERNAME and ADMIN_PASSWORD; without ADMIN_PASSWORD a random "
        "password is generated and printed once. Nothing is stored in plain text."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("admin: a superuser already exists; leaving it alone.")
            return
        username = os.environ.get("ADMIN_USERNAME", "admin")
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=os.environ.get("ADMIN_EMAIL", ""), password=password)
        self.stdout.write(self.style.SUCCESS("admin user created for http://127.0.0.1:8000/admin/"))
        self.stdout.write(f"  username: {username}")
        if "ADMIN_PASSWORD" in os.environ:
            self.stdout.write("  password: (from ADMIN_PASSWORD)")
        else:
            self.stdout.write(f"  password: {password}   <- shown once; change it in the admin")
