"""Flickr metadata -> EXIF, XMP and IPTC, embedded into a JPEG original without touching its
image data (and an XMP packet alone into a PNG or GIF original: ``pnggif.py``).

The original from Flickr is the only copy we keep, so embedding must lose nothing: only the
EXIF APP1 segment is replaced, followed by an XMP packet (APP1, ``xmp.py``, the sidecar's
packet) and an IPTC record (APP13, ``iptc.py``) for the photo apps that read no EXIF text and
no sidecar for a JPEG (Lightroom, Apple Photos). A file that has its own XMP or IPTC keeps
them untouched and gets no second copy. JFIF, ICC, quantisation tables and scan data stay
byte for byte; the served file's EXIF segment is kept in the sidecar, so the bytes Flickr
served can always be restored (``restore_original``). The camera's own tags are kept (Make,
Model, dates, MakerNote, GPS, Orientation...), and Flickr's values only fill what the camera
left empty, except for the descriptive fields (title, description, keywords), which are the
owner's latest words on Flickr.

piexif drives the EXIF side, with three guards around its known weaknesses: it silently drops
tags missing from its table, it can fail on odd MakerNotes or thumbnails, and it always writes
big-endian with new offsets. A file is therefore only rewritten when piexif loaded every tag and
the dumped block reads back with every camera value identical; otherwise it is left alone and
the result says why ("skipped: ..."). Everything written here is also in the XMP sidecar
(``xmp.py``) and the JSON sidecar, so a skipped file loses no Flickr metadata.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import struct
from typing import TYPE_CHECKING, Any

import piexif

from flickr_crawl.archive.storage import write_bytes_atomic
from flickr_crawl.metadata.camera import read_camera_exif
from flickr_crawl.metadata.iptc import PHOTOSHOP, app13_payload
from flickr_crawl.metadata.pnggif import (
    Unembeddable,
    check_rest,
    container,
    embed_packet,
    head_length,
    restore,
    served_segment,
)
from flickr_crawl.metadata.text import clean_text, html_to_text
from flickr_crawl.metadata.values import (
    ISO_DATE,
    geo_coordinates,
    geo_is_public,
    is_public_domain,
    raw_geo_is_public,
    rights_text,
)
from flickr_crawl.metadata.xmp import xmp_packet

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from flickr_crawl.items import PhotoItem

logger = logging.getLogger(__name__)

__all__ = [
    "EMBED_FORMAT",
    "StreamingEmbed",
    "build_exif",
    "clean_text",
    "embed_exif",
    "embed_format",
    "embed_metadata",
    "embedded_fields",
    "exif_datetime",
    "exif_fields_sha256",
    "html_to_text",
    "is_public_domain",
    "jpeg_head_length",
    "photo_fields",
    "rights_text",
]

EMBEDDED = "embedded"

# The photo's fields embed_exif writes into a JPEG: an edit of any of these on Flickr is
# embedded again (the media pipeline compares them with what the last run recorded).
EXIF_FIELDS = ("title", "description", "tags", "owner", "owner_name", "license",
               "license_name", "license_url", "date_taken", "date_taken_unknown",
               "date_posted", "geo")  # fmt: skip
GEO_PUBLIC = "geo_public"  # beside them: whether the place is public (photo_fields)
# What embedding writes, by version; each embedded file's record keeps the version it got
# (MediaFile.embed_format), and a file embedded with less is embedded again from the served
# bytes at the next run (pipelines/media.py), with no download.
#   1: EXIF in JPEG originals (PNG and GIF originals get nothing);
#   2: + an XMP packet and an IPTC record in JPEGs, an XMP packet in PNGs and GIFs.
EMBED_FORMAT = 2
EMBED_FORMAT_KEY = "embed_format"  # in photo_fields, and in a record's file


# Tags piexif may drop without loss: Microsoft's padding and the offset fix-up that goes with it.
_DROPPABLE_TAGS = frozenset({0xEA1C, 0xEA1D})
# Offsets piexif recomputes itself; their values are expected to change.
_POINTER_TAGS = frozenset({0x8769, 0x8825, 0xA005, 0x0201, 0x0202})
_IFD_NAMES = ("0th", "Exif", "GPS", "Interop", "1st")
# Bytes per value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE,
# UNDEFINED, SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE).
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_MAX_APP1_PAYLOAD = 0xFFFF - 2  # the segment length field counts itself
XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"  # starts an APP1 holding an XMP packet
_XMP_EXTENSION = b"http://ns.adobe.com/xmp/extension/\x00"
# piexif fails in many ways on odd data (ValueError, struct.error, KeyError, even
# UnboundLocalError from its own bare excepts); around its calls, any failure means "leave the
# file alone", and embed_exif logs it with the photo id and returns it as the skip reason.
_PIEXIF_ERRORS = (Exception,)

_EXIF_DATE = re.compile(rb"^(?!0000)\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}")


class _Skip(Exception):
    """Leave the file as it is, for the reason given."""


# -- dates and places -----------------------------------------------------------------------


def exif_datetime(photo: PhotoItem) -> str | None:
    """The taken date as EXIF "YYYY:MM:DD HH:MM:SS", or None when unknown.

    Month and year granularity fill the missing parts with 01 and 00:00:00.
    """
    if photo.date_taken_unknown or not photo.date_taken:
        return None
    match = ISO_DATE.match(photo.date_taken)
    if not match or match[1] == "0000":
        return None
    year, month, day, hour, minute, second = (g or "" for g in match.groups())
    return f"{year}:{month or '01'}:{day or '01'} {hour or '00'}:{minute or '00'}:{second or '00'}"


def _dms(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Degrees, minutes and seconds (to 1/10000") as EXIF rationals; never 60 seconds."""
    total = round(abs(value) * 3600 * 10000)
    degrees, rest = divmod(total, 3600 * 10000)
    minutes, seconds = divmod(rest, 60 * 10000)
    return ((degrees, 1), (minutes, 1), (seconds, 10000))


