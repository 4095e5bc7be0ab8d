"""The photostream spider's rules, callback by callback: which calls a list answer causes,
how lists are paged, what the deep pass asks for. Answers come from the sandbox in-process."""

from __future__ import annotations

import math

import pytest
import scrapy

from flickr_crawl.downloader.signing import API_META
from flickr_crawl.items import (
    AlbumItem,
    CommentsItem,
    FavesItem,
    PhotoInfoItem,
    PhotoItem,
    PhotostreamListedItem,
)
from spiders.photostream import PhotostreamSpider
from tests.callbacks.harness import Run, calls, items, listing, method

PER_PHOTO = ("flickr.photos.comments.getList", "flickr.photos.getFavorites",
             "flickr.photos.getInfo", "flickr.photos.getSizes")  # fmt: skip


def _listed(flickr):
    """The owner's photos as people.getPhotos lists them (newest upload first)."""
    photos = [p for p in flickr.world.photos.values()
              if p.owner == flickr.owner and not p.deleted]  # fmt: skip
    return sorted(photos, key=lambda p: (-p.dateupload, p.id))


def _photo_page(run, page=1):
    """The people.getPhotos request of ``page``, as the spider builds it after the albums."""
    (request,) = listing_until(run, "flickr.people.getPhotos")
    if page == 1:
        return request
    while True:
        (request,) = [o for o in run.call(request) if isinstance(o, scrapy.Request)
                      and method(o) == "flickr.people.getPhotos"]  # fmt: skip
        if request.cb_kwargs["asked"] == page:
            return request


def listing_until(run, stop):
    """Follow the listing chain from start() up to (not into) the first ``stop`` call."""
    pending = run.start()
    while True:
        (request,) = pending
        if method(request) == stop:
            return [request]
        pending = [o for o in run.call(request) if isinstance(o, scrapy.Request)]


def test_a_list_page_asks_comments_and_faves_only_where_its_counts_say(flickr, tmp_path):
    run = Run(flickr, PhotostreamSpider, tmp_path / "a", {"FLICKR_DEEP_METADATA_ENABLED": False})
    out = run.call(_photo_page(run))
    photos = _listed(flickr)
    assert [i.id for i in items(out) if isinstance(i, PhotoItem)] == [p.id for p in photos]
    expected = []
    for p in photos:
        if p.comments:
            expected.append(("flickr.photos.comments.getList", {"photo_id": p.id}))
        if p.faves:
            expected.append(("flickr.photos.getFavorites",
                             {"page": "1", "per_page": "50", "photo_id": p.id}))  # fmt: skip
    assert calls(out) == expected  # one page, the last: no further listing call
    # the page's requests come before its items (see requests_first)
    first_item = next(i for i, o in enumerate(out) if not isinstance(o, scrapy.Request))
    assert all(not isinstance(o, scrapy.Request) for o in out[first_item:])
    assert any(p.comments for p in photos)
    assert any(not p.comments for p in photos)
    assert any(p.faves for p in photos)
    assert any(not p.faves for p in photos)
    assert {r.priority for r in out if isinstance(r, scrapy.Request)
            and method(r) in PER_PHOTO} == {0}  # fmt: skip
    for request in (r for r in out if isinstance(r, scrapy.Request)):
        # signed, in the sequential API slot, of this process's run; retried, not filtered
        assert request.meta[API_META] is True
        assert request.meta["download_slot"] == "flickr-api"
        assert request.meta["flickr_method"] == method(request)
        assert request.meta["flickr_run"] == run.spider.run_token
        assert request.dont_filter is True


def test_with_budget_room_getinfo_goes_along_with_the_listing(flickr, tmp_path):
    """No hourly cap (or room for the whole run): each photo's getInfo is asked as it is
    listed, at the lowest priority; with FLICKR_DEEP_METADATA_ENABLED off, never."""
    run = Run(flickr, PhotostreamSpider, tmp_path / "a")
    out = run.call(_photo_page(run))
    info = [r for r in out if isinstance(r, scrapy.Request)
            and method(r) == "flickr.photos.getInfo"]  # fmt: skip
    assert [dict(calls([r])[0][1]) for r in info] == [{"photo_id": p.id} for p in _listed(flickr)]
    assert {r.priority for r in info} == {-10}
    off = Run(flickr, PhotostreamSpider, tmp_path / "b", {"FLICKR_DEEP_METADATA_ENABLED": False})
    assert "flickr.photos.getInfo" not in [m for m, _ in calls(off.call(_photo_page(off)))]


