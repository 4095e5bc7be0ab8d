"""``scrapy crawl favorites`` against the sandbox: the faved photos of other users, including
friends-only ones and ones whose owner disallows originals, incremental runs, un-faves."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.demo import sandbox_settings
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, run_log, scrapy, sidecars

if TYPE_CHECKING:
    from pathlib import Path


# the newest date_faved of a clean run (catalog.db sync_state)
WATERMARK = "select value from sync_state where key = 'favorites.min_fave_date'"


def _favorites(archive: Path) -> dict[str, dict[str, Any]]:
    return {k: v[0] for k, v in sidecars(archive).items() if v[0].get("collection") == "favorites"}


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def faves(tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("favorites")
    auth = tmp / "auth.json"
    args = ("--photos", "10", "--videos", "0", "--albums", "2", "--image-size", "small",
            "--seed", "31")  # fmt: skip
    with Sandbox(*args, auth_file=auth) as sandbox:
        archive = tmp / "archive"
        account = sandbox.account()
        sandbox.reset_stats()
        first = crawl(sandbox, archive, spider="favorites")
        yield SimpleNamespace(
            sandbox=sandbox, archive=archive, account=account, first=first,
            stats=sandbox.stats(), records=_favorites(archive), tmp=tmp,
        )  # fmt: skip


def test_every_fave_is_archived_with_the_size_the_owner_allows(faves):
    assert faves.first.returncode == 0, faves.first.stderr[-3000:]
    others = {p["id"]: p for p in faves.account["other_photos"]}
    wanted = {f["photo_id"]: f["date_faved"] for f in faves.account["owner_faves"]}
    assert set(faves.records) == set(wanted)
    private = disallowed = 0
    for photo_id, record in faves.records.items():
        photo = others[photo_id]
        file = record["file"]
        assert file["status"] == "downloaded"
        path = faves.archive / file["path"]
        assert path.parts[len(faves.archive.parts)] == "Favorites"
        assert photo["owner"] in path.parent.name  # Favorites/<owner name [nsid]>/
        assert record["date_faved"] == _iso(wanted[photo_id])
        assert record["owner_user"]["nsid"] == photo["owner"]
        assert record["owner_user"]["profile_url"].endswith("/")
        assert record["title"] == photo["title"]
        if photo["can_download"]:
            assert file["is_original"] is True
            assert file["original_sha256"] == photo["original"]["sha256"]
        else:  # the owner disallows originals: the largest size offered, recorded as such
            assert file["is_original"] is False
            assert file["label"] not in ("Original", None)
            disallowed += 1
        private += not photo["ispublic"]
    assert private > 0, "friends-only faves must be included (signed call)"
    assert disallowed > 0


def test_faves_are_in_the_catalog(faves):
    db = sqlite3.connect(faves.archive / "catalog.db")
    rows = dict(db.execute("select photo_id, date_faved_unix from favorites").fetchall())
    assert rows == {f["photo_id"]: f["date_faved"] for f in faves.account["owner_faves"]}
    owners = {r[0] for r in db.execute(
        "select u.nsid from favorites f join users u on u.nsid = f.owner "
        "where u.profile_url is not null")}  # fmt: skip
    assert owners == {p["owner"] for p in faves.account["other_photos"]
                      if p["id"] in rows}  # fmt: skip
    assert db.execute("pragma foreign_key_check").fetchall() == []


def test_calls_follow_the_same_saving_rules(faves):
    by_method = faves.stats["api_calls"]["by_method"]
    others = {p["id"]: p for p in faves.account["other_photos"]}
    faved = [others[f["photo_id"]] for f in faves.account["owner_faves"]]
    assert by_method["flickr.favorites.getList"] == 1
    assert by_method.get("flickr.photos.comments.getList", 0) == sum(1 for p in faved
                                                                     if p["comments"])  # fmt: skip
    assert by_method["flickr.photos.getInfo"] == len(faved)


def test_incremental_runs_pick_up_new_faves_only(faves):
    sandbox, archive = faves.sandbox, faves.archive
    db = sqlite3.connect(archive / "catalog.db")
    watermark = db.execute(WATERMARK).fetchone()[0]
    assert int(watermark) == max(f["date_faved"] for f in faves.account["owner_faves"])
    before = {p: p.stat().st_mtime_ns for p in (archive / "Favorites").rglob("*.jpg")}
    faved = {f["photo_id"] for f in faves.account["owner_faves"]}
    new = [p["id"] for p in faves.account["other_photos"] if p["id"] not in faved][:2]
    own = faves.account["photos"][0]["id"]
    sandbox.mutate([{"op": "owner_fave", "photo_id": pid} for pid in [*new, own]])
    result = crawl(sandbox, archive, spider="favorites")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(max((archive / "logs").glob("*-favorites*.json")).read_text())
    # only what was faved since the last run (and the boundary fave, min_fave_date inclusive)
    assert summary["photos_listed"] == 4, run_log(archive)[-3000:]
    assert summary["files_downloaded"] == 2  # the account's own photo is not stored again
    assert summary["files_uptodate"] == 1
    assert {p: p.stat().st_mtime_ns for p in before} == before
    records = _favorites(archive)
    assert set(new) <= set(records)
    assert own not in records
    stored = dict(db.execute("select photo_id, stored_as from favorites").fetchall())
    assert stored[own] == "own"
    assert len(stored) == len(faved) + 3


def test_an_unfaved_photo_is_kept_and_marked(faves):
    sandbox, archive = faves.sandbox, faves.archive
    gone = faves.account["owner_faves"][-1]["photo_id"]
    sandbox.mutate([{"op": "owner_unfave", "photo_id": gone}])
    result = crawl(sandbox, archive, "-a", "full=1", spider="favorites")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "kept in the archive, marked in catalog.db" in result.stderr
    db = sqlite3.connect(archive / "catalog.db")
    flags = dict(db.execute("select photo_id, gone_from_flickr from favorites").fetchall())
    assert flags[gone] == 1
    assert sum(flags.values()) == 1
    record = _favorites(archive)[gone]
    assert (archive / record["file"]["path"]).is_file()  # never deleted


def test_a_failed_run_does_not_move_the_watermark(faves):
    sandbox, archive = faves.sandbox, faves.archive
    db = sqlite3.connect(archive / "catalog.db")
    before = db.execute(WATERMARK).fetchone()[0]
    faved = {f["photo_id"] for f in faves.account["owner_faves"]}
    late = [p["id"] for p in faves.account["other_photos"] if p["id"] not in faved][-1]
    sandbox.mutate([{"op": "owner_fave", "photo_id": late}])
    sandbox.faults(rate=0, permanent_photo_ids=[late])
    try:
        result = crawl(sandbox, archive, "-s", "RETRY_TIMES=1", spider="favorites")
    finally:
        sandbox.faults(rate=0, permanent_photo_ids=[])
    assert result.returncode == 2
    assert db.execute(WATERMARK).fetchone()[0] == before
    again = crawl(sandbox, archive, spider="favorites")  # so the next run tries it again
    assert again.returncode == 0, again.stderr[-3000:]
    assert _favorites(archive)[late]["file"]["status"] == "downloaded"


def test_a_redownloaded_fave_stays_a_fave(faves):
    archive = faves.archive
    photo_id = next(iter(faves.records))
    before = _favorites(archive)[photo_id]
    ids = faves.tmp / "ids.txt"
    ids.write_text(f"{photo_id}\n")
    result = scrapy("crawl", "redownload", "-a", f"ids={ids}",
                    *sandbox_settings(faves.sandbox.url, faves.sandbox.auth_file, archive),
                    "-s", "FLICKR_API_CALLS_PER_HOUR=0")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    after = _favorites(archive)[photo_id]
    assert after["file"]["path"] == before["file"]["path"]  # still under Favorites/
    assert after["date_faved"] == before["date_faved"]
    assert after["owner_user"]["nsid"] == before["owner_user"]["nsid"]
    assert after.get("comments") == before.get("comments")
    assert not (archive / "Unsorted").exists()


def test_an_archived_original_is_never_replaced_by_a_smaller_size(faves):
    sandbox, archive = faves.sandbox, faves.archive
    others = {p["id"]: p for p in faves.account["other_photos"]}
    photo_id = next(pid for pid, r in faves.records.items()
                    if r["file"]["is_original"] and others[pid]["can_download"])  # fmt: skip
    path = archive / faves.records[photo_id]["file"]["path"]
    before = path.read_bytes()
    sandbox.mutate([{"op": "edit_photo", "id": photo_id, "can_download": False}])
    result = crawl(sandbox, archive, "-a", "full=1", spider="favorites")
    assert result.returncode == 0, result.stderr[-3000:]
    assert path.read_bytes() == before
    assert _favorites(archive)[photo_id]["file"]["is_original"] is True
