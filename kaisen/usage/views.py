"""Usage pages: the tenant's monthly overview and a line's data usage (issue 4 §7, M-DL-5, X-PLOT), and the
operator's usage-file imports (issue 4 §1, staff only)."""

from __future__ import annotations

import csv
import datetime as dt
from typing import IO, Any, cast

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kaisen.access.actions import USAGE_READ
from kaisen.access.services import authorize
from kaisen.core import clock
from kaisen.core.calendar import month_start, previous_month
from kaisen.core.csvsafe import csv_safe
from kaisen.core.errors import DomainError, NotFound
from kaisen.core.web import request_tenant, request_user, staff_required, tenant_user_required
from kaisen.usage.ingest import usage_file_import, usage_rematch
from kaisen.usage.models import UnmatchedCall, UnmatchedDataUsage, UsageFile, UsageFileKind, UsageRowError
from kaisen.usage.selectors import (
    default_window_end,
    line_data_usage,
    parse_month,
    usage_summary,
)

MB = 1024 * 1024
GB = 1024 * MB
OVERVIEW_MONTHS = 7  # this month and the 6 before it: the demo's history and the statements' window


def _month_choices(today: dt.date) -> list[tuple[str, str]]:
    month = month_start(today)
    out = []
    for _i in range(OVERVIEW_MONTHS):
        out.append((f"{month:%Y-%m}", date_format(month, "YEAR_MONTH_FORMAT")))
        month = previous_month(month)
    return out


@tenant_user_required
def overview(request: HttpRequest) -> HttpResponse:
    """A month of the tenant's usage: total data per day and call minutes per day, chart and table."""
    tenant, user = request_tenant(request), request_user(request)
    authorize(user=user, action=USAGE_READ)  # 403 before anything else, even for a malformed month
    try:
        month = parse_month(request.GET.get("month"))
    except DomainError as exc:
        return render(request, "usage/overview.html", {"error": exc.message,
                                                       "months": _month_choices(clock.today_jst())}, status=400)
    summary = usage_summary(user=user, tenant=tenant, month=month)
    today = clock.today_jst()
    past = [d.day <= today for d in summary.days]  # days still to come draw nothing, not zero
    chart = {
        "labels": [f"{d.day.month}/{d.day.day}" for d in summary.days],
        "bars": {"label": _("Data (GB)"),
                 "data": [round(d.data_bytes / GB, 3) if p else None for d, p in zip(summary.days, past, strict=True)]},
        "line": {"label": _("Call minutes"),
                 "data": [round(d.call_seconds / 60, 1) if p else None
                          for d, p in zip(summary.days, past, strict=True)]},
        "y_bars": _("GB"), "y_line": _("min"),
    }
    return render(request, "usage/overview.html", {
        "summary": summary, "chart": chart, "month": f"{summary.month:%Y-%m}", "months": _month_choices(today),
        "days": [d for d in summary.days if d.day <= today],
    })


@tenant_user_required
def line_usage(request: HttpRequest, line_id: int) -> HttpResponse:
    """A line's data usage for the 7 days ending today − 2 (M-DL-5) and last month's total."""
    tenant, user = request_tenant(request), request_user(request)
    end = None
    error = None
    if request.GET.get("end"):
        try:
            end = dt.date.fromisoformat(request.GET["end"])
        except ValueError:
            error = _("Give the date as YYYY-MM-DD.")
    try:
        usage = line_data_usage(user=user, tenant=tenant, line_id=line_id, end=end)
    except NotFound as exc:
        raise Http404 from exc
    chart = {
        "labels": [f"{d.month}/{d.day}" for d, _b in usage.days],
        "bars": {"label": _("Data (MB)"), "data": [round(b / MB, 1) for _d, b in usage.days]},
        "y_bars": _("MB"),
    }
    if usage.allowance_bytes:
        chart["reference"] = {"label": _("Allowance per day (1/30 of the month)"),
                              "value": round(usage.allowance_bytes / 30 / MB, 1)}
    return render(request, "usage/line.html", {
        "usage": usage, "line": usage.line, "chart": chart, "error": error,
        "earlier": usage.window_end - dt.timedelta(days=7), "later": usage.window_end + dt.timedelta(days=7),
        "has_later": usage.window_end < default_window_end(), "days_desc": list(reversed(usage.days)),
    }, status=400 if error else 200)


