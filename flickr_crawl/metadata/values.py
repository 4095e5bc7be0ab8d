"""What Flickr's fields become in every metadata format we write (EXIF, XMP, IPTC).

One place for the values the formats share, so the JPEG's EXIF, its XMP packet and IPTC
record, and the XMP sidecar all say the same thing: the copyright notice, whether a licence
claims copyright at all, the photo's coordinates and whether they are public.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from flickr_crawl.metadata.text import clean_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flickr_crawl.items import PhotoItem

__all__ = [
    "ISO_DATE",
    "PUBLIC_DOMAIN_LICENSES",
    "geo_coordinates",
    "geo_is_public",
    "is_public_domain",
    "raw_geo_is_public",
    "rights_text",
]

# Licences (api.LICENSES ids) under which nobody claims copyright: no "©" and xmpRights:Marked
# False for them.
PUBLIC_DOMAIN_LICENSES = frozenset({7, 8, 9, 10})

ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?)?)?")


def is_public_domain(photo: PhotoItem) -> bool:
    """Whether the photo's licence claims no copyright (Commons, US Gov, CC0, PD Mark)."""
    return photo.license in PUBLIC_DOMAIN_LICENSES


def _rights_year(photo: PhotoItem) -> str:
    for value in (None if photo.date_taken_unknown else photo.date_taken, photo.date_posted):
        if value and ISO_DATE.match(value):
            return value[:4]
    return ""


def rights_text(photo: PhotoItem) -> str:
    """The copyright notice: "© 2019 Jane Doe. Attribution License https://...".

    Public-domain licences get no "©"; "All Rights Reserved" has no URL. The year is the year
    taken when known, else the year posted.
    """
    name = clean_text(photo.owner_name or photo.owner).strip()
    holder = " ".join(p for p in (_rights_year(photo), name) if p)
    licence = clean_text(photo.license_name).strip() or "All Rights Reserved"
    terms = " ".join(p for p in (licence, clean_text(photo.license_url).strip()) if p)
    if is_public_domain(photo):
        return f"{holder}. {terms}" if holder else terms
    return f"© {holder}. {terms}" if holder else f"© {terms}"


def geo_coordinates(photo: PhotoItem) -> tuple[float, float] | None:
    """(latitude, longitude) from ``photo.geo`` when both are real coordinates."""
    if not photo.geo:
        return None
    try:
        lat = float(photo.geo["latitude"])
        lon = float(photo.geo["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    return lat, lon


def geo_is_public(photo: PhotoItem) -> bool:
    """Whether Flickr shows the photo's place to everyone: ``geo_is_public`` of a list call's
    geo extra, or ``geoperms.ispublic`` of getInfo, both kept in ``raw``; not said: no. A place
    the owner shows only to friends, family or nobody stays out of the media file, which may
    be shared; the sidecars and the catalog keep it."""
    return raw_geo_is_public(photo.raw)


def raw_geo_is_public(raw: Mapping[str, Any]) -> bool:
    """``geo_is_public`` from a photo's raw answers (a PhotoItem's or a sidecar's ``raw``)."""
    for answer in raw.values():
        if not isinstance(answer, dict):
            continue
        perms = answer.get("geoperms")
        value = perms.get("ispublic") if isinstance(perms, dict) else answer.get("geo_is_public")
        if value is not None:
            return str(value).strip() == "1"
    return False
