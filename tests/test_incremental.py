"""Incremental runs: a watermark, only what changed, and a layout that follows Flickr.

Each test here has a sandbox of its own, since they change the account.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from flickr_crawl.archive.placed import JOURNAL_NAME
from flickr_crawl.demo import sandbox_settings
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, kill_crawl_when, run_log, scrapy, sidecars

PHOTOS, PAGE = 60, 25  # three photostream pages
ARGS = ("--photos", str(PHOTOS), "--videos", "0", "--albums", "6", "--image-size", "small")
PER_PAGE = ("-s", f"FLICKR_API_PER_PAGE={PAGE}")
LISTING = {"flickr.collections.getTree", "flickr.galleries.getList", "flickr.photosets.getList",
           "flickr.people.getPhotos", "flickr.photos.recentlyUpdated",
           "flickr.activity.userPhotos"}  # fmt: skip


@pytest.fixture
def sandbox(tmp_path: Path) -> Any:
    with Sandbox(*ARGS, "--seed", "21", auth_file=tmp_path / "auth.json") as sb:
        yield sb


def media_files(archive: Path) -> dict[str, str]:
    """Every media file of an archive (not sidecars, XMP, logs, catalog): path -> sha256."""
    found = {}
    for path in archive.rglob("*"):
        relative = path.relative_to(archive)
        if not path.is_file() or path.suffix in (".json", ".xmp") or relative.parts[0] == "logs":
            continue
        if path.name == "catalog.db" or path.name == ".flickr-crawl.lock":
            continue
        found[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def last_summary(archive: Path) -> dict[str, Any]:
    newest = max((archive / "logs").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return json.loads(newest.read_text())


def state(archive: Path) -> dict[str, str]:
    with sqlite3.connect(archive / "catalog.db") as db:
        return dict(db.execute("SELECT key, value FROM sync_state").fetchall())


def calls(sandbox: Any) -> dict[str, int]:
    return sandbox.stats()["api_calls"]["by_method"]


def test_a_no_change_run_costs_a_handful_of_calls(sandbox, tmp_path):
    archive = tmp_path / "a"
    first = crawl(sandbox, archive, *PER_PAGE)
    assert first.returncode == 0, first.stderr[-3000:]
    files = media_files(archive)
    sandbox.reset_stats()
    again = crawl(sandbox, archive, *PER_PAGE)
    assert again.returncode == 0, again.stderr[-3000:]
    by_method = calls(sandbox)
    assert set(by_method) == LISTING, by_method
    assert sum(by_method.values()) == 6  # one page of each: nothing changed
    summary = last_summary(archive)
    assert summary["listing"] == "incremental"
    assert summary["files_downloaded"] == 0
    assert summary["photos_unchanged"] == PHOTOS
    assert media_files(archive) == files
    # More new uploads than a page holds: the listing goes on while pages hold new ones.
    sandbox.mutate([{"op": "add_photo", "title": f"new {n}"} for n in range(PAGE + 5)])
    sandbox.reset_stats()
    assert crawl(sandbox, archive, *PER_PAGE).returncode == 0
    assert calls(sandbox)["flickr.people.getPhotos"] == 2
    assert last_summary(archive)["files_downloaded"] == PAGE + 5
    assert len(media_files(archive)) == len(files) + PAGE + 5


def test_the_next_run_mirrors_exactly_what_changed(sandbox, tmp_path):
    archive = tmp_path / "a"
    assert crawl(sandbox, archive, *PER_PAGE).returncode == 0
    account = sandbox.account(hashes=False)
    albums = sorted(account["albums"], key=lambda a: len(a["photo_ids"]), reverse=True)
    moving_from, moving_to, renamed, deleted_album = albums[:4]
    in_albums = {pid for a in account["albums"] for pid in a["photo_ids"]}
    moved = next(p for p in moving_from["photo_ids"] if p not in moving_to["photo_ids"])
    others = [p["id"] for p in account["photos"] if p["id"] != moved]
    edited, commented = others[0], others[1]
    deleted = next(p for p in others[2:] if p in in_albums)
    old_folders = folders_of(archive)
    result = sandbox.mutate([
        {"op": "add_photo", "title": "Fresh upload"},
        {"op": "edit_photo", "id": edited, "title": "Edited title", "tags": "newtag other"},
        {"op": "add_comment", "photo_id": commented, "text": "A new comment"},
        {"op": "remove_from_album", "photo_id": moved, "album_id": moving_from["id"]},
        {"op": "add_to_album", "photo_id": moved, "album_id": moving_to["id"]},
        {"op": "rename_album", "album_id": renamed["id"], "title": "Renamed album"},
        {"op": "delete_album", "album_id": deleted_album["id"]},
        {"op": "delete_photo", "id": deleted},
    ])  # fmt: skip
    new = result["results"][0]["photo_ids"][0]
    sandbox.reset_stats()
    second = crawl(sandbox, archive, *PER_PAGE)
    assert second.returncode == 0, second.stderr[-3000:]
    by_method = calls(sandbox)
    summary = last_summary(archive)

    # Only the new upload was downloaded; the rest moved or stayed.
    assert summary["files_downloaded"] == 1
    assert summary["photos_deleted_on_flickr"] == [deleted]
    # per-photo calls only for the photos whose lastupdate moved (the edit, the comment, the
    # album move) and the new one; getInfo not for the comment's (recent activity says the
    # comment alone moved it)
    changed = {p["id"]: p for p in sandbox.account(hashes=False)["photos"]
               if p["id"] in (edited, commented, moved, new)}  # fmt: skip
    with_comments = sum(1 for p in changed.values() if p["comments"])
    assert by_method["flickr.photos.comments.getList"] == with_comments
    assert by_method["flickr.photos.getInfo"] == len(changed.keys() - {commented})
    # The archive is what a fresh backup of the changed account makes, byte for byte,
    # plus the deleted photo, which stays where it was.
    fresh = tmp_path / "fresh"
    assert crawl(sandbox, fresh, *PER_PAGE).returncode == 0
    ours = media_files(archive)
    kept = {p for p in ours if Path(p).stem == deleted}
    assert kept, "the photo deleted on Flickr is still in the archive"
    assert {p: h for p, h in ours.items() if p not in kept} == media_files(fresh)
    records, fresh_records = sidecars(archive), sidecars(fresh)
    assert records[edited][0]["title"] == "Edited title"
    assert records[new][0]["title"] == "Fresh upload"
    assert "A new comment" in [c["html"] for c in records[commented][0]["comments"]]
    assert records[moved][0]["comments"] == fresh_records[moved][0]["comments"]
    # Album folders: renamed and deleted ones retired, the deleted album's record kept.
    now = folders_of(archive)
    assert now == folders_of(fresh)
    assert old_folders[renamed["id"]] != now[renamed["id"]]
    for album in (renamed, deleted_album):  # only files of the deleted photo may stay there
        left = archive / old_folders[album["id"]]
        assert not left.exists() or {p.name.split(".")[0] for p in left.iterdir()} == {deleted}
    gone_name = Path(old_folders[deleted_album["id"]]).name
    kept_album = archive / "Deleted on Flickr" / "Albums" / f"{gone_name}.json"
    assert json.loads(kept_album.read_text())["id"] == deleted_album["id"]
    with sqlite3.connect(archive / "catalog.db") as db:
        flags = dict(db.execute("SELECT id, deleted_on_flickr FROM photos WHERE owner = ?",
                                (account["owner"]["nsid"],)))  # fmt: skip
        assert {k for k, v in flags.items() if v} == {deleted}
        assert db.execute("SELECT deleted_on_flickr FROM albums WHERE id = ?",
                          (deleted_album["id"],)).fetchone() == (1,)  # fmt: skip
        assert db.execute("SELECT title FROM photos WHERE id = ?", (edited,)).fetchone() == (
            "Edited title",)  # fmt: skip


def test_new_faves_and_comments_on_old_photos_arrive_in_the_next_run(sandbox, tmp_path):
    """A fave changes no photo's lastupdate: on a photo three years old, far from the newest
    page, only a sweep saw it. Recent activity (flickr.activity.userPhotos) brings it, and a
    comment, in the next run, into catalog.db, the sidecar and the site."""
    archive = tmp_path / "a"
    assert crawl(sandbox, archive, *PER_PAGE).returncode == 0
    photos = sandbox.account(hashes=False)["photos"]
    newest_page = {p["id"] for p in sorted(photos, key=lambda p: -p["dateupload"])[:PAGE]}
    three_years_ago = time.time() - 3 * 365 * 86400
    old = sorted(
        (p for p in photos
         if p["dateupload"] < three_years_ago and p["id"] not in newest_page
         and len(p["faves"]) < 40 and not p["people"]),
        key=lambda p: p["dateupload"],
    )  # fmt: skip
    both, fave_only = old[0]["id"], old[1]["id"]
    text = "Still lovely, three years on"
    result = sandbox.mutate([
        {"op": "add_fave", "photo_id": both},
        {"op": "add_comment", "photo_id": both, "text": text},
        {"op": "add_fave", "photo_id": fave_only},
    ])  # fmt: skip
    new_favers = {both: result["results"][0]["user"], fave_only: result["results"][2]["user"]}
    before = sidecars(archive)[both][0]
    deep_rows = deep_metadata(archive, both)
    sandbox.reset_stats()
    second = crawl(sandbox, archive, *PER_PAGE)
    assert second.returncode == 0, second.stderr[-3000:]
    by_method = calls(sandbox)
    truth = {p["id"]: p for p in sandbox.account(hashes=False)["photos"]}

    with sqlite3.connect(archive / "catalog.db") as db:
        for photo_id, faver in new_favers.items():
            assert db.execute("SELECT COUNT(*) FROM faves WHERE photo_id = ? AND nsid = ?",
                              (photo_id, faver)).fetchone() == (1,)  # fmt: skip
            faves = len(truth[photo_id]["faves"])
            assert db.execute("SELECT count_faves FROM photos WHERE id = ?",
                              (photo_id,)).fetchone() == (faves,)  # fmt: skip
        assert db.execute("SELECT COUNT(*) FROM comments WHERE photo_id = ? AND html = ?",
                          (both, text)).fetchone() == (1,)  # fmt: skip
    records = sidecars(archive)
    for photo_id, faver in new_favers.items():
        assert faver in [f["nsid"] for f in records[photo_id][0]["faves"]]
    assert text in [c["html"] for c in records[both][0]["comments"]]
    site = scrapy("site", "--archive", str(archive))
    assert site.returncode == 0, site.stderr[-3000:]
    for photo_id in new_favers:
        page = (archive / "site" / "photos" / f"{photo_id}.html").read_text()
        faves = len(truth[photo_id]["faves"])
        assert f"Faved by {faves} {'person' if faves == 1 else 'people'}" in page
    assert text in (archive / "site" / "photos" / f"{both}.html").read_text()

    # The calls: one page of each listing call, recent activity, and per changed photo its
    # comments where one came, its faves. The comment moved the lastupdate, and the activity
    # says it alone did: no getInfo (notes, people, tag authors did not change).
    assert by_method == {
        "flickr.collections.getTree": 1, "flickr.galleries.getList": 1,
        "flickr.photosets.getList": 1, "flickr.people.getPhotos": 1,
        "flickr.photos.recentlyUpdated": 1, "flickr.activity.userPhotos": 1,
        "flickr.photos.comments.getList": 1, "flickr.photos.getFavorites": 2,
    }, by_method  # fmt: skip
    changed = 2
    assert sum(by_method.values()) <= 5 + 2 * changed
    # What getInfo gave stays as stored, the comment count is the new one everywhere, and
    # the sidecar keeps getInfo's answer from the run that asked it.
    comments = len(truth[both]["comments"])
    assert comments == before["count_comments"] + 1
    assert deep_metadata(archive, both) == deep_rows
    with sqlite3.connect(archive / "catalog.db") as db:
        assert db.execute("SELECT count_comments FROM photos WHERE id = ?",
                          (both,)).fetchone() == (comments,)  # fmt: skip
    (after,) = records[both]
    assert after["count_comments"] == comments
    assert [c for c in after["comments"] if c["html"] == text]
    for key in ("notes", "people", "tag_details", "location"):
        assert after.get(key) == before.get(key), key
    info = "flickr.photos.getInfo"
    assert after["raw"][info] == before["raw"][info]
    assert sandbox.stats()["activity_polls"] == {"total": 1, "too_soon": 0}
    summary = last_summary(archive)
    assert summary["activity"]["photos"] == 2
    assert summary["photos_updated"] == 2
    assert {"activity.watermark", "activity.last_call"} <= state(archive).keys()


def deep_metadata(archive: Path, photo_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """What catalog.db holds of a photo from getInfo: tags with authors, notes, people,
    place names, and getInfo's answer."""
    with sqlite3.connect(archive / "catalog.db") as db:
        return {
            "tags": db.execute("SELECT tag, raw, author, author_name FROM tags"
                               " WHERE photo_id = ? ORDER BY tag", (photo_id,)).fetchall(),
            "notes": db.execute("SELECT id, author, html FROM notes WHERE photo_id = ?"
                                " ORDER BY id", (photo_id,)).fetchall(),
            "people": db.execute("SELECT nsid FROM people WHERE photo_id = ? ORDER BY nsid",
                                 (photo_id,)).fetchall(),
            "photo": db.execute("SELECT locality, region, country, info_raw FROM photos"
                                " WHERE id = ?", (photo_id,)).fetchall(),
        }  # fmt: skip


