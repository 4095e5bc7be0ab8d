"""The site's shared frame and its list pages: layout, grids, pagers, and the photostream,
albums, collections, galleries, favourites, tags and search pages (the photo page:
``flickr_crawl.site.photo``; file names: ``flickr_crawl.site.names``).

Pages only link relatively (the folder can be moved or zipped), load nothing but files under
the archive folder, and carry a Content-Security-Policy that allows scripts, styles and media
from files only: no inline script, no network. Flickr's HTML goes through ``sanitize``; every
other value is escaped by ``markup``. Nothing here depends on the time of the build, so a page
whose content did not change comes out byte for byte the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flickr_crawl.site.markup import Safe, join, tag, void
from flickr_crawl.site.names import (
    album_page,
    favorites_page,
    gallery_page,
    photo_page,
    rel,
    stream_page,
    tag_page,
)
from flickr_crawl.site.sanitize import plain, sanitize

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from flickr_crawl.site.images import Derived
    from flickr_crawl.site.model import Album, Archive, Collection, Gallery, Photo

CSP = (
    "default-src 'none'; script-src 'self' file:; style-src 'self' file:; "
    "img-src 'self' file:; media-src 'self' file:; base-uri 'none'; form-action 'self' file:"
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2}))?)?)?")


@dataclass
class Site:
    """What every page needs: the archive, the copies made from it, and names for things."""

    archive: Archive
    derived: dict[str, Derived]
    page_size: int
    albums: dict[str, Album] = field(init=False)
    galleries: dict[str, Gallery] = field(init=False)
    title: str = field(init=False)
    _chrome: dict[tuple[int, str, tuple[str, ...]], tuple[str, str]] = field(
        init=False, default_factory=dict
    )
    # Fragments that many pages share (a photo's grid item, an album link), per page depth.
    cache: dict[tuple[object, ...], Safe] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.albums = {a.id: a for a in self.archive.albums}
        self.galleries = {g.id: g for g in self.archive.galleries}
        owner = self.archive.owner
        self.title = f"{owner.name} on Flickr" if owner else "Flickr archive"


# --- layout --------------------------------------------------------------------------------
NAV = (
    ("index.html", "Photostream"),
    ("albums.html", "Albums"),
    ("collections.html", "Collections"),
    ("galleries.html", "Galleries"),
    ("favorites.html", "Favorites"),
    ("tags.html", "Tags"),
    ("timeline.html", "Timeline"),
    ("map.html", "Map"),
)


def layout(
    site: Site, path: str, title: str, body: Safe, *, section: str = "", scripts: Sequence[str] = ()
) -> bytes:
    """A whole page: head with the CSP, the site's navigation, ``body`` and the footer."""
    key = (path.count("/"), section, tuple(scripts))
    chrome = site._chrome.get(key)
    if chrome is None:
        chrome = site._chrome[key] = _chrome(site, path, section, scripts)
    head, top = chrome
    heading = tag("title", f"{title} · {site.title}" if title else site.title)
    return f"{head}{heading}\n{top}{body}\n{_FOOT}".encode()


_FOOT = (
    "</main>\n<footer>A copy of a Flickr account, made by flickr-crawl. It works offline."
    "</footer>\n</body>\n</html>\n"
)


def _chrome(site: Site, path: str, section: str, scripts: Sequence[str]) -> tuple[str, str]:
    """What every page at this depth and in this section has before and after its title."""
    r = "../" * path.count("/")
    nav = join(
        tag("a", label, href=rel(path, target), aria_current="page" if target == section else None)
        for target, label in NAV
    )
    search = tag(
        "form",
        [
            tag("label", "Search", for_="q", class_="visually-hidden"),
            void(
                "input", type="search", id="q", name="q", placeholder="Search", autocomplete="off"
            ),
            tag("button", "Search", type="submit"),
        ],
        action=rel(path, "search.html"),
        method="get",
        role="search",
        class_="search",
    )
    script_tags = join(
        tag("script", None, src=f"{r}{name}", defer=True) for name in ("assets/site.js", *scripts)
    )
    head = (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{void('meta', http_equiv='Content-Security-Policy', content=CSP)}\n"
        '<meta name="referrer" content="no-referrer">\n'
    )
    brand = tag("a", site.title, href=rel(path, "index.html"), class_="brand")
    top = (
        f"{void('link', rel='stylesheet', href=f'{r}assets/site.css')}\n{script_tags}\n"
        "</head>\n<body>\n"
        '<a class="skip" href="#main">Skip to content</a>\n'
        f'<header class="top">{brand}{tag("nav", nav, aria_label="Sections")}{search}</header>\n'
        '<main id="main">\n'
    )
    return head, top


