"""``kaisen orders``, ``kaisen mnp`` and ``kaisen bulk``: line procedures through the API (X-API, X-BULK).

Client commands like ``kaisen lines``: they call a running portal over HTTP with the token of
``kaisen login`` (or ``KAISEN_TOKEN`` / an API key from the environment) and print JSON. Django is not
loaded here.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from kaisen.core.cli import FormatOpt, TransportRetry, UrlOpt, emit, print_all_pages, print_json, request

orders_app = typer.Typer(help="Order line procedures, list, show and cancel orders (calls the API).",
                         no_args_is_help=True)
mnp_app = typer.Typer(help="MNP port-in (calls the API).", no_args_is_help=True)
bulk_app = typer.Typer(help="One procedure on many lines from a CSV file (calls the API).", no_args_is_help=True)

KINDS = ("mnp_activation", "suspend", "resume", "voice_options", "plan_change", "sim_reissue", "mnp_reservation",
         "cancellation")
#: ``--param voicemail=true`` on a voice_options order means ``params.options.voicemail``.
VOICE_OPTIONS = ("flat_rate_calling", "voicemail", "call_waiting", "call_forwarding", "international_call_cap",
                 "international_roaming_cap", "group_calling", "number_block", "network_pin")
#: Parameters that stay text even when they look like a number (a PIN keeps its leading zero).
TEXT_PARAMS = ("network_pin", "plan_code", "holder_name", "holder_name_kana", "delivery_address", "category",
               "sim_size", "method", "effective", "postal_code", "address", "recipient")

ByIdOpt = Annotated[bool, typer.Option("--id", help="LINE is the line's numeric ID.")]


def _api(method: str, path: str, *, url: str | None, **kwargs: Any) -> Any:
    resp = request(method, path, url=url, **kwargs)
    return resp.json() if resp.content else None


def _line_id(ref: str, by_id: bool, url: str | None) -> int:
    """A line's ID from its phone number, SIM serial (ICCID) or, with --id, the ID itself."""
    if by_id:
        if not ref.strip().isdigit():
            typer.echo("With --id, LINE must be a number.", err=True)
            raise typer.Exit(2)
        return int(ref)
    digits = "".join(ch for ch in ref if ch.isdigit())
    path = f"/lines/by-iccid/{ref}" if digits.startswith("89") and len(digits) >= 19 else f"/lines/by-msisdn/{ref}"
    return int(_api("GET", path, url=url)["id"])


def _value(key: str, text: str) -> Any:
    if key in TEXT_PARAMS:
        return text
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.fullmatch(r"-?(0|[1-9]\d*)", text):
        return int(text)
    return text


def build_params(kind: str, pairs: list[str], params_json: str | None) -> dict[str, Any]:
    """``--params-json`` first, then each ``--param key=value`` (``a.b=v`` nests; true/false and whole
    numbers become JSON booleans and numbers; for voice_options an option name goes under ``options``)."""
    params: dict[str, Any] = {}
    if params_json:
        try:
            loaded = json.loads(params_json)
        except json.JSONDecodeError as exc:
            typer.echo(f"--params-json is not valid JSON: {exc}", err=True)
            raise typer.Exit(2) from exc
        if not isinstance(loaded, dict):
            typer.echo("--params-json must be a JSON object.", err=True)
            raise typer.Exit(2)
        params.update(loaded)
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            typer.echo(f"--param needs key=value, not {pair!r}.", err=True)
            raise typer.Exit(2)
        path = key.split(".")
        if kind == "voice_options" and len(path) == 1 and path[0] in VOICE_OPTIONS:
            path = ["options", path[0]]
        target = params
        for part in path[:-1]:
            nxt = target.setdefault(part, {})
            if not isinstance(nxt, dict):
                typer.echo(f"--param {key}: {part} is not an object.", err=True)
                raise typer.Exit(2)
            target = nxt
        target[path[-1]] = _value(path[-1], text.strip())
    return params


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        typer.echo(f"Unknown --kind {kind!r}; one of: {', '.join(KINDS)}.", err=True)
        raise typer.Exit(2)


