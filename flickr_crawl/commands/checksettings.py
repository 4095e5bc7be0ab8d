"""Every ``FLICKR_*`` setting checked before a command runs: a typo costs one line, not a run.

Each setting's kind comes from its default in ``flickr_crawl.settings`` (bool, int, float,
text), so a setting added there is checked without touching this file; ``RULES`` adds what a
default cannot say: ranges, choices, URLs. Values are read with the accessor the code uses
(``getbool``/``getint``/``getfloat``), so what passes here is what the components will get.
A ``FLICKR_*`` name no setting has is not an error (Scrapy ignores it), but it is almost
always a typo that silently changes nothing, so it gets a warning naming the closest setting.
An old name (``DEPRECATED``) still works: it is checked, gets a one-line warning naming what
replaces it, and its value is carried over to the new setting (where there is one, and the
settings can still change). No Scrapy components here, only a ``BaseSettings``.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flickr_crawl import settings as defaults
from flickr_crawl.archive.paths import FAVORITES_LAYOUTS, LAYOUTS, XMP_SIDECAR_NAMINGS
from flickr_crawl.flickr.auth import ENV_KEY, ENV_SECRET

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

PREFIX = "FLICKR_"
BOOLS = frozenset({True, False, "1", "0", "True", "False", "true", "false"})  # 1 == True
# Names users set in the environment (secrets), never as settings.
ENV_ONLY = (ENV_KEY, ENV_SECRET, "FLICKR_WEB_PASSWORD")


class BadSetting(ValueError):
    """A setting's value cannot work; the message names it and says what it accepts."""


@dataclass(frozen=True)
class Rule:
    """What a setting accepts beyond its default's type."""

    kind: str = ""  # bool, int, float, choice, url, path; "" = the default's type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    empty_ok: bool = True  # for url and path: empty means "the built-in default"


# Old names that still work, and what replaces each: a setting, or an option of a command.
DEPRECATED: dict[str, str] = {
    "FLICKR_DEEP_METADATA": "FLICKR_DEEP_METADATA_ENABLED",
    "FLICKR_SITE_THUMB_SIZE": "scrapy site --thumb-size",
    "FLICKR_SITE_WEB_SIZE": "scrapy site --web-size",
    "FLICKR_SITE_JPEG_QUALITY": "scrapy site --jpeg-quality",
    "FLICKR_SITE_PAGE_SIZE": "scrapy site --page-size",
    "FLICKR_SITE_WORKERS": "scrapy site --workers",
}

RULES: dict[str, Rule] = {
    "FLICKR_DEEP_METADATA": Rule("bool"),
    "FLICKR_API_URL": Rule("url", empty_ok=False),
    "FLICKR_OAUTH_URL": Rule("url", empty_ok=False),
    "FLICKR_WEB_URL": Rule("url", empty_ok=False),
    "FLICKR_SIGNIN_URL": Rule("url"),
    "FLICKR_AUTH_FILE": Rule("path"),
    "FLICKR_WEB_SESSION_FILE": Rule("path"),
    "FLICKR_CHROMIUM_PATH": Rule("path"),
    "FLICKR_API_BUDGET_FILE": Rule("path"),
    "FLICKR_ARCHIVE_DIR": Rule("path", empty_ok=False),
    "FLICKR_API_CALLS_PER_HOUR": Rule("int", low=0),
    "FLICKR_API_PER_PAGE": Rule("int", low=0, high=500),  # 0 and 1 both mean 1
    "FLICKR_BACKOFF_START": Rule("float", low=0),
    "FLICKR_BACKOFF_MAX": Rule("float", low=0),
    "FLICKR_LAYOUT": Rule("choice", choices=LAYOUTS),
    "FLICKR_FAVORITES_LAYOUT": Rule("choice", choices=FAVORITES_LAYOUTS),
    "FLICKR_LINK_MODE": Rule("choice", choices=("hardlink", "copy")),
    "FLICKR_XMP_SIDECAR_NAMING": Rule("choice", choices=XMP_SIDECAR_NAMINGS),
    "FLICKR_MEDIA_CONCURRENCY": Rule("int", low=1, high=256),
    "FLICKR_DISK_RESERVE_MB": Rule("int", low=0),
    "FLICKR_SWEEP_EVERY": Rule("int", low=0),
    "FLICKR_SYNC_OVERLAP": Rule("int", low=0),
    "FLICKR_ACTIVITY_MIN_INTERVAL": Rule("int", low=0),
    "FLICKR_SITE_THUMB_SIZE": Rule("int", low=1),
    "FLICKR_SITE_WEB_SIZE": Rule("int", low=1),
    "FLICKR_SITE_JPEG_QUALITY": Rule("int", low=1, high=95),
    "FLICKR_SITE_PAGE_SIZE": Rule("int", low=1),
    "FLICKR_SITE_WORKERS": Rule("int", low=0),
    "FLICKR_PROGRESS_INTERVAL": Rule("float", low=0.01),
}


