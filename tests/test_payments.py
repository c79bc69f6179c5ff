"""Fees and payments (issue 18): an application of a fee-charging service is delivered only once
paid, through a QPay-style provider (tests/payment_provider.py, a real HTTP server on loopback,
no mocks): invoices, signed callbacks (duplicate, late, lost, forged, wrong amount), polling,
expiry, refunds, the provider down, and the delivery payload's payment block."""

import datetime
import json

import pytest
from django.utils import timezone

from form_builder import payments
from form_builder.models import Payment, Status, Submission
from form_builder.payments import PaymentState
from plugins.delivery.payload import DeliveryContext, load_submissions
from plugins.models import Delivery, PluginConfig
from service_pages.models import ServicePage
from tests.deliveries import attempt
from tests.payment_provider import PaymentProvider
from tests.test_forms import answers, post_api

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]
FEE = 5000


@pytest.fixture
def provider():
    server = PaymentProvider()
    yield server
    server.stop()


@pytest.fixture
def service(demo_catalog):
    page = ServicePage.objects.live().canonical().filter(channel_online=True).select_related("agency").order_by("code").first()
    page.fee_mnt = FEE
    page.save(update_fields=["fee_mnt"])
    return page


@pytest.fixture
def paying(service, provider, agency_server, client):
    """The service's agency takes payments through ``provider`` and deliveries by webhook;
    callbacks reach Tumen through the test client (no live server in these tests)."""
    config = PluginConfig.objects.create(plugin_id="qpay", agency=service.agency, options=provider.options())
    PluginConfig.objects.create(plugin_id="webhook", agency=service.agency, options={"url": agency_server.url, "secret": "s3cret-shared-with-the-agency"})

    def transport(url, body, headers):
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items() if name != "Content-Type"}
        return client.post(f"/{path}", body, content_type="application/json", **extra).status_code

    provider.transport = transport
    return config


def apply(client, service) -> Submission:
    response = post_api(client, service.code, answers())
    assert response.status_code == 201, response.content
    return Submission.objects.get(tracking_code=response.json()["tracking_code"])


def invoice_of(submission) -> Payment:
    return payments.start_payment(submission)


# -- the application waits for its fee ----------------------------------------------------------


def test_a_fee_charging_application_waits_for_payment_and_is_not_delivered(client, service, paying):
    submission = apply(client, service)
    assert submission.status == Status.AWAITING_PAYMENT and submission.fee_mnt == FEE
    assert not Delivery.objects.filter(submission=submission).exists()


def test_a_free_service_is_delivered_as_before(client, service, paying):
    ServicePage.objects.filter(pk=service.pk).update(fee_mnt=0)
    submission = apply(client, service)
    assert submission.status == Status.RECEIVED and submission.fee_mnt == 0
    assert Delivery.objects.filter(submission=submission).count() == 1
    assert not submission.payments.exists()


def test_without_a_payment_provider_the_fee_is_only_shown(client, service, agency_server):
    PluginConfig.objects.create(plugin_id="webhook", agency=service.agency, options={"url": agency_server.url, "secret": "s3cret-shared-with-the-agency"})
    submission = apply(client, service)
    assert submission.status == Status.RECEIVED and Delivery.objects.filter(submission=submission).exists()


def test_the_submission_keeps_the_fee_it_was_charged(client, service, paying):
    submission = apply(client, service)
    ServicePage.objects.filter(pk=service.pk).update(fee_mnt=9900)  # an editor's later revision
    payment = invoice_of(submission)
    assert payment.amount == FEE and Submission.objects.get(pk=submission.pk).fee_mnt == FEE


# -- the payment cycle --------------------------------------------------------------------------


def test_paying_delivers_once_with_the_payment_block(client, service, paying, provider, agency_server):
    submission = apply(client, service)
    payment = invoice_of(submission)
    assert payment.reference.startswith("INV-") and payment.qr_text and payment.links
    assert provider.pay(payment.reference, callback="duplicate") == [200, 200]
    payment.refresh_from_db()
    submission.refresh_from_db()
    assert payment.state == PaymentState.PAID and submission.status == Status.PAID
    assert list(submission.events.values_list("status", flat=True)) == ["received", "awaiting_payment", "paid"]
    deliveries = list(Delivery.objects.filter(submission=submission))
    assert len(deliveries) == 1, "a duplicate callback plans nothing twice"
    assert attempt(deliveries[0].pk) == "delivered"
    sent = agency_server.received[-1].json()["metadata"]["payment"]
    assert sent["amount"] == FEE and sent["provider"] == "qpay" and sent["reference"] == payment.reference and sent["paid_at"]
    submission.refresh_from_db()
    assert submission.status == Status.DELIVERED