def test_an_edit_beside_a_new_comment_still_gets_getinfo(sandbox, tmp_path):
    """The owner retitles an old photo and a second later someone comments on it: recent
    activity shows only the comment, the newest change, but the list entry shows the new
    title, so the photo's getInfo is asked again and its sidecar holds the new answer."""
    archive = tmp_path / "a"
    assert crawl(sandbox, archive, *PER_PAGE).returncode == 0
    photos = sandbox.account(hashes=False)["photos"]
    newest_page = {p["id"] for p in sorted(photos, key=lambda p: -p["dateupload"])[:PAGE]}
    old = min((p for p in photos if p["id"] not in newest_page), key=lambda p: p["dateupload"])
    title = "Retitled, three years on"
    sandbox.mutate([{"op": "edit_photo", "id": old["id"], "title": title}])
    time.sleep(1.1)  # the comment, a second later, is the photo's newest change
    sandbox.mutate([{"op": "add_comment", "photo_id": old["id"], "text": "Nice title"}])
    sandbox.reset_stats()
    second = crawl(sandbox, archive, *PER_PAGE)
    assert second.returncode == 0, second.stderr[-3000:]
    by_method = calls(sandbox)
    assert by_method["flickr.activity.userPhotos"] == 1
    assert by_method["flickr.photos.getInfo"] == 1, by_method
    (record,) = sidecars(archive)[old["id"]]
    assert record["title"] == title
    assert record["raw"]["flickr.photos.getInfo"]["title"]["_content"] == title


