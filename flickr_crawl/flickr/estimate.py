"""What a full backup will cost, worked out from the list calls alone, before any download.

Pure functions over raw Flickr list answers (people.getPhotos rows, photosets.getList rows,
galleries.getList rows), so ``scrapy estimate`` and its tests share one set of rules. The
API-call rules mirror ``spiders/photostream.py`` call for call; the byte figures are estimates
whose assumptions are named in ``Assumptions`` and printed with every estimate.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flickr_crawl.flickr.api import (
    COLLECTIONS_GET_TREE,
    GALLERIES_GET_LIST,
    GALLERIES_GET_PHOTOS,
    PEOPLE_GET_INFO,
    PEOPLE_GET_PHOTOS,
    PHOTOS_COMMENTS_GET_LIST,
    PHOTOS_GET_FAVORITES,
    PHOTOS_GET_INFO,
    PHOTOS_GET_SIZES,
    PHOTOS_PEOPLE_GET_LIST,
    PHOTOSETS_GET_LIST,
    PHOTOSETS_GET_PHOTOS,
    SIZE_CODES,
    URLS_LOOKUP_USER,
    optional,
    to_int,
)
from flickr_crawl.flickr.mapping import NSID, export_comment_refs, export_ref

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from flickr_crawl.flickr.export import ExportIndex

FAVES_PER_PAGE = 50  # photos.getFavorites' maximum, as the spider asks

# Extras the estimate needs from people.getPhotos: media type, the original's format and
# dimensions, the sizes on offer (what the crawl downloads when the original is not offered),
# counts that trigger per-photo calls, and lastupdate for the incremental figures.
ESTIMATE_EXTRAS = ",".join(
    [
        "media",
        "original_format",
        "o_dims",
        "last_update",
        "path_alias",  # who the export's profile URLs name (the owner's own, by alias)
        "count_comments",
        "count_faves",
        *(f"url_{code}" for code in SIZE_CODES),
    ]
)

# Bytes per pixel of an original, by format. JPEG: a 24 MP camera JPEG is ~8-10 MB and a 12 MP
# phone JPEG ~3.5-4.5 MB, so about 0.35 B/px; PNG (lossless) and GIF are far larger per pixel.
BYTES_PER_PIXEL = {"jpg": 0.35, "jpeg": 0.35, "png": 2.0, "gif": 0.6}
DEFAULT_BYTES_PER_PIXEL = 0.35
# List extras carry no duration or bitrate for a video. Assume a phone clip of about 90 s at
# ~13 Mbit/s (1080p): 150 MB per video original.
VIDEO_BYTES = 150_000_000
# photos.people.getList is asked only where getInfo says ``haspeople``, which no list extra
# tells. Without a catalog to learn it from, assume 5% of photos have people tagged.
PEOPLE_RATE = 0.05

ORDER = (
    COLLECTIONS_GET_TREE,
    GALLERIES_GET_LIST,
    GALLERIES_GET_PHOTOS,
    PHOTOSETS_GET_LIST,
    PHOTOSETS_GET_PHOTOS,
    PEOPLE_GET_PHOTOS,
    PHOTOS_GET_SIZES,
    PHOTOS_COMMENTS_GET_LIST,
    PHOTOS_GET_FAVORITES,
    PHOTOS_GET_INFO,
    PHOTOS_PEOPLE_GET_LIST,
    URLS_LOOKUP_USER,
    PEOPLE_GET_INFO,
)


@dataclass(frozen=True)
class Assumptions:
    """The figures an estimate cannot read from Flickr; printed with the estimate."""

    video_bytes: int = VIDEO_BYTES
    people_rate: float = PEOPLE_RATE
    bytes_per_pixel: Mapping[str, float] = field(default_factory=lambda: dict(BYTES_PER_PIXEL))


@dataclass
class Estimate:
    """Counts, bytes and API calls of a full photostream backup."""

    photos: int = 0
    videos: int = 0
    pixels: int = 0  # of photos (what the bytes estimate multiplies)
    photo_bytes: int = 0
    video_bytes: int = 0
    comments_photos: int = 0  # photos with count_comments > 0
    faves: int = 0  # sum of count_faves
    calls: Counter[str] = field(default_factory=Counter)
    people_estimated: bool = True  # the people.getList figure is an estimate

    @property
    def bytes(self) -> int:
        return self.photo_bytes + self.video_bytes

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def pages(total: int, per_page: int) -> int:
    """Calls a paginated list costs: at least one, even when empty."""
    return max(1, math.ceil(max(total, 0) / max(per_page, 1)))


def photo_pixels(raw: Mapping[str, Any]) -> tuple[int, str]:
    """(width * height, format) of what the crawl downloads for this photo, as
    ``mapping.best_photo_source`` picks it: the original (``url_o``; dimensions from
    ``width_o``/``height_o`` or the ``o_dims`` extra's ``o_width``/``o_height``), else the
    largest size offered, else the ``o_dims`` alone."""
    o_pixels = (to_int(raw.get("width_o"), 0) or to_int(raw.get("o_width"), 0)) * (
        to_int(raw.get("height_o"), 0) or to_int(raw.get("o_height"), 0)
    )
    o_format = (optional(raw.get("originalformat")) or "jpg").lower()
    if raw.get("url_o"):
        return o_pixels, o_format
    for code in SIZE_CODES:
        if raw.get(f"url_{code}"):
            w, h = to_int(raw.get(f"width_{code}"), 0), to_int(raw.get(f"height_{code}"), 0)
            return w * h, str(raw[f"url_{code}"]).rsplit(".", 1)[-1].lower()
    return o_pixels, o_format


def add_photo(est: Estimate, raw: Mapping[str, Any], assumptions: Assumptions) -> None:
    """Count one people.getPhotos row: its media bytes and the per-photo calls it triggers."""
    if raw.get("media") == "video":
        est.videos += 1
        est.video_bytes += assumptions.video_bytes
        if not optional(raw.get("originalsecret")):
            est.calls[PHOTOS_GET_SIZES] += 1  # the spider asks getSizes for its URL
    else:
        est.photos += 1
        pixels, fmt = photo_pixels(raw)
        est.pixels += pixels
        bpp = assumptions.bytes_per_pixel.get(fmt, DEFAULT_BYTES_PER_PIXEL)
        est.photo_bytes += round(pixels * bpp)
    comments = to_int(raw.get("count_comments"), 0)
    faves = to_int(raw.get("count_faves"), 0)
    if comments > 0:
        est.comments_photos += 1
        est.calls[PHOTOS_COMMENTS_GET_LIST] += 1  # not paginated
    if faves > 0:
        est.faves += faves
        est.calls[PHOTOS_GET_FAVORITES] += pages(faves, FAVES_PER_PAGE)


def set_size(row: Mapping[str, Any]) -> int:
    """Photos and videos in an album or gallery row (field names differ between the two)."""
    total = to_int(row.get("count_total"), -1)
    if total >= 0:
        return total
    photos = to_int(row.get("count_photos"), -1)
    if photos < 0:
        photos = to_int(row.get("photos"), 0)
    videos = to_int(row.get("count_videos"), -1)
    if videos < 0:
        videos = to_int(row.get("videos"), 0)
    return photos + videos


def estimate(
    *,
    photos: Iterable[Mapping[str, Any]],
    photos_total: int,
    albums: Iterable[Mapping[str, Any]],
    albums_total: int,
    galleries: Iterable[Mapping[str, Any]],
    galleries_total: int,
    per_page: int,
    deep: bool,
    assumptions: Assumptions,
    people_rate: float | None = None,
) -> Estimate:
    """The whole estimate from the three lists; ``people_rate`` overrides the assumption (e.g.
    the share of photos with people in an existing catalog)."""
    est = Estimate()
    listed = 0
    for raw in photos:
        listed += 1
        add_photo(est, raw, assumptions)
    calls = est.calls
    calls[COLLECTIONS_GET_TREE] = 1
    calls[GALLERIES_GET_LIST] = pages(galleries_total, per_page)
    calls[GALLERIES_GET_PHOTOS] = sum(pages(set_size(g), per_page) for g in galleries)
    calls[PHOTOSETS_GET_LIST] = pages(albums_total, per_page)
    calls[PHOTOSETS_GET_PHOTOS] = sum(pages(set_size(a), per_page) for a in albums)
    calls[PEOPLE_GET_PHOTOS] = pages(photos_total, per_page)
    if deep and listed:
        rate = assumptions.people_rate if people_rate is None else people_rate
        calls[PHOTOS_GET_INFO] = listed
        calls[PHOTOS_PEOPLE_GET_LIST] = math.ceil(listed * rate)
    return est


def api_seconds(calls: int, per_hour: int, latency: float) -> float:
    """Wall time of ``calls`` sequential API calls at ``latency`` s each, under a sliding
    one-hour budget of ``per_hour`` calls (0: no budget).

    Each budget window's calls go at full speed; call ``per_hour + 1`` waits for the first to
    leave the window, so a run of k full windows plus r calls takes k hours plus r * latency.
    """
    if calls <= 0:
        return 0.0
    if per_hour <= 0 or per_hour * latency >= 3600:
        return calls * latency
    windows, rest = divmod(calls - 1, per_hour)
    return windows * 3600.0 + (rest + 1) * latency


def human_bytes(n: float) -> str:
    """1234567 -> '1.2 MB' (decimal units, as disks are sold)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    """3725 -> '1 h 02 min'; 42 -> '42 s'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


@dataclass
class Incremental:
    """How the listing compares with an existing catalog."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    gone: int = 0  # in the catalog, not in the listing
    new_bytes: int = 0
    # unchanged, but owing the getInfo an incremental run skipped (new comments alone changed
    # them): the next sweep or ``-a full=1`` asks it
    info_owed: int = 0


def incremental(
    photos: Iterable[Mapping[str, Any]],
    known: Mapping[str, int],
    assumptions: Assumptions,
    owed: Collection[str] = (),
) -> Incremental:
    """Compare listed rows (``lastupdate``) with the catalog's ``last_update_unix`` by id;
    ``owed``: the photos the catalog says owe a getInfo."""
    inc = Incremental()
    seen: set[str] = set()
    for raw in photos:
        photo_id = str(raw["id"])
        seen.add(photo_id)
        if photo_id not in known:
            inc.new += 1
            one = Estimate()
            add_photo(one, raw, assumptions)
            inc.new_bytes += one.bytes
        elif to_int(raw.get("lastupdate"), 0) > known[photo_id]:
            inc.updated += 1
        else:
            inc.unchanged += 1
            inc.info_owed += photo_id in owed
    inc.gone = len(set(known) - seen)
    return inc


@dataclass
class FromExport:
    """What Flickr's account export saves a first backup (``-a export=DIR``)."""

    items: int = 0  # listed items with a usable photo_<id>.json
    originals: int = 0  # of them, with their original in the export
    bytes: int = 0  # the originals' bytes, read from the export instead of downloaded
    commenters: int = 0  # people looked up once each instead of comments per photo


def with_export(
    est: Estimate,
    photos: Iterable[Mapping[str, Any]],
    index: ExportIndex,
    *,
    owner: tuple[str, str],
    deep: bool,
    people_rate: float,
) -> FromExport:
    """Take from ``est`` the calls a backup from ``index`` does not make, following the
    photostream spider's rules: getInfo where the JSON's tags and notes are the owner's (and
    people.getList only where it names people), comments from the JSON with each commenter
    looked up once; nothing for photos changed on Flickr since the export."""
    saved = FromExport()
    refs: set[str] = set()
    rest = 0
    people = 0
    for raw in photos:
        pid = str(raw.get("id", ""))
        usable = pid in index.photos and to_int(raw.get("lastupdate"), 0) <= index.export_date
        data = index.photo(pid) if usable else None
        if data is None:
            rest += 1
            continue
        saved.items += 1
        if pid in index.media:
            saved.originals += 1
            saved.bytes += index.media[pid].size
        named = [t.get("user") for t in data.get("tags") or [] if isinstance(t, dict)]
        named += [n.get("user") for n in data.get("notes") or [] if isinstance(n, dict)]
        if deep and all(export_ref(u) in owner for u in named):
            est.calls[PHOTOS_GET_INFO] -= 1
        people += bool(data.get("people"))
        comments = data.get("comments") or []
        if to_int(raw.get("count_comments"), 0) > 0 and len(comments) == to_int(
            raw.get("count_comments"), 0
        ):
            est.calls[PHOTOS_COMMENTS_GET_LIST] -= 1
            refs |= export_comment_refs(data) - set(owner)
    if deep:
        est.calls[PHOTOS_PEOPLE_GET_LIST] = people + math.ceil(rest * people_rate)
    saved.commenters = len(refs)
    est.calls[PEOPLE_GET_INFO] += len(refs)
    est.calls[URLS_LOOKUP_USER] += sum(1 for r in refs if not NSID.match(r))
    return saved
