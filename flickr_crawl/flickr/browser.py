"""Which Chromium Playwright should launch: its own download if present, else Debian's.

``playwright install chromium`` is the normal path on a user's machine; where it cannot
download (as here), Debian's ``chromium`` package works. ``/usr/bin/chromium`` is a shell
wrapper, so the real binary behind it is preferred. ``FLICKR_CHROMIUM_PATH`` overrides both.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DEBIAN_CHROMIUM = (Path("/usr/lib/chromium/chromium"), Path("/usr/bin/chromium"))


class NoBrowser(Exception):
    """No Chromium to launch; the message says how to get one."""


def chromium_path(setting: str | None = None) -> str | None:
    """The executable to pass to Playwright, or None for Playwright's own download."""
    if setting:
        if not Path(setting).exists():
            raise NoBrowser(f"FLICKR_CHROMIUM_PATH={setting} does not exist")
        return setting
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise NoBrowser("Playwright is not installed: pip install playwright") from None
    with sync_playwright() as playwright:
        bundled = Path(playwright.chromium.executable_path)
    if bundled.exists():
        return None
    for candidate in DEBIAN_CHROMIUM:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    raise NoBrowser(
        "no Chromium found: run `playwright install chromium`, or install Debian's `chromium`"
    )