def owed(archive: Path) -> dict[str, int]:
    """Photo id -> the lastupdate its getInfo was skipped at, for every photo that owes one."""
    with sqlite3.connect(archive / "catalog.db") as db:
        return dict(db.execute("SELECT id, info_owed FROM photos WHERE info_owed IS NOT NULL"))


def tagged(archive: Path, photo_id: str) -> tuple[list[str], list[str]]:
    """The people tagged in a photo as catalog.db and its sidecar hold them."""
    with sqlite3.connect(archive / "catalog.db") as db:
        rows = db.execute("SELECT nsid FROM people WHERE photo_id = ? ORDER BY nsid", (photo_id,))
        in_catalog = [r[0] for r in rows]
    (record,) = sidecars(archive)[photo_id]
    return in_catalog, sorted(p["nsid"] for p in record.get("people") or [])


def test_a_getinfo_skipped_for_new_comments_is_owed_until_it_is_asked(sandbox, tmp_path):
    """Someone is tagged in two old photos, then each gets a comment: tagging a person moves
    no lastupdate (the sandbox's conservative reading), the comment does, and recent activity
    shows only the comment, so the next run asks no getInfo (its call bound) and cannot see
    the person. The skip is a debt, not a loss: catalog.db records it and the run summary
    says so; an edit of one photo makes the next incremental run ask its getInfo (paid), and
    the next sweep asks the other's. Each time the person reaches catalog.db and the sidecar,
    and a run after the sweep owes nothing and asks no getInfo."""
    archive = tmp_path / "a"
    assert crawl(sandbox, archive, *PER_PAGE).returncode == 0
    photos = sandbox.account(hashes=False)["photos"]
    newest_page = {p["id"] for p in sorted(photos, key=lambda p: -p["dateupload"])[:PAGE]}
    old = sorted((p for p in photos if p["id"] not in newest_page and not p["people"]),
                 key=lambda p: p["dateupload"])  # fmt: skip
    swept, edited = old[0]["id"], old[1]["id"]
    result = sandbox.mutate([
        {"op": "add_person", "photo_id": swept}, {"op": "add_person", "photo_id": edited},
        {"op": "add_comment", "photo_id": swept, "text": "Is that you?"},
        {"op": "add_comment", "photo_id": edited, "text": "Who is that?"},
    ])  # fmt: skip
    person = {swept: result["results"][0]["nsid"], edited: result["results"][1]["nsid"]}
    truth = {p["id"]: p for p in sandbox.account(hashes=False)["photos"]}
    assert [x["nsid"] for x in truth[swept]["people"]] == [person[swept]]

    # 1. The comment run: no getInfo (5 + 2 x changed calls at most), the person not yet in
    # the archive (the documented deferral), the debt in catalog.db and the summary.
    sandbox.reset_stats()
    second = crawl(sandbox, archive, *PER_PAGE)
    assert second.returncode == 0, second.stderr[-3000:]
    by_method = calls(sandbox)
    assert "flickr.photos.getInfo" not in by_method, by_method
    assert sum(by_method.values()) <= 5 + 2 * 2, by_method
    for photo_id in person:
        assert tagged(archive, photo_id) == ([], [])
    assert owed(archive) == {pid: truth[pid]["lastupdate"] for pid in person}
    assert last_summary(archive)["info_owed"] == 2
    assert "photos.getInfo owed for 2 photos" in second.stderr, second.stderr[-3000:]
    assert "Catalog: photos.getInfo owed for 2 photos" in run_log(archive)
    estimate = scrapy("estimate", *sandbox_settings(sandbox.url, sandbox.auth_file, archive))
    assert estimate.returncode == 0, estimate.stderr
    assert "2 of the unchanged owe a photos.getInfo" in estimate.stdout, estimate.stdout

    # 2. The owner retitles one: that change is no comment, so its getInfo is asked, which
    # pays its debt; the other still owes (an incremental run does not ask it).
    sandbox.mutate([{"op": "edit_photo", "id": edited, "title": "Who is that, then"}])
    sandbox.reset_stats()
    third = crawl(sandbox, archive, *PER_PAGE)
    assert third.returncode == 0, third.stderr[-3000:]
    assert last_summary(archive)["listing"] == "incremental"
    assert calls(sandbox)["flickr.photos.getInfo"] == 1, calls(sandbox)
    assert tagged(archive, edited) == ([person[edited]], [person[edited]])
    assert tagged(archive, swept) == ([], [])
    assert owed(archive) == {swept: truth[swept]["lastupdate"]}
    assert last_summary(archive)["info_owed"] == 1

    # 3. The next sweep (FLICKR_SWEEP_EVERY=1: one incremental run since the last) asks the
    # owed getInfo, and no other: every other photo's is stored and unchanged.
    sandbox.reset_stats()
    sweep = crawl(sandbox, archive, *PER_PAGE, "-s", "FLICKR_SWEEP_EVERY=1")
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    by_method = calls(sandbox)
    assert last_summary(archive)["listing"] == "sweep"
    assert by_method["flickr.photos.getInfo"] == 1, by_method
    assert by_method["flickr.photos.people.getList"] == 1, by_method
    assert tagged(archive, swept) == ([person[swept]], [person[swept]])
    (record,) = sidecars(archive)[swept]
    people = record["raw"]["flickr.photos.getInfo"]["people"]
    assert people["haspeople"] == 1
    assert owed(archive) == {}
    assert last_summary(archive)["info_owed"] == 0
    assert "getInfo owed" not in sweep.stderr
    log = run_log(archive)
    assert "photos.getInfo asked again where an incremental run skipped it" in log
    assert "Catalog: photos.getInfo owed" not in log

    # 4. Nothing owed: the next run asks no getInfo.
    sandbox.reset_stats()
    assert crawl(sandbox, archive, *PER_PAGE).returncode == 0
    assert "flickr.photos.getInfo" not in calls(sandbox), calls(sandbox)
    assert owed(archive) == {}


