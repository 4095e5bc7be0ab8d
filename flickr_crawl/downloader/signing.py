"""Signs Flickr API requests with OAuth 1.0a at send time.

Signing in ``process_request`` (not when the spider builds the request) gives every retry and
every request resumed from JOBDIR a fresh nonce and timestamp. The request is changed in place
and None returned: a ``request.replace()`` would go back through the scheduler and be dropped as
a duplicate. Only requests marked ``meta["flickr_api"]`` are signed; media and web requests
never carry the token.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

from flickr_crawl.flickr.auth import AuthError, auth_file_path, load_credentials, oauth_client

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

    from flickr_crawl.flickr.auth import Credentials

logger = logging.getLogger(__name__)

API_META = "flickr_api"  # meta key that marks a Flickr REST call


class OAuthSigningMiddleware:
    """Downloader middleware adding an ``Authorization: OAuth ...`` header to API calls."""

    def __init__(self, creds: Credentials):
        self._client = oauth_client(creds)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        path = auth_file_path(crawler.settings.get("FLICKR_AUTH_FILE"))
        try:
            creds = load_credentials(path)
        except AuthError as exc:
            raise NotConfigured(str(exc)) from None
        return cls(creds)

    def process_request(self, request: Request) -> None:
        if not request.meta.get(API_META):
            return
        body = request.body or None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        _, signed, _ = self._client.sign(
            request.url, http_method=request.method, body=body, headers=headers
        )
        request.headers["Authorization"] = signed["Authorization"]
