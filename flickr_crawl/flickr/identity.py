"""What names a media file's bytes on Flickr, whatever host or scheme serves them.

Flickr has moved its files between hosts (``farmN.staticflickr.com`` to
``live.staticflickr.com``) and between servers, and the web host of ``play/`` URLs is a
setting; none of that changes the bytes. What does is in the URL's name: the photo id, the
size's secret, the size and the format (``{id}_{secret}_{size}.{ext}``), or for a video the
photo id, the stream and its secret (``/play/{stream}/{secret}/``, and the signed CDN form
``/video/{id}/{secret}/{stream}.mp4`` it redirects to). A file whose key is unchanged is the
same file, so a run after a CDN move downloads nothing.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# {id}_{secret}[_{size}][_d].{ext}; "_d" (download) is the same file with an attachment header.
_CDN_NAME = re.compile(
    r"^(?P<id>\d+)_(?P<secret>[0-9a-zA-Z]+)(?:_(?P<size>[0-9a-z]+?))?(?:_d)?\.(?P<ext>[0-9a-zA-Z]+)$"
)
_PLAY = re.compile(
    r"/photos/[^/]+/(?P<id>\d+)/play/(?P<stream>[0-9a-z_]+)/(?P<secret>[0-9a-zA-Z]+)/?$"
)
_VIDEO = re.compile(r"/video/(?P<id>\d+)/(?P<secret>[0-9a-zA-Z]+)/(?P<stream>[0-9a-z_]+)\.\w+$")


def media_key(url: str) -> str:
    """The key of the bytes ``url`` names: ``{id}_{secret}[_{size}].{ext}`` for a CDN image
    (the name Flickr's own download header gives it), ``{id}/play/{stream}/{secret}`` for a
    video stream, else the URL without scheme and host; "" for no URL."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    path = parts.path
    if m := _PLAY.search(path) or _VIDEO.search(path):
        return f"{m['id']}/play/{m['stream']}/{m['secret']}"
    if m := _CDN_NAME.match(path.rsplit("/", 1)[-1]):
        size = "" if m["size"] in (None, "d") else f"_{m['size']}"  # "_d" alone: Medium 500
        return f"{m['id']}_{m['secret']}{size}.{m['ext'].lower()}"
    return f"{path}?{parts.query}" if parts.query else path
