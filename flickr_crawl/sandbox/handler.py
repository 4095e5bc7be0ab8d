"""The sandbox's HTTP plumbing, shared by every part it plays: complete answers (or cut
ones), the request log's status and Retry-After, hard connection resets, and the transport
faults (slow, reset, 5xx, 429) every host can be told to show.
"""

from __future__ import annotations

import logging
import random
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flickr_crawl.sandbox.server import SandboxServer

logger = logging.getLogger(__name__)

HTML_429 = (
    "<html><body><h1>429 Too Many Requests</h1>You have sent too many requests in a given "
    "amount of time.</body></html>"
)
SLOW_FAULT_SECONDS = 2.0
WRONG_TYPES = ("text/html; charset=utf-8", "application/octet-stream", "image/gif", "text/plain")


class BaseHandler(BaseHTTPRequestHandler):
    """One request's plumbing; ``SandboxHandler`` routes it."""

    """Routes one request."""

    server: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "Jubilee"
    # TCP_NODELAY, as Flickr's front ends (and nginx's default) have it. Without it a keep-alive
    # client waits for its delayed ACK (40 ms) between the header write and the body write of
    # every answer: 44 ms per API call, a cost the real service does not add.
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        """The CDN's ``Server`` header."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet by default; debug-level access log."""
        logger.debug("%s - %s", self.address_string(), format % args)

    def send_response(self, code: int, message: str | None = None) -> None:
        """Remember the status for the request log."""
        self._status = code
        super().send_response(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        """Remember a Retry-After for the request log."""
        if keyword.lower() == "retry-after":
            self._retry_after = value
        super().send_header(keyword, value)

    # -- plumbing -----------------------------------------------------------------------------
    def do_GET(self) -> None:
        """GET dispatcher."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """POST dispatcher."""
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        """HEAD dispatcher (media only sends headers)."""
        self._dispatch("HEAD")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(
        self,
        status: int,
        body: bytes | str = b"",
        ctype: str = "text/html; charset=utf-8",
        headers: Iterable[tuple[str, str]] = (),
        *,
        cut: bool = False,
    ) -> None:
        """Send a complete response (or, with ``cut``, headers and half the body, then close)."""
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if cut:
            data = data[: len(data) // 2]
            self.close_connection = True
        self.wfile.write(data)
        self.server.count("bytes_served", len(data))
        if cut:
            self.wfile.flush()
            self._hard_close()

    def _hard_close(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("socket already closed")

    def _common_fault(self, kind: str | None) -> bool:
        """Apply a transport-level fault; True if the response was already produced."""
        self._fault = kind
        if kind is None:
            return False
        if kind == "slow":
            time.sleep(SLOW_FAULT_SECONDS)
            return False
        if kind == "reset":
            self._hard_close()
            return True
        if kind == "http_5xx":
            status = random.Random(time.time_ns()).choice((500, 502, 503, 504))
            self.send(status, f"<html><body><h1>{status} Server Error</h1></body></html>")
            return True
        if kind == "http_429":  # every other one says when to come back
            with self.server.state_lock:
                self.server.too_many += 1
                hdrs = [("Retry-After", "2")] if self.server.too_many % 2 else []
            self.send(429, HTML_429, headers=hdrs)
            return True
        return False

    def _dispatch(self, method: str) -> None:
        raise NotImplementedError

    def _params(
        self, method: str, query: str
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        qpairs = parse_qsl(query, keep_blank_values=True)
        bpairs: list[tuple[str, str]] = []
        if method == "POST":
            raw = self._body()
            ctype = self.headers.get("Content-Type", "")
            if raw and ("x-www-form-urlencoded" in ctype or not ctype):
                bpairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return qpairs, bpairs

    def _url(self, path: str) -> str:
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        return f"http://{host}{path}"
