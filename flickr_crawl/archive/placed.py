"""A journal of files placed in the archive whose sidecar may not be written yet.

A photo's record of its verified file is its sidecar, written on a sidecar thread a moment
(under load: many moments) after the file was renamed into place. A hard kill or power cut in
between left a complete file nobody vouched for, and the next run downloaded it again. So each
placement also appends one line (the file record, as the sidecar will hold it, and the inode of
the file) to ``.flickr-crawl-placed.jsonl`` in the archive, just before the rename: a single
``write`` by the placing thread, no fsync (a line lost with the page cache only costs a
download, never data). The next run reads the lines and trusts a file they describe exactly as
it trusts a sidecar's word (same source, same name, same size) if it is that very file (same
inode: a kill before the rename leaves a line that no file matches). When a run ends every
sidecar is written, so the journal is removed (or keeps only the lines for photos this run
never saw: a favorites run after a killed photostream run); a torn line is skipped.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from flickr_crawl.archive.storage import write_bytes_atomic

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

JOURNAL_NAME = ".flickr-crawl-placed.jsonl"


class PlacedJournal:
    def __init__(self, archive: Path):
        self.path = archive / JOURNAL_NAME
        self.records: dict[str, dict[str, Any]] = {}  # photo id -> its latest line
        self._fd: int | None = None
        self._broken = False
        self._lock = threading.Lock()  # placing threads add lines side by side

    def open(self) -> None:
        """Read what a run that did not end cleanly placed."""
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            logger.warning("Cannot read %(path)s: %(err)s", {"path": str(self.path), "err": exc})
            return
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # torn by the kill
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                self.records[record["id"]] = record
        if self.records:
            logger.info(
                "%(n)s files placed by the last run before it stopped are known complete",
                {"n": len(self.records)},
            )

    def take(self, photo_id: str) -> dict[str, Any]:
        """The line for a photo this run now handles (its sidecar will be written)."""
        return self.records.pop(photo_id, {})

    def add(self, record: dict[str, Any]) -> None:
        """Append one placement (``record`` has the sidecar's ``id``, ``source``, ``file``)."""
        data = _line(record)
        try:
            with self._lock:
                if self._broken:
                    return
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                while data:
                    data = data[os.write(self._fd, data) :]
        except OSError as exc:  # disk full: the file is in place all the same
            self._broken = True
            logger.warning(
                "Cannot write %(path)s (%(err)s): a hard kill now costs re-downloads",
                {"path": str(self.path), "err": exc},
            )

    def close(self) -> None:
        """The run ended and every sidecar is written: the journal has served."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        try:
            if self.records:
                lines = b"".join(_line(record) for record in self.records.values())
                write_bytes_atomic(self.path, lines, mode=0o600)
            else:
                self.path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("Cannot update %(path)s: %(err)s", {"path": str(self.path), "err": exc})


def _line(record: dict[str, Any]) -> bytes:
    """One journal line: compact JSON and a newline."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