def _has_camera_gps(gps: dict[int, Any]) -> bool:
    lat, lon = gps.get(piexif.GPSIFD.GPSLatitude), gps.get(piexif.GPSIFD.GPSLongitude)
    if not (isinstance(lat, tuple) and isinstance(lon, tuple) and len(lat) == len(lon) == 3):
        return False
    rationals = [*lat, *lon]
    if not all(isinstance(r, tuple) and len(r) == 2 and r[1] for r in rationals):
        return False
    return any(r[0] for r in rationals)  # 0°0'0" N 0°0'0" E is a camera without a fix


# -- the EXIF dictionary ---------------------------------------------------------------------


def _xp(text: str) -> bytes:
    """A Windows XP* value: UTF-16LE, NUL-terminated."""
    return text.encode("utf-16-le") + b"\x00\x00"


def _user_comment(text: str) -> bytes:
    """UserComment with its charset prefix; UCS-2 in piexif's (big-endian) byte order."""
    if text.isascii():
        return b"ASCII\x00\x00\x00" + text.encode("ascii")
    return b"UNICODE\x00" + text.encode("utf-16-be")


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, tuple):
        value = bytes(v for v in value if isinstance(v, int) and 0 <= v < 256)
    if isinstance(value, bytes):
        return not value.replace(b"\x00", b"").strip()
    return False


