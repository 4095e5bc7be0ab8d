"""One writer per archive: an exclusive OS lock on a file in it, held while a process writes.

Two crawls (or a crawl and ``verify --fix``) writing one archive at once would both list,
spend the API budget twice and race on the same files and catalog rows; scheduled jobs
(scrapyd, cron) make that easy to do by accident. ``fcntl.flock`` is released by the kernel
when the holder exits, however it exits (SIGKILL, power cut), so a stale lock never blocks the
next run. A process takes the lock once, before it writes anything, and keeps it until it
exits; later takers in the same process get the same handle (a second ``flock`` from the same
process would conflict with its own).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

LOCK_NAME = ".flickr-crawl.lock"  # the crawl's lock (also marks an unclean end, see leftovers)
SITE_LOCK_NAME = ".flickr-site.lock"  # ``scrapy site``'s own: it may run beside a crawl

_held: dict[str, IO[str]] = {}


class ArchiveBusy(Exception):
    """Another process holds the lock; the message says which archive and what to do."""


def _key(path: Path) -> str:
    return os.path.realpath(path)


def hold(archive: Path, name: str = LOCK_NAME) -> IO[str]:
    """Take (or return this process's) lock ``name`` in ``archive``; ArchiveBusy if another
    process holds it. The folder is created if missing (OSError if it cannot be)."""
    archive.mkdir(parents=True, exist_ok=True)
    path = archive / name
    key = _key(path)
    if key in _held:
        return _held[key]
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ArchiveBusy(
            f"another run is writing to the archive {archive} (it holds {path}); this one "
            "was not started: wait for that one to end, or use another FLICKR_ARCHIVE_DIR"
        ) from None
    except OSError:
        handle.close()
        raise
    _held[key] = handle
    return handle


def release(archive: Path, name: str = LOCK_NAME) -> None:
    """Give the lock back (the process exiting does that too)."""
    handle = _held.pop(_key(archive / name), None)
    if handle is not None:
        with contextlib.suppress(OSError):
            handle.close()
