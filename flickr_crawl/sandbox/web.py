"""The sandbox's www.flickr.com: the sign-in form and its session cookie, photo pages, and
the ``play/*`` links that redirect a signed-in owner to a video's signed CDN URL (with the
noise cookies Flickr sets).
"""

from __future__ import annotations

import hashlib
import html
import random
import re
import time
from email.utils import formatdate
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl

from flickr_crawl.sandbox.handler import BaseHandler
from flickr_crawl.sandbox.sizes import VIDEO_STREAMS

PLAY_RE = re.compile(r"^/photos/([^/]+)/(\d+)/play/([a-z0-9_]+)/([0-9a-f]+)/?$")
NOISE_COOKIES = ("xb", "localization", "flrbp", "flrbgrp", "flrb", "ccc")


class WebHandler(BaseHandler):
    """Web pages and sign-in."""

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
