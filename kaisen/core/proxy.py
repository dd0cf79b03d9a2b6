"""Trusting exactly the configured reverse proxies (issue 14).

``kaisen serve`` answers behind nginx, haproxy or a load balancer. The client's address and the scheme it
used then arrive only in the proxy's ``X-Forwarded-For`` / ``X-Forwarded-Proto`` headers — which any
client can also send itself. :class:`TrustedProxyMiddleware` wraps the WSGI application and believes those
headers only from the proxies named in ``KAISEN_TRUSTED_PROXIES`` (addresses or networks):

* when the TCP peer (``REMOTE_ADDR``) is a trusted proxy, the client address is the right-most entry of
  ``X-Forwarded-For`` that is not itself a trusted proxy (entries left of it were written by the client and
  prove nothing), and ``wsgi.url_scheme`` becomes the proxy's ``X-Forwarded-Proto`` (``http``/``https``);
* otherwise the forwarded headers are removed before Django sees them, so a client talking to the server
  directly cannot choose its address or pretend it used HTTPS.

Everything downstream — the audit log, the per-address login limit, Django's HTTPS redirect and HSTS
(``request.is_secure()``) — reads the rewritten ``REMOTE_ADDR`` and scheme.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                      "HTTP_X_FORWARDED_PORT", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
#: What ``KAISEN_TRUST_X_FORWARDED_FOR=1`` alone means: a proxy on this machine.
LOOPBACK = ("127.0.0.1/32", "::1/128")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.5", "192.168.0.0/24"]`` → networks; raises ``ValueError`` naming a bad entry."""
    out: list[Network] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        try:
            out.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {value!r}") from None
    return tuple(out)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(value: str | None, networks: tuple[Network, ...]) -> bool:
    address = _address(value or "")
    return address is not None and any(address in net for net in networks)


def forwarded_client(remote_addr: str | None, forwarded_for: str, networks: tuple[Network, ...]) -> str | None:
    """The client address behind a chain of trusted proxies (``None``: keep ``remote_addr``)."""
    if not is_trusted(remote_addr, networks):
        return None
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return None  # garbage the trusted proxy passed on: do not guess
        if not any(address in net for net in networks):
            return str(address)
    return str(_address(hops[0])) if hops else None  # every hop is a trusted proxy: the first one


class TrustedProxyMiddleware:
    def __init__(self, app: Callable[..., Any], networks: tuple[Network, ...]) -> None:
        self.app = app
        self.networks = networks

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        peer = environ.get("REMOTE_ADDR")
        if self.networks and is_trusted(peer, self.networks):
            client = forwarded_client(peer, environ.get("HTTP_X_FORWARDED_FOR", ""), self.networks)
            if client:
                environ["kaisen.proxy_addr"] = peer
                environ["REMOTE_ADDR"] = client
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        else:
            for key in _FORWARDED_HEADERS:
                environ.pop(key, None)
        return self.app(environ, start_response)


def wrap(app: Callable[..., Any]) -> Callable[..., Any]:
    """``app`` behind :class:`TrustedProxyMiddleware` with the networks of the settings (none: headers removed)."""
    from django.conf import settings

    return TrustedProxyMiddleware(app, tuple(getattr(settings, "TRUSTED_PROXIES", ())))
