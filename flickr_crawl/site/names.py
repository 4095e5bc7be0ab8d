"""File names of the site's pages, and the relative links between them and to the archive.

A page's file name comes from an id or a tag, never from a path; every link is relative, so
the site folder can be moved or zipped.
"""

from __future__ import annotations

import re

from flickr_crawl.site.markup import url_path

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


def file_id(value: str) -> str:
    """A page file name from a Flickr id (digits, or ids with a dash): never a path."""
    return _UNSAFE_NAME.sub("_", value) or "_"


def photo_page(photo_id: str) -> str:
    return f"photos/{file_id(photo_id)}.html"


def album_page(album_id: str, page: int = 1) -> str:
    return _paged(f"albums/{file_id(album_id)}", page)


def gallery_page(gallery_id: str, page: int = 1) -> str:
    return _paged(f"galleries/{file_id(gallery_id)}", page)


def tag_page(tag_name: str, page: int = 1) -> str:
    import hashlib

    slug = re.sub(r"[^a-z0-9]+", "-", tag_name.lower()).strip("-")[:40]
    digest = hashlib.sha256(tag_name.encode()).hexdigest()[:8]
    return _paged(f"tags/{slug + '-' if slug else ''}{digest}", page)


def stream_page(page: int) -> str:
    return "index.html" if page == 1 else f"photostream/page-{page}.html"


def favorites_page(page: int) -> str:
    return "favorites.html" if page == 1 else f"favorites/page-{page}.html"


def timeline_page(year: str, month: str = "", page: int = 1) -> str:
    """A year's (``2023``) or a month's (``2023``, ``11``) photos; ``undated`` for no date."""
    return _paged(f"timeline/{file_id(year)}{'-' + file_id(month) if month else ''}", page)


def _paged(base: str, page: int) -> str:
    return f"{base}.html" if page == 1 else f"{base}-page-{page}.html"


def rel(path: str, to: str) -> str:
    """The relative URL from the page at ``path`` to the site file ``to``."""
    return "../" * path.count("/") + url_path(to)


def archive_rel(path: str, archive_path: str) -> str:
    """The relative URL from a page to a file of the archive (outside ``site/``)."""
    return "../" * (path.count("/") + 1) + url_path(archive_path)