# --- pieces --------------------------------------------------------------------------------
def title_of(photo: Photo) -> str:
    return plain(photo.title) or ("Untitled video" if photo.media == "video" else "Untitled")


def format_date(value: str | None, granularity: int | None = 0) -> str:
    """A Flickr date as people read it, at the precision Flickr knows it (taken: month,
    year or "circa" granularity 4, 6, 8)."""
    m = _DATE.match(value or "")
    if m is None:
        return value or ""
    year, month, day, hour, minute = m.groups()
    if granularity == 8:
        return f"circa {year}"
    if granularity == 6 or not month:
        return year
    month_name = MONTHS[int(month) - 1] if 1 <= int(month) <= 12 else month
    if granularity == 4 or not day:
        return f"{month_name} {year}"
    text = f"{int(day)} {month_name} {year}"
    return f"{text}, {hour}:{minute}" if hour else text


def time_tag(value: str | None, granularity: int | None = 0) -> Safe:
    if not value:
        return Safe("")
    return tag("time", format_date(value, granularity), datetime=value)


def grid(
    site: Site, path: str, photo_ids: Sequence[str], *, caption: bool = False, dated: bool = False
) -> Safe:
    """Thumbnails in order, each a link to the photo's page (``dated``: with the date taken,
    at the precision Flickr knows it)."""
    depth = path.count("/")
    cache = site.cache
    items = []
    for pid in photo_ids:
        key = ("grid", pid, depth, caption, dated)
        item = cache.get(key)
        if item is None:  # a photo shows in many lists: its item is made once per depth
            item = cache[key] = _grid_item(site, path, pid, caption=caption, dated=dated)
        items.append(item)
    return tag("ul", items, class_="grid")


def _grid_item(site: Site, path: str, pid: str, *, caption: bool, dated: bool = False) -> Safe:
    photo = site.archive.photos[pid]
    name = title_of(photo)
    derived = site.derived.get(pid)
    if derived is not None:
        img = void("img", src=rel(path, derived.thumb), alt=name, loading="lazy", decoding="async")
    else:
        kind = "video" if photo.media == "video" else "missing"
        label = f"Video: {name}" if kind == "video" else f"{name} (no image in the archive)"
        img = void("img", src=rel(path, f"assets/{kind}.svg"), alt=label, loading="lazy")
    extra = tag("span", name, class_="cap") if caption else None
    badge = tag("span", "▶", class_="badge", aria_hidden="true") if photo.media == "video" else None
    when = None
    if dated and photo.date_taken:
        taken = time_tag(photo.date_taken, photo.date_taken_granularity)
        when = tag("span", taken, class_="cap date")
    return tag(
        "li", tag("a", [img, badge, extra, when], href=rel(path, photo_page(pid)), title=name)
    )


def pager(path_of: Callable[[int], str], path: str, page: int, pages: int) -> Safe:
    """Newer/older links between the pages of one list (rel=prev/next for the arrow keys)."""
    if pages <= 1:
        return Safe("")
    links = []
    if page > 1:
        links.append(tag("a", "← Previous page", href=rel(path, path_of(page - 1)), rel="prev"))
    links.append(tag("span", f"Page {page} of {pages}"))
    if page < pages:
        links.append(tag("a", "Next page →", href=rel(path, path_of(page + 1)), rel="next"))
    return tag("nav", links, class_="pager", aria_label="Pages")


