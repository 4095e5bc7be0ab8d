"""``scrapy site [--archive DIR] [--full]``: build the archive's offline website.

Reads catalog.db and the originals of the archive (``FLICKR_ARCHIVE_DIR``, or ``--archive``) and
writes ``site/index.html`` and the rest of the site beside them: thumbnails and web copies are
made only for new or changed originals, and only pages whose content changed are written, so
running it after every backup is cheap. ``--full`` remakes everything. Exit 0 when built, 1
when the archive has no catalog or the site cannot be written. Not part of the crawl.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from flickr_crawl.archive.integrity import NoCatalog
from flickr_crawl.archive.paths import archive_dir
from flickr_crawl.site.build import build_site
from flickr_crawl.site.images import Sizes

if TYPE_CHECKING:
    import argparse

PROGRESS_EVERY = 5.0  # seconds between progress lines while images are made


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--archive DIR] [--full]"

    def short_desc(self) -> str:
        return "Build the archive's offline website (site/index.html) from catalog.db"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--archive", type=Path, help="archive folder (FLICKR_ARCHIVE_DIR)")
        parser.add_argument(
            "--full", action="store_true", help="remake every image and rewrite every page"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        s = self.settings
        archive = opts.archive or archive_dir(s)
        sizes = Sizes(
            thumb=s.getint("FLICKR_SITE_THUMB_SIZE"),
            web=s.getint("FLICKR_SITE_WEB_SIZE"),
            quality=s.getint("FLICKR_SITE_JPEG_QUALITY"),
        )
        if min(sizes.thumb, sizes.web, s.getint("FLICKR_SITE_PAGE_SIZE")) < 1 or not (
            1 <= sizes.quality <= 95
        ):
            print(
                "error: FLICKR_SITE_THUMB_SIZE, _WEB_SIZE and _PAGE_SIZE must be positive, "
                "FLICKR_SITE_JPEG_QUALITY 1-95",
                file=sys.stderr,
            )
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
                page_size=s.getint("FLICKR_SITE_PAGE_SIZE"),
                workers=s.getint("FLICKR_SITE_WORKERS"),
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
