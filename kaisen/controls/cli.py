"""``kaisen admin controls …`` (operator, server side) and ``kaisen notices …`` (customer, over the API).

Issue 15: maintenance windows, reception hours, closed days, notices and service switches. Times are given in
ISO 8601; without an offset they are Japan time.
"""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Annotated, Any

import typer

from kaisen.core.cli import FormatOpt, UrlOpt, api, django_setup, emit

controls_admin_app = typer.Typer(help="Operator: maintenance windows, reception hours, closed days, notices and "
                                      "service switches (in force without a restart).", no_args_is_help=True)
notices_app = typer.Typer(help="Notices from the operator, reception hours and the services of your contract.",
                          no_args_is_help=True)

ACTOR = f"cli:{getpass.getuser()}"
TenantsOpt = Annotated[list[str] | None, typer.Option("--tenant", help="Operator ID of a tenant (repeat); none: all.")]


def _when(value: str | None, name: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    from kaisen.core import clock

    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        typer.echo(f"VALIDATION_ERROR: {name}: give a date and time like 2026-12-24T22:00.", err=True)
        raise typer.Exit(2) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=clock.JST)


def _required(value: str, name: str) -> dt.datetime:
    parsed = _when(value, name)
    if parsed is None:
        typer.echo(f"VALIDATION_ERROR: {name} is required.", err=True)
        raise typer.Exit(2)
    return parsed


def _run(call: Any) -> Any:
    from kaisen.core.errors import DomainError

    try:
        return call()
    except DomainError as exc:
        typer.echo(f"{exc.code}: {exc.message}", err=True)
        raise typer.Exit(1) from exc


def _window_row(window: Any) -> dict[str, Any]:
    return {"id": window.pk, "starts_at": window.starts_at, "ends_at": window.ends_at,
            "functions": ",".join(window.functions), "tenants": ",".join(t.public_id for t in window.tenants.all())
            or "all", "reads_allowed": window.reads_allowed, "cancelled": window.cancelled_at is not None,
            "reason_ja": window.reason_ja, "reason_en": window.reason_en}


# --- operator -----------------------------------------------------------------------------------------------

@controls_admin_app.command("windows")
def windows(fmt: FormatOpt = None) -> None:
    """List maintenance windows, newest first."""
    django_setup()
    from kaisen.controls.models import MaintenanceWindow

    emit([_window_row(w) for w in MaintenanceWindow.objects.prefetch_related("tenants")[:200]])


@controls_admin_app.command("window-add")
def window_add(
    start: Annotated[str, typer.Option("--start", help="Start, e.g. 2026-12-24T22:00 (Japan time).")],
    end: Annotated[str, typer.Option("--end", help="End (the function is back at this moment).")],
    reason_ja: Annotated[str, typer.Option("--reason-ja", help="Reason in Japanese (shown to customers).")],
    reason_en: Annotated[str, typer.Option("--reason-en", help="Reason in English.")],
    function: Annotated[list[str], typer.Option("--function", help="portal, procedures, procedure.<kind>, "
                                                "statements, payments, imports or api (repeat).")],
    tenant: TenantsOpt = None,
    reads_allowed: Annotated[bool, typer.Option("--reads-allowed", help="Pages and reads stay available.")] = False,
    announce_from: Annotated[str | None, typer.Option("--announce-from", help="Banner from (default: 3 days "
                                                      "before the start).")] = None,
    fmt: FormatOpt = None,
) -> None:
    """Schedule a maintenance window."""
    django_setup()
    from kaisen.controls import services

    window = _run(lambda: services.window_schedule(
        starts_at=_required(start, "--start"), ends_at=_required(end, "--end"), functions=function, reason_ja=reason_ja,
        reason_en=reason_en, tenants=tenant, reads_allowed=reads_allowed,
        announce_from=_when(announce_from, "--announce-from"), actor=ACTOR))
    emit(_window_row(window))


@controls_admin_app.command("window-end")
def window_end(window_id: Annotated[int, typer.Argument()], fmt: FormatOpt = None) -> None:
    """End a running window now (or cancel one that has not started)."""
    django_setup()
    from kaisen.controls import services

    emit(_window_row(_run(lambda: services.window_end(window_id=window_id, actor=ACTOR))))


@controls_admin_app.command("window-extend")
def window_extend(window_id: Annotated[int, typer.Argument()],
                  end: Annotated[str, typer.Option("--end", help="The new end.")], fmt: FormatOpt = None) -> None:
    """Move a window's end."""
    django_setup()
    from kaisen.controls import services

    emit(_window_row(_run(lambda: services.window_extend(window_id=window_id, ends_at=_required(end, "--end"),
                                                         actor=ACTOR))))


@controls_admin_app.command("hours")
def hours(history: Annotated[bool, typer.Option("--history", help="Every change, not only what is in force.")]
          = False, fmt: FormatOpt = None) -> None:
    """Reception hours in force (or their history)."""
    django_setup()
    from kaisen.controls import services

    if history:
        emit([{"function": r.function or "*", "opens": f"{r.opens:%H:%M}", "closes": f"{r.closes:%H:%M}",
               "effective_from": r.effective_from, "by": r.created_by, "note": r.note}
              for r in services.hours_history()])
    else:
        emit(services.hours_in_force())


