"""``scrapy estimate [--json]``: what a full backup costs, before anything is downloaded.

Makes only the list calls it needs (people.getPhotos pages with the extras that size each
original, photosets.getList and galleries.getList pages) with the project's API client
(``flickr_crawl.flickr.client``): signed with the crawl's credentials and endpoints, and charged
to the same hourly budget file, so an estimate and a crawl in one hour stay under the cap
together. Then it prints the photo and video counts, the bytes to download, the API
calls a ``scrapy crawl photostream`` will make (by method, following the spider's rules) and how
long the API budget makes that. With a ``catalog.db`` in ``FLICKR_ARCHIVE_DIR`` it also says
how many photos are new or updated since the last backup. The rules are in
``flickr_crawl.flickr.estimate``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from scrapy.commands import ScrapyCommand

from flickr_crawl.archive.paths import catalog_path
from flickr_crawl.catalog.views import estimate_basis
from flickr_crawl.commands.checksettings import BadSetting, check_settings
from flickr_crawl.commands.helpformat import HelpFormatter
from flickr_crawl.downloader.budget import BudgetUnavailable, shared_budget
from flickr_crawl.flickr.api import (
    GALLERIES_GET_LIST,
    PEOPLE_GET_PHOTOS,
    PHOTOS_PEOPLE_GET_LIST,
    PHOTOSETS_GET_LIST,
)
from flickr_crawl.flickr.auth import AuthError, auth_file_path, load_credentials
from flickr_crawl.flickr.client import CallFailed, RestClient
from flickr_crawl.flickr.estimate import (
    DEFAULT_BYTES_PER_PIXEL,
    ESTIMATE_EXTRAS,
    ORDER,
    Assumptions,
    Estimate,
    Incremental,
    api_seconds,
    estimate,
    human_bytes,
    human_duration,
    incremental,
    with_export,
)
from flickr_crawl.flickr.export import ExportError, open_export

if TYPE_CHECKING:
    import argparse


class EstimateError(Exception):
    """The estimate cannot go on; the message is the one line the user sees."""


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--json] [--video-mb MB] [--people-rate R] [-a export=DIR]"

    def short_desc(self) -> str:
        return "Estimate photos, bytes, API calls and time of a full backup (list calls only)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.formatter_class = HelpFormatter
        parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
        parser.add_argument(
            "--video-mb", type=float, default=None, metavar="MB",
            help="assumed size of one video original in MB (default 150)",
        )  # fmt: skip
        parser.add_argument(
            "-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE",
            help="as for the crawl: export=DIR counts what Flickr's account export in DIR saves",
        )  # fmt: skip
        parser.add_argument(
            "--people-rate", type=float, default=None, metavar="R",
            help="assumed share of photos with people tagged (default: from catalog.db, "
            "else 0.05)",
        )  # fmt: skip

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            result = self.estimate(opts)
        except (
            EstimateError,
            AuthError,
            CallFailed,
            BadSetting,
            BudgetUnavailable,
            ExportError,
        ) as exc:
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        if opts.json:
            print(json.dumps(result, indent=2, sort_keys=True))
        else:
            print(render(result))

    def estimate(self, opts: argparse.Namespace) -> dict[str, Any]:
        assert self.settings is not None
        settings = self.settings
        for warning in check_settings(settings):
            print(f"warning: {warning}", file=sys.stderr)
        if opts.video_mb is not None and opts.video_mb < 0:
            raise EstimateError("--video-mb must be 0 or more")
        if opts.people_rate is not None and not 0 <= opts.people_rate <= 1:
            raise EstimateError("--people-rate must be between 0 and 1")
        spargs = dict(a.partition("=")[::2] for a in opts.spargs)
        unknown = sorted(set(spargs) - {"export"})
        if unknown:
            raise EstimateError(f"unknown -a argument(s): {', '.join(unknown)}")
        auth_file = auth_file_path(settings.get("FLICKR_AUTH_FILE"))
        creds = load_credentials(auth_file)
        index = None
        if spargs.get("export"):
            index = open_export(spargs["export"], expect_nsid=creds.user_nsid)
        per_page = min(max(settings.getint("FLICKR_API_PER_PAGE", 500), 1), 500)
        budget = shared_budget(settings, creds.api_key)
        deep = settings.getbool("FLICKR_DEEP_METADATA_ENABLED", True)
        assumptions = Assumptions()
        if opts.video_mb is not None:
            assumptions = Assumptions(video_bytes=round(opts.video_mb * 1_000_000))
        client = RestClient(
            creds,
            settings.get("FLICKR_API_URL"),
            auth_file=auth_file,
            timeout=settings.getfloat("DOWNLOAD_TIMEOUT", 180),
            budget=budget if budget.per_hour > 0 else None,
            on_wait=lambda wait: print(
                f"estimate: the API budget of {budget.per_hour} calls/hour is used up (this "
                f"key's calls in the last hour, crawls included); next call in {wait:.0f} s",
                file=sys.stderr,
                flush=True,
            ),
        )
        photos, photos_total = client.rows(
            PEOPLE_GET_PHOTOS, "photos", "photo", per_page, user_id="me", extras=ESTIMATE_EXTRAS
        )
        albums, albums_total = client.rows(PHOTOSETS_GET_LIST, "photosets", "photoset", per_page)
        galleries, galleries_total = client.rows(
            GALLERIES_GET_LIST, "galleries", "gallery", per_page,
            user_id=creds.user_nsid or None,
        )  # fmt: skip
        photos = list({str(p["id"]): p for p in photos}.values())  # pages shift during runs

        catalog = catalog_path(settings)
        inc: Incremental | None = None
        people_rate, people_source = opts.people_rate, "--people-rate"
        if catalog.is_file():
            try:
                known, catalog_rate, owed = estimate_basis(catalog, creds.user_nsid)
            except sqlite3.Error as exc:
                print(f"warning: cannot read {catalog}: {exc}", file=sys.stderr)
            else:
                inc = incremental(photos, known, assumptions, owed)
                if people_rate is None and catalog_rate is not None:
                    people_rate, people_source = catalog_rate, f"share in {catalog}"
        if people_rate is None:
            people_rate, people_source = assumptions.people_rate, "assumed"

        est = estimate(
            photos=photos, photos_total=photos_total,
            albums=albums, albums_total=albums_total,
            galleries=galleries, galleries_total=galleries_total,
            per_page=per_page, deep=deep, assumptions=assumptions, people_rate=people_rate,
        )  # fmt: skip
        saved = None
        if index is not None:
            with index:
                owner = (creds.user_nsid, next((str(p.get("pathalias") or "") for p in photos), ""))
                saved = with_export(est, photos, index, owner=owner, deep=deep,
                                    people_rate=people_rate)  # fmt: skip
        result = result_of(
            est,
            inc=inc,
            assumptions=assumptions,
            people_rate=people_rate,
            people_source=people_source,
            per_hour=budget.per_hour,
            latency=client.latency,
            spent=client.calls,
            user=creds.username or creds.user_nsid,
            deep=deep,
        )
        result["export"] = asdict(saved) if saved is not None else None
        return result


def result_of(
    est: Estimate,
    *,
    inc: Incremental | None,
    assumptions: Assumptions,
    people_rate: float,
    people_source: str,
    per_hour: int,
    latency: float,
    spent: int,
    user: str,
    deep: bool,
) -> dict[str, Any]:
    """The estimate as plain JSON-able data (``--json`` prints exactly this)."""
    total = est.total_calls
    return {
        "user": user,
        "photos": est.photos,
        "videos": est.videos,
        "items": est.photos + est.videos,
        "bytes": est.bytes,
        "photo_bytes": est.photo_bytes,
        "photo_pixels": est.pixels,
        "video_bytes": est.video_bytes,
        "photos_with_comments": est.comments_photos,
        "faves": est.faves,
        "api_calls": {m: est.calls[m] for m in ORDER if est.calls.get(m)},
        "api_calls_total": total,
        "deep_metadata": deep,
        "people_rate": people_rate,
        "people_rate_source": people_source,
        "api_calls_per_hour": per_hour,
        "seconds_per_call": round(latency, 4),
        "api_seconds": round(api_seconds(total, per_hour, latency), 1),
        "api_seconds_budget_only": round(api_seconds(total, per_hour, 0.0), 1),
        "estimate_api_calls": spent,
        "assumptions": {
            "bytes_per_pixel": dict(assumptions.bytes_per_pixel),
            "default_bytes_per_pixel": DEFAULT_BYTES_PER_PIXEL,
            "video_bytes": assumptions.video_bytes,
        },
        "incremental": asdict(inc) if inc is not None else None,
    }


def render(r: dict[str, Any]) -> str:
    """The estimate for people."""
    bpp = r["assumptions"]["bytes_per_pixel"]
    lines = [
        f"Photostream of {r['user']}: {r['photos']} photos, {r['videos']} videos",
        f"Media to download: about {human_bytes(r['bytes'])}",
        (
            f"  photos: {r['photo_pixels'] / 1e6:,.0f} Mpx x {bpp.get('jpg')} bytes/pixel "
            f"(JPEG; PNG {bpp.get('png')}, GIF {bpp.get('gif')}) = "
            f"{human_bytes(r['photo_bytes'])}"
        ),
        (
            f"  videos: {r['videos']} x {human_bytes(r['assumptions']['video_bytes'])} assumed "
            f"(list extras give no duration or size) = {human_bytes(r['video_bytes'])}"
        ),
        f"Comments on {r['photos_with_comments']} photos; {r['faves']} faves",
        f"API calls for a full backup: {r['api_calls_total']}",
    ]
    for method, n in r["api_calls"].items():
        note = ""
        if method == PHOTOS_PEOPLE_GET_LIST:
            note = (
                f"  estimate: {r['people_rate']:.1%} of photos ({r['people_rate_source']}); "
                "only getInfo tells which photos have people"
            )
        lines.append(f"  {method:<34}{n:>8}{note}")
    if not r["deep_metadata"]:
        lines.append("  (FLICKR_DEEP_METADATA_ENABLED is off: no getInfo/people calls)")
    per_hour = r["api_calls_per_hour"]
    budget = f"{per_hour} calls/hour" if per_hour > 0 else "no hourly cap"
    lines.append(
        f"API time: about {human_duration(r['api_seconds'])} (budget {budget}, "
        f"{r['seconds_per_call']:.2f} s per call as measured here"
        + (
            f"; the budget alone needs {human_duration(r['api_seconds_budget_only'])})"
            if r["api_seconds_budget_only"] >= 3600
            else ")"
        )
    )
    lines.append("  media downloads run alongside the API calls; their time is your bandwidth's")
    inc = r["incremental"]
    if inc is not None:
        lines.append(
            f"Since the last backup (catalog.db): {inc['new']} new "
            f"(about {human_bytes(inc['new_bytes'])}), {inc['updated']} updated, "
            f"{inc['unchanged']} unchanged, {inc['gone']} no longer listed"
        )
        if inc["info_owed"]:
            lines.append(
                f"  {inc['info_owed']} of the unchanged owe a photos.getInfo (skipped when "
                "new comments alone changed them): the next sweep or -a full=1 asks it"
            )
    export = r.get("export")
    if export:
        lines.append(
            f"From the export: {export['items']} items' metadata, {export['originals']} "
            f"originals ({human_bytes(export['bytes'])} read from it, not downloaded); "
            f"{export['commenters']} commenters looked up once each"
        )
    lines.append(f"This estimate spent {r['estimate_api_calls']} API calls.")
    return "\n".join(lines)
