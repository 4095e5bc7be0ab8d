"""A console a person reads, and the run's whole log in the archive.

Scrapy prints about 130 lines for a small backup: its banner, component lists and the stats
dump, with what matters (warnings, errors, the run summary) lost in the middle. By default the
console keeps warnings and errors (and the live progress bar on a terminal), the crawl command
prints the run summary as its last lines, and the full INFO log goes to
``<archive>/logs/<stamp>-<spider>.log``, beside the run's JSON summary of the same name.

Asking for a log on the command line (``-L INFO``, ``-L DEBUG``, ``-s LOG_LEVEL=...``,
``--logfile``) shows Scrapy's log as it always did; the archive still gets its INFO log
(``--nolog`` writes none). Log lines go through the same redaction filter in the file as on
the console: no token or signed URL reaches either.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from scrapy.settings import SETTINGS_PRIORITIES

from flickr_crawl.archive.paths import LOGS_DIR
from flickr_crawl.extensions.redact import FILTER

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from typing import TextIO

    from scrapy.settings import BaseSettings

CONSOLE_LEVEL = "WARNING"  # what the console shows unless the command line asks for more
FILE_LEVEL = logging.INFO
SUMMARY_LOGGER = "flickr_crawl.extensions.report"

logger = logging.getLogger(__name__)


class RunLogHandler(logging.FileHandler):
    """The archive's log file of one run (a class of its own so the report can find it)."""

    broken = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.broken:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """A log file that cannot be written (the disk is full) stops, with one warning on
        the console; never a traceback per line, never the run."""
        if self.broken:
            return
        self.broken = True
        error = sys.exc_info()[1]
        logger.warning(
            "The run's log file %(path)s stopped: %(error)s",
            {"path": self.baseFilename, "error": getattr(error, "strerror", None) or error},
        )


def run_log_path(archive: Path, spider: str, started: datetime) -> Path:
    """``logs/<stamp>-<spider>.log``, free of any earlier run's log or summary. Two runs in one
    second keep both, and names sort in run order (``_02`` sorts after ``.``; ``-2`` did not)."""
    stem = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{spider}"
    logs = archive / LOGS_DIR
    path, n = logs / f"{stem}.log", 1
    while path.exists() or path.with_suffix(".json").exists():
        n += 1
        path = logs / f"{stem}_{n:02d}.log"
    return path


def asked_for_a_log(settings: BaseSettings) -> bool:
    """Did the command line (or a spider) set the log level or a log file?"""
    project = SETTINGS_PRIORITIES["project"]
    return bool(settings.get("LOG_FILE")) or (settings.getpriority("LOG_LEVEL") or 0) > project


def start_run_log(settings: BaseSettings, spider: str, archive: Path) -> Path | None:
    """Before Scrapy sets up its logging: quiet the console unless a log was asked for, and
    open the run's log file in the archive. Its path, or None with ``--nolog``."""
    if not settings.getbool("LOG_ENABLED", True):
        return None
    try:
        path = run_log_path(archive, spider, datetime.now(UTC))
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # no file to keep the log in: the console keeps it all, as Scrapy does
    if not asked_for_a_log(settings):
        # Scrapy's console handler takes its level from LOG_LEVEL, and logs its banner before
        # any component of ours runs: the setting is the one place to lower it.
        settings.set("LOG_LEVEL", CONSOLE_LEVEL, priority="project")
    # Mode "a" and delay: Scrapy's logging.config.dictConfig() closes every handler once at
    # start-up; a delayed append-mode file handler simply opens (again) on its next record.
    handler = RunLogHandler(path, mode="a", encoding="utf-8", delay=True)
    handler.setLevel(FILE_LEVEL)
    handler.setFormatter(
        logging.Formatter(fmt=settings.get("LOG_FORMAT"), datefmt=settings.get("LOG_DATEFORMAT"))
    )
    if settings.getbool("FLICKR_LOG_REDACTION_ENABLED", True):
        handler.addFilter(FILTER)
    logging.getLogger().addHandler(handler)
    return path


def run_log() -> RunLogHandler | None:
    """This process's run log handler, if one was started."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, RunLogHandler):
            return handler
    return None


def log_start_failure(settings: BaseSettings, spider: str, error: str, warnings: list[str]) -> None:
    """A run that could not start, into the log file the command line asked for (a scrapyd
    job's ``LOG_FILE``): its warnings, the error and the ``Run result`` line. The console got
    the same one line already; without a log file there is nowhere else to write it."""
    from scrapy.utils.log import configure_logging

    from flickr_crawl.extensions.report import EXIT_CODES, result_line

    if not settings.get("LOG_FILE") or not settings.getbool("LOG_ENABLED", True):
        return
    configure_logging(settings)
    for line in warnings:
        logger.warning("%(line)s", {"line": line})
    logger.error("Cannot run: %(error)s", {"error": error})
    result = {"status": "cannot_run", "exit_code": EXIT_CODES["cannot_run"], "spider": spider}
    logger.error("%(line)s", {"line": result_line(result | {"error": error})})
    logging.shutdown()


def show_summary(lines: Iterable[str], stream: TextIO) -> None:
    """Print the run summary (the console's last lines), and end the log file with it too."""
    handler = run_log()
    logger = logging.getLogger(SUMMARY_LOGGER)
    for line in lines:
        print(line, file=stream)
        if handler is not None:
            handler.handle(logger.makeRecord(SUMMARY_LOGGER, logging.INFO, "", 0, line, None, None))
