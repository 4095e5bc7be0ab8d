"""Flickr REST: building calls, reading envelopes, and the lookup tables around them.

Flickr answers errors with HTTP 200 and ``{"stat": "fail", "code": N}``, mixes ints and strings
for the same key, and sometimes sends non-JSON (HTML 429 pages, cut bodies). Everything that
touches those rules lives here, free of Scrapy, so it can be tested against real recordings.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import urlencode

if TYPE_CHECKING:
    from collections.abc import Callable

P = ParamSpec("P")
R = TypeVar("R")

# Every Flickr REST method this project calls, named once (the sandbox, a Flickr of its own,
# keeps its own names). Items keep raw answers under these names too (``item.raw[...]``).
ACTIVITY_USER_PHOTOS = "flickr.activity.userPhotos"
COLLECTIONS_GET_TREE = "flickr.collections.getTree"
FAVORITES_GET_LIST = "flickr.favorites.getList"
GALLERIES_GET_LIST = "flickr.galleries.getList"
GALLERIES_GET_PHOTOS = "flickr.galleries.getPhotos"
PEOPLE_GET_INFO = "flickr.people.getInfo"
PEOPLE_GET_PHOTOS = "flickr.people.getPhotos"
PHOTOS_COMMENTS_GET_LIST = "flickr.photos.comments.getList"
PHOTOS_GET_FAVORITES = "flickr.photos.getFavorites"
PHOTOS_GET_INFO = "flickr.photos.getInfo"
PHOTOS_GET_SIZES = "flickr.photos.getSizes"
PHOTOS_PEOPLE_GET_LIST = "flickr.photos.people.getList"
PHOTOS_RECENTLY_UPDATED = "flickr.photos.recentlyUpdated"
PHOTOSETS_GET_LIST = "flickr.photosets.getList"
PHOTOSETS_GET_PHOTOS = "flickr.photosets.getPhotos"
TEST_LOGIN = "flickr.test.login"
URLS_LOOKUP_USER = "flickr.urls.lookupUser"

# Every list-level field a backup wants, so that per-photo calls are needed as little as possible.
PHOTO_EXTRAS = (
    "description,license,date_upload,date_taken,owner_name,icon_server,original_format,"
    "last_update,geo,tags,machine_tags,o_dims,views,media,path_alias,realname,safety_level,"
    "rotation,count_faves,count_comments,count_views,media_status,"
    "url_sq,url_t,url_s,url_q,url_m,url_n,url_w,url_z,url_c,url_l,url_h,url_k,"
    "url_3k,url_4k,url_5k,url_6k,url_o"
)

# url_X extras from the largest to the smallest; "o" is the original.
SIZE_CODES = (
    "o",
    "6k",
    "5k",
    "4k",
    "3k",
    "k",
    "h",
    "l",
    "c",
    "z",
    "m",
    "w",
    "n",
    "s",
    "t",
    "q",
    "sq",
)
SIZE_LABELS = {
    "o": "Original", "6k": "X-Large 6K", "5k": "X-Large 5K", "4k": "X-Large 4K",
    "3k": "X-Large 3K", "k": "Large 2048", "h": "Large 1600", "l": "Large", "c": "Medium 800",
    "z": "Medium 640", "m": "Medium", "w": "Small 400", "n": "Small 320", "s": "Small",
    "t": "Thumbnail", "q": "Large Square", "sq": "Square",
}  # fmt: skip

# flickr.photos.licenses.getInfo; ids beyond these are kept as numbers.
LICENSES = {
    0: ("All Rights Reserved", ""),
    1: ("Attribution-NonCommercial-ShareAlike License", "https://creativecommons.org/licenses/by-nc-sa/2.0/"),
    2: ("Attribution-NonCommercial License", "https://creativecommons.org/licenses/by-nc/2.0/"),
    3: ("Attribution-NonCommercial-NoDerivs License", "https://creativecommons.org/licenses/by-nc-nd/2.0/"),
    4: ("Attribution License", "https://creativecommons.org/licenses/by/2.0/"),
    5: ("Attribution-ShareAlike License", "https://creativecommons.org/licenses/by-sa/2.0/"),
    6: ("Attribution-NoDerivs License", "https://creativecommons.org/licenses/by-nd/2.0/"),
    7: ("No known copyright restrictions", "https://www.flickr.com/commons/usage/"),
    8: ("United States Government Work", "http://www.usa.gov/copyright.shtml"),
    9: ("Public Domain Dedication (CC0)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    10: ("Public Domain Mark", "https://creativecommons.org/publicdomain/mark/1.0/"),
}  # fmt: skip

# Codes that mean "try again later" (105 service unavailable, 106 write failed, 201/0 the
# undocumented "API service is not currently available").
TRANSIENT_CODES = frozenset({0, 105, 106, 201})
# Codes that mean the credentials are wrong: no point going on.
AUTH_CODES = frozenset({96, 97, 98, 99, 100})


# flickr.activity.userPhotos: 50 per page at most; "do not poll this method more than once an
# hour" (its documentation; FLICKR_ACTIVITY_MIN_INTERVAL keeps to it).
ACTIVITY_PER_PAGE = 50


def activity_timeframe(seconds: int) -> str:
    """flickr.activity.userPhotos' ``timeframe`` covering the last ``seconds``: whole hours
    ("26h") up to two days, whole days ("3d") beyond (both rounded up, never short)."""
    hours = max(1, -(-seconds // 3600))
    return f"{hours}h" if hours <= 48 else f"{-(-seconds // 86400)}d"


class FlickrApiError(Exception):
    """A ``stat: fail`` answer."""

    def __init__(self, code: int, message: str):
        super().__init__(f"Flickr API error {code}: {message}")
        self.code = code
        self.message = message

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES

    @property
    def auth(self) -> bool:
        return self.code in AUTH_CODES


class BadResponse(Exception):
    """The body is not a Flickr JSON envelope (an HTML error page, a cut body...), or its
    payload is not shaped as the method's answers are."""


