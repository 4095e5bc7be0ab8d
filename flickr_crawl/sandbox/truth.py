"""The sandbox's ground truth: the whole generated account as plain JSON (``/__sandbox/account``),
with each original's size and SHA-256, for tests to compare a backup against.
"""

from __future__ import annotations

import collections
import hashlib
from typing import TYPE_CHECKING, Any

from flickr_crawl.sandbox.sizes import cdn_url, find_rendition

if TYPE_CHECKING:
    from flickr_crawl.sandbox.server import SandboxServer
    from flickr_crawl.sandbox.world import Photo

MAX_HASHED_VIDEO = 64 << 20  # larger video originals are not hashed (too slow for tests)


class GroundTruth:
    """What the sandbox's account holds, as tests see it."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self._digests: dict[tuple[str, str], tuple[int, str]] = {}

    def digest(self, photo: Photo, *, video: bool = False) -> tuple[int, str]:
        """(size, sha256) of a photo's original (or video original); cached."""
        key = (photo.id, "video" if video else photo.originalsecret)
        if key not in self._digests:
            if video:
                size = self.server.media.video_size(photo, "orig")
                sha = self.server.media.video_digest(photo) if size <= MAX_HASHED_VIDEO else ""
            else:
                rendition = find_rendition(photo, "o")
                assert rendition is not None
                data = self.server.media.image(photo, rendition)
                size, sha = len(data), hashlib.sha256(data).hexdigest()
            self._digests[key] = (size, sha)
        return self._digests[key]

    def account(self, *, hashes: bool = True) -> dict[str, Any]:
        """The whole world as JSON-able ground truth."""
        w = self.server.world
        with w.lock:
            album_map: dict[str, list[str]] = collections.defaultdict(list)
            for a in w.live_albums():
                for pid in a.photo_ids:
                    album_map[pid].append(a.id)
            own = [self.photo_truth(p, album_map.get(p.id, []), hashes) for p in w.own_photos()]
            others = [self.photo_truth(w.photos[i], [], hashes) for i in w.other_ids]
            owner = w.owner
            return {
                "api_key": w.api_key,
                "api_secret": w.api_secret,
                "oauth_token": w.oauth_token,
                "oauth_token_secret": w.oauth_token_secret,
                "base_url": self.server.base,
                "owner": self.user_truth(owner),
                "web_login": {
                    "username": owner.username,
                    "password": w.web_password,
                    "signin_url": f"{self.server.base}/signin/",
                },
                "users": [self.user_truth(u) for u in w.users.values()],
                "photos": own,
                "deleted_photo_ids": [i for i in w.own_ids if w.photos[i].deleted],
                "albums": [
                    {
                        "id": a.id,
                        "title": a.title,
                        "description": a.description,
                        "photo_ids": list(a.photo_ids),
                        "primary": a.primary,
                        "date_create": a.date_create,
                        "date_update": a.date_update,
                    }
                    for a in w.live_albums()
                ],
                "galleries": [
                    {
                        "id": g.id,
                        "title": g.title,
                        "description": g.description,
                        "photo_ids": [i for i, _ in g.items],
                        "comments": {i: c for i, c in g.items if c},
                    }
                    for g in w.galleries
                ],
                "collections": [self.collection_truth(c) for c in w.collections],
                "owner_faves": [
                    {"photo_id": f.photo_id, "date_faved": f.date_faved} for f in w.owner_faves
                ],
                "other_photos": others,
            }

    @staticmethod
    def user_truth(u: Any) -> dict[str, Any]:
        """A user as ground truth."""
        return {
            "nsid": u.nsid,
            "username": u.username,
            "realname": u.realname,
            "path_alias": u.path_alias,
            "iconserver": u.iconserver,
            "iconfarm": u.iconfarm,
            "deleted": u.deleted,
        }

    def collection_truth(self, c: Any) -> dict[str, Any]:
        """A collection subtree as ground truth."""
        return {
            "id": c.id,
            "title": c.title,
            "description": c.description,
            "album_ids": list(c.album_ids),
            "collections": [self.collection_truth(ch) for ch in c.children],
        }

    def photo_truth(self, p: Photo, album_ids: list[str], hashes: bool) -> dict[str, Any]:
        """One photo with every field, its original file facts and its video facts."""
        flags = (p.ispublic, p.isfriend, p.isfamily)
        privacy = {
            (1, 0, 0): "public",
            (0, 1, 0): "friends",
            (0, 0, 1): "family",
            (0, 1, 1): "friends+family",
        }.get(flags, "private" if not any(flags) else "?")
        owner = self.server.world.users[p.owner]
        d: dict[str, Any] = {
            "id": p.id,
            "owner": p.owner,
            "title": p.title,
            "description": p.description,
            "media": p.media,
            "privacy": privacy,
            "ispublic": p.ispublic,
            "isfriend": p.isfriend,
            "isfamily": p.isfamily,
            "safety_level": p.safety_level,
            "license": p.license,
            "dateupload": p.dateupload,
            "lastupdate": p.lastupdate,
            "datetaken": p.datetaken,
            "takengranularity": p.takengranularity,
            "takenunknown": p.takenunknown,
            "views": p.views,
            "secret": p.secret,
            "server": p.server,
            "farm": p.farm,
            "width": p.width,
            "height": p.height,
            "rotation": p.rotation,
            "can_download": p.can_download,
            "page_url": f"{self.server.media_base}/photos/{owner.path_alias or owner.nsid}/{p.id}/",
            "tags": [
                {"raw": t.raw, "content": t.content, "machine": t.machine, "author": t.author}
                for t in p.tags
            ],
            "geo": None
            if p.geo is None
            else {
                "latitude": p.geo.latitude,
                "longitude": p.geo.longitude,
                "accuracy": p.geo.accuracy,
                "locality": p.geo.locality.name,
                "region": p.geo.region.name,
                "country": p.geo.country.name,
                "place_id": p.geo.locality.place_id,
                "woeid": p.geo.locality.woeid,
            },
            "camera": None if p.camera is None else {"make": p.camera[0], "model": p.camera[1]},
            "orientation": p.orientation,
            "comments": [
                {"id": c.id, "author": c.author, "datecreate": c.datecreate, "text": c.text}
                for c in p.comments
            ],
            "faves": [{"nsid": f.nsid, "favedate": f.favedate} for f in p.faves],
            "notes": [
                {
                    "id": n.id,
                    "author": n.author,
                    "x": n.x,
                    "y": n.y,
                    "w": n.w,
                    "h": n.h,
                    "text": n.text,
                }
                for n in p.notes
            ],
            "people": [{"nsid": x.nsid, "added_by": x.added_by, "box": x.box} for x in p.people],
            "album_ids": album_ids,
            "no_original": not p.has_original,
        }
        if p.has_original:
            rendition = find_rendition(p, "o")
            assert rendition is not None
            orig: dict[str, Any] = {
                "format": p.originalformat,
                "secret": p.originalsecret,
                "url": cdn_url(self.server.media_base, p, rendition),
            }
            if hashes:
                orig["size"], orig["sha256"] = self.digest(p)
            d["original"] = orig
        else:
            d["original"] = None
        if p.video is not None:
            v = p.video
            vid: dict[str, Any] = {
                "container": v.container,
                "size": self.server.media.video_size(p, "orig"),
                "duration": v.duration,
                "width": v.width,
                "height": v.height,
                "play_url": f"{d['page_url']}play/orig/{p.originalsecret}/",
            }
            if hashes and v.size <= MAX_HASHED_VIDEO:
                vid["sha256"] = self.digest(p, video=True)[1]
            d["video"] = vid
        else:
            d["video"] = None
        return d