KindOpt = Annotated[str, typer.Option("--kind", help=f"The procedure: {' | '.join(KINDS)}.")]


@orders_app.command("create")
def orders_create(
    line: Annotated[str, typer.Argument(help="Phone number, SIM serial (ICCID), or line ID with --id.")],
    kind: KindOpt,
    param: Annotated[list[str] | None, typer.Option("--param", help="A parameter as key=value (repeatable), "
                                                    "e.g. end_date=2026-12-31, voicemail=true.")] = None,
    params_json: Annotated[str | None, typer.Option("--params-json", help="Parameters as a JSON object.")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Your key for this order; default a new UUID, "
                                                        "printed on stderr: run again with it to retry safely.")]
    = None,
    preview: Annotated[bool, typer.Option("--preview", help="Only check it: effective date, warnings; "
                                          "nothing is ordered.")] = False,
    by_id: ByIdOpt = False,
    url: UrlOpt = None,
) -> None:
    """Order a procedure on a line and print the order as JSON."""
    _check_kind(kind)
    params = build_params(kind, param or [], params_json)
    line_id = _line_id(line, by_id, url)
    if preview:
        print_json(_api("POST", f"/lines/{line_id}/orders/preview", url=url, body={"kind": kind, "params": params}))
        return
    key = idempotency_key or str(uuid.uuid4())
    if not idempotency_key:
        typer.echo(f"Idempotency key: {key}  (to retry without ordering twice: --idempotency-key {key})", err=True)
    print_json(_api("POST", f"/lines/{line_id}/orders", url=url,
                     body={"kind": kind, "params": params, "idempotency_key": key}))