def test_a_tight_budget_keeps_the_deep_pass_for_the_end(flickr, tmp_path):
    """When the hourly budget cannot hold the whole run, no getInfo is asked at listing time
    (the deep pass waits for spider_idle)."""
    settings = {"FLICKR_API_CALLS_PER_HOUR": 50,
                "FLICKR_API_BUDGET_FILE": str(tmp_path / "budget.json")}  # fmt: skip
    run = Run(flickr, PhotostreamSpider, tmp_path / "a", settings)
    out = run.call(_photo_page(run))
    assert "flickr.photos.getInfo" not in [m for m, _ in calls(out)]
    assert len([i for i in items(out) if isinstance(i, PhotoItem)]) == len(_listed(flickr))


def test_getinfo_asks_people_only_where_it_says_there_are_some(flickr, tmp_path):
    run = Run(flickr, PhotostreamSpider, tmp_path / "a")
    out = run.call(_photo_page(run))
    info = {calls([r])[0][1]["photo_id"]: r for r in out if isinstance(r, scrapy.Request)
            and method(r) == "flickr.photos.getInfo"}  # fmt: skip
    with_people = [p for p in _listed(flickr) if p.people]
    without = [p for p in _listed(flickr) if not p.people]
    assert with_people
    assert without
    for photo in with_people:
        (people,) = run.call(info[photo.id])
        assert calls([people]) == [("flickr.photos.people.getList", {"photo_id": photo.id})]
        assert people.priority == -10
        (item,) = run.call(people)
        assert isinstance(item, PhotoInfoItem)
        assert item.photo_id == photo.id
        assert sorted(p.nsid for p in item.people) == sorted(p.nsid for p in photo.people)
    for photo in without:
        (item,) = run.call(info[photo.id])
        assert isinstance(item, PhotoInfoItem)
        assert (item.photo_id, item.people) == (photo.id, [])
        assert sorted(t.raw for t in item.tags) == sorted(t.raw for t in photo.tags)


