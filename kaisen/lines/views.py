"""Line list (M-DL-4 fields), status lookup and the line status page (M-LINE-1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kaisen.access import actions
from kaisen.access.services import authorize
from kaisen.core.errors import DomainError, NotFound
from kaisen.core.templatetags.kaisen_ui import yen
from kaisen.core.web import request_tenant, request_user, tenant_user_required
from kaisen.lines.forms import LineFilterForm, LineLookupForm
from kaisen.lines.models import LinePeriod
from kaisen.lines.selectors import (
    DEFAULT_SORT,
    LineFilters,
    line_count,
    line_export_qs,
    line_get,
    line_history,
    line_list,
    line_lookup,
    line_position,
    plan_list,
)

#: Columns of the list that can be sorted (keys of ``selectors.SORTS`` without the sign).
SORTABLE = ("msisdn", "iccid", "started_on")


@dataclass(frozen=True)
class SortLink:
    active: bool
    descending: bool
    next_sort: str


def _sort_links(current: str) -> dict[str, SortLink]:
    links = {}
    for field in SORTABLE:
        active = current.lstrip("-") == field
        descending = current.startswith("-")
        links[field] = SortLink(active=active, descending=active and descending,
                                next_sort=f"-{field}" if active and not descending else field)
    return links


@tenant_user_required
def line_list_view(request: HttpRequest) -> HttpResponse:
    tenant = request_tenant(request)
    authorize(user=request_user(request), action=actions.LINE_READ)
    form = LineFilterForm(request.GET, plans=plan_list())
    context: dict[str, Any] = {"form": form, "page": None, "total": None, "error": None,
                               "sort_links": _sort_links(DEFAULT_SORT)}
    if not form.is_valid():
        context["error"] = _("Some search conditions are not valid: %(fields)s") % {
            "fields": ", ".join(str(form.fields[name].label or name) for name in form.errors)
        }
        return render(request, "lines/list.html", context, status=400)
    data = form.cleaned_data
    filters = LineFilters(status=data["status"], carrier=data["carrier"], sim_type=data["sim_type"],
                          plan=data["plan"], q=data["q"])
    context["sort_links"] = _sort_links(data["sort"])
    try:
        context["page"] = line_list(tenant=tenant, filters=filters, sort=data["sort"],
                                    cursor=data["cursor"] or None, size=data["size"], user=request_user(request))
        context["total"] = line_count(tenant=tenant, filters=filters, user=request_user(request))
        items = context["page"].items
        if items:
            start = line_position(tenant=tenant, filters=filters, sort=data["sort"], first=items[0],
                                  user=request_user(request)) + 1
            context["position"] = {"start": start, "end": start + len(items) - 1}
    except DomainError as exc:
        context["error"] = exc.message
        return render(request, "lines/list.html", context, status=400)
    context["filtered"] = any((filters.status, filters.carrier, filters.sim_type, filters.plan, filters.q))
    return render(request, "lines/list.html", context)


@tenant_user_required
def line_lookup_view(request: HttpRequest) -> HttpResponse:
    authorize(user=request_user(request), action=actions.LINE_READ)
    form = LineLookupForm(request.GET if "q" in request.GET else None)
    error: str | Promise | None = None
    if form.is_bound and form.is_valid():
        try:
            line = line_lookup(tenant=request_tenant(request), query=form.cleaned_data["q"],
                               user=request_user(request))
        except NotFound:
            error = _("No line with this phone number or SIM serial number was found in your contract.")
        except DomainError as exc:
            error = exc.message
        else:
            return redirect("lines:detail", pk=line.pk)
    return render(request, "lines/lookup.html", {"form": form, "error": error}, status=400 if error else 200)


#: Voice options (M-PROC-2) in display order, with how to show each value.
VOICE_OPTION_LABELS = {
    "flat_rate_calling": gettext_lazy("Flat-rate calling"),
    "voicemail": gettext_lazy("Voicemail"),
    "call_waiting": gettext_lazy("Call waiting"),
    "call_forwarding": gettext_lazy("Call forwarding"),
    "group_calling": gettext_lazy("Group calling"),
    "number_block": gettext_lazy("Number block"),
    "international_call_cap": gettext_lazy("International calling (spend cap)"),
    "international_roaming_cap": gettext_lazy("International roaming (spend cap)"),
    "network_pin": gettext_lazy("Network PIN"),
}


def _voice_option_rows(options: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    keys = [k for k in VOICE_OPTION_LABELS if k in options] + sorted(k for k in options if k not in VOICE_OPTION_LABELS)
    for key in keys:
        value = options[key]
        if isinstance(value, bool):
            shown = _("Subscribed") if value else _("Not subscribed")
        elif key.endswith("_cap") and isinstance(value, int):
            shown = yen(value) if value else _("Not available (cap 0 yen)")
        elif key == "network_pin":
            shown = _("Set") if value else _("Not set")
        else:
            shown = str(value)
        rows.append((str(VOICE_OPTION_LABELS.get(key, key)), shown))
    return rows


@dataclass(frozen=True)
class HistoryRow:
    """One interval of the line's history on the status page (issue 10 §1), with its voice options shown."""

    period: LinePeriod
    options: list[tuple[str, str]]


@tenant_user_required
def line_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        line = line_get(tenant=request_tenant(request), line_id=pk, user=request_user(request))
    except NotFound as exc:
        raise Http404 from exc
    tenant = request_tenant(request)
    history = [HistoryRow(period=p, options=_voice_option_rows(p.voice_options or {}))
               for p in reversed(line_history(tenant=tenant, line=line))]
    return render(request, "lines/detail.html", {
        "line": line, "voice_options": _voice_option_rows(line.voice_options or {}), "history": history,
    })


#: The CSV columns of the line list export (the list's own columns, codes and dates as in the bulk CSV).
EXPORT_HEADER = ["msisdn", "iccid", "plan", "carrier", "sim_type", "sim_size", "shipped_on", "started_on",
                 "scheduled_end_on", "status"]


@tenant_user_required
def line_export_view(request: HttpRequest) -> HttpResponse:
    """The filtered line list as CSV (issue 14): the same conditions and order as the page, every row, UTF-8
    with a BOM and CRLF; cells are formula-safe."""
    import csv
    import io

    from kaisen.core import clock
    from kaisen.core.csvsafe import csv_safe

    tenant = request_tenant(request)
    authorize(user=request_user(request), action=actions.LINE_READ)
    form = LineFilterForm(request.GET, plans=plan_list())
    if not form.is_valid():
        message = _("Some search conditions are not valid: %(fields)s") % {
            "fields": ", ".join(str(form.fields[name].label or name) for name in form.errors)}
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    data = form.cleaned_data
    filters = LineFilters(status=data["status"], carrier=data["carrier"], sim_type=data["sim_type"],
                          plan=data["plan"], q=data["q"])
    try:
        lines = line_export_qs(tenant=tenant, filters=filters, sort=data["sort"], user=request_user(request))
    except DomainError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    for line in lines.iterator(chunk_size=1000):
        writer.writerow([csv_safe(v) for v in (
            line.msisdn or "", line.iccid, line.plan.code if line.plan_id else "", line.carrier, line.sim_type,
            line.sim_size, line.shipped_on or "", line.started_on or "", line.scheduled_end_on or "", line.status)])
    response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
    name = f"lines-{tenant.public_id}-{clock.now_jst():%Y%m%d-%H%M%S}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
