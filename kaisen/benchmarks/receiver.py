"""A small fast webhook receiver for ``kaisen bench events`` (issue 13): a threaded ``http.server`` on
127.0.0.1 answering every POST with 204, HTTP/1.1 keep-alive, in a process of its own (no Django).

``python -m kaisen.benchmarks.receiver serve`` prints its port, then counts requests until stdin closes and
prints the count. ``python -m kaisen.benchmarks.receiver post URL N`` is the bare path: N POSTs of a webhook-
sized body over one keep-alive connection (httpx), no database; prints the seconds taken.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BODY = (b'{"id":"evt_bench","type":"usage_alert.fired","version":1,"timestamp":"2026-12-07T01:00:00Z",'
        b'"tenant":"OP9000000001","data":{"rule_id":1,"rule_name":"bench","condition":"calls_month_yen",'
        b'"threshold":"1000","value":"1234.00","period":"2026-12","line_id":1,"msisdn":"09000000000",'
        b'"actions":["webhook"]}}')


def serve() -> None:
    count = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                count[0] += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    server.shutdown()
    print(count[0], flush=True)


def post(url: str, n: int) -> None:
    import httpx

    headers = {"Content-Type": "application/json", "webhook-id": "evt_bench", "webhook-timestamp": "0",
               "webhook-signature": "v1," + "A" * 44}
    with httpx.Client(trust_env=False, timeout=10) as client:
        started = time.perf_counter()
        for _ in range(n):
            client.post(url, content=BODY, headers=headers).raise_for_status()
        print(time.perf_counter() - started, flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    elif sys.argv[1:2] == ["post"]:
        post(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: python -m kaisen.benchmarks.receiver serve | post URL N")
