"""Our downloader keeps per-slot limits exact, and media bodies stream to disk, verified."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import ROOT, scrapy

BIG = bytes(range(256)) * 40_000  # ~10 MB


class Handler(BaseHTTPRequestHandler):
    in_flight = 0
    max_in_flight = 0
    media_in_flight = 0
    max_media_in_flight = 0
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/slowmedia"):
            with Handler.lock:
                Handler.media_in_flight += 1
                Handler.max_media_in_flight = max(
                    Handler.max_media_in_flight, Handler.media_in_flight
                )
            time.sleep(0.1)
            with Handler.lock:
                Handler.media_in_flight -= 1
            self._send(b"x")
        elif self.path.startswith("/slow"):
            with Handler.lock:
                Handler.in_flight += 1
                Handler.max_in_flight = max(Handler.max_in_flight, Handler.in_flight)
            time.sleep(0.05)
            with Handler.lock:
                Handler.in_flight -= 1
            self._send(b'{"stat":"ok"}')
        elif self.path in ("/big", "/noparent"):
            self._send(BIG)
        elif self.path == "/gzip":
            body = gzip.compress(BIG)
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/closed404":  # no Content-Length: the body ends when we close
            self.send_response(404)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"<html>gone</html>")
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            self.wfile.write(BIG[: len(BIG) // 2])
            self.wfile.flush()
            self.connection.close()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"not found")

    def _send(self, body: bytes):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    tmp = tmp_path_factory.mktemp("probe")
    out = tmp / "out.json"
    result = scrapy(
        "runspider", str(ROOT / "tests" / "scripts" / "probe_spider.py"),
        "-a", f"base=http://127.0.0.1:{server.server_port}", "-a", f"out={out}",
        "-a", f"parts={tmp}", "-s", "LOG_LEVEL=WARNING", "-s", "FLICKR_MEDIA_CONCURRENCY=3",
    )  # fmt: skip
    server.shutdown()
    server.server_close()
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text()), tmp


def test_api_slot_is_sequential(probe):
    results, _ = probe
    assert results["slow"] == 24
    assert Handler.max_in_flight == 1


def test_queued_media_never_hold_back_api_calls(probe):
    """60 files queued for the media slot (3 at a time, 0.1 s each) while 6 API calls wait
    in the scheduler: the calls go out at once, not after the files (they used to wait for
    all but 16 of them)."""
    results, _ = probe
    media, api = sorted(results["pipeline_media_done"]), sorted(results["api_done"])
    assert len(media) == 60
    assert len(api) == 6
    assert api[-1] < media[len(media) // 2]


def test_media_slot_honours_flickr_media_concurrency(probe):
    assert Handler.max_media_in_flight == 3


def test_body_streams_to_the_part_file(probe):
    results, tmp = probe
    big = results["streams"]["big"]
    assert big["status"] == 200
    assert big["body"] == 0  # nothing kept in memory
    assert big["result"]["size"] == len(BIG)
    assert big["result"]["sha256"] == hashlib.sha256(BIG).hexdigest()
    assert (tmp / "big.part").read_bytes() == BIG


def test_cut_body_leaves_no_file(probe):
    results, tmp = probe
    assert results["errors"]["cut"] == "ResponseDataLossError"
    assert not (tmp / "cut.part").exists()


def test_error_status_is_not_written(probe):
    results, tmp = probe
    assert results["streams"]["notfound"]["status"] == 404
    assert results["streams"]["notfound"]["result"] is None
    assert not (tmp / "notfound.part").exists()


def test_a_compressed_body_is_never_saved_as_the_file(probe):
    results, tmp = probe
    assert results["errors"]["gzip"] == "ResponseDataLossError"
    assert not (tmp / "gzip.part").exists()


def test_an_error_page_ended_by_close_keeps_its_status(probe):
    results, _ = probe
    assert results["streams"]["closed404"]["status"] == 404


def test_a_part_file_that_cannot_be_made_fails_the_download(probe):
    results, _ = probe
    assert results["errors"]["noparent"] == "FileNotFoundError"
