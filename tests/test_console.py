"""What a person sees on the console: warnings, errors and the run summary as the last lines;
the whole INFO log in the archive's ``logs/``; everything on the console when asked for with
``-L``. Real crawls against the sandbox, read as a user reads them."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from scrapy.settings import Settings

from flickr_crawl.extensions.redact import FILTER
from flickr_crawl.extensions.report import summary_lines
from flickr_crawl.extensions.runlog import RunLogHandler, run_log_path, start_run_log
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, interrupt_crawl_when

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator
    from pathlib import Path

PHOTOS, VIDEOS = 20, 2


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    auth = tmp_path_factory.mktemp("console") / "auth.json"
    args = ("--photos", str(PHOTOS), "--videos", str(VIDEOS), "--albums", "3",
            "--image-size", "small", "--seed", "5")  # fmt: skip
    with Sandbox(*args, auth_file=auth) as sandbox:
        yield sandbox


def run_logs(archive: Path) -> list[Path]:
    return sorted((archive / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime_ns)


def test_a_default_run_shows_warnings_and_the_summary_last(small: Sandbox, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    result = crawl(small, archive)
    assert result.returncode == 2, result.stderr[-3000:]  # the videos need a web session
    lines = result.stderr.strip().splitlines()
    # Before: 130-odd lines of banner, component lists and the stats dump
    assert len(lines) <= 8, result.stderr
    for noise in ("Scrapy 2.", "Enabled extensions", "Overridden settings", "Dumping Scrapy stats",
                  "Spider closed", "Disabled ", "[scrapy."):  # fmt: skip
        assert noise not in result.stderr
    # the one warning of the run, said while it ran
    assert lines[0].endswith("WARNING: Video originals missing: no web session: Flickr serves "
                             "video originals only to a signed-in browser session (HTTP 404 "
                             "for play/orig); run `scrapy weblogin`, then `scrapy crawl "
                             "redownload -a missing=1`")  # fmt: skip
    # then the summary, to the last line
    summary = lines[1:]
    assert re.fullmatch(
        rf"Run summary \(finished, \d+ s\): {PHOTOS + VIDEOS} listed on Flickr "
        rf"\({PHOTOS + VIDEOS} new, 0 updated, 0 unchanged\)",
        summary[0],
    )
    assert summary[1].startswith(
        f"Saved {PHOTOS} photos, 0 of {VIDEOS} videos ({VIDEOS} missing); {PHOTOS} files "
        "downloaded ("
    )
    assert summary[2].startswith(f"{VIDEOS} videos missing: no web session: ")
    (log,) = run_logs(archive)
    (report,) = (archive / "logs").glob("*.json")
    assert summary[3] == f"Log: {log} (summary: {report.name})"
    assert log.stem == report.stem
    verdict = f"finished, but 0 items failed and {VIDEOS} videos are missing; see {report}"
    assert summary[4] == verdict
    # The log file has everything the console left out, and ends with the same summary.
    text = log.read_text(encoding="utf-8")
    for line in ("INFO: Scrapy 2.", "Enabled extensions", "Dumping Scrapy stats",
                 "INFO: Spider closed (finished)", "INFO: Progress (finished): "):  # fmt: skip
        assert line in text
    tail = [re.sub(r"^.* INFO: ", "", line) for line in text.strip().splitlines()[-4:]]
    assert tail == summary[:4]
    assert json.loads(report.read_text())["files"] == {
        "photo": {"downloaded": PHOTOS},
        "video": {"missing": VIDEOS},
    }


@pytest.mark.parametrize("option", [["-L", "INFO"], ["-s", "LOG_LEVEL=DEBUG"]])
def test_a_log_level_on_the_command_line_shows_everything(
    small: Sandbox, tmp_path: Path, option: list[str]
) -> None:
    archive = tmp_path / "archive"
    result = crawl(small, archive, *option)
    assert result.returncode == 2, result.stderr[-3000:]
    for line in ("Scrapy 2.", "Enabled extensions", "Dumping Scrapy stats", "Spider closed",
                 "INFO: Progress (finished): "):  # fmt: skip
        assert line in result.stderr
    assert ("DEBUG: Crawled (200)" in result.stderr) == (option[1] == "LOG_LEVEL=DEBUG")
    lines = result.stderr.strip().splitlines()
    assert lines[-5].startswith("Run summary (finished, ")  # still the last lines
    assert lines[-1].startswith("finished, but 0 items failed")
    (log,) = run_logs(archive)
    assert "DEBUG:" not in log.read_text(encoding="utf-8")  # the archive keeps INFO


def test_no_jobdir_warning_without_jobdir(small: Sandbox, tmp_path: Path) -> None:
    result = crawl(small, tmp_path / "archive", "-L", "INFO")
    assert "JobDirGuard" not in result.stderr
    assert "WARNING: Disabled" not in result.stderr


def test_nolog_writes_no_log_file_and_still_prints_the_summary(
    small: Sandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    result = crawl(small, archive, "--nolog")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[0].startswith("Run summary (finished, ")
    assert not run_logs(archive)
    assert list((archive / "logs").glob("*.json"))


def test_the_log_file_is_redacted(tmp_path: Path) -> None:
    """The run's log file goes through the same filter as the console: no signed token."""
    settings = Settings({"LOG_FORMAT": "%(levelname)s: %(message)s", "LOG_DATEFORMAT": "%H"})
    path = start_run_log(settings, "photostream", tmp_path)
    assert path is not None
    assert settings.get("LOG_LEVEL") == "WARNING"  # the console, unless asked for more
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, RunLogHandler))
    try:
        assert FILTER in handler.filters
        logging.getLogger("flickr_crawl.test").warning(
            "Failed: https://video.example/v/1.mp4?s=SECRET-TOKEN&x=1"
        )
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    text = path.read_text(encoding="utf-8")
    assert text == "WARNING: Failed: https://video.example/v/1.mp4?s=<redacted>&x=1\n"
    assert path.parent == tmp_path / "logs"


