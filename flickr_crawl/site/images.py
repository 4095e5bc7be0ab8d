"""Thumbnails and web-sized copies of the originals, made with Pillow, only when needed.

Each derived file's name carries a key made from the original's SHA-256 (from the catalog) and
the sizes asked for, and the web copy's name its pixel size: ``w/<id>-<key>-<W>x<H>.jpg`` and
``t/<id>-<key>.jpg``. So a listing of the folders says what is up to date, with no state file
that a crash could leave behind, and a changed original gets new names (no stale copy in a
browser cache). JPEG originals are decoded at a reduced scale (``draft``), EXIF orientation is
applied (``exif_transpose``), and the copies carry no metadata: no GPS in the web copies.
A video's copies are made from its still (Pillow cannot decode the video itself; see
``flickr_crawl.site.photo``).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageOps, UnidentifiedImageError

from flickr_crawl.site.files import write_atomic

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

THUMB_DIR = "t"
WEB_DIR = "w"
SAFE_ID = re.compile(r"[A-Za-z0-9_]+")  # ids that can be file names as they are
_WEB_NAME = re.compile(r"^(?P<id>[A-Za-z0-9_]+)-(?P<key>[0-9a-f]{12})-(?P<w>\d+)x(?P<h>\d+)\.jpg$")
FORMAT_VERSION = 1  # bump when the way copies are made changes: every key changes with it
# Pillow refuses images over ~179 megapixels as "decompression bombs"; these are the user's own
# photos (stitched panoramas get that big), so the limit is a gigapixel instead.
MAX_PIXELS = 1_000_000_000


@dataclass(frozen=True)
class Sizes:
    """How the copies are made: all of it goes into the key."""

    thumb: int = 320  # the thumbnail covers a square of this many pixels (its short edge)
    web: int = 1600  # the web copy's longest edge
    quality: int = 82  # JPEG quality of both


@dataclass(frozen=True)
class Derived:
    """The copies of one original: web size in pixels, and the two file names."""

    photo_id: str
    key: str
    width: int
    height: int

    @property
    def web(self) -> str:
        return f"{WEB_DIR}/{self.photo_id}-{self.key}-{self.width}x{self.height}.jpg"

    @property
    def thumb(self) -> str:
        return f"{THUMB_DIR}/{self.photo_id}-{self.key}.jpg"


@dataclass(frozen=True)
class Job:
    """One original to derive copies from."""

    photo_id: str
    source: Path
    key: str


def key_for(photo_id: str, source_sha256: str | None, size: int | None, sizes: Sizes) -> str:
    """The key of an original's copies: changes when the original or the sizes change."""
    basis = f"{FORMAT_VERSION}|{photo_id}|{source_sha256 or size}|{sizes.thumb}|{sizes.web}|"
    return hashlib.sha256(f"{basis}{sizes.quality}".encode()).hexdigest()[:12]


def existing(site: Path) -> dict[tuple[str, str], Derived]:
    """Copies already in the site, by (photo id, key); only those with both files count."""
    thumbs = {p.name for p in (site / THUMB_DIR).glob("*.jpg")}
    found = {}
    for path in (site / WEB_DIR).glob("*.jpg"):
        m = _WEB_NAME.match(path.name)
        if m is None:
            continue
        d = Derived(m["id"], m["key"], int(m["w"]), int(m["h"]))
        if d.thumb.split("/")[1] in thumbs:
            found[(d.photo_id, d.key)] = d
    return found


def thumb_size(width: int, height: int, edge: int) -> tuple[int, int]:
    """A thumbnail that covers an ``edge`` square: short side ``edge`` (never upscaled), long
    side at most three times that (panoramas)."""
    short = min(width, height)
    scale = min(1.0, edge / short) if short else 1.0
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    w = min(w, 3 * edge)
    h = min(h, 3 * edge)
    return w, h


def derive(job: Job, site: Path, sizes: Sizes) -> Derived | None:
    """Make both copies of one original (atomically); None if Pillow cannot read it."""
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # per process: derive runs in the build's workers
    try:
        with Image.open(job.source) as im:
            im.draft("RGB", (sizes.web, sizes.web))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            im.load()
            # A colour profile stays with the pixels only when they stay RGB (not from CMYK/grey).
            icc = im.info.get("icc_profile") if im.mode in ("RGB", "RGBA") else None
            image = _flatten(ImageOps.exif_transpose(im))
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        logger.warning("Photo %(id)s: no thumbnail, %(error)s", {"id": job.photo_id, "error": exc})
        return None
    web = image  # a decoded copy already: resized in place
    web.thumbnail((sizes.web, sizes.web), Image.Resampling.LANCZOS, reducing_gap=3.0)
    w, h = thumb_size(web.width, web.height, sizes.thumb)
    thumb = ImageOps.fit(web, (w, h), Image.Resampling.LANCZOS) if (w, h) != web.size else web
    derived = Derived(job.photo_id, job.key, web.width, web.height)
    write_atomic(site / derived.thumb, _jpeg(thumb, sizes.quality, icc))
    write_atomic(site / derived.web, _jpeg(web, sizes.quality, icc))
    return derived


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency on white (not black), CMYK/16-bit/palette converted."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if image.mode == "I;16" or image.mode == "I":
        return image.point(lambda v: v / 256).convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


def _jpeg(image: Image.Image, quality: int, icc: bytes | None) -> bytes:
    """Baseline JPEG: from disk it shows at once, and progressive costs a third more time."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, icc_profile=icc)
    return out.getvalue()
