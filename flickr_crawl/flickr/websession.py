"""The Flickr web session (cookies) that video originals need, stored as a Playwright file.

Flickr serves ``play/orig`` only to a signed-in browser session, not to OAuth. The session is
kept in Playwright's ``storage_state`` JSON (what ``scrapy weblogin`` saves, mode 0600), and its
cookies are attached only to the requests that need them: video originals on the web host.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_SESSION_FILE = Path("~/.config/flickr-crawl/web-session.json")
# The web-login cookies video downloads need (gallery-dl's finding; long-lived, about 2 years).
SESSION_COOKIES = frozenset({"cookie_accid", "cookie_epass"})


def session_file_path(setting: str | None) -> Path:
    return Path(setting).expanduser() if setting else DEFAULT_SESSION_FILE.expanduser()


def load_cookies(path: Path) -> list[dict[str, Any]]:
    """Cookies of a storage_state file, as Scrapy ``Request(cookies=...)`` dicts; [] if none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    cookies = []
    for cookie in data.get("cookies", []) if isinstance(data, dict) else []:
        if not isinstance(cookie, dict) or not cookie.get("name"):
            continue
        cookies.append(
            {
                "name": str(cookie["name"]),
                "value": str(cookie.get("value", "")),
                "domain": str(cookie.get("domain", "")),
                "path": str(cookie.get("path", "/")),
                "secure": bool(cookie.get("secure", False)),
            }
        )
    return cookies


def cookie_header(cookies: list[dict[str, Any]], url: str) -> str | None:
    """The Cookie header for a request to ``url``: the session's cookies a browser would send
    (domain, path and secure rules).

    Sent by hand on the requests that need the session (video originals), with Scrapy's cookie
    jar bypassed, so the session never spreads to API or image requests.
    """
    parts = urlsplit(url)
    host, path = parts.hostname or "", parts.path or "/"
    pairs = []
    for cookie in cookies:
        domain = cookie["domain"].lstrip(".")
        if not domain or not (host == domain or host.endswith("." + domain)):
            continue  # a cookie without a domain goes nowhere
        if cookie["secure"] and parts.scheme != "https":
            continue
        cookie_path = cookie["path"] or "/"
        if not (path == cookie_path or path.startswith(cookie_path.rstrip("/") + "/")):
            continue
        pairs.append(f"{cookie['name']}={cookie['value']}")
    return "; ".join(pairs) or None
