"""Flickr REST methods over the sandbox world: one function per method, each returning the dict
Flickr would serialise to JSON.

Shapes follow the real recordings in ``shared/flickr-real`` and flickr-api.md §7/§8: ``title`` as
a plain string in lists but ``{"_content"}`` in getInfo and photosets.getList, ``pathalias`` vs
``path_alias``, ``per_page`` vs ``perpage``, empty arrays, and numbers and strings mixed for the
same key (chosen per field and object with a stable hash, so one call always returns the same
body). Visibility is decided per caller: the owner's token sees everything of the owner, other
callers only public (and, unsigned, only safe) photos.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

from flickr_crawl.sandbox.media import camera_settings, exif_datetime
from flickr_crawl.sandbox.sizes import (
    SIZE_BY_CODE,
    SIZES,
    VIDEO_STREAMS,
    cdn_url,
    renditions,
    stable_bit,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from flickr_crawl.sandbox.world import Album, Gallery, Photo, User, World

JSON = dict[str, Any]
NO_READ = "Insufficient permissions. Method requires read privileges; none granted."
SEARCH_CAP = 4000
ACTIVITY = "flickr.activity.userPhotos"
# "Do not poll this method more than once an hour" (its documentation): a rule for callers,
# with no error code of its own, so the sandbox counts the polls that break it and answers.
ACTIVITY_POLL_INTERVAL = 3600
# How many of an item's newest events an answer shows; ``more`` says there were more. Flickr
# does not document the number: this is the sandbox's.
ACTIVITY_EVENTS_SHOWN = 5
# Without ``timeframe``: "changes since the beginning of the previous user session". The
# sandbox has no sessions: it takes the caller's previous poll, or this long before the first.
ACTIVITY_DEFAULT_SPAN = 86400
_TIMEFRAME = re.compile(r"\s*(\d+)\s*([dh])\s*")
LICENSES: tuple[tuple[int, str, str], ...] = (
    (0, "All Rights Reserved", ""),
    (
        1,
        "Attribution-NonCommercial-ShareAlike License",
        "https://creativecommons.org/licenses/by-nc-sa/2.0/",
    ),
    (2, "Attribution-NonCommercial License", "https://creativecommons.org/licenses/by-nc/2.0/"),
    (
        3,
        "Attribution-NonCommercial-NoDerivs License",
        "https://creativecommons.org/licenses/by-nc-nd/2.0/",
    ),
    (4, "Attribution License", "https://creativecommons.org/licenses/by/2.0/"),
    (5, "Attribution-ShareAlike License", "https://creativecommons.org/licenses/by-sa/2.0/"),
    (6, "Attribution-NoDerivs License", "https://creativecommons.org/licenses/by-nd/2.0/"),
    (7, "No known copyright restrictions", "https://www.flickr.com/commons/usage/"),
    (8, "United States Government Work", "http://www.usa.gov/copyright.shtml"),
    (9, "Public Domain Dedication (CC0)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    (10, "Public Domain Mark", "https://creativecommons.org/publicdomain/mark/1.0/"),
)
POOLS: tuple[tuple[str, str, str], ...] = (
    ("Street & People", "street_people", "1234567@N20"),
    ('"Colours" of the world', "colours", "7654321@N22"),
    ("Gruppo Paesaggi", "88812345@N00", "88812345@N00"),
)


class ApiError(Exception):
    """A Flickr ``stat=fail`` answer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Caller:
    """Who is calling: the signed-in user's nsid (None when unsigned) and the request params."""

    nsid: str | None
    api_key: str
    params: dict[str, str]
    oauth: dict[str, str] | None = None


def mix(value: int, *key: object) -> int | str:
    """Emit ``value`` as int or str, decided by a stable hash of ``key``."""
    return value if stable_bit(*key) else str(value)


def _int(value: str | None, default: int) -> int:
    try:
        return int(str(value)) if value not in (None, "") else default
    except ValueError:
        return default


def parse_date(value: str | None) -> int | None:
    """A unix timestamp or MySQL datetime (or date) argument as unix seconds."""
    if value in (None, ""):
        return None
    assert value is not None
    if value.strip().lstrip("-").isdigit():
        return int(value)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(value.strip(), fmt))
        except ValueError:
            continue
    raise ValueError(value)


