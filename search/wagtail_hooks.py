"""Search in the admin: the search analytics report and its one-step fixes, and the popularity hook.

The report (``search.report``) is scoped to the user's agencies; adding a synonym or a best bet
from it goes through ``search.editorial`` (the one owner of those rules) and needs the same
permission as adding one among the snippets.
"""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from search import editorial, popularity, report
from service_pages.governance import agency_codes_for


@hooks.register("tumen_service_popularity")
def service_popularity(page) -> float:
    """``ServicePage.search_popularity`` (indexed in the engine) asks this."""
    return popularity.score_of(page)


def may_see_report(user) -> bool:
    codes = agency_codes_for(user)
    return codes is None or bool(codes)


def _choices(request):
    """(week, agency) chosen in the query string; 404 for an agency the user may not see."""
    weeks = report.weeks()
    try:
        week = datetime.date.fromisoformat(request.GET.get("week") or request.POST.get("week") or "")
    except ValueError:
        week = weeks[0]
    week = popularity.week_of(week)
    agencies = report.agencies_for(request.user)
    code = request.GET.get("agency") or request.POST.get("agency") or ""
    agency = None
    if code:
        agency = agencies.filter(code=code).first()
        if agency is None:
            raise Http404
    return weeks, week, agencies, agency


def search_report(request, error: str = "", status: int = 200):
    """The report page: top, zero-result and no-click queries of one week."""
    if not may_see_report(request.user):
        raise PermissionDenied
    weeks, week, agencies, agency = _choices(request)
    context = {
        "report": report.build(request.user, week, agency),
        "weeks": weeks,
        "agencies": agencies,
        "error": error,
        "can_add_synonym": request.user.has_perm("tumen_search.add_synonym"),
        "can_add_best_bet": request.user.has_perm("tumen_search.add_bestbet"),
    }
    return render(request, "search/admin/report.html", context, status=status)


def _back(request):
    params = {name: request.POST[name] for name in ("week", "agency") if request.POST.get(name)}
    return redirect(reverse("search_report") + ("?" + urlencode(params) if params else ""))


@require_POST
def add_synonym(request):
    """One step from a zero-result query: it now means the same as the words the editor gives."""
    if not may_see_report(request.user) or not request.user.has_perm("tumen_search.add_synonym"):
        raise PermissionDenied
    query, words = request.POST.get("query", ""), request.POST.get("words", "")
    try:
        editorial.add_synonym(query, words)
    except ValidationError as error:
        return search_report(request, error=" ".join(error.messages), status=400)
    messages.success(request, _("“%(query)s” now also finds “%(words)s”.") % {"query": query, "words": words})
    return _back(request)


@require_POST
def add_best_bet(request):
    """One step from a zero-result query: a service pinned on top of its results."""
    if not may_see_report(request.user) or not request.user.has_perm("tumen_search.add_bestbet"):
        raise PermissionDenied
    query, code = request.POST.get("query", ""), request.POST.get("code", "")
    try:
        editorial.add_best_bet(query, code)
    except ValidationError as error:
        return search_report(request, error=" ".join(error.messages), status=400)
    messages.success(request, _("%(code)s is now recommended for “%(query)s”.") % {"query": query, "code": code})
    return _back(request)


@hooks.register("register_admin_urls")
def register_report_urls():
    return [
        path("search-report/", search_report, name="search_report"),
        path("search-report/synonym/", add_synonym, name="search_report_synonym"),
        path("search-report/best-bet/", add_best_bet, name="search_report_best_bet"),
    ]


class ReportMenuItem(MenuItem):
    def is_shown(self, request):
        return may_see_report(request.user)


@hooks.register("register_reports_menu_item")
def register_report_menu_item():
    return ReportMenuItem(gettext_lazy("Search analytics"), reverse("search_report"), icon_name="search", order=900)
