"""Raw Flickr dicts to items: unwrap ``_content``, coerce mixed types, normalise dates, pick sizes.

Pure functions over the JSON Flickr returns; the input dict is never modified.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flickr_crawl.api import (
    LICENSES,
    SIZE_CODES,
    SIZE_LABELS,
    optional,
    text,
    to_float,
    to_int,
)
from flickr_crawl.items import AlbumItem, PhotoItem, Source

_MACHINE_TAG = re.compile(r"^[a-z_][a-z0-9_]*:[a-z_][a-z0-9_]*=.+$", re.IGNORECASE)
GRANULARITY_CUT = {0: 19, 4: 7, 6: 4, 8: 4}  # how many chars of "YYYY-MM-DDTHH:MM:SS" to keep


def iso_from_unix(value: Any) -> str | None:
    """Flickr's unix-seconds strings (GMT) as ISO 8601; "0" and "" mean unknown."""
    seconds = to_int(value, 0)
    if seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_taken(value: Any, granularity: int) -> str | None:
    """A MySQL datetime in the owner's wall time, as ISO 8601 cut to its granularity."""
    raw = text(value).strip()
    if not raw or raw.startswith("0000"):
        return None
    iso = raw.replace(" ", "T")
    return iso[: GRANULARITY_CUT.get(granularity, 19)]


def best_photo_source(raw: dict[str, Any]) -> Source | None:
    """The original if the list extras offer it, else the largest size offered."""
    for code in SIZE_CODES:
        url = raw.get(f"url_{code}")
        if not url:
            continue
        is_original = code == "o"
        extension = optional(raw.get("originalformat")) if is_original else None
        return Source(
            url=str(url),
            label=SIZE_LABELS[code],
            is_original=is_original,
            width=to_int(raw.get(f"width_{code}"), 0) or None,
            height=to_int(raw.get(f"height_{code}"), 0) or None,
            extension=extension or str(url).rsplit(".", 1)[-1].lower(),
        )
    return None


def video_original_source(sizes: dict[str, Any]) -> Source | None:
    """The ``Video Original`` entry of a getSizes answer (offered to the owner only)."""
    for size in sizes.get("sizes", {}).get("size", []):
        if size.get("label") == "Video Original" and size.get("source"):
            return Source(
                url=str(size["source"]),
                label="Video Original",
                is_original=True,
                width=to_int(size.get("width"), 0) or None,
                height=to_int(size.get("height"), 0) or None,
            )
    return None


def geo_of(raw: dict[str, Any]) -> dict[str, Any] | None:
    """Location from the ``geo`` extra; Flickr sends 0/0/0 for photos without one."""
    lat, lon = to_float(raw.get("latitude")), to_float(raw.get("longitude"))
    accuracy = to_int(raw.get("accuracy"), 0)
    if not lat and not lon and not accuracy:
        return None
    return {
        "latitude": lat,
        "longitude": lon,
        "accuracy": accuracy,
        "context": to_int(raw.get("context"), 0),
        "place_id": optional(raw.get("place_id")),
        "woeid": optional(raw.get("woeid")),
    }


def photo_from_list(raw: dict[str, Any], *, method: str, owner: str, web_url: str) -> PhotoItem:
    """A PhotoItem from one entry of a photo list (people.getPhotos, photosets.getPhotos...)."""
    photo_id = str(raw["id"])
    owner = text(raw.get("owner")) or owner
    granularity = to_int(raw.get("datetakengranularity"), 0)
    license_id = to_int(raw.get("license"), 0)
    license_name, license_url = LICENSES.get(license_id, (f"License {license_id}", ""))
    path_alias = optional(raw.get("pathalias")) or optional(raw.get("path_alias"))
    media = text(raw.get("media")) or "photo"
    source = best_photo_source(raw) if media == "photo" else None
    # The tags extra holds every tag, machine tags included; the machine_tags extra is often
    # empty even then (recorded 2013), so machine tags are recognised by their shape too.
    tags = text(raw.get("tags")).split()
    machine_tags = list(dict.fromkeys(
        [*text(raw.get("machine_tags")).split(), *(t for t in tags if _MACHINE_TAG.match(t))]
    ))  # fmt: skip
    return PhotoItem(
        id=photo_id,
        owner=owner,
        owner_name=text(raw.get("ownername")),
        media=media,
        title=text(raw.get("title")),
        description=text(raw.get("description")),
        tags=tags,
        machine_tags=machine_tags,
        date_posted=iso_from_unix(raw.get("dateupload")),
        date_taken=iso_taken(raw.get("datetaken"), granularity),
        date_taken_granularity=granularity,
        date_taken_unknown=to_int(raw.get("datetakenunknown"), 0) == 1,
        last_update=iso_from_unix(raw.get("lastupdate")),
        last_update_unix=to_int(raw.get("lastupdate"), 0),
        license=license_id,
        license_name=license_name,
        license_url=license_url,
        is_public=to_int(raw.get("ispublic")) == 1,
        is_friend=to_int(raw.get("isfriend")) == 1,
        is_family=to_int(raw.get("isfamily")) == 1,
        safety_level=to_int(raw.get("safety_level"), 0),
        views=to_int(raw.get("views", raw.get("count_views")), 0),
        count_comments=to_int(raw.get("count_comments"), 0),
        count_faves=to_int(raw.get("count_faves"), 0),
        geo=geo_of(raw),
        original_format=optional(raw.get("originalformat")),
        original_secret=optional(raw.get("originalsecret")),
        rotation=to_int(raw.get("rotation"), 0),
        path_alias=path_alias,
        page_url=f"{web_url.rstrip('/')}/photos/{path_alias or owner}/{photo_id}/",
        source=source,
        raw={method: raw},
    )


def album_from_list(raw: dict[str, Any]) -> AlbumItem:
    """An AlbumItem (without its photos yet) from a photosets.getList entry."""
    return AlbumItem(
        id=str(raw["id"]),
        title=text(raw.get("title")),
        description=text(raw.get("description")),
        primary=optional(raw.get("primary")),
        count_photos=to_int(raw.get("photos"), 0),
        count_videos=to_int(raw.get("videos"), 0),
        date_create=iso_from_unix(raw.get("date_create")),
        date_update=iso_from_unix(raw.get("date_update")),
        raw={"flickr.photosets.getList": raw},
    )