def folders_of(archive: Path) -> dict[str, str]:
    """Album id -> its folder, from the album.json files."""
    return {json.loads(p.read_text())["id"]: p.parent.relative_to(archive).as_posix()
            for p in archive.rglob("album.json")}  # fmt: skip


def test_a_failed_run_does_not_move_the_watermark(sandbox, tmp_path):
    archive = tmp_path / "a"
    assert crawl(sandbox, archive, *PER_PAGE).returncode == 0
    mark = state(archive)["photostream.watermark"]
    result = sandbox.mutate([{"op": "add_photo", "title": "Will fail"}])
    new = result["results"][0]["photo_ids"][0]
    sandbox.faults(permanent_photo_ids=[new])
    try:
        failed = crawl(sandbox, archive, *PER_PAGE)
    finally:
        sandbox.faults(rate=0, permanent_photo_ids=[])
    assert failed.returncode == 2
    assert new in {p["subject"] for p in last_summary(archive)["failed"]}
    assert state(archive)["photostream.watermark"] == mark
    again = crawl(sandbox, archive, *PER_PAGE)
    assert again.returncode == 0, again.stderr[-3000:]
    assert state(archive)["photostream.watermark"] > mark
    assert sidecars(archive)[new][0]["file"]["status"] == "downloaded"


