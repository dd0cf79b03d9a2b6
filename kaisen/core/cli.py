"""What every app's ``cli.py`` shares: loading Django in this process, printing JSON, and calling the REST API
of a running portal with the saved login.

Client commands (what a customer scripts) call the API over HTTP with the token of ``kaisen login`` (or
``KAISEN_TOKEN`` / an API key from the environment) and print JSON; an error answer prints
``{"status", "code", "message"}`` on stderr and exits 1. Django is not loaded for them. Server-side
commands (``kaisen admin …``, ``kaisen serve``) call :func:`django_setup` first and run against
``DATABASE_URL`` / ``KAISEN_DATA_DIR``.

This module imports nothing of Kaisen, so any app may import it; ``kaisen/cli.py`` only assembles the apps'
commands and is never imported by them.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import enum
import gettext as _gettext
import json
import os
import re
import sys
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import httpx
import typer

UrlOpt = Annotated[str | None, typer.Option("--url", help="Portal address (default $KAISEN_URL or the saved one).")]


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django

    django.setup()


def print_json(data: Any) -> None:
    """JSON on stdout: times in Japan time (``+09:00``), amounts as decimal strings (:func:`normalise`)."""
    typer.echo(json.dumps(normalise(data), ensure_ascii=False, indent=2, default=str))


# --- output format and language of the listings ---------------------------------------------------------

JST = ZoneInfo("Asia/Tokyo")
LANGUAGES = ("ja", "en")
_LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


class OutputFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class _State:
    """What the root options (``kaisen --format … --lang …``) chose for this run."""

    format: OutputFormat | None = None
    lang: str | None = None


state = _State()


def lang_from_env(environ: Any = None) -> str | None:
    """``ja`` or ``en`` from ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG`` (``ja_JP.UTF-8`` → ``ja``); None for
    ``C``/``POSIX``/unset or a language the portal does not speak (the portal's default, Japanese, then)."""
    environ = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = (environ.get(var) or "").strip()
        if value:
            code = re.split(r"[_.@-]", value, maxsplit=1)[0].lower()
            return code if code in LANGUAGES else None
    return None


def set_lang(lang: str | None) -> None:
    state.lang = lang if lang in LANGUAGES else lang_from_env()


def _(message: str) -> str:
    """The CLI's own messages in the chosen language (the portal's catalogue, ``kaisen/locale``)."""
    if not state.lang:
        return message
    return _gettext.translation("django", localedir=str(_LOCALE_DIR), languages=[state.lang],
                                fallback=True).gettext(message)


def lang_headers() -> dict[str, str]:
    """``Accept-Language`` for the API, so its error messages come back in the chosen language."""
    return {"Accept-Language": state.lang} if state.lang else {}


def _set_format(value: OutputFormat | None) -> OutputFormat | None:
    if value is not None:
        state.format = value
    return value


FormatOpt = Annotated[OutputFormat | None, typer.Option(
    "--format", callback=_set_format,
    help="table, csv or json (default: a table on a terminal, JSON when piped).")]

#: Fields that hold an amount of money (a decimal string in the object's ``currency``).
AMOUNT_KEYS = frozenset({
    "fee", "domestic", "international", "mobile", "mobile_au", "mobile_other", "sms", "data", "discount",
    "subtotal", "taxable", "exempt", "coupon_applied", "taxable_total", "tax_total", "exempt_total", "total",
    "amount", "charge", "total_charge", "sms_charge", "balance", "paid", "due", "unit_price", "price",
    "monthly_fee", "tax", "remaining", "limit_amount", "spent"})
_AMOUNT_SUFFIXES = ("_amount", "_charge", "_fee", "_total", "_price")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


def is_amount(key: str) -> bool:
    return key in AMOUNT_KEYS or key.endswith(_AMOUNT_SUFFIXES)


def amount_str(value: Any) -> Any:
    """An amount as a decimal string (``1234.50``), whatever JSON type it came in; other values as they are."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        return value
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return value
    return format(number, "f") if number.is_finite() else value


def jst_iso(value: str) -> str:
    """An ISO date-time with an offset (``…Z``, ``…+00:00``) as the same moment in Japan time, still ISO
    (``…+09:00``); other text unchanged."""
    if not _DATETIME.match(value):
        return value
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(JST).isoformat()
    except ValueError:
        return value


def normalise(data: Any, currency: str | None = None) -> Any:
    """Every amount of an object with a ``currency`` (its own or its page's) as a decimal string, in nested
    objects too, whatever number type an amount came in; every time in Japan time: the JSON output's one
    shape."""
    if isinstance(data, str):
        return jst_iso(data)
    if isinstance(data, list):
        return [normalise(x, currency) for x in data]
    if isinstance(data, dict):
        cur = data.get("currency") if isinstance(data.get("currency"), str) else currency
        return {k: (amount_str(v) if cur and is_amount(k) and isinstance(v, (int, float)) and not isinstance(v, bool)
                    else normalise(v, cur)) for k, v in data.items()}
    return data


def jst(value: str) -> str:
    """An ISO date-time with an offset, in Japan time (``2026-12-07 10:00:00 JST``); other text unchanged."""
    if not _DATETIME.match(value):
        return value
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S") + " JST"


def cell(key: str, value: Any, currency: str | None) -> str:
    """One value as text for a table or CSV: amounts with their currency, times in JST, nested as JSON."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    if currency and is_amount(key) and not isinstance(value, str):
        value = amount_str(value)
    if currency and is_amount(key) and _DECIMAL.match(str(value)):
        return f"{value} {currency}"
    text = str(value)
    return jst(text)


def _rows(data: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows of a listing and what the page says around them (``next_cursor``, totals …)."""
    if isinstance(data, list):
        return [x if isinstance(x, dict) else {"value": x} for x in data], {}
    if isinstance(data, dict):
        for key in ("items", "results", "rows"):
            if isinstance(data.get(key), list):
                meta = {k: v for k, v in data.items() if k != key}
                return [x if isinstance(x, dict) else {"value": x} for x in data[key]], meta
        return [{"field": k, "value": v} for k, v in data.items()], {}
    return [{"value": data}], {}


def table_rows(data: Any) -> tuple[list[str], list[list[str]], dict[str, str]]:
    """Header, text cells and page meta of a listing, as a table or CSV shows them."""
    rows, meta = _rows(data)
    currency = meta.get("currency") if isinstance(meta.get("currency"), str) else None
    header: list[str] = []
    for row in rows:
        header.extend(k for k in row if k not in header)
    body = []
    for row in rows:
        cur = row.get("currency") if isinstance(row.get("currency"), str) else currency
        if "field" in row and len(row) == 2:   # an object shown as field/value pairs
            body.append([str(row["field"]), cell(str(row["field"]), row["value"], currency or (
                data.get("currency") if isinstance(data, dict) else None))])
        else:
            body.append([cell(k, row.get(k), cur) for k in header])
    meta_text = {k: cell(k, v, currency) for k, v in meta.items()}
    return header, body, meta_text


def output_format() -> OutputFormat:
    if state.format is not None:
        return state.format
    return OutputFormat.table if sys.stdout.isatty() else OutputFormat.json


def emit(data: Any, *, fmt: OutputFormat | None = None) -> None:
    """Print a listing as a table, CSV or JSON (``--format``; default a table on a terminal, JSON when
    piped). Amounts are decimal strings; in a table or CSV with their currency, and times in JST."""
    fmt = fmt or output_format()
    if fmt is OutputFormat.json:
        print_json(data)
        return
    header, body, meta = table_rows(data)
    if fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
        sys.stdout.flush()
        for key, value in meta.items():
            typer.echo(f"{key}: {value}", err=True)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*header, caption="  ".join(f"{k}: {v}" for k, v in meta.items() if v) or None)
    for row in body:
        table.add_row(*row)
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 10_000, soft_wrap=False)
    console.print(table)


# --- the saved login ------------------------------------------------------------------------------------

def config_path() -> Path:
    base = os.environ.get("KAISEN_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config", "kaisen")
    return Path(base) / "credentials.json"


def load_config() -> dict[str, Any]:
    path = config_path()
    if path.exists():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return {}
    return {}


def save_config(data: dict[str, Any]) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)


def base_url(url: str | None) -> str:
    return (url or os.environ.get("KAISEN_URL") or load_config().get("url") or "http://127.0.0.1:8000").rstrip("/")


# --- calling the API ------------------------------------------------------------------------------------

def maintenance_note(resp: httpx.Response) -> None:
    """Tell the user about announced maintenance (the API's ``Kaisen-Maintenance`` header), on stderr."""
    note = resp.headers.get("Kaisen-Maintenance")
    if note:
        typer.echo(_("Maintenance announced: %(note)s") % {"note": note}, err=True)


def fail(resp: httpx.Response) -> None:
    try:
        body = resp.json()
    except ValueError:
        body = {"code": f"HTTP_{resp.status_code}", "message": resp.text[:500]}
    typer.echo(json.dumps({"status": resp.status_code, **body}, ensure_ascii=False), err=True)
    raise typer.Exit(1)


def post_auth(base: str, payload: dict[str, Any], *, mfa_code: str | None = None) -> dict[str, Any]:
    try:
        resp = httpx.post(f"{base}/api/v1/auth", json=payload, headers=lang_headers(), timeout=30)
        if resp.status_code == 401 and resp.json().get("code") == "MFA_REQUIRED":
            body = resp.json()
            if mfa_code is None:
                where = ("from your authenticator app (or a recovery code)" if "totp" in body["methods"]
                         else "from the email (認証コード), within 90 seconds")
                mfa_code = typer.prompt(f"Two-step login code {where}")
            resp = httpx.post(f"{base}/api/v1/auth/mfa", json={"challenge_id": body["challenge_id"],
                                                               "code": mfa_code}, headers=lang_headers(), timeout=30)
    except httpx.HTTPError as exc:
        typer.echo(_("Cannot reach %(url)s: %(error)s") % {"url": base, "error": exc}, err=True)
        raise typer.Exit(1) from exc
    if resp.status_code != 200:
        fail(resp)
    return resp.json()


def token(base: str) -> str:
    """KAISEN_TOKEN, else an API key from KAISEN_API_KEY_ID/SECRET, else the token saved by `kaisen login`."""
    if os.environ.get("KAISEN_TOKEN"):
        return os.environ["KAISEN_TOKEN"]
    key_id, secret = os.environ.get("KAISEN_API_KEY_ID"), os.environ.get("KAISEN_API_KEY_SECRET")
    if key_id and secret:
        return str(post_auth(base, {"key_id": key_id, "secret": secret})["token"])
    saved = load_config()
    if saved.get("token") and saved.get("url", "").rstrip("/") == base:
        return str(saved["token"])
    typer.echo(_("Not logged in: run `kaisen login`, or set KAISEN_API_KEY_ID and KAISEN_API_KEY_SECRET."),
               err=True)
    raise typer.Exit(1)


def api(method: str, path: str, *, url: str | None, params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None, timeout: float = 60) -> Any:
    base = base_url(url)
    headers = {"Authorization": f"Bearer {token(base)}", **lang_headers()}
    try:
        resp = httpx.request(method, f"{base}/api/v1{path}", params=params, json=body, headers=headers,
                             timeout=timeout)
    except httpx.HTTPError as exc:
        typer.echo(_("Cannot reach %(url)s: %(error)s") % {"url": base, "error": exc}, err=True)
        raise typer.Exit(1) from exc
    maintenance_note(resp)
    if resp.status_code >= 400:
        fail(resp)
    return resp.json() if resp.content else None


class TransportRetry(Exception):
    """The request never got an answer and may be sent again (``request(retry_transport=True)``)."""


def request(method: str, path: str, *, url: str | None, params: dict[str, Any] | None = None,
            body: dict[str, Any] | None = None, files: dict[str, Any] | None = None,
            data: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
            retry_transport: bool = False) -> httpx.Response:
    """One API call with the bearer token, also a file upload; an error answer prints ``{status, code,
    message}`` and exits 1. With ``retry_transport`` a lost connection raises ``TransportRetry`` instead of
    exiting."""
    base = base_url(url)
    all_headers = {"Authorization": f"Bearer {token(base)}", **lang_headers(), **(headers or {})}
    try:
        resp = httpx.request(method, f"{base}/api/v1{path}", params=params, json=body, files=files, data=data,
                             headers=all_headers, timeout=600)
    except httpx.HTTPError as exc:
        if retry_transport:
            typer.echo(f"No answer from {base} ({exc}); sending again.", err=True)
            raise TransportRetry from exc
        typer.echo(_("Cannot reach %(url)s: %(error)s") % {"url": base, "error": exc}, err=True)
        raise typer.Exit(1) from exc
    maintenance_note(resp)
    if resp.status_code >= 400:
        fail(resp)
    return resp


@contextlib.contextmanager
def api_stream(path: str, *, url: str | None, params: dict[str, Any] | None = None,
               timeout: float = 600) -> Iterator[httpx.Response]:
    """``GET`` a file from the API with the bearer token, as a streamed response (``iter_bytes``). An error
    answer prints ``{status, code, message}`` and exits 1, like ``api``; so does a lost connection, also
    one lost while the caller reads the body."""
    base = base_url(url)
    headers = {"Authorization": f"Bearer {token(base)}", **lang_headers()}
    try:
        with httpx.stream("GET", f"{base}/api/v1{path}", params=params, headers=headers, timeout=timeout) as resp:
            if resp.status_code >= 400:
                resp.read()
                fail(resp)
            yield resp
    except httpx.HTTPError as exc:
        typer.echo(_("Cannot reach %(url)s: %(error)s") % {"url": base, "error": exc}, err=True)
        raise typer.Exit(1) from exc


def print_all_pages(path: str, *, params: dict[str, Any], url: str | None) -> None:
    """Follow the API's cursors from the first page and stream every item as one JSON array (or, with
    ``--format table|csv``, print them all as one table)."""
    params = {**params, "limit": 500}
    if output_format() is not OutputFormat.json:
        items: list[Any] = []
        while True:
            page = api("GET", path, url=url, params=params)
            items.extend(page["items"])
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
        emit(items)
        return
    out = sys.stdout
    out.write("[")
    first = True
    while True:
        page = api("GET", path, url=url, params=params)
        for item in page["items"]:
            out.write(("\n" if first else ",\n") + json.dumps(normalise(item), ensure_ascii=False, default=str))
            first = False
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    out.write("\n]\n")


def print_pages(path: str, *, params: dict[str, Any], cursor: str | None, all_pages: bool, url: str | None) -> None:
    """A cursor-paged list: the page at ``cursor`` (the first without one), or with ``all_pages`` every item
    from there on as one JSON array."""
    if cursor:
        params = {**params, "cursor": cursor}
    if all_pages:
        print_all_pages(path, params=params, url=url)
    else:
        emit(api("GET", path, url=url, params=params))


def print_numbered_pages(path: str, *, params: dict[str, Any], url: str | None, per_page: int = 100) -> None:
    """A list paged by number (``page``/``pages``): every item of every page, as one list (``--all``)."""
    items: list[Any] = []
    page_no, last = 1, 1
    first: dict[str, Any] = {}
    while page_no <= last:
        page = api("GET", path, url=url, params={**params, "page": page_no, "limit": per_page})
        first = first or page
        items.extend(page["items"])
        last = int(page.get("pages") or 1)
        page_no += 1
    meta = {k: v for k, v in first.items() if k not in ("items", "page", "pages", "per_page")}
    emit({**meta, "items": items})