def build_exif(existing: dict[str, Any], photo: PhotoItem, *, compact: int = 0) -> dict[str, Any]:
    """A new piexif dict: ``existing`` (as piexif.load gave it) plus Flickr's metadata.

    Camera values are kept; Flickr fills Artist, Copyright, DateTimeOriginal/CreateDate and GPS
    only where the camera left them empty (GPS only for a place Flickr shows publicly). Title,
    description and keywords come from Flickr whenever Flickr has them. ``compact`` drops
    redundant copies of the description when the block would not fit in a JPEG segment: 1
    drops UserComment, 2 also XPComment, 3 also cuts ImageDescription to 2,000 characters.
    """
    result: dict[str, Any] = {name: dict(existing.get(name) or {}) for name in _IFD_NAMES}
    result["thumbnail"] = existing.get("thumbnail")
    zeroth, exif, gps = result["0th"], result["Exif"], result["GPS"]

    title = clean_text(photo.title).strip()
    description = html_to_text(photo.description)
    tags = [t for t in (clean_text(t).strip() for t in photo.tags) if t]

    caption = description or title
    if compact >= 3 and len(caption) > 2000:
        caption = caption[:1999] + "…"
    if caption:
        zeroth[piexif.ImageIFD.ImageDescription] = caption.encode("utf-8")
    if title:
        zeroth[piexif.ImageIFD.XPTitle] = _xp(title)
        zeroth[piexif.ImageIFD.XPSubject] = _xp(title)
    if description and compact < 2:
        zeroth[piexif.ImageIFD.XPComment] = _xp(description)
    if description and compact < 1:
        exif[piexif.ExifIFD.UserComment] = _user_comment(description)
    if tags:
        zeroth[piexif.ImageIFD.XPKeywords] = _xp(";".join(tags))

    artist = clean_text(photo.owner_name or photo.owner).strip()
    if artist and _blank(zeroth.get(piexif.ImageIFD.Artist)):
        zeroth[piexif.ImageIFD.Artist] = artist.encode("utf-8")
    if _blank(zeroth.get(piexif.ImageIFD.Copyright)):
        zeroth[piexif.ImageIFD.Copyright] = rights_text(photo).encode("utf-8")

    taken = exif_datetime(photo)
    original = exif.get(piexif.ExifIFD.DateTimeOriginal)
    if taken and not (isinstance(original, bytes) and _EXIF_DATE.match(original)):
        exif[piexif.ExifIFD.DateTimeOriginal] = taken.encode("ascii")
        digitized = exif.get(piexif.ExifIFD.DateTimeDigitized)
        if not (isinstance(digitized, bytes) and _EXIF_DATE.match(digitized)):
            exif[piexif.ExifIFD.DateTimeDigitized] = taken.encode("ascii")

    coordinates = geo_coordinates(photo) if geo_is_public(photo) else None
    if coordinates and not _has_camera_gps(gps):
        lat, lon = coordinates
        gps.setdefault(piexif.GPSIFD.GPSVersionID, (2, 3, 0, 0))
        gps[piexif.GPSIFD.GPSLatitudeRef] = b"N" if lat >= 0 else b"S"
        gps[piexif.GPSIFD.GPSLatitude] = _dms(lat)
        gps[piexif.GPSIFD.GPSLongitudeRef] = b"E" if lon >= 0 else b"W"
        gps[piexif.GPSIFD.GPSLongitude] = _dms(lon)
        gps.setdefault(piexif.GPSIFD.GPSMapDatum, b"WGS-84")
    return result


# -- the JPEG file ---------------------------------------------------------------------------


def _walk(data: bytes | bytearray) -> list[tuple[int, int, int]] | None:
    """The (marker, start, end) of each segment of a JPEG up to and including SOS, or None
    when ``data`` ends before SOS does. Raises _Skip for bytes that are not a JPEG, or a JPEG
    mangled before its scan."""
    if len(data) < 3:
        return None
    if data[:3] != b"\xff\xd8\xff":
        raise _Skip("not a JPEG")
    segments: list[tuple[int, int, int]] = []
    pos = 2
    while True:
        if pos + 4 > len(data):
            return None
        if data[pos] != 0xFF:
            raise _Skip("corrupt JPEG")
        if data[pos + 1] == 0xFF:  # fill byte
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            segments.append((marker, pos, pos + 2))
            pos += 2
            continue
        if marker == 0xD9:
            raise _Skip("corrupt JPEG")  # EOI before any scan
        end = pos + 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if end > len(data):
            return None
        segments.append((marker, pos, end))
        if marker == 0xDA:  # SOS: entropy-coded data follows
            return segments
        pos = end