def test_since_backs_up_photos_uploaded_from_a_date(sandbox, tmp_path):
    photos = sandbox.account(hashes=False)["photos"]
    posted = sorted(p["dateupload"] for p in photos)
    day = posted[len(posted) // 2]
    from datetime import UTC, datetime

    since = datetime.fromtimestamp(day, UTC).strftime("%Y-%m-%d")
    start = int(datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    archive = tmp_path / "a"
    result = crawl(sandbox, archive, "-a", f"since={since}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(sidecars(archive)) == {p["id"] for p in photos if p["dateupload"] >= start}
    assert "photostream.watermark" not in state(archive)  # a partial listing
    bad = crawl(sandbox, tmp_path / "b", "-a", "since=last tuesday")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].endswith("is not a date like 2024-05-31")
    assert "Traceback" not in bad.stderr


def catalog_rows(archive: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every catalog table's rows, without the columns that say when (or which run)."""
    volatile = {"first_seen", "last_seen", "updated_at", "status", "gone_since"}
    rows = {}
    with sqlite3.connect(archive / "catalog.db") as db:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'photos_fts%'"
            " AND name NOT LIKE 'sqlite_%' AND name NOT IN ('runs', 'sync_state')")]  # fmt: skip
        for table in tables:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")
                       if r[1] not in volatile]  # fmt: skip
            rows[table] = sorted(
                db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall(), key=repr
            )
    return rows