def test_counts_say_one_and_many_and_tell_photos_from_videos() -> None:
    summary = {
        "started": "2026-01-01T10:00:00Z", "finished": "2026-01-01T10:01:05Z",
        "finish_reason": "finished", "photos_listed": 3, "photos_new": 3, "photos_updated": 0,
        "photos_unchanged": 0, "photos_deleted_on_flickr": [], "files_downloaded": 1,
        "files_uptodate": 0, "bytes_downloaded": 1234, "api_calls": 1,
        "files": {"photo": {"downloaded": 1, "failed": 1}, "video": {"missing": 1}},
        "failed": [{"kind": "download", "subject": "42", "reason": "HTTP 500"}],
        "missing_video_reasons": {"no web session": 1},
    }  # fmt: skip
    assert summary_lines(summary) == [
        "Run summary (finished, 1 min 05 s): 3 listed on Flickr (3 new, 0 updated, 0 unchanged)",
        (
            "Saved 1 of 2 photos (1 failed), 0 of 1 video (1 missing); 1 file downloaded "
            "(1.2 kB), 0 up to date, 1 API call"
        ),
        "1 video missing: no web session",
        "Failed: 42 (download): HTTP 500",
    ]


def test_one_failed_photo_is_one_item(small: Sandbox, tmp_path: Path) -> None:
    victim = next(p for p in small.account()["photos"] if p["media"] == "photo")["id"]
    small.faults(rate=0, permanent_photo_ids=[victim])
    try:
        result = crawl(small, tmp_path / "a", "-s", "RETRY_TIMES=0")
    finally:
        small.faults(rate=0, permanent_photo_ids=[])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"finished, but 1 item failed and {VIDEOS} videos are missing")
    assert f"Saved {PHOTOS - 1} of {PHOTOS} photos (1 failed), 0 of {VIDEOS} videos" in (
        result.stderr
    )


# --- the progress display's deep pass after an interrupted run -----------------------------
def whole_log(result: subprocess.CompletedProcess[str], archive: Path) -> str:
    """The run's INFO log, wherever it went (the console, or the log file)."""
    logs = run_logs(archive)
    return result.stderr + (logs[-1].read_text(encoding="utf-8") if logs else "")


def final_progress(result: subprocess.CompletedProcess[str], archive: Path) -> list[str]:
    """The progress display's closing line(s)."""
    pattern = r"\[flickr_crawl\.extensions\.progress\] INFO: (Progress \(.*)"
    return re.findall(pattern, whole_log(result, archive))


def test_a_resumed_run_ends_its_deep_pass_where_the_catalog_is(tmp_path: Path) -> None:
    """Killed during the deep pass (some photos.getInfo done, the rest queued in JOBDIR) and
    resumed: the display's deep pass ends at the photos the catalog holds, not at the calls of
    the second run alone (it said 'deep pass 49/64' or '71/64')."""
    args = ("--photos", "60", "--videos", "0", "--albums", "3", "--image-size", "small",
            "--slow", "0.02")  # fmt: skip
    with Sandbox(*args, auth_file=tmp_path / "auth.json") as sandbox:
        archive, job = tmp_path / "archive", ("-s", f"JOBDIR={tmp_path / 'job'}",
                                              "-s", "FLICKR_PROGRESS_INTERVAL=0.2")  # fmt: skip

        def infos() -> int:
            return sandbox.stats()["api_calls"]["by_method"].get("flickr.photos.getInfo", 0)

        first = interrupt_crawl_when(lambda: infos() >= 15, sandbox, archive, *job)
        assert first == 130
        before = infos()
        assert 15 <= before < 60
        resumed = crawl(sandbox, archive, *job)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "Resuming crawl" in whole_log(resumed, archive)
    db = sqlite3.connect(archive / "catalog.db")
    stored = db.execute("SELECT count(*) FROM photos WHERE info_raw IS NOT NULL").fetchone()[0]
    db.close()
    assert stored == 60
    final = final_progress(resumed, archive)
    assert len(final) == 1
    assert final[0].startswith("Progress (finished): deep pass 60/60, photos 60/60, ")


def test_an_incremental_run_ends_at_its_total(tmp_path: Path) -> None:
    """A no-change incremental run leaves every photo alone (one page of the listing): its
    progress ends at the total, as the catalog has it (it said 'photos 0/60 (0%)')."""
    args = ("--photos", "60", "--videos", "0", "--albums", "3", "--image-size", "small")
    with Sandbox(*args, auth_file=tmp_path / "auth.json") as sandbox:
        archive, per_page = tmp_path / "archive", ("-s", "FLICKR_API_PER_PAGE=20")
        assert crawl(sandbox, archive, *per_page).returncode == 0
        again = crawl(sandbox, archive, *per_page, "-s", "FLICKR_PROGRESS_INTERVAL=0.2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Listing: changes since" in whole_log(again, archive)
    final = final_progress(again, archive)
    assert len(final) == 1
    assert final[0].startswith("Progress (finished): deep pass 60/60, photos 60/60, 0 B ")


def test_run_logs_of_one_second_sort_in_run_order(tmp_path: Path) -> None:
    """`ls logs/` (and anything sorting names) shows runs in the order they ran."""
    started = datetime(2026, 12, 5, 9, 0, 0, tzinfo=UTC)
    made = []
    for _ in range(12):
        path = run_log_path(tmp_path, "photostream", started)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".json").write_text("{}")
        made.append(path.with_suffix(".json").name)
    assert len(set(made)) == 12
    assert sorted(made) == made
