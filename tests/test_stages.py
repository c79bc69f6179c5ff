"""Multi-stage services: one application moves through three agencies (real local endpoints and
signed callbacks); a rejection mid-flow ends it with a reason the citizen sees."""

import json
import os
import time

import pytest
from django.test import Client

from form_builder.models import Status, Submission
from plugins import signing
from plugins.models import AgencyCredential, Delivery, PluginConfig
from service_pages.models import Agency, ServicePage
from tests.agency import AgencyServer
from tests.deliveries import attempt
from tests.test_forms import answers, post_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_stage(demo_catalog, settings, tmp_path):
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    agencies = list(Agency.objects.filter(pages__isnull=False).distinct().order_by("code")[:3])
    service = ServicePage.objects.live().canonical().filter(channel_online=True, agency=agencies[0]).first()
    service.stages = 3
    service.stage_agencies = " | ".join(agency.code for agency in agencies)
    service.save()
    servers = [AgencyServer() for _ in agencies]
    for agency, server in zip(agencies, servers, strict=True):
        PluginConfig.objects.create(plugin_id="webhook", agency=agency, options={"url": server.url, "secret": "s" * 20})
    keys = [AgencyCredential.objects.create(agency=agency) for agency in agencies]
    yield service, agencies, servers, keys
    for server in servers:
        server.stop()


def callback(code, body, credential):
    timestamp = str(int(time.time()))
    raw = json.dumps(body).encode()
    return Client().post(
        f"/api/v1/submissions/{code}/status", raw, content_type="application/json",
        HTTP_X_TUMEN_KEY=credential.key_id, HTTP_X_TUMEN_TIMESTAMP=timestamp,
        HTTP_X_TUMEN_SIGNATURE=signing.signature(credential.secret, timestamp, [code], raw),
    )  # fmt: skip


def deliver_stage(submission, stage):
    deliveries = Delivery.objects.filter(submission=submission, stage=stage)
    assert deliveries.count() == 1
    assert attempt(deliveries.get().pk) == "delivered"


def test_an_application_moves_through_three_agencies(client, three_stage):
    service, agencies, servers, keys = three_stage
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    submission = Submission.objects.get(tracking_code=code)
    assert submission.stage_agencies == [a.code for a in agencies] and submission.stage == 1
    deliver_stage(submission, 1)
    assert [len(s.received) for s in servers] == [1, 0, 0]
    # Only the current stage's agency may report.
    assert callback(code, {"status": "completed"}, keys[1]).status_code == 404
    response = callback(code, {"status": "completed", "message": "Бүртгэл шалгасан"}, keys[0])
    assert response.status_code == 200 and response.json()["stage"] == 2
    deliver_stage(submission, 2)
    record = servers[1].received[0].json()
    assert record["metadata"]["stage"] == 2 and record["answers"]["register_number"] == "УБ99010112"
    assert [(h["status"], h["agency"]) for h in record["metadata"]["history"] if h["status"] == "stage_completed"] == [
        ("stage_completed", agencies[0].code)
    ]
    assert callback(code, {"status": "completed"}, keys[1]).status_code == 200
    deliver_stage(submission, 3)
    assert [len(s.received) for s in servers] == [1, 1, 1]
    assert callback(code, {"status": "completed"}, keys[2]).status_code == 200
    submission.refresh_from_db()
    assert submission.status == Status.COMPLETED and submission.stage == 3
    page = client.get(f"/en/track/{code}/").content.decode()
    assert page.count('data-state="done"') == 3
    assert callback(code, {"status": "in_progress"}, keys[2]).status_code == 409, "a closed application stays closed"


def test_a_rejection_mid_flow_ends_it_with_a_reason_for_the_citizen(client, three_stage):
    service, _agencies, servers, keys = three_stage
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    submission = Submission.objects.get(tracking_code=code)
    deliver_stage(submission, 1)
    callback(code, {"status": "completed"}, keys[0])
    deliver_stage(submission, 2)
    response = callback(
        code, {"status": "rejected", "message": "Шалгасан: Б. Болд", "public_message": "Газрын кадастрын зураг дутуу"}, keys[1]
    )
    assert response.status_code == 200
    submission.refresh_from_db()
    assert submission.status == Status.REJECTED and submission.stage == 2
    assert not Delivery.objects.filter(submission=submission, stage=3).exists()
    assert len(servers[2].received) == 0
    page = client.get(f"/track/{code}/").content.decode()
    assert "Газрын кадастрын зураг дутуу" in page and "Б. Болд" not in page, "the staff note stays with staff"
    assert '<li data-stage="1" data-state="done"' in page and '<li data-stage="2" data-state="rejected"' in page
    assert '<li data-stage="3" data-state="waiting"' in page
    timeline = client.get(f"/api/v1/submissions/{code}").json()["timeline"]
    assert [item["status"] for item in timeline] == ["received", "delivered", "stage_completed", "in_progress", "rejected"]