def test_killed_at_several_points_then_resumed_equals_an_uninterrupted_run(tmp_path):
    """SIGKILL during the listing, the downloads and the deep pass, each time resumed with
    the same JOBDIR: the same files, bytes and catalog rows as one clean run, and no
    complete file fetched twice."""
    args = ("--photos", "200", "--videos", "0", "--albums", "4", "--image-size", "small",
            "--seed", "5")  # fmt: skip
    with Sandbox(*args, auth_file=tmp_path / "auth.json") as sb:
        archive, job = tmp_path / "a", ("-s", f"JOBDIR={tmp_path / 'job'}")

        def api(method: str) -> int:
            return calls(sb).get(method, 0)

        points = [
            lambda: api("flickr.photosets.getPhotos") >= 2,  # mid-listing
            lambda: len(list(archive.rglob("*.jpg"))) >= 60,  # mid-downloads
            lambda: api("flickr.photos.getInfo") >= 20,  # mid deep pass
        ]
        served = 0
        for ready in points:
            sb.reset_stats()
            kill_crawl_when(ready, sb, archive, *job)
            served += sb.stats()["media_requests"]
        sb.reset_stats()
        resumed = crawl(sb, archive, *job)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        served += sb.stats()["media_requests"]
        clean = tmp_path / "clean"
        assert crawl(sb, clean).returncode == 0
        assert media_files(archive) == media_files(clean)
        assert catalog_rows(archive) == catalog_rows(clean)
        # each kill may cut the downloads in flight (at most the media concurrency, 8)
        assert served <= 200 + 8 * len(points)
        assert not list(archive.rglob("*.part"))