def paged_grid(
    site: Site,
    path_of: Callable[[int], str],
    title: str,
    head: Safe,
    ids: Sequence[str],
    section: str,
    *,
    caption: bool = False,
    dated: bool = False,
) -> dict[str, bytes]:
    """A list of photos over as many pages as it takes: {path: page}."""
    size = site.page_size
    pages = max(1, -(-len(ids) // size))
    out = {}
    for page in range(1, pages + 1):
        path = path_of(page)
        chunk = ids[(page - 1) * size : page * size]
        body = join(
            [
                head,
                pager(path_of, path, page, pages),
                grid(site, path, chunk, caption=caption, dated=dated)
                if chunk
                else tag("p", "Nothing here yet.", class_="empty"),
                pager(path_of, path, page, pages),
            ]
        )
        heading = title if page == 1 else f"{title} (page {page})"
        out[path] = layout(site, path, heading, body, section=section)
    return out


def count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


# --- list pages ----------------------------------------------------------------------------
def photostream_pages(site: Site) -> dict[str, bytes]:
    ids = site.archive.photostream
    head = join(
        [
            tag("h1", "Photostream"),
            tag("p", count(len(ids), "photo or video", "photos and videos"), class_="meta"),
        ]
    )
    return paged_grid(site, stream_page, "Photostream", head, ids, "index.html")


def favorites_pages(site: Site) -> dict[str, bytes]:
    ids = site.archive.favorites
    head = join(
        [
            tag("h1", "Favorites"),
            tag(
                "p",
                f"{count(len(ids), 'photo')} by other people, newest fave first",
                class_="meta",
            ),
        ]
    )
    return paged_grid(site, favorites_page, "Favorites", head, ids, "favorites.html", caption=True)


def album_card(site: Site, path: str, album: Album) -> Safe:
    cover = album.primary_photo_id if album.primary_photo_id in site.archive.photos else None
    cover = cover or (album.photo_ids[0] if album.photo_ids else None)
    derived = site.derived.get(cover) if cover else None
    src = rel(path, derived.thumb) if derived else rel(path, "assets/missing.svg")
    name = plain(album.title) or "Untitled album"
    return tag(
        "li",
        tag(
            "a",
            [
                void("img", src=src, alt="", loading="lazy"),
                tag("span", name, class_="cap"),
                tag("span", count(len(album.photo_ids), "item"), class_="count"),
            ],
            href=rel(path, album_page(album.id)),
        ),
        class_="card",
    )


def albums_index(site: Site) -> dict[str, bytes]:
    path = "albums.html"
    albums = site.archive.albums
    body = join(
        [
            tag("h1", "Albums"),
            tag("p", count(len(albums), "album"), class_="meta"),
            tag("ul", [album_card(site, path, a) for a in albums], class_="cards")
            if albums
            else tag("p", "No albums.", class_="empty"),
        ]
    )
    return {path: layout(site, path, "Albums", body, section=path)}


def album_pages(site: Site, album: Album) -> dict[str, bytes]:
    name = plain(album.title) or "Untitled album"
    facts = [count(len(album.photo_ids), "photo or video", "photos and videos")]
    if album.date_create:
        facts.append(f"created {format_date(album.date_create)}")
    head = [tag("h1", name), tag("p", " · ".join(facts), class_="meta")]
    if album.deleted_on_flickr:
        head.append(tag("p", "This album is no longer on Flickr.", class_="flag"))
    if album.description:
        head.append(tag("div", sanitize(album.description), class_="description"))
    if album.missing:
        head.append(
            tag(
                "p",
                f"{count(album.missing, 'item')} of this album are not in the archive.",
                class_="flag",
            )
        )
    return paged_grid(
        site,
        lambda page: album_page(album.id, page),
        name,
        join(head),
        album.photo_ids,
        "albums.html",
    )


def collections_index(site: Site) -> dict[str, bytes]:
    path = "collections.html"
    archive = site.archive
    albums = site.albums

    def branch(collection: Collection, level: int) -> Safe:
        heading = tag(f"h{min(6, level + 2)}", plain(collection.title) or "Untitled collection")
        cards = [
            album_card(site, path, albums[aid]) for aid in collection.album_ids if aid in albums
        ]
        children = [branch(archive.collections[cid], level + 1) for cid in collection.children]
        return tag(
            "section",
            [
                heading,
                tag("div", sanitize(collection.description), class_="description")
                if collection.description
                else None,
                tag("ul", cards, class_="cards") if cards else None,
                join(children),
            ],
            class_="collection",
        )

    tops = [branch(archive.collections[cid], 0) for cid in archive.top_collections]
    body = join(
        [
            tag("h1", "Collections"),
            join(tops) if tops else tag("p", "No collections.", class_="empty"),
        ]
    )
    return {path: layout(site, path, "Collections", body, section=path)}


def galleries_index(site: Site) -> dict[str, bytes]:
    path = "galleries.html"
    items = []
    for gallery in site.archive.galleries:
        held = [i.photo_id for i in gallery.items if i.photo_id in site.derived]
        src = rel(path, site.derived[held[0]].thumb) if held else rel(path, "assets/missing.svg")
        items.append(
            tag(
                "li",
                tag(
                    "a",
                    [
                        void("img", src=src, alt="", loading="lazy"),
                        tag("span", plain(gallery.title) or "Untitled gallery", class_="cap"),
                        tag("span", count(len(gallery.items), "item"), class_="count"),
                    ],
                    href=rel(path, gallery_page(gallery.id)),
                ),
                class_="card",
            )
        )
    body = join(
        [
            tag("h1", "Galleries"),
            tag("ul", items, class_="cards")
            if items
            else tag("p", "No galleries.", class_="empty"),
        ]
    )
    return {path: layout(site, path, "Galleries", body, section=path)}


def gallery_pages(site: Site, gallery: Gallery) -> dict[str, bytes]:
    path = gallery_page(gallery.id)
    name = plain(gallery.title) or "Untitled gallery"
    held = [i.photo_id for i in gallery.items if i.photo_id in site.archive.photos]
    others = [i for i in gallery.items if i.photo_id not in site.archive.photos]
    base = re.match(r"^(https?://[^/]+)/", gallery.url)
    rest = []
    for item in others:
        label = plain(item.title) or "Untitled"
        href = (
            f"{base.group(1)}/photos/{item.owner}/{item.photo_id}/" if base and item.owner else None
        )
        who = site.archive.users.get(item.owner)
        rest.append(
            tag(
                "li",
                [
                    tag("a", label, href=href, rel="noopener noreferrer") if href else label,
                    f" by {who.name}" if who else "",
                    tag("div", sanitize(item.comment), class_="curator") if item.comment else None,
                ],
            )
        )
    body = [tag("h1", name), tag("p", count(len(gallery.items), "item"), class_="meta")]
    if gallery.deleted_on_flickr:
        body.append(tag("p", "This gallery is no longer on Flickr.", class_="flag"))
    if gallery.description:
        body.append(tag("div", sanitize(gallery.description), class_="description"))
    body.append(grid(site, path, held, caption=True) if held else Safe(""))
    if rest:
        body += [
            tag("h2", "Not in this archive"),
            tag(
                "p",
                "Other people's photos are kept only when you faved them; these are on Flickr.",
                class_="meta",
            ),
            tag("ul", rest, class_="plain"),
        ]
    if gallery.url:
        body.append(
            tag(
                "p", tag("a", "This gallery on Flickr", href=gallery.url, rel="noopener noreferrer")
            )
        )
    return {path: layout(site, path, name, join(body), section="galleries.html")}


def tags_index(site: Site) -> dict[str, bytes]:
    path = "tags.html"
    items = [
        tag(
            "li",
            [
                tag("a", site.archive.tag_names.get(t, t), href=rel(path, tag_page(t))),
                tag("span", f" {len(ids)}", class_="count"),
            ],
        )
        for t, ids in site.archive.tags.items()
    ]
    body = join(
        [
            tag("h1", "Tags"),
            tag("p", count(len(items), "tag"), class_="meta"),
            tag("ul", items, class_="tags") if items else tag("p", "No tags.", class_="empty"),
        ]
    )
    return {path: layout(site, path, "Tags", body, section=path)}


def tag_pages(site: Site, name: str) -> dict[str, bytes]:
    shown = site.archive.tag_names.get(name, name)
    ids = site.archive.tags[name]
    head = join([tag("h1", f"Tag: {shown}"), tag("p", count(len(ids), "item"), class_="meta")])
    return paged_grid(
        site, lambda page: tag_page(name, page), f"Tag: {shown}", head, ids, "tags.html"
    )


def search_page(site: Site) -> dict[str, bytes]:
    path = "search.html"
    body = join(
        [
            tag("h1", "Search"),
            tag(
                "p",
                "Finds photos by words in their titles, descriptions, tags, notes and comments.",
                class_="meta",
            ),
            tag("p", "", id="search-status", role="status", aria_live="polite"),
            tag("ul", None, id="search-results", class_="grid"),
            tag("noscript", tag("p", "Search needs JavaScript.")),
        ]
    )
    return {
        path: layout(site, path, "Search", body, scripts=("search-index.js", "assets/search.js"))
    }
