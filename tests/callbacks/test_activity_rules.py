"""Recent activity (flickr.activity.userPhotos): when an incremental run asks, back to when,
page by page, which photos get which parts fetched again, and when a run sweeps instead.

A first run's items go through the real CatalogPipeline into a real catalog.db; the sync_state
a test moves back in time is what an earlier run would have left there.
"""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
import scrapy

from flickr_crawl.extensions.report import summary_lines
from flickr_crawl.flickr.api import activity_timeframe
from flickr_crawl.items import (
    ActivityPolledItem,
    CommentsItem,
    FavesItem,
    InfoOwedItem,
    PhotoItem,
    PhotostreamListedItem,
)
from flickr_crawl.sandbox.rest import ApiError, Caller, Rest
from flickr_crawl.sandbox.server import flickr_json
from flickr_crawl.sandbox.world import World
from spiders.photostream import ACTIVITY_MAX_GAP, PhotostreamSpider
from tests.callbacks.harness import (
    LISTING,
    Flickr,
    Run,
    calls,
    complete,
    fail_body,
    first_run,
    items,
    listing,
    method,
    respond,
)

ACTIVITY = "flickr.activity.userPhotos"
PAGED = {"FLICKR_API_PER_PAGE": 5}  # 17 photos: an incremental run lists only the newest 5
BEFORE_ACTIVITY = [m for m in LISTING if m != ACTIVITY]


def _owned_oldest_first(flickr):
    own = [p for p in flickr.world.photos.values() if p.owner == flickr.owner and not p.deleted]
    return sorted(own, key=lambda p: p.dateupload)


def _activity_request(run):
    """Follow the listing from start() up to its flickr.activity.userPhotos request (None if
    the run does not ask), answering everything before it."""
    pending = list(run.start())
    while pending:
        request = pending.pop(0)
        if method(request) == ACTIVITY:
            return request
        if method(request) in BEFORE_ACTIVITY:
            pending += [o for o in run.call(request) if isinstance(o, scrapy.Request)]
    return None


def _set_state(archive, **state):
    with sqlite3.connect(archive / "catalog.db") as db:
        for key, value in state.items():
            db.execute(
                "INSERT INTO sync_state (key, value, updated_at) VALUES (?, ?, '')"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key.replace("__", "."), str(value)),
            )


def _state(archive):
    with sqlite3.connect(archive / "catalog.db") as db:
        return dict(db.execute("SELECT key, value FROM sync_state").fetchall())


def test_the_timeframe_is_whole_hours_then_whole_days_never_short():
    assert activity_timeframe(0) == "1h"
    assert activity_timeframe(3600) == "1h"
    assert activity_timeframe(3601) == "2h"
    assert activity_timeframe(48 * 3600) == "48h"
    assert activity_timeframe(48 * 3600 + 1) == "3d"
    assert activity_timeframe(30 * 86400) == "30d"


def test_a_sweep_does_not_ask_but_the_next_incremental_run_does(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive)
    assert ACTIVITY not in flickr.asked  # the first run compared every photo's counts
    run = Run(flickr, PhotostreamSpider, archive, {"FLICKR_SYNC_OVERLAP": 600})
    request = _activity_request(run)
    assert request is not None
    query = calls([request])[0][1]
    assert (query["page"], query["per_page"]) == ("1", "50")  # Flickr's maximum
    # back to the start of the last clean run (the sweep), less the overlap: 10 minutes and
    # the few seconds since, in whole hours
    watermark = int(_state(archive)["photostream.watermark"])
    assert query["timeframe"] == activity_timeframe(int(time.time()) - (watermark - 600))
    assert query["timeframe"] == "1h"


def test_the_timeframe_reaches_back_to_the_last_run_that_read_the_activity(flickr, tmp_path):
    """A run within the interval did not ask: the next one reaches back past it, to the last
    run whose activity was read, not merely to the last clean run."""
    archive = tmp_path / "a"
    first_run(flickr, archive)
    now = int(time.time())
    _set_state(archive, photostream__watermark=now - 3600, activity__watermark=now - 5 * 3600)
    overlap = {"FLICKR_SYNC_OVERLAP": 600}
    request = _activity_request(Run(flickr, PhotostreamSpider, archive, overlap))
    assert calls([request])[0][1]["timeframe"] == "6h"  # 5 h, 10 min overlap, and seconds
    _set_state(archive, activity__watermark=now - 3 * 86400)
    request = _activity_request(Run(flickr, PhotostreamSpider, archive, overlap))
    assert calls([request])[0][1]["timeframe"] == "4d"  # beyond two days: whole days


