"""A threaded HTTP server on 127.0.0.1 that the test fixtures run as a context manager."""

from __future__ import annotations

import base64
import http.server
import threading
from typing import Any


class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def refused(self, auth: tuple[str, str] | None, realm: str) -> bool:
        """Answer 401 (and say so) unless the request carries AUTH as basic auth; AUTH None: nothing is needed."""
        if auth is None:
            return False
        wanted = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        if self.headers.get("Authorization") == wanted:
            return False
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Basic realm="{realm}"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up early (pip does) is normal
            super().handle_error(request, client_address)


class LoopbackServer:
    """``with Subclass(...) as s: s.port`` serves ``self.handler`` on 127.0.0.1 from a daemon thread."""

    def serve(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.server = _Server(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
