"""``scrapy estimate [--json]``: what a full backup costs, before anything is downloaded.

Makes only the list calls it needs (people.getPhotos pages with the extras that size each
original, photosets.getList and galleries.getList pages), signed with the same credentials and
endpoints as the crawl, then prints the photo and video counts, the bytes to download, the API
calls a ``scrapy crawl photostream`` will make (by method, following the spider's rules) and how
long the API budget makes that. With a ``catalog.db`` in ``FLICKR_ARCHIVE_DIR`` it also says
how many photos are new or updated since the last backup. The rules are in
``flickr_crawl.flickr.estimate``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.commands import ScrapyCommand

from flickr_crawl.catalog.db import CATALOG_NAME
from flickr_crawl.catalog.views import estimate_basis
from flickr_crawl.commands.helpformat import HelpFormatter
from flickr_crawl.flickr.api import (
    TRANSIENT_CODES,
    BadResponse,
    FlickrApiError,
    call_params,
    page_of,
    parse_envelope,
)
from flickr_crawl.flickr.auth import AuthError, auth_file_path, load_credentials
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
)

if TYPE_CHECKING:
    import argparse

    import requests

    from flickr_crawl.flickr.auth import Credentials

ATTEMPTS = 3  # per call, for transient answers (105, 201, 429, 5xx, cut bodies)


class EstimateError(Exception):
    """The estimate cannot go on; the message is the one line the user sees."""


class ListClient:
    """Signed REST GETs with a call counter and the time they took."""

    def __init__(self, creds: Credentials, api_url: str, auth_file: Path, timeout: float):
        import requests
        from requests_oauthlib import OAuth1

        self.creds = creds
        self.api_url = api_url
        self.auth_file = auth_file
        self.timeout = timeout
        self.session: requests.Session = requests.Session()
        self.session.auth = OAuth1(
            creds.api_key,
            client_secret=creds.api_secret,
            resource_owner_key=creds.oauth_token,
            resource_owner_secret=creds.oauth_token_secret,
            signature_method="HMAC-SHA1",
        )
        self.calls = 0
        self.seconds = 0.0

    @property
    def latency(self) -> float:
        return self.seconds / self.calls if self.calls else 0.0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One API call's payload, retried on transient failures; EstimateError otherwise."""
        import requests

        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(attempt)  # a command-line tool, not the crawl: a short pause is fine
            self.calls += 1
            started = time.monotonic()
            try:
                response = self.session.get(
                    self.api_url,
                    params=call_params(method, self.creds.api_key, **params),
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                problem = f"cannot reach {self.api_url}: {exc.__class__.__name__}"
                continue
            finally:
                self.seconds += time.monotonic() - started
            if response.status_code in (400, 401):
                raise EstimateError(
                    f"Flickr rejected the credentials in {self.auth_file} "
                    f"(HTTP {response.status_code}); run `scrapy auth --reauth`"
                )
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"{method}: HTTP {response.status_code}"
                continue
            try:
                return parse_envelope(response.content)
            except BadResponse as exc:
                problem = f"{method}: {exc}"
            except FlickrApiError as exc:
                if exc.auth:
                    raise EstimateError(
                        f"Flickr rejected the credentials in {self.auth_file}: {exc.message} "
                        f"(code {exc.code}); run `scrapy auth --reauth`"
                    ) from None
                if exc.code not in TRANSIENT_CODES:
                    raise EstimateError(f"{method}: API error {exc.code}: {exc.message}") from None
                problem = f"{method}: API error {exc.code}: {exc.message}"
        raise EstimateError(f"{problem} (gave up after {ATTEMPTS} attempts)")

    def rows(
        self, method: str, container: str, row: str, per_page: int, **params: Any
    ) -> tuple[list[dict[str, Any]], int]:
        """Every row of a paginated list, and the total the first page announced."""
        found: list[dict[str, Any]] = []
        total = 0
        page_no = 1
        while True:
            data = self.call(method, page=page_no, per_page=per_page, **params)
            box = data.get(container, {}) or {}
            rows = box.get(row, []) or []
            found.extend(rows)
            page = page_of(box, rows)
            if page_no == 1:
                total = page.total
            if page.last or page.page != page_no:
                return found, total
            page_no += 1


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--json] [--video-mb MB] [--people-rate R]"

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
            "--people-rate", type=float, default=None, metavar="R",
            help="assumed share of photos with people tagged (default: from catalog.db, "
            "else 0.05)",
        )  # fmt: skip

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            result = self.estimate(opts)
        except (EstimateError, AuthError) as exc:
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
        if opts.video_mb is not None and opts.video_mb < 0:
            raise EstimateError("--video-mb must be 0 or more")
        if opts.people_rate is not None and not 0 <= opts.people_rate <= 1:
            raise EstimateError("--people-rate must be between 0 and 1")
        auth_file = auth_file_path(settings.get("FLICKR_AUTH_FILE"))
        creds = load_credentials(auth_file)
        per_page = min(max(settings.getint("FLICKR_API_PER_PAGE", 500), 1), 500)
        per_hour = settings.getint("FLICKR_API_CALLS_PER_HOUR", 3600)
        deep = settings.getbool("FLICKR_DEEP_METADATA", True)
        assumptions = Assumptions()
        if opts.video_mb is not None:
            assumptions = Assumptions(video_bytes=round(opts.video_mb * 1_000_000))
        client = ListClient(
            creds,
            settings.get("FLICKR_API_URL"),
            auth_file,
            settings.getfloat("DOWNLOAD_TIMEOUT", 180),
        )
        photos, photos_total = client.rows(
            "flickr.people.getPhotos", "photos", "photo", per_page,
            user_id="me", extras=ESTIMATE_EXTRAS,
        )  # fmt: skip
        albums, albums_total = client.rows(
            "flickr.photosets.getList", "photosets", "photoset", per_page
        )
        galleries, galleries_total = client.rows(
            "flickr.galleries.getList", "galleries", "gallery", per_page,
            user_id=creds.user_nsid or None,
        )  # fmt: skip
        photos = list({str(p["id"]): p for p in photos}.values())  # pages shift during runs

        catalog = Path(settings.get("FLICKR_ARCHIVE_DIR", "archive")) / CATALOG_NAME
        inc: Incremental | None = None
        people_rate, people_source = opts.people_rate, "--people-rate"
        if catalog.is_file():
            try:
                known, catalog_rate = estimate_basis(catalog, creds.user_nsid)
            except sqlite3.Error as exc:
                print(f"warning: cannot read {catalog}: {exc}", file=sys.stderr)
            else:
                inc = incremental(photos, known, assumptions)
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
        return result_of(
            est,
            inc=inc,
            assumptions=assumptions,
            people_rate=people_rate,
            people_source=people_source,
            per_hour=per_hour,
            latency=client.latency,
            spent=client.calls,
            user=creds.username or creds.user_nsid,
            deep=deep,
        )


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
        if method == "flickr.photos.people.getList":
            note = (
                f"  estimate: {r['people_rate']:.1%} of photos ({r['people_rate_source']}); "
                "only getInfo tells which photos have people"
            )
        lines.append(f"  {method:<34}{n:>8}{note}")
    if not r["deep_metadata"]:
        lines.append("  (FLICKR_DEEP_METADATA is off: no getInfo/people calls)")
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
    lines.append(f"This estimate spent {r['estimate_api_calls']} API calls.")
    return "\n".join(lines)