def _segments(data: bytes, *, complete: bool = True) -> tuple[list[tuple[int, int, int]], int]:
    """The (marker, start, end) of each segment before the scan, and where the scan starts.

    Raises _Skip when the bytes are not a JPEG, or a JPEG cut short or mangled. ``complete``
    False: ``data`` is only the head of the file (``jpeg_head_length`` bytes), so the end of
    the image is not looked for.
    """
    if data[:3] != b"\xff\xd8\xff":
        raise _Skip("not a JPEG")
    segments = _walk(data)
    if segments is None:
        raise _Skip("corrupt JPEG")  # cut short before its scan
    if complete and data.rfind(b"\xff\xd9") < segments[-1][2]:
        raise _Skip("corrupt JPEG")  # no EOI after the scan: truncated
    return segments[:-1], segments[-1][1]


def jpeg_head_length(data: bytes | bytearray) -> int | None:
    """How many leading bytes of a JPEG are its segments up to the scan data (SOS header
    included): all that embedding reads and rewrites. None while ``data`` is too short to
    tell; 0 for bytes that are not a JPEG, or not one this can walk."""
    try:
        segments = _walk(data)
    except _Skip:
        return 0
    return None if segments is None else segments[-1][2]


def _raw_tags(tiff: bytes) -> dict[str, set[int]]:
    """Tag numbers per IFD, read straight from the TIFF structure (what piexif may miss).

    Raises ValueError or struct.error when an entry points outside the block.
    """
    order = "<" if tiff[:2] == b"II" else ">"

    def ifd(offset: int) -> tuple[dict[int, int], int]:
        (count,) = struct.unpack_from(order + "H", tiff, offset)
        entries = {}
        for i in range(count):
            tag, kind, count_, value = struct.unpack_from(order + "HHLL", tiff, offset + 2 + 12 * i)
            size = count_ * _TYPE_SIZES.get(kind, 0)
            if not size or (size > 4 and value + size > len(tiff)):
                # piexif would build a format string as long as the count says: refuse first
                raise ValueError(f"tag {tag:#06x}: type {kind} x {count_} does not fit")
            entries[tag] = value
        (next_ifd,) = struct.unpack_from(order + "L", tiff, offset + 2 + 12 * count)
        return entries, next_ifd

    found: dict[str, set[int]] = {}
    zeroth, first = ifd(struct.unpack_from(order + "L", tiff, 4)[0])
    found["0th"] = set(zeroth)
    if 0x8769 in zeroth:
        exif, _ = ifd(zeroth[0x8769])
        found["Exif"] = set(exif)
        if 0xA005 in exif:
            found["Interop"] = set(ifd(exif[0xA005])[0])
    if 0x8825 in zeroth:
        found["GPS"] = set(ifd(zeroth[0x8825])[0])
    if first:
        found["1st"] = set(ifd(first)[0])
    return found


def _load_existing(tiff: bytes | None) -> dict[str, Any]:
    """piexif's dict of the camera EXIF; raises _Skip if piexif would lose any of it."""
    if tiff is None:
        return {name: {} for name in _IFD_NAMES} | {"thumbnail": None}
    try:
        raw = _raw_tags(tiff)  # first: it rejects counts that would exhaust memory in piexif
        existing: dict[str, Any] = piexif.load(b"Exif\x00\x00" + tiff)
    except _PIEXIF_ERRORS as exc:
        raise _Skip("unreadable EXIF") from exc
    for name, tags in raw.items():
        lost = tags - set(existing.get(name) or {}) - _POINTER_TAGS - _DROPPABLE_TAGS
        if lost:
            raise _Skip("EXIF tags piexif cannot keep", sorted(lost))
    return existing


def _dump(existing: dict[str, Any], photo: PhotoItem) -> bytes:
    """The new APP1 payload ("Exif\\0\\0" + TIFF), checked to keep every camera value."""
    for compact in range(4):
        built = build_exif(existing, photo, compact=compact)
        try:
            payload: bytes = piexif.dump(copy.deepcopy(built))
            readback = piexif.load(payload)
        except _PIEXIF_ERRORS as exc:
            raise _Skip("EXIF piexif cannot write") from exc
        if len(payload) <= _MAX_APP1_PAYLOAD:
            break
    else:
        raise _Skip("EXIF too large")
    for name in _IFD_NAMES:
        for tag, value in (existing.get(name) or {}).items():
            if tag in _POINTER_TAGS or built[name].get(tag) is not value:
                continue  # recomputed by piexif, or replaced by us on purpose
            if readback[name].get(tag) != value:
                raise _Skip("EXIF would not read back", [name, tag])
    if readback.get("thumbnail") != existing.get("thumbnail"):
        raise _Skip("EXIF would not read back", ["thumbnail"])
    return payload


