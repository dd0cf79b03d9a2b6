"""`kaisen serve` behind a real nginx (issue 14, "Security and correctness found by probing a running server").

Debian's nginx (``scripts/test.sh`` installs ``nginx-light`` when missing) runs with its own configuration in a
temporary directory: one plain-HTTP listener and one TLS listener (a throw-away self-signed certificate), both
``proxy_pass`` to a real ``kaisen serve`` subprocess with ``KAISEN_PRODUCTION=1`` and
``KAISEN_TRUSTED_PROXIES=127.0.0.1``. nginx talks to Kaisen from 127.0.0.1; the test's clients talk to nginx
from other loopback addresses (127.0.0.2, 127.0.0.3), so the client address nginx forwards differs from the
proxy's own. Asserted:

* the audit log records the client's address from nginx's ``X-Forwarded-For``, not nginx's;
* an ``X-Forwarded-For`` the client wrote itself is ignored (through nginx, and talking to Kaisen directly
  from a peer that is not a trusted proxy — there ``X-Forwarded-Proto: https`` is ignored too);
* the per-address login limit counts each client behind the proxy on its own;
* plain HTTP is redirected to HTTPS once, HTTPS is served (no redirect loop) with ``Strict-Transport-Security``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
KAISEN = [sys.executable, "-m", "kaisen.cli"]
CLIENT_A = "127.0.0.2"
CLIENT_B = "127.0.0.3"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(url, timeout=2, verify=False)  # noqa: S501 - nginx's throw-away self-signed certificate
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                pytest.fail(f"{what} exited: {out}")
            assert time.monotonic() < deadline, f"{what} did not answer within 90 s"
            time.sleep(0.3)


def _client(source: str, **kwargs: Any) -> httpx.Client:
    """An HTTP client whose connections come from ``source`` (any 127.x address is this machine)."""
    # nginx's certificate is a throw-away self-signed one made for this test.
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source, verify=False),
                        verify=False, timeout=30, **kwargs)  # noqa: S501


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream kaisen {{ server 127.0.0.1:{app}; }}
    # The usual reverse-proxy headers. The https listener is not on 443 here, so the plain listener passes
    # the Host the redirect must name (in production: just $host, both listeners on their default ports).
    server {{
        listen 127.0.0.1:{http};
        location / {{
            proxy_pass http://kaisen;
            proxy_set_header Host $host:{https};
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
    server {{
        listen 127.0.0.1:{https} ssl;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        location / {{
            proxy_pass http://kaisen;
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not os.path.exists(NGINX):
        pytest.fail("nginx is missing: apt-get install nginx-light (scripts/test.sh installs it)")
    tmp = tmp_path_factory.mktemp("proxy")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAISEN_SECRET_KEY",
                                                                "KAISEN_TRUST_X_FORWARDED_FOR")}
    env["KAISEN_DATA_DIR"] = str(tmp / "data")
    # Demo data first (it closes demo invoices, which production refuses without a real issuer) ...
    subprocess.run([*KAISEN, "migrate"], env=env, check=True, capture_output=True, timeout=300)
    demo = subprocess.run([*KAISEN, "demo", "--lines", "0", "--json"], env=env, check=True, capture_output=True,
                          timeout=300)
    # ... then the portal as in production, behind nginx.
    env.update({"KAISEN_PRODUCTION": "1", "KAISEN_TRUSTED_PROXIES": "127.0.0.1", "KAISEN_LOCKOUT_IP_FAILURES": "3",
                "KAISEN_ALLOWED_HOSTS": "127.0.0.1"})
    tenants = json.loads(demo.stdout)["tenants"]
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / d).mkdir()
    ports = {"app": _free_port(), "http": _free_port(), "https": _free_port()}
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, **ports))

    app = subprocess.Popen([*KAISEN, "serve", "--port", str(ports["app"]), "--no-worker"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    nginx = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf")], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    try:
        _wait(f"http://127.0.0.1:{ports['app']}/api/v1/openapi.json", app, "kaisen serve")
        _wait(f"https://127.0.0.1:{ports['https']}/api/v1/openapi.json", nginx, "nginx")
        yield {"tenants": tenants, "tmp": tmp, **ports}
    finally:
        nginx.send_signal(signal.SIGQUIT)
        app.terminate()
        for proc in (nginx, app):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _creds(stack: dict[str, Any], tenant: int, user: int = 0) -> dict[str, str]:
    t = stack["tenants"][tenant]
    u = t["users"][user]
    return {"operator_id": t["operator_id"], "username": u["username"], "password": u["password"]}


def _login(client: httpx.Client, url: str, creds: dict[str, str], **kwargs: Any) -> httpx.Response:
    return client.post(f"{url}/api/v1/auth", json=creds, **kwargs)


def _audit_ips(client: httpx.Client, url: str, token: str) -> list[tuple[str, str | None]]:
    resp = client.get(f"{url}/api/v1/audit", params={"limit": 100},
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return [(e["action"], e["ip_address"]) for e in resp.json()["items"]]


def test_audit_log_records_the_client_address_nginx_forwards_and_ignores_spoofed_ones(
        stack: dict[str, Any]) -> None:
    https = f"https://127.0.0.1:{stack['https']}"
    creds = _creds(stack, 0)
    with _client(CLIENT_A) as a:
        # The client writes its own X-Forwarded-For; nginx appends the address it really came from.
        resp = _login(a, https, creds, headers={"X-Forwarded-For": "198.51.100.9"})
        assert resp.status_code == 200, resp.text
        token = resp.json()["token"]
    # Talking to Kaisen directly from a peer that is no trusted proxy: its forwarded headers are dropped.
    with _client(CLIENT_B) as b:
        direct = _login(b, f"http://127.0.0.1:{stack['app']}", creds,
                        headers={"X-Forwarded-For": "198.51.100.10", "X-Forwarded-Proto": "https"})
        # KAISEN_PRODUCTION redirects plain HTTP: the spoofed X-Forwarded-Proto did not make it look secure
        assert direct.status_code == 301, direct.text
        assert direct.headers["location"].startswith("https://")
        assert "strict-transport-security" not in direct.headers
    with _client(CLIENT_A) as a:
        ips = _audit_ips(a, https, token)
    logins = [ip for action, ip in ips if action.startswith("auth.login")]
    assert logins, ips
    assert logins[0] == CLIENT_A  # not nginx's 127.0.0.1, not the spoofed 198.51.100.9
    assert all(ip not in ("198.51.100.9", "198.51.100.10") for _, ip in ips), ips


def test_per_address_login_limit_counts_each_client_behind_the_proxy_apart(stack: dict[str, Any]) -> None:
    """KAISEN_LOCKOUT_IP_FAILURES=3 here: three failures from client A (each on another user name, so no
    account lock is involved) block A — not client B, a user of another tenant behind the same nginx."""
    https = f"https://127.0.0.1:{stack['https']}"
    with _client(CLIENT_A) as a:
        for i in range(3):
            wrong = {**_creds(stack, 0), "username": f"nobody{i}x", "password": "wrong-password-1"}
            assert _login(a, https, wrong).status_code == 401
        blocked = _login(a, https, _creds(stack, 0, 1))
        assert blocked.status_code in (401, 429), blocked.text
    with _client(CLIENT_B) as b:
        ok = _login(b, https, _creds(stack, 1))
        assert ok.status_code == 200, ok.text


def test_https_redirect_happens_once_and_hsts_is_sent_over_https(stack: dict[str, Any]) -> None:
    http = f"http://127.0.0.1:{stack['http']}"
    https = f"https://127.0.0.1:{stack['https']}"
    with _client(CLIENT_A) as a:
        first = a.get(f"{http}/login/")
        assert first.status_code == 301
        assert first.headers["location"] == f"{https}/login/"
        assert "strict-transport-security" not in first.headers  # never over plain HTTP
        secure = a.get(first.headers["location"])
        assert secure.status_code == 200, secure.headers  # served, not redirected again
        assert secure.headers["strict-transport-security"].startswith("max-age=31536000")
    with _client(CLIENT_A, follow_redirects=True, max_redirects=5) as a:
        final = a.get(f"{http}/login/")
        assert final.status_code == 200
        assert str(final.url) == f"{https}/login/"
        assert len(final.history) == 1
