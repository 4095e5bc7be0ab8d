"""Raw Flickr dicts to items: unwrap ``_content``, coerce mixed types, normalise dates, pick sizes.

Pure functions over the JSON Flickr returns; the input dict is never modified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flickr_crawl.flickr.api import (
    COLLECTIONS_GET_TREE,
    FAVORITES_GET_LIST,
    GALLERIES_GET_LIST,
    LICENSES,
    PHOTOS_COMMENTS_GET_LIST,
    PHOTOS_GET_FAVORITES,
    PHOTOS_GET_INFO,
    PHOTOS_PEOPLE_GET_LIST,
    PHOTOSETS_GET_LIST,
    SIZE_CODES,
    SIZE_LABELS,
    optional,
    shape_checked,
    text,
    to_float,
    to_int,
)
from flickr_crawl.items import (
    AlbumItem,
    CollectionItem,
    Comment,
    CommentsItem,
    Fave,
    FavesItem,
    GalleryItem,
    Note,
    Person,
    PhotoInfoItem,
    PhotoItem,
    Source,
    Tag,
    User,
)

_MACHINE_TAG = re.compile(r"^[a-z_][a-z0-9_]*:[a-z_][a-z0-9_]*=.+$", re.IGNORECASE)
GRANULARITY_CUT = {0: 19, 4: 7, 6: 4, 8: 4}  # how many chars of "YYYY-MM-DDTHH:MM:SS" to keep


def iso_from_unix(value: Any) -> str | None:
    """Flickr's unix-seconds strings (GMT) as ISO 8601; "0" and "" mean unknown."""
    seconds = to_int(value, 0)
    if seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):  # past year 9999: not a date Flickr keeps
        return None


def since_timestamp(value: str) -> int:
    """``-a since=YYYY-MM-DD`` as a unix time (midnight UTC); ValueError if it is not a date."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"since={value!r} is not a date like 2024-05-31") from None
    return int(day.timestamp())


def iso_taken(value: Any, granularity: int) -> str | None:
    """A MySQL datetime in the owner's wall time, as ISO 8601 cut to its granularity."""
    raw = text(value).strip()
    if not raw or raw.startswith("0000"):
        return None
    iso = raw.replace(" ", "T")
    return iso[: GRANULARITY_CUT.get(granularity, 19)]


@shape_checked
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


@shape_checked
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


def video_play_source(item: PhotoItem, web_url: str) -> Source | None:
    """A video's original from the list extras: the owner's getSizes lists exactly this URL
    as "Video Original" (``play/orig/{originalsecret}/``), so no per-video call is needed."""
    if item.media != "video" or not item.original_secret:
        return None
    return Source(
        url=f"{web_url.rstrip('/')}/photos/{item.path_alias or item.owner}/{item.id}"
        f"/play/orig/{item.original_secret}/",
        label="Video Original",
        is_original=True,
    )


# Video streams Flickr lists in getSizes, best first; "Video Original" goes to the owner only.
VIDEO_LABELS = ("Video Original", "1080p", "HD MP4", "720p", "Site MP4", "360p", "288p",
                "Mobile MP4", "700", "iphone_wifi", "appletv")  # fmt: skip


@shape_checked
def best_video_source(sizes: dict[str, Any]) -> Source | None:
    """The best video stream getSizes offers this caller (someone else's video: no original)."""
    offered = {
        size.get("label"): size
        for size in sizes.get("sizes", {}).get("size", []) or []
        if size.get("media") == "video" and size.get("source")
    }
    for label in VIDEO_LABELS:
        if label in offered:
            size = offered[label]
            return Source(
                url=str(size["source"]), label=label, is_original=label == "Video Original",
                width=to_int(size.get("width"), 0) or None,
                height=to_int(size.get("height"), 0) or None,
            )  # fmt: skip
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


@shape_checked
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
    poster = best_photo_source(raw) if media == "video" else None  # every url_X is a still
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
        poster=poster,
        raw={method: raw},
    )


@shape_checked
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
        raw={PHOTOSETS_GET_LIST: raw},
    )