@controls_admin_app.command("hours-set")
def hours_set(
    function: Annotated[str, typer.Argument(help="'*' for every procedure, procedure.<kind>, or carrier.softbank.")],
    opens: Annotated[str, typer.Argument(help="HH:MM")], closes: Annotated[str, typer.Argument(help="HH:MM, the "
                                                                                            "last minute included")],
    effective_from: Annotated[str | None, typer.Option("--from", help="In force from (default now).")] = None,
    note: Annotated[str, typer.Option("--note")] = "", fmt: FormatOpt = None,
) -> None:
    """Change reception hours (the previous ones stay in the history)."""
    django_setup()
    from kaisen.controls import services

    row = _run(lambda: services.hours_set(function="" if function == "*" else function, opens=opens, closes=closes,
                                          effective_from=_when(effective_from, "--from"), note=note, actor=ACTOR))
    emit({"function": row.function or "*", "opens": f"{row.opens:%H:%M}", "closes": f"{row.closes:%H:%M}",
          "effective_from": row.effective_from})


def _day(value: str | None, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        typer.echo(f"VALIDATION_ERROR: {name}: give the day as YYYY-MM-DD.", err=True)
        raise typer.Exit(2) from None


def _closed_row(row: Any) -> dict[str, Any]:
    from kaisen.core import clock

    return {"id": row.pk, "day": row.day_label, "yearly": row.yearly, "closed": row.closed,
            "effective_from": str(row.effective_from),
            "changed_at": row.created_at.astimezone(clock.JST).isoformat(timespec="seconds"), "by": row.created_by,
            "note": row.note}


@controls_admin_app.command("closed-days")
def closed_days(history: Annotated[bool, typer.Option("--history", help="Every change to the calendar, not only "
                                                      "the days closed ahead.")] = False,
                fmt: FormatOpt = None) -> None:
    """Closed days of the company calendar for the next twelve months (or the history of its changes)."""
    django_setup()
    from kaisen.controls import services

    if history:
        emit([_closed_row(r) for r in services.closed_day_history()])
    else:
        emit([{"day": str(d), "weekday": f"{d:%a}"} for d in services.closed_days_ahead()])


FromDayOpt = Annotated[str | None, typer.Option("--from", help="In force for days from this date (YYYY-MM-DD; "
                                                "default today).")]


@controls_admin_app.command("closed-day-add")
def closed_day_add(day: Annotated[str, typer.Argument(help="YYYY-MM-DD (with --yearly only month and day count)")],
                   yearly: Annotated[bool, typer.Option("--yearly")] = False, effective_from: FromDayOpt = None,
                   note: Annotated[str, typer.Option("--note")] = "", fmt: FormatOpt = None) -> None:
    """Close a day (once or every year); the earlier calendar stays in the history."""
    django_setup()
    from kaisen.controls import services

    parsed, when = _day(day, "DAY"), _day(effective_from, "--from")
    if parsed is None:
        typer.echo("VALIDATION_ERROR: give the day as YYYY-MM-DD.", err=True)
        raise typer.Exit(2)
    row = _run(lambda: services.closed_day_add(day=parsed, yearly=yearly, effective_from=when, note=note,
                                               actor=ACTOR))
    emit(_closed_row(row))


@controls_admin_app.command("closed-day-remove")
def closed_day_remove(day: Annotated[str, typer.Argument(help="YYYY-MM-DD, or the ID of a row of the history")],
                      yearly: Annotated[bool, typer.Option("--yearly")] = False, effective_from: FromDayOpt = None,
                      note: Annotated[str, typer.Option("--note")] = "", fmt: FormatOpt = None) -> None:
    """Open a closed day again (the change is added to the history)."""
    django_setup()
    from kaisen.controls import services

    when = _day(effective_from, "--from")
    if day.isdigit():
        row = _run(lambda: services.closed_day_remove(closed_day_id=int(day), effective_from=when, note=note,
                                                      actor=ACTOR))
    else:
        parsed = _day(day, "DAY")
        row = _run(lambda: services.closed_day_remove(day=parsed, yearly=yearly, effective_from=when, note=note,
                                                      actor=ACTOR))
    emit(_closed_row(row))


@controls_admin_app.command("notice-add")
def notice_add(
    title_ja: Annotated[str, typer.Option("--title-ja")], title_en: Annotated[str, typer.Option("--title-en")],
    body_ja: Annotated[str, typer.Option("--body-ja")], body_en: Annotated[str, typer.Option("--body-en")],
    important: Annotated[bool, typer.Option("--important", help="Also mailed to the tenants' contacts.")] = False,
    start: Annotated[str | None, typer.Option("--start", help="Shown from (default now).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Shown until (default: no end).")] = None,
    tenant: TenantsOpt = None, fmt: FormatOpt = None,
) -> None:
    """Publish a notice (お知らせ)."""
    django_setup()
    from kaisen.controls import services

    notice = _run(lambda: services.notice_publish(
        title_ja=title_ja, title_en=title_en, body_ja=body_ja, body_en=body_en,
        importance="important" if important else "normal", starts_at=_when(start, "--start"),
        ends_at=_when(end, "--end"), tenants=tenant, actor=ACTOR))
    emit({"id": notice.pk, "title_ja": notice.title_ja, "importance": notice.importance,
          "starts_at": notice.starts_at, "ends_at": notice.ends_at, "mailed": notice.mailed_at is not None})


@controls_admin_app.command("notices")
def notices_list(fmt: FormatOpt = None) -> None:
    """List notices, newest first."""
    django_setup()
    from kaisen.controls.models import Notice

    emit([{"id": n.pk, "title_ja": n.title_ja, "importance": n.importance, "starts_at": n.starts_at,
           "ends_at": n.ends_at, "tenants": ",".join(t.public_id for t in n.tenants.all()) or "all"}
          for n in Notice.objects.prefetch_related("tenants")[:200]])


@controls_admin_app.command("notice-withdraw")
def notice_withdraw(notice_id: Annotated[int, typer.Argument()]) -> None:
    """Stop showing a notice now."""
    django_setup()
    from kaisen.controls import services

    _run(lambda: services.notice_withdraw(notice_id=notice_id, actor=ACTOR))
    typer.echo("withdrawn")


@controls_admin_app.command("switches")
def switches(tenant: Annotated[str, typer.Argument(help="Operator ID.")], fmt: FormatOpt = None) -> None:
    """A tenant's service switches."""
    django_setup()
    from kaisen.controls import services
    from kaisen.tenancy.models import Tenant

    found = Tenant.objects.filter(public_id=tenant).first()
    if found is None:
        typer.echo(f"NOT_FOUND: no tenant with operator ID {tenant}.", err=True)
        raise typer.Exit(1)
    emit(services.switches_for(found.pk))


def _on_off(state: str) -> bool:
    """``on`` / ``off`` typed on the command line, as a bool; anything else stops with exit code 2."""
    if state not in ("on", "off"):
        typer.echo("VALIDATION_ERROR: the state is on or off.", err=True)
        raise typer.Exit(2)
    return state == "on"


@controls_admin_app.command("switch")
def switch(tenant: Annotated[str, typer.Argument(help="Operator ID.")],
           function: Annotated[str, typer.Argument(help="mnp_port_in, voice_options, statements_shift_jis or "
                                                        "quote_calculator")],
           state: Annotated[str, typer.Argument(help="on or off")],
           note: Annotated[str, typer.Option("--note")] = "", fmt: FormatOpt = None) -> None:
    """Switch a function on or off for a tenant."""
    enabled = _on_off(state)
    django_setup()
    from kaisen.controls import services

    row = _run(lambda: services.switch_set(tenant=tenant, function=function, enabled=enabled, note=note,
                                           actor=ACTOR))
    emit({"tenant": tenant, "function": row.function, "enabled": row.enabled})


@controls_admin_app.command("operator-switches")
def operator_switches(fmt: FormatOpt = None) -> None:
    """Switches for everyone, visitors before sign-in included (public_quote_calculator)."""
    django_setup()
    from kaisen.controls import services

    emit(services.operator_switches())


@controls_admin_app.command("operator-switch")
def operator_switch(function: Annotated[str, typer.Argument(help="public_quote_calculator")],
                    state: Annotated[str, typer.Argument(help="on or off")],
                    note: Annotated[str, typer.Option("--note")] = "", fmt: FormatOpt = None) -> None:
    """Switch a function on or off for everyone (in force within seconds, no restart)."""
    enabled = _on_off(state)
    django_setup()
    from kaisen.controls import services

    row = _run(lambda: services.operator_switch_set(function=function, enabled=enabled, note=note,
                                                    actor=ACTOR))
    emit({"function": row.function, "enabled": row.enabled})


# --- customer (over the API) ------------------------------------------------------------------------------------

@notices_app.command("list")
def customer_list(url: UrlOpt = None, fmt: FormatOpt = None) -> None:
    """Notices shown to your company now, with the unread count."""
    data = api("GET", "/notices", url=url)
    emit({"items": [{k: v for k, v in n.items() if k != "body"} for n in data["items"]], "unread": data["unread"]})


@notices_app.command("show")
def customer_show(notice_id: Annotated[int, typer.Argument()], url: UrlOpt = None, fmt: FormatOpt = None) -> None:
    """One notice (marks it as read)."""
    emit(api("GET", f"/notices/{notice_id}", url=url))


@notices_app.command("service")
def customer_service(url: UrlOpt = None, fmt: FormatOpt = None) -> None:
    """Reception hours in force, the services of your contract and announced maintenance."""
    emit(api("GET", "/service", url=url))
