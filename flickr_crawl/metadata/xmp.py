"""Flickr metadata -> an XMP packet: the sidecar beside every photo and video, and the packet
embedded in JPEGs (``exif.py``).

The sidecar is where photo managers (digiKam, darktable, Lightroom, Immich, exiftool) look for
metadata they cannot or may not write into the media file itself: it works the same for JPEG,
PNG, GIF and video, and never touches the media bytes. Values are the ones ``exif.py`` embeds
(plain-text description, licence notice), in the XMP properties the Metadata Working Group
maps them to: dc:title, dc:description, dc:subject, dc:creator, dc:rights,
xmpRights:WebStatement/Marked/UsageTerms, photoshop:DateCreated, exif:GPSLatitude/Longitude.
Tags are also written as Lightroom's ``lr:HierarchicalSubject`` and digiKam's
``digiKam:TagsList``, where a machine tag ``ns:predicate=value`` becomes the branch
ns > predicate > value (``dc:subject`` keeps it as typed).

Dates keep their precision: a year- or month-only date ("2011", "2011-03", valid XMP) goes only
into ``exif:DateTimeOriginal``. libexiv2 (digiKam, darktable, gThumb) turns a partial
``photoshop:DateCreated`` or ``xmp:CreateDate`` into an IPTC and EXIF date when it reads a
sidecar, which fails ("Unsupported date format") and yields a wrong day (2021-11-30 for
"2022"); those two properties are written only for a full date.

Every string passes through ``clean_text`` (no control characters or lone surrogates) and XML
escaping, so no title or description can make the file ill-formed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from flickr_crawl.archive.paths import XMP_SIDECAR_NAMINGS, xmp_sidecar_name
from flickr_crawl.archive.storage import write_bytes_atomic
from flickr_crawl.metadata.text import clean_text, html_to_text
from flickr_crawl.metadata.values import geo_coordinates, is_public_domain, rights_text

if TYPE_CHECKING:
    from pathlib import Path

    from flickr_crawl.items import PhotoItem

__all__ = [
    "hierarchical_tags",
    "sidecar_path",
    "sidecar_paths",
    "write_xmp",
    "xmp_date",
    "xmp_gps",
    "xmp_packet",
]

NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
}
_ISO_PREFIX = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2})?)?)?)?$")
_MACHINE_TAG = re.compile(r"^([A-Za-z_][^:=|/]*):([^:=|/]+)=(.+)$")
_XMP_TOOLKIT = "flickr-crawl"


def _text(value: str) -> str:
    return escape(clean_text(value))


def xmp_date(photo: PhotoItem) -> str | None:
    """The taken date in XMP form, as precise as Flickr knows it ("2011-03" for a month)."""
    if photo.date_taken_unknown or not photo.date_taken:
        return None
    value = photo.date_taken.strip()
    if not _ISO_PREFIX.match(value) or value.startswith("0000"):
        return None
    return value


def _gps_value(value: float, positive: str, negative: str) -> str:
    """XMP's GPSCoordinate "DDD,MM.mmmmmmK" (degrees, decimal minutes, direction)."""
    micro_minutes = round(abs(value) * 60 * 1_000_000)
    degrees, rest = divmod(micro_minutes, 60 * 1_000_000)
    return f"{degrees},{rest / 1_000_000:09.6f}{positive if value >= 0 else negative}"


def xmp_gps(photo: PhotoItem) -> tuple[str, str] | None:
    """(exif:GPSLatitude, exif:GPSLongitude) in XMP form, or None without a location."""
    coordinates = geo_coordinates(photo)
    if coordinates is None:
        return None
    lat, lon = coordinates
    return _gps_value(lat, "N", "S"), _gps_value(lon, "E", "W")


def hierarchical_tags(tags: list[str], separator: str) -> list[str]:
    """Tags as keyword paths: ``geo:lat=1`` -> ``geo|lat|1`` (``separator`` "|" for Lightroom,
    "/" for digiKam); a plain tag, or a machine tag whose value holds the separator, stays whole."""
    paths = []
    for tag in tags:
        match = _MACHINE_TAG.match(tag)
        if match and separator not in match[3]:
            paths.append(separator.join(match.groups()))
        else:
            paths.append(tag)
    return list(dict.fromkeys(paths))


def _alt(name: str, value: str) -> list[str]:
    return [
        f"   <{name}>",
        "    <rdf:Alt>",
        f'     <rdf:li xml:lang="x-default">{_text(value)}</rdf:li>',
        "    </rdf:Alt>",
        f"   </{name}>",
    ]