def user_of(raw: dict[str, Any], web_url: str, *, nsid_key: str = "nsid") -> User:
    """A User from any payload carrying nsid/username/realname/iconserver/iconfarm."""
    nsid = text(raw.get(nsid_key))
    alias = optional(raw.get("path_alias")) or optional(raw.get("pathalias"))
    iconserver = to_int(raw.get("iconserver"), 0)
    if iconserver > 0:
        icon = (f"https://farm{to_int(raw.get('iconfarm'), 0)}.staticflickr.com/{iconserver}"
                f"/buddyicons/{nsid}.jpg")  # fmt: skip
    else:
        icon = "https://www.flickr.com/images/buddyicon.gif"
    return User(
        nsid=nsid,
        username=text(raw.get("username") or raw.get("authorname") or raw.get("ownername")),
        realname=text(raw.get("realname")),
        path_alias=alias,
        buddy_icon_url=icon,
        profile_url=f"{web_url.rstrip('/')}/people/{alias or nsid}/",
        deleted=to_int(raw.get("is_deleted") or raw.get("author_is_deleted"), 0) == 1,
    )


@shape_checked
def comments_of(photo_id: str, data: dict[str, Any], web_url: str) -> CommentsItem:
    """A CommentsItem from photos.comments.getList (no comments: absent or empty list)."""
    raws = data.get("comments", {}).get("comment", []) or []
    comments = [
        Comment(
            id=text(raw.get("id")),
            author=text(raw.get("author")),
            author_name=text(raw.get("authorname")),
            realname=text(raw.get("realname")),
            date=iso_from_unix(raw.get("datecreate")),
            permalink=text(raw.get("permalink")),
            html=text(raw.get("_content")),
            author_is_deleted=to_int(raw.get("author_is_deleted"), 0) == 1,
        )
        for raw in raws
    ]
    users = _unique_users(user_of(raw, web_url, nsid_key="author") for raw in raws)
    raw = {PHOTOS_COMMENTS_GET_LIST: data.get("comments", {})}
    return CommentsItem(photo_id=photo_id, comments=comments, users=users, raw=raw)


@shape_checked
def faves_of(photo_id: str, pages: list[dict[str, Any]], web_url: str) -> FavesItem:
    """A FavesItem from every page of photos.getFavorites (paging sits on ``photo``)."""
    people = [person for page in pages for person in page.get("person", []) or []]
    total = to_int(pages[-1].get("total"), len(people)) if pages else 0
    faves = [
        Fave(nsid=text(p.get("nsid")), username=text(p.get("username")),
             realname=text(p.get("realname")), date_faved=iso_from_unix(p.get("favedate")))
        for p in people
    ]  # fmt: skip
    users = _unique_users(user_of(p, web_url) for p in people)
    return FavesItem(photo_id=photo_id, total=total, faves=faves, users=users,
                     raw={PHOTOS_GET_FAVORITES: pages})  # fmt: skip


@shape_checked
def info_of(
    photo_id: str, info: dict[str, Any], people: dict[str, Any] | None, web_url: str
) -> PhotoInfoItem:
    """A PhotoInfoItem from photos.getInfo (and photos.people.getList when it was asked)."""
    photo = info.get("photo", {})
    tags = [
        Tag(id=text(t.get("id")), content=text(t.get("_content")), raw=text(t.get("raw")),
            author=text(t.get("author")), author_name=text(t.get("authorname")),
            machine=to_int(t.get("machine_tag"), 0) == 1)
        for t in photo.get("tags", {}).get("tag", []) or []
    ]  # fmt: skip
    notes = [
        Note(id=text(n.get("id")), author=text(n.get("author")),
             author_name=text(n.get("authorname")), x=to_int(n.get("x")), y=to_int(n.get("y")),
             w=to_int(n.get("w")), h=to_int(n.get("h")), html=text(n.get("_content")))
        for n in photo.get("notes", {}).get("note", []) or []
    ]  # fmt: skip
    persons = (people or {}).get("people", {}).get("person", []) or []
    tagged = [
        Person(nsid=text(p.get("nsid")), username=text(p.get("username")),
               realname=text(p.get("realname")), added_by=text(p.get("added_by")),
               x=_maybe_int(p.get("x")), y=_maybe_int(p.get("y")),
               w=_maybe_int(p.get("w")), h=_maybe_int(p.get("h")))
        for p in persons
    ]  # fmt: skip
    users = _unique_users(
        [user_of(photo.get("owner", {}), web_url), *(user_of(p, web_url) for p in persons)]
    )
    raw = {PHOTOS_GET_INFO: photo}
    if people is not None:
        raw[PHOTOS_PEOPLE_GET_LIST] = people.get("people", {})
    location = _location(photo.get("location"))
    return PhotoInfoItem(
        photo_id=photo_id,
        tags=tags,
        notes=notes,
        people=tagged,
        location=location,
        users=users,
        raw=raw,
    )


