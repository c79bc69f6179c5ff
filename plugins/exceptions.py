"""The exceptions of the plugin core: what a plugin of any kind may raise for the core to handle.

Contrib and third-party plugins raise these (or subclasses of them); the core (``delivery``,
``checks``, ``sms``) catches these, never one plugin's own class. ``plugins.base`` re-exports
them for plugin authors.
"""

from __future__ import annotations


class PluginError(Exception):
    """Base of the errors a plugin reports to the core (anything else is a bug in the plugin)."""


class PluginUnavailable(PluginError):
    """The system the plugin talks to did not answer in time, or answered nonsense.

    A pre-submit check raising it lets the configuration's ``on_timeout`` decide: accept the
    submission (the default) or refuse it.
    """


class DeliveryError(PluginError):
    """A failed delivery attempt. ``retryable=False`` sends the delivery to the dead letters now."""

    def __init__(self, message: str, *, retryable: bool = True, status_code: int | None = None):
        super().__init__(message)
        self.retryable, self.status_code = retryable, status_code


class SmsError(PluginError):
    """The SMS gateway did not take the message. Its text is logged and shown to staff, so it must
    never contain the phone number or the message (which may hold a consent code)."""


class ReferenceNotFound(PluginError):
    """A reference source's register has no record to make this document from (the citizen is not
    in it, or the reference does not apply to them). ``message`` is the agency's ``{"mn", "en"}``
    text for the citizen, if it gave one; retrying will not change the answer."""

    def __init__(self, message: str = "", *, texts: dict | None = None):
        super().__init__(message or "no record")
        self.texts = {key: str(value)[:300] for key, value in (texts or {}).items() if key in ("mn", "en") and value}
