"""What the reliability tests share: a small account, and comparing two archives exactly."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flickr_crawl.extensions.leftovers import LOCK_NAME

if TYPE_CHECKING:
    from pathlib import Path

# Small on purpose: these tests run whole backups several times each.
SMALL_ACCOUNT = ("--photos", "40", "--videos", "1", "--albums", "4", "--image-size", "small",
                 "--video-size", "200000")  # fmt: skip
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def archive_files(archive: Path) -> dict[str, str]:
    """Every file of an archive but the catalog, the run logs and the archive lock: relative
    path -> sha256."""
    return {
        p.relative_to(archive).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(archive.rglob("*"))
        if p.is_file()
        and p.parts[len(archive.parts)] != "logs"
        and not p.name.startswith("catalog.db")
        and p.name != LOCK_NAME
    }


def catalog_rows(archive: Path, since: datetime) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, with the times of the runs themselves (first seen, last
    seen...) blanked: they are the only values two correct backups may differ in. Left out:
    the tables of runs and of sync state (call counts, times, the watermark: the run's own
    start) and full-text-index internals (their row ids follow the order rows arrived in)."""
    db = sqlite3.connect(f"file:{archive / 'catalog.db'}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if name not in ("runs", "sync_state") and "_fts" not in name
        ]
        stamp = since.strftime("%Y-%m-%dT%H:%M:%S")

        def blank(value: Any) -> Any:
            if isinstance(value, str) and ISO.match(value) and value >= stamp:
                return "<run time>"
            return value

        return {
            table: sorted(
                (tuple(blank(v) for v in row) for row in db.execute(f'SELECT * FROM "{table}"')),
                key=repr,
            )
            for table in tables
        }
    finally:
        db.close()


def run_summary(archive: Path) -> dict[str, Any]:
    """The newest run report in ``archive/logs``."""
    logs = sorted((archive / "logs").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    assert logs, f"no run report in {archive / 'logs'}"
    return json.loads(logs[-1].read_text(encoding="utf-8"))


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