def test_the_payment_block_is_loaded_with_the_batch_not_in_the_sender_threads(
    client, service, paying, provider, django_assert_num_queries
):
    # Plugins build payloads in the worker's sender threads, which must not query the database.
    submission = apply(client, service)
    provider.pay(invoice_of(submission).reference)
    delivery = Delivery.objects.get(submission=submission)
    loaded = load_submissions([submission.pk])[submission.pk]
    with django_assert_num_queries(0):
        payment = DeliveryContext(delivery, loaded).metadata()["payment"]
    assert payment["amount"] == FEE and payment["provider"] == "qpay"


def test_a_double_click_makes_one_invoice(client, service, paying, provider):
    submission = apply(client, service)
    first, second = invoice_of(submission), invoice_of(submission)
    assert first.pk == second.pk and len(provider.invoices) == 1


def test_a_forged_callback_is_refused_and_marks_nothing_paid(client, service, paying, provider, caplog):
    submission = apply(client, service)
    payment = invoice_of(submission)
    assert provider.pay(payment.reference, callback="forged") == [403]
    submission.refresh_from_db()
    assert submission.status == Status.AWAITING_PAYMENT and not Delivery.objects.filter(submission=submission).exists()
    assert "payment callback refused" in caplog.text


def test_a_wrong_amount_is_refused_and_logged(client, service, paying, provider, caplog):
    submission = apply(client, service)
    payment = invoice_of(submission)
    assert provider.pay(payment.reference, callback="wrong_amount") == [400]
    provider.check_amount_override = FEE - 1  # the provider itself reports another amount
    with pytest.raises(payments.PaymentRefused):
        payments.check_with_provider(payment)
    submission.refresh_from_db()
    assert submission.status == Status.AWAITING_PAYMENT and "refused" in caplog.text