EXPORT_PHOTO = "export:photo.json"  # raw key of a photo's JSON from Flickr's account export
_PROFILE = re.compile(r"^(?:https?://[^/]+)?/(?:photos|people)/([^/?#]+)/?$")


def _export_author(value: Any, owner: User) -> tuple[str, str] | None:
    """(nsid, name) of a profile URL (or nsid) in the export when it is the owner's; None
    for anyone else: the export gives no other person's nsid and name together."""
    ref = text(value).strip()
    m = _PROFILE.match(ref)
    segment = m.group(1) if m else ref
    if segment and segment in (owner.nsid, owner.path_alias):
        return owner.nsid, owner.username
    return None


EXPORT_COMMENTS = "export:comments"  # raw key of a photo's comments from the export
NSID = re.compile(r"^\d+@N\d\d$")


def export_ref(value: Any) -> str:
    """Who a profile URL (or bare nsid or alias) in the export names: its path segment."""
    ref = text(value).strip()
    m = _PROFILE.match(ref)
    return m.group(1) if m else ref


def export_comment_refs(data: dict[str, Any]) -> set[str]:
    """Everyone the export's comments of a photo name (profile URL segments)."""
    return {export_ref(c.get("user")) for c in data.get("comments") or [] if isinstance(c, dict)}


def user_from_person(person: dict[str, Any], web_url: str) -> User:
    """A User from a people.getInfo ``person``."""
    flat = {k: text(v) if isinstance(v, dict) else v for k, v in person.items()}
    flat["nsid"] = flat.get("nsid") or flat.get("id")
    return user_of(flat, web_url)


def comments_from_export(
    photo_id: str, data: dict[str, Any], users: dict[str, User], page_url: str
) -> CommentsItem | None:
    """The comments of a photo from its export JSON, each author found in ``users`` (by
    profile URL segment); None when one is not there. The export's dates are read as UTC."""
    comments = []
    for raw in data.get("comments") or []:
        if not isinstance(raw, dict):
            return None
        user = users.get(export_ref(raw.get("user")))
        if user is None:
            return None
        cid = text(raw.get("id"))
        when = text(raw.get("date") or raw.get("date_create"))
        date: str | None
        try:
            date = datetime.strptime(when, "%Y-%m-%d %H:%M:%S").strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            date = iso_from_unix(when)
        comments.append(
            Comment(id=cid, author=user.nsid, author_name=user.username, realname=user.realname,
                    date=date, permalink=f"{page_url}#comment{cid.rsplit('-', 1)[-1]}",
                    html=text(raw.get("comment")), author_is_deleted=user.deleted)
        )  # fmt: skip
    authors = [users[export_ref(c.get("user"))] for c in data.get("comments") or []]
    return CommentsItem(photo_id=photo_id, comments=comments, users=_unique_users(authors),
                        raw={EXPORT_COMMENTS: data.get("comments") or []})  # fmt: skip


