"""Sends the Flickr web session's cookies with video originals, and only with them.

Flickr serves a video original only to a signed-in browser session (``scrapy weblogin``
saves its cookies). A request marked ``meta[WEB_SESSION]`` gets, at each hop of its redirects,
the session cookies a browser would send to that hop's host (domain, path and secure rules of
``flickr_crawl.flickr.websession.cookie_header``): the play page gets them, the CDN host it
redirects to gets its own or none. Scrapy's cookie jar stays out of it (media requests carry
``dont_merge_cookies``), so the session never spreads to API or image requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from flickr_crawl.flickr.websession import cookie_header, load_cookies, session_file_path

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

WEB_SESSION = "flickr_web_session"  # meta: send the web session's cookies with this request


class MediaCookiesMiddleware:
    """Downloader middleware: the web session's Cookie header on marked requests."""

    def __init__(self, cookies: list[dict[str, Any]]):
        self.cookies = cookies

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        cookies = load_cookies(session_file_path(crawler.settings.get("FLICKR_WEB_SESSION_FILE")))
        if not cookies:
            raise NotConfigured  # no web session: nothing to add (a reason would be a WARNING line)
        return cls(cookies)

    def process_request(self, request: Request) -> None:
        if not request.meta.get(WEB_SESSION):
            return
        header = cookie_header(self.cookies, request.url)
        if header:
            request.headers[b"Cookie"] = header
        else:
            request.headers.pop(b"Cookie", None)
