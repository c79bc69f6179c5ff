"""The reconciliation report in the admin (``/admin/payments/``), scoped to the user's agencies.

Staff of agency A see A's report only: any other agency's code is a 404, as everywhere in the
admin (``service_pages.governance.agency_codes_for``). The data is ``payment_report``'s.
"""

from __future__ import annotations

import datetime

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from service_pages.governance import agency_codes_for
from service_pages.models import Agency

from . import payment_report


def _agencies(user):
    codes = agency_codes_for(user)
    agencies = Agency.objects.order_by("code")
    return agencies if codes is None else agencies.filter(code__in=codes)


def _day(value: str):
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return "invalid"


def report_index(request):
    return render(request, "form_builder/admin/payment_report.html", {"agencies": _agencies(request.user)})


def agency_report(request, agency_code):
    """The report on the page, or as ``?format=csv`` / ``?format=xlsx`` (a download)."""
    agency = _agencies(request.user).filter(code=agency_code).first()
    if agency is None:
        raise Http404
    start, end = _day(request.GET.get("from", "")), _day(request.GET.get("to", ""))
    if "invalid" in (start, end):
        context = {"agency": agency, "error": _("Enter dates as YYYY-MM-DD."), "agencies": _agencies(request.user)}
        return render(request, "form_builder/admin/payment_report.html", context, status=400)
    rows = payment_report.report_rows(payment_report.agency_payments(agency.code), start, end)
    kind = request.GET.get("format", "")
    if kind in ("csv", "xlsx"):
        data = payment_report.as_csv(rows) if kind == "csv" else payment_report.as_xlsx(rows)
        content_type = "text/csv; charset=utf-8" if kind == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="payments-{agency.code}.{kind}"'
        return response
    context = {"agency": agency, "rows": rows, "totals": payment_report.totals(rows), "agencies": _agencies(request.user),
               "start": request.GET.get("from", ""), "end": request.GET.get("to", "")}  # fmt: skip
    return render(request, "form_builder/admin/payment_report.html", context)
