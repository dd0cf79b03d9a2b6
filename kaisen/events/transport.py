"""Sending one webhook request safely (issue 13 §2): no server-side request forgery, no redirects, a
timeout and a cap on the answer read.

``check_url`` refuses URLs that are not http(s), carry credentials, or whose host resolves to any address
that is not globally routable — loopback, private (RFC 1918, ULA), link-local (the cloud metadata address
169.254.169.254 among them), carrier-grade NAT, multicast, reserved or unspecified. Every address the name
resolves to is checked, and the request then goes to the checked address itself (the ``Host`` header and
the TLS server name keep the URL's name), so a second DNS answer cannot point it elsewhere.
``KAISEN_WEBHOOK_ALLOW_PRIVATE`` (off by default; development and tests only) lets private addresses through.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from kaisen.core.errors import DomainError, ErrorCode

#: Never reached, whatever a setting says: the cloud metadata services.
METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))


class UrlRefused(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.WEBHOOK_URL_REFUSED, message, field="url")


@dataclass(frozen=True)
class Target:
    url: str  # the URL with the host replaced by the checked address
    host_header: str
    sni: str | None


def _allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA:
        return False
    if settings.KAISEN_WEBHOOK_ALLOW_PRIVATE:
        return not (ip.is_multicast or ip.is_unspecified)
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> Target:
    """The address to send to, or ``UrlRefused``."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(_("The URL is not valid.")) from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UrlRefused(_("Give an http or https URL."))
    if parts.username or parts.password:
        raise UrlRefused(_("The URL must not contain a user name or password."))
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError) as exc:
            raise UrlRefused(_("The host name could not be resolved.")) from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses:
            raise UrlRefused(_("The host name could not be resolved."))
    for address in addresses:
        if not _allowed(address):
            raise UrlRefused(_("This address is not allowed: it is not a public internet address."))
    first = addresses[0]
    netloc = f"[{first}]:{port}" if first.version == 6 else f"{first}:{port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    default_port = port == (443 if parts.scheme == "https" else 80)
    host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
    return Target(url=pinned, host_header=host_header, sni=host if parts.scheme == "https" and literal is None
                  else None)


@dataclass
class Answer:
    ok: bool
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body`` to ``url`` once: checked address, no redirects, the configured timeout for the whole
    exchange, at most ``KAISEN_WEBHOOK_MAX_RESPONSE_BYTES`` of the answer read."""
    started = time.monotonic()
    try:
        with translation.override("en"):  # the log keeps one language, like "timeout"
            target = check_url(url)
    except UrlRefused as exc:
        return Answer(False, None, 0, "", str(exc.message)[:300])
    limit = settings.KAISEN_WEBHOOK_MAX_RESPONSE_BYTES
    timeout = settings.KAISEN_WEBHOOK_TIMEOUT_SECONDS
    deadline = started + timeout
    extensions = {"sni_hostname": target.sni} if target.sni else {}
    client = _client(target, timeout)
    try:
        request = client.build_request("POST", target.url, content=body,
                                       headers={**headers, "Host": target.host_header,
                                                "Content-Type": "application/json",
                                                "User-Agent": "Kaisen-Webhooks/1"},
                                       extensions=extensions)
        response = client.send(request, stream=True)
        try:
            read = bytearray()
            for chunk in response.iter_raw():
                read += chunk
                if len(read) >= limit or time.monotonic() > deadline:
                    break
        finally:
            response.close()
    except httpx.TimeoutException:
        _drop_client(target)
        return Answer(False, None, _ms(started), "", "timeout")
    except httpx.HTTPError as exc:
        _drop_client(target)
        return Answer(False, None, _ms(started), "", f"{type(exc).__name__}: {exc}"[:300])
    if time.monotonic() > deadline:
        return Answer(False, response.status_code, _ms(started), "", "timeout")
    excerpt = bytes(read[:500]).decode("utf-8", errors="replace")[:500]
    ok = 200 <= response.status_code < 300
    error = "" if ok else ("redirect not followed" if 300 <= response.status_code < 400 else "")
    return Answer(ok, response.status_code, _ms(started), excerpt, error)


#: Clients kept per thread, one per (checked address, Host, TLS name, timeout): a worker sending many deliveries
#: to one receiver reuses its keep-alive connection. Keyed by the name as well as the address, so a connection
#: made (and its certificate checked) for one name never carries a request for another. At most ``CLIENTS``.
_local = threading.local()
CLIENTS = 32


def _key(target: Target, timeout: float | None = None) -> tuple[str, str, str, float | None]:
    parts = urlsplit(target.url)
    return (f"{parts.scheme}://{parts.netloc}", target.host_header, target.sni or "", timeout)


def _clients() -> OrderedDict[tuple[str, str, str, float | None], httpx.Client]:
    clients = getattr(_local, "clients", None)
    if clients is None:
        clients = _local.clients = OrderedDict()
    return clients


def _client(target: Target, timeout: float) -> httpx.Client:
    clients = _clients()
    key = _key(target, timeout)
    client = clients.get(key)
    if client is not None:
        clients.move_to_end(key)
        return client
    client = httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False,
                          limits=httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=30))
    clients[key] = client
    while len(clients) > CLIENTS:
        _old, oldest = clients.popitem(last=False)
        oldest.close()
    return client


def _drop_client(target: Target) -> None:
    """After a timeout or a transport error: no connection of that client is reused."""
    clients = _clients()
    for key in [k for k in clients if k[:3] == _key(target)[:3]]:
        clients.pop(key).close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