def _xml_attr(value: Any) -> str:
    """Always double-quoted, with ``&quot;`` and ``&#039;`` as in the recordings."""
    text = "" if value is None else str(value)
    entities = {'"': "&quot;", "'": "&#039;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}
    return '"' + escape(text, entities) + '"'


def _xml_children(value: JSON) -> list[tuple[str, Any]]:
    """(element name, value) for every object member and array item, in order."""
    out: list[tuple[str, Any]] = []
    for key, v in value.items():
        if isinstance(v, dict):
            out.append((key, v))
        elif isinstance(v, list):
            out += [(key, item) for item in v]
    return out


def _xml_element(name: str, value: Any, depth: int, out: list[str]) -> None:
    pad = "\t" * depth
    if not isinstance(value, dict):
        out.append(f"{pad}<{name}>{escape('' if value is None else str(value))}</{name}>")
        return
    attrs = "".join(
        f" {k}={_xml_attr(v)}"
        for k, v in value.items()
        if k != "_content" and not isinstance(v, dict | list)
    )
    children: list[str] = []
    for k, item in _xml_children(value):
        _xml_element(k, item, depth + 1, children)
    text = value.get("_content")
    if text is not None and not children:
        out.append(f"{pad}<{name}{attrs}>{escape(str(text))}</{name}>")
    elif children:
        out.append(f"{pad}<{name}{attrs}>")
        out.extend(children)
        out.append(f"{pad}</{name}>")
    else:
        out.append(f"{pad}<{name}{attrs} />")


def rest_xml(data: JSON) -> str:
    """A response as Flickr's default REST format writes it: the JSON mapping run backwards
    (scalars are attributes, ``_content`` is text, objects and arrays are child elements)."""
    lines = ['<?xml version="1.0" encoding="utf-8" ?>']
    if data.get("stat") == "fail":
        err = f"<err code={_xml_attr(data.get('code'))} msg={_xml_attr(data.get('message'))} />"
        lines += ['<rsp stat="fail">', f"\t{err}", "</rsp>"]
        return "\n".join(lines) + "\n"
    body = {k: v for k, v in data.items() if k != "stat"}
    attrs = "".join(
        f" {k}={_xml_attr(v)}" for k, v in body.items() if not isinstance(v, dict | list)
    )
    lines.append(f'<rsp stat="ok"{attrs}>')
    for key, item in _xml_children(body):
        _xml_element(key, item, 0, lines)
    lines.append("</rsp>")
    return "\n".join(lines) + "\n"


def _timeframe(value: str | None) -> int | None:
    """``timeframe`` ("2d", "4h") in seconds; None when absent or unreadable (the method
    documents no error for it: it answers for its default then)."""
    match = _TIMEFRAME.fullmatch(value or "")
    if match is None:
        return None
    return int(match[1]) * (86400 if match[2] == "d" else 3600)


def _taken_key(photo: Photo) -> str:
    return photo.datetaken


class Rest:
    """The REST method table bound to one world and base URL."""

    def __init__(
        self,
        world: World,
        base_url: str,
        on_poll: Callable[[bool], None] | None = None,
    ) -> None:
        self.world = world
        self.base = base_url
        # flickr.activity.userPhotos: each caller's last poll (unix), and a hook told of every
        # poll, True when it came sooner than an hour after the one before (the server's stats)
        self.last_poll: dict[str, int] = {}
        self.on_poll = on_poll
        self.methods: dict[str, Callable[[Caller], JSON]] = {
            ACTIVITY: self.activity_user_photos,
            "flickr.test.login": self.test_login,
            "flickr.test.echo": self.test_echo,
            "flickr.test.null": self.test_null,
            "flickr.auth.oauth.checkToken": self.check_token,
            "flickr.people.getInfo": self.people_get_info,
            "flickr.people.getPhotos": self.people_get_photos,
            "flickr.people.getPublicPhotos": self.people_get_public_photos,
            "flickr.photos.search": self.photos_search,
            "flickr.photos.recentlyUpdated": self.photos_recently_updated,
            "flickr.photos.getInfo": self.photos_get_info,
            "flickr.photos.getSizes": self.photos_get_sizes,
            "flickr.photos.getExif": self.photos_get_exif,
            "flickr.photos.comments.getList": self.comments_get_list,
            "flickr.photos.getFavorites": self.photos_get_favorites,
            "flickr.photos.people.getList": self.people_get_list,
            "flickr.photos.getAllContexts": self.photos_get_all_contexts,
            "flickr.photos.getNotInSet": self.photos_get_not_in_set,
            "flickr.photos.licenses.getInfo": self.licenses_get_info,
            "flickr.photosets.getList": self.photosets_get_list,
            "flickr.photosets.getPhotos": self.photosets_get_photos,
            "flickr.photosets.getInfo": self.photosets_get_info,
            "flickr.collections.getTree": self.collections_get_tree,
            "flickr.galleries.getList": self.galleries_get_list,
            "flickr.galleries.getPhotos": self.galleries_get_photos,
            "flickr.galleries.getListForPhoto": self.galleries_get_list_for_photo,
            "flickr.favorites.getList": self.favorites_get_list,
            "flickr.urls.lookupUser": self.urls_lookup_user,
            "flickr.people.findByUsername": self.people_find_by_username,
            "flickr.video.getStreamInfo": self.video_get_stream_info,
        }

    def call(self, method: str, caller: Caller) -> JSON:
        """Run one method; raises ApiError for ``stat=fail``."""
        func = self.methods.get(method)
        if func is None:
            raise ApiError(112, f'Method "{method}" not found')
        with self.world.lock:
            return func(caller)

    # -- visibility ---------------------------------------------------------------------------
    def can_see(self, photo: Photo, caller: Caller) -> bool:
        """May the caller see this photo at all?"""
        if photo.deleted:
            return False
        if caller.nsid and caller.nsid == photo.owner:
            return True
        if photo.ispublic:
            return True
        # The demo owner is a friend/family member of the people whose photos they faved.
        return bool(caller.nsid == self.world.owner.nsid and (photo.isfriend or photo.isfamily))

    def in_lists(self, photo: Photo, caller: Caller) -> bool:
        """Visible in list results (unsigned callers get safe search)."""
        if not self.can_see(photo, caller):
            return False
        return caller.nsid is not None or photo.safety_level <= 1

    def may_original(self, photo: Photo, caller: Caller) -> bool:
        """May the caller see/download the original file?"""
        if not photo.originalsecret:
            return False
        return caller.nsid == photo.owner or photo.can_download

    def photo_or_fail(self, caller: Caller) -> Photo:
        """The ``photo_id`` argument resolved with the visibility check (code 1 otherwise)."""
        pid = caller.params.get("photo_id", "")
        photo = self.world.photos.get(pid)
        if photo is None or photo.deleted:
            raise ApiError(1, f'Photo "{pid}" not found (invalid ID)' if pid else "Photo not found")
        secret = caller.params.get("secret")
        if not self.can_see(photo, caller) and secret != photo.secret:
            raise ApiError(1, f'Photo "{pid}" not found (invalid ID)')
        return photo

    def user_arg(self, caller: Caller, *, required: bool = True, key: str = "user_id") -> User:
        """Resolve ``user_id`` (``me`` needs a signed call; missing → the caller)."""
        ref = caller.params.get(key, "")
        if ref in ("", "me"):
            if caller.nsid is None:
                if ref == "me":
                    raise ApiError(99, NO_READ)
                raise ApiError(
                    1, "User not found" if not required else "Required arguments missing"
                )
            ref = caller.nsid
        user = self.world.user_by_id(ref)
        if user is None:
            raise ApiError(2 if required else 1, "Unknown user" if required else "User not found")
        if user.deleted:
            raise ApiError(5, "User deleted")
        return user

    def page_url(self, photo: Photo) -> str:
        """The photo page URL (path alias when the owner has one)."""
        owner = self.world.users[photo.owner]
        return f"{self.base}/photos/{owner.path_alias or owner.nsid}/{photo.id}/"

    # -- list items ---------------------------------------------------------------------------
    def item(
        self,
        photo: Photo,
        caller: Caller,
        extras: set[str],
        *,
        with_owner: bool = True,
        isprimary: str | None = None,
    ) -> JSON:
        """One photo of a standard photos response, with the requested extras."""
        owner = self.world.users[photo.owner]
        d: JSON = {"id": photo.id}
        if with_owner:
            d["owner"] = photo.owner
        d.update(secret=photo.secret, server=photo.server, farm=photo.farm, title=photo.title)
        if isprimary is not None:
            d["isprimary"] = mix(int(isprimary), "isprimary", photo.id)
        d.update(ispublic=photo.ispublic, isfriend=photo.isfriend, isfamily=photo.isfamily)
        if "description" in extras:
            d["description"] = {"_content": photo.description}
        if "license" in extras:
            d["license"] = str(photo.license)
        if "date_upload" in extras:
            d["dateupload"] = str(photo.dateupload)
        if "date_taken" in extras:
            d["datetaken"] = photo.datetaken
            d["datetakengranularity"] = mix(photo.takengranularity, "dtg", photo.id)
            d["datetakenunknown"] = mix(photo.takenunknown, "dtu", photo.id)
        if "owner_name" in extras:
            d["ownername"] = owner.username
        if "icon_server" in extras:
            d["iconserver"] = owner.iconserver
            d["iconfarm"] = owner.iconfarm
        if "original_format" in extras and self.may_original(photo, caller):
            d["originalsecret"] = photo.originalsecret
            d["originalformat"] = photo.originalformat
        if "last_update" in extras:
            d["lastupdate"] = str(photo.lastupdate)
        if "geo" in extras:
            geo = (
                photo.geo
                if (photo.geo and (caller.nsid == photo.owner or photo.ispublic))
                else None
            )
            if geo is None:
                d.update(latitude=0, longitude=0, accuracy=0, context=0)
            else:
                d.update(
                    latitude=geo.latitude,
                    longitude=geo.longitude,
                    accuracy=mix(geo.accuracy, "acc", photo.id)
                    if stable_bit("a", photo.id)
                    else str(geo.accuracy),
                    context=0,
                    place_id=geo.locality.place_id if stable_bit("pid", photo.id) else "",
                    woeid=geo.locality.woeid,
                    geo_is_public=photo.ispublic,
                    geo_is_contact=0,
                    geo_is_friend=photo.isfriend,
                    geo_is_family=photo.isfamily,
                )
        if "tags" in extras:
            d["tags"] = " ".join(t.content for t in photo.tags)
        if "machine_tags" in extras:
            d["machine_tags"] = " ".join(t.content for t in photo.tags if t.machine)
        if "o_dims" in extras and self.may_original(photo, caller):
            d["o_width"] = str(photo.width)
            d["o_height"] = str(photo.height)
        if "views" in extras:
            d["views"] = str(photo.views)
        if "media" in extras:
            d["media"] = photo.media
            d["media_status"] = "ready"
        if "path_alias" in extras:
            d["pathalias"] = owner.path_alias
        wanted = [c for c in (s.code for s in SIZES) if f"url_{c}" in extras]
        if wanted:
            for r in renditions(photo, with_original=self.may_original(photo, caller)):
                code = r.spec.code
                if code not in wanted:
                    continue
                d[f"url_{code}"] = cdn_url(self.base, photo, r)
                d[f"height_{code}"] = self._dim(r.height, "h", code, photo.id)
                d[f"width_{code}"] = self._dim(r.width, "w", code, photo.id)
        if "count_faves" in extras:
            d["count_faves"] = str(len(photo.faves))
        if "count_comments" in extras:
            d["count_comments"] = str(len(photo.comments))
        if "count_views" in extras:
            d["count_views"] = str(photo.views)
        if "realname" in extras:
            d["realname"] = owner.realname
        if "safety_level" in extras:
            d["safety_level"] = str(photo.safety_level)
        if "rotation" in extras:
            d["rotation"] = photo.rotation
        if "isfavorite" in extras:
            d["isfavorite"] = int(any(f.nsid == caller.nsid for f in photo.faves))
        if "usage" in extras:
            dl = int(self.may_original(photo, caller))
            d.update(can_download=dl, can_blog=1, can_print=dl, can_share=1)
        if "visibility" in extras:
            d["visibility_can_see_set"] = 1
        return d

    @staticmethod
    def _dim(value: int, axis: str, code: str, pid: str) -> int | str:
        # Types as recorded: sq int, n/c heights int, h/k/3k+ mixed per photo, others strings.
        if code == "sq" or (axis == "h" and code in ("n", "c")):
            return value
        if code in ("h", "k", "3k", "4k", "5k", "6k", "w"):
            return mix(value, axis, code, pid)
        return str(value)

    @staticmethod
    def extras(caller: Caller) -> set[str]:
        """The ``extras`` argument as a set (empty entries ignored)."""
        return {e.strip() for e in caller.params.get("extras", "").split(",") if e.strip()}

    def paginate(
        self,
        items: list[Any],
        caller: Caller,
        *,
        default: int = 100,
        maximum: int = 500,
        cap: int = 0,
    ) -> tuple[int, int, int, int, list[Any]]:
        """(page, pages, perpage, total, slice); past the end → empty; cap repeats early pages."""
        per_page = _int(caller.params.get("per_page") or caller.params.get("perpage"), default)
        per_page = max(1, min(per_page, maximum))
        page = max(1, _int(caller.params.get("page"), 1))
        total = len(items)
        pages = (total + per_page - 1) // per_page
        offset = (page - 1) * per_page
        if cap and total > cap:
            items = items[:cap]
            offset %= cap
        return page, pages, per_page, total, items[offset : offset + per_page]

    def photos_response(self, photos: list[Photo], caller: Caller, method: str, **kw: Any) -> JSON:
        """A standard ``{"photos": {...}}`` response."""
        page, pages, per_page, total, chunk = self.paginate(photos, caller, **kw)
        extras = self.extras(caller)
        items = [self.item(p, caller, extras) for p in chunk]
        if method == "flickr.photos.search":
            total_v: int | str = total
        else:
            total_v = (
                mix(total, "total", method, per_page) if not stable_bit(method) else str(total)
            )
        return {
            "photos": {
                "page": page,
                "pages": mix(pages, "pages", method, per_page)
                if stable_bit("p", method)
                else pages,
                "perpage": per_page,
                "total": total_v,
                "photo": items,
            },
            "stat": "ok",
        }

    def filter_photos(self, photos: list[Photo], caller: Caller) -> list[Photo]:
        """Apply the common date/privacy/media filters of list methods."""
        p = caller.params
        try:
            min_up = parse_date(p.get("min_upload_date"))
            max_up = parse_date(p.get("max_upload_date"))
        except ValueError:
            raise ApiError(2, "Not a valid date") from None
        min_taken = p.get("min_taken_date") or ""
        max_taken = p.get("max_taken_date") or ""
        privacy = _int(p.get("privacy_filter"), 0)
        media = p.get("media", "all")
        out = []
        for photo in photos:
            if min_up is not None and photo.dateupload < min_up:
                continue
            if max_up is not None and photo.dateupload > max_up:
                continue
            if min_taken and photo.datetaken < min_taken:
                continue
            if max_taken and photo.datetaken > max_taken:
                continue
            if media in ("photos", "videos") and photo.media != media[:-1]:
                continue
            if privacy and caller.nsid == photo.owner:
                flags = (photo.ispublic, photo.isfriend, photo.isfamily)
                want = {1: (1, 0, 0), 2: (0, 1, 0), 3: (0, 0, 1), 4: (0, 1, 1), 5: (0, 0, 0)}
                if flags != want.get(privacy, flags):
                    continue
            out.append(photo)
        return out

    def _user_photos(self, user: User, caller: Caller) -> list[Photo]:
        if user.nsid == self.world.owner.nsid:
            mine = self.world.own_photos()
        else:
            mine = sorted(
                (ph for ph in self.world.photos.values() if ph.owner == user.nsid),
                key=lambda ph: -ph.dateupload,
            )
        return [ph for ph in mine if self.in_lists(ph, caller)]

    # -- test / auth --------------------------------------------------------------------------
    def _need_auth(self, caller: Caller) -> str:
        if caller.nsid is None:
            raise ApiError(99, NO_READ)
        return caller.nsid

    def test_login(self, caller: Caller) -> JSON:
        """flickr.test.login: who am I."""
        user = self.world.users[self._need_auth(caller)]
        return {
            "user": {
                "id": user.nsid,
                "username": {"_content": user.username},
                "path_alias": user.path_alias or "",
            },
            "stat": "ok",
        }

    def test_echo(self, caller: Caller) -> JSON:
        """flickr.test.echo: every parameter back as ``{"_content"}``."""
        out: JSON = {k: {"_content": v} for k, v in caller.params.items()}
        if caller.oauth:
            for k, v in caller.oauth.items():
                out[k] = {"_content": v}
            out["api_auth_is_oauth"] = {"_content": "1"}
            out["api_sig"] = {"_content": caller.oauth.get("oauth_signature", "")}
            out["auth_token"] = {"_content": caller.oauth.get("oauth_token", "")}
        out["stat"] = "ok"
        return out

    def test_null(self, caller: Caller) -> JSON:
        """flickr.test.null: needs read permission."""
        self._need_auth(caller)
        return {"stat": "ok"}

    def check_token(self, caller: Caller) -> JSON:
        """flickr.auth.oauth.checkToken."""
        if caller.nsid is None or not caller.oauth:
            raise ApiError(98, "Invalid auth token")
        user = self.world.users[caller.nsid]
        return {
            "oauth": {
                "token": {"_content": caller.oauth.get("oauth_token", "")},
                "perms": {"_content": "read"},
                "user": {"nsid": user.nsid, "username": user.username, "fullname": user.realname},
            },
            "stat": "ok",
        }

    # -- people -------------------------------------------------------------------------------
    def people_get_info(self, caller: Caller) -> JSON:
        """flickr.people.getInfo."""
        ref = caller.params.get("user_id", "")
        if not ref:
            raise ApiError(1, "User not found")
        user = self.world.user_by_id(ref)
        if user is None:
            raise ApiError(1, "User not found")
        if user.deleted:
            raise ApiError(5, "User deleted")
        photos = self._user_photos(user, caller)
        alias_or_id = user.path_alias or user.nsid
        firstdate = min((p.dateupload for p in photos), default=0)
        firsttaken = min((p.datetaken for p in photos), default="")
        person: JSON = {
            "id": user.nsid,
            "nsid": user.nsid,
            "ispro": user.ispro,
            "is_deleted": 0,
            "can_buy_pro": 0,
            "iconserver": user.iconserver,
            "iconfarm": user.iconfarm,
            "path_alias": user.path_alias,
            "has_stats": 1 if user.ispro else 0,
            "expire": mix(0, "expire", user.nsid),
            "username": {"_content": user.username},
            "realname": {"_content": user.realname},
            "location": {"_content": user.location},
            "timezone": {
                "label": "Coordinated Universal Time",
                "offset": "+00:00",
                "timezone_id": "UTC",
            },
            "description": {"_content": user.description},
            "photosurl": {"_content": f"{self.base}/photos/{alias_or_id}/"},
            "profileurl": {"_content": f"{self.base}/people/{alias_or_id}/"},
            "mobileurl": {"_content": f"{self.base}/photos/{alias_or_id}/"},
            "photos": {
                "firstdatetaken": {"_content": firsttaken},
                "firstdate": {"_content": str(firstdate) if firstdate else ""},
                "count": {"_content": mix(len(photos), "count", user.nsid)},
                "views": {"_content": str(sum(p.views for p in photos))},
            },
        }
        return {"person": person, "stat": "ok"}

    def urls_lookup_user(self, caller: Caller) -> JSON:
        """flickr.urls.lookupUser: a photostream or profile URL (alias or nsid) to a user."""
        path = urlsplit(caller.params.get("url", "")).path
        parts = [p for p in path.split("/") if p]
        user = None
        if len(parts) >= 2 and parts[0] in ("photos", "people"):
            user = self.world.user_by_id(unquote(parts[1]))
        if user is None or user.deleted:
            raise ApiError(1, "User not found")
        return {"user": {"id": user.nsid, "username": {"_content": user.username}}, "stat": "ok"}

    def people_find_by_username(self, caller: Caller) -> JSON:
        """flickr.people.findByUsername (the screen name, compared case-insensitively)."""
        wanted = caller.params.get("username", "").strip().lower()
        user = next(
            (u for u in self.world.users.values() if u.username.lower() == wanted and wanted),
            None,
        )
        if user is None or user.deleted:
            raise ApiError(1, "User not found")
        return {
            "user": {"id": user.nsid, "nsid": user.nsid, "username": {"_content": user.username}},
            "stat": "ok",
        }

    def people_get_photos(self, caller: Caller) -> JSON:
        """flickr.people.getPhotos."""
        if not caller.params.get("user_id"):
            raise ApiError(1, "Required arguments missing")
        user = self.user_arg(caller)
        photos = self.filter_photos(self._user_photos(user, caller), caller)
        return self.photos_response(photos, caller, "flickr.people.getPhotos")

    def people_get_public_photos(self, caller: Caller) -> JSON:
        """flickr.people.getPublicPhotos."""
        user = self.user_arg(caller)
        anon = Caller(None, caller.api_key, caller.params)
        photos = [p for p in self._user_photos(user, anon)]
        return self.photos_response(photos, anon, "flickr.people.getPublicPhotos")

    def photos_search(self, caller: Caller) -> JSON:
        """flickr.photos.search (with the 4 000-result cap)."""
        p = caller.params
        keys = (
            "user_id",
            "tags",
            "text",
            "min_upload_date",
            "max_upload_date",
            "min_taken_date",
            "max_taken_date",
            "has_geo",
            "machine_tags",
        )
        if not any(p.get(k) for k in keys):
            raise ApiError(
                3,
                "Parameterless searches have been disabled. "
                "Please use flickr.photos.getRecent instead.",
            )
        if p.get("user_id"):
            candidates = self._user_photos(self.user_arg(caller), caller)
        else:
            candidates = [ph for ph in self.world.photos.values() if self.in_lists(ph, caller)]
        photos = self.filter_photos(candidates, caller)
        if p.get("tags"):
            wanted = {t.strip().lower().replace(" ", "") for t in p["tags"].split(",") if t.strip()}
            mode_all = p.get("tag_mode") == "all"

            def tag_match(ph: Photo) -> bool:
                have = {t.content for t in ph.tags}
                return wanted <= have if mode_all else bool(wanted & have)

            photos = [ph for ph in photos if tag_match(ph)]
        if p.get("text"):
            needle = p["text"].lower()
            photos = [
                ph
                for ph in photos
                if needle in ph.title.lower()
                or needle in ph.description.lower()
                or any(needle in t.content for t in ph.tags)
            ]
        if p.get("has_geo") in ("1", "true"):
            photos = [ph for ph in photos if ph.geo]
        sort = p.get("sort", "date-posted-desc")
        sorters: dict[str, tuple[Callable[[Photo], Any], bool]] = {
            "date-posted-asc": (lambda ph: (ph.dateupload, ph.id), False),
            "date-taken-asc": (lambda ph: (_taken_key(ph), ph.id), False),
            "date-taken-desc": (lambda ph: (_taken_key(ph), ph.id), True),
            "interestingness-desc": (lambda ph: (ph.views, ph.id), True),
            "interestingness-asc": (lambda ph: (ph.views, ph.id), False),
        }
        key, rev = sorters.get(sort, (lambda ph: (ph.dateupload, ph.id), True))
        photos = sorted(photos, key=key, reverse=rev)
        return self.photos_response(photos, caller, "flickr.photos.search", cap=SEARCH_CAP)

    def photos_recently_updated(self, caller: Caller) -> JSON:
        """flickr.photos.recentlyUpdated."""
        nsid = self._need_auth(caller)
        raw = caller.params.get("min_date", "")
        if not raw:
            raise ApiError(1, "Required arguments missing")
        try:
            since = parse_date(raw)
        except ValueError:
            raise ApiError(2, "Not a valid date") from None
        assert since is not None
        user = self.world.users[nsid]
        photos = [p for p in self._user_photos(user, caller) if p.lastupdate >= since]
        photos.sort(key=lambda p: (p.lastupdate, p.id), reverse=True)
        return self.photos_response(photos, caller, "flickr.photos.recentlyUpdated")

    def activity_user_photos(self, caller: Caller) -> JSON:
        """flickr.activity.userPhotos: the caller's photos with comments, faves or notes added
        within ``timeframe`` ("2d", "4h"), the latest activity first, 10 per page (at most 50).

        Each item shows its newest events (``more`` = 1 when there were more), counts as
        strings: ``comments``/``notes`` as flickr-api.md §14 gives the form, and the
        ``commentsold``/``commentsnew``/``notesold``/``notesnew`` of the method's own
        documented example. Events by anyone, the owner too, as in that example. A poll
        (page 1) sooner than an hour after the caller's last is answered all the same: Flickr
        documents the hour as a rule for callers, not as an error; the sandbox counts it.
        """
        nsid = self._need_auth(caller)
        now = int(time.time())
        previous = self.last_poll.get(caller.api_key)  # Flickr's limits are per API key
        if _int(caller.params.get("page"), 1) <= 1:
            self.last_poll[caller.api_key] = now
            if self.on_poll is not None:
                self.on_poll(previous is not None and now - previous < ACTIVITY_POLL_INTERVAL)
        span = _timeframe(caller.params.get("timeframe"))
        if span is not None:
            since = now - span
        else:
            since = previous if previous is not None else now - ACTIVITY_DEFAULT_SPAN
        active: list[tuple[int, Photo, list[JSON]]] = []
        for photo in self._user_photos(self.world.users[nsid], caller):
            events = self._events(photo, since)
            if events:
                active.append((int(events[0]["dateadded"]), photo, events))
        active.sort(key=lambda a: (a[0], a[1].id), reverse=True)
        page, pages, per_page, total, chunk = self.paginate(active, caller, default=10, maximum=50)
        items = []
        for _, photo, events in chunk:
            new_comments = sum(1 for e in events if e["type"] == "comment")
            new_notes = sum(1 for e in events if e["type"] == "note")
            items.append({
                "type": "photo", "id": photo.id, "owner": photo.owner,
                "ownername": self.world.users[photo.owner].username,
                "secret": photo.secret, "server": photo.server, "farm": photo.farm,
                "comments": str(len(photo.comments)), "notes": str(len(photo.notes)),
                "commentsold": str(len(photo.comments) - new_comments),
                "commentsnew": str(new_comments),
                "notesold": str(len(photo.notes) - new_notes), "notesnew": str(new_notes),
                "views": str(photo.views), "faves": str(len(photo.faves)),
                "more": mix(int(len(events) > ACTIVITY_EVENTS_SHOWN), "more", photo.id),
                "title": {"_content": photo.title},
                "activity": {"event": events[:ACTIVITY_EVENTS_SHOWN]},
            })  # fmt: skip
        return {
            "items": {
                "item": items, "page": page, "pages": mix(pages, "pages", ACTIVITY),
                "perpage": per_page, "total": mix(total, "total", ACTIVITY, per_page),
            },
            "stat": "ok",
        }  # fmt: skip

    def _events(self, photo: Photo, since: int) -> list[JSON]:
        """A photo's comments, faves and notes added since ``since``, the newest first."""
        found: list[tuple[int, str, str, str]] = []  # (date, type, user, text)
        found += [(c.datecreate, "comment", c.author, c.text) for c in photo.comments]
        found += [(f.favedate, "fave", f.nsid, "") for f in photo.faves]
        found += [(n.date, "note", n.author, n.text) for n in photo.notes]
        events = []
        for when, kind, user, text in sorted(found, key=lambda e: -e[0]):
            if when < since:
                continue
            name = self.world.users[user].username
            event: JSON = {"type": kind, "user": user, "username": name, "dateadded": str(when)}
            if kind != "fave":
                event["_content"] = text
            events.append(event)
        return events

    def photos_get_not_in_set(self, caller: Caller) -> JSON:
        """flickr.photos.getNotInSet: the caller's photos in no album."""
        nsid = self._need_auth(caller)
        in_sets = {pid for a in self.world.live_albums() for pid in a.photo_ids}
        user = self.world.users[nsid]
        photos = [p for p in self._user_photos(user, caller) if p.id not in in_sets]
        photos = self.filter_photos(photos, caller)
        return self.photos_response(photos, caller, "flickr.photos.getNotInSet")

    # -- one photo ----------------------------------------------------------------------------
    def photos_get_info(self, caller: Caller) -> JSON:
        """flickr.photos.getInfo."""
        photo = self.photo_or_fail(caller)
        owner = self.world.users[photo.owner]
        is_owner = caller.nsid == photo.owner
        pid = photo.id
        d: JSON = {
            "id": pid,
            "secret": photo.secret,
            "server": photo.server,
            "farm": photo.farm,
            "dateuploaded": str(photo.dateupload),
            "isfavorite": int(any(f.nsid == caller.nsid for f in photo.faves)),
            "license": mix(photo.license, "license", pid),
            "safety_level": mix(photo.safety_level, "safety", pid),
            "rotation": photo.rotation,
        }
        if self.may_original(photo, caller):
            d["originalsecret"] = photo.originalsecret
            d["originalformat"] = photo.originalformat
        d["owner"] = {
            "nsid": owner.nsid,
            "username": owner.username,
            "realname": owner.realname,
            "location": owner.location,
            "iconserver": owner.iconserver,
            "iconfarm": owner.iconfarm,
            "path_alias": owner.path_alias,
        }
        d["title"] = {"_content": photo.title}
        d["description"] = {"_content": photo.description}
        d["visibility"] = {
            "ispublic": photo.ispublic,
            "isfriend": photo.isfriend,
            "isfamily": photo.isfamily,
        }
        d["dates"] = {
            "posted": str(photo.dateupload),
            "taken": photo.datetaken,
            "takengranularity": mix(photo.takengranularity, "tg", pid),
            "takenunknown": mix(photo.takenunknown, "tu", pid),
            "lastupdate": str(photo.lastupdate),
        }
        if is_owner:
            d["permissions"] = {"permcomment": 3, "permaddmeta": 2}
        d["views"] = mix(photo.views, "views", pid)
        d["editability"] = {
            "cancomment": int(is_owner or caller.nsid is not None),
            "canaddmeta": int(is_owner),
        }
        d["publiceditability"] = {"cancomment": 1, "canaddmeta": 0}
        dl = int(self.may_original(photo, caller))
        d["usage"] = {"candownload": dl, "canblog": 1, "canprint": dl, "canshare": 1}
        d["comments"] = {"_content": mix(len(photo.comments), "comments", pid)}
        d["notes"] = {"note": [self._note(n) for n in photo.notes]}
        d["people"] = {"haspeople": int(bool(photo.people))}
        d["tags"] = {"tag": [self._tag(t, pid) for t in photo.tags]}
        geo = photo.geo
        if geo is not None and (is_owner or photo.ispublic):
            d["location"] = {
                "latitude": geo.latitude,
                "longitude": geo.longitude,
                "accuracy": mix(geo.accuracy, "gacc", pid),
                "context": mix(0, "gctx", pid),
                "locality": self._place(geo.locality),
                "county": self._place(geo.county),
                "region": self._place(geo.region),
                "country": self._place(geo.country),
                "place_id": geo.locality.place_id,
                "woeid": geo.locality.woeid,
            }
            if is_owner:
                d["geoperms"] = {
                    "ispublic": photo.ispublic,
                    "iscontact": 0,
                    "isfriend": photo.isfriend,
                    "isfamily": photo.isfamily,
                }
        d["urls"] = {"url": [{"type": "photopage", "_content": self.page_url(photo)}]}
        d["media"] = photo.media
        if photo.video is not None:
            d["video"] = {
                "ready": 1,
                "failed": 0,
                "pending": 0,
                "duration": str(photo.video.duration),
                "width": str(photo.video.width),
                "height": str(photo.video.height),
            }
        return {"photo": d, "stat": "ok"}

    def _note(self, note: Any) -> JSON:
        author = self.world.users[note.author]
        return {
            "id": note.id,
            "author": note.author,
            "authorname": author.username,
            "x": str(note.x),
            "y": str(note.y),
            "w": str(note.w),
            "h": str(note.h),
            "_content": note.text,
        }

    def _tag(self, tag: Any, pid: str) -> JSON:
        author = self.world.users[tag.author]
        machine: int | str = (
            (1 if stable_bit("mt", pid) else "1")
            if tag.machine
            else (0 if stable_bit("mt0", tag.id) else "")
        )
        return {
            "id": tag.id,
            "author": tag.author,
            "authorname": author.username,
            "raw": tag.raw,
            "_content": tag.content,
            "machine_tag": machine,
        }

    @staticmethod
    def _place(place: Any) -> JSON:
        return {"_content": place.name, "place_id": place.place_id, "woeid": place.woeid}

    def photos_get_sizes(self, caller: Caller) -> JSON:
        """flickr.photos.getSizes (videos add play/* streams; Video Original owner-only)."""
        photo = self.photo_or_fail(caller)
        pid = photo.id
        owner = self.world.users[photo.owner]
        user_seg = owner.path_alias or owner.nsid
        sizes = []
        for r in renditions(photo, with_original=self.may_original(photo, caller)):
            square = r.spec.code == "sq"
            sizes.append(
                {
                    "label": r.spec.label,
                    "width": r.width if square else mix(r.width, "sw", r.spec.code, pid),
                    "height": r.height if square else mix(r.height, "sh", r.spec.code, pid),
                    "source": cdn_url(self.base, photo, r),
                    "url": f"{self.base}/photos/{user_seg}/{pid}/sizes/{r.spec.page}/",
                    "media": "photo",
                }
            )
        if photo.video is not None:
            v = photo.video
            page = f"{self.base}/photos/{user_seg}/{pid}/"
            player_h = min(v.height, 360)
            player_w = round(v.width * player_h / v.height)
            sizes.append(
                {
                    "label": "Video Player",
                    "width": str(player_w),
                    "height": str(player_h),
                    "source": f"{self.base}/apps/video/stewart.swf?v=1&photo_id={pid}"
                    f"&photo_secret={photo.secret}",
                    "url": page,
                    "media": "video",
                }
            )
            if caller.nsid == photo.owner and photo.originalsecret:
                sizes.append(
                    {
                        "label": "Video Original",
                        "width": str(v.width),
                        "height": str(v.height),
                        "source": f"{page}play/orig/{photo.originalsecret}/",
                        "url": page,
                        "media": "video",
                    }
                )
            for label, height in VIDEO_STREAMS:
                if height > v.height:
                    continue
                # XML shows width="" for the streams without a nominal height; JSON clients
                # (python-flickr-api's _getLargestSizeLabel) meet them as null.
                sizes.append(
                    {
                        "label": label,
                        "width": str(round(v.width * height / v.height)) if height else None,
                        "height": str(height) if height else None,
                        "source": f"{page}play/{label}/{photo.secret}/",
                        "url": page,
                        "media": "video",
                    }
                )
        dl = int(self.may_original(photo, caller))
        return {
            "sizes": {"canblog": 1, "canprint": dl, "candownload": dl, "size": sizes},
            "stat": "ok",
        }

    def video_get_stream_info(self, caller: Caller) -> JSON:
        """flickr.video.getStreamInfo (undocumented; downloaders call it with ``secret``): the
        transcoded streams only, as 2021 reports saw (``700``, ``iphone_wifi``; no ``orig``)."""
        photo = self.photo_or_fail(caller)
        if photo.video is None or caller.params.get("secret", photo.secret) != photo.secret:
            raise ApiError(1, "Video not found")
        owner = self.world.users[photo.owner]
        page = f"{self.base}/photos/{owner.path_alias or owner.nsid}/{photo.id}/"
        streams = [
            {"type": label, "_content": f"{page}play/{label}/{photo.secret}/"}
            for label, height in VIDEO_STREAMS
            if height <= photo.video.height
        ]
        return {"streams": {"stream": streams}, "stat": "ok"}

    def photos_get_exif(self, caller: Caller) -> JSON:
        """flickr.photos.getExif (what the JPEG original actually carries)."""
        photo = self.photo_or_fail(caller)
        head = {"id": photo.id, "secret": photo.secret, "server": photo.server, "farm": photo.farm}
        if photo.camera is None:
            return {"photo": {**head, "camera": "", "exif": []}, "stat": "ok"}
        make, model = photo.camera
        cs = camera_settings(photo)
        exp_n, exp_d = cs["exposure"]  # type: ignore[misc]
        fn_n, fn_d = cs["fnumber"]  # type: ignore[misc]
        fl_n, fl_d = cs["focal"]  # type: ignore[misc]
        orient = {1: "Horizontal (normal)", 3: "Rotate 180", 6: "Rotate 90 CW", 8: "Rotate 270 CW"}

        def e(space: str, tag: str, label: str, raw: Any, clean: str | None = None) -> JSON:
            row: JSON = {
                "tagspace": space,
                "tagspaceid": 0,
                "tag": tag,
                "label": label,
                "raw": {"_content": raw},
            }
            if clean is not None:
                row["clean"] = {"_content": clean}
            return row

        exposure = f"{exp_n}/{exp_d}" if exp_n == 1 else str(exp_n // exp_d)
        rows = [
            e("IFD0", "Make", "Make", make),
            e("IFD0", "Model", "Model", model),
            e("IFD0", "Orientation", "Orientation", orient.get(photo.orientation, "Unknown")),
            e("IFD0", "XResolution", "X-Resolution", 72, "72 dpi"),
            e("IFD0", "Software", "Software", "sandbox 1.0"),
            e(
                "ExifIFD",
                "ExposureTime",
                "Exposure",
                exposure,
                f"{exp_n / exp_d:g} sec ({exposure})",
            ),
            e("ExifIFD", "FNumber", "Aperture", f"{fn_n / fn_d:.1f}", f"f/{fn_n / fn_d:.1f}"),
            e("ExifIFD", "ISO", "ISO Speed", cs["iso"]),
            e(
                "ExifIFD",
                "FocalLength",
                "Focal Length",
                f"{fl_n / fl_d:.1f} mm",
                f"{fl_n / fl_d:g} mm",
            ),
        ]
        dt = exif_datetime(photo)
        if dt:
            rows.append(e("ExifIFD", "DateTimeOriginal", "Date and Time (Original)", dt))
        if cs["lens"]:
            rows.append(e("ExifIFD", "LensModel", "Lens Model", cs["lens"]))
        if photo.geo is not None and (caller.nsid == photo.owner or photo.ispublic):
            g = photo.geo
            rows.append(e("GPS", "GPSLatitude", "GPS Latitude", self._dms(g.latitude, "NS")))
            rows.append(e("GPS", "GPSLongitude", "GPS Longitude", self._dms(g.longitude, "EW")))
        return {"photo": {**head, "camera": f"{make} {model}", "exif": rows}, "stat": "ok"}

    @staticmethod
    def _dms(value: float, hemis: str) -> str:
        v = abs(value)
        deg = int(v)
        minutes = int((v - deg) * 60)
        seconds = ((v - deg) * 60 - minutes) * 60
        return f"{deg} deg {minutes}' {seconds:.2f}\" {hemis[0] if value >= 0 else hemis[1]}"

    def comments_get_list(self, caller: Caller) -> JSON:
        """flickr.photos.comments.getList (not paginated)."""
        photo = self.photo_or_fail(caller)
        lo = _int(caller.params.get("min_comment_date"), 0)
        hi = _int(caller.params.get("max_comment_date"), 2**40)
        owner = self.world.users[photo.owner]
        out = []
        for c in photo.comments:
            if not lo <= c.datecreate <= hi:
                continue
            author = self.world.users[c.author]
            out.append(
                {
                    "id": c.id,
                    "author": c.author,
                    "author_is_deleted": mix(int(author.deleted), "aid", c.id),
                    "authorname": author.username,
                    "iconserver": author.iconserver,
                    "iconfarm": author.iconfarm,
                    "datecreate": str(c.datecreate),
                    "permalink": f"{self.base}/photos/{owner.path_alias or owner.nsid}/{photo.id}/"
                    f"#comment{c.id.rsplit('-', 1)[-1]}",
                    "path_alias": author.path_alias or "",
                    "realname": author.realname,
                    "_content": c.text,
                }
            )
        body: JSON = {"photo_id": photo.id}
        if out:
            body["comment"] = out
        return {"comments": body, "stat": "ok"}

    def photos_get_favorites(self, caller: Caller) -> JSON:
        """flickr.photos.getFavorites (paging on the ``photo`` object, max 50 per page)."""
        photo = self.photo_or_fail(caller)
        page, pages, per_page, total, chunk = self.paginate(
            photo.faves, caller, default=10, maximum=50
        )
        people = []
        for f in chunk:
            u = self.world.users[f.nsid]
            person: JSON = {"nsid": u.nsid, "username": u.username}
            if u.realname:
                person["realname"] = u.realname
            person.update(
                favedate=str(f.favedate),
                iconserver=u.iconserver,
                iconfarm=u.iconfarm,
                contact=0,
                friend=0,
                family=0,
            )
            people.append(person)
        return {
            "photo": {
                "person": people,
                "id": photo.id,
                "secret": photo.secret,
                "server": photo.server,
                "farm": photo.farm,
                "page": page,
                "pages": pages,
                "perpage": per_page,
                "total": str(total),
            },
            "stat": "ok",
        }

    def people_get_list(self, caller: Caller) -> JSON:
        """flickr.photos.people.getList."""
        photo = self.photo_or_fail(caller)
        mw, mh = (SIZE_BY_CODE["m"].longest, 0)
        if photo.width >= photo.height:
            mw, mh = 500, round(photo.height * 500 / photo.width)
        else:
            mw, mh = round(photo.width * 500 / photo.height), 500
        persons = []
        for p in photo.people:
            u = self.world.users[p.nsid]
            d: JSON = {
                "nsid": u.nsid,
                "username": u.username,
                "iconserver": u.iconserver,
                "iconfarm": u.iconfarm,
                "path_alias": u.path_alias or "",
                "added_by": p.added_by,
                "is_deleted": 0,
                "realname": u.realname,
            }
            if p.box:
                x, y, w, h = p.box
                d.update(x=str(x), y=str(y), w=str(w), h=str(h))
            persons.append(d)
        return {
            "people": {
                "total": len(persons),
                "photo_width": str(mw),
                "photo_height": str(mh),
                "person": persons,
            },
            "stat": "ok",
        }

    def photos_get_all_contexts(self, caller: Caller) -> JSON:
        """flickr.photos.getAllContexts: top-level ``set``/``pool`` arrays."""
        photo = self.photo_or_fail(caller)
        out: JSON = {}
        sets = []
        for a in self.world.albums_of(photo.id):
            primary = self.world.photos[a.primary]
            members = [self.world.photos[i] for i in a.photo_ids]
            sets.append(
                {
                    "title": a.title,
                    "id": a.id,
                    "primary": a.primary,
                    "secret": primary.secret,
                    "server": primary.server,
                    "farm": primary.farm,
                    "view_count": mix(a.count_views, "vc", a.id),
                    "comment_count": mix(a.count_comments, "cc", a.id),
                    "count_photo": mix(sum(m.media == "photo" for m in members), "cp", a.id),
                    "count_video": mix(sum(m.media == "video" for m in members), "cv", a.id),
                }
            )
        if sets:
            out["set"] = sets
        if photo.ispublic and int(photo.id) % 7 == 0:
            out["pool"] = [
                {
                    "title": t,
                    "url": f"/groups/{slug}/pool/",
                    "id": gid,
                    "iconserver": "65535",
                    "iconfarm": 66,
                    "members": "1234",
                    "pool_count": "98765",
                }
                for t, slug, gid in POOLS[: 1 + int(photo.id) % 3]
            ]
        out["stat"] = "ok"
        return out

    def licenses_get_info(self, caller: Caller) -> JSON:
        """flickr.photos.licenses.getInfo."""
        return {
            "licenses": {
                "license": [
                    {"id": mix(i, "lic", i), "name": name, "url": url} for i, name, url in LICENSES
                ]
            },
            "stat": "ok",
        }

    # -- photosets ----------------------------------------------------------------------------
    def _visible_members(self, album: Album, caller: Caller) -> list[Photo]:
        return [
            self.world.photos[i]
            for i in album.photo_ids
            if self.in_lists(self.world.photos[i], caller)
        ]

    def photosets_get_list(self, caller: Caller) -> JSON:
        """flickr.photosets.getList (page omitted → all sets)."""
        user = self.user_arg(caller, required=False)
        albums = self.world.live_albums() if user.nsid == self.world.owner.nsid else []
        rows = []
        for a in albums:
            members = self._visible_members(a, caller)
            if not members:
                continue
            rows.append((a, members))
        if "page" in caller.params or "per_page" in caller.params:
            page, pages, per_page, total, chunk = self.paginate(rows, caller, default=500)
        else:
            page, pages, per_page, total, chunk = 1, 1, len(rows), len(rows), rows
        extras = {e for e in caller.params.get("primary_photo_extras", "").split(",") if e}
        sets = []
        for a, members in chunk:
            primary = self.world.photos[a.primary]
            n_photo = sum(m.media == "photo" for m in members)
            n_video = len(members) - n_photo
            row: JSON = {
                "id": a.id,
                "owner": user.nsid,
                "username": user.username,
                "primary": a.primary,
                "secret": primary.secret,
                "server": primary.server,
                "farm": primary.farm,
                "count_views": mix(a.count_views, "cviews", a.id),
                "count_comments": mix(a.count_comments, "ccom", a.id),
                "count_photos": n_photo,
                "count_videos": n_video,
                "title": {"_content": a.title},
                "description": {"_content": a.description},
                "can_comment": 1,
                "date_create": str(a.date_create),
                "date_update": str(a.date_update),
                "photos": mix(n_photo, "nph", a.id),
                "videos": mix(n_video, "nvid", a.id),
                "visibility_can_see_set": 1,
                "needs_interstitial": 0,
            }
            if extras:
                row["primary_photo_extras"] = {
                    k: v
                    for k, v in self.item(primary, caller, extras).items()
                    if k
                    not in (
                        "id",
                        "owner",
                        "secret",
                        "server",
                        "farm",
                        "title",
                        "ispublic",
                        "isfriend",
                        "isfamily",
                    )
                }
            sets.append(row)
        return {
            "photosets": {
                "cancreate": 1,
                "page": page,
                "pages": pages,
                "perpage": mix(per_page, "psperpage", len(rows)),
                "total": total,
                "photoset": sets,
            },
            "stat": "ok",
        }

    def _album_arg(self, caller: Caller) -> Album:
        aid = caller.params.get("photoset_id", "")
        album = self.world.album(aid)
        if album is None:
            raise ApiError(1, "Photoset not found")
        ref = caller.params.get("user_id")
        if ref:
            user = self.world.user_by_id(ref if ref != "me" else (caller.nsid or ""))
            if user is None:
                raise ApiError(2, "User not found")
            if user.nsid != self.world.owner.nsid:
                raise ApiError(1, "Photoset not found")
        if not self._visible_members(album, caller):
            raise ApiError(1, "Photoset not found")
        return album

    def photosets_get_photos(self, caller: Caller) -> JSON:
        """flickr.photosets.getPhotos (``per_page`` and ``perpage``; default 500)."""
        album = self._album_arg(caller)
        owner = self.world.owner
        members = self.filter_photos(self._visible_members(album, caller), caller)
        page, pages, per_page, total, chunk = self.paginate(members, caller, default=500)
        extras = self.extras(caller)
        items = [
            self.item(
                p, caller, extras, with_owner=False, isprimary="1" if p.id == album.primary else "0"
            )
            for p in chunk
        ]
        explicit = "per_page" in caller.params or "perpage" in caller.params
        return {
            "photoset": {
                "id": album.id,
                "primary": album.primary,
                "owner": owner.nsid,
                "ownername": owner.username,
                "photo": items,
                "page": str(page) if explicit else page,
                "per_page": str(per_page) if explicit else mix(per_page, "pp", album.id),
                "perpage": str(per_page) if explicit else mix(per_page, "pp", album.id),
                "pages": pages,
                "total": mix(total, "pstotal", album.id) if not explicit else str(total),
                "title": album.title,
            },
            "stat": "ok",
        }

    def photosets_get_info(self, caller: Caller) -> JSON:
        """flickr.photosets.getInfo."""
        album = self._album_arg(caller)
        members = self._visible_members(album, caller)
        primary = self.world.photos[album.primary]
        n_photo = sum(m.media == "photo" for m in members)
        return {
            "photoset": {
                "id": album.id,
                "owner": self.world.owner.nsid,
                "username": self.world.owner.username,
                "primary": album.primary,
                "secret": primary.secret,
                "server": primary.server,
                "farm": primary.farm,
                "photos": len(members),
                "count_views": str(album.count_views),
                "count_comments": str(album.count_comments),
                "count_photos": mix(n_photo, "icp", album.id),
                "count_videos": mix(len(members) - n_photo, "icv", album.id),
                "title": {"_content": album.title},
                "description": {"_content": album.description},
                "can_comment": 1,
                "date_create": str(album.date_create),
                "date_update": str(album.date_update),
                "coverphoto_server": "0",
                "coverphoto_farm": 0,
            },
            "stat": "ok",
        }

    # -- collections, galleries, favourites -----------------------------------------------------
    def collections_get_tree(self, caller: Caller) -> JSON:
        """flickr.collections.getTree."""
        user = self.user_arg(caller, required=False)
        if user.nsid != self.world.owner.nsid:
            return {"collections": {}, "stat": "ok"}

        def render(c: Any) -> JSON:
            d: JSON = {
                "id": c.id,
                "title": c.title,
                "description": c.description,
                "iconlarge": "/images/collection_default_l.gif",
                "iconsmall": "/images/collection_default_s.gif",
            }
            if c.children:
                d["collection"] = [render(ch) for ch in c.children]
            else:
                d["set"] = [
                    {"id": a.id, "title": a.title, "description": a.description}
                    for a in (self.world.album(i) for i in c.album_ids)
                    if a is not None and self._visible_members(a, caller)
                ]
            return d

        wanted = caller.params.get("collection_id", "0")
        roots = self.world.collections
        if wanted not in ("", "0"):
            found = [c for c in self._walk(roots) if c.id == wanted]
            if not found:
                raise ApiError(2, "Collection not found")
            roots = found
        return {"collections": {"collection": [render(c) for c in roots]}, "stat": "ok"}

    def _walk(self, cols: list[Any]) -> list[Any]:
        out = []
        for c in cols:
            out.append(c)
            out += self._walk(c.children)
        return out

    def _gallery_row(self, g: Gallery) -> JSON:
        owner = self.world.owner
        primary = self.world.photos[g.items[0][0]]
        n_video = sum(self.world.photos[i].media == "video" for i, _ in g.items)
        return {
            "id": f"{owner.nsid.split('@')[0]}-{g.id}",
            "gallery_id": g.id,
            "url": f"{self.base}/photos/{owner.path_alias or owner.nsid}/galleries/{g.id}/",
            "owner": owner.nsid,
            "username": owner.username,
            "iconserver": owner.iconserver,
            "iconfarm": owner.iconfarm,
            "primary_photo_id": primary.id,
            "date_create": str(g.date_create),
            "date_update": str(g.date_update),
            "count_photos": mix(len(g.items) - n_video, "gcp", g.id),
            "count_videos": mix(n_video, "gcv", g.id),
            "count_total": mix(len(g.items), "gt", g.id),
            "count_views": mix(g.count_views, "gvw", g.id),
            "count_comments": mix(g.count_comments, "gcm", g.id),
            "sort_group": "",
            "primary_photo_server": primary.server,
            "primary_photo_farm": primary.farm,
            "primary_photo_secret": primary.secret,
            "title": {"_content": g.title},
            "description": {"_content": g.description},
        }

    def galleries_get_list(self, caller: Caller) -> JSON:
        """flickr.galleries.getList."""
        user = self.user_arg(caller, required=False)
        gals = self.world.galleries if user.nsid == self.world.owner.nsid else []
        page, pages, per_page, total, chunk = self.paginate(gals, caller, default=100)
        if "continuation" in caller.params and "page" not in caller.params:
            page, pages, per_page, chunk = 1, 1, max(1, total), gals
        return {
            "galleries": {
                "total": mix(total, "gtot", user.nsid),
                "page": page,
                "pages": pages,
                "per_page": per_page,
                "user_id": user.nsid,
                "continuation": -1,
                "gallery": [self._gallery_row(g) for g in chunk],
            },
            "stat": "ok",
        }

    def galleries_get_photos(self, caller: Caller) -> JSON:
        """flickr.galleries.getPhotos (items may carry ``has_comment`` + ``comment``)."""
        ref = caller.params.get("gallery_id", "")
        gid = ref.split("-", 1)[-1]
        gallery = next((g for g in self.world.galleries if g.id == gid), None)
        if gallery is None:
            raise ApiError(1, "Invalid gallery ID")
        rows = [
            (self.world.photos[pid], comment)
            for pid, comment in gallery.items
            if self.in_lists(self.world.photos[pid], caller)
        ]
        page, pages, per_page, total, chunk = self.paginate(rows, caller, default=100)
        extras = self.extras(caller)
        items = []
        for photo, comment in chunk:
            d = self.item(photo, caller, extras)
            d["is_primary"] = int(photo.id == gallery.items[0][0])
            d["has_comment"] = int(bool(comment))
            if comment:
                d["comment"] = {"_content": comment}
            items.append(d)
        return {
            "photos": {
                "page": page,
                "pages": pages,
                "per_page": per_page,
                "total": total,
                "photo": items,
            },
            "stat": "ok",
        }

    def galleries_get_list_for_photo(self, caller: Caller) -> JSON:
        """flickr.galleries.getListForPhoto."""
        photo = self.photo_or_fail(caller)
        gals = [g for g in self.world.galleries if any(i == photo.id for i, _ in g.items)]
        page, pages, per_page, total, chunk = self.paginate(gals, caller, default=100)
        return {
            "galleries": {
                "total": str(total),
                "page": str(page),
                "pages": str(pages),
                "per_page": str(per_page),
                "photo_id": photo.id,
                "gallery": [self._gallery_row(g) for g in chunk],
            },
            "stat": "ok",
        }

    def favorites_get_list(self, caller: Caller) -> JSON:
        """flickr.favorites.getList (``date_faved`` on each photo)."""
        user = self.user_arg(caller, required=False)
        lo = _int(caller.params.get("min_fave_date"), 0)
        hi = _int(caller.params.get("max_fave_date"), 2**40)
        faves = self.world.owner_faves if user.nsid == self.world.owner.nsid else []
        rows = [
            (self.world.photos[f.photo_id], f.date_faved)
            for f in faves
            if lo <= f.date_faved <= hi and self.in_lists(self.world.photos[f.photo_id], caller)
        ]
        page, pages, per_page, total, chunk = self.paginate(rows, caller)
        extras = self.extras(caller)
        items = []
        for photo, when in chunk:
            d = self.item(photo, caller, extras)
            d["date_faved"] = str(when)
            items.append(d)
        return {
            "photos": {
                "page": page,
                "pages": pages,
                "perpage": per_page,
                "total": str(total),
                "photo": items,
            },
            "stat": "ok",
        }
