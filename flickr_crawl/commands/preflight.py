"""Checks made before a crawl starts, so bad input ends in one clear line, not a traceback."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from flickr_crawl.archive.links import links_leaving
from flickr_crawl.archive.lock import ArchiveBusy, hold
from flickr_crawl.archive.paths import CATALOG_NAME, LOGS_DIR, archive_dir
from flickr_crawl.commands.checksettings import BadSetting, check_settings
from flickr_crawl.downloader.budget import (
    BudgetUnavailable,
    RedisBudget,
    budget_file,
    ensure_budget_file,
    shared_budget,
    shown_url,
)
from flickr_crawl.flickr.auth import AuthError, auth_file_path, load_credentials
from flickr_crawl.flickr.export import ExportError, open_export
from flickr_crawl.flickr.mapping import since_timestamp
from flickr_crawl.flickr.reachable import Unreachable, check_reachable, host_root

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.settings import BaseSettings

# Seconds to wait for Flickr's first answer (or DOWNLOAD_TIMEOUT, if shorter).
PROBE_TIMEOUT = 60.0


class ConfigError(Exception):
    """The crawl cannot run as configured; the message says why and what to do."""


def preflight(
    settings: BaseSettings,
    spider: str,
    known_spiders: list[str],
    args: dict[str, str] | None = None,
    *,
    warn: Callable[[str], None] = lambda _: None,
) -> None:
    """Raise ConfigError if the crawl cannot run as configured; ``warn`` gets the warnings.

    Nothing is created (archive, budget file) before the input is known to be good and
    Flickr is known to answer. On success this process holds the archive's lock (one writer
    per archive, ``flickr_crawl.archive.lock``).
    """
    if spider not in known_spiders:
        raise ConfigError(f"no spider {spider!r}; choose one of {', '.join(sorted(known_spiders))}")
    try:
        for warning in check_settings(settings):
            warn(warning)
    except BadSetting as exc:
        raise ConfigError(str(exc)) from None
    try:
        creds = load_credentials(auth_file_path(settings.get("FLICKR_AUTH_FILE")))
    except AuthError as exc:
        raise ConfigError(str(exc)) from None
    archive = archive_dir(settings)
    if archive.exists() and not archive.is_dir():
        raise ConfigError(f"FLICKR_ARCHIVE_DIR {archive} exists and is not a folder")
    if spider == "redownload":
        _check_redownload(archive, args or {})
    if spider == "photostream" and (args or {}).get("since"):
        try:
            since_timestamp((args or {})["since"])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if spider == "photostream" and (args or {}).get("export"):
        try:
            open_export((args or {})["export"], expect_nsid=creds.user_nsid).close()
        except ExportError as exc:
            raise ConfigError(str(exc)) from None
    _check_flickr_answers(settings)
    if settings.getint("FLICKR_API_CALLS_PER_HOUR") > 0:
        _check_budget(settings, creds.api_key)
    try:
        archive.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the archive folder {archive}: {exc.strerror}") from None
    if leaving := links_leaving(archive):
        link, target = leaving[0]
        raise ConfigError(
            f"{link} is a symlink to {target}, outside the archive; the backup will not write "
            f"there: remove the link (or point FLICKR_ARCHIVE_DIR elsewhere)"
        )
    _check_writable(archive)
    try:
        hold(archive)  # kept until this process exits; the crawl's ArchiveGuard reuses it
    except ArchiveBusy as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"cannot lock the archive {archive}: {exc.strerror}") from None


def _check_budget(settings: BaseSettings, api_key: str) -> None:
    """The key's hourly budget can be kept: its Redis answers, or its file can be written."""
    if url := settings.get("FLICKR_API_BUDGET_URL", ""):
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                f"FLICKR_API_BUDGET_URL={shown_url(url)!r}; expected redis://HOST:PORT/DB "
                "(or rediss://, unix://)"
            )
        try:
            budget = shared_budget(settings, api_key)
            assert isinstance(budget, RedisBudget)
            budget.check()
        except BudgetUnavailable as exc:
            raise ConfigError(f"{exc}; no API call can be counted, nothing was changed") from None
        return
    budget = budget_file(settings.get("FLICKR_API_BUDGET_FILE", ""), api_key)
    try:
        ensure_budget_file(budget)
    except OSError as exc:
        raise ConfigError(
            f"cannot keep the API call count in {budget}: {exc.strerror}; set "
            "FLICKR_API_BUDGET_FILE to a writable file"
        ) from None


def _check_flickr_answers(settings: BaseSettings) -> None:
    """Flickr's API host answers (no API call spent); else one line, nothing created."""
    url = settings.get("FLICKR_API_URL")
    try:
        timeout = min(settings.getfloat("DOWNLOAD_TIMEOUT", 180), PROBE_TIMEOUT)
    except ValueError:
        raise ConfigError(
            f"DOWNLOAD_TIMEOUT={settings.get('DOWNLOAD_TIMEOUT')!r}; expected seconds"
        ) from None
    try:
        check_reachable(url, timeout)
    except Unreachable as exc:
        raise ConfigError(
            f"cannot reach Flickr at {host_root(url)}: {exc}; nothing was changed, run again "
            "once the network is back"
        ) from None


def _check_redownload(archive: Path, args: dict[str, str]) -> None:
    from flickr_crawl.catalog.db import NoCatalog, open_archive_catalog

    ids = args.get("ids", "")
    if not ids and args.get("missing", "") in ("", "0", "false", "no"):
        raise ConfigError("say what to redownload: -a ids=FILE or -a missing=1")
    if ids and not Path(ids).is_file():
        raise ConfigError(f"no ids file {ids}")
    try:
        open_archive_catalog(archive).close()
    except NoCatalog as exc:
        raise ConfigError(str(exc)) from None


def _check_writable(archive: Path) -> None:
    """The archive can be written: its folder, ``logs/`` and ``catalog.db`` where they exist.

    Checked by doing it (a file made and removed, the catalog opened for writing): permission
    bits do not stop root, and say nothing of read-only mounts or immutable folders, which
    otherwise fail only at the end of a run, in tracebacks.
    """
    for folder in (archive, archive / LOGS_DIR):
        if not folder.is_dir():
            continue
        try:
            fd, name = tempfile.mkstemp(dir=folder, prefix=".write-check-")
            os.close(fd)
            Path(name).unlink()
        except OSError as exc:
            raise ConfigError(
                f"cannot write to the archive folder {folder}: {exc.strerror}; nothing was "
                "changed (a read-only disk or mount, or an immutable folder?)"
            ) from None
    catalog = archive / CATALOG_NAME
    if catalog.is_file():
        try:
            os.close(os.open(catalog, os.O_RDWR))
        except OSError as exc:
            raise ConfigError(
                f"cannot write to the catalog {catalog}: {exc.strerror}; nothing was changed"
            ) from None