def test_not_asked_within_the_interval_of_the_last_call(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive, **PAGED)
    hourly = {"FLICKR_ACTIVITY_MIN_INTERVAL": 3600, **PAGED}
    run = Run(flickr, PhotostreamSpider, archive, hourly)
    out = listing(run)
    polled = [i for i in items(out) if isinstance(i, ActivityPolledItem)]
    assert len(polled) == 1
    assert flickr.asked.count(ACTIVITY) == 1
    run.save(out)  # the call is recorded at once (and this run finished cleanly)
    assert abs(int(_state(archive)["activity.last_call"]) - time.time()) < 60
    # minutes later: the hour has not passed, so this run does not ask, and moves no
    # activity watermark (the next run that asks reaches back to the last one that did)
    again = Run(flickr, PhotostreamSpider, archive, hourly)
    out = listing(again)
    assert flickr.asked.count(ACTIVITY) == 1
    (end,) = [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
    assert end.activity_watermark == 0
    assert end.watermark > 0
    # an hour later it asks again
    _set_state(archive, activity__last_call=int(time.time()) - 3600)
    assert _activity_request(Run(flickr, PhotostreamSpider, archive, hourly)) is not None


def test_a_new_fave_on_a_photo_the_listing_leaves_alone_is_fetched(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive, **PAGED)
    old = _owned_oldest_first(flickr)[0]  # not on the newest page; its lastupdate stays
    result = flickr.world.apply([{"op": "add_fave", "photo_id": old.id}])
    faver = result["results"][0]["user"]
    run = Run(flickr, PhotostreamSpider, archive, PAGED)
    out = complete(run)
    assert flickr.asked[-2:] == [ACTIVITY, "flickr.photos.getFavorites"]
    photos = [i for i in out if isinstance(i, PhotoItem)]
    assert [p.id for p in photos] == [old.id]  # rebuilt from catalog.db, its counts now
    assert photos[0].count_faves == len(old.faves)
    (faves,) = [i for i in out if isinstance(i, FavesItem)]
    assert faver in [f.nsid for f in faves.faves]
    assert not [i for i in out if isinstance(i, CommentsItem)]  # no comment event, no call
    with sqlite3.connect(archive / "catalog.db") as db:
        assert db.execute("SELECT COUNT(*) FROM faves WHERE photo_id = ? AND nsid = ?",
                          (old.id, faver)).fetchone() == (1,)  # fmt: skip
    assert run.stats["flickr/activity/photos"] == 1
    assert run.stats["flickr/photo/updated"] == 1


def _answer(items_, page=1, pages=1):
    return flickr_json({"items": {"item": items_, "page": page, "pages": pages, "perpage": 50,
                                  "total": str(len(items_))}, "stat": "ok"})  # fmt: skip


def _item(photo, owner, *events, more=0, kind="photo", **counts):
    return {
        "type": kind, "id": photo.id, "owner": owner, "secret": photo.secret,
        "server": photo.server, "farm": photo.farm, "title": {"_content": photo.title},
        "more": more, **{k: str(v) for k, v in counts.items()},
        "activity": {"event": [{"type": t, "user": "1@N01", "username": "x",
                                "dateadded": str(int(time.time()))} for t in events]},
    }  # fmt: skip


def test_the_events_decide_which_parts_are_fetched_again(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive, **PAGED)
    old = _owned_oldest_first(flickr)
    me = flickr.owner
    someone_elses = next(p for p in flickr.world.photos.values() if p.owner != me)
    answer = _answer([
        _item(old[0], me, "comment"),
        _item(old[1], me, "fave"),
        _item(old[2], me, "note"),
        _item(old[3], me, "fave", more=1),  # more events than shown: anything may be new
        _item(old[4], me, "tag"),  # a kind we do not know: comments and faves
        _item(old[5], me, "comment", faves=len(old[5].faves) + 1),  # its fave count moved
        _item(old[6], me, "comment", kind="photoset"),  # an album's comments
        _item(someone_elses, someone_elses.owner, "fave"),
    ])  # fmt: skip
    run = Run(flickr, PhotostreamSpider, archive, PAGED)
    request = _activity_request(run)
    out = run.call(request, respond(request, answer))
    asked = {(m, q["photo_id"]) for m, q in calls(out)}
    assert asked == {
        ("flickr.photos.comments.getList", old[0].id),
        ("flickr.photos.getFavorites", old[1].id),
        ("flickr.photos.getInfo", old[2].id),  # notes come only with getInfo
        ("flickr.photos.comments.getList", old[3].id),
        ("flickr.photos.getFavorites", old[3].id),
        ("flickr.photos.getInfo", old[3].id),
        ("flickr.photos.comments.getList", old[4].id),
        ("flickr.photos.getFavorites", old[4].id),
        ("flickr.photos.comments.getList", old[5].id),
        ("flickr.photos.getFavorites", old[5].id),
    }
    rebuilt = sorted(i.id for i in items(out) if isinstance(i, PhotoItem))
    assert rebuilt == sorted(p.id for p in old[:6])
    (end,) = [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
    assert end.activity_watermark == run.spider.started  # read to its end


def test_a_photo_the_listing_emitted_gets_only_the_parts_it_was_not_asked(flickr, tmp_path):
    """A comment moved the photo's lastupdate: recentlyUpdated lists it and the counts ask for
    its comments. A fave removed and another added leave the count as it was: only the
    activity's fave event asks for the faves. The activity shows that the comment alone moved
    the lastupdate, so getInfo (notes, people, tag authors) is not asked again."""
    archive = tmp_path / "a"
    first_run(flickr, archive, **PAGED)
    photo = next(p for p in _owned_oldest_first(flickr) if p.faves)
    gone = photo.faves[0].nsid
    flickr.world.apply([{"op": "add_comment", "photo_id": photo.id, "text": "new"}])
    photo.faves = [f for f in photo.faves if f.nsid != gone]
    result = flickr.world.apply([{"op": "add_fave", "photo_id": photo.id}])
    run = Run(flickr, PhotostreamSpider, archive, PAGED)
    out = listing(run)
    asked = sorted((m, q["photo_id"]) for m, q in calls(out))
    assert asked == sorted([
        ("flickr.photos.comments.getList", photo.id),
        ("flickr.photos.getFavorites", photo.id),  # the activity's, once
    ])  # fmt: skip
    assert [i.id for i in items(out) if isinstance(i, PhotoItem)] == [photo.id]
    assert result["results"][0]["user"] != gone
    assert run.stats["flickr/deep/skipped/comments_only"] == 1
    assert photo.id in run.spider.deep_done  # its deep metadata stays as stored
    assert "flickr.photos.getInfo" not in flickr.asked[-3:]


def _commented_again(flickr, tmp_path, change):
    """A first run, then a new comment on an old photo (with notes, when ``change`` needs
    them) and ``change(photo)``; the second run's listing: the per-photo calls it asks."""
    archive = tmp_path / "a"
    first_run(flickr, archive, **PAGED)
    photo = next(p for p in _owned_oldest_first(flickr) if p.notes)
    flickr.world.apply([{"op": "add_comment", "photo_id": photo.id, "text": "new"}])
    change(photo)
    run = Run(flickr, PhotostreamSpider, archive, PAGED)
    out = listing(run)
    return photo, run, sorted((m, q["photo_id"]) for m, q in calls(out))


def test_a_deleted_note_beside_a_new_comment_still_gets_getinfo(flickr, tmp_path):
    """No event tells of a deleted note: the activity's notes count, lower than the notes
    catalog.db holds, does, and getInfo is asked."""

    def delete_a_note(photo):
        photo.notes = photo.notes[1:]

    photo, run, asked = _commented_again(flickr, tmp_path, delete_a_note)
    assert ("flickr.photos.getInfo", photo.id) in asked
    assert "flickr/deep/skipped/comments_only" not in run.stats


def test_a_change_after_the_newest_comment_still_gets_getinfo(flickr, tmp_path):
    """A minute after the comment the owner forbids downloads, which only getInfo says
    (``usage``): the lastupdate is newer than the comment, so the comment does not explain
    it, and getInfo is asked."""

    def forbid_downloads(photo):
        photo.can_download = not photo.can_download
        photo.lastupdate += 60

    photo, run, asked = _commented_again(flickr, tmp_path, forbid_downloads)
    assert ("flickr.photos.getInfo", photo.id) in asked
    assert "flickr/deep/skipped/comments_only" not in run.stats


def test_a_title_edit_beside_a_new_comment_still_gets_getinfo(flickr, tmp_path):
    """The title changed too (the list entry says so): getInfo is asked, even when the
    comment came after the edit."""

    def retitle(photo):
        photo.title = "A new title"
        photo.comments[-1].datecreate = photo.lastupdate  # the comment is the newest change

    photo, run, asked = _commented_again(flickr, tmp_path, retitle)
    assert ("flickr.photos.getInfo", photo.id) in asked
    assert "flickr/deep/skipped/comments_only" not in run.stats


def test_when_getinfo_waits_for_the_deep_pass_the_activity_still_decides(flickr, tmp_path):
    """An hourly budget too small for the whole run: getInfo waits for the deep pass after
    everything else. It asks for the retitled photo, not for the one new comments alone
    changed."""
    archive = tmp_path / "a"
    first_run(flickr, archive, **PAGED)
    commented, edited = _owned_oldest_first(flickr)[:2]
    flickr.world.apply([
        {"op": "add_comment", "photo_id": commented.id, "text": "new"},
        {"op": "edit_photo", "id": edited.id, "title": "Retitled"},
    ])  # fmt: skip
    run = Run(flickr, PhotostreamSpider, archive, {"FLICKR_API_CALLS_PER_HOUR": 10, **PAGED})
    out = listing(run)
    assert not run.spider.deep_early
    assert "flickr.photos.getInfo" not in [m for m, _ in calls(out)]
    assert run.spider.deep_wanted() == [edited.id]
    assert run.stats["flickr/deep/skipped/comments_only"] == 1


def test_a_skipped_getinfo_is_owed_and_the_next_sweep_asks_it(flickr, tmp_path):
    """A person tagged (lastupdate unmoved) then a comment: the run that skips getInfo
    records the debt (an item the catalog stores). The next sweep asks that getInfo and no
    other: early when the budget has room for the whole run, else in the deep pass."""
    archive = tmp_path / "a"
    first_run(flickr, archive, **PAGED)
    photo = next(p for p in _owned_oldest_first(flickr) if not p.people)
    flickr.world.apply([
        {"op": "add_person", "photo_id": photo.id},
        {"op": "add_comment", "photo_id": photo.id, "text": "Is that you?"},
    ])  # fmt: skip
    first = len(flickr.asked)
    out = complete(Run(flickr, PhotostreamSpider, archive, PAGED))
    assert "flickr.photos.getInfo" not in flickr.asked[first:]
    owed = [i for i in out if isinstance(i, InfoOwedItem)]
    assert owed == [InfoOwedItem(photo_id=photo.id, last_update=photo.lastupdate)]

    sweep = {"FLICKR_SWEEP_EVERY": 1, **PAGED}
    run = Run(flickr, PhotostreamSpider, archive, sweep)
    assert run.spider.mode == "sweep"
    asked = [(m, q["photo_id"]) for m, q in calls(listing(run))]
    assert [a for a in asked if a[0] == "flickr.photos.getInfo"] == [
        ("flickr.photos.getInfo", photo.id)
    ]
    late = Run(flickr, PhotostreamSpider, archive, {**sweep, "FLICKR_API_CALLS_PER_HOUR": 10})
    assert "flickr.photos.getInfo" not in [m for m, _ in calls(listing(late))]
    assert not late.spider.deep_early
    assert late.spider.deep_wanted() == [photo.id]
    # An incremental run leaves the debt to the sweep: the photo is unchanged since.
    calm = Run(flickr, PhotostreamSpider, archive, PAGED)
    assert calm.spider.mode == "incremental"
    assert "flickr.photos.getInfo" not in [m for m, _ in calls(listing(calm))]
    assert calm.spider.deep_wanted() == []


def test_recent_activity_is_read_page_by_page(tmp_path):
    flickr = Flickr(World(seed=5, photos=70, videos=0, albums=2))
    archive = tmp_path / "a"
    first_run(flickr, archive, FLICKR_API_PER_PAGE=10)
    faved = _owned_oldest_first(flickr)[:55]  # more than the 50 one page holds
    flickr.world.apply([{"op": "add_fave", "photo_id": p.id} for p in faved])
    run = Run(flickr, PhotostreamSpider, archive, {"FLICKR_API_PER_PAGE": 10})
    request = _activity_request(run)
    first = run.call(request)
    (second,) = [o for o in first if isinstance(o, scrapy.Request)]
    assert method(second) == ACTIVITY
    assert calls([second])[0][1]["page"] == "2"
    assert items(first) == []  # nothing is fetched before the last page
    out = run.call(second)
    fetched = {q["photo_id"] for m, q in calls(out) if m == "flickr.photos.getFavorites"}
    assert fetched == {p.id for p in faved}


def test_a_failed_activity_call_is_recorded_and_moves_no_activity_watermark(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive, **PAGED)
    run = Run(flickr, PhotostreamSpider, archive, PAGED)
    request = _activity_request(run)
    out = run.call(request, respond(request, fail_body(116, "Bad URL found")))
    (end,) = [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
    assert end.activity_watermark == 0
    assert [p.kind for p in run.report.failures] == [ACTIVITY]


def test_a_gap_longer_than_trusted_sweeps_and_the_summary_says_so(flickr, tmp_path):
    archive = tmp_path / "a"
    first_run(flickr, archive, **PAGED)
    now = int(time.time())
    long_ago = now - ACTIVITY_MAX_GAP - 86400
    _set_state(archive, photostream__watermark=long_ago, activity__watermark=long_ago)
    run = Run(flickr, PhotostreamSpider, archive, PAGED)
    assert run.spider.mode == "sweep"
    out = listing(run)
    assert ACTIVITY not in flickr.asked
    (end,) = [i for i in items(out) if isinstance(i, PhotostreamListedItem)]
    assert (end.complete, end.sweep) == (True, True)
    assert end.activity_watermark == run.spider.started  # a sweep compared every count
    summary = run.report.summary("finished")
    assert "31 days ago" in summary["sweep_reason"]
    lines = summary_lines(json.loads(json.dumps(summary)))
    (said,) = [line for line in lines if line.startswith("Listed the whole photostream")]
    assert "flickr.activity.userPhotos" in said
    assert "30 days" in said


@pytest.fixture
def rest(flickr):
    polls = []
    return Rest(flickr.world, "http://sandbox.invalid/", on_poll=polls.append), polls


def _ask(flickr, rest, **query):
    caller = Caller(flickr.owner, flickr.world.api_key, {k: str(v) for k, v in query.items()})
    return rest.call(ACTIVITY, caller)["items"]


def test_the_sandbox_answers_activity_within_the_timeframe(flickr, rest):
    rest, polls = rest
    old = _owned_oldest_first(flickr)
    now = int(time.time())
    flickr.world.apply([
        {"op": "add_fave", "photo_id": old[0].id},
        {"op": "add_comment", "photo_id": old[1].id, "text": "hello <b>there</b>"},
        {"op": "add_note", "photo_id": old[2].id, "text": "a note", "author": old[0].owner},
        {"op": "add_fave", "photo_id": old[3].id, "date": now - 3 * 86400},
    ])  # fmt: skip
    hour = _ask(flickr, rest, timeframe="2h")
    assert {i["id"] for i in hour["item"]} == {
        old[0].id, old[1].id, old[2].id}  # fmt: skip
    by_id = {i["id"]: i for i in hour["item"]}
    comment = by_id[old[1].id]
    assert comment["type"] == "photo"
    assert comment["comments"] == str(len(old[1].comments))
    assert comment["title"] == {"_content": old[1].title}
    (event,) = comment["activity"]["event"]
    assert (event["type"], event["_content"]) == ("comment", "hello <b>there</b>")
    assert [e["type"] for e in by_id[old[0].id]["activity"]["event"]] == ["fave"]
    assert [e["type"] for e in by_id[old[2].id]["activity"]["event"]] == ["note"]
    assert {i["id"] for i in _ask(flickr, rest, timeframe="4d")["item"]} == {
        p.id for p in old[:4]}  # fmt: skip
    assert {i["id"] for i in _ask(flickr, rest, timeframe="71h")["item"]} == {
        p.id for p in old[:3]}  # fmt: skip
    # 10 per page by default, 50 at most; pages past the end are empty
    assert _ask(flickr, rest, timeframe="4d", per_page=1)["perpage"] == 1
    assert int(_ask(flickr, rest, timeframe="4d", per_page=1)["pages"]) == 4
    assert len(_ask(flickr, rest, timeframe="4d", per_page=1, page=4)["item"]) == 1
    assert _ask(flickr, rest, timeframe="4d", per_page=1, page=5)["item"] == []
    assert _ask(flickr, rest, timeframe="4d", per_page=500)["perpage"] == 50
    assert _ask(flickr, rest, timeframe="4d")["perpage"] == 10
    # every call for page 1 is a poll (not pages 4 and 5): all within the hour of the first
    assert polls == [False] + [True] * 6


def test_the_sandbox_shows_the_newest_events_and_says_there_are_more(flickr, rest):
    rest, _ = rest
    photo = _owned_oldest_first(flickr)[0]
    flickr.world.apply([{"op": "add_fave", "photo_id": photo.id} for _ in range(7)])
    (item,) = _ask(flickr, rest, timeframe="1h")["item"]
    assert len(item["activity"]["event"]) == 5
    assert int(item["more"]) == 1
    assert item["faves"] == str(len(photo.faves))


def test_the_sandbox_needs_a_signed_call(flickr, rest):
    rest, _ = rest
    with pytest.raises(ApiError) as error:
        rest.call(ACTIVITY, Caller(None, flickr.world.api_key, {"timeframe": "1d"}))
    assert error.value.code == 99