def test_staff_complete_a_stage_from_the_admin(client, three_stage, admin_client):
    service, _agencies, servers, _keys = three_stage
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    submission = Submission.objects.get(tracking_code=code)
    response = admin_client.post(f"/admin/submissions/edit/{submission.pk}/", {"status": "completed"})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.stage == 2 and submission.status == Status.IN_PROGRESS
    assert Delivery.objects.filter(submission=submission, stage=2).count() == 1


def test_processing_time_statistics_page(client, demo_catalog, settings, tmp_path):
    import datetime

    from django.utils import timezone

    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    service = ServicePage.objects.live().canonical().filter(channel_online=True, stages=1).exclude(processing_days=0).first()
    promise = service.processing_days
    now = timezone.now()
    for days in (1, 2, 3, promise + 10):
        code = post_api(client, service.code, answers()).json()["tracking_code"]
        submission = Submission.objects.get(tracking_code=code)
        Submission.objects.filter(pk=submission.pk).update(submitted_at=now - datetime.timedelta(days=days))
        event = submission.set_status(Status.COMPLETED, actor="agency")
        type(event).objects.filter(pk=event.pk).update(created_at=now)
    post_api(client, service.code, answers())  # still open: not counted
    from django.core.management import call_command

    call_command("refresh_statistics", verbosity=0, stdout=open(os.devnull, "w"))  # what db_worker runs hourly
    page = client.get("/en/statistics/")
    assert page.status_code == 200
    html = page.content.decode()
    row = html.split(f'<tr data-key="{service.code}">')[1].split("</tr>")[0]
    assert '<td class="count">4</td>' in row
    assert '<td class="median">2.5</td>' in row
    assert f'<td class="p90">{promise + 10}.0</td>' in row
    within = sum(1 for d in (1, 2, 3, promise + 10) if d <= promise)
    assert f'<td class="within">{round(within / 4 * 100)}%</td>' in row
    assert f'<tr data-key="{service.agency.code}">' in html


def test_the_citizen_is_told_of_each_change(client, three_stage, settings, django_capture_on_commit_callbacks):
    from tests.senders import MemorySender

    settings.TUMEN_NOTIFY_SENDER = "tests.senders.MemorySender"
    MemorySender.outbox.clear()
    service, _agencies, _servers, keys = three_stage
    code = post_api(client, service.code, answers()).json()["tracking_code"]
    with django_capture_on_commit_callbacks(execute=True):
        callback(code, {"status": "completed"}, keys[0])
        callback(code, {"status": "rejected", "message": "Дутуу"}, keys[1])
    texts = [text for phone, text in MemorySender.outbox if phone == "+97699112233"]
    assert len(texts) == 3 and all(code in text for text in texts)


def test_sent_to_the_agency_is_one_conditional_update_that_never_overwrites(
    client, demo_catalog, settings, tmp_path, django_assert_num_queries
):
    from django.db.models import Q

    from form_builder.stages import mark_delivered

    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    service = ServicePage.objects.live().canonical().filter(channel_online=True, stages=1).first()
    codes = [post_api(client, service.code, answers()).json()["tracking_code"] for _ in range(2)]
    first, second = (Submission.objects.get(tracking_code=code) for code in codes)
    assert not mark_delivered(first.pk, unless=Q(pk=first.pk))  # another target of the stage still waiting
    with django_assert_num_queries(2):  # the UPDATE and the event
        assert mark_delivered(first.pk)
    first.refresh_from_db()
    assert first.status == Status.DELIVERED and first.events.last().status == Status.DELIVERED
    second.set_status(Status.IN_PROGRESS, actor="agency")  # the agency answered before the attempt was recorded
    with django_assert_num_queries(1):
        assert not mark_delivered(second.pk)
    second.refresh_from_db()
    assert second.status == Status.IN_PROGRESS and second.events.last().status == Status.IN_PROGRESS
