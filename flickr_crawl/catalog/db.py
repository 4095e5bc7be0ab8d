"""Opening and closing ``catalog.db``: for a crawl (read-write, migrated), as a run starts
(read-only, before it writes), and for the commands that read an archive (verify, findmissing,
the offline site). Also the small pieces every writer shares (one transaction per save).

Durability: WAL with ``synchronous=NORMAL``. A killed process loses nothing committed; a power
cut can lose the last few commits but never corrupts the file, and since WAL frames are
checksum-chained, what survives is always a prefix of the commits. Everything indexed here can be
fetched again (and the files themselves are verified on disk), so a lost tail only means the next
run redoes a little work. ``close_catalog`` checkpoints, which makes a finished run durable.
No Scrapy imports here: later commands (verify, findmissing, the static site) read it directly.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from flickr_crawl.archive.paths import CATALOG_NAME
from flickr_crawl.catalog.schema import MIGRATIONS, check_version, migrate
from flickr_crawl.metadata.text import html_to_text

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

logger = logging.getLogger(__name__)
T = TypeVar("T")


class NoCatalog(Exception):
    """The folder has no catalog.db: not an archive, or made before the catalog existed."""


def open_catalog(
    path: Path, *, migrations: Sequence[Sequence[str]] = MIGRATIONS
) -> sqlite3.Connection:
    """Open (creating or migrating) the catalog at ``path``; see the module docstring."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    try:
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        # Migration 3 makes plain text of the HTML already stored.
        db.create_function("flickr_html_to_text", 1, html_to_text, deterministic=True)
        check_version(db, migrations)  # before anything is written to a newer catalog
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        migrate(db, migrations)
    except BaseException:
        db.close()
        raise
    return db


def open_read_only(path: Path) -> sqlite3.Connection:
    """The catalog opened read-only, rows as ``sqlite3.Row`` (a missing file raises)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


def read_catalog(
    path: Path, read: Callable[[sqlite3.Connection], T], default: T, *, otherwise: str
) -> T:
    """``read(db)`` on the catalog opened read-only (rows as ``sqlite3.Row``), as a run
    starts and before it writes anything. ``default`` when there is no catalog yet, or when
    it cannot be read: that is logged, with ``otherwise``, what the run does instead."""
    if not path.exists():
        return default
    try:
        db = open_read_only(path)
        try:
            return read(db)
        finally:
            db.close()
    except sqlite3.Error as exc:
        logger.warning("Cannot read %(path)s (%(err)s): %(otherwise)s",
                       {"path": str(path), "err": exc, "otherwise": otherwise})  # fmt: skip
        return default


def close_catalog(db: sqlite3.Connection) -> None:
    """Checkpoint the WAL into the database file (durably) and close."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def open_archive_catalog(archive: Path) -> sqlite3.Connection:
    """An archive's catalog for verify and findmissing (rows as ``sqlite3.Row``); NoCatalog
    when the folder has none, or the file is not ours."""
    path = archive / CATALOG_NAME
    if not path.is_file():
        raise NoCatalog(f"no catalog.db in {archive}: is FLICKR_ARCHIVE_DIR the archive folder?")
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    if not {"photos", "files"} <= table_names(db):
        db.close()
        raise NoCatalog(f"{path} is not a flickr-crawl catalog (no photos/files tables)")
    return db


def open_snapshot(archive: Path, tables: set[str]) -> sqlite3.Connection:
    """An archive's catalog read-only (a crawl may be writing it meanwhile), for reading whole
    with ``read_snapshot``; NoCatalog unless it has ``tables``. Text that is not valid UTF-8
    shows as U+FFFD rather than stopping the reader."""
    path = archive / CATALOG_NAME
    if not path.is_file():
        raise NoCatalog(f"no catalog.db in {archive}: is FLICKR_ARCHIVE_DIR the archive folder?")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        db.text_factory = lambda raw: raw.decode("utf-8", "replace")
        found = table_names(db)
    except sqlite3.DatabaseError as exc:
        raise NoCatalog(f"{path} cannot be read as a catalog: {exc}") from None
    if not tables <= found:
        db.close()
        raise NoCatalog(f"{path} is not a flickr-crawl catalog (no photos/files tables)")
    return db


def read_snapshot(db: sqlite3.Connection, read: Callable[[sqlite3.Connection], T]) -> T:
    """``read(db)`` in one read transaction, so what it reads is one consistent state;
    NoCatalog if the file cannot be read."""
    try:
        db.execute("BEGIN")
        try:
            return read(db)
        finally:
            db.rollback()
    except sqlite3.DatabaseError as exc:
        raise NoCatalog(f"catalog.db cannot be read: {exc}") from None


def table_names(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def column_names(db: sqlite3.Connection, table: str) -> set[str]:
    """The columns ``table`` has: what a reader of an older catalog (not yet migrated) may use."""
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


# --- what every writer shares ------------------------------------------------------------------
def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def transaction(db: sqlite3.Connection) -> sqlite3.Connection:
    """Open a write transaction now, so every statement of a save is in it."""
    if not db.in_transaction:
        db.execute("BEGIN IMMEDIATE")
    return db
