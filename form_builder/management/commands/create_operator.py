from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError

from form_builder.models import OperatorProfile
from service_pages.models import Aimag, Soum


class Command(BaseCommand):
    help = (
        "Create (or update) a soum operator, or with --supervisor an aimag supervisor, who signs in at "
        "/admin/login/ and works at /operator/. Example: create_operator bat --soum 6504 --password secret"
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--soum", help="soum or district code of the operator's office (see the Soum list)")
        parser.add_argument("--supervisor", metavar="AIMAG", help="make an aimag supervisor for this aimag code")
        parser.add_argument("--password", help="set this password (otherwise the user keeps theirs)")
        parser.add_argument("--office-name", default="", help="name shown on the console, e.g. 'Батцэнгэл сумын ТҮЦ'")

    def handle(self, *args, **options):
        soum = aimag = None
        if options["supervisor"]:
            aimag = Aimag.objects.filter(code=options["supervisor"]).first()
            if aimag is None:
                raise CommandError(f"unknown aimag code {options['supervisor']!r}")
        else:
            soum = Soum.objects.filter(code=options["soum"] or "").select_related("aimag").first()
            if soum is None:
                raise CommandError("give --soum with a known soum or district code (or --supervisor AIMAG)")
        user, _created = get_user_model().objects.get_or_create(username=options["username"])
        if options["password"]:
            user.set_password(options["password"])
        user.save()
        user.user_permissions.add(Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"))
        role = OperatorProfile.Role.SUPERVISOR if aimag else OperatorProfile.Role.OPERATOR
        OperatorProfile.objects.update_or_create(
            user=user, defaults={"role": role, "soum": soum, "aimag": aimag, "office_name": options["office_name"]}
        )
        where = aimag.name_mn if aimag else f"{soum.name_mn} ({soum.aimag.name_mn})"
        self.stdout.write(self.style.SUCCESS(f"{user.username}: {role} at {where}"))
