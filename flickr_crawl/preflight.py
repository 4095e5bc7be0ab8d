"""Checks made before a crawl starts, so bad input ends in one clear line, not a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flickr_crawl.archivelinks import links_leaving
from flickr_crawl.auth import AuthError, auth_file_path, load_credentials
from flickr_crawl.budget import budget_file, ensure_budget_file
from flickr_crawl.paths import FAVORITES_LAYOUTS, LAYOUTS

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


class ConfigError(Exception):
    """The crawl cannot run as configured; the message says why and what to do."""


def preflight(
    settings: BaseSettings,
    spider: str,
    known_spiders: list[str],
    args: dict[str, str] | None = None,
) -> None:
    if spider not in known_spiders:
        raise ConfigError(f"no spider {spider!r}; choose one of {', '.join(sorted(known_spiders))}")
    try:
        creds = load_credentials(auth_file_path(settings.get("FLICKR_AUTH_FILE")))
    except AuthError as exc:
        raise ConfigError(str(exc)) from None
    layout = settings.get("FLICKR_LAYOUT")
    if layout not in LAYOUTS:
        raise ConfigError(f"FLICKR_LAYOUT={layout!r}; choose one of {', '.join(LAYOUTS)}")
    favorites = settings.get("FLICKR_FAVORITES_LAYOUT")
    if favorites not in FAVORITES_LAYOUTS:
        raise ConfigError(
            f"FLICKR_FAVORITES_LAYOUT={favorites!r}; choose one of {', '.join(FAVORITES_LAYOUTS)}"
        )
    if settings.get("FLICKR_LINK_MODE") not in ("hardlink", "copy"):
        raise ConfigError("FLICKR_LINK_MODE must be hardlink or copy")
    for name in ("FLICKR_API_URL", "FLICKR_OAUTH_URL", "FLICKR_WEB_URL"):
        if not str(settings.get(name, "")).startswith(("http://", "https://")):
            raise ConfigError(f"{name} must be an http(s) URL, got {settings.get(name)!r}")
    for name in ("FLICKR_API_CALLS_PER_HOUR", "FLICKR_API_PER_PAGE"):
        try:
            if settings.getint(name) < 0:
                raise ValueError
        except ValueError:
            raise ConfigError(f"{name} must be a whole number >= 0") from None
    if settings.getint("FLICKR_API_CALLS_PER_HOUR") > 0:
        auth = settings.get("FLICKR_AUTH_FILE")
        budget = budget_file(settings.get("FLICKR_API_BUDGET_FILE", ""), auth, creds.api_key)
        try:
            ensure_budget_file(budget)
        except OSError as exc:
            raise ConfigError(
                f"cannot keep the API call count in {budget}: {exc.strerror}; set "
                "FLICKR_API_BUDGET_FILE to a writable file"
            ) from None
    archive = Path(settings.get("FLICKR_ARCHIVE_DIR"))
    if archive.exists() and not archive.is_dir():
        raise ConfigError(f"FLICKR_ARCHIVE_DIR {archive} exists and is not a folder")
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

    if spider == "redownload":
        _check_redownload(archive, args or {})
    if spider == "photostream" and (args or {}).get("since"):
        from spiders.photostream import since_timestamp

        try:
            since_timestamp((args or {})["since"])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


def _check_redownload(archive: Path, args: dict[str, str]) -> None:
    from flickr_crawl.integrity import NoCatalog, open_archive_catalog

    ids = args.get("ids", "")
    if not ids and args.get("missing", "") in ("", "0", "false", "no"):
        raise ConfigError("say what to redownload: -a ids=FILE or -a missing=1")
    if ids and not Path(ids).is_file():
        raise ConfigError(f"no ids file {ids}")
    try:
        open_archive_catalog(archive).close()
    except NoCatalog as exc:
        raise ConfigError(str(exc)) from None
