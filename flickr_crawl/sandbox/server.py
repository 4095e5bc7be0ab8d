"""The sandbox HTTP server: one port playing api.flickr.com, www.flickr.com and the CDNs.

Here: the server's state (fault injection, the per-key hourly API limit, added latency, video
URL tokens, the request log) and the routing of each request, with the REST calls (JSON/JSONP
envelopes and Flickr's ``\\/`` escaping), the OAuth endpoints and the ``/__sandbox/*`` test
hooks (stats, faults, mutations). Web sign-in, pages and ``play/*`` redirects: ``web``; image
files and signed video downloads: ``cdn``; shared HTTP plumbing: ``handler``; the ground truth
tests compare against: ``truth``. The REST and world modules stay free of transport concerns.
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
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

from flickr_crawl.sandbox.cdn import MEDIA_RE, VIDEO_RE, CdnHandler
from flickr_crawl.sandbox.export import DEFAULT_SPLIT, write_export
from flickr_crawl.sandbox.handler import HTML_429, WRONG_TYPES
from flickr_crawl.sandbox.media import MediaStore
from flickr_crawl.sandbox.oauth import OAuthError, OAuthProvider, Token
from flickr_crawl.sandbox.rest import ApiError, Caller, Rest, rest_xml
from flickr_crawl.sandbox.truth import GroundTruth
from flickr_crawl.sandbox.web import PLAY_RE, WebHandler
from flickr_crawl.sandbox.world import GENERATED_NOW

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flickr_crawl.sandbox.world import World

logger = logging.getLogger(__name__)

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
REQUEST_LOG_SIZE = 50_000  # entries kept for /__sandbox/requests


def flickr_json(data: Any) -> str:
    """JSON the way Flickr writes it: ASCII with ``\\uXXXX`` and ``\\/``."""
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


def _photo_of(path: str) -> str | None:
    """The photo id a media file, video or photo page URL names (which account serves it)."""
    if m := MEDIA_RE.match(path):
        return m.group(2)
    if m := VIDEO_RE.match(path):
        return m.group(1)
    if m := PLAY_RE.match(path):
        return m.group(2)
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "photos" and parts[2].isdigit():
        return parts[2]
    return None


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


@dataclass
class Account:
    """One member whose photos the sandbox serves: the world, its REST answers, its files."""

    world: World
    rest: Rest
    media: MediaStore


class SandboxServer(ThreadingHTTPServer):
    """ThreadingHTTPServer holding the world, OAuth provider, media store and test state."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, world: World, config: Config, port: int = 0, *, others: Iterable[World] = ()
    ) -> None:
        """``others``: more accounts under the same API key (``--accounts``), each with its
        own OAuth token and photos, as when one app backs up a family's accounts."""
        super().__init__(("127.0.0.1", port), SandboxHandler)
        self.config = config
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.accounts = [
            Account(
                w,
                Rest(w, self.base, on_poll=self.activity_polled),
                MediaStore(w.seed, config.image_size),
            )
            for w in (world, *others)
        ]
        self._current = threading.local()
        self.move_media(config.media_host)
        self.oauth = OAuthProvider({world.api_key: world.api_secret}, world.seed)
        for account in self.accounts:
            w = account.world
            assert w.api_key == world.api_key, "every account is under the one API key"
            self.oauth.add_access_token(
                Token(
                    w.oauth_token,
                    w.oauth_token_secret,
                    w.api_key,
                    nsid=w.owner.nsid,
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
        self.truth = GroundTruth(self)
        # What arrived when and how it was answered, for tests that measure pacing.
        self.request_log: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=REQUEST_LOG_SIZE
        )
        self.reset_stats()

    # -- accounts: the one a request concerns (its OAuth token, or its photo's owner) --------
    @property
    def account(self) -> Account:
        """The account of the request this thread serves (the first one by default)."""
        return getattr(self._current, "account", None) or self.accounts[0]

    def use_account(self, account: Account | None) -> None:
        """Serve the rest of this thread's request from ``account`` (None: the first)."""
        self._current.account = account

    def account_of(self, *, nsid: str | None = None, photo_id: str | None = None) -> Account:
        """The account whose owner is ``nsid``, or who has the photo (the first if none)."""
        for account in self.accounts:
            if nsid is not None and account.world.owner.nsid == nsid:
                return account
            if photo_id is not None and photo_id in account.world.photos:
                return account
        return self.accounts[0]

    @property
    def world(self) -> World:
        return self.account.world

    @property
    def rest(self) -> Rest:
        return self.account.rest

    @property
    def media(self) -> MediaStore:
        return self.account.media

    @property
    def media_base(self) -> str:
        """Where the API's answers say CDN files, video plays and photo pages are."""
        return self.rest.base

    def move_media(self, host: str) -> None:
        """Name CDN files and pages on ``host`` (another name for this server, such as
        ``localhost``) from now on, as Flickr did moving from ``farmN.staticflickr.com`` to
        ``live.staticflickr.com``: the same files under a new URL; "" is the API's own host."""
        for account in self.accounts:
            account.rest.base = f"http://{host}:{self.server_address[1]}" if host else self.base

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
                # flickr.activity.userPhotos polls (page 1), and those within an hour of the
                # one before: Flickr asks for one an hour at most
                "activity_polls": {"total": 0, "too_soon": 0},
            }

    def activity_polled(self, too_soon: bool) -> None:
        """Count a flickr.activity.userPhotos poll (called by the REST method)."""
        with self.state_lock:
            polls = self.stats["activity_polls"]
            polls["total"] += 1
            polls["too_soon"] += int(too_soon)

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


class SandboxHandler(CdnHandler, WebHandler):
    """Routes one request: REST, OAuth and test hooks here; web pages and CDN files in their
    own modules."""

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
        # A kept-alive connection's thread serves many requests, of any account.
        pid = _photo_of(path)
        self.server.use_account(self.server.account_of(photo_id=pid) if pid else None)
        if path.startswith("/__sandbox/"):
            number = dict(parse_qsl(query)).get("account", "1")
            if number.isdigit() and 1 <= int(number) <= len(self.server.accounts):
                self.server.use_account(self.server.accounts[int(number) - 1])
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

    # -- REST ---------------------------------------------------------------------------------
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
            if nsid is not None:
                srv.use_account(srv.account_of(nsid=nsid))
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

    # -- test hooks ---------------------------------------------------------------------------
    def handle_hooks(self, method: str, path: str, query: str) -> None:
        """``/__sandbox/*``: stats, account, faults, mutations, the data export, web-session
        expiry."""
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
            self.send(200, json.dumps(srv.truth.account(hashes=hashes)), ok)
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
        elif hook == "export" and method == "POST":
            cfg = json.loads(body or b"{}")
            try:
                summary = write_export(
                    srv.world,
                    srv.media,
                    str(cfg["dir"]),
                    export_date=int(cfg.get("export_date") or GENERATED_NOW),
                    split_bytes=int(cfg.get("split_bytes") or DEFAULT_SPLIT),
                    leave_out=cfg.get("leave_out") or (),
                )
            except (KeyError, ValueError, OSError) as exc:
                self.send(400, json.dumps({"error": str(exc)}), ok)
                return
            self.send(200, json.dumps(summary.as_dict()), ok)
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