def shape_checked(func: Callable[P, R]) -> Callable[P, R]:
    """For functions reading a payload: a shape they cannot read (a list where a dict was,
    a missing id, null) raises BadResponse, the one error callers handle, instead of
    whatever Python error the first wrong access happened to raise."""

    @functools.wraps(func)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise BadResponse(f"{func.__name__}: unexpected answer ({exc!r})") from exc

    return checked


def call_params(method: str, api_key: str, **params: Any) -> dict[str, str]:
    """Query parameters of a REST call: method, JSON format and the caller's arguments."""
    query = {"method": method, "api_key": api_key, "format": "json", "nojsoncallback": "1"}
    query.update({k: str(v) for k, v in params.items() if v is not None})
    return query


def call_url(api_url: str, method: str, api_key: str, **params: Any) -> str:
    """The GET URL of a REST call."""
    return f"{api_url}?{urlencode(sorted(call_params(method, api_key, **params).items()))}"


def parse_envelope(body: bytes) -> dict[str, Any]:
    """Decode a REST answer: the payload dict, or FlickrApiError / BadResponse."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("jsonFlickrApi(") and text.endswith(")"):
        text = text[len("jsonFlickrApi(") : -1]
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadResponse(f"not JSON: {text[:80]!r}") from None
    if _SURROGATE_ESCAPE.search(text):
        data = _without_lone_surrogates(data)
    if not isinstance(data, dict) or "stat" not in data:
        raise BadResponse(f"no stat in answer: {text[:80]!r}")
    if data["stat"] != "ok":
        raise FlickrApiError(to_int(data.get("code"), -1), str(data.get("message", "")))
    return data


# JSON may escape a UTF-16 surrogate without its pair ("\ud800"); Python then holds a string
# that no UTF-8 file, SQLite row or XML document accepts. Flickr escapes all non-ASCII, so
# only answers with such escapes (emoji are pairs) are looked at.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    """Every string in a decoded answer with unpaired surrogates replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    return value


@dataclass(frozen=True)
class Page:
    """Where a paginated list stands; Flickr sends these as ints or strings."""

    page: int
    pages: int
    total: int

    @property
    def last(self) -> bool:
        return self.page >= self.pages


def page_of(container: dict[str, Any], items: list[Any]) -> Page:
    """Read page/pages/total from a list container (``perpage`` or ``per_page``)."""
    page = to_int(container.get("page"), 1)
    pages = to_int(container.get("pages"), 1)
    total = to_int(container.get("total"), len(items))
    if not items:  # a page past the end comes back empty: stop there
        pages = min(pages, page)
    return Page(page, pages, total)


def to_int(value: Any, default: int = 0) -> int:
    """Flickr scalars arrive as ints, strings, "" or null."""
    if value is None or value == "":
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            return int(float(str(value)))
        except (ValueError, OverflowError):  # "abc", "NaN", "INF", "1e999"
            return default


def to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def text(value: Any) -> str:
    """A string field that may come wrapped as ``{"_content": ...}``, or as null."""
    if isinstance(value, dict):
        value = value.get("_content", "")
    return "" if value is None else str(value)


def optional(value: Any) -> str | None:
    """An optional string where null, "", 0 and "0" all mean absent (path_alias, realname...)."""
    value = text(value)
    return None if value in ("", "0") else value