def info_from_export(
    photo_id: str,
    data: dict[str, Any],
    listed: dict[str, Any],
    people: dict[str, Any] | None,
    web_url: str,
) -> PhotoInfoItem | None:
    """The deep pass of a photo from its ``photo_<id>.json`` in Flickr's account export (plus
    its list entry ``listed`` and, where the JSON names people, photos.people.getList): tags
    with their authors and spelling, notes, people, coordinates. None when the JSON cannot
    stand in for photos.getInfo: a tag or note by someone other than the owner (the export
    names them by profile URL only), or tags that do not match the list's normalised ones.

    Not in the export, so not in the item: tag ids, and place names (locality, region...).
    """
    owner = user_of(listed, web_url, nsid_key="owner")
    contents = text(listed.get("tags")).split()
    machine = set(text(listed.get("machine_tags")).split())
    raw_tags = data.get("tags") or []
    if not isinstance(raw_tags, list) or len(raw_tags) != len(contents):
        return None
    tags = []
    for content, tag in zip(contents, raw_tags, strict=True):
        author = _export_author(tag.get("user") if isinstance(tag, dict) else None, owner)
        if author is None:
            return None
        raw = text(tag.get("tag") or tag.get("raw"))
        tags.append(Tag(content=content, raw=raw, author=author[0], author_name=author[1],
                        machine=content in machine or bool(_MACHINE_TAG.match(raw))))  # fmt: skip
    notes = []
    for note in data.get("notes") or []:
        if not isinstance(note, dict):
            return None
        author = _export_author(note.get("user") or note.get("author"), owner)
        if author is None:
            return None
        notes.append(Note(id=text(note.get("id")), author=author[0], author_name=author[1],
                          x=to_int(note.get("x")), y=to_int(note.get("y")),
                          w=to_int(note.get("w")), h=to_int(note.get("h")),
                          html=text(note.get("note") or note.get("text"))))  # fmt: skip
    persons = (people or {}).get("people", {}).get("person", []) or []
    if data.get("people") and people is None:
        return None
    tagged = [
        Person(nsid=text(p.get("nsid")), username=text(p.get("username")),
               realname=text(p.get("realname")), added_by=text(p.get("added_by")),
               x=_maybe_int(p.get("x")), y=_maybe_int(p.get("y")),
               w=_maybe_int(p.get("w")), h=_maybe_int(p.get("h")))
        for p in persons
    ]  # fmt: skip
    geo = data.get("geo")
    location = None
    if isinstance(geo, dict) and geo.get("latitude") not in (None, ""):
        location = {
            "latitude": to_int(geo.get("latitude")) / 1_000_000,
            "longitude": to_int(geo.get("longitude")) / 1_000_000,
            "accuracy": to_int(geo.get("accuracy"), 0),
            "place_id": optional(listed.get("place_id")),
            "woeid": optional(listed.get("woeid")),
        }
    raw_parts: dict[str, Any] = {EXPORT_PHOTO: data}
    if people is not None:
        raw_parts[PHOTOS_PEOPLE_GET_LIST] = people.get("people", {})
    return PhotoInfoItem(
        photo_id=photo_id,
        tags=tags,
        notes=notes,
        people=tagged,
        location=location,
        users=_unique_users([owner, *(user_of(p, web_url) for p in persons)]),
        raw=raw_parts,
    )


# flickr.activity.userPhotos: what each kind of event says must be fetched again.
ACTIVITY_PARTS = {"comment": "comments", "fave": "faves", "note": "info"}


@dataclass(frozen=True)
class Activity:
    """One photo flickr.activity.userPhotos names: which of its parts to fetch again
    ("comments", "faves", "info" for notes) and the counts it gives (None: not given).

    ``kinds`` are the kinds of the events shown and ``last_comment`` the newest comment's
    date (0: none shown): with the ``notes`` count, what tells whether new comments alone
    moved the photo's lastupdate (then getInfo has nothing new to say)."""

    photo_id: str
    parts: frozenset[str]
    comments: int | None
    faves: int | None
    views: int | None
    notes: int | None = None
    kinds: frozenset[str] = frozenset()
    last_comment: int = 0


