"""Flickr metadata -> an IPTC IIM record inside a JPEG's Photoshop APP13 segment.

Lightroom, Apple Photos, Photoshop, Bridge and most DAMs still read IPTC IIM ("IPTC-NAA")
first for captions and keywords, and none of them reads a sidecar for a JPEG. The record is
small and fixed, so it is built here by hand (the format is a list of tagged byte strings)
rather than with a library: iptcinfo3 rewrites the whole file and drops other APP13
resources; pyexiv2 bundles a 10 MB exiv2 and works on files, not the header we rewrite as it
streams.

Values are the ones EXIF and XMP get (``values.py``). IIM's length limits (64 bytes for a
title or keyword, 2,000 for a caption...) are kept by cutting at a character boundary: the
full text is in the XMP packet next to it, which readers prefer when the IPTC digest (0x0425)
says the two were written together (Metadata Working Group guidance). A date is written only
when its day is known: IIM allows "00" for an unknown month or day, but libexiv2 (digiKam,
darktable, gThumb) rejects such dates as "Unsupported date format"; the XMP packet carries
year- and month-only dates.
"""

from __future__ import annotations

import hashlib
import struct
from typing import TYPE_CHECKING

from flickr_crawl.metadata.text import clean_text, html_to_text
from flickr_crawl.metadata.values import ISO_DATE, rights_text

if TYPE_CHECKING:
    from flickr_crawl.items import PhotoItem

__all__ = ["PHOTOSHOP", "app13_payload", "iim_record"]

PHOTOSHOP = b"Photoshop 3.0\x00"
_IPTC_RESOURCE = 0x0404
_DIGEST_RESOURCE = 0x0425
_UTF8 = b"\x1b%G"  # ISO 2022 escape sequence for UTF-8 (dataset 1:90)
# (record, dataset): IIM's maximum length in bytes.
_LIMITS = {(2, 5): 64, (2, 25): 64, (2, 80): 32, (2, 116): 128, (2, 120): 2000}


def _cut(text: str, limit: int) -> bytes:
    """UTF-8 of ``text``, cut to ``limit`` bytes without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return data
    return data[:limit].decode("utf-8", "ignore").encode("utf-8")


def _dataset(record: int, number: int, value: bytes) -> bytes:
    return struct.pack(">BBBH", 0x1C, record, number, len(value)) + value


def _iim_date(photo: PhotoItem) -> bytes | None:
    """2:55 Date Created as CCYYMMDD, only when the day is known."""
    if photo.date_taken_unknown or not photo.date_taken:
        return None
    match = ISO_DATE.match(photo.date_taken.strip())
    if not match or match[1] == "0000" or not match[3]:
        return None
    return f"{match[1]}{match[2]}{match[3]}".encode("ascii")


def iim_record(photo: PhotoItem) -> bytes:
    """The IIM datasets (envelope record 1, application record 2) for the photo, in UTF-8."""
    title = clean_text(photo.title).strip()
    caption = html_to_text(photo.description)  # as dc:description: MWG pairs the two
    tags = [t for t in (clean_text(t).strip() for t in photo.tags) if t]
    creator = clean_text(photo.owner_name or photo.owner).strip()
    fields: list[tuple[int, bytes]] = []
    if title:
        fields.append((5, _cut(title, _LIMITS[2, 5])))
    fields += [(25, _cut(tag, _LIMITS[2, 25])) for tag in dict.fromkeys(tags)]
    date = _iim_date(photo)
    if date:
        fields.append((55, date))
    if creator:
        fields.append((80, _cut(creator, _LIMITS[2, 80])))
    fields.append((116, _cut(rights_text(photo), _LIMITS[2, 116])))
    if caption:
        fields.append((120, _cut(caption, _LIMITS[2, 120])))
    parts = [
        _dataset(1, 0, b"\x00\x04"),  # envelope record version 4
        _dataset(1, 90, _UTF8),
        _dataset(2, 0, b"\x00\x04"),  # application record version 4
        *(_dataset(2, number, value) for number, value in fields),
    ]
    return b"".join(parts)


def _resource(number: int, data: bytes) -> bytes:
    """One Photoshop image resource: "8BIM", id, empty name, size, data (padded to even)."""
    padding = b"\x00" * (len(data) % 2)
    return (
        b"8BIM"
        + struct.pack(">H", number)
        + b"\x00\x00"
        + struct.pack(">L", len(data))
        + (data + padding)
    )


def app13_payload(photo: PhotoItem) -> bytes:
    """The APP13 segment's payload: "Photoshop 3.0", the IIM record and its MD5 digest."""
    record = iim_record(photo)
    return (
        PHOTOSHOP
        + _resource(_IPTC_RESOURCE, record)
        + _resource(_DIGEST_RESOURCE, hashlib.md5(record).digest())  # noqa: S324 - IIM's digest
    )