def known_settings() -> dict[str, Any]:
    """Every ``FLICKR_*`` setting with its default."""
    return {k: v for k, v in vars(defaults).items() if k.startswith(PREFIX) and k.isupper()}


def check_settings(settings: BaseSettings) -> list[str]:
    """Raise BadSetting for the first value that cannot work; the warnings for unknown names."""
    known = known_settings()
    for name, default in known.items():
        if settings.get(name) is None:
            continue  # not set at all: components use their own default
        _check(settings, name, RULES.get(name) or Rule(_kind_of(default)))
    warnings = []
    for old, new in DEPRECATED.items():
        if settings.get(old) is None:
            continue
        _check(settings, old, RULES[old])
        warnings.append(f"{old} is deprecated: use {new} (its value is used for now)")
        if new in known:
            _carry_over(settings, old, new)
    for name in sorted(k for k in settings if isinstance(k, str) and k.startswith(PREFIX)):
        if name in known or name in DEPRECATED:
            continue
        if name in ENV_ONLY:
            warnings.append(f"{name} is read from the environment, not from settings; ignored")
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "see the settings table in the README"
        warnings.append(f"{name} is not a flickr-crawl setting ({hint}); ignored")
    return warnings


def _carry_over(settings: BaseSettings, old: str, new: str) -> None:
    """The old name's value, for the new one, unless the new one was set with more weight."""
    priority = settings.getpriority(old) or 0
    if settings.frozen or (settings.getpriority(new) or 0) > priority:
        return
    settings.set(new, settings.get(old), priority=priority)


def _kind_of(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    return "path" if isinstance(default, str) else ""


def _check(settings: BaseSettings, name: str, rule: Rule) -> None:
    value = settings.get(name)
    if rule.kind == "bool":
        # What getbool reads, less any number (it takes "2" or "-1" for True).
        if not (isinstance(value, bool | int | str) and value in BOOLS):
            raise BadSetting(f"{name}={value!r}; use True or False")
    elif rule.kind in ("int", "float"):
        _check_number(settings, name, rule)
    elif rule.kind == "choice":
        if value not in rule.choices:
            raise BadSetting(f"{name}={value!r}; choose one of {', '.join(rule.choices)}")
    elif rule.kind in ("url", "path"):
        if not isinstance(value, str):
            raise BadSetting(f"{name}={value!r}; expected text")
        if not value and not rule.empty_ok:
            raise BadSetting(f"{name} is empty")
        if "\0" in value:
            raise BadSetting(f"{name} contains a NUL character")
        if rule.kind == "url" and value and not value.startswith(("http://", "https://")):
            raise BadSetting(f"{name} must be an http(s) URL, got {value!r}")


def _check_number(settings: BaseSettings, name: str, rule: Rule) -> None:
    value = settings.get(name)
    whole = rule.kind == "int"
    problem = BadSetting(
        f"{name}={value!r}; expected {'a whole number' if whole else 'a number'}{_range(rule)}"
    )
    if isinstance(value, bool):  # True is an int to Python, not a count to a person
        raise problem
    try:
        number: float = settings.getint(name) if whole else settings.getfloat(name)
    except (TypeError, ValueError):
        raise problem from None
    if math.isnan(number):
        raise problem
    if (rule.low is not None and number < rule.low) or (
        rule.high is not None and number > rule.high
    ):
        raise problem


def _range(rule: Rule) -> str:
    def fmt(n: float) -> str:
        return str(int(n)) if n == int(n) else str(n)

    if rule.low is not None and rule.high is not None:
        return f" from {fmt(rule.low)} to {fmt(rule.high)}"
    if rule.low is not None:
        return f" >= {fmt(rule.low)}"
    if rule.high is not None:
        return f" <= {fmt(rule.high)}"
    return ""
