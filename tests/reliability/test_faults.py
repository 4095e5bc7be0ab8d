"""A backup under a misbehaving Flickr ends exactly as one under a healthy Flickr.

The sandbox injects every fault kind it knows in turn (HTTP 5xx, 429 with an HTML body and
sometimes Retry-After, ``stat: fail`` 105 and 201, bodies cut mid-transfer, connection resets,
slow answers, non-JSON bodies, wrong Content-Types) into 10% of all requests, API and media. The
backup must still end with exit 0 and the same bytes on disk as a clean run, retry each request
a bounded number of times, and back off when Flickr pushes back; permanent failures end in exit
2 with exactly those ids listed. Timing is measured on the sandbox's own request log.
"""

from __future__ import annotations

import itertools
import statistics
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from flickr_crawl.sandbox.process import Sandbox
from flickr_crawl.sandbox.server import FAULT_KINDS
from tests.helpers import QUICK_BACKOFF, crawl, sidecars, web_session
from tests.reliability.common import (
    SMALL_ACCOUNT,
    archive_files,
    catalog_rows,
    now,
    run_summary,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

RETRY_TIMES = 5  # settings.py
# The pacing rules at a quarter of settings.py's pace (FLICKR_BACKOFF_START = 1 s); FAST_MAX
# also caps the sandbox's 2 s Retry-After, where it is set.
FAST_START, FAST_MAX = 0.25, 0.5


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A small account with a video, a web session, and a clean backup to compare against."""
    tmp = tmp_path_factory.mktemp("faults")
    with Sandbox(*SMALL_ACCOUNT, "--seed", "21", auth_file=tmp / "auth.json") as sandbox:
        session = web_session(sandbox, tmp / "web-session.json")
        # Small pages: more listing calls, so that every fault kind hits the API too, and
        # pagination is tested with them.
        args = ("-s", f"FLICKR_WEB_SESSION_FILE={session}", "-s", "FLICKR_API_PER_PAGE=2")
        since = now()
        clean = crawl(sandbox, tmp / "clean", *args)
        assert clean.returncode == 0, clean.stderr[-3000:]
        yield SimpleNamespace(
            sandbox=sandbox,
            session=session,
            args=args,
            clean=tmp / "clean",
            files=archive_files(tmp / "clean"),
            catalog=catalog_rows(tmp / "clean", since),
            since=since,
        )


@pytest.fixture
def faults(world: SimpleNamespace) -> Iterator[Sandbox]:
    sandbox = world.sandbox
    sandbox.reset_stats()
    yield sandbox
    sandbox.faults(rate=0, kinds=[], permanent_photo_ids=[], cycle=False)


def _api_pushbacks(log: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each API answer that pushed back, with the API request that came next."""
    api = [e for e in log if e["kind"] == "api"]
    return [
        (entry, following)
        for entry, following in itertools.pairwise(api)
        if entry["status"] in (429, 503) or entry["fault"] in ("stat_105", "stat_201")
    ]


def _attempts(log: list[dict[str, Any]]) -> dict[str, int]:
    """How often each distinct request (API call or media path) reached the sandbox."""
    counts: dict[str, int] = {}
    for entry in log:
        key = entry["call"] if entry["kind"] == "api" else entry["path"]
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_a_backup_through_every_fault_is_complete_and_byte_identical(world, faults):
    faults.faults(rate=0.1, kinds=list(FAULT_KINDS), cycle=True)
    pace = ("-s", f"FLICKR_BACKOFF_START={FAST_START}", "-s", f"FLICKR_BACKOFF_MAX={FAST_MAX}")
    result = crawl(faults, world.clean.parent / "faulty", *world.args, *pace)
    stats, log = faults.stats(), faults.requests()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    # every kind of fault really happened, on the API and on media downloads
    assert set(stats["faults_injected"]) == set(FAULT_KINDS), stats["faults_injected"]
    assert {e["kind"] for e in log if e["fault"]} == {"api", "media"}
    archive = world.clean.parent / "faulty"
    assert archive_files(archive) == world.files
    assert catalog_rows(archive, world.since) == world.catalog
    summary = run_summary(archive)
    assert summary["failed"] == []
    assert summary["missing_videos"] == []
    # bounded: no request was tried more than 1 + RETRY_TIMES times
    assert max(_attempts(log).values()) <= 1 + RETRY_TIMES
    # after each pushback the API slot waited: Retry-After when given (up to the cap), else
    # the backoff
    pushbacks = _api_pushbacks(log)
    assert len(pushbacks) >= 3
    for answer, following in pushbacks:
        wanted = max(FAST_START, min(float(answer["retry_after"] or 0), FAST_MAX))
        assert following["t"] - answer["done"] >= wanted - 0.05, (answer, following)


def test_backoff_lowers_the_api_request_rate(world, faults, tmp_path):
    """The same 429s with and without backoff: without it the retry comes at once. (The
    backoff starts at FAST_START; the sandbox's 2 s Retry-After stays under the default cap.)"""
    rates, gaps = {}, {}
    for backoff in (True, False):
        faults.reset_stats()
        faults.faults(rate=0.1, kinds=["http_429"], cycle=True)
        result = crawl(faults, tmp_path / str(backoff), "-s", f"FLICKR_BACKOFF_ENABLED={backoff}",
                       "-s", f"FLICKR_BACKOFF_START={FAST_START}",
                       "-s", f"FLICKR_WEB_SESSION_FILE={world.session}")  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        assert run_summary(tmp_path / str(backoff))["failed"] == []
        log = faults.requests()
        api = [e for e in log if e["kind"] == "api"]
        rates[backoff] = len(api) / (api[-1]["t"] - api[0]["t"])
        pushbacks = _api_pushbacks(log)
        gaps[backoff] = [nxt["t"] - ans["done"] for ans, nxt in pushbacks]
        assert len(gaps[backoff]) >= 3
        if backoff:  # Retry-After (2 s on every other 429) outweighs the backoff
            told = [nxt["t"] - ans["done"] for ans, nxt in pushbacks if ans["retry_after"]]
            assert told, "no 429 with Retry-After reached the API"
            assert min(told) >= 2.0 - 0.05
    assert min(gaps[True]) >= FAST_START - 0.05
    assert statistics.median(gaps[False]) < 0.5
    assert rates[True] < rates[False] / 2, rates


def test_permanent_failures_end_in_exit_2_listing_exactly_those_photos(world, faults):
    account = faults.account(hashes=False)
    photos = [p for p in account["photos"] if p["media"] == "photo" and p["original"]]
    victims = sorted(p["id"] for p in photos[:3])
    faults.faults(rate=0.1, kinds=list(FAULT_KINDS), cycle=True, permanent_photo_ids=victims)
    archive = world.clean.parent / "permanent"
    result = crawl(faults, archive, *world.args, *QUICK_BACKOFF)
    log = faults.requests()
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "3 items failed" in result.stderr.strip().splitlines()[-1]
    summary = run_summary(archive)
    assert sorted(p["subject"] for p in summary["failed"]) == victims
    for victim in victims:
        assert victim in result.stderr
    # each victim's original was asked for exactly 1 + RETRY_TIMES times, then given up
    tries = {v: sum(1 for e in log if e["kind"] == "media" and f"/{v}_" in e["path"])
             for v in victims}  # fmt: skip
    assert tries == dict.fromkeys(victims, 1 + RETRY_TIMES)
    # everything else is complete and identical; the victims keep their sidecars
    records = sidecars(archive)
    for victim in victims:
        assert records[victim][0]["file"]["status"] == "failed"
        assert records[victim][0]["title"] == next(
            p["title"] for p in account["photos"] if p["id"] == victim
        )
    files = archive_files(archive)
    expected = {
        path: digest
        for path, digest in world.files.items()
        if not any(path.rsplit("/", 1)[-1].startswith(f"{v}.") for v in victims)
    }
    assert {p: d for p, d in files.items() if p in expected} == expected
    extra = set(files) - set(world.files)
    assert not extra, extra


def test_a_file_is_recorded_as_the_type_of_its_bytes_not_the_cdns_header(world, faults):
    """Every media answer carries a wrong Content-Type (text/plain, text/html, ...): the
    sidecars and catalog.db record what the verified bytes are, as a clean backup does."""
    faults.faults(rate=1.0, kinds=["wrong_type"])
    archive = world.clean.parent / "wrong-types"
    result = crawl(faults, archive, *world.args)
    assert result.returncode == 0, result.stderr[-3000:]
    wrong = [e for e in faults.requests() if e["kind"] == "media" and e["fault"] == "wrong_type"]
    assert len(wrong) >= 40  # every photo's original, and the video
    types = {pid: records[0]["file"]["content_type"] for pid, records in sidecars(archive).items()}
    expected = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                "mp4": "video/mp4", "mov": "video/quicktime"}  # fmt: skip
    for pid, records in sidecars(archive).items():
        extension = records[0]["file"]["path"].rsplit(".", 1)[-1]
        assert types[pid] == expected[extension], (pid, types[pid])
    assert "image/jpeg" in types.values()
    assert archive_files(archive) == world.files
    assert catalog_rows(archive, world.since)["files"] == world.catalog["files"]
