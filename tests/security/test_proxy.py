"""Trusting exactly the configured reverse proxies (issue 14): the WSGI layer of ``kaisen.core.proxy``.
The end-to-end check through a real nginx is ``test_proxy_nginx.py``."""

from __future__ import annotations

from typing import Any

import pytest

from kaisen.core.proxy import LOOPBACK, TrustedProxyMiddleware, forwarded_client, is_trusted, parse_networks

NETS = parse_networks(["10.0.0.5", "192.168.10.0/24", "::1"])


def _through(environ: dict[str, Any], networks: Any = NETS) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(env)
        return [b""]

    TrustedProxyMiddleware(app, networks)({"wsgi.url_scheme": "http", **environ}, lambda *a: None)
    return seen


def test_client_is_the_right_most_address_that_is_no_trusted_proxy() -> None:
    assert forwarded_client("10.0.0.5", "203.0.113.7", NETS) == "203.0.113.7"
    # what the client wrote itself (left) is ignored; a second trusted hop is skipped
    assert forwarded_client("10.0.0.5", "198.51.100.1, 203.0.113.7, 192.168.10.4", NETS) == "203.0.113.7"
    assert forwarded_client("::1", "2001:db8::7", NETS) == "2001:db8::7"
    assert forwarded_client("::ffff:10.0.0.5", "203.0.113.7", NETS) == "203.0.113.7"  # IPv4-mapped peer
    assert forwarded_client("10.0.0.5", "[2001:db8::7]:5555", NETS) == "2001:db8::7"
    assert forwarded_client("10.0.0.5", "203.0.113.7:5555", NETS) == "203.0.113.7"
    # not from a trusted proxy, garbage, or nothing: the peer stays the client
    assert forwarded_client("10.0.0.6", "203.0.113.7", NETS) is None
    assert forwarded_client("10.0.0.5", "203.0.113.7, not-an-ip", NETS) is None
    assert forwarded_client("10.0.0.5", "", NETS) is None


def test_a_trusted_proxy_sets_address_and_scheme() -> None:
    env = _through({"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "203.0.113.7",
                    "HTTP_X_FORWARDED_PROTO": "https"})
    assert env["REMOTE_ADDR"] == "203.0.113.7" and env["wsgi.url_scheme"] == "https"
    env = _through({"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_PROTO": "gopher"})
    assert env["REMOTE_ADDR"] == "10.0.0.5" and env["wsgi.url_scheme"] == "http"


@pytest.mark.parametrize("networks", [NETS, ()])
def test_anyone_else_loses_the_forwarded_headers(networks: Any) -> None:
    env = _through({"REMOTE_ADDR": "203.0.113.99", "HTTP_X_FORWARDED_FOR": "198.51.100.1",
                    "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_REAL_IP": "198.51.100.1",
                    "HTTP_FORWARDED": "for=198.51.100.1;proto=https"}, networks)
    assert env["REMOTE_ADDR"] == "203.0.113.99" and env["wsgi.url_scheme"] == "http"
    assert not [k for k in env if "FORWARDED" in k or k == "HTTP_X_REAL_IP"]


def test_settings_parse_the_list_and_refuse_garbage() -> None:
    import ipaddress

    assert parse_networks(LOOPBACK) == (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
    with pytest.raises(ValueError, match=r"10\.0\.0\.300"):
        parse_networks(["10.0.0.1", "10.0.0.300"])


def test_the_wsgi_application_is_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trusted-proxy layer sits inside ``KaisenApplication`` (its ``_entry``), in front of the routing
    to both handlers: the lean API stack and the page stack see only what the layer lets through."""
    from kaisen.wsgi import application

    entry = application._entry
    assert isinstance(entry, TrustedProxyMiddleware)
    assert entry.app == application._route
    seen: dict[str, dict[str, Any]] = {}

    def handler(name: str) -> Any:
        def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
            seen[name] = dict(env)
            return [b""]
        return app

    monkeypatch.setattr(application, "api", handler("api"))
    monkeypatch.setattr(application, "web", handler("web"))
    peer = "203.0.113.99"  # no trusted proxy, whatever the settings list
    assert not is_trusted(peer, entry.networks)
    for path in ("/api/v1/lines", "/lines/"):
        application({"wsgi.url_scheme": "http", "PATH_INFO": path, "REMOTE_ADDR": peer,
                     "HTTP_X_FORWARDED_FOR": "198.51.100.1", "HTTP_X_FORWARDED_PROTO": "https"}, lambda *a: None)
    assert set(seen) == {"api", "web"}
    for env in seen.values():
        assert env["REMOTE_ADDR"] == peer and env["wsgi.url_scheme"] == "http"
        assert "HTTP_X_FORWARDED_FOR" not in env and "HTTP_X_FORWARDED_PROTO" not in env
