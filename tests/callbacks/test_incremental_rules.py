"""The incremental decisions: what a run asks for and yields given what catalog.db knows.

A first run's items go through the real CatalogPipeline into a real catalog.db in tmp_path;
the next run's spider reads it in ``from_crawler``, as ``scrapy crawl`` does.
"""

from __future__ import annotations

import scrapy

from flickr_crawl.items import AlbumItem, OldAlbumFolderItem, PhotoItem, PhotostreamListedItem
from spiders.photostream import PhotostreamSpider
from tests.callbacks.harness import Run, calls, complete, first_run, items, listing, method

PER_PHOTO = {"flickr.photos.comments.getList", "flickr.photos.getFavorites",
             "flickr.photos.getInfo", "flickr.photos.people.getList"}  # fmt: skip


def _owned(flickr):
    return [p for p in flickr.world.photos.values() if p.owner == flickr.owner and not p.deleted]


def _photos(out):
    return [i for i in items(out) if isinstance(i, PhotoItem)]


def test_a_second_run_lists_only_changes_and_spends_no_per_photo_call(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive)
    run = Run(flickr, PhotostreamSpider, archive)
    assert run.spider.mode == "incremental"
    start = len(flickr.asked)
    out = listing(run)
    assert flickr.asked[start:] == [
        "flickr.collections.getTree", "flickr.galleries.getList", "flickr.photosets.getList",
        "flickr.people.getPhotos", "flickr.photos.recentlyUpdated", "flickr.activity.userPhotos",
    ]  # fmt: skip
    assert calls(out) == []
    assert _photos(out) == []
    (end,) = [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
    assert (end.complete, end.sweep) == (True, True)  # its one page was the whole photostream
    assert run.stats["flickr/photo/unchanged"] == len(_owned(flickr))
    assert run.stats["flickr/album/unchanged"] == len(flickr.world.albums)


def test_the_changes_are_asked_since_the_last_run_less_the_overlap(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive)
    watermark = Run(flickr, PhotostreamSpider, archive).spider.view.watermark
    assert watermark > 0
    run = Run(flickr, PhotostreamSpider, archive, {"FLICKR_SYNC_OVERLAP": 600})
    (request,) = _requests_of(run, "flickr.photos.recentlyUpdated")
    assert calls([request])[0][1]["min_date"] == str(watermark - 600)
    assert calls([request])[0][1]["page"] == "1"


def _requests_of(run, wanted):
    """Follow the listing chain from start(); the Requests of method ``wanted`` it makes."""
    found, pending = [], run.start()
    while pending:
        request = pending.pop(0)
        if method(request) == wanted:
            found.append(request)
            continue
        pending += [o for o in run.call(request) if isinstance(o, scrapy.Request)
                    and method(o) not in PER_PHOTO]  # fmt: skip
    return found


def test_a_new_comment_and_a_new_fave_cost_exactly_their_calls(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive)
    photos = sorted(_owned(flickr), key=lambda p: p.id)
    commented = next(p for p in photos if not p.comments)
    faved = next(p for p in photos if p.faves)
    flickr.world.apply([{"op": "add_comment", "photo_id": commented.id, "text": "new"},
                        {"op": "add_fave", "photo_id": faved.id}])  # fmt: skip
    run = Run(flickr, PhotostreamSpider, archive)
    out = listing(run)
    assert sorted(i.id for i in _photos(out)) == sorted([commented.id, faved.id])
    # no getInfo: the comment moved the lastupdate, and recent activity says it alone did
    assert sorted(calls(out), key=str) == sorted([
        ("flickr.photos.comments.getList", {"photo_id": commented.id}),
        ("flickr.photos.getFavorites", {"page": "1", "per_page": "50", "photo_id": faved.id}),
    ], key=str)  # fmt: skip
    assert run.stats["flickr/photo/updated"] == 1  # the commented one: a new lastupdate
    assert run.stats["flickr/photo/unchanged"] == len(photos) - 1


def test_full_asks_everything_again(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive)
    run = Run(flickr, PhotostreamSpider, archive, full="1")
    assert run.spider.mode == "sweep"
    out = listing(run)
    photos = _owned(flickr)
    assert sorted(i.id for i in _photos(out)) == sorted(p.id for p in photos)
    asked = [m for m, _ in calls(out)]
    assert asked.count("flickr.photos.getInfo") == len(photos)
    assert asked.count("flickr.photos.comments.getList") == sum(1 for p in photos if p.comments)
    assert asked.count("flickr.photos.getFavorites") == sum(1 for p in photos if p.faves)


def test_a_due_sweep_lists_every_photo_but_asks_nothing_for_unchanged_ones(flickr, tmp_path):
    archive = tmp_path / "a"
    paged = {"FLICKR_API_PER_PAGE": 5}  # 17 photos: an incremental run reads only page 1
    first_run(flickr, archive, **paged)
    between = Run(flickr, PhotostreamSpider, archive, paged)
    between.save(listing(between))  # an incremental run: the next sweep is due after 1
    run = Run(flickr, PhotostreamSpider, archive, {**paged, "FLICKR_SWEEP_EVERY": 1})
    assert run.spider.mode == "sweep"
    out = listing(run)
    assert sorted(i.id for i in _photos(out)) == sorted(p.id for p in _owned(flickr))
    assert calls(out) == []
    (end,) = [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
    assert (end.complete, end.sweep) == (True, True)


def test_a_photo_gone_from_flickr_is_left_out_of_a_complete_sweep(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive)
    gone = min(_owned(flickr), key=lambda p: p.id)
    flickr.world.apply([{"op": "delete_photo", "id": gone.id}])
    run = Run(flickr, PhotostreamSpider, archive, {"FLICKR_SWEEP_EVERY": 1})
    out = listing(run)
    (end,) = [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
    assert (end.complete, end.sweep) == (True, True)
    assert sorted(end.photo_ids) == sorted(p.id for p in _owned(flickr))
    assert gone.id not in end.photo_ids


def test_an_incremental_run_sweeps_when_the_count_shows_photos_gone(flickr, tmp_path):
    """The account's total is lower than the catalog's: only a full listing tells which are
    gone, so the incremental run walks every page."""
    archive = tmp_path / "a"
    first_run(flickr, archive, FLICKR_API_PER_PAGE=5)
    gone = min(_owned(flickr), key=lambda p: p.id)
    flickr.world.apply([{"op": "delete_photo", "id": gone.id}])
    run = Run(flickr, PhotostreamSpider, archive, {"FLICKR_API_PER_PAGE": 5})
    assert run.spider.mode == "incremental"
    start = len(flickr.asked)
    out = listing(run)
    assert flickr.asked[start:].count("flickr.people.getPhotos") == 4  # 16 photos, 5 a page
    (end,) = [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
    assert end.sweep is True
    assert gone.id not in end.photo_ids


def test_only_a_changed_album_is_listed_again(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive)
    album = flickr.world.albums[2]  # its title is unique: no other album's folder changes
    flickr.world.apply([{"op": "rename_album", "id": album.id, "title": "Renamed"}])
    run = Run(flickr, PhotostreamSpider, archive)
    out = listing(run)
    start = flickr.asked.index("flickr.photosets.getList", len(flickr.asked) - 8)
    assert flickr.asked[start:].count("flickr.photosets.getPhotos") == 1
    (item,) = [i for i in items(out) if isinstance(i, AlbumItem)]
    assert (item.id, item.title, item.photo_ids) == (album.id, "Renamed", album.photo_ids)
    (old,) = [i for i in items(out) if isinstance(i, OldAlbumFolderItem)]
    assert (old.id, old.deleted) == (album.id, False)
    assert "Renamed" in item.folder
    assert "Renamed" not in old.folder


def test_comments_and_faves_never_stored_are_asked_again(flickr, tmp_path):
    """A run that listed the photos but never got their comments or faves (interrupted, or
    the calls failed) leaves them unknown: the next run asks for them although the counts
    are the same."""
    archive = tmp_path / "a"
    first = Run(flickr, PhotostreamSpider, archive, {"FLICKR_DEEP_METADATA_ENABLED": False})
    first.save(listing(first))  # the listing only: no per-photo answer stored
    run = Run(flickr, PhotostreamSpider, archive, {"FLICKR_DEEP_METADATA_ENABLED": False})
    out = listing(run)
    photos = _owned(flickr)
    asked = [(m, q["photo_id"]) for m, q in calls(out)]
    assert sorted(asked) == sorted(
        [("flickr.photos.comments.getList", p.id) for p in photos if p.comments]
        + [("flickr.photos.getFavorites", p.id) for p in photos if p.faves]
    )
    assert sorted(i.id for i in _photos(out)) == sorted(
        p.id for p in photos if p.comments or p.faves
    )


def test_every_nth_run_sweeps_the_whole_photostream(flickr, tmp_path):
    """FLICKR_SWEEP_EVERY=2: after a sweep, two incremental runs, then a sweep again; -a full=1
    sweeps whenever asked. (Each run stored through the real catalog pipeline.)"""
    archive = tmp_path / "a"
    settings = {"FLICKR_SWEEP_EVERY": 2, "FLICKR_API_PER_PAGE": 5}  # 17 photos: 4 pages
    modes, pages = [], []
    for _ in range(4):
        run = Run(flickr, PhotostreamSpider, archive, settings)
        start = len(flickr.asked)
        run.save(listing(run))
        modes.append(run.stats["flickr/listing/mode"])
        pages.append(flickr.asked[start:].count("flickr.people.getPhotos"))
    assert modes == ["sweep", "incremental", "incremental", "sweep"]
    assert pages == [4, 1, 1, 4]
    full = Run(flickr, PhotostreamSpider, archive, settings, full="1")
    assert full.spider.mode == "sweep"


def test_photos_are_counted_new_updated_and_unchanged(flickr, tmp_path):
    """The counts the run summary shows (photos_new, _updated, _unchanged)."""
    archive = tmp_path / "a"
    first = Run(flickr, PhotostreamSpider, archive)
    complete(first)
    photos = _owned(flickr)
    assert first.stats["flickr/photo/new"] == len(photos)
    assert "flickr/photo/updated" not in first.stats
    edited = min(photos, key=lambda p: p.id)
    flickr.world.apply([{"op": "edit_photo", "id": edited.id, "title": "A new title"}])
    run = Run(flickr, PhotostreamSpider, archive)
    out = listing(run)
    assert "flickr/photo/new" not in run.stats
    assert run.stats["flickr/photo/updated"] == 1
    assert run.stats["flickr/photo/unchanged"] == len(photos) - 1
    (item,) = _photos(out)
    assert (item.id, item.title) == (edited.id, "A new title")
