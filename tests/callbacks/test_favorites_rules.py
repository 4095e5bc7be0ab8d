"""The favorites spider's rules, callback by callback, against sandbox answers."""

from __future__ import annotations

import math

import scrapy

from flickr_crawl.items import FavoriteItem, FavoritesListedItem, PhotoItem
from spiders.favorites import FavoritesSpider
from tests.callbacks.harness import Run, calls, method

LIST = "flickr.favorites.getList"


def _faves(flickr):
    """The owner's faves the owner may see, newest first (what favorites.getList lists)."""
    listed = flickr.payload(LIST, user_id=flickr.owner, per_page=500)["photos"]["photo"]
    return [f for f in flickr.world.owner_faves if f.photo_id in {p["id"] for p in listed}]


def _walk(run, follow=(LIST,)):
    """Every Request of a ``follow`` method from start() on, answered in turn: what else
    was yielded."""
    out, pending = [], run.start()
    while pending:
        request = pending.pop(0)
        made = run.call(request)
        pending += [r for r in made if isinstance(r, scrapy.Request) and method(r) in follow]
        out += [o for o in made if not (isinstance(o, scrapy.Request) and method(o) in follow)]
    return out


def test_a_first_run_lists_every_fave_page_by_page(flickr, tmp_path):
    run = Run(flickr, FavoritesSpider, tmp_path / "a",
              {"FLICKR_API_PER_PAGE": 4, "FLICKR_DEEP_METADATA_ENABLED": False})  # fmt: skip
    (first,) = run.start()
    query = calls([first])[0][1]
    assert "min_fave_date" not in query  # no watermark yet: everything
    assert (query["page"], query["per_page"], query["user_id"]) == ("1", "4", flickr.owner)
    assert int(query["max_fave_date"]) == run.spider.until
    faves = _faves(flickr)
    pages = math.ceil(len(faves) / 4)
    assert pages >= 2
    made = run.call(first)
    # the next page is asked before anything else of this page
    assert calls(made[:1]) == [(LIST, {**query, "page": "2"})]
    run = Run(flickr, FavoritesSpider, tmp_path / "b",
              {"FLICKR_API_PER_PAGE": 4, "FLICKR_DEEP_METADATA_ENABLED": False})  # fmt: skip
    asked = len(flickr.asked)
    out = _walk(run)
    assert flickr.asked[asked:] == [LIST] * pages
    listed = [i for i in out if isinstance(i, FavoriteItem)]
    assert [i.photo_id for i in listed] == [f.photo_id for f in faves]
    assert [i.date_faved_unix for i in listed] == [f.date_faved for f in faves]
    (end,) = [i for i in out if isinstance(i, FavoritesListedItem)]
    assert (end.complete, end.full) == (True, True)
    assert end.photo_ids == [f.photo_id for f in faves]
    assert end.watermark == max(f.date_faved for f in faves)


def test_someone_elses_fave_gets_its_calls_and_an_own_photo_none(flickr, tmp_path):
    own = next(p for p in flickr.world.photos.values()
               if p.owner == flickr.owner and p.comments and not p.deleted)  # fmt: skip
    flickr.world.apply([{"op": "owner_fave", "photo_id": own.id}])
    run = Run(flickr, FavoritesSpider, tmp_path / "a", {"FLICKR_DEEP_METADATA_ENABLED": False})
    out = _walk(run)
    favorites = {i.photo_id: i for i in out if isinstance(i, FavoriteItem)}
    assert favorites[own.id].stored_as == "own"
    photos = [i for i in out if isinstance(i, PhotoItem)]
    assert own.id not in [p.id for p in photos]  # stored once, in the photostream
    assert own.id not in [q.get("photo_id") for _, q in calls(out)]
    others = [f.photo_id for f in _faves(flickr) if f.photo_id != own.id]
    assert [p.id for p in photos] == others
    assert all(favorites[i].stored_as == "favorite" for i in others)
    expected = []
    for photo_id in others:
        photo = flickr.world.photos[photo_id]
        if photo.comments:
            expected.append(("flickr.photos.comments.getList", {"photo_id": photo_id}))
        if photo.faves:
            expected.append(("flickr.photos.getFavorites",
                             {"page": "1", "per_page": "50", "photo_id": photo_id}))  # fmt: skip
    assert calls(out) == expected
    assert run.stats["flickr/favorites/own"] == 1


def test_the_next_run_asks_only_faves_since_the_newest_one(flickr, tmp_path):
    archive = tmp_path / "a"
    first = Run(flickr, FavoritesSpider, archive, {"FLICKR_DEEP_METADATA_ENABLED": False})
    everything = (LIST, "flickr.photos.comments.getList", "flickr.photos.getFavorites")
    first.save(_walk(first, everything))
    newest = max(f.date_faved for f in _faves(flickr))
    run = Run(flickr, FavoritesSpider, archive, {"FLICKR_DEEP_METADATA_ENABLED": False})
    (request,) = run.start()
    assert calls([request])[0][1]["min_fave_date"] == str(newest)
    out = _walk(run)
    (end,) = [i for i in out if isinstance(i, FavoritesListedItem)]
    assert (end.complete, end.full, end.watermark) == (True, False, newest)
    # the boundary fave is listed again (inclusive), found known: no per-photo call for it
    assert [i.photo_id for i in out if isinstance(i, FavoriteItem)] == [_faves(flickr)[0].photo_id]
    assert calls(out) == []
    full = Run(flickr, FavoritesSpider, archive, full="1")
    (request,) = full.start()
    assert "min_fave_date" not in calls([request])[0][1]