def test_the_photostream_is_paged_until_its_last_page(flickr, tmp_path):
    run = Run(flickr, PhotostreamSpider, tmp_path / "a",
              {"FLICKR_API_PER_PAGE": 5, "FLICKR_DEEP_METADATA_ENABLED": False})  # fmt: skip
    photos = _listed(flickr)
    pages = math.ceil(len(photos) / 5)
    assert pages == 4
    request = _photo_page(run)
    seen = []
    for page in range(1, pages + 1):
        assert calls([request])[0][1]["page"] == str(page)
        assert calls([request])[0][1]["per_page"] == "5"
        out = run.call(request)
        photo_items = [i for i in items(out) if isinstance(i, PhotoItem)]
        assert [i.id for i in photo_items] == [p.id for p in photos[5 * (page - 1) : 5 * page]]
        seen += photo_items
        listing_calls = [r for r in out if isinstance(r, scrapy.Request)
                         and method(r) == "flickr.people.getPhotos"]  # fmt: skip
        if page < pages:
            (request,) = listing_calls
            assert request.priority == 10
            assert not [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
        else:
            assert listing_calls == []
            (end,) = [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
    assert [i.id for i in seen] == [p.id for p in photos]
    assert (end.complete, end.sweep, end.owner) == (True, True, flickr.owner)
    assert end.photo_ids == [p.id for p in photos]


def test_an_album_is_paged_and_yielded_once_with_every_photo_in_order(flickr, tmp_path):
    run = Run(flickr, PhotostreamSpider, tmp_path / "a", {"FLICKR_API_PER_PAGE": 1})
    out = listing(run)
    albums = [i for i in out if isinstance(i, AlbumItem)]
    live = [a for a in flickr.world.albums if not a.deleted]
    assert sorted(a.id for a in albums) == sorted(a.id for a in live)
    for album in live:
        (item,) = [a for a in albums if a.id == album.id]
        assert item.photo_ids == album.photo_ids
        assert len(item.raw["flickr.photosets.getPhotos"]) == len(album.photo_ids)
    assert any(len(a.photo_ids) > 1 for a in live)
    album_calls = flickr.asked.count("flickr.photosets.getPhotos")
    assert album_calls == sum(max(1, len(a.photo_ids)) for a in live)


def test_each_photo_item_knows_its_albums_in_album_order(flickr, tmp_path):
    run = Run(flickr, PhotostreamSpider, tmp_path / "a", {"FLICKR_DEEP_METADATA_ENABLED": False})
    out = listing(run)
    photos = {i.id: i for i in items(out) if isinstance(i, PhotoItem)}
    live = [a for a in flickr.world.albums if not a.deleted]
    for photo_id, item in photos.items():
        expected = [(a.id, a.photo_ids.index(photo_id) + 1) for a in live
                    if photo_id in a.photo_ids]  # fmt: skip
        assert [(ref.id, ref.position) for ref in item.albums] == expected


def test_faves_are_paged_50_at_a_time_into_one_item(flickr, tmp_path):
    photo = _listed(flickr)[0]
    flickr.world.apply([{"op": "add_fave", "photo_id": photo.id}
                        for _ in range(70 - len(photo.faves))])  # fmt: skip
    assert len(photo.faves) == 70
    run = Run(flickr, PhotostreamSpider, tmp_path / "a", {"FLICKR_DEEP_METADATA_ENABLED": False})
    out = run.call(_photo_page(run))
    (request,) = [r for r in out if isinstance(r, scrapy.Request)
                  and method(r) == "flickr.photos.getFavorites"
                  and calls([r])[0][1]["photo_id"] == photo.id]  # fmt: skip
    for page in (1, 2):
        assert calls([request])[0][1] == {"page": str(page), "per_page": "50",
                                          "photo_id": photo.id}  # fmt: skip
        out = run.call(request)
        if page < 2:
            (request,) = out
    (item,) = out
    assert isinstance(item, FavesItem)
    assert item.photo_id == photo.id
    assert [f.nsid for f in item.faves] == [f.nsid for f in photo.faves]


def test_comments_answer_becomes_one_item(flickr, tmp_path):
    photo = next(p for p in _listed(flickr) if len(p.comments) > 1)
    run = Run(flickr, PhotostreamSpider, tmp_path / "a", {"FLICKR_DEEP_METADATA_ENABLED": False})
    out = run.call(_photo_page(run))
    (request,) = [r for r in out if isinstance(r, scrapy.Request)
                  and method(r) == "flickr.photos.comments.getList"
                  and calls([r])[0][1]["photo_id"] == photo.id]  # fmt: skip
    (item,) = run.call(request)
    assert isinstance(item, CommentsItem)
    assert [c.id for c in item.comments] == [c.id for c in photo.comments]


def test_a_video_without_its_original_in_the_list_asks_getsizes(flickr, tmp_path):
    """The list gives the owner's video original (originalsecret): no call. Without it,
    getSizes is asked instead of the item, and the item comes with that answer."""
    video = next(p for p in _listed(flickr) if p.media == "video")
    run = Run(flickr, PhotostreamSpider, tmp_path / "a", {"FLICKR_DEEP_METADATA_ENABLED": False})
    out = run.call(_photo_page(run))
    assert "flickr.photos.getSizes" not in [m for m, _ in calls(out)]
    (item,) = [i for i in items(out) if getattr(i, "id", None) == video.id]
    assert item.source is not None
    assert item.source.label == "Video Original"

    video.originalsecret = ""  # the list stops giving it (as for a video not yet processed)
    run = Run(flickr, PhotostreamSpider, tmp_path / "b", {"FLICKR_DEEP_METADATA_ENABLED": False})
    out = run.call(_photo_page(run))
    assert [i for i in items(out) if getattr(i, "id", None) == video.id] == []
    (sizes,) = [r for r in out if isinstance(r, scrapy.Request)
                and method(r) == "flickr.photos.getSizes"]  # fmt: skip
    assert calls([sizes]) == [("flickr.photos.getSizes", {"photo_id": video.id})]
    (item,) = run.call(sizes)
    assert isinstance(item, PhotoItem)
    assert item.id == video.id
    assert "flickr.photos.getSizes" in item.raw


@pytest.mark.parametrize("spider_arg", [{}, {"since": "2001-01-01"}])
def test_the_listing_asks_in_this_order(flickr, tmp_path, spider_arg):
    """collections, galleries (and each gallery's photos), albums (and each album's photos),
    then the photostream: each photo item already knows its albums and galleries."""
    run = Run(flickr, PhotostreamSpider, tmp_path / "a", {"FLICKR_DEEP_METADATA_ENABLED": False},
              **spider_arg)  # fmt: skip
    listing(run)
    order = list(dict.fromkeys(flickr.asked))
    assert order == [
        "flickr.collections.getTree",
        "flickr.galleries.getList",
        "flickr.galleries.getPhotos",
        "flickr.photosets.getList",
        "flickr.photosets.getPhotos",
        "flickr.people.getPhotos",
    ]
    assert flickr.asked.count("flickr.galleries.getPhotos") == len(flickr.world.galleries)
    if spider_arg:
        (first,) = [r for r in listing_until(run, "flickr.people.getPhotos")]
        assert calls([first])[0][1]["min_upload_date"] == "978307200"
