"""Fidelity tests for the sandbox: real HTTP against the subprocess, compared with recordings.

Each test would fail if the sandbox drifted from what Flickr does: response key sets are checked
against the real recordings in ``../shared/flickr-real`` (read at run time, never copied), and
OAuth signatures are made with oauthlib exactly as a client would.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import re
import stat
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import piexif
import pytest
from oauthlib.oauth1 import SIGNATURE_TYPE_BODY, SIGNATURE_TYPE_QUERY, Client
from PIL import Image

from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import REAL, needs_recordings

if TYPE_CHECKING:
    from collections.abc import Iterator

ALL_EXTRAS = (
    "description,license,date_upload,date_taken,owner_name,icon_server,original_format,"
    "last_update,geo,tags,machine_tags,views,media,path_alias,url_sq,url_t,url_s,url_q,url_m,"
    "url_n,url_z,url_c,url_l,url_h,url_k,url_o"
)


class Resp:
    """A minimal HTTP response record."""

    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def fetch(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None, method: str = ""
) -> Resp:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method or None)
    try:
        with OPENER.open(req, timeout=30) as r:
            return Resp(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read())


def auth(sb: Sandbox) -> dict[str, str]:
    assert sb.auth_file is not None
    return json.loads(Path(sb.auth_file).read_text())


def api(sb: Sandbox, method: str, **params: Any) -> Resp:
    """Unsigned call with the api key."""
    a = auth(sb)
    q = {"method": method, "api_key": a["api_key"], "format": "json", "nojsoncallback": "1"}
    q.update({k: str(v) for k, v in params.items()})
    return fetch(f"{sb.url}/services/rest/?{urllib.parse.urlencode(q)}")


def client(sb: Sandbox, **kw: Any) -> Client:
    a = auth(sb)
    return Client(
        a["api_key"],
        client_secret=a["api_secret"],
        resource_owner_key=a["oauth_token"],
        resource_owner_secret=a["oauth_token_secret"],
        **kw,
    )


def signed(sb: Sandbox, method: str, *, how: str = "header", **params: Any) -> Resp:
    """A call signed by the auth-file token (header, query or POST body)."""
    q = {"method": method, "format": "json", "nojsoncallback": "1"}
    q.update({k: str(v) for k, v in params.items()})
    url = f"{sb.url}/services/rest/"
    if how == "body":
        c = client(sb, signature_type=SIGNATURE_TYPE_BODY)
        uri, headers, body = c.sign(
            url,
            http_method="POST",
            body=urllib.parse.urlencode(q),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return fetch(uri, data=body.encode(), headers=headers)
    c = client(sb, signature_type=SIGNATURE_TYPE_QUERY) if how == "query" else client(sb)
    uri, headers, _ = c.sign(f"{url}?{urllib.parse.urlencode(q)}", http_method="GET")
    return fetch(uri, headers=headers)


def real(method: str, name: str) -> Any:
    return json.loads((REAL / "json" / method / name).read_text())


def key_union(items: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for it in items:
        out |= set(it)
    return out


@pytest.fixture(scope="module")
def truth(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.account()


def all_pages(sb: Sandbox, method: str, *, sign: bool, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        call = signed if sign else api
        body = call(sb, method, page=page, **params).json()
        photos = body["photos"]
        out += photos["photo"]
        if page >= int(photos["pages"]) or not photos["photo"]:
            return out
        page += 1


# -- startup, auth file
def test_auth_file_is_private_and_flickr_shaped(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    assert sandbox.auth_file is not None
    mode = stat.S_IMODE(Path(sandbox.auth_file).stat().st_mode)
    assert mode == 0o600
    a = auth(sandbox)
    assert set(a) == {
        "api_key",
        "api_secret",
        "oauth_token",
        "oauth_token_secret",
        "user_nsid",
        "username",
        "fullname",
        "perms",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", a["api_key"])
    assert re.fullmatch(r"[0-9a-f]{16}", a["api_secret"])
    assert re.fullmatch(r"\d{17}-[0-9a-f]{16}", a["oauth_token"])
    assert re.fullmatch(r"[0-9a-f]{16}", a["oauth_token_secret"])
    assert re.fullmatch(r"\d+@N\d\d", a["user_nsid"])
    assert a["perms"] == "read"
    assert truth["owner"]["nsid"] == a["user_nsid"]
    assert truth["api_key"] == a["api_key"]
    assert truth["web_login"]["username"] == a["username"]


def test_world_is_deterministic(sandbox: Sandbox, truth: dict[str, Any], tmp_path: Path) -> None:
    with Sandbox("--image-size", "small", "--auth-file", str(tmp_path / "a.json")) as other:
        again = other.account()
    assert json.dumps(again).replace(other.url, "BASE") == json.dumps(truth).replace(
        sandbox.url, "BASE"
    )
    assert json.loads((tmp_path / "a.json").read_text()) == auth(sandbox)


def test_world_is_adversarial(truth: dict[str, Any]) -> None:
    photos = truth["photos"]
    titles = {p["title"] for p in photos}
    assert {"a/b/c", "..", "CON", "nul", "", "x" * 300} <= titles
    assert any("\U0001f305" in t for t in titles)
    assert {p["privacy"] for p in photos} == {
        "public",
        "friends",
        "family",
        "friends+family",
        "private",
    }
    assert {p["media"] for p in photos} == {"photo", "video"}
    assert any(p["no_original"] for p in photos)
    assert {p["original"]["format"] for p in photos if p["original"]} >= {"jpg", "png", "gif"}
    assert max(len(p["faves"]) for p in photos) > 50
    assert max(len(p["comments"]) for p in photos) >= 100
    assert any(p["geo"] for p in photos)
    assert any(not p["geo"] for p in photos)
    assert any(not p["album_ids"] for p in photos)
    assert any(len(p["album_ids"]) > 1 for p in photos)
    assert len({a["title"] for a in truth["albums"]}) < len(truth["albums"])  # duplicate names
    assert any(t["machine"] for p in photos for t in p["tags"])
    assert {p["takengranularity"] for p in photos} >= {0, 4, 6}
    assert any(p["takenunknown"] for p in photos) or len(photos) < 30
    assert any(c["collections"] for c in truth["collections"])
    assert truth["owner_faves"]
    assert truth["galleries"]
    assert any(u["deleted"] for u in truth["users"])
    assert any(u["iconserver"] == "0" for u in truth["users"])


# -- shapes against the recordings
@needs_recordings
def test_people_get_photos_matches_recording(sandbox: Sandbox) -> None:
    rec = real("flickr.people.getPhotos", "2013_flickr-objects_all_extras_incl_url_h_k.json")
    ours = signed(sandbox, "flickr.people.getPhotos", user_id="me", extras=ALL_EXTRAS).json()
    assert set(ours) == set(rec)
    assert set(ours["photos"]) == set(rec["photos"])
    assert key_union(rec["photos"]["photo"]) <= key_union(ours["photos"]["photo"])
    base = set.intersection(*(set(p) for p in rec["photos"]["photo"]))
    for item in ours["photos"]["photo"]:
        assert base - {
            "originalsecret",
            "originalformat",
            "url_o",
            "width_o",
            "height_o",
            "url_h",
            "width_h",
            "height_h",
            "url_k",
            "width_k",
            "height_k",
            "url_c",
            "width_c",
            "height_c",
            "url_l",
            "width_l",
            "height_l",
            "url_z",
            "width_z",
            "height_z",
            "place_id",
            "woeid",
            "geo_is_family",
            "geo_is_friend",
            "geo_is_contact",
            "geo_is_public",
        } <= set(item)
    no_extras = real("flickr.people.getPhotos", "2013_flickr-objects_no_extras.json")
    plain = signed(sandbox, "flickr.people.getPhotos", user_id="me").json()
    assert {frozenset(p) for p in plain["photos"]["photo"]} == {
        frozenset(no_extras["photos"]["photo"][0])
    }


@needs_recordings
def test_photoset_shapes_match_recordings(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    album = truth["albums"][0]
    rec = real("flickr.photosets.getPhotos", "2013_flickr-objects_all_extras.json")
    ours = signed(
        sandbox,
        "flickr.photosets.getPhotos",
        photoset_id=album["id"],
        user_id=truth["owner"]["nsid"],
        extras=ALL_EXTRAS,
    ).json()
    assert set(ours["photoset"]) == set(rec["photoset"])
    assert [p["id"] for p in ours["photoset"]["photo"]] == album["photo_ids"]
    assert all("owner" not in p for p in ours["photoset"]["photo"])
    assert {p["isprimary"] for p in ours["photoset"]["photo"]} & {"1", 1}
    paged = real("flickr.photosets.getPhotos", "2012_flickrie_paginated_per_page8_page1_of13.json")
    ours = signed(sandbox, "flickr.photosets.getPhotos", photoset_id=album["id"], per_page=2).json()
    assert set(paged["photoset"]) <= set(ours["photoset"])
    assert ours["photoset"]["per_page"] == "2"
    assert ours["photoset"]["perpage"] == "2"
    lst = real("flickr.photosets.getList", "2016_ditto.json")
    ours = signed(sandbox, "flickr.photosets.getList").json()
    assert set(lst["photosets"]) == set(ours["photosets"])
    assert set(lst["photosets"]["photoset"][0]) <= set(ours["photosets"]["photoset"][0])
    assert isinstance(ours["photosets"]["total"], int)
    assert [s["id"] for s in ours["photosets"]["photoset"]] == [a["id"] for a in truth["albums"]]
    assert all(isinstance(s["title"], dict) for s in ours["photosets"]["photoset"])
    info = real("flickr.photosets.getInfo", "2013_flickr-objects.json")
    ours = signed(sandbox, "flickr.photosets.getInfo", photoset_id=album["id"]).json()
    assert set(info["photoset"]) == set(ours["photoset"])


@needs_recordings
def test_photo_method_shapes_match_recordings(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    geo_note = next(
        (p for p in truth["photos"] if p["geo"] and p["notes"]),
        next(p for p in truth["photos"] if p["geo"]),
    )
    rec = real("flickr.photos.getInfo", "2016_ditto_geo_machine_tag_html_description.json")
    ours = signed(sandbox, "flickr.photos.getInfo", photo_id=geo_note["id"]).json()
    assert set(rec["photo"]) - {"originalsecret", "originalformat"} <= set(ours["photo"])
    for key in ("owner", "dates", "location", "usage", "visibility", "geoperms"):
        assert set(rec["photo"][key]) <= set(ours["photo"][key]), key
    assert isinstance(ours["photo"]["title"], dict)
    video_rec = real("flickr.photos.getInfo", "2012_flickrie_video_with_geo_owner_view.json")
    video = next(p for p in truth["photos"] if p["media"] == "video")
    ours = signed(sandbox, "flickr.photos.getInfo", photo_id=video["id"]).json()
    assert set(video_rec["photo"]["video"]) == set(ours["photo"]["video"])

    sizes_rec = real("flickr.photos.getSizes", "2016_ditto_photo_up_to_6k.json")
    big = max((p for p in truth["photos"] if p["original"]), key=lambda p: p["width"])
    ours = signed(sandbox, "flickr.photos.getSizes", photo_id=big["id"]).json()
    assert set(ours["sizes"]) == set(sizes_rec["sizes"])
    assert {frozenset(s) for s in ours["sizes"]["size"]} == {
        frozenset(sizes_rec["sizes"]["size"][0])
    }
    labels = [s["label"] for s in ours["sizes"]["size"]]
    assert labels[0] == "Square"
    assert labels[-1] == "Original"

    exif_rec = real("flickr.photos.getExif", "2016_ditto_sony.json")
    cam = next(p for p in truth["photos"] if p["camera"])
    ours = signed(sandbox, "flickr.photos.getExif", photo_id=cam["id"]).json()
    assert set(ours["photo"]) == set(exif_rec["photo"])
    assert set(exif_rec["photo"]["exif"][0]) <= set(ours["photo"]["exif"][0])
    assert ours["photo"]["exif"][0]["raw"]["_content"] == cam["camera"]["make"]

    com_rec = real("flickr.photos.comments.getList", "2012_flickrie.json")
    busy = max(truth["photos"], key=lambda p: len(p["comments"]))
    ours = signed(sandbox, "flickr.photos.comments.getList", photo_id=busy["id"]).json()
    assert len(ours["comments"]["comment"]) == len(busy["comments"])  # not paginated
    assert set(com_rec["comments"]["comment"][0]) <= set(ours["comments"]["comment"][0])

    fav_rec = real("flickr.photos.getFavorites", "2013_flickr-objects_one_fave.json")
    popular = max(truth["photos"], key=lambda p: len(p["faves"]))
    p1 = signed(sandbox, "flickr.photos.getFavorites", photo_id=popular["id"], per_page=50).json()
    assert set(p1["photo"]) == set(fav_rec["photo"])
    assert set(fav_rec["photo"]["person"][0]) <= set(p1["photo"]["person"][0])
    assert p1["photo"]["pages"] == 2
    assert len(p1["photo"]["person"]) == 50
    p2 = signed(
        sandbox, "flickr.photos.getFavorites", photo_id=popular["id"], per_page=50, page=2
    ).json()
    nsids = [x["nsid"] for x in p1["photo"]["person"] + p2["photo"]["person"]]
    assert sorted(nsids) == sorted(f["nsid"] for f in popular["faves"])
    default = signed(sandbox, "flickr.photos.getFavorites", photo_id=popular["id"]).json()
    assert default["photo"]["perpage"] == 10


@needs_recordings
def test_people_and_login_shapes(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    rec = real("flickr.people.getInfo", "2016_ditto.json")
    ours = api(sandbox, "flickr.people.getInfo", user_id=truth["owner"]["nsid"]).json()
    assert set(rec["person"]) <= set(ours["person"])
    assert set(rec["person"]["photos"]) == set(ours["person"]["photos"])
    rec = real("flickr.test.login", "2016_ditto.json")
    ours = signed(sandbox, "flickr.test.login").json()
    assert set(rec["user"]) <= set(ours["user"])
    assert ours["user"]["id"] == truth["owner"]["nsid"]
    lic = real("flickr.photos.licenses.getInfo", "2014_flickr-objects.json")
    ours = api(sandbox, "flickr.photos.licenses.getInfo").json()
    assert set(ours["licenses"]["license"][0]) == set(lic["licenses"]["license"][0])
    assert {int(x["id"]) for x in ours["licenses"]["license"]} == set(range(11))
    deleted = next(u for u in truth["users"] if u["deleted"])
    body = api(sandbox, "flickr.people.getInfo", user_id=deleted["nsid"]).json()
    assert body == {"stat": "fail", "code": 5, "message": "User deleted"}


def test_unrecorded_methods_follow_documented_shapes(
    sandbox: Sandbox, truth: dict[str, Any]
) -> None:
    loner = next(p for p in truth["photos"] if not p["album_ids"] and p["ispublic"])
    body = signed(sandbox, "flickr.photos.getAllContexts", photo_id=loner["id"]).json()
    assert set(body) <= {"stat", "pool"}
    member = next(p for p in truth["photos"] if len(p["album_ids"]) > 1)
    body = signed(sandbox, "flickr.photos.getAllContexts", photo_id=member["id"]).json()
    assert sorted(s["id"] for s in body["set"]) == sorted(member["album_ids"])
    assert isinstance(body["set"][0]["title"], str)
    faves = signed(sandbox, "flickr.favorites.getList", extras="url_o").json()["photos"]
    assert [p["id"] for p in faves["photo"]] == [f["photo_id"] for f in truth["owner_faves"]]
    assert all(p["date_faved"].isdigit() for p in faves["photo"])
    others = {p["id"]: p for p in truth["other_photos"]}
    for p in faves["photo"]:
        assert ("url_o" in p) == (others[p["id"]]["can_download"])
    public = api(sandbox, "flickr.favorites.getList", user_id=truth["owner"]["nsid"]).json()
    assert int(public["photos"]["total"]) < len(truth["owner_faves"])
    tree = signed(sandbox, "flickr.collections.getTree").json()["collections"]["collection"]
    assert (
        tree[0]["collection"][0]["set"][0]["id"]
        == truth["collections"][0]["collections"][0]["album_ids"][0]
    )
    assert isinstance(tree[0]["title"], str)
    gals = signed(sandbox, "flickr.galleries.getList").json()["galleries"]
    assert "per_page" in gals
    assert "perpage" not in gals
    gid = gals["gallery"][0]["id"]
    photos = signed(sandbox, "flickr.galleries.getPhotos", gallery_id=gid).json()["photos"]
    assert [p["id"] for p in photos["photo"]] == truth["galleries"][0]["photo_ids"]
    assert {p["has_comment"] for p in photos["photo"]} == {0, 1}
    bad = api(sandbox, "flickr.galleries.getPhotos", gallery_id="123").json()
    assert bad == {"stat": "fail", "code": 1, "message": "Invalid gallery ID"}
    notin = signed(sandbox, "flickr.photos.getNotInSet", per_page=500).json()["photos"]
    assert {p["id"] for p in notin["photo"]} == {
        p["id"] for p in truth["photos"] if not p["album_ids"]
    }


def test_mixed_int_and_str_types(sandbox: Sandbox) -> None:
    body = signed(
        sandbox, "flickr.people.getPhotos", user_id="me", extras=ALL_EXTRAS, per_page=500
    ).json()
    types: dict[str, set[type]] = {}
    for p in body["photos"]["photo"]:
        for k, v in p.items():
            types.setdefault(k, set()).add(type(v))
    mixed = {k for k, t in types.items() if {int, str} <= t}
    assert mixed >= {"datetakengranularity", "width_h", "accuracy"}
    assert types["width_sq"] == {int}
    assert types["title"] == {str}
    assert {type(p["latitude"]) for p in body["photos"]["photo"]} == {int, float}
    assert body["photos"]["photo"][0]["pathalias"] is not None
    sizes = signed(
        sandbox, "flickr.photos.getSizes", photo_id=body["photos"]["photo"][0]["id"]
    ).json()["sizes"]["size"]
    assert {type(s["width"]) for s in sizes} == {int, str}
    # Deterministic: the same call returns the same body.
    again = signed(
        sandbox, "flickr.people.getPhotos", user_id="me", extras=ALL_EXTRAS, per_page=500
    ).json()
    assert again == body


# -- pagination, visibility
def test_pagination_and_page_past_end(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    items = all_pages(sandbox, "flickr.people.getPhotos", sign=True, user_id="me", per_page=7)
    assert [p["id"] for p in items] == [p["id"] for p in truth["photos"]]
    first = signed(sandbox, "flickr.people.getPhotos", user_id="me", per_page=7).json()["photos"]
    past = signed(
        sandbox, "flickr.people.getPhotos", user_id="me", per_page=7, page=int(first["pages"]) + 1
    ).json()["photos"]
    assert past["photo"] == []
    assert int(past["total"]) == len(truth["photos"])
    assert int(past["page"]) == int(first["pages"]) + 1
    big = signed(sandbox, "flickr.people.getPhotos", user_id="me", per_page=9999).json()
    assert big["photos"]["perpage"] == 500
    assert (
        signed(sandbox, "flickr.people.getPhotos", user_id="me").json()["photos"]["perpage"] == 100
    )


def test_unsigned_sees_only_public_safe(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    nsid = truth["owner"]["nsid"]
    seen = {
        p["id"]
        for p in all_pages(
            sandbox, "flickr.people.getPhotos", sign=False, user_id=nsid, per_page=500
        )
    }
    expected = {p["id"] for p in truth["photos"] if p["ispublic"] and p["safety_level"] <= 1}
    assert seen == expected
    assert seen != {p["id"] for p in truth["photos"]}
    body = api(sandbox, "flickr.people.getPhotos", user_id="me").json()
    assert body["code"] == 99
    assert "read privileges" in body["message"]
    private = next(p for p in truth["photos"] if p["privacy"] == "private")
    body = api(sandbox, "flickr.photos.getInfo", photo_id=private["id"]).json()
    assert body["stat"] == "fail"
    assert body["code"] == 1
    assert signed(sandbox, "flickr.photos.getInfo", photo_id=private["id"]).json()["stat"] == "ok"
    restricted = next(p for p in truth["photos"] if not p["can_download"] and p["original"] is None)
    sizes = signed(sandbox, "flickr.photos.getSizes", photo_id=restricted["id"]).json()
    assert "Original" not in [s["label"] for s in sizes["sizes"]["size"]]


def test_search_filters_and_errors(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    assert api(sandbox, "flickr.photos.search").json()["code"] == 3
    videos = signed(sandbox, "flickr.photos.search", user_id="me", media="videos").json()
    assert {p["id"] for p in videos["photos"]["photo"]} == {
        p["id"] for p in truth["photos"] if p["media"] == "video"
    }
    assert isinstance(videos["photos"]["total"], int)
    cut = sorted(p["dateupload"] for p in truth["photos"])[len(truth["photos"]) // 2]
    newer = signed(
        sandbox, "flickr.photos.search", user_id="me", min_upload_date=cut, per_page=500
    ).json()
    assert {p["id"] for p in newer["photos"]["photo"]} == {
        p["id"] for p in truth["photos"] if p["dateupload"] >= cut
    }
    mysql = signed(
        sandbox,
        "flickr.photos.search",
        user_id="me",
        per_page=500,
        max_upload_date="2012-01-01 00:00:00",
    ).json()
    assert all(
        int(p["dateupload"]) < 1325376000
        for p in signed(
            sandbox,
            "flickr.photos.search",
            user_id="me",
            per_page=500,
            max_upload_date="2012-01-01 00:00:00",
            extras="date_upload",
        ).json()["photos"]["photo"]
    )
    assert mysql["stat"] == "ok"
    recent = signed(
        sandbox, "flickr.photos.recentlyUpdated", min_date=0, extras="last_update", per_page=500
    ).json()["photos"]["photo"]
    updates = [int(p["lastupdate"]) for p in recent]
    assert updates == sorted(updates, reverse=True)
    assert len(recent) == len(truth["photos"])
    assert signed(sandbox, "flickr.photos.recentlyUpdated").json()["code"] == 1


def test_error_envelopes_and_formats(sandbox: Sandbox) -> None:
    base = f"{sandbox.url}/services/rest"
    r = fetch(f"{base}?method=flickr.test.echo&format=json&nojsoncallback=1")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.json() == {"stat": "fail", "code": 100, "message": "Invalid API Key (Key not found)"}
    r = fetch(f"{base}/?method=flickr.test.echo&format=json&nojsoncallback=1&api_key={'0' * 32}")
    assert r.json()["code"] == 100
    r = api(sandbox, "flickr.photos.doesNotExist")
    assert r.json() == {
        "stat": "fail",
        "code": 112,
        "message": 'Method "flickr.photos.doesNotExist" not found',
    }
    r = api(sandbox, "flickr.photos.getInfo", photo_id="1")
    assert r.json()["code"] == 1
    r = api(sandbox, "flickr.test.echo", format="xmlrpc")
    assert r.json()["code"] == 111
    a = auth(sandbox)
    r = fetch(f"{base}/?method=flickr.test.echo&format=json&api_key={a['api_key']}&foo=a%2Fb")
    assert r.body.startswith(b"jsonFlickrApi({")
    assert r.body.endswith(b"})")
    assert b'"a\\/b"' in r.body
    assert r.headers["Content-Type"] == "application/json"
    echo = json.loads(r.body[len("jsonFlickrApi(") : -1])
    assert echo["foo"] == {"_content": "a/b"}
    r = fetch(
        base,
        data=urllib.parse.urlencode(
            {
                "method": "flickr.photos.licenses.getInfo",
                "api_key": a["api_key"],
                "format": "json",
                "nojsoncallback": "1",
            }
        ).encode(),
        method="POST",
    )
    assert r.json()["stat"] == "ok"


@pytest.mark.parametrize("how", ["header", "query", "body"])
def test_signed_calls_work_every_way(sandbox: Sandbox, how: str) -> None:
    body = signed(sandbox, "flickr.test.login", how=how).json()
    assert body["stat"] == "ok"
    assert body["user"]["id"] == auth(sandbox)["user_nsid"]


def test_oauth_failures_are_form_encoded(sandbox: Sandbox) -> None:
    c = client(sandbox)
    url = f"{sandbox.url}/services/rest/?method=flickr.test.login&format=json&nojsoncallback=1"
    uri, headers, _ = c.sign(url)
    forged = headers["Authorization"].replace('oauth_signature="', 'oauth_signature="AAAA')
    r = fetch(uri, headers={"Authorization": forged})
    assert r.status == 401
    form = urllib.parse.parse_qs(r.body.decode())
    assert form["oauth_problem"] == ["signature_invalid"]
    assert (
        r.body.decode()
        .split("debug_sbs=", 1)[1]
        .startswith("GET&" + urllib.parse.quote(f"{sandbox.url}/services/rest/", safe=""))
    )
    r = fetch(uri, headers=headers)
    assert r.status == 200  # the genuine one still works ...
    r = fetch(uri, headers=headers)
    assert r.status == 401
    assert b"nonce_used" in r.body
    a = auth(sandbox)
    bad = Client(
        "f" * 32,
        client_secret=a["api_secret"],
        resource_owner_key=a["oauth_token"],
        resource_owner_secret=a["oauth_token_secret"],
    )
    uri, headers, _ = bad.sign(url)
    r = fetch(uri, headers=headers)
    assert (r.status, r.body) == (401, b"oauth_problem=consumer_key_unknown")
    bad = Client(
        a["api_key"],
        client_secret=a["api_secret"],
        resource_owner_key="1-2",
        resource_owner_secret="x",
    )
    uri, headers, _ = bad.sign(url)
    r = fetch(uri, headers=headers)
    assert (r.status, r.body) == (401, b"oauth_problem=token_rejected")
    anon = Client(a["api_key"], client_secret=a["api_secret"])
    uri, headers, _ = anon.sign(url)
    r = fetch(uri, headers=headers)
    assert r.status == 400
    assert r.body == b"oauth_problem=parameter_absent&oauth_parameters_absent=oauth_token"


def test_oauth_dance(sandbox: Sandbox) -> None:
    a = auth(sandbox)
    c = Client(a["api_key"], client_secret=a["api_secret"], callback_uri="oob")
    uri, headers, _ = c.sign(f"{sandbox.url}/services/oauth/request_token")
    r = fetch(uri, headers=headers)
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/plain;charset=UTF-8"
    assert r.body.startswith(b"oauth_callback_confirmed=true&oauth_token=")
    req = dict(urllib.parse.parse_qsl(r.body.decode()))
    assert re.fullmatch(r"\d{17}-[0-9a-f]{16}", req["oauth_token"])
    page = fetch(
        f"{sandbox.url}/services/oauth/authorize?oauth_token={req['oauth_token']}&perms=read"
    )
    m = re.search(rb'id="verifier"[^>]*>(\d{3}-\d{3}-\d{3})<', page.body)
    assert page.status == 200
    assert m
    assert fetch(f"{sandbox.url}/services/oauth/authorize?oauth_token=nope").status == 400
    c = Client(
        a["api_key"],
        client_secret=a["api_secret"],
        resource_owner_key=req["oauth_token"],
        resource_owner_secret=req["oauth_token_secret"],
        verifier=m.group(1).decode(),
    )
    uri, headers, _ = c.sign(f"{sandbox.url}/services/oauth/access_token")
    r = fetch(uri, headers=headers)
    assert r.status == 200, r.body
    acc = dict(urllib.parse.parse_qsl(r.body.decode()))
    assert list(acc) == ["fullname", "oauth_token", "oauth_token_secret", "user_nsid", "username"]
    assert acc["user_nsid"] == a["user_nsid"]
    c = Client(
        a["api_key"],
        client_secret=a["api_secret"],
        resource_owner_key=acc["oauth_token"],
        resource_owner_secret=acc["oauth_token_secret"],
    )
    uri, headers, _ = c.sign(
        f"{sandbox.url}/services/rest?method=flickr.test.login&format=json&nojsoncallback=1"
    )
    assert fetch(uri, headers=headers).json()["user"]["id"] == a["user_nsid"]
    c = Client(a["api_key"], client_secret=a["api_secret"], callback_uri="oob")
    uri, headers, _ = c.sign(f"{sandbox.url}/services/oauth/request_token")
    forged = headers["Authorization"].replace('oauth_signature="', 'oauth_signature="x')
    r = fetch(uri, headers={"Authorization": forged})
    assert r.status == 401
    assert r.body.startswith(b"oauth_problem=signature_invalid&debug_sbs=GET&")


# -- media
def test_media_bytes_headers_and_exif(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    jpg = next(
        p
        for p in truth["photos"]
        if p["original"] and p["original"]["format"] == "jpg" and p["camera"] and p["geo"]
    )
    r = fetch(jpg["original"]["url"])
    assert r.status == 200
    assert r.headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(r.body).hexdigest() == jpg["original"]["sha256"]
    assert len(r.body) == jpg["original"]["size"] == int(r.headers["Content-Length"])
    assert r.headers["Server"] == "Jubilee"
    assert r.headers["Cache-Control"].startswith("public")
    assert r.headers["imagewidth"] == str(jpg["width"])
    assert r.headers["ETag"]
    assert fetch(jpg["original"]["url"]).body == r.body
    exif = piexif.load(r.body)
    assert exif["0th"][piexif.ImageIFD.Make].decode() == jpg["camera"]["make"]
    assert exif["Exif"][piexif.ExifIFD.MakerNote]
    assert exif["GPS"][piexif.GPSIFD.GPSLatitude]
    if not jpg["takenunknown"]:
        assert exif["Exif"][piexif.ExifIFD.DateTimeOriginal].decode() == jpg["datetaken"].replace(
            "-", ":", 2
        )
    Image.open(io.BytesIO(r.body)).verify()
    d = fetch(jpg["original"]["url"].replace("_o.jpg", "_o_d.jpg"))
    assert (
        d.headers["Content-Disposition"]
        == f"attachment; filename={jpg['original']['url'].rsplit('/', 1)[1]}"
    )
    missing = fetch(jpg["original"]["url"].replace(jpg["original"]["secret"], "0" * 10))
    assert missing.status == 404
    assert missing.headers["content-length"] == "0"
    assert missing.headers["Content-Type"].startswith("text/html")
    sizes = signed(sandbox, "flickr.photos.getSizes", photo_id=jpg["id"]).json()["sizes"]["size"]
    for s in sizes:
        got = fetch(s["source"])
        assert got.status == 200, s
        assert got.headers["imagewidth"] == str(s["width"])
    png = next(p for p in truth["photos"] if p["original"] and p["original"]["format"] == "png")
    r = fetch(png["original"]["url"])
    assert r.headers["Content-Type"] == "image/png"
    assert r.body.startswith(b"\x89PNG")


def test_list_urls_use_size_suffixes_and_secrets(sandbox: Sandbox) -> None:
    body = signed(
        sandbox,
        "flickr.people.getPhotos",
        user_id="me",
        per_page=500,
        extras="url_s,url_l,url_m,url_h,url_o,original_format",
    ).json()
    for p in body["photos"]["photo"]:
        assert p["url_s"].endswith(f"{p['id']}_{p['secret']}_m.jpg")
        assert p["url_l"].endswith(f"{p['id']}_{p['secret']}_b.jpg") if "url_l" in p else True
        assert p["url_m"].endswith(f"{p['id']}_{p['secret']}.jpg")
        if "url_h" in p:
            assert f"_{p['secret']}_h" not in p["url_h"]
        if "url_o" in p:
            assert p["url_o"].endswith(f"_{p['originalsecret']}_o.{p['originalformat']}")


# -- video
def test_video_original_only_for_owner_and_web_session(
    sandbox: Sandbox, truth: dict[str, Any]
) -> None:
    video = next(p for p in truth["photos"] if p["media"] == "video" and p["ispublic"])
    owner_sizes = signed(sandbox, "flickr.photos.getSizes", photo_id=video["id"]).json()
    labels = {s["label"]: s for s in owner_sizes["sizes"]["size"]}
    assert labels["Video Original"]["source"] == video["video"]["play_url"]
    assert labels["Original"]["source"].endswith("_o.jpg")  # poster frame
    # XML has width="" here; JSON clients meet null (python-flickr-api skips it on TypeError).
    assert labels["iphone_wifi"]["width"] is None
    assert labels["iphone_wifi"]["height"] is None
    anon_sizes = api(sandbox, "flickr.photos.getSizes", photo_id=video["id"]).json()
    assert "Video Original" not in {s["label"] for s in anon_sizes["sizes"]["size"]}
    play = video["video"]["play_url"]
    assert fetch(play).status == 404
    login = truth["web_login"]
    bad = fetch(f"{sandbox.url}/signin/", data=b"username=x&password=y", method="POST")
    assert bad.status == 200
    assert b'id="login-submit"' in bad.body
    assert b"Invalid" in bad.body
    form = urllib.parse.urlencode({"username": login["username"], "password": login["password"]})
    r = fetch(f"{sandbox.url}/signin/", data=form.encode(), method="POST")
    assert r.status == 302
    cookies = [h.split(";")[0] for h in r.headers.get_all("Set-Cookie")]
    assert {c.split("=")[0] for c in cookies} == {"cookie_accid", "cookie_epass"}
    assert all("HttpOnly" in h for h in r.headers.get_all("Set-Cookie"))
    jar = {"Cookie": "; ".join(cookies)}
    assert b"signed in as" in fetch(r.headers["Location"], headers=jar).body
    r = fetch(play, headers=jar)
    assert r.status == 302
    assert r.body == b""
    loc = r.headers["Location"]
    assert f"/video/{video['id']}/" in loc
    assert f"orig.{video['video']['container']}?s=" in loc
    token = json.loads(base64.urlsafe_b64decode(loc.split("s=")[1] + "=="))
    assert set(token) == {"i", "e", "s", "v"}
    assert token["i"] == int(video["id"])
    v = fetch(loc)
    assert v.status == 200
    assert int(v.headers["Content-Length"]) == video["video"]["size"]
    assert v.headers["Accept-Ranges"] == "bytes"
    assert v.headers["imagewidth"]
    assert v.headers["Content-Type"] == (
        "video/mp4" if video["video"]["container"] == "mp4" else "video/quicktime"
    )
    assert hashlib.sha256(v.body).hexdigest() == video["video"]["sha256"]
    assert v.body[4:8] == b"ftyp"
    part = fetch(loc, headers={"Range": "bytes=1048570-1048585"})
    assert part.status == 206
    assert part.body == v.body[1048570:1048586]
    assert part.headers["Content-Range"] == f"bytes 1048570-1048585/{len(v.body)}"
    assert fetch(loc.replace("s=", "s=x")).status == 403
    stream = fetch(
        play.replace("/play/orig/", "/play/360p/").replace(
            video["original"]["secret"], video["secret"]
        )
    )
    assert stream.status == 302
    assert fetch(stream.headers["Location"]).status == 200
    sandbox.expire_web_sessions()
    assert fetch(play, headers=jar).status == 404


def test_expired_video_url_and_api_limit(tmp_path: Path) -> None:
    args = (
        "--image-size",
        "small",
        "--photos",
        "3",
        "--videos",
        "1",
        "--albums",
        "1",
        "--video-url-ttl",
        "-1",
        "--api-limit",
        "5",
        "--auth-file",
        str(tmp_path / "a.json"),
    )
    with Sandbox(*args) as sb:
        sb.auth_file = tmp_path / "a.json"
        truth = sb.account(hashes=False)
        video = next(p for p in truth["photos"] if p["media"] == "video")
        stream = fetch(
            video["video"]["play_url"]
            .replace("/play/orig/", "/play/288p/")
            .replace(video["original"]["secret"], video["secret"])
        )
        assert fetch(stream.headers["Location"]).status == 403
        statuses = [api(sb, "flickr.test.echo").status for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        r = api(sb, "flickr.test.echo")
        assert b"429 Too Many Requests" in r.body
        assert r.headers["Content-Type"].startswith("text/html")
        assert sb.stats()["rate_limited"] == 3
    assert sb.proc is not None
    assert sb.proc.returncode == 0  # SIGTERM is a clean exit


def test_search_4000_cap(tmp_path: Path) -> None:
    args = (
        "--image-size",
        "small",
        "--photos",
        "4200",
        "--videos",
        "0",
        "--albums",
        "2",
        "--auth-file",
        str(tmp_path / "a.json"),
    )
    with Sandbox(*args) as sb:
        sb.auth_file = tmp_path / "a.json"
        first = signed(sb, "flickr.photos.search", user_id="me", per_page=500).json()["photos"]
        assert first["total"] == 4200
        assert first["pages"] == 9
        ninth = signed(sb, "flickr.photos.search", user_id="me", per_page=500, page=9).json()[
            "photos"
        ]
        assert [p["id"] for p in ninth["photo"]] == [p["id"] for p in first["photo"]]
        assert ninth["total"] == 4200
        people = signed(sb, "flickr.people.getPhotos", user_id="me", per_page=500, page=9).json()[
            "photos"
        ]
        assert len(people["photo"]) == 200  # no cap on people.getPhotos


# -- faults, stats, mutations
@pytest.fixture
def faulty(sandbox: Sandbox) -> Iterator[Sandbox]:
    yield sandbox
    sandbox.faults(rate=0, kinds=[], permanent_photo_ids=[])


def test_faults_and_stats(faulty: Sandbox, truth: dict[str, Any]) -> None:
    sb = faulty
    sb.reset_stats()
    sb.faults(rate=1.0, kinds=["stat_105"])
    assert api(sb, "flickr.test.echo").json()["code"] == 105
    sb.faults(rate=1.0, kinds=["stat_201"])
    assert api(sb, "flickr.test.echo").json()["code"] == 201
    sb.faults(rate=1.0, kinds=["http_5xx"])
    assert api(sb, "flickr.test.echo").status >= 500
    sb.faults(rate=1.0, kinds=["http_429"])
    r = api(sb, "flickr.test.echo")
    assert r.status == 429
    assert b"Too Many Requests" in r.body
    sb.faults(rate=1.0, kinds=["cut_body"])
    url = next(p for p in truth["photos"] if p["original"])["original"]["url"]
    with pytest.raises(http.client.IncompleteRead):
        urllib.request.urlopen(url, timeout=10).read()
    sb.faults(rate=1.0, kinds=["reset"])
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError)):
        urllib.request.urlopen(url, timeout=10).read()
    sb.faults(rate=0, permanent_photo_ids=[url.rsplit("/", 1)[1].split("_")[0]])
    assert fetch(url).status == 500
    assert api(sb, "flickr.test.echo").json()["stat"] == "ok"
    stats = sb.stats()
    assert stats["faults_injected"] == {
        "stat_105": 1,
        "stat_201": 1,
        "http_5xx": 1,
        "http_429": 1,
        "cut_body": 1,
        "reset": 1,
    }
    assert stats["api_calls"]["by_method"]["flickr.test.echo"] == 5
    assert stats["media_requests"] == 3
    assert stats["bytes_served"] > 0
    sb.reset_stats()
    assert sb.stats()["api_calls"]["total"] == 0


def test_mutations(tmp_path: Path) -> None:
    args = (
        "--image-size",
        "small",
        "--photos",
        "12",
        "--videos",
        "1",
        "--albums",
        "3",
        "--auth-file",
        str(tmp_path / "a.json"),
    )
    with Sandbox(*args) as sb:
        sb.auth_file = tmp_path / "a.json"
        truth = sb.account(hashes=False)
        target = truth["photos"][3]
        album = truth["albums"][0]
        outside = next(p for p in truth["photos"] if album["id"] not in p["album_ids"])
        res = sb.mutate(
            [
                {
                    "op": "edit_photo",
                    "id": target["id"],
                    "title": "Renamed / again",
                    "tags": ["New Tag", "ns:pred=value"],
                },
                {"op": "add_comment", "photo_id": target["id"], "text": "<b>new</b>"},
                {"op": "add_fave", "photo_id": target["id"]},
                {"op": "add_to_album", "photo_id": outside["id"], "album_id": album["id"]},
                {"op": "rename_album", "album_id": album["id"], "title": "New name"},
                {"op": "add_photo"},
            ]
        )
        new_id = res["results"][-1]["photo_ids"][0]
        assert set(res["photo_ids"]) == {target["id"], outside["id"], new_id}
        assert res["album_ids"] == [album["id"]]
        info = signed(sb, "flickr.photos.getInfo", photo_id=target["id"]).json()["photo"]
        assert info["title"]["_content"] == "Renamed / again"
        assert int(info["dates"]["lastupdate"]) > target["lastupdate"]
        assert [t["raw"] for t in info["tags"]["tag"]] == ["New Tag", "ns:pred=value"]
        assert int(info["comments"]["_content"]) == len(target["comments"]) + 1
        since = max(p["lastupdate"] for p in truth["photos"]) + 1
        recent = signed(sb, "flickr.photos.recentlyUpdated", min_date=since).json()["photos"]
        assert {p["id"] for p in recent["photo"]} == {target["id"], outside["id"], new_id}
        sets = signed(sb, "flickr.photosets.getPhotos", photoset_id=album["id"]).json()
        assert sets["photoset"]["photo"][-1]["id"] == outside["id"]
        assert sets["photoset"]["title"] == "New name"
        res = sb.mutate(
            [
                {"op": "delete_photo", "id": target["id"]},
                {"op": "delete_album", "album_id": truth["albums"][1]["id"]},
            ]
        )
        assert signed(sb, "flickr.photos.getInfo", photo_id=target["id"]).json()["code"] == 1
        after = sb.account(hashes=False)
        assert target["id"] in after["deleted_photo_ids"]
        assert truth["albums"][1]["id"] not in {a["id"] for a in after["albums"]}
        assert new_id in {p["id"] for p in after["photos"]}
        bad = fetch(f"{sb.url}/__sandbox/mutate", data=b'[{"op":"nope"}]', method="POST")
        assert bad.status == 400


# -- what other Flickr clients use: the REST/XML format, user lookups, video streams, site key
def real_xml(method: str, name: str) -> ET.Element:
    return ET.parse(REAL / "xml" / method / name).getroot()


@needs_recordings
def test_rest_xml_format_matches_recordings(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    """Python flickrapi (flickrbackup) asks for Flickr's default format: XML, like the 2023-2025
    recordings: attributes for scalars, text for ``_content``, child elements for the rest."""
    geo = next(p for p in truth["photos"] if p["geo"] and p["original"] and p["tags"])
    r = signed(sandbox, "flickr.photos.getInfo", photo_id=geo["id"], format="rest")
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert r.body.startswith(b'<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="ok">')
    ours = ET.fromstring(r.body)
    rec = real_xml("flickr.photos.getInfo", "2023_geo_52994452213.xml")
    assert ours.tag == rec.tag == "rsp"
    photo, rec_photo = ours.find("photo"), rec.find("photo")
    assert photo is not None
    assert rec_photo is not None
    assert set(photo.attrib) == set(rec_photo.attrib)
    assert {c.tag for c in rec_photo} - {"people"} <= {c.tag for c in photo}
    assert photo.findtext("title") == geo["title"]
    assert photo.findtext("description") == geo["description"]
    tags = photo.findall("tags/tag")
    assert set(rec_photo.find("tags/tag").attrib) <= set(tags[0].attrib)  # type: ignore[union-attr]
    assert [t.get("raw") for t in tags] == [t["raw"] for t in geo["tags"]]
    assert float(photo.find("location").get("latitude")) == geo["geo"]["latitude"]  # type: ignore[union-attr, arg-type]
    assert photo.findtext("location/country") == geo["geo"]["country"]

    listing = ET.fromstring(
        signed(sandbox, "flickr.people.getPhotos", user_id="me", per_page=3, page=1,
               extras="description,tags,url_o", format="rest").body
    )  # fmt: skip
    rec_list = real_xml("flickr.people.getPublicPhotos", "2024_page1_of2_per_page500.xml")
    assert set(listing.find("photos").attrib) == set(rec_list.find("photos").attrib)  # type: ignore[union-attr]
    items = listing.findall("photos/photo")
    assert len(items) == 3
    assert items[0].get("title") == truth["photos"][0]["title"]  # a title is an attribute here
    assert items[0].findtext("description") == truth["photos"][0]["description"]

    video = next(p for p in truth["photos"] if p["media"] == "video")
    sizes = ET.fromstring(
        signed(sandbox, "flickr.photos.getSizes", photo_id=video["id"], format="rest").body
    )
    rows = {s.get("label"): s.attrib for s in sizes.findall("sizes/size")}
    rec_rows = {
        s.get("label"): s.attrib
        for s in real_xml(
            "flickr.photos.getSizes", "2025_alexwlchan_til_video_owner_oauth_caller.xml"
        ).findall("sizes/size")
    }
    assert rows["iphone_wifi"]["width"] == rec_rows["iphone_wifi"]["width"] == ""
    assert set(rows["Video Original"]) == set(rec_rows["Video Original"])

    err = api(sandbox, "flickr.photos.getInfo", photo_id="1", format="rest")
    rec_err = real_xml("errors", "2025_getSizes_code1.xml")
    root = ET.fromstring(err.body)
    assert root.get("stat") == rec_err.get("stat") == "fail"
    assert set(root.find("err").attrib) == set(rec_err.find("err").attrib)  # type: ignore[union-attr]
    assert root.find("err").get("code") == "1"  # type: ignore[union-attr]
    assert b"&quot;1&quot;" in err.body  # quotes in attributes as Flickr escapes them


def test_user_lookups(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    """urls.lookupUser (gallery-dl) and people.findByUsername (flickr_download)."""
    owner = truth["owner"]
    for url in (f"https://www.flickr.com/photos/{owner['path_alias']}/",
                f"https://www.flickr.com/people/{owner['nsid']}"):  # fmt: skip
        user = api(sandbox, "flickr.urls.lookupUser", url=url).json()["user"]
        assert user == {"id": owner["nsid"], "username": {"_content": owner["username"]}}
    missing = api(sandbox, "flickr.urls.lookupUser", url="https://www.flickr.com/photos/nobody9")
    assert missing.json() == {"stat": "fail", "code": 1, "message": "User not found"}
    found = api(sandbox, "flickr.people.findByUsername", username=owner["username"].upper())
    assert found.json()["user"]["nsid"] == owner["nsid"]
    assert found.json()["user"]["username"] == {"_content": owner["username"]}
    assert api(sandbox, "flickr.people.findByUsername", username="nobody").json()["code"] == 1


def test_video_stream_info(sandbox: Sandbox, truth: dict[str, Any]) -> None:
    """video.getStreamInfo lists transcoded streams a client can fetch, never the original."""
    video = next(p for p in truth["photos"] if p["media"] == "video" and p["ispublic"])
    data = api(sandbox, "flickr.video.getStreamInfo", photo_id=video["id"],
               secret=video["secret"]).json()  # fmt: skip
    streams = {s["type"]: s["_content"] for s in data["streams"]["stream"]}
    assert "orig" not in streams
    assert {"360p", "288p", "700"} <= set(streams)
    played = fetch(streams["360p"])
    assert played.status == 302
    file = fetch(played.headers["Location"])
    assert file.status == 200
    assert file.body[4:8] == b"ftyp"
    assert int(file.headers["Content-Length"]) < video["video"]["size"]
    wrong = api(sandbox, "flickr.video.getStreamInfo", photo_id=video["id"], secret="0" * 10)
    assert wrong.json()["code"] == 1
    photo = next(p for p in truth["photos"] if p["media"] == "photo" and p["ispublic"])
    not_video = api(sandbox, "flickr.video.getStreamInfo", photo_id=photo["id"])
    assert not_video.json()["code"] == 1


def test_pages_carry_the_site_key(sandbox: Sandbox) -> None:
    """Flickr's pages embed the public API key its scripts use; downloaders read /photos/."""
    key = auth(sandbox)["api_key"]
    page = fetch(f"{sandbox.url}/photos/")
    assert page.status == 200
    assert f'root.YUI_config.flickr.api.site_key = "{key}";'.encode() in page.body