def test_a_callback_in_a_language_the_client_reads(client, service, paying):
    response = client.post(f"/api/v1/payments/{paying.pk}/callback", b"not json", content_type="application/json",
                           HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert message["en"] == "The callback's signature is missing or wrong." and message["mn"]
    assert client.post("/api/v1/payments/999999/callback", b"{}", content_type="application/json").status_code == 404


def test_a_lost_callback_is_found_by_polling_within_its_budget(client, service, paying, provider):
    submission = apply(client, service)
    payment = invoice_of(submission)
    provider.pay(payment.reference, callback="none")
    counts = payments.poll_open_payments(older_than_seconds=0, deadline_seconds=10)
    assert counts["paid"] == 1
    submission.refresh_from_db()
    assert submission.status == Status.PAID and Delivery.objects.filter(submission=submission).count() == 1


def test_a_late_callback_after_polling_changes_nothing(client, service, paying, provider):
    submission = apply(client, service)
    payment = invoice_of(submission)
    provider.pay(payment.reference, callback="late")
    payments.poll_open_payments(older_than_seconds=0)
    assert provider.send_late() == [200]
    assert Payment.objects.filter(submission=submission, state=PaymentState.PAID).count() == 1
    assert Delivery.objects.filter(submission=submission).count() == 1


def test_an_expired_invoice_is_replaced_and_paying_it_late_is_refunded(client, service, paying, provider):
    submission = apply(client, service)
    old = invoice_of(submission)
    Payment.objects.filter(pk=old.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    new = invoice_of(submission)
    assert new.pk != old.pk and Payment.objects.get(pk=old.pk).state == PaymentState.EXPIRED
    provider.pay(new.reference)
    provider.pay(old.reference)  # the citizen also paid the old QR code
    old.refresh_from_db()
    assert old.state == PaymentState.REFUNDED and old.refund_reference.startswith("REF-")
    assert provider.paid_total() == FEE, "the provider keeps exactly one fee"
    assert Payment.objects.filter(submission=submission, state=PaymentState.PAID).count() == 1


def test_the_provider_down_keeps_the_application(client, service, paying, provider):
    submission = apply(client, service)
    provider.down = True
    with pytest.raises(payments.PaymentUnavailable):
        invoice_of(submission)
    assert Submission.objects.filter(pk=submission.pk, status=Status.AWAITING_PAYMENT).exists()
    provider.down = False
    assert invoice_of(submission).state == PaymentState.PENDING


def test_a_rejected_paid_application_is_refunded_when_configured(client, service, paying, provider):
    from form_builder.stages import apply_status

    paying.options = {**paying.options, "refund_on_rejection": True}
    paying.save()
    submission = apply(client, service)
    payment = invoice_of(submission)
    provider.pay(payment.reference)
    submission.refresh_from_db()
    with django_on_commit():
        apply_status(submission, Status.REJECTED, agency_code=service.agency.code, actor="agency")
    payment.refresh_from_db()
    assert payment.state == PaymentState.REFUNDED and provider.refunds == [{"invoice_id": payment.reference, "amount": FEE}]


def django_on_commit():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def test_the_qpay_options_are_validated(provider):
    from django.core.exceptions import ValidationError

    from plugins.registry import register

    plugin = register["qpay"]
    assert plugin.kind == "payment"
    with pytest.raises(ValidationError):
        plugin.clean_options({"url": "not a url", "merchant": "m", "secret": "s"})
    cleaned = plugin.clean_options(provider.options())
    assert cleaned["expiry_minutes"] == 30 and cleaned["refund_on_rejection"] is False
    assert json.dumps(cleaned)


# -- the citizen's path -------------------------------------------------------------------------


def html_application(client, service):
    """Go through the HTML steps and "check your answers"; return the response of submitting."""
    from tests.test_forms import STEP1, place_post, step_post

    step_post(client, service, 1, {**STEP1, **place_post(), "action": "next"})
    step_post(client, service, 2, {"request": "Миний хүсэлт", "consent": "on", "action": "next"})
    return client.post(f"/apply/{service.code}/review/")


def test_the_citizen_pays_after_checking_the_answers_and_the_receipt_shows_it(client, service, paying, provider):
    response = html_application(client, service)
    assert response.status_code == 302 and response.url.startswith("/pay/")
    submission = Submission.objects.get()
    page = client.get(response.url).content.decode()
    assert f"{FEE} ₮" in page and 'data-testid="pay"' in page and "<svg" not in page
    assert client.post(response.url, {"action": "pay"}).status_code == 302
    client.post(response.url, {"action": "pay"})  # a double click
    assert submission.payments.count() == 1 and len(provider.invoices) == 1
    page = client.get(response.url).content.decode()
    payment = submission.payments.get()
    assert "<svg" in page and "khanbank://" in page and payment.reference in page
    provider.pay(payment.reference, callback="none")  # the callback is lost: "I have paid" asks
    client.post(response.url, {"action": "check"})
    page = client.get(response.url).content.decode()
    assert 'data-state="paid"' in page
    receipt = client.get(f"/receipt/{submission.tracking_code}/").content.decode()
    assert payment.reference in receipt and 'data-state="paid"' in receipt
    track = client.get(f"/track/{submission.tracking_code}/").content.decode()
    assert payment.reference in track


def test_an_expired_invoice_offers_a_new_one(client, service, paying, provider):
    submission = apply(client, service)
    payment = invoice_of(submission)
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    page = client.get(f"/pay/{submission.tracking_code}/").content.decode()
    assert 'data-state="expired"' in page and 'data-testid="pay"' in page
    client.post(f"/pay/{submission.tracking_code}/", {"action": "pay"})
    assert submission.payments.filter(state=PaymentState.PENDING).exclude(pk=payment.pk).exists()


@pytest.mark.parametrize("language, text", [("mn", None), ("en", "The payment service is not answering right now.")])
def test_the_provider_down_is_a_clear_message_and_the_application_is_kept(client, service, paying, provider, language, text):
    submission = apply(client, service)
    provider.down = True
    prefix = "/en" if language == "en" else ""
    response = client.post(f"{prefix}/pay/{submission.tracking_code}/", {"action": "pay"})
    assert response.status_code == 503
    page = response.content.decode()
    assert 'data-testid="payment-error"' in page and (text is None or text in page)
    assert Submission.objects.filter(pk=submission.pk, status=Status.AWAITING_PAYMENT).exists()


def test_bad_input_on_the_payment_page_is_a_4xx(client, service, paying):
    submission = apply(client, service)
    assert client.post(f"/pay/{submission.tracking_code}/", {"action": "steal"}).status_code == 400
    assert client.get("/pay/TMN-0000-0000/").status_code == 404
    assert client.get("/pay/nonsense/").status_code == 404


def test_a_free_application_has_no_payment_step(client, service, paying):
    ServicePage.objects.filter(pk=service.pk).update(fee_mnt=0)
    response = html_application(client, service)
    assert "/receipt/" in response.url
    code = Submission.objects.get().tracking_code
    assert client.get(f"/pay/{code}/").status_code == 302


# -- the operator's path ------------------------------------------------------------------------


def test_the_operator_records_a_cash_payment_and_other_offices_get_404(service, paying, provider, agency_server):
    from tests.test_operators import IN_PERSON, apply_for_citizen, operator, soums

    soum, _same, other = soums()
    user, client = operator("op-pay", soum=soum)
    _other_user, other_client = operator("op-other", soum=other)
    apply_for_citizen(client, service, soum)
    response = client.post(f"/apply/{service.code}/review/", {"action": "submit", **IN_PERSON})
    assert response.status_code == 302 and response.url.startswith("/operator/pay/")
    submission = Submission.objects.get()
    assert other_client.get(response.url).status_code == 404, "another office's application"
    bad = client.post(response.url, {"action": "record", "method": "cash", "receipt_number": "<script>"})
    assert bad.status_code == 400 and submission.payments.count() == 0
    client.post(response.url, {"action": "record", "method": "cash", "receipt_number": "КА-000123"})
    payment = submission.payments.get()
    assert payment.state == PaymentState.PAID and payment.method == "cash" and payment.recorded_by == user
    assert payment.reference == "КА-000123"
    submission.refresh_from_db()
    assert submission.status == Status.PAID
    assert attempt(submission.deliveries.get().pk) == "delivered"
    assert agency_server.received[-1].json()["metadata"]["payment"]["method"] == "cash"
    again = client.post(response.url, {"action": "record", "method": "card", "receipt_number": "КА-000124"})
    assert again.status_code == 409 and submission.payments.count() == 1


def test_the_operator_can_show_the_qr_code(service, paying, provider):
    from tests.test_operators import IN_PERSON, apply_for_citizen, operator, soums

    soum, _same, _other = soums()
    _user, client = operator("op-qr", soum=soum)
    apply_for_citizen(client, service, soum)
    response = client.post(f"/apply/{service.code}/review/", {"action": "submit", **IN_PERSON})
    client.post(response.url, {"action": "pay"})
    assert "<svg" in client.get(response.url).content.decode()


# -- reconciliation -----------------------------------------------------------------------------


def test_the_reconciliation_report_matches_the_provider_and_is_agency_scoped(client, service, paying, provider, tmp_path):
    import io
    import subprocess
    import sys

    from django.core.management import call_command
    from django.test import Client
    from openpyxl import load_workbook

    from service_pages.governance import sync_agency_groups
    from service_pages.models import Agency
    from tests.test_governance import member

    for _ in range(3):
        payment = invoice_of(apply(client, service))
        provider.pay(payment.reference)
    late = invoice_of(apply(client, service))
    Payment.objects.filter(pk=late.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    payments.poll_open_payments(older_than_seconds=0)  # expires it
    provider.pay(late.reference)  # paid after expiry: refunded
    out = io.StringIO()
    call_command("payment_report", "--agency", service.agency.code, stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("day,method,paid_count,paid_mnt,refunded_count,refunded_mnt")
    day = timezone.localdate().isoformat()
    assert lines[1] == f"{day},online,4,{4 * FEE},1,{FEE},0,0"
    assert 4 * FEE - FEE == provider.paid_total(), "paid minus refunded is what the provider holds"

    sync_agency_groups()
    other = Agency.objects.exclude(pk=service.agency_id).order_by("code").first()
    staff_a = member("finance-a", f"{service.agency.code} editors")
    staff_b = member("finance-b", f"{other.code} editors")
    for user in (staff_a, staff_b):
        user.is_staff = True
        user.save()
    a, b = Client(), Client()
    a.force_login(staff_a)
    b.force_login(staff_b)
    url = f"/admin/payments/{service.agency.code}/"
    page = a.get(url)
    assert page.status_code == 200 and f'data-testid="paid-total">{4 * FEE}<' in page.content.decode()
    assert b.get(url).status_code == 404, "agency B's staff do not see A's payments"
    assert a.get(f"/admin/payments/{other.code}/").status_code == 404
    csv_text = a.get(url, {"format": "csv"}).content.decode()
    assert csv_text.splitlines()[1] == lines[1]
    workbook = load_workbook(io.BytesIO(a.get(url, {"format": "xlsx"}).content))
    assert list(workbook.active.iter_rows(values_only=True))[1][3] == 4 * FEE
    assert a.get(url, {"from": "yesterday"}).status_code == 400
    help_text = subprocess.run([sys.executable, "manage.py", "payment_report", "--help"], capture_output=True, text=True, timeout=120)
    assert help_text.returncode == 0 and "reconciliation" in help_text.stdout


# -- the API ------------------------------------------------------------------------------------


def test_the_payment_api_makes_one_invoice_and_answers_faults_in_both_languages(client, service, paying, provider):
    response = post_api(client, service.code, answers())
    body = response.json()
    assert body["status"] == "awaiting_payment" and body["fee_mnt"] == FEE and body["payment_url"].endswith("/payment")
    url = f"/api/v1/submissions/{body['tracking_code']}/payment"
    assert client.get(url).json()["state"] == "awaiting_payment"
    first = client.post(url)
    second = client.post(url)
    assert first.status_code == second.status_code == 201
    assert first.json()["invoice"]["reference"] == second.json()["invoice"]["reference"] and len(provider.invoices) == 1
    assert first.json()["invoice"]["qr_text"] and first.json()["invoice"]["links"]
    provider.pay(first.json()["invoice"]["reference"])
    paid = client.get(url).json()
    assert paid["state"] == "paid" and paid["paid"]["amount"] == FEE and paid["invoice"] is None
    assert client.post(url).status_code == 409

    other = post_api(client, service.code, answers()).json()["tracking_code"]
    provider.down = True
    down = client.post(f"/api/v1/submissions/{other}/payment", HTTP_ACCEPT_LANGUAGE="en")
    assert down.status_code == 503 and down.json()["error"]["code"] == "provider_unavailable"
    message = down.json()["error"]["message"]
    assert message["en"].startswith("The payment service is not answering") and message["mn"]
    assert client.get("/api/v1/submissions/TMN-0000-0000/payment").status_code == 404
    assert client.put(url).status_code == 405


def test_a_late_payment_of_an_expired_invoice_whose_callback_is_lost_is_found_and_refunded(client, service, paying, provider):
    submission = apply(client, service)
    payment = invoice_of(submission)
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=5))
    assert payments.poll_open_payments(older_than_seconds=0)["expired"] == 1
    provider.pay(payment.reference, callback="none")  # paid too late, and the callback is lost
    earlier = timezone.now() - datetime.timedelta(minutes=2)
    Payment.objects.filter(pk=payment.pk).update(checked_at=earlier, created_at=earlier - datetime.timedelta(minutes=30))
    assert payments.poll_open_payments(older_than_seconds=60)["refunded"] == 1
    payment.refresh_from_db()
    assert payment.state == PaymentState.REFUNDED and provider.paid_total() == 0, "never silently kept"
    submission.refresh_from_db()
    assert submission.status == Status.AWAITING_PAYMENT and not Delivery.objects.filter(submission=submission).exists()


def test_polling_works_within_its_time_budget(client, service, paying, provider):
    import time

    for _ in range(3):
        invoice_of(apply(client, service))
    provider.down = True  # every question fails: the pass still ends, and counts them
    started = time.monotonic()
    counts = payments.poll_open_payments(older_than_seconds=0, deadline_seconds=0.0)
    assert counts["checked"] == 0 and time.monotonic() - started < 5
    counts = payments.poll_open_payments(older_than_seconds=0, deadline_seconds=10)
    assert counts["unavailable"] == 3


def test_staff_see_the_payments_on_the_application(client, admin_client, service, paying, provider):
    submission = apply(client, service)
    payment = invoice_of(submission)
    provider.pay(payment.reference)
    page = admin_client.get(f"/admin/submissions/inspect/{submission.pk}/").content.decode()
    assert payment.reference in page and f"{FEE} MNT" in page


@pytest.mark.parametrize("config_id", ["null,null", "²", "9" * 30, "-1"])
def test_a_malformed_callback_address_is_a_json_404(client, config_id):
    response = client.post(f"/api/v1/payments/{config_id}/callback", b"{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "provider_not_found"


def test_a_rejected_cash_payment_is_left_for_the_office_to_give_back(client, service, paying):
    from django.contrib.auth.models import User

    from form_builder.stages import apply_status

    paying.options = {**paying.options, "refund_on_rejection": True}
    paying.save()
    submission = apply(client, service)
    operator = User.objects.create_user("cashier")
    payment = payments.record_office_payment(submission, method="cash", receipt_number="КА-1", operator=operator)
    submission.refresh_from_db()
    with django_on_commit():
        apply_status(submission, Status.REJECTED, agency_code=service.agency.code, actor="agency")
    payment.refresh_from_db()
    assert payment.state == PaymentState.REFUND_DUE and payment.note == "the agency rejected the application"
