"""Reading the development mail folder (the file e-mail backend's output) for the dev mail page."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from django.conf import settings

from kaisen.core.clock import JST
from kaisen.core.errors import NotFound

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,200}\.(log|eml)$")
# Django's file backend separates the messages of one connection with a line of 79 dashes.
_SEPARATOR = re.compile(rb"\r?\n-{79}\r?\n")


@dataclass(frozen=True)
class MailFile:
    name: str
    modified: dt.datetime
    size: int


@dataclass(frozen=True)
class MailMessage:
    sender: str
    to: str
    subject: str
    date: str
    body: str
    attachments: list[str] = field(default_factory=list)


def _folder() -> Path | None:
    path = getattr(settings, "EMAIL_FILE_PATH", None)
    return Path(path) if path else None


def dev_mail_list(*, limit: int = 500) -> list[MailFile]:
    """The mail files, newest first."""
    folder = _folder()
    if folder is None or not folder.is_dir():
        return []
    files = []
    for entry in folder.iterdir():
        if entry.is_file() and _NAME_RE.fullmatch(entry.name):
            stat = entry.stat()
            files.append(MailFile(name=entry.name, size=stat.st_size,
                                  modified=dt.datetime.fromtimestamp(stat.st_mtime, tz=JST)))
    files.sort(key=lambda f: (f.modified, f.name), reverse=True)
    return files[:limit]


def _parse(raw: bytes) -> MailMessage:
    # Parsed from bytes: from a str, 8bit UTF-8 bodies come back as unicode escapes.
    msg = email.message_from_bytes(raw.lstrip(), policy=email.policy.default)
    body = ""
    attachments: list[str] = []
    if isinstance(msg, EmailMessage):
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is not None:
            body = part.get_content()
        attachments = [a.get_filename() or "(unnamed)" for a in msg.iter_attachments()]
    else:  # pragma: no cover - the default policy always gives EmailMessage
        body = str(msg.get_payload())
    date = str(msg.get("Date", ""))
    with contextlib.suppress(TypeError, ValueError):
        date = email.utils.parsedate_to_datetime(date).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")
    return MailMessage(sender=str(msg.get("From", "")), to=str(msg.get("To", "")),
                       subject=str(msg.get("Subject", "")), date=date, body=body,
                       attachments=attachments)


def dev_mail_get(*, name: str) -> tuple[MailFile, list[MailMessage]]:
    """One mail file and the messages in it. Only plain names inside the folder: no path traversal."""
    folder = _folder()
    if folder is None or not _NAME_RE.fullmatch(name or ""):
        raise NotFound()
    path = (folder / name).resolve()
    if path.parent != folder.resolve() or not path.is_file():
        raise NotFound()
    stat = path.stat()
    raw = path.read_bytes()
    messages = [_parse(chunk) for chunk in _SEPARATOR.split(raw) if chunk.strip()]
    info = MailFile(name=path.name, size=stat.st_size, modified=dt.datetime.fromtimestamp(stat.st_mtime, tz=JST))
    return info, messages
