"""Media files go through Scrapy's engine: streamed to disk, verified, retried, paced, proxied.

Our downloader keeps the API slot sequential and the media slot at FLICKR_MEDIA_CONCURRENCY;
the media handler writes each body to its ``.part`` file as it arrives. A local server plays
a CDN (and its failures); a test spider (``tests/scripts/media_spider.py``) fetches from it as
the media pipeline does. Full crawls against the sandbox check what a user would see: a proxy
that sees every file, and ``DOWNLOAD_DELAY`` between them.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import urlsplit

import pytest

from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, crawl_args, runspider, scrapy, web_session

BIG = bytes(range(256)) * 40_000  # ~10 MB


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a CDN answers
    lock = threading.Lock()
    in_flight = 0
    max_in_flight = 0
    media_in_flight = 0
    max_media_in_flight = 0
    hits: ClassVar[dict[str, list[float]]] = {}
    cookies: ClassVar[dict[str, str | None]] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path
        with Handler.lock:
            Handler.hits.setdefault(path, []).append(time.monotonic())
            Handler.cookies[path] = self.headers.get("Cookie")
            hit = len(Handler.hits[path])
        if path.startswith("/slowmedia"):
            with Handler.lock:
                Handler.media_in_flight += 1
                Handler.max_media_in_flight = max(
                    Handler.max_media_in_flight, Handler.media_in_flight
                )
            time.sleep(0.1)
            with Handler.lock:
                Handler.media_in_flight -= 1
            self._send(BIG[:1000])
        elif path.startswith("/slow"):
            with Handler.lock:
                Handler.in_flight += 1
                Handler.max_in_flight = max(Handler.max_in_flight, Handler.in_flight)
            time.sleep(0.05)
            with Handler.lock:
                Handler.in_flight -= 1
            self._send(b'{"stat":"ok"}')
        elif path.split("?")[0] in ("/big", "/noparent", "/big2"):
            self._send(BIG)
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(BIG), 1 << 20):
                piece = BIG[start : start + (1 << 20)]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
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
        elif path == "/hop":  # to another host name of this server (a CDN)
            port = self.server.server_address[1]
            self._send(b"", [("Location", f"http://localhost:{port}/big?from=hop")], status=302)
        elif path == "/stall":  # a bit of the body, then nothing
            self.send_response(200)
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            self.wfile.write(BIG[:1000])
            self.wfile.flush()
            time.sleep(3)
            self.close_connection = True
        elif path == "/trickle":  # slower than DOWNLOAD_TIMEOUT in all, never silent that long
            self.send_response(200)
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            for start in range(0, len(BIG), len(BIG) // 10):
                self.wfile.write(BIG[start : start + len(BIG) // 10])
                self.wfile.flush()
                time.sleep(0.3)
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


NAMES = ("big", "chunked", "cut", "notfound", "closed404", "gzip", "unframed", "noparent",
         "busy", "hop", "stall", "trickle")  # fmt: skip


@pytest.fixture(scope="module")
def fetched(server, tmp_path_factory):
    """One crawl fetches every file above at once, as the media pipeline would."""
    tmp = tmp_path_factory.mktemp("media")
    session = tmp / "session.json"  # the web session: a cookie for 127.0.0.1 only
    session.write_text(json.dumps({"cookies": [{
        "name": "session", "value": "1", "domain": "127.0.0.1", "path": "/", "secure": False,
    }]}))  # fmt: skip
    out = tmp / "out.json"
    result = runspider(
        "media_spider.py", tmp,
        "-a", f"base={server}", "-a", f"out={out}", "-a", f"parts={tmp}",
        "-a", f"names={','.join(NAMES)}", "-a", "session=hop",
        "-s", "LOG_LEVEL=WARNING", "-s", "FLICKR_MEDIA_CONCURRENCY=3", "-s", "RETRY_TIMES=2",
        "-s", "DOWNLOAD_TIMEOUT=1", "-s", "FLICKR_BACKOFF_START=0.2",
        "-s", f"FLICKR_WEB_SESSION_FILE={session}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text()), tmp


def test_api_slot_is_sequential(server, tmp_path):
    out = tmp_path / "out.json"
    result = runspider(
        "probe_spider.py", tmp_path,
        "-a", f"base={server}", "-a", f"out={out}", "-s", "LOG_LEVEL=WARNING",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["slow"] == 24
    assert Handler.max_in_flight == 1


@pytest.mark.parametrize("name", ["big", "chunked"])
def test_body_streams_to_the_part_file(fetched, name):
    results, tmp = fetched
    got = results[name]
    assert got["status"] == 200
    assert got["body"] == 0  # nothing kept in memory
    assert got["result"]["size"] == got["result"]["stored_size"] == len(BIG)
    digest = hashlib.sha256(BIG).hexdigest()
    assert got["result"]["sha256"] == got["result"]["stored_sha256"] == digest
    assert bytes.fromhex(got["result"]["head"]) == BIG[:64]
    assert (tmp / f"{name}.part").read_bytes() == BIG


def test_media_slot_honours_flickr_media_concurrency(server, tmp_path):
    """12 files asked for at once, each taking 0.1 s to serve: 3 at a time, no more."""
    out = tmp_path / "out.json"
    names = ",".join(f"slowmedia{i}" for i in range(12))
    result = runspider(
        "media_spider.py", tmp_path,
        "-a", f"base={server}", "-a", f"out={out}", "-a", f"parts={tmp_path}",
        "-a", f"names={names}", "-s", "LOG_LEVEL=WARNING", "-s", "FLICKR_MEDIA_CONCURRENCY=3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("slowmedia*.part"))) == 12
    assert Handler.max_media_in_flight == 3


def test_a_cut_body_is_retried_then_fails_leaving_no_file(fetched):
    results, tmp = fetched
    assert results["cut"]["error"] == "ResponseDataLossError"
    assert len(Handler.hits["/cut"]) == 3  # 1 + RETRY_TIMES
    assert not (tmp / "cut.part").exists()
    stats = results["__stats__"]
    assert stats["retry/reason_count/scrapy.exceptions.ResponseDataLossError"] >= 2


def test_error_status_is_not_written(fetched):
    results, tmp = fetched
    for name in ("notfound", "closed404"):
        assert results[name]["status"] == 404
        assert results[name]["result"] is None
        assert not (tmp / f"{name}.part").exists()
    assert results["notfound"]["body"] == len(b"not found")  # small error pages are read


@pytest.mark.parametrize("name", ["gzip", "unframed"])
def test_a_body_that_cannot_be_verified_is_never_saved(fetched, name):
    """A compressed body is not the file; one without length or framing may be cut."""
    results, tmp = fetched
    assert results[name]["error"] == "Refused"
    assert len(Handler.hits[f"/{name}"]) == 1  # not retried: it would come the same way again
    assert not (tmp / f"{name}.part").exists()


def test_a_part_file_that_cannot_be_made_fails_the_download(fetched):
    results, _ = fetched
    assert results["noparent"]["error"] == "WriteFailed"
    assert len(Handler.hits["/noparent"]) == 1  # our disk, not the network: never retried


def test_pushback_holds_the_media_slot_then_the_file_arrives(fetched):
    results, tmp = fetched
    assert results["busy"]["status"] == 200
    assert (tmp / "busy.part").read_bytes() == BIG
    first, second, third = Handler.hits["/busy"]
    assert second - first >= 0.95  # Retry-After: 1
    assert third - second >= 0.18  # then at least the backoff interval (0.2 s here)
    stats = results["__stats__"]
    assert stats["flickr/backoff/http_503"] == 2
    assert stats["retry/reason_count/503 Service Unavailable"] == 2


def test_redirects_are_followed_with_each_hosts_own_cookies(fetched, server):
    results, tmp = fetched
    assert results["hop"]["status"] == 200
    assert results["hop"]["url"] == f"http://localhost:{server.rsplit(':', 1)[1]}/big?from=hop"
    assert Handler.cookies["/hop"] == "session=1"
    assert Handler.cookies["/big?from=hop"] is None  # another host: not its cookie
    assert Handler.cookies["/big"] is None  # not marked for the web session
    assert (tmp / "hop.part").read_bytes() == BIG


def test_a_silent_server_times_out_but_a_slow_one_finishes(fetched):
    """DOWNLOAD_TIMEOUT (1 s here) bounds each silence of a file's body, not its whole
    transfer: a long video finishes while it keeps coming."""
    results, tmp = fetched
    assert results["stall"]["error"] == "DownloadTimeoutError"
    assert not (tmp / "stall.part").exists()
    assert results["trickle"]["status"] == 200
    assert results["trickle"]["done"] - results["trickle"]["started"] > 2
    assert (tmp / "trickle.part").read_bytes() == BIG


def test_download_maxsize_applies_to_media(server, tmp_path):
    out = tmp_path / "out.json"
    result = runspider(
        "media_spider.py", tmp_path,
        "-a", f"base={server}", "-a", f"out={out}", "-a", f"parts={tmp_path}",
        "-a", "names=big2,chunked", "-s", "LOG_LEVEL=WARNING",
        "-s", f"DOWNLOAD_MAXSIZE={len(BIG) // 2}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads(out.read_text())
    assert results["big2"]["error"] == "DownloadCancelledError"  # by its Content-Length
    assert results["chunked"]["error"] == "DownloadCancelledError"  # as the bytes came
    assert not list(tmp_path.glob("*.part"))


class Proxy(BaseHTTPRequestHandler):
    """A plain HTTP proxy on loopback that notes every URL it forwards."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[str]] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Proxy.seen.append(self.path)  # an absolute URL, as clients send proxies
        url = urlsplit(self.path)
        conn = http.client.HTTPConnection(url.netloc, timeout=30)
        hop = ("proxy-connection", "connection", "keep-alive")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
        conn.request("GET", url.path + (f"?{url.query}" if url.query else ""), headers=headers)
        response = conn.getresponse()
        body = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        conn.close()


