"""``scrapy crawl``, with a backup tool's exit codes and one-line errors.

0: everything listed was saved. 2: the run finished but some items failed or some video
originals are missing (listed at the end and in ``logs/`` in the archive). 1: the run could
not start, or Flickr refused the credentials. 130: interrupted (run the same command again).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.spiderloader import get_spider_loader

from flickr_crawl.archive.paths import archive_dir
from flickr_crawl.commands.preflight import ConfigError, preflight
from flickr_crawl.extensions.jobdir import recover_unclean
from flickr_crawl.extensions.report import EXIT_CODES, RunReport, plural, result_line
from flickr_crawl.extensions.runlog import log_start_failure, show_summary, start_run_log

if TYPE_CHECKING:
    import argparse

EXIT_OK, EXIT_CANNOT_RUN, EXIT_SOME_FAILED, EXIT_INTERRUPTED = (
    EXIT_CODES[status] for status in ("ok", "cannot_run", "incomplete", "interrupted")
)

logger = logging.getLogger(__name__)


class Command(ScrapyCrawlCommand):
    def short_desc(self) -> str:
        return "Run a backup spider (photostream, ...); exit 0 done, 2 some failed, 1 cannot run"

    def long_desc(self) -> str:
        """The spiders and their ``-a`` arguments, which Scrapy's help cannot list."""
        return (
            f"{self.short_desc()}. Spiders and their arguments (-a NAME=VALUE), as in the "
            "README's table 'Spider arguments'. photostream: full=1 lists every page, since="
            "YYYY-MM-DD only photos uploaded from that day. favorites: full=1 lists every fave. "
            "redownload: ids=FILE fetches the ids in FILE, missing=1 all that findmissing lists."
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Check settings and credentials before Scrapy starts (and logs) anything."""
        super().process_options(args, opts)
        if len(args) != 1:
            return  # Scrapy's own usage error follows
        assert self.settings is not None
        warnings: list[str] = []

        def warn(line: str) -> None:
            warnings.append(line)
            print(f"warning: {line}", file=sys.stderr)

        try:
            preflight(
                self.settings, args[0], get_spider_loader(self.settings).list(), opts.spargs,
                warn=warn,
            )  # fmt: skip
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            log_start_failure(self.settings, args[0], str(exc), warnings)
            sys.exit(EXIT_CANNOT_RUN)
        if jobdir := self.settings.get("JOBDIR"):
            aside = recover_unclean(Path(jobdir))
            if aside is not None:
                print(
                    f"notice: the last run with JOBDIR={jobdir} did not close cleanly; its "
                    f"queue was set aside ({aside.name}) and the backup starts from the "
                    "listing again (complete files are kept)",
                    file=sys.stderr,
                )
        start_run_log(self.settings, args[0], archive_dir(self.settings))

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            super().run(args, opts)  # Scrapy's usage errors
            return
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        report = crawler.get_extension(RunReport) if crawler.extensions else None
        reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
        if report is not None:
            show_summary(report.summary_lines(), sys.stderr)
        if self.crawler_process.bootstrap_failed or report is None or report.exit_code is None:
            self.exitcode = EXIT_CANNOT_RUN
            logger.error(
                "%(line)s", {"line": result_line({"status": "cannot_run", "exit_code": 1})}
            )
        else:
            self.exitcode = report.exit_code  # the outcome the log and summary also record
            if report.fatal_error:
                print(f"error: {report.fatal_error}", file=sys.stderr)
            elif self.exitcode == EXIT_INTERRUPTED:
                print(
                    f"interrupted ({reason}); run the same command again to continue",
                    file=sys.stderr,
                )
            elif self.exitcode == EXIT_SOME_FAILED:
                print(
                    f"finished, but {plural(len(report.failures), 'item')} failed and "
                    f"{plural(len(report.missing_videos), 'video')} "
                    f"{'is' if len(report.missing_videos) == 1 else 'are'} missing; see "
                    f"{report.json_path or 'the summary above'}",
                    file=sys.stderr,
                )
