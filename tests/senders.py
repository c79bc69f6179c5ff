"""Test support: an SMS sender that keeps what it would have sent (like Django's locmem e-mail backend).

Tests name it in ``TUMEN_CONSENT_SENDER`` / ``TUMEN_NOTIFY_SENDER`` as ``tests.senders.MemorySender``
and read (and clear) ``MemorySender.outbox``.
"""


class MemorySender:
    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str):
        MemorySender.outbox.append((phone, text))