def _exif_segment(data: bytes, segments: list[tuple[int, int, int]]) -> tuple[int, int] | None:
    """Where the EXIF APP1 segment is (start, end), if there is one."""
    return next(
        ((start, end) for marker, start, end in segments
         if marker == 0xE1 and data[start + 4 : start + 10] == b"Exif\x00\x00"),
        None,
    )  # fmt: skip


def original_exif_segment(data: bytes, *, complete: bool = True) -> bytes | None:
    """The JPEG's EXIF segment exactly as it is (b"" if it has none; None if not a JPEG).

    Kept in the sidecar before embedding: piexif re-serialises the whole EXIF block, which keeps
    every value but can move a MakerNote whose internal offsets some cameras make absolute.
    With this segment, ``restore_original`` gives back the file exactly as Flickr served it.
    For a PNG or GIF: the served bytes its XMP packet replaces (``pnggif.served_segment``).
    """
    if container(data):
        try:
            return served_segment(data, complete=complete)
        except Unembeddable:
            return None
    try:
        segments, _scan = _segments(data, complete=complete)
    except _Skip:
        return None
    where = _exif_segment(data, segments)
    return data[where[0] : where[1]] if where else b""


def restore_original(data: bytes, segment: bytes, count: int | None = 1) -> bytes:
    """The served JPEG, from an embedded one and the segment ``original_exif_segment`` kept.

    ``count``: how many segments, from the EXIF one on, embedding wrote in its place (the
    sidecar's ``embedded_segments``: 3 with the XMP and IPTC segments, 1 for EXIF alone, None
    in records from before those were embedded, meaning 1). A PNG or GIF has one: its XMP.
    """
    if container(data):
        if (count or 1) != 1:
            raise ValueError("fewer segments than were embedded")
        return restore(data, segment)
    segments, _scan = _segments(data)
    where = _exif_segment(data, segments)
    if where is None:
        raise ValueError("no EXIF segment to replace")
    index = next(i for i, (_m, start, _e) in enumerate(segments) if start == where[0])
    ours = segments[index : index + (count or 1)]
    if len(ours) != (count or 1):
        raise ValueError("fewer segments than were embedded")
    return data[: where[0]] + segment + data[ours[-1][2] :]


def _has_xmp_or_iptc(data: bytes, segments: list[tuple[int, int, int]]) -> bool:
    """Whether the camera or an editor already put XMP or Photoshop/IPTC data in the head."""
    for marker, start, _end in segments:
        payload = data[start + 4 : start + 4 + 64]
        if marker == 0xE1 and payload.startswith((XMP_SIGNATURE, _XMP_EXTENSION)):
            return True
        if marker == 0xED and payload.startswith(PHOTOSHOP):
            return True
    return False


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _xmp_and_iptc(photo: PhotoItem) -> bytes:
    """Our XMP APP1 and IPTC APP13 segments. A description too long for one segment is cut
    to 2,000 characters there (as in EXIF; the sidecars keep all of it); b"" when even then
    the packet does not fit (thousands of long tags)."""
    public = geo_is_public(photo)
    xmp = XMP_SIGNATURE + xmp_packet(photo, gps=public)
    if len(xmp) > _MAX_APP1_PAYLOAD:
        xmp = XMP_SIGNATURE + xmp_packet(photo, description_limit=2000, gps=public)
    app13 = app13_payload(photo)
    if len(xmp) > _MAX_APP1_PAYLOAD or len(app13) > _MAX_APP1_PAYLOAD:
        logger.info("Photo %(id)s: XMP and IPTC not embedded (too large for a JPEG segment)",
                    {"id": photo.id})  # fmt: skip
        return b""
    return _segment(0xE1, xmp) + _segment(0xED, app13)


