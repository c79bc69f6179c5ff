"""Content-Security-Policy and Permissions-Policy: what each part of the site may load and use.

Two policies, both sent by django-csp:

- **the public site** (pages, forms, operator console, API): only this origin, nothing inline.
  Every script and style sheet is a static file; an inline ``<script>`` would need the request's
  nonce (``nonce="{{ request.csp_nonce }}"``, ``csp.constants.NONCE`` below), and there is none today.
- **the Wagtail admin** (everything under its URL prefix, login included): still only this origin,
  but with the relaxations Wagtail's own templates and widgets need, each explained in
  ``ADMIN_DIRECTIVES``. Staff sign in there; citizens never see it.

``ContentSecurityPolicyMiddleware`` picks the admin policy by path (django-csp's documented way
to customise the middleware is to extend ``get_policy_parts``); a view decorated with django-csp's
own ``@csp``/``@csp_replace`` still wins. ``TUMEN_CSP_REPORT_ONLY`` sends either policy as
``Content-Security-Policy-Report-Only`` instead, and ``TUMEN_CSP_REPORT_URI`` adds a
``report-uri``, for a deployment that wants to stage the policy first.
"""

from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.urls import reverse

PUBLIC_DIRECTIVES = {
    "default-src": [SELF],
    # NONCE is dropped from the header unless a template asked for request.csp_nonce.
    "script-src": [SELF, NONCE],
    "style-src": [SELF],
    # data: for the small SVGs/PNGs browsers and form widgets inline (e.g. a select's arrow).
    "img-src": [SELF, "data:"],
    "object-src": [NONE],
    "base-uri": [SELF],
    "form-action": [SELF],
    # Nobody frames the public site (clickjacking); X-Frame-Options DENY says the same to old browsers.
    "frame-ancestors": [NONE],
}

ADMIN_DIRECTIVES = {
    "default-src": [SELF],
    # Wagtail initialises its chooser widgets (page, snippet, image, document), InlinePanel and
    # date pickers with inline <script> elements (wagtail/wagtail#1288, #12940): the page editor
    # and the date filters of every listing need them. They are rendered without the request, so
    # they cannot carry a nonce, and their text varies per field, so hashes cannot list them.
    # Still no eval and no other origin.
    "script-src": [SELF, UNSAFE_INLINE],
    # The page editor's bundled libraries (wagtailadmin/js/vendor.js) add <style> elements as
    # they start. Wagtail's own stylesheets are static files.
    "style-src": [SELF, UNSAFE_INLINE],
    # blob: for the thumbnail of an image chosen for upload, shown before it is sent; data: for
    # images Wagtail's scripts build in memory (the img-src Wagtail documents, wagtail/wagtail#7053).
    "img-src": [SELF, "data:", "blob:"],
    "object-src": [NONE],
    "base-uri": [SELF],
    "form-action": [SELF],
    # The page editor's live preview is a frame of an admin URL in the admin itself.
    "frame-src": [SELF],
    "frame-ancestors": [SELF],
}


def directives_with_report_uri(directives: dict, report_uri: str) -> dict:
    """``directives`` plus ``report-uri`` when one is configured (a copy; the constants stay as they are)."""
    return {**directives, "report-uri": [report_uri]} if report_uri else dict(directives)


def is_admin_request(request) -> bool:
    """Under the Wagtail admin's URL prefix (``/admin/``, as the URLconf says rather than a second
    setting), or Wagtail's stand-in request for a page shown inside the admin (live preview,
    moderation, revisions): that one carries the public URL but is framed by the editor."""
    return getattr(request, "is_dummy", False) or request.path.startswith(reverse("wagtailadmin_home"))


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, sending ``TUMEN_ADMIN_CONTENT_SECURITY_POLICY`` under the admin prefix.

    The admin policy goes into whichever header the site uses (enforced or report-only); a view
    with its own django-csp decorator keeps its policy.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        site_policy = settings.CONTENT_SECURITY_POLICY_REPORT_ONLY if report_only else settings.CONTENT_SECURITY_POLICY
        if site_policy and parts.config is None and is_admin_request(request):
            parts.config = settings.TUMEN_ADMIN_CONTENT_SECURITY_POLICY["DIRECTIVES"]
        return parts


# Browser features no page of Tumen uses, switched off for the page and every frame in it (a
# script injected through some other hole cannot turn on the camera or ask for the position).
# Payments will leave the site for the provider's own pages, so "payment" stays off too.
PERMISSIONS_POLICY_DENIED = (
    "accelerometer",
    "autoplay",
    "browsing-topics",
    "camera",
    "display-capture",
    "geolocation",
    "gyroscope",
    "hid",
    "idle-detection",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "screen-wake-lock",
    "serial",
    "usb",
    "xr-spatial-tracking",
)
