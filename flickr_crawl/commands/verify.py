"""``scrapy verify [--fix]``: check every file of the archive against catalog.db.

Each file the catalog calls complete is read in full: present, the recorded size and SHA-256,
and bytes of the recorded kind (a video is a video, a photo an image). Exit 0 when all is
well, 2 when something is wrong (listed), 1 when there is no catalog. ``--fix`` marks the
broken ones in the catalog so ``scrapy crawl redownload -a missing=1`` fetches them again.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from flickr_crawl.archive.integrity import archive_of, mark_broken, verify
from flickr_crawl.archive.lock import ArchiveBusy, hold
from flickr_crawl.catalog.db import NoCatalog

if TYPE_CHECKING:
    import argparse


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--fix]"

    def short_desc(self) -> str:
        return "Check every archived file (size, sha256, type); exit 2 if any is broken"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--fix", action="store_true", help="queue broken files for redownload")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        try:
            archive, db = archive_of(self.settings)
        except NoCatalog as exc:
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        if opts.fix:  # it writes the catalog: not while a crawl does
            try:
                hold(archive)
            except (ArchiveBusy, OSError) as exc:
                db.close()
                print(f"error: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
                self.exitcode = 1
                return
        checked, problems = verify(archive, db)
        for p in problems:
            print(f"{p.id}\t{p.path}\t{p.reason}")
        if problems and opts.fix:
            marked = mark_broken(db, problems)
            print(f"{marked} marked for `scrapy crawl redownload -a missing=1`", file=sys.stderr)
        db.close()
        print(f"{checked} files checked, {len(problems)} broken", file=sys.stderr)
        self.exitcode = 2 if problems else 0