def _embed_bytes(data: bytes, photo: PhotoItem, *, complete: bool = True) -> tuple[bytes, int]:
    """``data`` (a JPEG, or with ``complete`` False its head) with Flickr's metadata in its
    EXIF segment, followed by an XMP packet and an IPTC record unless the file has its own;
    and how many segments now stand where the EXIF segment was (or was inserted). Raises
    _Skip if EXIF cannot be embedded. A PNG or GIF gets the XMP packet alone (1 segment)."""
    if container(data):
        try:
            packet = xmp_packet(photo, gps=geo_is_public(photo))
            return embed_packet(data, packet, complete=complete), 1
        except Unembeddable as exc:
            raise _Skip(str(exc)) from None
    segments, _scan = _segments(data, complete=complete)
    exif_segment = _exif_segment(data, segments)
    tiff = data[exif_segment[0] + 10 : exif_segment[1]] if exif_segment else None
    payload = _dump(_load_existing(tiff), photo)
    ours = _segment(0xE1, payload)
    # A file with its own XMP or IPTC (an editor's export) keeps them as they are: ours would
    # be a second, contradicting copy, and merging packets is not worth the risk to them.
    extra = b"" if _has_xmp_or_iptc(data, segments) else _xmp_and_iptc(photo)
    if exif_segment:
        start, end = exif_segment
    else:
        # After SOI and any JFIF/JFXX APP0 segments, which must come first.
        start = end = 2
        for marker, _start, seg_end in segments:
            if marker != 0xE0:
                break
            start = end = seg_end
    return data[:start] + ours + extra + data[end:], 3 if extra else 1


def embed_metadata(path: Path, photo: PhotoItem) -> tuple[str, int]:
    """Write Flickr's metadata into the JPEG at ``path`` (any name): EXIF, and XMP and IPTC
    where the file has none; into a PNG or GIF its XMP packet. ("embedded" or "skipped: why",
    the number of segments written where the EXIF segment was: what ``restore_original``
    needs.)

    Only the metadata segments change; the file is replaced atomically, or not at all. Files
    that are not JPEGs, are damaged, or whose EXIF piexif cannot carry over intact are left as
    they are. I/O errors propagate.
    """
    data = path.read_bytes()
    try:
        new_data, count = _embed_bytes(data, photo)
    except _Skip as skip:
        return _skipped(photo, skip), 0
    write_bytes_atomic(path, new_data)
    return EMBEDDED, count


def embed_exif(path: Path, photo: PhotoItem) -> str:
    """``embed_metadata``'s status alone: "embedded" or "skipped: why"."""
    return embed_metadata(path, photo)[0]


def _skipped(photo: PhotoItem, skip: _Skip) -> str:
    """Log why a photo's EXIF stays as served; the status the sidecar records."""
    reason = str(skip.args[0])
    logger.info(
        "Photo %(id)s: metadata not embedded (%(reason)s) %(detail)s %(cause)s",
        {
            "id": photo.id,
            "reason": reason,
            "detail": skip.args[1] if len(skip.args) > 1 else "",
            "cause": repr(skip.__cause__) if skip.__cause__ else "",
        },
    )
    return f"skipped: {reason}"


