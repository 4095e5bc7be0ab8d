"""Our downloader keeps the API slot sequential; media files stream to disk on worker threads,
verified, retried and paced as the settings say."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from flickr_crawl.downloader.fetcher import CutShort, MediaFetcher, Refused, Stopped, WriteFailed
from tests.helpers import ROOT, scrapy

BIG = bytes(range(256)) * 40_000  # ~10 MB


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a CDN answers
    lock = threading.Lock()
    in_flight = 0
    max_in_flight = 0
    hits: ClassVar[dict[str, int]] = {}
    cookies: ClassVar[dict[str, str | None]] = {}
    connections: ClassVar[set[int]] = set()
    started: ClassVar[dict[str, float]] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path
        with Handler.lock:
            Handler.hits[path] = Handler.hits.get(path, 0) + 1
            Handler.cookies[path] = self.headers.get("Cookie")
            Handler.connections.add(id(self.connection))
            Handler.started.setdefault(path, time.monotonic())
            hit = Handler.hits[path]
        if path.startswith("/slow"):
            with Handler.lock:
                Handler.in_flight += 1
                Handler.max_in_flight = max(Handler.max_in_flight, Handler.in_flight)
            time.sleep(0.05)
            with Handler.lock:
                Handler.in_flight -= 1
            self._send(b'{"stat":"ok"}')
        elif path.split("?")[0] in ("/big", "/noparent") or path.startswith("/keep"):
            self._send(BIG)
        elif path == "/gzip":
            self._send(gzip.compress(BIG), [("Content-Encoding", "gzip")])
        elif path == "/unframed":  # no length, no chunks: the body ends when we close
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(BIG)
            self.close_connection = True
        elif path == "/closed404":
            self.send_response(404)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"<html>gone</html>")
            self.close_connection = True
        elif path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            self.wfile.write(BIG[: len(BIG) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif path.startswith("/busy"):  # 503 twice, the first with Retry-After, then the file
            if hit == 1:
                self._send(b"busy", [("Retry-After", "1")], status=503)
            elif hit == 2:
                self._send(b"busy", status=503)
            else:
                self._send(BIG)
        elif path == "/hop":
            self._send(b"", [("Location", "/big?from=hop")], status=302)
        elif path == "/stall":  # half the body, then nothing
            self.send_response(200)
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            self.wfile.write(BIG[:1000])
            self.wfile.flush()
            time.sleep(3)
            self.close_connection = True
        else:
            self._send(b"not found", status=404)

    def _send(self, body: bytes, headers=(), status: int = 200):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fetcher():
    events: list[tuple[str, float]] = []
    fetcher = MediaFetcher(workers=3, retries=2, timeout=1.0, backoff=(0.2, 5.0),
                           on_event=lambda key, value: events.append((key, value)))  # fmt: skip
    fetcher.events = events  # type: ignore[attr-defined]
    yield fetcher
    fetcher.close()


def fetch_later(fetcher, url, part):
    """The download queued for a worker, as the media pipeline queues it."""
    return fetcher.call(lambda: fetcher.fetch(url, part))


def test_api_slot_is_sequential(server, tmp_path):
    out = tmp_path / "out.json"
    result = scrapy(
        "runspider", str(ROOT / "tests" / "scripts" / "probe_spider.py"),
        "-a", f"base={server}", "-a", f"out={out}", "-s", "LOG_LEVEL=WARNING",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["slow"] == 24
    assert Handler.max_in_flight == 1


def test_body_streams_to_the_part_file(server, fetcher, tmp_path):
    got = fetcher.fetch(f"{server}/big", tmp_path / "big.part")
    assert got.status == 200
    assert got.body == b""  # nothing kept in memory
    assert got.size == got.stored_size == len(BIG)
    assert got.sha256 == got.stored_sha256 == hashlib.sha256(BIG).hexdigest()
    assert got.head == BIG[:64]
    assert (tmp_path / "big.part").read_bytes() == BIG


def test_a_cut_body_is_retried_then_fails_leaving_no_file(server, fetcher, tmp_path):
    with pytest.raises(CutShort):
        fetcher.fetch(f"{server}/cut", tmp_path / "cut.part")
    assert Handler.hits["/cut"] == 3  # 1 + retries
    assert not (tmp_path / "cut.part").exists()
    assert ("retry/count", 1) in fetcher.events
    assert ("retry/max_reached", 1) in fetcher.events


def test_error_status_is_not_written(server, fetcher, tmp_path):
    got = fetcher.fetch(f"{server}/notfound", tmp_path / "notfound.part")
    assert (got.status, got.sha256, got.body) == (404, None, b"not found")
    assert not (tmp_path / "notfound.part").exists()
    closed = fetcher.fetch(f"{server}/closed404", tmp_path / "closed404.part")
    assert (closed.status, closed.body) == (404, b"<html>gone</html>")


@pytest.mark.parametrize("path", ["/gzip", "/unframed"])
def test_a_body_that_cannot_be_verified_is_never_saved(server, fetcher, tmp_path, path):
    """A compressed body is not the file; one without length or framing may be cut."""
    with pytest.raises(Refused):
        fetcher.fetch(f"{server}{path}", tmp_path / "x.part")
    assert Handler.hits[path] == 1  # not retried: it would come the same way again
    assert not (tmp_path / "x.part").exists()


def test_a_part_file_that_cannot_be_made_fails_the_download(server, fetcher, tmp_path):
    with pytest.raises(WriteFailed, match="cannot write"):
        fetcher.fetch(f"{server}/noparent", tmp_path / "no-such-dir" / "x.part")
    assert Handler.hits["/noparent"] == 1  # our disk, not the network: never retried


def test_pushback_holds_the_host_then_the_file_arrives(server, fetcher, tmp_path):
    got = fetcher.fetch(f"{server}/busy", tmp_path / "busy.part")
    assert got.status == 200
    assert got.retried == ["HTTP 503", "HTTP 503"]
    assert (tmp_path / "busy.part").read_bytes() == BIG
    assert ("flickr/backoff/media_http_503", 1) in fetcher.events
    # Retry-After 1 s was honoured before the second attempt, the backoff after the third
    held = [value for key, value in fetcher.events if key == "flickr/backoff/held_seconds"]
    assert held[0] == pytest.approx(1.0)
    assert held[1] == pytest.approx(0.4)


def test_redirects_are_followed_with_each_hosts_own_cookies(server, fetcher, tmp_path):
    asked = []

    def cookies(url: str) -> str | None:
        asked.append(url)
        return "session=1" if url.endswith("/hop") else None

    got = fetcher.fetch(f"{server}/hop", tmp_path / "hop.part", cookies=cookies)
    assert got.status == 200
    assert got.url == f"{server}/big?from=hop"
    assert asked == [f"{server}/hop", f"{server}/big?from=hop"]
    assert Handler.cookies["/hop"] == "session=1"
    assert Handler.cookies["/big?from=hop"] is None
    assert (tmp_path / "hop.part").read_bytes() == BIG


def test_workers_honour_their_number_and_keep_their_connections(server, tmp_path):
    fetcher = MediaFetcher(workers=3, retries=0)
    before = set(Handler.connections)
    try:
        futures = [fetch_later(fetcher, f"{server}/keep{i}", tmp_path / f"{i}.part")
                   for i in range(30)]  # fmt: skip
        sizes = [future.result(timeout=30).size for future in futures]
    finally:
        fetcher.close()
    assert sizes == [len(BIG)] * 30
    assert len(Handler.connections - before) == 3  # one keep-alive connection per worker


def test_a_silent_server_times_out(server, fetcher, tmp_path):
    with pytest.raises(TimeoutError):
        fetcher.fetch(f"{server}/stall", tmp_path / "stall.part")
    assert not (tmp_path / "stall.part").exists()


def test_close_stops_a_download_in_flight(server, tmp_path):
    fetcher = MediaFetcher(workers=1, retries=0, timeout=30)
    future = fetch_later(fetcher, f"{server}/stall", tmp_path / "stall.part")
    time.sleep(0.3)
    started = time.monotonic()
    fetcher.close()
    with pytest.raises(Stopped):
        future.result(timeout=5)
    assert time.monotonic() - started < 2
    assert not (tmp_path / "stall.part").exists()
    with pytest.raises(Stopped):
        fetch_later(fetcher, f"{server}/big", tmp_path / "late.part").result(timeout=5)
