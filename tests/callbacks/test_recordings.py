"""The spiders' callbacks fed real recorded Flickr answers (``../shared/flickr-real/json``):
each Request is one the spider made against the sandbox; its answer is the recording."""

from __future__ import annotations

import json

import pytest
import scrapy
from scrapy.exceptions import CloseSpider

from flickr_crawl.items import (
    AlbumItem,
    CommentsItem,
    FavesItem,
    PhotoInfoItem,
    PhotoItem,
    PhotostreamListedItem,
)
from spiders.photostream import PhotostreamSpider
from tests.callbacks.harness import Run, calls, items, method, respond
from tests.helpers import REAL, needs_recordings

JSON = REAL / "json"
pytestmark = needs_recordings


def _recordings(name):
    return sorted((JSON / name).glob("*.json")) if JSON.is_dir() else []


def _first(run, wanted):
    """The first Request of method ``wanted`` the listing chain (and its pages) makes."""
    pending = run.start()
    while pending:
        request = pending.pop(0)
        if method(request) == wanted:
            return request
        pending += [o for o in run.call(request) if isinstance(o, scrapy.Request)]
    raise AssertionError(f"no {wanted} call")


@pytest.fixture
def run(flickr, tmp_path):
    return Run(flickr, PhotostreamSpider, tmp_path / "a")


@pytest.mark.parametrize("path", _recordings("flickr.people.getPhotos"), ids=lambda p: p.stem)
def test_a_recorded_photostream_page(run, path):
    request = _first(run, "flickr.people.getPhotos")
    entries = json.loads(path.read_bytes())["photos"]["photo"]
    out = run.call(request, respond(request, path.read_bytes()))
    photos = [i for i in items(out) if isinstance(i, PhotoItem)]
    sizes = [q["photo_id"] for m, q in calls(out) if m == "flickr.photos.getSizes"]
    # a video whose entry gives no original asks getSizes; every other entry is an item
    videos = [e["id"] for e in entries if e.get("media") == "video" and not e.get("originalsecret")]
    assert sizes == videos
    assert [p.id for p in photos] == [e["id"] for e in entries if e["id"] not in videos]
    assert [p.title for p in photos] == [e["title"] for e in entries if e["id"] not in videos]
    # these recordings predate count_comments/count_faves: nothing says a call is needed
    assert {m for m, _ in calls(out)} <= {"flickr.photos.getSizes", "flickr.photos.getInfo"}
    (end,) = [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
    assert (end.complete, end.photo_ids) == (True, [e["id"] for e in entries])  # total says so
    assert run.report.failures == []


def test_a_recorded_album_page_asks_the_next_page(run):
    path = JSON / "flickr.photosets.getPhotos" / "2012_flickrie_paginated_per_page8_page1_of13.json"
    request = _first(run, "flickr.photosets.getPhotos")
    out = run.call(request, respond(request, path.read_bytes()))
    (next_page,) = out
    assert calls([next_page]) == [("flickr.photosets.getPhotos", {
        **calls([request])[0][1], "page": "2"})]  # fmt: skip
    assert [i for i in out if isinstance(i, AlbumItem)] == []


def test_recorded_faves(run):
    request = _first(run, "flickr.photos.getFavorites")
    one = JSON / "flickr.photos.getFavorites" / "2013_flickr-objects_one_fave.json"
    (item,) = run.call(request, respond(request, one.read_bytes()))
    assert isinstance(item, FavesItem)
    person = json.loads(one.read_bytes())["photo"]["person"][0]
    assert [(f.nsid, f.username) for f in item.faves] == [(person["nsid"], person["username"])]
    none = JSON / "flickr.photos.getFavorites" / "2012_flickrie_no_faves_pages0.json"
    (item,) = run.call(request, respond(request, none.read_bytes()))  # pages: 0 ends the list
    assert isinstance(item, FavesItem)
    assert item.faves == []


def test_recorded_comments(run):
    request = _first(run, "flickr.photos.comments.getList")
    path = JSON / "flickr.photos.comments.getList" / "2012_flickrie.json"
    (item,) = run.call(request, respond(request, path.read_bytes()))
    assert isinstance(item, CommentsItem)
    recorded = json.loads(path.read_bytes())["comments"]["comment"]
    assert [c.id for c in item.comments] == [c["id"] for c in recorded]


@pytest.mark.parametrize("path", _recordings("flickr.photos.getInfo"), ids=lambda p: p.stem)
def test_a_recorded_getinfo(run, path):
    request = _first(run, "flickr.photos.getInfo")
    info = json.loads(path.read_bytes())["photo"]
    out = run.call(request, respond(request, path.read_bytes()))
    if int(info.get("people", {}).get("haspeople", 0)):
        assert [m for m, _ in calls(out)] == ["flickr.photos.people.getList"]
        return
    (item,) = out
    assert isinstance(item, PhotoInfoItem)
    recorded = info.get("tags", {}).get("tag", [])
    assert [t.raw for t in item.tags] == [t["raw"] for t in recorded]
    assert len(item.notes) == len(info.get("notes", {}).get("note", []))


def test_recorded_error_answers(run, flickr):
    request = _first(run, "flickr.photos.comments.getList")
    not_found = (
        JSON / "errors" / "2012_flickrie_photosets.removePhotos_code1_photoset_not_found.json"
    )
    assert run.call(request, respond(request, not_found.read_bytes())) == []
    assert run.stats["flickr/api/error/1"] == 1
    assert "retry/count" not in run.stats
    bad_key = JSON / "errors" / "2012_flickrie_code100_invalid_api_key.json"
    with pytest.raises(CloseSpider):
        run.call(request, respond(request, bad_key.read_bytes()))
    assert run.report.fatal_error is not None
