"""``scrapy findmissing [-o missing.csv]``: every photo or video whose media is not on disk.

Reads catalog.db and the disk (sizes only, quick): never downloaded, failed, video originals
missing (no web session), files deleted or cut short. Writes CSV (id, media, title, page URL,
path, reason; quoted where a field needs it) to stdout or to ``-o``, which ``scrapy crawl
redownload -a ids=missing.csv`` reads back. Exit 0 when nothing is missing, 2 when something
is (as ``scrapy verify``), 1 when there is no catalog: a cron job can act on it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from flickr_crawl.archive.integrity import (
    archive_of,
    find_missing,
    write_csv,
    write_csv_to,
)
from flickr_crawl.catalog.db import NoCatalog

if TYPE_CHECKING:
    import argparse


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[-o missing.csv]"

    def short_desc(self) -> str:
        return "List photos and videos whose media is missing or incomplete in the archive"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", type=Path, help="write CSV here")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        try:
            archive, db = archive_of(self.settings)
        except NoCatalog as exc:
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        with db:
            problems = find_missing(archive, db)
        db.close()
        if opts.output:
            try:
                write_csv(opts.output, problems)
            except OSError as exc:
                print(f"error: cannot write {opts.output}: {exc.strerror}", file=sys.stderr)
                self.exitcode = 1
                return
        else:
            write_csv_to(sys.stdout, problems)
        print(f"{len(problems)} missing or incomplete", file=sys.stderr)
        self.exitcode = 2 if problems else 0
