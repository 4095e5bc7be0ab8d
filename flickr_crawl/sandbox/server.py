"""The sandbox HTTP server: one port playing api.flickr.com, www.flickr.com and the CDNs.

Routes REST calls (with JSON/JSONP envelopes and Flickr's ``\\/`` escaping), the OAuth
endpoints, the web sign-in and video ``play/*`` redirects, signed video downloads with Range
support, CDN image files, and the ``/__sandbox/*`` test hooks (stats, ground truth, faults,
mutations). Fault injection, the per-key hourly API limit and added latency live here, so the
REST and world modules stay free of transport concerns.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import html
import json
import logging
import random
import re
import socket
import struct
import threading
import time
from email.utils import formatdate
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

from flickr_crawl.sandbox.media import MediaStore
from flickr_crawl.sandbox.oauth import OAuthError, OAuthProvider, Token
from flickr_crawl.sandbox.rest import ApiError, Caller, Rest, rest_xml
from flickr_crawl.sandbox.sizes import (
    SIZE_BY_SUFFIX,
    VIDEO_STREAMS,
    cdn_url,
    find_rendition,
    renditions,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flickr_crawl.sandbox.world import Photo, World

logger = logging.getLogger(__name__)

HTML_429 = (
    "<html><body><h1>429 Too Many Requests</h1>You have sent too many requests in a given "
    "amount of time.</body></html>"
)
FAULT_KINDS = (
    "http_5xx",
    "http_429",
    "stat_105",
    "stat_201",
    "cut_body",
    "reset",
    "slow",
    "bad_json",  # API: HTTP 200 with an HTML page or a truncated JSON body
    "wrong_type",  # a correct body under a wrong Content-Type
)
MEDIA_FAULT_KINDS = ("http_5xx", "http_429", "cut_body", "reset", "wrong_type", "slow")
SLOW_FAULT_SECONDS = 2.0
WRONG_TYPES = ("text/html; charset=utf-8", "application/octet-stream", "image/gif", "text/plain")
REQUEST_LOG_SIZE = 50_000  # entries kept for /__sandbox/requests
MEDIA_RE = re.compile(r"^/(\d+)/(\d+)_([0-9a-f]+)(?:_([a-z0-9]+?))?(_d)?\.(jpg|png|gif)$")
PLAY_RE = re.compile(r"^/photos/([^/]+)/(\d+)/play/([a-z0-9_]+)/([0-9a-f]+)/?$")
VIDEO_RE = re.compile(r"^/video/(\d+)/([0-9a-f]+)/([a-z0-9_]+)\.(mp4|mov)$")
NOISE_COOKIES = ("xb", "localization", "flrbp", "flrbgrp", "flrb", "ccc")
MAX_HASHED_VIDEO = 64 << 20


def flickr_json(data: Any) -> str:
    """JSON the way Flickr writes it: ASCII with ``\\uXXXX`` and ``\\/``."""
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


class Config:
    """Runtime knobs from the command line."""

    def __init__(self, **kw: Any) -> None:
        self.seed: int = kw.get("seed", 1)
        self.fault_rate: float = kw.get("fault_rate", 0.0)
        self.api_limit: int = kw.get("api_limit", 0)
        self.video_url_ttl: int = kw.get("video_url_ttl", 180)
        self.slow: float = kw.get("slow", 0.0)
        self.media_slow: float = kw.get("media_slow", 0.0)
        self.image_size: str = kw.get("image_size", "realistic")
        self.media_host: str = kw.get("media_host", "")


class SandboxServer(ThreadingHTTPServer):
    """ThreadingHTTPServer holding the world, OAuth provider, media store and test state."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, world: World, config: Config, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), SandboxHandler)
        self.world = world
        self.config = config
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.rest = Rest(world, self.base)
        self.move_media(config.media_host)
        self.media = MediaStore(world.seed, config.image_size)
        self.oauth = OAuthProvider({world.api_key: world.api_secret}, world.seed)
        self.oauth.add_access_token(
            Token(
                world.oauth_token,
                world.oauth_token_secret,
                world.api_key,
                nsid=world.owner.nsid,
                perms="read",
                authorized=True,
            )
        )
        self.video_key = hashlib.sha256(f"video:{world.seed}".encode()).digest()
        self.web_sessions: set[str] = set()
        self.state_lock = threading.RLock()
        self.fault_rng = random.Random(f"faults:{world.seed}")
        self.faults: dict[str, Any] = {
            "rate": config.fault_rate,
            "kinds": list(FAULT_KINDS),
            "permanent_photo_ids": [],
            "cycle": False,  # True: every (1/rate)-th request fails, the kinds taken in turn
        }
        self._fault_turns: dict[tuple[str, ...], tuple[int, int]] = {}
        self.too_many = 0  # 429s sent
        self.api_hits: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._digests: dict[tuple[str, str], tuple[int, str]] = {}
        # What arrived when and how it was answered, for tests that measure pacing.
        self.request_log: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=REQUEST_LOG_SIZE
        )
        self.reset_stats()

    @property
    def media_base(self) -> str:
        """Where the API's answers say CDN files, video plays and photo pages are."""
        return self.rest.base

    def move_media(self, host: str) -> None:
        """Name CDN files and pages on ``host`` (another name for this server, such as
        ``localhost``) from now on, as Flickr did moving from ``farmN.staticflickr.com`` to
        ``live.staticflickr.com``: the same files under a new URL; "" is the API's own host."""
        self.rest.base = f"http://{host}:{self.server_address[1]}" if host else self.base

    def reset_stats(self) -> None:
        """Zero every counter (and forget the request log)."""
        with self.state_lock:
            self.request_log.clear()
            self.stats: dict[str, Any] = {
                "api_calls": {"total": 0, "by_method": {}},
                "oauth_calls": 0,
                "media_requests": 0,
                "video_requests": 0,
                "web_requests": 0,
                "web_signin_posts": 0,  # sign-in forms sent (right or wrong password)
                "web_signins": 0,  # sessions the sign-in page started
                "bytes_served": 0,
                "rate_limited": 0,
                "faults_injected": {},
            }

    def count(self, key: str, n: int = 1) -> None:
        """Bump a top-level counter."""
        with self.state_lock:
            self.stats[key] += n

    def pick_fault(self, kinds: Iterable[str]) -> str | None:
        """Roll the dice for a fault among the allowed kinds; count it."""
        with self.state_lock:
            rate = float(self.faults.get("rate") or 0)
            allowed = [k for k in self.faults.get("kinds") or FAULT_KINDS if k in kinds]
            if rate <= 0 or not allowed:
                return None
            if self.faults.get("cycle"):
                # Every (1/rate)-th request fails, taking the kinds in turn: each kind shows
                # up within a known number of requests. API and media requests count apart.
                seen, turn = self._fault_turns.get(tuple(kinds), (0, 0))
                period = max(1, round(1 / rate))
                seen += 1
                if seen % period:
                    self._fault_turns[tuple(kinds)] = (seen, turn)
                    return None
                kind = allowed[turn % len(allowed)]
                self._fault_turns[tuple(kinds)] = (seen, turn + 1)
            elif self.fault_rng.random() >= rate:
                return None
            else:
                kind = self.fault_rng.choice(allowed)
            bucket = self.stats["faults_injected"]
            bucket[kind] = bucket.get(kind, 0) + 1
            return kind

    def over_limit(self, api_key: str) -> bool:
        """Record one API call for the key; True when over the rolling-hour limit."""
        limit = self.config.api_limit
        if limit <= 0:
            return False
        now = time.monotonic()
        with self.state_lock:
            hits = self.api_hits[api_key]
            while hits and now - hits[0] > 3600:
                hits.popleft()
            if len(hits) >= limit:
                self.stats["rate_limited"] += 1
                return True
            hits.append(now)
            return False

    # -- video URL tokens ---------------------------------------------------------------------
    def video_token(self, photo_id: str, secret: str, name: str) -> str:
        """``?s=`` token: base64url JSON ``{"i","e","s","v"}`` expiring after the TTL."""
        expiry = int(time.time()) + self.config.video_url_ttl
        mac = hmac.new(self.video_key, f"{photo_id}:{expiry}:{secret}:{name}".encode(), "sha1")
        raw = json.dumps(
            {"i": int(photo_id), "e": expiry, "s": mac.hexdigest(), "v": 1}, separators=(",", ":")
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def check_video_token(self, token: str, photo_id: str, secret: str, name: str) -> bool:
        """Whether a token is genuine, for this file, and unexpired."""
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            expiry = int(data["e"])
            mac = hmac.new(
                self.video_key, f"{photo_id}:{expiry}:{secret}:{name}".encode(), "sha1"
            ).hexdigest()
            return (
                str(data["i"]) == photo_id
                and data.get("v") == 1
                and hmac.compare_digest(mac, str(data["s"]))
                and expiry >= time.time()
            )
        except (ValueError, KeyError, TypeError):
            return False

    # -- ground truth -------------------------------------------------------------------------
    def digest(self, photo: Photo, *, video: bool = False) -> tuple[int, str]:
        """(size, sha256) of a photo's original (or video original); cached."""
        key = (photo.id, "video" if video else photo.originalsecret)
        if key not in self._digests:
            if video:
                size = self.media.video_size(photo, "orig")
                sha = self.media.video_digest(photo) if size <= MAX_HASHED_VIDEO else ""
            else:
                rendition = find_rendition(photo, "o")
                assert rendition is not None
                data = self.media.image(photo, rendition)
                size, sha = len(data), hashlib.sha256(data).hexdigest()
            self._digests[key] = (size, sha)
        return self._digests[key]

    def account(self, *, hashes: bool = True) -> dict[str, Any]:
        """The whole world as JSON-able ground truth."""
        w = self.world
        with w.lock:
            album_map: dict[str, list[str]] = collections.defaultdict(list)
            for a in w.live_albums():
                for pid in a.photo_ids:
                    album_map[pid].append(a.id)
            own = [self.photo_truth(p, album_map.get(p.id, []), hashes) for p in w.own_photos()]
            others = [self.photo_truth(w.photos[i], [], hashes) for i in w.other_ids]
            owner = w.owner
            return {
                "api_key": w.api_key,
                "api_secret": w.api_secret,
                "oauth_token": w.oauth_token,
                "oauth_token_secret": w.oauth_token_secret,
                "base_url": self.base,
                "owner": self.user_truth(owner),
                "web_login": {
                    "username": owner.username,
                    "password": w.web_password,
                    "signin_url": f"{self.base}/signin/",
                },
                "users": [self.user_truth(u) for u in w.users.values()],
                "photos": own,
                "deleted_photo_ids": [i for i in w.own_ids if w.photos[i].deleted],
                "albums": [
                    {
                        "id": a.id,
                        "title": a.title,
                        "description": a.description,
                        "photo_ids": list(a.photo_ids),
                        "primary": a.primary,
                        "date_create": a.date_create,
                        "date_update": a.date_update,
                    }
                    for a in w.live_albums()
                ],
                "galleries": [
                    {
                        "id": g.id,
                        "title": g.title,
                        "description": g.description,
                        "photo_ids": [i for i, _ in g.items],
                        "comments": {i: c for i, c in g.items if c},
                    }
                    for g in w.galleries
                ],
                "collections": [self.collection_truth(c) for c in w.collections],
                "owner_faves": [
                    {"photo_id": f.photo_id, "date_faved": f.date_faved} for f in w.owner_faves
                ],
                "other_photos": others,
            }

    @staticmethod
    def user_truth(u: Any) -> dict[str, Any]:
        """A user as ground truth."""
        return {
            "nsid": u.nsid,
            "username": u.username,
            "realname": u.realname,
            "path_alias": u.path_alias,
            "iconserver": u.iconserver,
            "iconfarm": u.iconfarm,
            "deleted": u.deleted,
        }

    def collection_truth(self, c: Any) -> dict[str, Any]:
        """A collection subtree as ground truth."""
        return {
            "id": c.id,
            "title": c.title,
            "description": c.description,
            "album_ids": list(c.album_ids),
            "collections": [self.collection_truth(ch) for ch in c.children],
        }

    def photo_truth(self, p: Photo, album_ids: list[str], hashes: bool) -> dict[str, Any]:
        """One photo with every field, its original file facts and its video facts."""
        flags = (p.ispublic, p.isfriend, p.isfamily)
        privacy = {
            (1, 0, 0): "public",
            (0, 1, 0): "friends",
            (0, 0, 1): "family",
            (0, 1, 1): "friends+family",
        }.get(flags, "private" if not any(flags) else "?")
        owner = self.world.users[p.owner]
        d: dict[str, Any] = {
            "id": p.id,
            "owner": p.owner,
            "title": p.title,
            "description": p.description,
            "media": p.media,
            "privacy": privacy,
            "ispublic": p.ispublic,
            "isfriend": p.isfriend,
            "isfamily": p.isfamily,
            "safety_level": p.safety_level,
            "license": p.license,
            "dateupload": p.dateupload,
            "lastupdate": p.lastupdate,
            "datetaken": p.datetaken,
            "takengranularity": p.takengranularity,
            "takenunknown": p.takenunknown,
            "views": p.views,
            "secret": p.secret,
            "server": p.server,
            "farm": p.farm,
            "width": p.width,
            "height": p.height,
            "rotation": p.rotation,
            "can_download": p.can_download,
            "page_url": f"{self.media_base}/photos/{owner.path_alias or owner.nsid}/{p.id}/",
            "tags": [
                {"raw": t.raw, "content": t.content, "machine": t.machine, "author": t.author}
                for t in p.tags
            ],
            "geo": None
            if p.geo is None
            else {
                "latitude": p.geo.latitude,
                "longitude": p.geo.longitude,
                "accuracy": p.geo.accuracy,
                "locality": p.geo.locality.name,
                "region": p.geo.region.name,
                "country": p.geo.country.name,
                "place_id": p.geo.locality.place_id,
                "woeid": p.geo.locality.woeid,
            },
            "camera": None if p.camera is None else {"make": p.camera[0], "model": p.camera[1]},
            "orientation": p.orientation,
            "comments": [
                {"id": c.id, "author": c.author, "datecreate": c.datecreate, "text": c.text}
                for c in p.comments
            ],
            "faves": [{"nsid": f.nsid, "favedate": f.favedate} for f in p.faves],
            "notes": [
                {
                    "id": n.id,
                    "author": n.author,
                    "x": n.x,
                    "y": n.y,
                    "w": n.w,
                    "h": n.h,
                    "text": n.text,
                }
                for n in p.notes
            ],
            "people": [{"nsid": x.nsid, "added_by": x.added_by, "box": x.box} for x in p.people],
            "album_ids": album_ids,
            "no_original": not p.has_original,
        }
        if p.has_original:
            rendition = find_rendition(p, "o")
            assert rendition is not None
            orig: dict[str, Any] = {
                "format": p.originalformat,
                "secret": p.originalsecret,
                "url": cdn_url(self.media_base, p, rendition),
            }
            if hashes:
                orig["size"], orig["sha256"] = self.digest(p)
            d["original"] = orig
        else:
            d["original"] = None
        if p.video is not None:
            v = p.video
            vid: dict[str, Any] = {
                "container": v.container,
                "size": self.media.video_size(p, "orig"),
                "duration": v.duration,
                "width": v.width,
                "height": v.height,
                "play_url": f"{d['page_url']}play/orig/{p.originalsecret}/",
            }
            if hashes and v.size <= MAX_HASHED_VIDEO:
                vid["sha256"] = self.digest(p, video=True)[1]
            d["video"] = vid
        else:
            d["video"] = None
        return d


class SandboxHandler(BaseHTTPRequestHandler):
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
        url = urlsplit(self.path)
        path = url.path
        arrived = time.monotonic()
        self._status, self._fault, self._retry_after = 0, None, None
        self._api_method: str | None = None
        self._api_call = ""
        try:
            self._route(method, url.query, path)
        finally:
            if not path.startswith("/__sandbox/"):
                entry = {
                    "t": arrived,
                    "done": time.monotonic(),
                    "kind": "api" if self._api_method is not None else "other",
                    "method": self._api_method,
                    "call": self._api_call,  # the API parameters, OAuth ones left out
                    "path": path,
                    "status": self._status,  # 0: no answer (a reset connection)
                    "fault": self._fault,
                    "retry_after": self._retry_after,
                }
                if MEDIA_RE.match(path) or path.startswith("/video/"):
                    entry["kind"] = "media"
                with self.server.state_lock:
                    self.server.request_log.append(entry)

    def _route(self, method: str, query: str, path: str) -> None:
        try:
            if path in ("/services/rest", "/services/rest/"):
                self.handle_rest(method, query)
            elif path.startswith("/services/oauth/"):
                self.handle_oauth(method, path, query)
            elif path.startswith("/__sandbox/"):
                self.handle_hooks(method, path, query)
            elif path.startswith("/video/"):
                self.handle_video(path, query)
            elif PLAY_RE.match(path):
                self.handle_play(path)
            elif path.rstrip("/") == "/signin":
                self.handle_signin(method)
            elif path.startswith("/photos/"):
                self.handle_page(path)
            elif MEDIA_RE.match(path):
                self.handle_media(path)
            else:
                self.send(404, "<html><body><h1>404 Not Found</h1></body></html>")
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client went away: %s", path)
        except Exception:
            # A sandbox bug must surface as a visible 500, not a silent disconnect.
            logger.exception("Sandbox error on %(path)s", {"path": path})
            self.send(500, "<html><body><h1>500 sandbox error</h1></body></html>")

    # -- REST ---------------------------------------------------------------------------------
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

    def handle_rest(self, method: str, query: str) -> None:
        """One REST call: faults, auth, limit, dispatch, envelope."""
        srv = self.server
        qpairs, bpairs = self._params(method, query)
        params = dict(qpairs)
        params.update(bpairs)
        api_method = params.get("method", "")
        self._api_method = api_method
        self._api_call = "&".join(
            f"{k}={v}" for k, v in sorted(params.items()) if not k.startswith("oauth_")
        )
        with srv.state_lock:
            calls = srv.stats["api_calls"]
            calls["total"] += 1
            calls["by_method"][api_method] = calls["by_method"].get(api_method, 0) + 1
        fault = srv.pick_fault(FAULT_KINDS)
        if self._common_fault(fault):
            return
        if srv.config.slow:
            time.sleep(srv.config.slow)
        auth = self.headers.get("Authorization")
        oauth = OAuthProvider.oauth_params(auth, qpairs, bpairs)
        nsid: str | None = None
        if oauth:
            try:
                signed = srv.oauth.verify(
                    method=method,
                    url=self._url("/services/rest" + self._slash()),
                    auth_header=auth,
                    query=query,
                    body=bpairs,
                    token_kind="access",
                )
            except OAuthError as exc:
                self.send(exc.status, exc.body, "text/plain;charset=UTF-8")
                return
            api_key = signed.consumer
            nsid = signed.token.nsid if signed.token else None
        else:
            api_key = params.get("api_key", "")
        fmt = params.get("format", "rest")
        callback = None
        if fmt == "json" and params.get("nojsoncallback") not in ("1", "true"):
            callback = params.get("jsoncallback") or "jsonFlickrApi"
        if api_key and srv.over_limit(api_key):
            self.send(429, HTML_429)
            return
        try:
            if not oauth and api_key != srv.world.api_key:
                if api_key and not re.fullmatch(r"[0-9a-f]{32}", api_key):
                    raise ApiError(100, "Invalid API Key (Key has invalid format)")
                raise ApiError(100, "Invalid API Key (Key not found)")
            if fmt not in ("json", "rest"):
                raise ApiError(111, f'Format "{fmt}" not found')
            if fault == "stat_105":
                raise ApiError(105, "Service currently unavailable")
            if fault == "stat_201":
                raise ApiError(201, "Sorry, the Flickr API service is not currently available.")
            caller = Caller(nsid, api_key, params, oauth or None)
            data = srv.rest.call(api_method, caller)
            ctype = "application/json"
        except ApiError as err:
            data = {"stat": "fail", "code": err.code, "message": err.message}
            ctype = "text/plain; charset=utf-8"
        if fmt == "rest":  # Flickr's default: XML
            text, ctype = rest_xml(data), "text/xml; charset=utf-8"
        else:
            text = flickr_json(data)
        if callback and fmt != "rest":
            text = f"{callback}({text})"
        if fault == "bad_json":  # a proxy's error page, or a body cut off by a broken upstream
            bad = ("<html><body><h1>Bad Gateway</h1></body></html>", text[: len(text) // 2])
            self.send(200, random.Random(time.time_ns()).choice(bad), ctype)
            return
        if fault == "wrong_type":
            ctype = random.Random(time.time_ns()).choice(WRONG_TYPES)
        self.send(200, text, ctype, cut=(fault == "cut_body"))

    def _slash(self) -> str:
        return "/" if urlsplit(self.path).path.endswith("/") else ""

    # -- OAuth --------------------------------------------------------------------------------
    def handle_oauth(self, method: str, path: str, query: str) -> None:
        """request_token, authorize, access_token."""
        srv = self.server
        srv.count("oauth_calls")
        step = path.rstrip("/").rsplit("/", 1)[-1]
        qpairs, bpairs = self._params(method, query)
        plain = "text/plain;charset=UTF-8"
        if step == "authorize":
            params = dict(qpairs)
            params.update(bpairs)
            token = srv.oauth.authorize(
                params.get("oauth_token", ""), srv.world.owner.nsid, params.get("perms", "read")
            )
            if token is None:
                self.send(
                    400,
                    "<html><body><h1>Oops! Invalid OAuth token</h1>"
                    "<p>The request token is unknown or expired.</p></body></html>",
                )
                return
            if token.callback and token.callback != "oob":
                sep = "&" if "?" in token.callback else "?"
                loc = (
                    f"{token.callback}{sep}oauth_token={quote(token.key)}"
                    f"&oauth_verifier={quote(token.verifier)}"
                )
                self.send(302, b"", headers=[("Location", loc)])
                return
            page = (
                "<!DOCTYPE html><html><head><title>Flickr: Authorize app</title></head><body>"
                f"<h1>You have successfully authorized the application</h1>"
                f"<p>Signed in as {html.escape(srv.world.owner.username)}. "
                f"Permissions: {html.escape(token.perms)}.</p>"
                "<p>Enter this code into the application:</p>"
                f'<span id="verifier" class="verifier">{token.verifier}</span></body></html>'
            )
            self.send(200, page)
            return
        if step not in ("request_token", "access_token"):
            self.send(404, "")
            return
        try:
            signed = srv.oauth.verify(
                method=method,
                url=self._url(path),
                auth_header=self.headers.get("Authorization"),
                query=query,
                body=bpairs,
                token_kind="none" if step == "request_token" else "request",
                extra_required=("oauth_callback",)
                if step == "request_token"
                else ("oauth_verifier",),
            )
            if step == "request_token":
                self.send(200, srv.oauth.request_token(signed), plain)
                return
            tok = srv.oauth.access_token(signed)
        except OAuthError as exc:
            self.send(exc.status, exc.body, plain)
            return
        user = srv.world.users[tok.nsid]
        body = (
            f"fullname={quote(user.realname, safe='')}&oauth_token={quote(tok.key, safe='')}"
            f"&oauth_token_secret={quote(tok.secret, safe='')}"
            f"&user_nsid={quote(user.nsid, safe='')}&username={quote(user.username, safe='')}"
        )
        self.send(200, body, plain)

    # -- web ----------------------------------------------------------------------------------
    def web_user(self) -> str | None:
        """The nsid signed in through web cookies, if the cookies are valid."""
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie") or "")
        except ValueError:
            return None
        accid = cookie.get("cookie_accid")
        epass = cookie.get("cookie_epass")
        owner = self.server.world.owner
        if accid and epass and accid.value == owner.nsid.split("@")[0]:
            with self.server.state_lock:
                if epass.value in self.server.web_sessions:
                    return owner.nsid
        return None

    def _signin_form(self, error: str = "") -> str:
        err = f'<p class="error" id="login-error">{html.escape(error)}</p>' if error else ""
        return (
            "<!DOCTYPE html><html><head><title>Flickr Login</title></head><body>"
            f"<h1>Log in to Flickr</h1>{err}"
            '<form method="post" action="/signin/" id="login-form">'
            '<input type="text" name="username" id="login-email" autocomplete="username">'
            '<input type="password" name="password" id="login-password">'
            '<button type="submit" id="login-submit">Sign in</button>'
            "</form></body></html>"
        )

    def handle_signin(self, method: str) -> None:
        """GET the login form; POST credentials → cookies + redirect."""
        srv = self.server
        srv.count("web_requests")
        if method != "POST":
            self.send(200, self._signin_form())
            return
        srv.count("web_signin_posts")
        form = dict(parse_qsl(self._body().decode("utf-8", "replace"), keep_blank_values=True))
        owner = srv.world.owner
        if form.get("username") != owner.username or form.get("password") != srv.world.web_password:
            self.send(200, self._signin_form("Invalid email or password."))
            return
        epass = hashlib.sha256(f"{time.time_ns()}:{random.random()}".encode()).hexdigest()[:32]
        with srv.state_lock:
            srv.web_sessions.add(epass)
            srv.stats["web_signins"] += 1
        expires = formatdate(time.time() + 2 * 365 * 86400, usegmt=True)
        headers = [
            ("Location", f"{srv.base}/photos/{owner.path_alias or owner.nsid}/"),
            (
                "Set-Cookie",
                f"cookie_accid={owner.nsid.split('@')[0]}; Expires={expires}; Path=/; HttpOnly",
            ),
            ("Set-Cookie", f"cookie_epass={epass}; Expires={expires}; Path=/; HttpOnly"),
        ]
        self.send(302, b"", headers=headers)

    def handle_page(self, path: str) -> None:
        """A minimal photostream / photo page."""
        srv = self.server
        srv.count("web_requests")
        who = self.web_user()
        parts = [p for p in path.split("/") if p]
        # Flickr's pages carry the public key its own scripts call the API with (gallery-dl
        # and JDownloader read it from /photos/).
        site_key = f'<script>root.YUI_config.flickr.api.site_key = "{srv.world.api_key}";</script>'
        if parts == ["photos"]:
            self.send(200, f"<!DOCTYPE html><html><head>{site_key}</head><body></body></html>")
            return
        user = srv.world.user_by_id(parts[1]) if len(parts) > 1 else None
        if user is None:
            self.send(404, "<html><body><h1>Page not found</h1></body></html>")
            return
        status = (
            f"signed in as {html.escape(srv.world.users[who].username)}" if who else "not signed in"
        )
        self.send(
            200,
            f"<!DOCTYPE html><html><head><title>{html.escape(user.username)} | Flickr"
            f"</title>{site_key}</head><body><p id='status'>{status}</p>"
            f"<h1>{html.escape(user.realname or user.username)}</h1></body></html>",
        )

    def handle_play(self, path: str) -> None:
        """``/photos/{user}/{id}/play/{stream}/{secret}/`` → 302 to a signed video URL."""
        srv = self.server
        srv.count("web_requests")
        m = PLAY_RE.match(path)
        assert m is not None
        user_ref, pid, stream, secret = m.groups()
        photo = srv.world.photos.get(pid)
        owner = srv.world.user_by_id(user_ref)
        not_found = "<!DOCTYPE html><html><body><h1>Page Not Found</h1></body></html>"
        if (
            photo is None
            or photo.deleted
            or photo.video is None
            or owner is None
            or owner.nsid != photo.owner
        ):
            self.send(404, not_found)
            return
        noise = [("Set-Cookie", f"{n}=1; Path=/; Domain=127.0.0.1") for n in NOISE_COOKIES]
        if stream == "orig":
            if secret != photo.originalsecret or self.web_user() != photo.owner:
                self.send(404, not_found, headers=noise[:2])
                return
            name, ext = "orig", photo.video.container
        else:
            labels = {label: h for label, h in VIDEO_STREAMS}
            if (
                secret != photo.secret
                or stream not in labels
                or labels[stream] > photo.video.height
            ):
                self.send(404, not_found)
                return
            name, ext = stream, "mp4"
        token = srv.video_token(pid, secret, name)
        loc = f"{srv.media_base}/video/{pid}/{secret}/{name}.{ext}?s={token}"
        self.send(302, b"", "text/html; charset=UTF-8", headers=[("Location", loc), *noise])

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
        if pid in {str(x) for x in srv.faults.get("permanent_photo_ids", [])}:
            self.send(500, "<html><body><h1>500 Internal Server Error</h1></body></html>")
            return
        fault = srv.pick_fault(MEDIA_FAULT_KINDS)
        if self._common_fault(fault):
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
        if fault == "wrong_type":
            vtype = random.Random(time.time_ns()).choice(WRONG_TYPES)
        self.send_header("Content-Type", vtype)
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

    # -- CDN ----------------------------------------------------------------------------------
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
        if pid in {str(x) for x in srv.faults.get("permanent_photo_ids", [])}:
            self.send(500, "<html><body><h1>500 Internal Server Error</h1></body></html>")
            return
        fault = srv.pick_fault(MEDIA_FAULT_KINDS)
        if self._common_fault(fault):
            return
        data = srv.media.image(photo, rendition)
        ctype = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif"}[ext]
        if fault == "wrong_type":
            ctype = random.Random(time.time_ns()).choice(WRONG_TYPES)
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

    # -- test hooks ---------------------------------------------------------------------------
    def handle_hooks(self, method: str, path: str, query: str) -> None:
        """``/__sandbox/*``: stats, account, faults, mutations, web-session expiry."""
        srv = self.server
        hook = path[len("/__sandbox/") :].rstrip("/")
        body = self._body() if method == "POST" else b""
        ok = "application/json"
        if hook == "stats" and method == "GET":
            with srv.state_lock:
                self.send(200, json.dumps(srv.stats), ok)
        elif hook == "requests" and method == "GET":
            with srv.state_lock:
                self.send(200, json.dumps(list(srv.request_log)), ok)
        elif hook == "stats/reset" and method == "POST":
            srv.reset_stats()
            self.send(200, '{"ok":true}', ok)
        elif hook == "account" and method == "GET":
            hashes = dict(parse_qsl(query)).get("hashes", "1") != "0"
            # ASCII escapes: titles may hold unpaired surrogates, which UTF-8 cannot carry.
            self.send(200, json.dumps(srv.account(hashes=hashes)), ok)
        elif hook == "faults" and method == "POST":
            cfg = json.loads(body or b"{}")
            bad = [k for k in cfg.get("kinds", []) if k not in FAULT_KINDS]
            if bad:
                self.send(400, json.dumps({"error": f"unknown kinds {bad}"}), ok)
                return
            with srv.state_lock:
                for key in ("rate", "kinds", "permanent_photo_ids", "cycle"):
                    if key in cfg:
                        srv.faults[key] = cfg[key]
                if not srv.faults.get("kinds"):
                    srv.faults["kinds"] = list(FAULT_KINDS)
                srv._fault_turns.clear()
                self.send(200, json.dumps(srv.faults), ok)
        elif hook == "mutate" and method == "POST":
            ops = json.loads(body or b"[]")
            if isinstance(ops, dict):
                ops = ops.get("ops", [ops])
            try:
                result = srv.world.apply(ops)
            except (KeyError, ValueError) as exc:
                self.send(400, json.dumps({"error": str(exc)}), ok)
                return
            self.send(200, json.dumps(result), ok)
        elif hook == "media-host" and method == "POST":
            host = str(json.loads(body or b"{}").get("host") or "")
            if not re.fullmatch(r"[A-Za-z0-9.-]*", host):
                self.send(400, json.dumps({"error": f"not a host name: {host!r}"}), ok)
                return
            srv.move_media(host)
            self.send(200, json.dumps({"media_base": srv.media_base}), ok)
        elif hook == "web/expire" and method == "POST":
            with srv.state_lock:
                srv.web_sessions.clear()
            self.send(200, '{"ok":true}', ok)
        else:
            self.send(404, '{"error":"unknown hook"}', ok)