def logged_so_far(sandbox) -> int:
    """How many requests the sandbox has logged once the last answered one is in: it logs a
    request after its answer has gone, so a client can be a little ahead of the log."""
    count = len(sandbox.requests())
    while True:
        time.sleep(0.3)
        now = len(sandbox.requests())
        if now == count:
            return count
        count = now


def test_every_media_request_goes_through_the_proxy(tmp_path):
    """``http_proxy`` in the environment: Scrapy's proxy middleware sends the photos, the
    video's play page and its CDN file through it, as it does the API calls."""
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    env = {"http_proxy": f"http://127.0.0.1:{proxy.server_port}", "no_proxy": ""}
    try:
        with Sandbox("--photos", "6", "--videos", "1", "--albums", "1", "--image-size", "small",
                     auth_file=tmp_path / "auth.json") as sandbox:  # fmt: skip
            session = web_session(sandbox, tmp_path / "session.json")
            archive = tmp_path / "archive"
            before = logged_so_far(sandbox)  # the sign-in above came straight
            result = scrapy(
                *crawl_args(sandbox, archive, "-s", f"FLICKR_WEB_SESSION_FILE={session}"),
                env=env,
            )
            requests = sandbox.requests()[before:]
            served = [r["path"] for r in requests]
            media = [r["path"] for r in requests if r["kind"] == "media"]
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(media) >= 7  # six photos and the video (and the video's still)
    proxied = [urlsplit(url).path for url in Proxy.seen]
    assert sorted(proxied) == sorted(served)  # every request the sandbox saw came that way
    assert any("/play/orig/" in path for path in proxied)
    videos = [p for p in archive.rglob("*") if p.suffix in (".mp4", ".mov")]
    assert len(videos) == 1


def test_download_delay_spaces_media_requests(tmp_path):
    with Sandbox("--photos", "6", "--videos", "0", "--albums", "1", "--image-size", "small",
                 auth_file=tmp_path / "auth.json") as sandbox:  # fmt: skip
        result = crawl(sandbox, tmp_path / "archive", "-s", "DOWNLOAD_DELAY=0.4",
                       "-s", "DOWNLOAD_DELAY_JITTER=0",
                       "-s", "FLICKR_DEEP_METADATA_ENABLED=0")  # fmt: skip
        media = sorted(r["t"] for r in sandbox.requests() if r["kind"] == "media")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(media) == 6
    gaps = [b - a for a, b in itertools.pairwise(media)]
    assert min(gaps) >= 0.35, gaps
