"""``scrapy estimate`` against a sandbox: counts equal to its ground truth, and the API calls a
real ``scrapy crawl photostream`` then spends; plus the pure rules of
``flickr_crawl.flickr.estimate``."""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.demo import sandbox_settings
from flickr_crawl.downloader.budget import SLACK, WINDOW, budget_file
from flickr_crawl.flickr.estimate import (
    BYTES_PER_PIXEL,
    FAVES_PER_PAGE,
    VIDEO_BYTES,
    Assumptions,
    Estimate,
    add_photo,
    api_seconds,
    human_bytes,
    human_duration,
    pages,
    photo_pixels,
)
from flickr_crawl.sandbox.process import Sandbox
from tests.helpers import crawl, scrapy

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(scope="module")
def account_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    auth_file = tmp_path_factory.mktemp("estimate") / "auth.json"
    args = ("--photos", "120", "--videos", "3", "--image-size", "small")
    with Sandbox(*args, auth_file=auth_file) as sb:
        yield sb


def run_estimate(sandbox: Sandbox, archive: Path, *extra: str) -> dict[str, Any]:
    assert sandbox.auth_file is not None
    result = scrapy(
        "estimate", "--json", *sandbox_settings(sandbox.url, sandbox.auth_file, archive), *extra
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_estimate_matches_truth_and_the_crawl(account_sandbox: Sandbox, tmp_path: Path) -> None:
    truth = account_sandbox.account(hashes=False)
    own = truth["photos"]
    account_sandbox.reset_stats()
    est = run_estimate(account_sandbox, tmp_path / "archive")
    spent = account_sandbox.stats()["api_calls"]
    assert est["estimate_api_calls"] == spent["total"] == 3
    assert set(spent["by_method"]) == {
        "flickr.people.getPhotos",
        "flickr.photosets.getList",
        "flickr.galleries.getList",
    }

    assert est["photos"] == sum(p["media"] == "photo" for p in own) == 120
    assert est["videos"] == sum(p["media"] == "video" for p in own) == 3
    assert est["photos_with_comments"] == sum(bool(p["comments"]) for p in own)
    assert est["faves"] == sum(len(p["faves"]) for p in own)
    pixels = sum(p["width"] * p["height"] for p in own if p["media"] == "photo")
    assert est["photo_pixels"] == pixels
    bpp = [BYTES_PER_PIXEL[(p["original"] or {"format": "jpg"})["format"]] for p in own]
    assert est["photo_bytes"] == pytest.approx(
        sum(
            p["width"] * p["height"] * b
            for p, b in zip(own, bpp, strict=True)
            if p["media"] == "photo"
        ),
        abs=len(own),  # rounded per photo
    )
    assert est["video_bytes"] == 3 * VIDEO_BYTES
    # The rules, from the ground truth, for what the people.getList figure may not know.
    assert est["api_calls"]["flickr.photos.getFavorites"] == sum(
        math.ceil(len(p["faves"]) / FAVES_PER_PAGE) for p in own
    )
    assert est["api_calls"]["flickr.photos.getInfo"] == len(own)
    assert est["people_rate_source"] == "assumed"
    assert est["api_calls"]["flickr.photos.people.getList"] == math.ceil(len(own) * 0.05)

    account_sandbox.reset_stats()
    result = crawl(account_sandbox, tmp_path / "archive")
    assert result.returncode in (0, 2), result.stderr[-2000:]  # 2: videos need a web session
    actual = account_sandbox.stats()["api_calls"]
    people = "flickr.photos.people.getList"
    assert actual["by_method"][people] == sum(bool(p["people"]) for p in own)
    assert {m: n for m, n in est["api_calls"].items() if m != people} == {
        m: n for m, n in actual["by_method"].items() if m != people
    }
    assert est["api_calls_total"] - est["api_calls"][people] == (
        actual["total"] - actual["by_method"][people]
    )

    # Second estimate, with the catalog the crawl wrote: the people share is learnt from it,
    # which makes the whole figure exact, and nothing is new or updated.
    again = run_estimate(account_sandbox, tmp_path / "archive")
    assert again["people_rate_source"].startswith("share in ")
    assert again["api_calls"] == actual["by_method"]
    assert again["api_calls_total"] == actual["total"]
    assert again["incremental"] == {
        "new": 0, "updated": 0, "unchanged": len(own), "gone": 0, "new_bytes": 0,
        "info_owed": 0,
    }  # fmt: skip


def test_estimate_pages_like_the_crawl(account_sandbox: Sandbox, tmp_path: Path) -> None:
    """Small pages: every list is paginated, and the figure is still the crawl's, exactly."""
    small = ("-s", "FLICKR_API_PER_PAGE=7", "-s", "FLICKR_DEEP_METADATA_ENABLED=False")
    account_sandbox.reset_stats()
    est = run_estimate(account_sandbox, tmp_path / "archive", *small)
    assert est["estimate_api_calls"] == account_sandbox.stats()["api_calls"]["total"] == 21
    assert est["api_calls"]["flickr.people.getPhotos"] == 18  # 123 photos, 7 a page
    account_sandbox.reset_stats()
    result = crawl(account_sandbox, tmp_path / "archive", *small)
    assert result.returncode in (0, 2), result.stderr[-2000:]
    actual = account_sandbox.stats()["api_calls"]
    assert est["api_calls"] == actual["by_method"]
    assert est["api_calls_total"] == actual["total"]


def test_estimate_charges_the_crawls_hourly_budget(
    account_sandbox: Sandbox, tmp_path: Path
) -> None:
    """The estimate's calls are written to the API key's budget file, the one a crawl with the
    same key reads (in the user's state folder, by default): together they stay under the
    hourly cap."""
    assert account_sandbox.auth_file is not None
    auth = tmp_path / "auth.json"
    auth.write_text(account_sandbox.auth_file.read_text())
    api_key = json.loads(auth.read_text())["api_key"]
    shared = budget_file("", api_key)  # where the crawl's middleware keeps it
    earlier = set(json.loads(shared.read_text())["sent"]) if shared.exists() else set()
    account_sandbox.reset_stats()
    before = time.time()
    settings = sandbox_settings(account_sandbox.url, auth, tmp_path / "a")
    result = scrapy("estimate", "--json", *settings, "-s", "FLICKR_API_CALLS_PER_HOUR=3600")
    assert result.returncode == 0, result.stderr
    sent = [t for t in json.loads(shared.read_text())["sent"] if t not in earlier]
    assert len(sent) == json.loads(result.stdout)["estimate_api_calls"] == 3
    assert account_sandbox.stats()["api_calls"]["total"] == 3
    assert all(before <= t <= time.time() + 1 for t in sent)


def test_estimate_waits_for_a_budget_the_crawl_used_up(
    account_sandbox: Sandbox, tmp_path: Path
) -> None:
    """A budget file full of calls (a crawl's, within the hour): the estimate waits until the
    oldest leaves the window, says so on stderr, and never goes over the cap."""
    budget = tmp_path / "api-calls.json"
    old = time.time() - WINDOW + 1  # these leave the window ~3 s from now (with SLACK)
    budget.write_text(json.dumps({"window": WINDOW, "sent": [old, old, old]}))
    budget.chmod(0o600)
    started = time.monotonic()
    assert account_sandbox.auth_file is not None
    settings = sandbox_settings(account_sandbox.url, account_sandbox.auth_file, tmp_path / "a")
    result = scrapy("estimate", "--json", *settings, "-s", "FLICKR_API_CALLS_PER_HOUR=3",
                    "-s", f"FLICKR_API_BUDGET_FILE={budget}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1 + SLACK - 0.5
    assert "the API budget of 3 calls/hour is used up" in result.stderr
    sent = json.loads(budget.read_text())["sent"]
    assert len(sent) == 3
    assert min(sent) >= old + WINDOW  # the crawl's calls left the window first


def test_estimate_incremental_sees_new_and_updated(tmp_path: Path) -> None:
    auth_file = tmp_path / "auth.json"
    args = ("--photos", "12", "--videos", "0", "--image-size", "small", "--albums", "2")
    with Sandbox(*args, auth_file=auth_file) as sb:
        no_deep = ("-s", "FLICKR_DEEP_METADATA_ENABLED=False")
        assert crawl(sb, tmp_path / "archive", *no_deep).returncode == 0
        first, second = (p["id"] for p in sb.account(hashes=False)["photos"][:2])
        sb.mutate([
            {"op": "edit_photo", "id": first, "title": "changed"},
            {"op": "delete_photo", "id": second},
            {"op": "add_photo"},
        ])  # fmt: skip
        est = run_estimate(sb, tmp_path / "archive", "-s", "FLICKR_DEEP_METADATA_ENABLED=False")
    assert "flickr.photos.getInfo" not in est["api_calls"]
    inc = est["incremental"]
    assert (inc["new"], inc["updated"], inc["unchanged"], inc["gone"]) == (1, 1, 10, 1)


def test_estimate_without_credentials(tmp_path: Path) -> None:
    result = scrapy("estimate", "-s", f"FLICKR_AUTH_FILE={tmp_path / 'none.json'}",
                    env={"FLICKR_API_KEY": "", "FLICKR_API_SECRET": ""})  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("error: no Flickr API key")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_estimate_rejected_token(account_sandbox: Sandbox, tmp_path: Path) -> None:
    assert account_sandbox.auth_file is not None
    data = json.loads(account_sandbox.auth_file.read_text())
    bad = tmp_path / "auth.json"
    bad.write_text(json.dumps({**data, "oauth_token_secret": "wrong"}))
    result = scrapy("estimate", *sandbox_settings(account_sandbox.url, bad, tmp_path / "a"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: Flickr rejected the credentials")
    assert "wrong" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_estimate_text_output(account_sandbox: Sandbox, tmp_path: Path) -> None:
    assert account_sandbox.auth_file is not None
    settings = sandbox_settings(account_sandbox.url, account_sandbox.auth_file, tmp_path / "a")
    result = scrapy("estimate", *settings, "--video-mb", "10")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "120 photos, 3 videos" in out
    assert "3 x 10.0 MB assumed" in out
    assert "flickr.photos.people.getList" in out
    assert "This estimate spent 3 API calls." in out
    bad = scrapy("estimate", *settings, "--people-rate", "2")
    assert bad.returncode == 1
    assert bad.stderr == "error: --people-rate must be between 0 and 1\n"


# --- the pure rules ------------------------------------------------------------------------
def test_pages() -> None:
    assert [pages(n, 50) for n in (0, 1, 50, 51, 100, 101)] == [1, 1, 1, 2, 2, 3]


def test_photo_pixels_follows_what_the_crawl_downloads() -> None:
    assert photo_pixels({"url_o": "x.png", "o_width": "10", "o_height": 20,
                         "originalformat": "png"}) == (200, "png")  # fmt: skip
    assert photo_pixels({"url_o": "x.jpg", "width_o": 3, "height_o": "4"}) == (12, "jpg")
    # No original offered: the largest size, as mapping.best_photo_source picks it.
    row = {"url_k": "y.jpg", "width_k": 2048, "height_k": "1365", "url_m": "z.jpg",
           "o_width": "6000", "o_height": "4000"}  # fmt: skip
    assert photo_pixels(row) == (2048 * 1365, "jpg")
    assert photo_pixels({}) == (0, "jpg")


def test_add_photo_calls() -> None:
    est = Estimate()
    a = Assumptions(video_bytes=7)
    add_photo(est, {"media": "photo", "url_o": "a.jpg", "width_o": 100, "height_o": 100,
                    "count_comments": "3", "count_faves": 101}, a)  # fmt: skip
    add_photo(est, {"media": "video", "originalsecret": "s", "count_faves": "0"}, a)
    add_photo(est, {"media": "video", "originalsecret": "", "count_comments": 0}, a)
    assert (est.photos, est.videos, est.video_bytes) == (1, 2, 14)
    assert est.photo_bytes == round(10_000 * BYTES_PER_PIXEL["jpg"])
    assert dict(est.calls) == {
        "flickr.photos.comments.getList": 1,
        "flickr.photos.getFavorites": 3,  # 101 faves, 50 per page
        "flickr.photos.getSizes": 1,  # the video without originalsecret
    }


def test_api_seconds_under_the_budget() -> None:
    assert api_seconds(0, 3600, 0.5) == 0
    assert api_seconds(100, 3600, 0.5) == 50  # budget never reached
    assert api_seconds(100, 0, 0.5) == 50  # no budget
    assert api_seconds(10_000, 3600, 2.0) == 20_000  # slower than the budget: latency rules
    # 3600/h at 0.1 s per call: two full windows wait an hour each, then 2800 calls.
    assert api_seconds(10_000, 3600, 0.1) == pytest.approx(2 * 3600 + 2800 * 0.1)
    assert api_seconds(7201, 3600, 0.0) == 7200


def test_human_units() -> None:
    assert human_bytes(999) == "999 B"
    assert human_bytes(1_234_567) == "1.2 MB"
    assert human_bytes(5e12) == "5.0 TB"
    assert human_duration(42) == "42 s"
    assert human_duration(3725) == "1 h 02 min"
    assert human_duration(3 * 86400 + 7200) == "3 d 02 h"


@pytest.mark.parametrize("columns", ["60", "80", "100"])
def test_help_shows_each_option_on_clean_lines(columns: str) -> None:
    """`scrapy estimate -h`: no option's help is title-cased into a heading over `====`."""
    result = scrapy("estimate", "-h", env={"COLUMNS": columns})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    underlined = [lines[i - 1] for i, line in enumerate(lines) if line and set(line) <= {"=", "-"}]
    assert underlined == ["Usage", "Options", "Global Options"]
    options = result.stdout.split("\nOptions\n")[1].split("\nGlobal Options\n")[0]
    helps = {}  # option -> its help, its wrapped lines joined
    for line in options.splitlines()[1:]:
        if line.startswith("  -"):
            option, _, text = line.strip().partition("  ")
            current = helps.setdefault(option.split()[0].rstrip(","), [])
            current.append(text)
        elif line.startswith(" " * 24):
            current.append(line)
    said = {option: " ".join(" ".join(parts).split()) for option, parts in helps.items()}
    assert said["--json"] == "print the estimate as JSON"
    assert said["--video-mb"] == "assumed size of one video original in MB (default 150)"
    assert said["--people-rate"] == (
        "assumed share of photos with people tagged (default: from catalog.db, else 0.05)"
    )
