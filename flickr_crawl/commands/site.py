"""``scrapy site [--archive DIR] [--full] [--thumb-size PX] ...``: build the archive's offline
website.

Reads catalog.db and the originals of the archive (``FLICKR_ARCHIVE_DIR``, or ``--archive``) and
writes ``site/index.html`` and the rest of the site beside them: thumbnails and web copies are
made only for new or changed originals, and only pages whose content changed are written, so
running it after every backup is cheap. ``--full`` remakes everything. The sizes are options
(the crawl has no use for them); the old ``FLICKR_SITE_*`` settings still work, with a warning,
where no option is given. Exit 0 when built, 1 when the archive has no catalog, a setting or
option is wrong, or the site cannot be written. Not part of the crawl.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from flickr_crawl.archive.lock import SITE_LOCK_NAME, ArchiveBusy, hold
from flickr_crawl.archive.paths import archive_dir
from flickr_crawl.catalog.db import NoCatalog
from flickr_crawl.commands.checksettings import BadSetting, check_settings
from flickr_crawl.commands.helpformat import HelpFormatter
from flickr_crawl.site.build import build_site
from flickr_crawl.site.images import Sizes

if TYPE_CHECKING:
    import argparse

    from scrapy.settings import BaseSettings

PROGRESS_EVERY = 5.0  # seconds between progress lines while images are made
DEFAULTS = Sizes()
# option -> (deprecated setting it replaces, default, lowest, highest)
OPTIONS = {
    "thumb_size": ("FLICKR_SITE_THUMB_SIZE", DEFAULTS.thumb, 1, None),
    "web_size": ("FLICKR_SITE_WEB_SIZE", DEFAULTS.web, 1, None),
    "jpeg_quality": ("FLICKR_SITE_JPEG_QUALITY", DEFAULTS.quality, 1, 95),
    "page_size": ("FLICKR_SITE_PAGE_SIZE", 300, 1, None),
    "workers": ("FLICKR_SITE_WORKERS", 0, 0, None),
}


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--archive DIR] [--full] [--thumb-size PX] [--web-size PX] [--jpeg-quality Q] ..."

    def short_desc(self) -> str:
        return "Build the archive's offline website (site/index.html) from catalog.db"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--archive", type=Path, help="archive folder (FLICKR_ARCHIVE_DIR)")
        parser.formatter_class = HelpFormatter
        parser.add_argument(
            "--full", action="store_true", help="remake every image and rewrite every page"
        )
        helps = {
            "thumb_size": "thumbnails cover a square this many pixels wide",
            "web_size": "longest edge of the copy shown on a photo's page",
            "jpeg_quality": "JPEG quality of thumbnails and web copies, 1-95",
            "page_size": "photos per page of the photostream, albums, favorites, tags",
            "workers": "processes making images; 0 = one per CPU core",
        }
        for dest, (_setting, default, _low, _high) in OPTIONS.items():
            parser.add_argument(
                "--" + dest.replace("_", "-"), type=int, default=None, metavar="N",
                help=f"{helps[dest]} (default {default})",
            )  # fmt: skip

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        s = self.settings
        archive = opts.archive or archive_dir(s)
        try:
            for warning in check_settings(s):
                print(f"warning: {warning}", file=sys.stderr)
            value = {dest: _option(opts, s, dest) for dest in OPTIONS}
        except BadSetting as exc:
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        sizes = Sizes(
            thumb=value["thumb_size"], web=value["web_size"], quality=value["jpeg_quality"]
        )
        if archive.is_dir():  # (no archive: build_site says there is no catalog)
            try:
                hold(archive, SITE_LOCK_NAME)  # one site build at a time; a crawl may run
            except (ArchiveBusy, OSError) as exc:
                print(f"error: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
                self.exitcode = 1
                return
        last = [time.monotonic()]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - last[0] >= PROGRESS_EVERY:
                last[0] = now
                print(f"images: {done}/{total}", file=sys.stderr, flush=True)

        try:
            result = build_site(
                archive,
                sizes=sizes,
                page_size=value["page_size"],
                workers=value["workers"],
                full=opts.full,
                progress=progress,
            )
        except NoCatalog as exc:
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            print(f"error: cannot write the site:{where}: {exc.strerror or exc}", file=sys.stderr)
            self.exitcode = 1
            return
        c = result.counts
        print(
            f"{c['site/photos']} photos and videos; images: {c['site/image/made']} made, "
            f"{c['site/image/kept']} kept, {c['site/image/failed']} unreadable, "
            f"{c['site/original/missing']} originals missing; pages: "
            f"{c['site/page/written']} written, {c['site/page/unchanged']} unchanged; "
            f"{c['site/file/removed']} old files removed; {result.seconds:.1f} s",
            file=sys.stderr,
        )
        print(result.index.resolve().as_uri())


def _option(opts: argparse.Namespace, settings: BaseSettings, dest: str) -> int:
    """An option's value; else the deprecated setting's (checked already); else the default."""
    setting, default, low, high = OPTIONS[dest]
    given = getattr(opts, dest)
    if given is None:
        return settings.getint(setting, default)
    if given < low or (high is not None and given > high):
        limits = f"from {low} to {high}" if high is not None else f">= {low}"
        raise BadSetting(f"--{dest.replace('_', '-')} {given}; expected a whole number {limits}")
    return int(given)
