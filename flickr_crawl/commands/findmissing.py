"""``scrapy findmissing [-o missing.csv]``: every photo or video whose media is not on disk.

Reads catalog.db and the disk (sizes only, quick): never downloaded, failed, video originals
missing (no web session), files deleted or cut short. Prints one line per item with its id,
title, page URL and reason, or writes them as CSV, which ``scrapy crawl redownload -a
ids=missing.csv`` reads back.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from flickr_crawl.integrity import NoCatalog, archive_of, find_missing, write_csv

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
            for p in problems:
                print(f"{p.id}\t{p.media}\t{p.title[:60]}\t{p.page_url}\t{p.reason}")
        print(f"{len(problems)} missing or incomplete", file=sys.stderr)
