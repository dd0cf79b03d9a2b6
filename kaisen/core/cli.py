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
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

UrlOpt = Annotated[str | None, typer.Option("--url", help="Portal address (default $KAISEN_URL or the saved one).")]


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")
    import django

    django.setup()


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


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

def fail(resp: httpx.Response) -> None:
    try:
        body = resp.json()
    except ValueError:
        body = {"code": f"HTTP_{resp.status_code}", "message": resp.text[:500]}
    typer.echo(json.dumps({"status": resp.status_code, **body}, ensure_ascii=False), err=True)
    raise typer.Exit(1)


def post_auth(base: str, payload: dict[str, Any], *, mfa_code: str | None = None) -> dict[str, Any]:
    try:
        resp = httpx.post(f"{base}/api/v1/auth", json=payload, timeout=30)
        if resp.status_code == 401 and resp.json().get("code") == "MFA_REQUIRED":
            body = resp.json()
            if mfa_code is None:
                where = ("from your authenticator app (or a recovery code)" if "totp" in body["methods"]
                         else "from the email (認証コード), within 90 seconds")
                mfa_code = typer.prompt(f"Two-step login code {where}")
            resp = httpx.post(f"{base}/api/v1/auth/mfa", json={"challenge_id": body["challenge_id"],
                                                               "code": mfa_code}, timeout=30)
    except httpx.HTTPError as exc:
        typer.echo(f"Cannot reach {base}: {exc}", err=True)
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
    typer.echo("Not logged in: run `kaisen login`, or set KAISEN_API_KEY_ID and KAISEN_API_KEY_SECRET.", err=True)
    raise typer.Exit(1)


def api(method: str, path: str, *, url: str | None, params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None, timeout: float = 60) -> Any:
    base = base_url(url)
    headers = {"Authorization": f"Bearer {token(base)}"}
    try:
        resp = httpx.request(method, f"{base}/api/v1{path}", params=params, json=body, headers=headers,
                             timeout=timeout)
    except httpx.HTTPError as exc:
        typer.echo(f"Cannot reach {base}: {exc}", err=True)
        raise typer.Exit(1) from exc
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
    all_headers = {"Authorization": f"Bearer {token(base)}", **(headers or {})}
    try:
        resp = httpx.request(method, f"{base}/api/v1{path}", params=params, json=body, files=files, data=data,
                             headers=all_headers, timeout=600)
    except httpx.HTTPError as exc:
        if retry_transport:
            typer.echo(f"No answer from {base} ({exc}); sending again.", err=True)
            raise TransportRetry from exc
        typer.echo(f"Cannot reach {base}: {exc}", err=True)
        raise typer.Exit(1) from exc
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
    headers = {"Authorization": f"Bearer {token(base)}"}
    try:
        with httpx.stream("GET", f"{base}/api/v1{path}", params=params, headers=headers, timeout=timeout) as resp:
            if resp.status_code >= 400:
                resp.read()
                fail(resp)
            yield resp
    except httpx.HTTPError as exc:
        typer.echo(f"Cannot reach {base}: {exc}", err=True)
        raise typer.Exit(1) from exc


def print_all_pages(path: str, *, params: dict[str, Any], url: str | None) -> None:
    """Follow the API's cursors from the first page and stream every item as one JSON array."""
    params = {**params, "limit": 500}
    out = sys.stdout
    out.write("[")
    first = True
    while True:
        page = api("GET", path, url=url, params=params)
        for item in page["items"]:
            out.write(("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False))
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
        print_json(api("GET", path, url=url, params=params))