def test_fast_images_are_realistic_and_unique(tmp_path: Path) -> None:
    """--image-size fast: full-size, EXIF-carrying originals, each file's bytes its own."""
    with Sandbox("--photos", "40", "--videos", "1", "--albums", "1", "--image-size", "fast",
                 auth_file=tmp_path / "auth.json") as sb:  # fmt: skip
        photos = [p for p in sb.account()["photos"] if p["original"] and p["media"] == "photo"]
        digests = set()
        for p in photos[:12]:
            body = fetch(p["original"]["url"]).body
            assert hashlib.sha256(body).hexdigest() == p["original"]["sha256"]
            digests.add(p["original"]["sha256"])
            with Image.open(io.BytesIO(body)) as img:
                assert img.size == (p["width"], p["height"])
                img.load()
            if p["camera"] and p["original"]["format"] == "jpg":
                exif = piexif.load(body)
                assert exif["0th"][piexif.ImageIFD.Model].decode() == p["camera"]["model"]
            if p["width"] * p["height"] >= 1_000_000:
                assert len(body) > 200_000  # sized like a photo, not a thumbnail
        assert len(digests) == len(photos[:12])


# Entities HTML knows, as they would show in a value once any XML around it is parsed.
_ENTITY = re.compile(r"&(?:[a-z]+|#\d+|#x[0-9a-f]+);", re.IGNORECASE)