@shape_checked
def activity_of(raw: dict[str, Any], *, owner: str) -> Activity | None:
    """An activity item as the parts to fetch again; None for what is not the owner's photo
    (an album's comments, ``type`` "photoset", are no photo's).

    The events say which parts changed. An item shows only its newest events: with ``more``,
    or an event of a kind we do not know, or none at all, comments and faves are both fetched
    (and with ``more`` the notes too), as nothing rules them out.
    """
    if str(raw.get("type") or "photo") != "photo":
        return None
    if owner and raw.get("owner") not in (None, "", owner):
        return None
    events = (raw.get("activity") or {}).get("event") or []
    events = [events] if isinstance(events, dict) else list(events)
    kinds = {str(event.get("type") or "") for event in events}
    parts = {ACTIVITY_PARTS[kind] for kind in kinds if kind in ACTIVITY_PARTS}
    more = to_int(raw.get("more"), 0) > 0
    if more or not events or kinds - ACTIVITY_PARTS.keys():
        parts |= {"comments", "faves"} | ({"info"} if more else set())
    counts: dict[str, int | None] = {}
    for name in ("comments", "notes"):  # the method's documented example: old + new
        counts[name] = _maybe_int(raw.get(name))
        if counts[name] is None and f"{name}old" in raw:
            counts[name] = to_int(raw.get(f"{name}old"), 0) + to_int(raw.get(f"{name}new"), 0)
    commented = [to_int(e.get("dateadded"), 0) for e in events if e.get("type") == "comment"]
    return Activity(
        photo_id=str(raw["id"]),
        parts=frozenset(parts),
        comments=counts["comments"],
        faves=_maybe_int(raw.get("faves")),
        views=_maybe_int(raw.get("views")),
        notes=counts["notes"],
        kinds=frozenset(kinds),
        last_comment=max(commented, default=0),
    )


@shape_checked
def gallery_of(raw: dict[str, Any]) -> GalleryItem:
    """A GalleryItem (photos added later) from a galleries.getList entry."""
    return GalleryItem(
        id=text(raw.get("gallery_id")) or text(raw.get("id")),  # the bare id, as in URLs
        title=text(raw.get("title")),
        description=text(raw.get("description")),
        url=text(raw.get("url")),
        date_create=iso_from_unix(raw.get("date_create")),
        date_update=iso_from_unix(raw.get("date_update")),
        raw={GALLERIES_GET_LIST: raw},
    )


@shape_checked
def collections_of(data: dict[str, Any]) -> list[CollectionItem]:
    """Every collection of a collections.getTree answer, parents before children."""
    found: list[CollectionItem] = []

    def walk(nodes: list[dict[str, Any]], parent: str | None) -> None:
        for position, node in enumerate(nodes, 1):
            item = CollectionItem(
                id=text(node.get("id")), title=text(node.get("title")),
                description=text(node.get("description")), parent_id=parent, position=position,
                album_ids=[text(s.get("id")) for s in node.get("set", []) or []],
                raw={COLLECTIONS_GET_TREE: {k: v for k, v in node.items()
                                                    if k != "collection"}},
            )  # fmt: skip
            found.append(item)
            walk(node.get("collection", []) or [], item.id)

    walk(data.get("collections", {}).get("collection", []) or [], None)
    return found


def _location(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if not raw:
        return None
    location: dict[str, Any] = {
        "latitude": to_float(raw.get("latitude")),
        "longitude": to_float(raw.get("longitude")),
        "accuracy": to_int(raw.get("accuracy"), 0),
        "place_id": optional(raw.get("place_id")),
        "woeid": optional(raw.get("woeid")),
    }
    for level in ("neighbourhood", "locality", "county", "region", "country"):
        if isinstance(raw.get(level), dict):
            location[level] = text(raw[level])
    return location


def _maybe_int(value: Any) -> int | None:
    return None if value in (None, "") else to_int(value)


def _unique_users(users: Any) -> list[User]:
    seen: dict[str, User] = {}
    for user in users:
        if user.nsid and user.nsid not in seen:
            seen[user.nsid] = user
    return list(seen.values())


@shape_checked
def favorite_photo(raw: dict[str, Any], *, me: str, web_url: str) -> PhotoItem:
    """A PhotoItem for a photo the account faved: under Favorites/, with date and owner."""
    item = photo_from_list(raw, method=FAVORITES_GET_LIST, owner="", web_url=web_url)
    item.collection = "favorites"
    item.date_faved = iso_from_unix(raw.get("date_faved"))
    item.owner_user = user_of(raw, web_url, nsid_key="owner")
    if item.owner == me:  # the account's own video: its original
        item.source = item.source or video_play_source(item, web_url)
    return item
