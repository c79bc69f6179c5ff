"""Fees and payments: the :class:`Payment` of an application, its states and every transition.

A service page's ``fee_mnt`` is copied to ``Submission.fee_mnt`` when the application is made
(a later revision of the page never changes what an application was charged). An application
whose service charges a fee *and* has a payment provider waits in ``awaiting_payment``; it is
delivered to the agency only once a payment is confirmed (``stages.mark_paid`` then sends
``submission_paid``, which the plugins app answers by planning the deliveries). A free service,
or one whose agency has no payment provider, behaves as before: delivered at once.

``form_builder`` never imports ``plugins``: it asks for the provider of a submission through the
``payment_gateway_requested`` signal (sender ``Submission``; ``submission``, ``config_id``). The
plugins app answers with an object of the :class:`Gateway` shape (a configured payment plugin).

States of a payment::

    pending ──(confirmed by the provider, right amount and currency)──> paid ──> refunded
       │                                                                 (agency rejected)
       ├──(its expiry passed, nothing paid)──> expired ──(paid late)──> refunded / refund_due
       └──(the provider refused the invoice)──> failed

A payment confirmed while the application is already paid by another one (a second invoice, a
late payment of an expired one) is refunded at once, or left ``refund_due`` for staff when the
refund fails: money is never silently kept nor lost. Callbacks only say "ask me": the state
changes after the provider itself confirms (:func:`check_with_provider`), so a forged or
replayed callback cannot mark anything paid. Every transition happens under a lock of the
submission row, so duplicate callbacks, polling and a double click meet one after the other.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("tumen.payments")

CURRENCY = "MNT"


class PaymentState(models.TextChoices):
    PENDING = "pending", _("Waiting for payment")
    PAID = "paid", _("Paid")
    EXPIRED = "expired", _("Expired")
    FAILED = "failed", _("Failed")
    REFUNDED = "refunded", _("Refunded")
    REFUND_DUE = "refund_due", _("To be refunded by staff")


class PaymentMethod(models.TextChoices):
    ONLINE = "online", _("Online (QR code or bank app)")
    CASH = "cash", _("Cash at the office")
    CARD = "card", _("Card terminal at the office")


class Payment(models.Model):
    """One attempt to pay an application's fee: an invoice at a provider, or an office receipt."""

    submission = models.ForeignKey("form_builder.Submission", verbose_name=_("submission"), on_delete=models.PROTECT, related_name="payments")
    amount = models.PositiveIntegerField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, default=CURRENCY)
    method = models.CharField(_("method"), max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.ONLINE)
    provider = models.CharField(_("provider"), max_length=64, blank=True, help_text=_("The payment plugin, or 'office'."))
    # The plugins app's configuration that made the invoice (no foreign key: form_builder is below plugins).
    config_id = models.PositiveIntegerField(_("provider configuration"), null=True, blank=True)
    reference = models.CharField(_("reference"), max_length=100, blank=True, help_text=_("The provider's invoice, or the office receipt number."))
    provider_payment_id = models.CharField(_("provider's payment id"), max_length=100, blank=True)
    qr_text = models.TextField(_("QR code text"), blank=True)
    links = models.JSONField(_("bank app links"), default=list, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=PaymentState.choices, default=PaymentState.PENDING)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    checked_at = models.DateTimeField(_("last asked the provider"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True, db_index=True)
    refunded_at = models.DateTimeField(_("refunded"), null=True, blank=True, db_index=True)
    refund_reference = models.CharField(_("refund reference"), max_length=100, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("note for staff"), blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["created_at", "pk"]
        constraints = [
            # At most one payment counts for an application, and at most one invoice is open.
            models.UniqueConstraint(fields=["submission"], condition=Q(state="paid"), name="payment_paid_once"),
            models.UniqueConstraint(fields=["submission"], condition=Q(state="pending"), name="payment_one_open_invoice"),
        ]
        indexes = [models.Index(fields=["config_id", "reference"], name="payment_provider_reference")]

    def __str__(self):
        return f"{self.submission_id}: {self.amount} {self.currency} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state == PaymentState.PENDING and (self.expires_at is None or self.expires_at > timezone.now())


# -- what a provider gives back (the plugins' payment kind returns these) -------------------------


@dataclass
class Invoice:
    """A provider's invoice: its reference, the QR code's text, bank-app links, its expiry."""

    reference: str
    qr_text: str = ""
    links: list = field(default_factory=list)  # [{"name": "Khan Bank", "link": "khanbank://q?..."}]
    expires_at: datetime.datetime | None = None


@dataclass
class ProviderStatus:
    """What the provider says of an invoice when asked."""

    paid: bool
    amount: int = 0
    currency: str = CURRENCY
    paid_at: datetime.datetime | None = None
    payment_id: str = ""


class Gateway(Protocol):
    """The provider of one submission, as the plugins app hands it over (a configured plugin)."""

    provider: str
    config_id: int
    refund_on_rejection: bool

    def create_invoice(self, payment: Payment, *, key: str) -> Invoice: ...
    def check(self, payment: Payment) -> ProviderStatus: ...
    def refund(self, payment: Payment) -> str: ...


class PaymentUnavailable(Exception):
    """The provider cannot be reached or refused: the application is kept, the citizen told."""

    message = _("The payment service is not answering right now. Your application is saved: try paying again in a few minutes.")


class PaymentRefused(Exception):
    """A confirmation that does not match the invoice (amount, currency): refused and logged."""


def gateway_for(submission, config_id: int | None = None):
    """The provider of ``submission`` (or of the configuration that made an invoice), or None."""
    from .signals import payment_gateway_requested

    for _receiver, answer in payment_gateway_requested.send(sender=type(submission), submission=submission, config_id=config_id):
        if answer is not None:
            return answer
    return None


def payment_required(submission) -> bool:
    """Whether the application must be paid before it is delivered: a fee and a provider."""
    return submission.fee_mnt > 0 and gateway_for(submission) is not None


def paid_payment(submission) -> Payment | None:
    prefetched = getattr(submission, "paid_payments", None)  # set by paid_payments_prefetch()
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return submission.payments.filter(state=PaymentState.PAID).order_by("pk").first()


def paid_payments_prefetch() -> Prefetch:
    """What ``payment_block`` reads, loaded for a whole batch of submissions in one query.

    The delivery drain loads its batch up front because plugins build their payloads in sender
    threads that should not open database connections of their own.
    """
    paid = Payment.objects.filter(state=PaymentState.PAID).order_by("pk")
    return Prefetch("payments", queryset=paid, to_attr="paid_payments")


def _locked(submission):
    """Lock the submission row: every payment transition of one application runs one at a time."""
    from .models import Submission

    return Submission.objects.select_for_update(of=("self",)).get(pk=submission.pk)


def expire_if_due(payment: Payment, now=None) -> bool:
    now = now or timezone.now()
    if payment.state == PaymentState.PENDING and payment.expires_at is not None and payment.expires_at <= now:
        payment.state = PaymentState.EXPIRED
        payment.save(update_fields=["state"])
        return True
    return False


def start_payment(submission) -> Payment:
    """The open invoice of an unpaid application, made once: a double click, a second tab or
    a return visit finds the same invoice while it is valid; an expired one is replaced.
    Raises :class:`PaymentUnavailable` (nothing stored) when the provider does not answer."""
    from .models import Status

    with transaction.atomic():
        current = _locked(submission)
        done = paid_payment(current)
        if done is not None or current.status != Status.AWAITING_PAYMENT:
            return done or current.payments.last()
        pending = current.payments.filter(state=PaymentState.PENDING).first()
        if pending is not None and not expire_if_due(pending):
            return pending
        gateway = gateway_for(current)
        if gateway is None:
            raise PaymentUnavailable()
        number = current.payments.count() + 1
        payment = Payment(submission=current, amount=current.fee_mnt, provider=gateway.provider, config_id=gateway.config_id)
        try:
            invoice = gateway.create_invoice(payment, key=f"{current.tracking_code}-{number}")
        except Exception as error:  # the provider's errors are the plugins' business; the citizen is told
            logger.warning("payment: no invoice for %s (%s: %s)", current.tracking_code, type(error).__name__, error)
            raise PaymentUnavailable() from None
        payment.reference = invoice.reference[:100]
        payment.qr_text = invoice.qr_text
        payment.links = list(invoice.links or [])
        payment.expires_at = invoice.expires_at
        payment.save()
        transaction.on_commit(_poll_later, robust=True)  # a lost callback is found by polling
        return payment


def _poll_later():
    from .tasks import schedule_payment_poll

    schedule_payment_poll()


def check_with_provider(payment: Payment) -> Payment:
    """Ask the provider about ``payment`` and record what it says (a callback, polling, or the
    citizen's "I have paid"). Raises :class:`PaymentUnavailable` when it does not answer."""
    gateway = gateway_for(payment.submission, config_id=payment.config_id)
    if gateway is None:
        raise PaymentUnavailable()
    try:
        status = gateway.check(payment)
    except Exception as error:
        logger.warning("payment %s: the provider did not answer (%s)", payment.pk, type(error).__name__)
        raise PaymentUnavailable() from None
    Payment.objects.filter(pk=payment.pk).update(checked_at=timezone.now())
    if status.paid:
        return confirm(payment, status, gateway=gateway)
    with transaction.atomic():
        _locked(payment.submission)
        payment.refresh_from_db()
        expire_if_due(payment)
    return payment


def confirm(payment: Payment, status: ProviderStatus, *, gateway=None) -> Payment:
    """The provider says ``payment`` is paid: mark it (once), and the application paid, or
    refund it when it cannot count (expired invoice, application paid already)."""
    from .stages import mark_paid

    if status.amount != payment.amount or (status.currency or "").upper() != payment.currency:
        logger.warning(
            "payment %s refused: the provider reports %s %s, the invoice is for %s %s",
            payment.pk, status.amount, status.currency, payment.amount, payment.currency,
        )  # fmt: skip
        raise PaymentRefused("amount or currency differs from the invoice")
    refund_needed = False
    with transaction.atomic():
        submission = _locked(payment.submission)
        payment.refresh_from_db()
        if payment.state in (PaymentState.PAID, PaymentState.REFUNDED, PaymentState.REFUND_DUE):
            return payment  # a duplicate callback, or polling after the callback: nothing changes
        payment.paid_at = status.paid_at or timezone.now()
        payment.provider_payment_id = (status.payment_id or "")[:100]
        if payment.state == PaymentState.PENDING and paid_payment(submission) is None:
            payment.state = PaymentState.PAID
            payment.save(update_fields=["state", "paid_at", "provider_payment_id"])
            mark_paid(submission)
            return payment
        # Paid, but it cannot count: an expired (or failed) invoice, or a second payment.
        payment.note = "paid after it expired" if payment.state != PaymentState.PENDING else "application already paid"
        payment.state = PaymentState.REFUND_DUE
        payment.save(update_fields=["state", "paid_at", "provider_payment_id", "note"])
        refund_needed = True
        logger.warning("payment %s of %s: paid but not counted (%s); refunding", payment.pk, submission.tracking_code, payment.note)
    if refund_needed:
        refund(payment, gateway=gateway, reason=payment.note)
    return payment


def refund(payment: Payment, *, gateway=None, reason: str = "") -> bool:
    """Give a paid payment back through its provider; a failure leaves it ``refund_due`` for staff."""
    with transaction.atomic():
        _locked(payment.submission)
        payment.refresh_from_db()
        if payment.state not in (PaymentState.PAID, PaymentState.REFUND_DUE):
            return payment.state == PaymentState.REFUNDED
        if payment.method != PaymentMethod.ONLINE:
            payment.state, payment.note = PaymentState.REFUND_DUE, reason or payment.note
            payment.save(update_fields=["state", "note"])
            return False  # cash and card are given back at the office
        payment.state = PaymentState.REFUND_DUE
        payment.note = reason or payment.note
        payment.save(update_fields=["state", "note"])
    gateway = gateway or gateway_for(payment.submission, config_id=payment.config_id)
    try:
        if gateway is None:
            raise PaymentUnavailable()
        reference = gateway.refund(payment)
    except Exception as error:
        logger.warning("payment %s: refund failed (%s), left for staff", payment.pk, type(error).__name__)
        return False
    Payment.objects.filter(pk=payment.pk, state=PaymentState.REFUND_DUE).update(
        state=PaymentState.REFUNDED, refunded_at=timezone.now(), refund_reference=str(reference or "")[:100]
    )
    return True


def record_office_payment(submission, *, method: str, receipt_number: str, operator) -> Payment:
    """A soum operator took the fee in cash or on the card terminal (receipt number kept)."""
    from .models import Status
    from .stages import mark_paid

    with transaction.atomic():
        current = _locked(submission)
        done = paid_payment(current)
        if done is not None or current.status != Status.AWAITING_PAYMENT:
            return done
        current.payments.filter(state=PaymentState.PENDING).update(state=PaymentState.EXPIRED, note="paid at the office")
        payment = Payment.objects.create(
            submission=current, amount=current.fee_mnt, method=method, provider="office", reference=receipt_number[:100],
            state=PaymentState.PAID, paid_at=timezone.now(), recorded_by=operator,
        )  # fmt: skip
        mark_paid(current)
        return payment


def refund_after_rejection(submission) -> bool:
    """The agency rejected a paid application: refund when its provider's configuration says so
    (a cash or card payment is left ``refund_due``: the office gives it back)."""
    payment = paid_payment(submission)
    if payment is None:
        return False
    gateway = gateway_for(submission, config_id=payment.config_id) if payment.config_id else gateway_for(submission)
    if gateway is None or not gateway.refund_on_rejection:
        return False
    return refund(payment, gateway=gateway, reason="the agency rejected the application")


LATE_PAYMENT_GRACE = datetime.timedelta(hours=24)


def poll_open_payments(*, older_than_seconds: int = 60, limit: int = 200, deadline_seconds: float = 30.0) -> dict:
    """Ask the provider about invoices whose callback has not come (lost callbacks), the least
    recently asked first, within a time budget; expire those past their expiry. Invoices that
    expired in the last :data:`LATE_PAYMENT_GRACE` are asked too: one paid late whose callback
    was lost is still found, and refunded by :func:`confirm`. Returns counts."""
    started = timezone.now()
    stop_at = started + datetime.timedelta(seconds=deadline_seconds)
    counts = {"checked": 0, "paid": 0, "expired": 0, "refunded": 0, "unavailable": 0}
    cutoff = started - datetime.timedelta(seconds=older_than_seconds)
    due = Payment.objects.filter(
        Q(state=PaymentState.PENDING) | Q(state=PaymentState.EXPIRED, expires_at__gte=started - LATE_PAYMENT_GRACE, paid_at__isnull=True),
        method=PaymentMethod.ONLINE, created_at__lte=cutoff,
    )  # fmt: skip
    due = due.filter(Q(checked_at__isnull=True) | Q(checked_at__lte=cutoff)).select_related("submission")
    due = due.order_by(F("checked_at").asc(nulls_first=True), "created_at")
    for payment in due[:limit]:
        if timezone.now() >= stop_at:
            break
        counts["checked"] += 1
        try:
            result = check_with_provider(payment)
        except PaymentUnavailable:
            counts["unavailable"] += 1
            continue
        except PaymentRefused:
            continue
        if result.state == PaymentState.PAID:
            counts["paid"] += 1
        elif result.state == PaymentState.EXPIRED:
            counts["expired"] += 1
        elif result.state in (PaymentState.REFUNDED, PaymentState.REFUND_DUE):
            counts["refunded"] += 1
    return counts


def payment_block(submission) -> dict | None:
    """The payment as the agency receives it in the delivery payload (None: nothing to pay)."""
    payment = paid_payment(submission)
    if payment is None:
        return None
    return {
        "amount": payment.amount,
        "currency": payment.currency,
        "method": payment.method,
        "provider": payment.provider,
        "reference": payment.reference,
        "paid_at": payment.paid_at.isoformat() if payment.paid_at else None,
    }