class StreamingEmbed:
    """Embeds Flickr's metadata into a JPEG (PNG, GIF) original while it downloads.

    The download handler (``flickr_crawl.downloader.media``) holds back the head of the body until
    ``head_length`` says it is whole, has it rewritten on its disk thread, and streams the rest
    through: the file is written and hashed once, instead of written, read back, rewritten and
    hashed again. The head also gives the camera's EXIF and the segment to restore the served
    file from. A JPEG that turns out to have no end (``keep`` False) is stored as served, and
    so is a PNG or GIF cut short, or with an XMP packet of its own after its image data.
    """

    def __init__(self, photo: PhotoItem) -> None:
        self.photo = photo
        self.status: str | None = None  # None: the head was never seen whole
        self.camera: dict[str, Any] | None = None
        self.original_segment: bytes | None = None
        self.segments = 0  # written where the EXIF segment was (see restore_original)
        self.container: str | None = None  # "png", "gif": the head was one's

    def head_length(self, data: bytes | bytearray) -> int | None:
        """(reactor) See ``jpeg_head_length`` and ``pnggif.head_length``."""
        if data[:1] in (b"\x89", b"G"):  # a PNG or GIF starts so, a JPEG with FF
            return head_length(data)
        return jpeg_head_length(data)

    def rewrite(self, head: bytes) -> bytes:
        """(disk thread) The head as it is to be stored."""
        self.container = container(head)
        self.camera = None if self.container else read_camera_exif(head)
        self.original_segment = original_exif_segment(head, complete=False)
        try:
            new_head, self.segments = _embed_bytes(head, self.photo, complete=False)
        except _Skip as skip:
            self.status = _skipped(self.photo, skip)
            return head
        self.status = EMBEDDED
        return new_head

    def keep(self, stored: Path, head_length: int) -> bool:
        """(disk thread) Whether the rewritten head stays: not for a JPEG cut short (no end of
        image after the head; looked for from the end, where it almost always is); for a PNG
        or GIF, not for one cut short or with its own XMP packet after the head."""
        if self.status != EMBEDDED:
            return True
        if self.container is not None:
            try:
                check_rest(stored, head_length)
            except Unembeddable as exc:
                self.status = _skipped(self.photo, _Skip(str(exc)))
                return False
            return True
        if _has_end(stored, head_length):
            return True
        self.status = _skipped(self.photo, _Skip("corrupt JPEG"))
        return False


def _has_end(path: Path, start: int, *, block: int = 1 << 16) -> bool:
    """Whether an EOI marker (FF D9) is in ``path`` after byte ``start``, read backwards."""
    with path.open("rb") as fh:
        end = fh.seek(0, 2)
        after = b""  # the first byte of the block read before (it follows this one)
        while end > start:
            begin = max(start, end - block)
            fh.seek(begin)
            data = fh.read(end - begin) + after
            if b"\xff\xd9" in data:
                return True
            after, end, block = data[:1], begin, block * 4
    return False


def photo_fields(photo: PhotoItem) -> dict[str, Any]:
    """What embedding writes, as plain values: the ``EXIF_FIELDS``, whether the place is
    public (a place made private on Flickr must leave the file at the next run) and the
    ``EMBED_FORMAT`` this version writes (a file embedded with an older one is embedded again)."""
    fields = {key: getattr(photo, key) for key in EXIF_FIELDS}
    fields[GEO_PUBLIC] = geo_is_public(photo)
    fields[EMBED_FORMAT_KEY] = EMBED_FORMAT
    return fields


def embed_format(file: Mapping[str, Any]) -> int:
    """The ``EMBED_FORMAT`` a record's file (a sidecar's or journal line's ``file``) was
    embedded with. Records from before the version was kept say it by their shape: a count of
    ``embedded_segments`` came with format 2 (XMP and IPTC beside EXIF), none means EXIF alone."""
    recorded = file.get(EMBED_FORMAT_KEY)
    if isinstance(recorded, int) and not isinstance(recorded, bool):
        return recorded
    return 2 if file.get("embedded_segments") else 1


def embedded_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """``photo_fields`` of a record: a photo's plain values, a sidecar (its ``raw`` says
    whether the place is public) or a placement journal line (says it itself); the format from
    the record's ``file``, else the values' own (``photo_fields``'), else 1."""
    fields = {key: values.get(key) for key in EXIF_FIELDS}
    public = values.get(GEO_PUBLIC)
    if public is None:
        raw = values.get("raw")
        public = raw_geo_is_public(raw) if isinstance(raw, dict) else False
    fields[GEO_PUBLIC] = bool(public)
    file = values.get("file")
    if isinstance(file, dict):
        fields[EMBED_FORMAT_KEY] = embed_format(file)
    else:
        fields[EMBED_FORMAT_KEY] = embed_format(values)
    return fields


def exif_fields_sha256(values: Mapping[str, Any]) -> str:
    """A digest of ``embedded_fields(values)``: catalog.db keeps it, so a run knows an edit,
    or a file embedded with an older format, without reading the JSON sidecar."""
    fields = embedded_fields(values)
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
