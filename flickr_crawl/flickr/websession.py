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


def browser_profile_path(session_file: Path) -> Path:
    """The browser's own profile (a persistent context) beside the session file: it keeps
    what Flickr's sign-in pages store besides cookies. Made 0700 by whoever creates it."""
    return session_file.with_name(session_file.stem + ".browser")


def session_username(path: Path) -> str:
    """The user name ``scrapy weblogin --username`` signed in with ("" if none): what a crawl
    signs in with again when Flickr refuses the session."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    username = data.get("username") if isinstance(data, dict) else None
    return username if isinstance(username, str) else ""


def load_cookies(path: Path) -> list[dict[str, Any]]:
    """Cookies of a storage_state file, as Scrapy ``Request(cookies=...)`` dicts; [] if none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return state_cookies(data)


def state_cookies(state: Any) -> list[dict[str, Any]]:
    """The cookies of a storage_state dict (as ``load_cookies`` gives them); [] if none."""
    cookies = []
    for cookie in state.get("cookies", []) if isinstance(state, dict) else []:
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