@needs_recordings
def test_titles_come_as_typed_and_descriptions_as_html(sandbox: Sandbox) -> None:
    """What real Flickr escapes: in the XML recordings, titles and names carry ``&``, ``<`` and
    quotes escaped once for XML and never as HTML (``Mr. &amp; Mrs.``, not ``&amp;amp;``),
    while descriptions, comments and notes are HTML (``B&amp;amp;W``, ``&amp;lt;3``). JSON is
    the same values without the XML layer. The sandbox serves its titles the same way."""
    names = ("title", "username", "realname", "ownername", "authorname", "raw")
    plain = typed = 0
    html_values = []
    for path in sorted((REAL / "xml").rglob("*.xml")):
        for element in ET.parse(path).getroot().iter():
            for key in names:
                value = element.get(key)
                if value is None:
                    continue
                assert not _ENTITY.search(value), (path.name, key, value)
                plain += 1
                typed += bool(re.search("[&<>\"']", value))
            if element.tag in ("title", "username", "realname"):
                assert not _ENTITY.search(element.text or ""), (path.name, element.text)
            if element.tag in ("description", "comment", "note"):
                html_values.append(element.text or "")
    assert plain > 1000
    assert typed >= 80
    assert sum(bool(_ENTITY.search(v)) for v in html_values) >= 20

    albums = signed(sandbox, "flickr.photosets.getList").json()["photosets"]["photoset"]
    titles = [a["title"]["_content"] for a in albums]
    assert "Rock & Roll <3" in titles
    xml = signed(sandbox, "flickr.photosets.getList", format="rest").body
    assert b"Rock &amp; Roll &lt;3" in xml
    parsed = [t.text or "" for t in ET.fromstring(xml).iter("title")]
    assert parsed == titles