def test_files_placed_before_a_kill_are_not_fetched_again(tmp_path):
    """A hard kill lands while many placed files still wait for their sidecar (the sidecar
    thread runs behind the downloads): the resumed run fetches only what was not complete."""
    args = ("--photos", "150", "--videos", "0", "--albums", "3", "--image-size", "small")
    with Sandbox(*args, "--seed", "8", auth_file=tmp_path / "auth.json") as sb:
        archive, job = tmp_path / "a", ("-s", f"JOBDIR={tmp_path / 'job'}")
        kill_crawl_when(lambda: len(list(archive.rglob("*.jpg"))) >= 70, sb, archive, *job)
        complete = {Path(p).stem for p in media_files(archive) if Path(p).stem.isdigit()}  # ids
        vouched = {photo_id for photo_id, records in sidecars(archive).items()
                   if (records[0].get("file") or {}).get("status") == "downloaded"}  # fmt: skip
        sb.reset_stats()
        resumed = crawl(sb, archive, *job)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        fetched = sb.stats()["media_requests"]
        # A file renamed into place is complete, and journaled (the line goes first)
        assert fetched == 150 - len(complete)
        # Recovered from the journal: at least every file no sidecar vouched for (those the
        # catalog had not caught up with yet are taken from it too: no sidecar is read then)
        stat = re.search(r"'flickr/file/recovered': (\d+)", run_log(archive))
        recovered = int(stat.group(1)) if stat else 0
        assert len(complete - vouched) <= recovered <= len(complete)
        assert not (archive / JOURNAL_NAME).exists()  # every sidecar is written now
        assert all(records[0]["file"]["status"] in ("downloaded", "uptodate")
                   for records in sidecars(archive).values())  # fmt: skip
        assert len(sidecars(archive)) == 150


def test_temporaries_of_a_killed_run_are_swept(sandbox, tmp_path):
    archive = tmp_path / "a"
    (archive / "Unsorted").mkdir(parents=True)
    litter = [archive / "Unsorted" / ".123.jpg.k2j4.tmp", archive / "Albums" / "X" / ".9.ab12.part"]
    for path in litter:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    (archive / ".flickr-crawl.lock").write_text("running\n")  # the last run died
    result = crawl(sandbox, archive)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "did not end cleanly: 2 temporary files removed" in run_log(archive)
    assert not any(path.exists() for path in litter)
    assert (archive / ".flickr-crawl.lock").read_text() == ""  # this one ended cleanly
