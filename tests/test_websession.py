"""The web session's cookies go only where a browser would send them."""

from __future__ import annotations

from flickr_crawl.flickr.websession import cookie_header

COOKIES = [
    {"name": "cookie_accid", "value": "a", "domain": ".flickr.com", "path": "/", "secure": True},
    {"name": "cookie_epass", "value": "b", "domain": "www.flickr.com", "path": "/photos",
     "secure": False},
    {"name": "orphan", "value": "c", "domain": "", "path": "/", "secure": False},
]  # fmt: skip


def test_only_matching_domain_path_and_scheme():
    url = "https://www.flickr.com/photos/me/1/play/orig/abc/"
    assert cookie_header(COOKIES, url) == "cookie_accid=a; cookie_epass=b"
    assert cookie_header(COOKIES, "http://www.flickr.com/photos/me/1/") == "cookie_epass=b"
    assert cookie_header(COOKIES, "https://www.flickr.com/people/me/") == "cookie_accid=a"
    assert cookie_header(COOKIES, "https://live.staticflickr.com/video/1/x.mp4") is None
    assert cookie_header(COOKIES, "https://evil-flickr.com/photos/") is None
    assert cookie_header(COOKIES, "https://www.flickr.com/photosets/") == "cookie_accid=a"
