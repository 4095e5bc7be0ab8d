"""End to end: ``scrapy crawl photostream`` against the sandbox, checked against its ground truth.

Each module fixture starts its own sandbox (real HTTP on 127.0.0.1) and runs the real command in
a subprocess, so these tests see what a user sees: exit codes, files, bytes, sidecars, links.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from flickr_crawl.archive.paths import MAX_NAME_BYTES
from flickr_crawl.extensions.jobdir import MARKER, recover_unclean
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import QUICK_BACKOFF, crawl, kill_crawl_when, sidecars


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _media_files(archive: Path) -> list[Path]:
    return [
        p for p in archive.rglob("*")
        if p.is_file() and p.suffix not in (".json", ".xmp", ".db", ".db-wal", ".db-shm")
        and "logs" not in p.parts and p.name != ".flickr-crawl.lock"
    ]  # fmt: skip


@pytest.fixture(scope="module")
def stream(tmp_path_factory) -> Any:
    """A 80-photo, 3-video account backed up once (and a second time, for the re-run tests)."""
    tmp = tmp_path_factory.mktemp("photostream")
    auth = tmp / "auth.json"
    args = ("--photos", "80", "--videos", "3", "--albums", "10", "--image-size", "small",
            "--seed", "7")  # fmt: skip
    with Sandbox(*args, auth_file=auth) as sandbox:
        archive = tmp / "archive"
        # EXIF embedding off: here the files must be byte-identical to what Flickr serves
        # (test_metadata checks that embedding keeps image data and camera EXIF intact).
        first = crawl(sandbox, archive, "-s", "FLICKR_EXIF_ENABLED=False")
        records = sidecars(archive)
        stats = sandbox.stats()
        account = sandbox.account()
        mtimes = {p: p.stat().st_mtime_ns for p in _media_files(archive)}
        sandbox.reset_stats()
        second = crawl(sandbox, archive, "-s", "FLICKR_EXIF_ENABLED=False")
        second_stats = sandbox.stats()
    return SimpleNamespace(
        result=first, records=records, stats=stats, account=account, archive=archive, mtimes=mtimes,
        second=second, second_stats=second_stats,
    )  # fmt: skip


def _own(account: dict[str, Any], media: str) -> list[dict[str, Any]]:
    return [p for p in account["photos"] if p["media"] == media]


def test_exit_code_says_videos_are_missing(stream):
    assert stream.result.returncode == 2, stream.result.stderr[-2000:]
    assert "Traceback" not in stream.result.stderr
    last = stream.result.stderr.strip().splitlines()[-1]
    assert "0 items failed and 3 videos are missing" in last


def test_every_photo_original_is_byte_identical(stream):
    records = stream.records
    photos = _own(stream.account, "photo")
    assert len(photos) == 80
    for photo in photos:
        record = records[photo["id"]][0]
        file = record["file"]
        assert file["status"] == "downloaded", (photo["id"], file)
        path = stream.archive / file["path"]
        if photo["original"]:
            assert file["is_original"] is True
            assert file["label"] == "Original"
            assert path.stat().st_size == photo["original"]["size"]
            assert _sha256(path) == photo["original"]["sha256"] == file["sha256"]
            assert path.suffix == "." + photo["original"]["format"].replace("jpeg", "jpg")
        else:  # the owner's original is not offered: the best size, recorded as such
            assert file["is_original"] is False
            assert file["label"] != "Original"
            assert _sha256(path) == file["sha256"]


def test_album_folders_and_hard_links(stream):
    records = sidecars(stream.archive)
    albums = {a["id"]: a for a in stream.account["albums"]}
    order = [a["id"] for a in stream.account["albums"]]
    linked = 0
    for photo in _own(stream.account, "photo"):
        record = records[photo["id"]][0]
        in_albums = sorted(photo["album_ids"], key=order.index)
        path = stream.archive / record["file"]["path"]
        if not in_albums:
            assert path.parent == stream.archive / "Unsorted"
            continue
        folders = [ref["folder"] for ref in record["albums"]]
        assert [ref["id"] for ref in record["albums"]] == in_albums
        assert path.parent == stream.archive / folders[0]
        for ref in record["albums"]:
            position = albums[ref["id"]]["photo_ids"].index(photo["id"]) + 1
            assert ref["position"] == position
        for folder in folders[1:]:
            link = stream.archive / folder / path.name
            assert link.stat().st_ino == path.stat().st_ino
            assert (stream.archive / folder / f"{photo['id']}.json").exists()
            linked += 1
    assert linked > 0, "the account should have photos in several albums"


def test_album_records_keep_the_owner_order(stream):
    for album in stream.account["albums"]:
        found = [p for p in (stream.archive / "Albums").glob("*/album.json")
                 if json.loads(p.read_text())["id"] == album["id"]]  # fmt: skip
        assert len(found) == 1, album["title"]
        record = json.loads(found[0].read_text())
        assert record["title"] == album["title"]
        assert record["photo_ids"] == album["photo_ids"]


def test_hostile_names_stay_safe_and_inside(stream):
    root = stream.archive.resolve()
    names = [p.name for p in (stream.archive / "Albums").iterdir()]
    assert len(names) == len(stream.account["albums"])
    assert len({n.casefold() for n in names}) == len(names)
    for name in names:
        assert name not in (".", "..", "")
        assert not set(name) & set('<>:"/\\|?*')
        assert not name.endswith((".", " "))
        assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL"}
        assert len(name.encode()) <= MAX_NAME_BYTES + 24  # + " [album id]"
    for path in stream.archive.rglob("*"):
        assert path.resolve().is_relative_to(root)
    titles = [a["title"] for a in stream.account["albums"]]
    assert len(set(titles)) < len(titles), "the sandbox should have duplicate album names"


def test_sidecars_carry_the_metadata(stream):
    records = sidecars(stream.archive)
    for photo in stream.account["photos"]:
        record = records[photo["id"]][0]
        assert record["title"] == photo["title"]
        assert record["description"] == photo["description"]
        assert record["license"] == photo["license"]
        assert record["views"] == photo["views"]
        assert record["is_public"] == bool(photo["ispublic"])
        assert record["media"] == photo["media"]
        assert sorted(record["tags"]) == sorted(t["content"] for t in photo["tags"])
        machine = sorted(t["content"] for t in photo["tags"] if t["machine"])
        assert sorted(record["machine_tags"]) == machine
        assert record["date_taken_granularity"] == photo["takengranularity"]
        assert "flickr.people.getPhotos" in record["raw"]
        if photo["geo"]:
            assert record["geo"]["latitude"] == pytest.approx(photo["geo"]["latitude"])
        else:
            assert record["geo"] is None


def test_missing_videos_are_reported_never_faked(stream):
    records = sidecars(stream.archive)
    videos = _own(stream.account, "video")
    assert len(videos) == 3
    media_names = {p.stem for p in _media_files(stream.archive)}
    for video in videos:
        file = records[video["id"]][0]["file"]
        assert file["status"] == "missing"
        assert "weblogin" in file["reason"]
        assert video["id"] not in media_names  # no poster JPEG under the video's name
    logs = list((stream.archive / "logs").glob("*-photostream.json"))
    summary = json.loads(logs[0].read_text())
    assert {p["subject"] for p in summary["missing_videos"]} == {v["id"] for v in videos}
    assert "3 videos missing" in stream.result.stderr


def test_no_secret_in_the_logs(stream):
    account = stream.account
    for secret in (account["api_secret"], account["oauth_token"], account["oauth_token_secret"]):
        assert secret not in stream.result.stderr
        assert secret not in stream.result.stdout
        for path in stream.archive.rglob("*.json"):
            assert secret not in path.read_text()


def test_api_calls_per_photo_only_where_the_list_says_so(stream):
    by_method = stream.stats["api_calls"]["by_method"]
    account = stream.account
    photos = account["photos"]
    assert by_method == {
        "flickr.collections.getTree": 1,
        "flickr.galleries.getList": 1,
        "flickr.galleries.getPhotos": len(account["galleries"]),
        "flickr.photosets.getList": 1,
        "flickr.photosets.getPhotos": len(account["albums"]),
        "flickr.people.getPhotos": math.ceil(len(photos) / 500),
        "flickr.photos.comments.getList": sum(1 for p in photos if p["comments"]),
        "flickr.photos.getFavorites": sum(math.ceil(len(p["faves"]) / 50) for p in photos),
        "flickr.photos.getInfo": len(photos),  # the deep pass
        "flickr.photos.people.getList": sum(1 for p in photos if p["people"]),
    }


def test_rerun_downloads_nothing_again(stream):
    assert stream.second.returncode == 2
    assert {p: p.stat().st_mtime_ns for p in _media_files(stream.archive)} == stream.mtimes
    records = sidecars(stream.archive)
    statuses = {r[0]["file"]["status"] for r in records.values() if r[0]["media"] == "photo"}
    assert statuses == {"uptodate"}
    # no media fetched again; only the three video originals are asked for (still missing)
    assert stream.second_stats["media_requests"] == 0
    assert stream.second_stats["web_requests"] == 3


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Any:
    tmp = tmp_path_factory.mktemp("small")
    auth = tmp / "auth.json"
    args = ("--photos", "16", "--videos", "0", "--albums", "3", "--image-size", "small",
            "--seed", "3")  # fmt: skip
    with Sandbox(*args, auth_file=auth) as sandbox:
        yield sandbox


def test_exit_0_when_everything_is_saved(small, tmp_path):
    result = crawl(small, tmp_path / "a")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(sidecars(tmp_path / "a")) == len(small.account()["photos"])


def test_exit_2_lists_the_failed_photo(small, tmp_path):
    victim = small.account()["photos"][0]["id"]
    small.faults(rate=0, permanent_photo_ids=[victim])
    try:
        result = crawl(small, tmp_path / "a", "-s", "RETRY_TIMES=1")
    finally:
        small.faults(rate=0, permanent_photo_ids=[])
    assert result.returncode == 2
    assert "1 item failed" in result.stderr
    summary = json.loads(next((tmp_path / "a" / "logs").glob("*.json")).read_text())
    assert [p["subject"] for p in summary["failed"]] == [victim]
    records = sidecars(tmp_path / "a")
    assert records[victim][0]["file"]["status"] == "failed"
    assert records[victim][0]["title"] == small.account()["photos"][0]["title"]
    others = [r[0]["file"]["status"] for k, r in records.items() if k != victim]
    assert set(others) == {"downloaded"}


def test_exit_1_without_credentials(small, tmp_path):
    result = crawl(small, tmp_path / "a", auth_file=tmp_path / "none.json")
    assert result.returncode == 1
    expected = (
        "error: no Flickr API key: run `scrapy auth` (or set FLICKR_API_KEY and "
        f"FLICKR_API_SECRET); looked in {tmp_path / 'none.json'}"
    )
    assert result.stderr.strip().splitlines() == [expected]


def test_exit_1_when_flickr_rejects_the_token(small, tmp_path):
    creds = json.loads(small.auth_file.read_text())
    creds["oauth_token_secret"] = "0" * 16
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(creds))
    result = crawl(small, tmp_path / "a", auth_file=bad)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Flickr rejected the credentials")
    assert "scrapy auth --reauth" in last


def test_exit_1_on_a_bad_setting(small, tmp_path):
    result = crawl(small, tmp_path / "a", "-s", "FLICKR_LAYOUT=shoebox")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: FLICKR_LAYOUT='shoebox'; choose one of albums, date, flat"
    )


def test_date_layout(small, tmp_path):
    result = crawl(small, tmp_path / "a", "-s", "FLICKR_LAYOUT=date")
    assert result.returncode == 0, result.stderr[-2000:]
    for record in (r[0] for r in sidecars(tmp_path / "a").values()):
        parts = Path(record["file"]["path"]).parts
        assert parts[0] == "Dates"
        assert len(parts) == 5


def test_copy_link_mode(small, tmp_path):
    result = crawl(small, tmp_path / "a", "-s", "FLICKR_LINK_MODE=copy")
    assert result.returncode == 0, result.stderr[-2000:]
    copies = 0
    for record in (r[0] for r in sidecars(tmp_path / "a").values()):
        primary = tmp_path / "a" / record["file"]["path"]
        for link in record["file"]["links"]:
            other = tmp_path / "a" / link
            assert other.read_bytes() == primary.read_bytes()
            assert other.stat().st_ino != primary.stat().st_ino
            copies += 1
    assert copies > 0, "the small account should have a photo in two albums"


def test_transient_api_errors_are_retried_without_running_twice(small, tmp_path):
    account = small.account()
    small.reset_stats()
    clean = crawl(small, tmp_path / "clean")
    calls = small.stats()["api_calls"]["by_method"]
    small.faults(rate=0.25, kinds=["stat_105", "stat_201"])
    try:
        small.reset_stats()
        result = crawl(small, tmp_path / "a", "-s", "RETRY_TIMES=10", *QUICK_BACKOFF)
        faulty = small.stats()
    finally:
        small.faults(rate=0)
    assert clean.returncode == 0
    assert result.returncode == 0, result.stderr[-3000:]
    assert sum(faulty["faults_injected"].values()) > 0
    summary = json.loads(next((tmp_path / "a" / "logs").glob("*.json")).read_text())
    assert summary["photos_listed"] == len(account["photos"])
    assert summary["files_downloaded"] == len(account["photos"])
    # each method is asked as often as in a clean run, plus one call per injected fault
    extra = sum(faulty["api_calls"]["by_method"].values()) - sum(calls.values())
    assert extra == sum(faulty["faults_injected"].values())
    records = sidecars(tmp_path / "a")
    assert {k: len(v) for k, v in records.items()} == {
        k: len(v) for k, v in sidecars(tmp_path / "clean").items()
    }


def test_a_jobdir_crawl_stopped_mid_listing_resumes_cleanly(small, tmp_path):
    """Stopped during the album listing (as a Ctrl-C would), then resumed with the same JOBDIR:
    the listing is not run twice, and every photo lands in its album folders."""
    job = ["-s", f"JOBDIR={tmp_path / 'job'}"]
    stopped = crawl(small, tmp_path / "a", *job, "-s", "CLOSESPIDER_PAGECOUNT=4")
    assert stopped.returncode == 130
    assert "run the same command again" in stopped.stderr
    small.reset_stats()
    resumed = crawl(small, tmp_path / "a", *job)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    assert small.stats()["api_calls"]["by_method"]["flickr.people.getPhotos"] == 1
    clean = crawl(small, tmp_path / "clean")
    assert clean.returncode == 0
    layout = {k: sorted(r["file"]["path"] for r in v) for k, v in sidecars(tmp_path / "a").items()}
    expected = {k: sorted(r["file"]["path"] for r in v)
                for k, v in sidecars(tmp_path / "clean").items()}  # fmt: skip
    assert layout == expected


def test_a_hard_killed_jobdir_crawl_is_recovered(tmp_path):
    """SIGKILL leaves Scrapy's JOBDIR half-written; the next run sets it aside, lists again,
    keeps every complete file, and ends with the whole archive."""
    auth = tmp_path / "auth.json"
    args = ("--photos", "300", "--videos", "0", "--albums", "3", "--image-size", "small",
            "--seed", "9")  # fmt: skip
    with Sandbox(*args, auth_file=auth) as sandbox:
        archive, job = tmp_path / "archive", tmp_path / "job"
        job_dir = ("-s", f"JOBDIR={job}")
        kill_crawl_when(lambda: len(list(archive.rglob("*.jpg"))) >= 40, sandbox, archive, *job_dir)
        complete = {r[0]["file"]["path"]: (archive / r[0]["file"]["path"]).stat().st_mtime_ns
                    for r in sidecars(archive).values()
                    if r[0]["file"]["status"] == "downloaded"}  # fmt: skip
        assert complete, "some files were complete before the kill"
        result = crawl(sandbox, archive, *job_dir)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "did not close cleanly" in result.stderr
        assert "Traceback" not in result.stderr
        account = sandbox.account()
        records = sidecars(archive)
        assert set(records) == {p["id"] for p in account["photos"]}
        for photo in account["photos"]:
            file = records[photo["id"]][0]["file"]
            assert file["status"] in ("downloaded", "uptodate")
            assert (archive / file["path"]).stat().st_size == file["size"]
        # files that were complete before the kill were not downloaded again
        assert {p: (archive / p).stat().st_mtime_ns for p in complete} == complete
        assert not list(archive.rglob("*.part"))
        assert list(tmp_path.glob("job.unclean-*"))


def test_a_jobdir_killed_twice_within_a_second_keeps_both_set_asides(tmp_path):
    """The name of a set-aside JOBDIR has a one-second stamp; a second kill within that second
    must not fail the next start (rename onto a full folder) nor merge the two."""
    job = tmp_path / "job"
    now = datetime.now(UTC)
    taken = []
    for later in (0, 1):  # the stamp of this second and the next, in case the second turns
        stamp = (now + timedelta(seconds=later)).strftime("%Y%m%dT%H%M%SZ")
        earlier = tmp_path / f"job.unclean-{stamp}"
        earlier.mkdir()
        (earlier / "requests.queue").write_text(f"earlier {later}")
        taken.append(earlier)
    job.mkdir()
    (job / MARKER).write_text("running")
    (job / "requests.queue").write_text("latest")
    aside = recover_unclean(job)
    assert aside is not None
    assert aside not in taken
    assert (aside / "requests.queue").read_text() == "latest"
    assert [(d / "requests.queue").read_text() for d in taken] == ["earlier 0", "earlier 1"]
    assert not job.exists()
    assert recover_unclean(job) is None  # nothing left to set aside


def test_a_no_change_rerun_spends_only_listing_calls(stream):
    by_method = stream.second_stats["api_calls"]["by_method"]
    per_photo = {"flickr.photos.comments.getList", "flickr.photos.getFavorites",
                 "flickr.photos.getInfo", "flickr.photos.people.getList"}  # fmt: skip
    assert not per_photo & set(by_method), by_method
    first = sum(stream.stats["api_calls"]["by_method"].values())
    assert sum(by_method.values()) < first / 3


def _peak_in_flight(requests: list[dict[str, Any]]) -> int:
    """The most requests the sandbox was serving at once, from its request log."""
    return max(sum(1 for other in requests if other["t"] <= r["t"] < other["done"])
               for r in requests)  # fmt: skip


def test_downloads_keep_every_media_worker_busy_and_no_more(tmp_path):
    """Each file takes a while to start coming (a far CDN): the crawl keeps exactly
    FLICKR_MEDIA_CONCURRENCY downloads in flight, fed by one list page's items (Scrapy works on
    CONCURRENT_ITEMS of those at a time, which the spiders derive from the media workers)."""
    args = ("--photos", "24", "--videos", "0", "--albums", "2", "--image-size", "small",
            "--media-slow", "0.4")  # fmt: skip
    with Sandbox(*args, auth_file=tmp_path / "auth.json") as sandbox:
        result = crawl(sandbox, tmp_path / "archive", "-s", "FLICKR_MEDIA_CONCURRENCY=6",
                       "-s", "FLICKR_DEEP_METADATA_ENABLED=0")  # fmt: skip
        media = [r for r in sandbox.requests() if r["kind"] == "media"]
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(media) == 24
    assert len(_media_files(tmp_path / "archive")) == 24
    assert _peak_in_flight(media) == 6
