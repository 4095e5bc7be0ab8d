"""The sandbox's CDNs: image files by their Flickr URL (every size, ``_d`` downloads, HEAD)
and video originals behind signed, expiring URLs with Range support; both can be told to fail
(``MEDIA_FAULT_KINDS``).
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from email.utils import formatdate
from urllib.parse import parse_qsl

from flickr_crawl.sandbox.handler import WRONG_TYPES, BaseHandler
from flickr_crawl.sandbox.sizes import SIZE_BY_SUFFIX, VIDEO_STREAMS, renditions

MEDIA_FAULT_KINDS = ("http_5xx", "http_429", "cut_body", "reset", "wrong_type", "slow")
MEDIA_RE = re.compile(r"^/(\d+)/(\d+)_([0-9a-f]+)(?:_([a-z0-9]+?))?(_d)?\.(jpg|png|gif)$")
VIDEO_RE = re.compile(r"^/video/(\d+)/([0-9a-f]+)/([a-z0-9_]+)\.(mp4|mov)$")


class CdnHandler(BaseHandler):
    """Image and video files."""

    def handle_video(self, path: str, query: str) -> None:
        """Signed video file with Range support, streamed in chunks."""
        srv = self.server
        srv.count("media_requests")
        srv.count("video_requests")
        m = VIDEO_RE.match(path)
        photo = srv.world.photos.get(m.group(1)) if m else None
        if m is None or photo is None or photo.video is None:
            self.send(404, "")
            return
        pid, secret, name, ext = m.groups()
        want_secret = photo.originalsecret if name == "orig" else photo.secret
        want_ext = photo.video.container if name == "orig" else "mp4"
        token = dict(parse_qsl(query)).get("s", "")
        if secret != want_secret or ext != want_ext:
            self.send(404, "")
            return
        if not srv.check_video_token(token, pid, secret, name):
            self.send(403, "<html><body><h1>403 Forbidden</h1></body></html>")
            return
        answered, fault = self._media_fault(pid)
        if answered:
            return
        total = srv.media.video_size(photo, name)
        start, end, status = 0, total - 1, 200
        rng_header = self.headers.get("Range")
        if rng_header:
            parsed = self._parse_range(rng_header, total)
            if parsed is None:
                self.send(416, "", headers=[("Content-Range", f"bytes */{total}")])
                return
            start, end = parsed
            status = 206
        v = photo.video
        if name == "orig":
            width, height = v.width, v.height
        else:
            height = dict(VIDEO_STREAMS).get(name) or min(v.height, 360)
            width = round(v.width * height / v.height)
        etag = hashlib.md5(f"{srv.world.seed}:{pid}:{name}:{total}".encode()).hexdigest()
        length = end - start + 1
        self.send_response(status)
        vtype = "video/quicktime" if ext == "mov" else "video/mp4"
        self.send_header("Content-Type", self._served_type(vtype, fault))
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
        self.send_header("Cache-Control", "public, max-age=31536000")
        self.send_header("ETag", f'"{etag}"')
        self.send_header("Last-Modified", formatdate(photo.dateupload, usegmt=True))
        self.send_header("Expires", formatdate(time.time() + 31536000, usegmt=True))
        self.send_header("imagewidth", str(width))
        self.send_header("imageheight", str(height))
        if fault == "cut_body":
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        limit = length // 2 if fault == "cut_body" else length
        sent = 0
        for piece in srv.media.video_chunks(photo, name, start, end):
            if sent + len(piece) > limit:
                piece = piece[: limit - sent]
            self.wfile.write(piece)
            sent += len(piece)
            if sent >= limit:
                break
        srv.count("bytes_served", sent)
        if fault == "cut_body":
            self.wfile.flush()
            self._hard_close()

    def _media_fault(self, pid: str) -> tuple[bool, str | None]:
        """The fault this media answer carries, and whether it has been answered already (a
        photo set to fail for good, or a fault common to every route)."""
        srv = self.server
        if pid in {str(x) for x in srv.faults.get("permanent_photo_ids", [])}:
            self.send(500, "<html><body><h1>500 Internal Server Error</h1></body></html>")
            return True, None
        fault = srv.pick_fault(MEDIA_FAULT_KINDS)
        return self._common_fault(fault), fault

    @staticmethod
    def _served_type(ctype: str, fault: str | None) -> str:
        """The Content-Type sent: a CDN that answers with the wrong one sends any other."""
        if fault == "wrong_type":
            return random.Random(time.time_ns()).choice(WRONG_TYPES)
        return ctype

    @staticmethod
    def _parse_range(header: str, total: int) -> tuple[int, int] | None:
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
        if not m or (not m.group(1) and not m.group(2)):
            return None
        if not m.group(1):
            n = int(m.group(2))
            return (max(0, total - n), total - 1) if n else None
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else total - 1
        if start >= total or end < start:
            return None
        return start, min(end, total - 1)

    def handle_media(self, path: str) -> None:
        """``/{server}/{id}_{secret}[_{suffix}][_d].{ext}``."""
        srv = self.server
        srv.count("media_requests")
        if srv.config.media_slow:  # a far-away CDN: what keeps several downloads in flight
            time.sleep(srv.config.media_slow)
        m = MEDIA_RE.match(path)
        assert m is not None
        server, pid, secret, suffix, dl, ext = m.groups()
        suffix = suffix or ""
        if suffix == "d" and not dl:
            suffix, dl = "", "_d"
        photo = srv.world.photos.get(pid)
        rendition = None
        if (
            photo is not None
            and not photo.deleted
            and photo.server == server
            and suffix in SIZE_BY_SUFFIX
        ):
            rendition = next(
                (r for r in renditions(photo, with_original=True) if r.spec.suffix == suffix), None
            )
        if rendition is None or rendition.secret != secret or rendition.ext != ext:
            self.send(404, b"", "text/html; charset=utf-8")
            return
        assert photo is not None
        answered, fault = self._media_fault(pid)
        if answered:
            return
        data = srv.media.image(photo, rendition)
        ctype = self._served_type(
            {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif"}[ext], fault
        )
        headers = [
            ("Cache-Control", "public, max-age=31536000"),
            ("ETag", f'"{hashlib.md5(data).hexdigest()}.1"'),
            ("Last-Modified", formatdate(photo.dateupload, usegmt=True)),
            ("Expires", formatdate(time.time() + 31536000, usegmt=True)),
            ("imagewidth", str(rendition.width)),
            ("imageheight", str(rendition.height)),
        ]
        if dl:
            sfx = f"_{suffix}" if suffix else ""
            headers.append(
                ("Content-Disposition", f"attachment; filename={pid}_{secret}{sfx}.{ext}")
            )
        self.send(200, data, ctype, headers, cut=(fault == "cut_body"))