@orders_app.command("list")
def orders_list(
    line: Annotated[str | None, typer.Option("--line", help="Only this line (number, serial or --id).")] = None,
    by_id: ByIdOpt = False,
    status: Annotated[str, typer.Option(help="received | scheduled | sent | unknown | completed | failed | "
                                        "cancelled")] = "",
    kind: Annotated[str, typer.Option(help="Only this procedure.")] = "",
    limit: Annotated[int, typer.Option(help="Orders per page (1-500).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Cursor from a previous page's next_cursor.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow the cursors and print every order.")] = False,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """List orders, newest first: one page ({items, next_cursor, prev_cursor}), or with --all every order."""
    params: dict[str, Any] = {"status": status, "kind": kind, "limit": limit}
    if line:
        params["line_id"] = _line_id(line, by_id, url)
    if cursor:
        params["cursor"] = cursor
    if not all_pages:
        emit(_api("GET", "/orders", url=url, params=params))
        return
    print_all_pages("/orders", params=params, url=url)


@orders_app.command("get")
def orders_get(order_id: Annotated[int, typer.Argument(help="The order's ID.")], url: UrlOpt = None) -> None:
    """Show one order with its history."""
    print_json(_api("GET", f"/orders/{order_id}", url=url))


@orders_app.command("cancel")
def orders_cancel(order_id: Annotated[int, typer.Argument(help="The order's ID.")], url: UrlOpt = None) -> None:
    """Cancel (withdraw) an order while it may still be cancelled."""
    print_json(_api("POST", f"/orders/{order_id}/cancel", url=url))


@orders_app.command("procedures")
def orders_procedures(
    line: Annotated[str, typer.Argument(help="Phone number, SIM serial (ICCID), or line ID with --id.")],
    by_id: ByIdOpt = False,
    fmt: FormatOpt = None, url: UrlOpt = None,
) -> None:
    """What can be ordered on a line now (and why not), and its pending orders."""
    emit(_api("GET", f"/lines/{_line_id(line, by_id, url)}/procedures", url=url))


@mnp_app.command("waiting")
def mnp_waiting(fmt: FormatOpt = None, url: UrlOpt = None) -> None:
    """Lines waiting for MNP port-in activation: number, SIM shipped or not, reservation expiry."""
    emit(_api("GET", "/mnp/waiting", url=url))


def _save_result(job_id: int, out: Path, url: str | None) -> None:
    resp = request("GET", f"/bulk/{job_id}/result.csv", url=url)
    out.write_bytes(resp.content)
    typer.echo(f"Result file: {out}", err=True)


OutOpt = Annotated[Path | None, typer.Option("--out", help="Also save the result CSV (UTF-8 with BOM) here.")]


RUNNING = ("queued", "running")


def _wait_for(job: dict[str, Any], url: str | None, *, interval: float = 1.0) -> dict[str, Any]:
    """Poll the job until it is no longer queued or running; progress on stderr."""
    shown = -1
    while job.get("status") in RUNNING:
        if job.get("rows_done", 0) != shown:
            shown = job.get("rows_done", 0)
            typer.echo(f"{job['status']}: {shown} of {job['rows_total']} rows", err=True)
        time.sleep(interval)
        interval = min(interval * 1.5, 5.0)
        job = _api("GET", f"/bulk/{job['id']}", url=url)
    return job


def _post_upload(file: Path, kind: str, dry_run: bool, key: str, url: str | None) -> dict[str, Any]:
    """POST the file with an idempotency key; a lost answer is sent again (the same job comes back)."""
    files = {"file": (file.name, file.read_bytes(), "text/csv")}
    data = {"kind": kind, "dry_run": "true" if dry_run else "false"}
    for attempt in range(3):
        try:
            return _api("POST", "/bulk", url=url, files=files, data=data, headers={"Idempotency-Key": key},
                        retry_transport=attempt < 2)
        except TransportRetry:
            time.sleep(1 + attempt)
    raise AssertionError("unreachable")


@bulk_app.command("upload")
def bulk_upload(
    file: Annotated[Path, typer.Argument(help="CSV: column `line` (number or serial), then the procedure's "
                                         "parameters. UTF-8 or Shift_JIS; comma or tab.", exists=True,
                                         dir_okay=False, readable=True)],
    kind: KindOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only check every row; nothing is ordered.")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until a large file (run in the "
                                       "background) is done; --no-wait prints the queued job at once.")] = True,
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", help="Your key for this upload (default: a new UUID): the same key and file "
        "again return the same job.")] = None,
    out: OutOpt = None,
    url: UrlOpt = None,
) -> None:
    """Run one procedure for every row of a CSV and print the job with its per-row results."""
    _check_kind(kind)
    job = _post_upload(file, kind, dry_run, idempotency_key or str(uuid.uuid4()), url)
    if wait:
        job = _wait_for(job, url)
    print_json(job)
    if job.get("status") in RUNNING:
        typer.echo(f"Job {job['id']} is {job['status']} ({job['rows_done']} of {job['rows_total']} rows): "
                   f"see it with `kaisen bulk get {job['id']}`.", err=True)
        return
    if job.get("status") == "failed":
        typer.echo(f"Job {job['id']} failed after {job['rows_done']} of {job['rows_total']} rows.", err=True)
        raise typer.Exit(1)
    typer.echo(f"{'Dry run' if dry_run else 'Submitted'}: {job['rows_ok']} of {job['rows_total']} rows "
               f"{'would be accepted' if dry_run else 'accepted'}, {job['rows_failed']} refused.", err=True)
    if out:
        _save_result(job["id"], out, url)


@bulk_app.command("get")
def bulk_get(job_id: Annotated[int, typer.Argument(help="The bulk job's ID.")], out: OutOpt = None,
             wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the job is done.")] = False,
             url: UrlOpt = None) -> None:
    """Show a bulk job (status, rows_done of rows_total, per-row results); --out saves its result CSV."""
    job = _api("GET", f"/bulk/{job_id}", url=url)
    if wait:
        job = _wait_for(job, url)
    print_json(job)
    if out:
        _save_result(job_id, out, url)
