"""What the integrator browser test (tests/test_browser_integrator.py) needs on the live site.

Two agencies A and B with a webhook target each and one application each whose delivery is dead
(the agency refused it), and an integrator of A. ``python -m tests.integrator_site`` (with the live
site's environment) writes it into the site's database and prints it as JSON; run it once per site.
"""

from __future__ import annotations

import json

USERNAME, PASSWORD = "live-integrator", "live-integrator-pw"


def seed() -> dict:
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from form_builder.submissions import application_for, submit
    from plugins.models import Delivery, PluginConfig
    from service_pages.models import ServicePage
    from tests.fuzz_site import GENERAL_ANSWERS

    services = (
        ServicePage.objects.live().canonical().filter(channel_online=True, stages__lte=1).select_related("agency")
    )
    own = services.order_by("code").first()
    theirs = services.exclude(agency=own.agency).order_by("code").first()
    result = {"own_agency": own.agency.code, "their_agency": theirs.agency.code}
    for side, service in (("own", own), ("their", theirs)):
        PluginConfig.objects.get_or_create(
            plugin_id="webhook", name="refusing", agency=service.agency,
            defaults={"options": {"url": "https://refusing.invalid/in", "secret": "r" * 24}},
        )  # fmt: skip
        submission = submit(application_for(service), GENERAL_ANSWERS)
        delivery = submission.deliveries.get()
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.DEAD,
            dead_at=timezone.now(),
            attempts=1,
            last_error="HTTP 400: refused",
            last_status_code=400,
        )
        result[f"{side}_delivery"] = str(delivery.pk)
        result[f"{side}_tracking_code"] = submission.tracking_code
    user, _created = User.objects.get_or_create(username=USERNAME, defaults={"is_staff": False})
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(Group.objects.get(name=f"{own.agency.code} integrators"))
    return result


if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps(seed()))
