"""Flickr's size table and the URL shapes derived from it.

One place knows which sizes a photo has (only those not larger than the original), which secret
each size uses (sizes >= ``h`` have their own secrets, ``o`` uses ``originalsecret``), which file
suffix goes with which ``url_X`` extra code (``url_s`` is ``_m``, ``url_l`` is ``_b``) and how the
CDN, photo-page and video-play URLs look. The REST layer and the HTTP server both use it, so a URL
the API hands out is always one the CDN will serve.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flickr_crawl.sandbox.world import Photo


@dataclass(frozen=True)
class SizeSpec:
    """One row of Flickr's size table."""

    code: str  # the url_X extra code and sizes/<code>/ page segment
    label: str  # getSizes label
    suffix: str  # CDN file suffix ("" for Medium 500)
    longest: int  # longest edge in pixels (0 = square crop / original)
    square: int = 0  # edge of a square crop
    page: str = ""  # segment in the sizes/<page>/ page URL


SIZES: tuple[SizeSpec, ...] = (
    SizeSpec("sq", "Square", "s", 0, 75, "sq"),
    SizeSpec("q", "Large Square", "q", 0, 150, "q"),
    SizeSpec("t", "Thumbnail", "t", 100, page="t"),
    SizeSpec("s", "Small", "m", 240, page="s"),
    SizeSpec("n", "Small 320", "n", 320, page="n"),
    SizeSpec("w", "Small 400", "w", 400, page="w"),
    SizeSpec("m", "Medium", "", 500, page="m"),
    SizeSpec("z", "Medium 640", "z", 640, page="z"),
    SizeSpec("c", "Medium 800", "c", 800, page="c"),
    SizeSpec("l", "Large", "b", 1024, page="l"),
    SizeSpec("h", "Large 1600", "h", 1600, page="h"),
    SizeSpec("k", "Large 2048", "k", 2048, page="k"),
    SizeSpec("3k", "X-Large 3K", "3k", 3072, page="3k"),
    SizeSpec("4k", "X-Large 4K", "4k", 4096, page="4k"),
    SizeSpec("5k", "X-Large 5K", "5k", 5120, page="5k"),
    SizeSpec("6k", "X-Large 6K", "6k", 6144, page="6k"),
    SizeSpec("o", "Original", "o", 0, page="o"),
)
SIZE_BY_CODE = {s.code: s for s in SIZES}
SIZE_BY_SUFFIX = {s.suffix: s for s in SIZES}
OWN_SECRET_SUFFIXES = ("h", "k", "3k", "4k", "5k", "6k")
# Video stream labels of the 2023-2025 getSizes era (label, nominal height; 0 = "" dimensions).
VIDEO_STREAMS: tuple[tuple[str, int], ...] = (
    ("720p", 720),
    ("appletv", 0),
    ("700", 0),
    ("360p", 360),
    ("iphone_wifi", 0),
    ("288p", 288),
)


@dataclass(frozen=True)
class Rendition:
    """A concrete size of one photo: where it lives and how big it is."""

    spec: SizeSpec
    width: int
    height: int
    secret: str
    ext: str


def stable_bit(*parts: object) -> bool:
    """A deterministic coin flip for (field, object) pairs, used to mix int/str types."""
    return bool(zlib.crc32("\x1f".join(str(p) for p in parts).encode()) & 1)


def scaled(width: int, height: int, longest: int) -> tuple[int, int]:
    """Scale (width, height) so the longest edge is ``longest``."""
    if width >= height:
        return longest, max(1, round(height * longest / width))
    return max(1, round(width * longest / height)), longest


def renditions(photo: Photo, *, with_original: bool) -> list[Rendition]:
    """Every size of ``photo`` that exists, smallest first; the original only if allowed."""
    ow, oh = photo.width, photo.height
    longest = max(ow, oh)
    out: list[Rendition] = []
    for spec in SIZES:
        if spec.code == "o":
            if with_original and photo.originalsecret:
                out.append(Rendition(spec, ow, oh, photo.originalsecret, photo.originalformat))
            continue
        if spec.square:
            w = h = spec.square
        elif spec.longest <= longest or spec.code in ("t", "s"):
            w, h = scaled(ow, oh, min(spec.longest, longest))
        else:
            continue
        if photo.media == "video" and spec.longest > 1024:
            continue
        secret = photo.size_secrets.get(spec.suffix, photo.secret)
        out.append(Rendition(spec, w, h, secret, "jpg"))
    return out


def cdn_name(photo: Photo, rendition: Rendition) -> str:
    """``{id}_{secret}[_{suffix}].{ext}``."""
    suffix = f"_{rendition.spec.suffix}" if rendition.spec.suffix else ""
    return f"{photo.id}_{rendition.secret}{suffix}.{rendition.ext}"


def cdn_url(base: str, photo: Photo, rendition: Rendition) -> str:
    """The live.staticflickr.com-style URL of one rendition."""
    return f"{base}/{photo.server}/{cdn_name(photo, rendition)}"


def find_rendition(photo: Photo, suffix: str) -> Rendition | None:
    """The rendition for a CDN suffix ("" = Medium), originals included."""
    for r in renditions(photo, with_original=True):
        if r.spec.suffix == suffix:
            return r
    return None
