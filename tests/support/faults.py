"""A loopback proxy that breaks what it forwards: the faults a real mirror, index or registry shows on a bad day."""

from __future__ import annotations

import socket
import time
import urllib.request

from tests.support.server import LoopbackServer, Quiet

MODES = ("500", "reset", "truncate", "hang", "corrupt")


class FaultyProxy(LoopbackServer):
    """Forwards GETs to UPSTREAM (``http://127.0.0.1:PORT``); a request whose path contains MATCH gets MODE:
    ``500``, ``reset`` (the connection closed with no answer), ``truncate`` (half the body, the full length
    announced), ``hang`` (no answer for HANG seconds) or ``corrupt`` (the middle byte changed, same length).
    ``hits`` counts the faulted requests."""

    def __init__(self, upstream: str, match: str, mode: str, hang: float = 30.0) -> None:
        assert mode in MODES, mode
        self.upstream, self.match, self.mode, self.hang = upstream.rstrip("/"), match, mode, hang
        self.hits = 0
        proxy = self

        class Handler(Quiet):
            def do_HEAD(self) -> None:
                self.forward("HEAD")

            def do_GET(self) -> None:
                self.forward("GET")

            def forward(self, method: str) -> None:
                faulty = proxy.match in self.path
                if faulty:
                    proxy.hits += 1
                if faulty and proxy.mode == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    return
                if faulty and proxy.mode == "hang":
                    time.sleep(proxy.hang)
                    return
                if faulty and proxy.mode == "500":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "authorization", "range")}
                request = urllib.request.Request(proxy.upstream + self.path, headers=headers, method=method)
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        status, body, kept = answer.status, answer.read(), dict(answer.headers)
                except urllib.error.HTTPError as exc:
                    status, body, kept = exc.code, exc.read(), dict(exc.headers)
                announced = len(body)
                if faulty and proxy.mode == "truncate":
                    body = body[: len(body) // 2]
                if faulty and proxy.mode == "corrupt" and body:
                    middle = len(body) // 2
                    body = body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1:]
                self.send_response(status)
                for key in ("Content-Type", "ETag", "Last-Modified", "Content-Range", "Accept-Ranges"):
                    if key in kept:
                        self.send_header(key, kept[key])
                self.send_header("Content-Length", kept.get("Content-Length", str(announced)) if method == "HEAD"
                                 else str(announced))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(body)

        self.serve(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
