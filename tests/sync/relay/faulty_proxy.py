"""An HTTP proxy on 127.0.0.1 in front of the test store that can fail on demand: every request
answered 503 SlowDown (throttling) or 500, as a real store does under load or in trouble.

Requests pass through byte for byte (the Host header included, so S3 signatures still check).
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import threading
from typing import Any
from urllib.parse import urlsplit


class FaultyProxy:
    """``mode``: "pass", "throttle" (503) or "error" (500)."""

    def __init__(self, backend: str) -> None:
        target = urlsplit(backend)
        self.mode = "pass"
        self.faults = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                mode = proxy.mode
                if mode != "pass":
                    proxy.faults += 1
                if mode in ("throttle", "error"):
                    status, code = (503, "SlowDown") if mode == "throttle" else (500, "InternalError")
                    data = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for key, value in self.headers.items():
                        if key.lower() not in ("connection", "transfer-encoding"):
                            conn.putheader(key, value)
                    conn.endheaders(body or None)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status)
                    for key, value in resp.getheaders():
                        if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = True  # server_close() joins the handler threads

            def process_request(self, request: Any, client_address: Any) -> None:
                proxy.connections.append(request)
                super().process_request(request, client_address)

        self.connections: list[socket.socket] = []
        self.server = Server(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="faulty-proxy", daemon=True)

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        for conn in self.connections:  # kept alive by the client: end them, so handlers return
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.server.server_close()
        self._thread.join(5)