def _array(name: str, kind: str, values: list[str]) -> list[str]:
    items = [f"     <rdf:li>{_text(v)}</rdf:li>" for v in values]
    return [f"   <{name}>", f"    <rdf:{kind}>", *items, f"    </rdf:{kind}>", f"   </{name}>"]


def _simple(name: str, value: str) -> list[str]:
    return [f"   <{name}>{_text(value)}</{name}>"]


def xmp_packet(
    photo: PhotoItem, *, description_limit: int | None = None, gps: bool = True
) -> bytes:
    """A complete XMP packet (UTF-8) with everything Flickr says about the photo's content.

    ``description_limit``: cut the description to that many characters (with "…"), for a
    packet that must fit in a JPEG segment; the sidecar always has all of it. ``gps`` False
    leaves the place out (a JPEG's packet, when Flickr does not show the place publicly).
    """
    lines: list[str] = []
    title = clean_text(photo.title).strip()
    description = html_to_text(photo.description)
    if description_limit is not None and len(description) > description_limit:
        description = description[: description_limit - 1] + "…"
    tags = [t for t in (clean_text(t).strip() for t in photo.tags) if t]
    creator = clean_text(photo.owner_name or photo.owner).strip()
    if title:
        lines += _alt("dc:title", title)
    if description:
        lines += _alt("dc:description", description)
    if tags:
        lines += _array("dc:subject", "Bag", tags)
        lines += _array("lr:HierarchicalSubject", "Bag", hierarchical_tags(tags, "|"))
        lines += _array("digiKam:TagsList", "Seq", hierarchical_tags(tags, "/"))
    if creator:
        lines += _array("dc:creator", "Seq", [creator])
    lines += _alt("dc:rights", rights_text(photo))
    if photo.page_url:
        lines += _simple("dc:source", photo.page_url)
    lines += _simple("xmpRights:Marked", "False" if is_public_domain(photo) else "True")
    licence = clean_text(photo.license_name).strip() or "All Rights Reserved"
    licence_url = clean_text(photo.license_url).strip()
    lines += _alt("xmpRights:UsageTerms", f"{licence} {licence_url}".strip())
    if licence_url:
        lines += _simple("xmpRights:WebStatement", licence_url)
    taken = xmp_date(photo)
    if taken and len(taken) >= 10:  # a day is known
        lines += _simple("photoshop:DateCreated", taken)
        lines += _simple("exif:DateTimeOriginal", taken)
        lines += _simple("xmp:CreateDate", taken)
    elif taken:
        lines += _simple("exif:DateTimeOriginal", taken)
    coordinates = xmp_gps(photo) if gps else None
    if coordinates:
        lines += _simple("exif:GPSVersionID", "2.3.0.0")
        lines += _simple("exif:GPSLatitude", coordinates[0])
        lines += _simple("exif:GPSLongitude", coordinates[1])
        lines += _simple("exif:GPSMapDatum", "WGS-84")
    namespaces = "".join(
        f'\n    xmlns:{prefix}="{uri}"' for prefix, uri in NAMESPACES.items() if prefix != "x"
    )
    packet = "\n".join(
        [
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>',
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="{_XMP_TOOLKIT}">',
            f" <rdf:RDF{namespaces}>",
            '  <rdf:Description rdf:about="">',
            *lines,
            "  </rdf:Description>",
            " </rdf:RDF>",
            "</x:xmpmeta>",
            '<?xpacket end="w"?>',
            "",
        ]
    )
    return packet.encode("utf-8")


def sidecar_path(media_path: Path, naming: str = "file.ext.xmp") -> Path:
    """``123.jpg`` -> ``123.jpg.xmp`` (naming "file.ext.xmp") or ``123.xmp`` ("file.xmp")."""
    return media_path.with_name(xmp_sidecar_name(media_path.name, naming))


def sidecar_paths(media_path: Path) -> list[Path]:
    """Every name a sidecar of ``media_path`` may have (the naming setting can change)."""
    names = dict.fromkeys(xmp_sidecar_name(media_path.name, n) for n in XMP_SIDECAR_NAMINGS)
    return [media_path.with_name(name) for name in names]


def write_xmp(media_path: Path, photo: PhotoItem, naming: str = "file.ext.xmp") -> Path:
    """Write the sidecar beside ``media_path`` atomically, named as ``naming`` says, and drop
    one an earlier run wrote under the other naming; returns its path."""
    path = write_bytes_atomic(sidecar_path(media_path, naming), xmp_packet(photo))
    for other in sidecar_paths(media_path):
        if other != path:
            other.unlink(missing_ok=True)
    return path