# ------------------------------------------------------------------------------------------------
# Operator: imports (staff only)
# ------------------------------------------------------------------------------------------------

@staff_required
def imports(request: HttpRequest) -> HttpResponse:
    """Upload a usage file; the imported files with their counts; what is kept aside for unknown lines."""
    if request.method == "POST":
        upload = request.FILES.get("file")
        kind = request.POST.get("kind") or None
        if upload is None:
            messages.error(request, _("Choose a file to import."))
            return redirect("usage:imports")
        try:
            fileobj = cast(IO[bytes], upload.file)
            result = usage_file_import(fileobj=fileobj, name=upload.name or "upload.csv", kind=kind,
                                       imported_by=request.user.get_username())
        except DomainError as exc:
            messages.error(request, str(exc.message))
            return redirect("usage:imports")
        f = result.file
        if result.already_imported:
            messages.info(request, _("%(name)s was already imported on %(when)s (same content): nothing changed.")
                          % {"name": upload.name, "when": date_format(localtime(f.imported_at), "Y-m-d H:i")})
        else:
            messages.success(request, _("%(name)s imported: %(loaded)s rows loaded, %(dup)s already present, "
                                        "%(rejected)s rejected, %(unmatched)s for unknown lines.")
                             % {"name": f.name, "loaded": f.rows_loaded, "dup": f.rows_duplicate,
                                "rejected": f.rows_rejected, "unmatched": f.rows_unmatched})
        return redirect("usage:import_detail", file_id=f.pk)
    files = UsageFile.objects.order_by("-imported_at", "-id")[:100]
    return render(request, "usage/imports.html", {
        "files": files, "kinds": UsageFileKind.choices,
        "unmatched_calls": UnmatchedCall.objects.count(), "unmatched_data": UnmatchedDataUsage.objects.count(),
    })


@staff_required
def import_detail(request: HttpRequest, file_id: int) -> HttpResponse:
    f = get_object_or_404(UsageFile, pk=file_id)
    return render(request, "usage/import_detail.html", {
        "file": f, "errors": UsageRowError.objects.filter(source_file=f).order_by("row_no")[:200],
        "unmatched_calls": UnmatchedCall.objects.filter(source_file=f).order_by("row_no")[:200],
        "unmatched_data": UnmatchedDataUsage.objects.filter(source_file=f).order_by("row_no")[:200],
    })


class _Echo:
    def write(self, value: str) -> str:
        return value


@staff_required  # type: ignore[arg-type]
def import_errors_csv(request: HttpRequest, file_id: int) -> StreamingHttpResponse:
    """The file's error report: row number (the header is row 1), reason code, reason, the row as read."""
    f = get_object_or_404(UsageFile, pk=file_id)
    writer = csv.writer(_Echo(), lineterminator="\r\n")

    def rows() -> Any:
        yield "\ufeff" + writer.writerow(["row", "code", "reason", "content"])
        for e in UsageRowError.objects.filter(source_file=f).order_by("row_no").iterator(chunk_size=2000):
            yield writer.writerow([e.row_no, e.code, csv_safe(e.message), csv_safe(e.raw)])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-errors-{f.pk}.csv"'
    return response


@staff_required
@require_POST
def rematch(request: HttpRequest) -> HttpResponse:
    result = usage_rematch()
    messages.success(request, _("Matched again: %(calls)s calls and %(data)s data rows moved to their lines; "
                                "%(left_calls)s calls and %(left_data)s data rows are still for unknown lines.")
                     % {"calls": result.calls_matched, "data": result.data_matched,
                        "left_calls": result.calls_left, "left_data": result.data_left})
    return redirect("usage:imports")
