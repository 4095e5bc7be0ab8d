"""Every page of the site as HTML text: photostream, albums, collections, galleries,
favourites, tags, search and one page per photo or video.

Pages only link relatively (the folder can be moved or zipped), load nothing but files under
the archive folder, and carry a Content-Security-Policy that allows scripts, styles and media
from files only: no inline script, no network. Flickr's HTML goes through ``sanitize``; every
other value is escaped by ``markup``. Nothing here depends on the time of the build, so a page
whose content did not change comes out byte for byte the same.

Videos: Pillow cannot decode them, so a video's thumbnail and poster are made from the still
the crawl keeps beside it (Flickr's largest, ``<id>.poster.jpg``), or a neutral placeholder
without one; its page plays the original in a ``<video>`` element. A video whose file is not
in the archive says so, whatever still it has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flickr_crawl.site.markup import Safe, esc, join, tag, url_path, void
from flickr_crawl.site.sanitize import plain, sanitize

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

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
NOTE_FRAME = 500  # Flickr's note coordinates are pixels on the 500px ("Medium") rendering
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2}))?)?)?")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


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


# --- file names ----------------------------------------------------------------------------
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


def _paged(base: str, page: int) -> str:
    return f"{base}.html" if page == 1 else f"{base}-page-{page}.html"


def _rel(path: str, to: str) -> str:
    """The relative URL from the page at ``path`` to the site file ``to``."""
    return "../" * path.count("/") + url_path(to)


def _archive_rel(path: str, archive_path: str) -> str:
    """The relative URL from a page to a file of the archive (outside ``site/``)."""
    return "../" * (path.count("/") + 1) + url_path(archive_path)


# --- layout --------------------------------------------------------------------------------
NAV = (
    ("index.html", "Photostream"),
    ("albums.html", "Albums"),
    ("collections.html", "Collections"),
    ("galleries.html", "Galleries"),
    ("favorites.html", "Favorites"),
    ("tags.html", "Tags"),
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
        tag("a", label, href=_rel(path, target), aria_current="page" if target == section else None)
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
        action=_rel(path, "search.html"),
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
    brand = tag("a", site.title, href=_rel(path, "index.html"), class_="brand")
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


def grid(site: Site, path: str, photo_ids: Sequence[str], *, caption: bool = False) -> Safe:
    """Thumbnails in order, each a link to the photo's page."""
    depth = path.count("/")
    cache = site.cache
    items = []
    for pid in photo_ids:
        key = ("grid", pid, depth, caption)
        item = cache.get(key)
        if item is None:  # a photo shows in many lists: its item is made once per depth
            item = cache[key] = _grid_item(site, path, pid, caption=caption)
        items.append(item)
    return tag("ul", items, class_="grid")


def _grid_item(site: Site, path: str, pid: str, *, caption: bool) -> Safe:
    photo = site.archive.photos[pid]
    name = title_of(photo)
    derived = site.derived.get(pid)
    if derived is not None:
        img = void("img", src=_rel(path, derived.thumb), alt=name, loading="lazy", decoding="async")
    else:
        kind = "video" if photo.media == "video" else "missing"
        label = f"Video: {name}" if kind == "video" else f"{name} (no image in the archive)"
        img = void("img", src=_rel(path, f"assets/{kind}.svg"), alt=label, loading="lazy")
    extra = tag("span", name, class_="cap") if caption else None
    badge = tag("span", "▶", class_="badge", aria_hidden="true") if photo.media == "video" else None
    return tag("li", tag("a", [img, badge, extra], href=_rel(path, photo_page(pid)), title=name))


def pager(path_of: Callable[[int], str], path: str, page: int, pages: int) -> Safe:
    """Newer/older links between the pages of one list (rel=prev/next for the arrow keys)."""
    if pages <= 1:
        return Safe("")
    links = []
    if page > 1:
        links.append(tag("a", "← Previous page", href=_rel(path, path_of(page - 1)), rel="prev"))
    links.append(tag("span", f"Page {page} of {pages}"))
    if page < pages:
        links.append(tag("a", "Next page →", href=_rel(path, path_of(page + 1)), rel="next"))
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
                grid(site, path, chunk, caption=caption)
                if chunk
                else tag("p", "Nothing here yet.", class_="empty"),
                pager(path_of, path, page, pages),
            ]
        )
        heading = title if page == 1 else f"{title} (page {page})"
        out[path] = layout(site, path, heading, body, section=section)
    return out


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


# --- list pages ----------------------------------------------------------------------------
def photostream_pages(site: Site) -> dict[str, bytes]:
    ids = site.archive.photostream
    head = join(
        [
            tag("h1", "Photostream"),
            tag("p", _count(len(ids), "photo or video", "photos and videos"), class_="meta"),
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
                f"{_count(len(ids), 'photo')} by other people, newest fave first",
                class_="meta",
            ),
        ]
    )
    return paged_grid(site, favorites_page, "Favorites", head, ids, "favorites.html", caption=True)


def album_card(site: Site, path: str, album: Album) -> Safe:
    cover = album.primary_photo_id if album.primary_photo_id in site.archive.photos else None
    cover = cover or (album.photo_ids[0] if album.photo_ids else None)
    derived = site.derived.get(cover) if cover else None
    src = _rel(path, derived.thumb) if derived else _rel(path, "assets/missing.svg")
    name = plain(album.title) or "Untitled album"
    return tag(
        "li",
        tag(
            "a",
            [
                void("img", src=src, alt="", loading="lazy"),
                tag("span", name, class_="cap"),
                tag("span", _count(len(album.photo_ids), "item"), class_="count"),
            ],
            href=_rel(path, album_page(album.id)),
        ),
        class_="card",
    )


def albums_index(site: Site) -> dict[str, bytes]:
    path = "albums.html"
    albums = site.archive.albums
    body = join(
        [
            tag("h1", "Albums"),
            tag("p", _count(len(albums), "album"), class_="meta"),
            tag("ul", [album_card(site, path, a) for a in albums], class_="cards")
            if albums
            else tag("p", "No albums.", class_="empty"),
        ]
    )
    return {path: layout(site, path, "Albums", body, section=path)}


def album_pages(site: Site, album: Album) -> dict[str, bytes]:
    name = plain(album.title) or "Untitled album"
    facts = [_count(len(album.photo_ids), "photo or video", "photos and videos")]
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
                f"{_count(album.missing, 'item')} of this album are not in the archive.",
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
        src = _rel(path, site.derived[held[0]].thumb) if held else _rel(path, "assets/missing.svg")
        items.append(
            tag(
                "li",
                tag(
                    "a",
                    [
                        void("img", src=src, alt="", loading="lazy"),
                        tag("span", plain(gallery.title) or "Untitled gallery", class_="cap"),
                        tag("span", _count(len(gallery.items), "item"), class_="count"),
                    ],
                    href=_rel(path, gallery_page(gallery.id)),
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
    body = [tag("h1", name), tag("p", _count(len(gallery.items), "item"), class_="meta")]
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
                tag("a", site.archive.tag_names.get(t, t), href=_rel(path, tag_page(t))),
                tag("span", f" {len(ids)}", class_="count"),
            ],
        )
        for t, ids in site.archive.tags.items()
    ]
    body = join(
        [
            tag("h1", "Tags"),
            tag("p", _count(len(items), "tag"), class_="meta"),
            tag("ul", items, class_="tags") if items else tag("p", "No tags.", class_="empty"),
        ]
    )
    return {path: layout(site, path, "Tags", body, section=path)}


def tag_pages(site: Site, name: str) -> dict[str, bytes]:
    shown = site.archive.tag_names.get(name, name)
    ids = site.archive.tags[name]
    head = join([tag("h1", f"Tag: {shown}"), tag("p", _count(len(ids), "item"), class_="meta")])
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


# --- the photo page ------------------------------------------------------------------------
def photo_pages(
    site: Site, context: Sequence[str], label: str, up: str
) -> Iterator[tuple[str, bytes]]:
    """The pages of the photos in ``context`` (photostream or favourites), each linking its
    neighbours there for the arrow keys; ``up`` is the list page, ``label`` its name."""
    for index, pid in enumerate(context):
        prev_id = context[index - 1] if index > 0 else None
        next_id = context[index + 1] if index + 1 < len(context) else None
        page = 1 + index // site.page_size
        list_path = stream_page(page) if up == "index.html" else favorites_page(page)
        path = photo_page(pid)
        yield (
            path,
            photo_html(
                site, site.archive.photos[pid], prev_id, next_id, (label, list_path), section=up
            ),
        )


def photo_html(
    site: Site,
    photo: Photo,
    prev_id: str | None,
    next_id: str | None,
    back: tuple[str, str],
    *,
    section: str,
) -> bytes:
    path = photo_page(photo.id)
    archive = site.archive
    name = title_of(photo)
    body: list[object] = [_media(site, path, photo, name)]
    nav = [tag("a", f"← {back[0]}", href=_rel(path, back[1]), rel="up", class_="back")]
    if prev_id:
        nav.append(tag("a", "← Previous", href=_rel(path, photo_page(prev_id)), rel="prev"))
    if next_id:
        nav.append(tag("a", "Next →", href=_rel(path, photo_page(next_id)), rel="next"))
    body.append(tag("nav", nav, class_="pager", aria_label="Photos"))
    body.append(tag("h1", name))
    if photo.deleted_on_flickr:
        body.append(
            tag("p", "This item is no longer on Flickr; this archive keeps it.", class_="flag")
        )
    if photo.favorite is not None:
        owner = archive.users.get(photo.favorite.owner)
        body.append(
            tag(
                "p",
                [
                    f"By {owner.name if owner else photo.favorite.owner}",
                    " · faved " if photo.favorite.date_faved else "",
                    time_tag(photo.favorite.date_faved),
                ],
                class_="meta",
            )
        )
        if photo.favorite.gone_from_flickr:
            body.append(tag("p", "No longer among your favorites on Flickr.", class_="flag"))
    if photo.description:
        body.append(tag("div", sanitize(photo.description), class_="description"))
    body.append(_facts(site, path, photo))
    body.append(_tags(site, path, photo))
    body.append(_memberships(site, path, photo))
    body.append(_notes(photo))
    body.append(_people(site, photo))
    body.append(_comments(site, photo))
    body.append(_faves(site, photo))
    return layout(site, path, name, join(body), section=section)


def _media(site: Site, path: str, photo: Photo, name: str) -> Safe:
    original = _archive_rel(path, photo.file_path) if photo.on_disk and photo.file_path else None
    if photo.media == "video":
        still = site.derived.get(photo.id)  # made from the video's still, where it has one
        if original is None:
            return tag(
                "figure",
                [
                    void("img", src=_rel(path, still.web if still else "assets/video.svg"), alt=""),
                    tag("figcaption", ["The video file is not in the archive.", _FINDMISSING]),
                ],
                class_="media missing",
            )
        return tag(
            "figure",
            tag(
                "div",
                [
                    tag(
                        "video",
                        tag("a", "Download the video", href=original),
                        src=original,
                        poster=_rel(path, still.web) if still else None,
                        controls=True,
                        preload="metadata",
                        playsinline=True,
                        aria_label=name,
                    ),
                    _note_boxes(photo, None),
                ],
                class_="frame",
            ),
            class_="media video",
        )
    derived = site.derived.get(photo.id)
    if derived is None:
        text = (
            "The file could not be read to make a preview."
            if original
            else join(["The file is not in the archive.", _FINDMISSING])
        )
        return tag(
            "figure",
            [
                void("img", src=_rel(path, "assets/missing.svg"), alt=""),
                tag(
                    "figcaption",
                    [text, " ", tag("a", "Open the original", href=original) if original else ""],
                ),
            ],
            class_="media missing",
        )
    img = void(
        "img", src=_rel(path, derived.web), alt=name, width=derived.width, height=derived.height
    )
    return tag(
        "figure",
        tag(
            "div",
            [
                tag("a", img, href=original, class_="original-link") if original else img,
                _note_boxes(photo, derived),
            ],
            class_="frame",
        ),
        class_="media",
    )


_FINDMISSING = join([" ", tag("code", "scrapy findmissing"), " lists it."])


def _note_boxes(photo: Photo, derived: Derived | None) -> Safe:
    """Flickr's notes over the image, in percent of the picture (site.js applies data-box:
    the page's policy allows no inline style).

    Note coordinates are pixels on Flickr's 500px rendering: the picture scaled so its long
    side is 500 (or the original's size when that is smaller). The long side is Flickr's; the
    shape is the one shown here, with EXIF orientation applied.
    """
    if not photo.notes or derived is None:
        return Safe("")
    w, h = derived.width, derived.height
    longest = max(photo.width or 0, photo.height or 0) or max(w, h)
    scale = min(NOTE_FRAME, longest) / max(w, h)
    fw, fh = w * scale, h * scale
    boxes = []
    for note in photo.notes:
        box = (
            _pct(note.x, fw),
            _pct(note.y, fh),
            _pct(note.w, fw, note.x),
            _pct(note.h, fh, note.y),
        )
        boxes.append(
            tag(
                "div",
                tag("div", sanitize(note.html), class_="note-text"),
                class_="note",
                tabindex="0",
                id=f"note-box-{file_id(note.id)}",
                data_box=" ".join(f"{v:.2f}" for v in box),
            )
        )
    return tag("div", boxes, class_="notes")


def _pct(value: int, frame: float, start: int = 0) -> float:
    """``value`` as a percentage of ``frame``, kept inside the picture."""
    if frame <= 0:
        return 0.0
    limit = max(0.0, 100.0 - 100.0 * max(0, start) / frame)
    return max(0.0, min(limit, 100.0 * value / frame))


def _facts(site: Site, path: str, photo: Photo) -> Safe:
    rows: list[tuple[str, object]] = []
    if photo.date_taken and not photo.date_taken_unknown:
        rows.append(("Taken", time_tag(photo.date_taken, photo.date_taken_granularity)))
    if photo.date_posted:
        rows.append(("Uploaded", time_tag(photo.date_posted)))
    if photo.views is not None:
        rows.append(("Views", f"{photo.views:,}"))
    if photo.license_name:
        rows.append(
            (
                "Licence",
                tag(
                    "a",
                    photo.license_name,
                    href=photo.license_url,
                    rel="license noopener noreferrer",
                )
                if photo.license_url
                else photo.license_name,
            )
        )
    if photo.latitude is not None and photo.longitude is not None:
        lat, lon = photo.latitude, photo.longitude
        osm = (
            f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}"
            f"#map=15/{lat:.6f}/{lon:.6f}"
        )
        where = ", ".join(photo.places)
        rows.append(
            (
                "Place",
                [
                    f"{where} " if where else "",
                    tag(
                        "a",
                        f"({lat:.5f}, {lon:.5f})",
                        href=osm,
                        rel="noopener noreferrer",
                        title="Open in OpenStreetMap",
                    ),
                ],
            )
        )
    elif photo.places:
        rows.append(("Place", ", ".join(photo.places)))
    rows.append(("Visible to", _privacy(photo)))
    links: list[object] = []
    if photo.on_disk and photo.file_path:
        label = "Video file" if photo.media == "video" else "Original file"
        links.append(tag("a", label, href=_archive_rel(path, photo.file_path)))
    if photo.page_url:
        links.append(tag("a", "On Flickr", href=photo.page_url, rel="noopener noreferrer"))
    if links:
        rows.append(("Links", join(links, " · ")))
    return tag("dl", [join([tag("dt", k), tag("dd", v)]) for k, v in rows], class_="facts")


def _privacy(photo: Photo) -> str:
    if photo.is_public:
        return "Everyone"
    if photo.is_friend and photo.is_family:
        return "Friends and family"
    if photo.is_friend:
        return "Friends"
    if photo.is_family:
        return "Family"
    return "Only you"


def _tags(site: Site, path: str, photo: Photo) -> Safe:
    if not photo.tags:
        return Safe("")
    items = []
    for name, raw, machine in photo.tags:
        key = ("tag", name, raw, machine, path.count("/"))
        item = site.cache.get(key)
        if item is None:
            link = tag(
                "a", raw, href=_rel(path, tag_page(name)), class_="machine" if machine else None
            )
            item = site.cache[key] = tag("li", link)
        items.append(item)
    return tag("section", [tag("h2", "Tags"), tag("ul", items, class_="tags")])


def _memberships(site: Site, path: str, photo: Photo) -> Safe:
    links = [_membership(site, path, "album", aid) for aid in photo.albums if aid in site.albums]
    links += [
        _membership(site, path, "gallery", gid) for gid in photo.galleries if gid in site.galleries
    ]
    if not links:
        return Safe("")
    return tag("section", [tag("h2", "In albums and galleries"), tag("ul", links, class_="plain")])


def _membership(site: Site, path: str, kind: str, key: str) -> Safe:
    """One album or gallery a photo is in, as a list item (made once per album and depth)."""
    cache_key = (kind, key, path.count("/"))
    item = site.cache.get(cache_key)
    if item is None:
        if kind == "album":
            name = plain(site.albums[key].title) or "Untitled album"
            item = tag("li", tag("a", name, href=_rel(path, album_page(key))))
        else:
            name = plain(site.galleries[key].title) or "Untitled gallery"
            item = tag("li", tag("a", name, href=_rel(path, gallery_page(key))), class_="gallery")
        site.cache[cache_key] = item
    return item


def _notes(photo: Photo) -> Safe:
    if not photo.notes:
        return Safe("")
    items = [
        tag(
            "li",
            [
                tag("span", note.author_name or "Someone", class_="who"),
                ": ",
                tag("span", sanitize(note.html)),
            ],
            id=f"note-{file_id(note.id)}",
        )
        for note in photo.notes
    ]
    return tag(
        "section",
        [tag("h2", _count(len(items), "note")), tag("ul", items, class_="plain notes-list")],
    )


def _person_link(site: Site, nsid: str, fallback: str = "") -> Safe:
    user = site.archive.users.get(nsid)
    name = user.name if user else (fallback or nsid)
    if user and user.profile_url:
        return tag("a", name, href=user.profile_url, rel="noopener noreferrer")
    return esc(name)


def _people(site: Site, photo: Photo) -> Safe:
    if not photo.people:
        return Safe("")
    items = [tag("li", _person_link(site, person.nsid)) for person in photo.people]
    return tag("section", [tag("h2", "People in this photo"), tag("ul", items, class_="plain")])


def _comments(site: Site, photo: Photo) -> Safe:
    if not photo.comments:
        return Safe("")
    items = []
    for comment in photo.comments:
        flags = []
        if comment.deleted_on_flickr:
            flags.append(tag("span", "removed from Flickr", class_="flag"))
        if comment.author_is_deleted:
            flags.append(tag("span", "account deleted", class_="flag"))
        items.append(
            tag(
                "li",
                [
                    tag(
                        "div",
                        [
                            _person_link(site, comment.author, comment.author_name),
                            " ",
                            tag(
                                "a",
                                time_tag(comment.date),
                                href=comment.permalink,
                                rel="noopener noreferrer",
                                class_="when",
                            )
                            if comment.permalink
                            else time_tag(comment.date),
                            *[part for flag in flags for part in (" · ", flag)],
                        ],
                        class_="comment-head",
                    ),
                    tag("div", sanitize(comment.html), class_="comment-body"),
                ],
                class_="comment",
                id=f"comment-{file_id(comment.id)}",
            )
        )
    return tag(
        "section",
        [tag("h2", _count(len(items), "comment")), tag("ol", items, class_="comments")],
        id="comments",
    )


def _faves(site: Site, photo: Photo) -> Safe:
    if not photo.faves:
        return Safe("")
    items = [
        tag(
            "li",
            [
                _person_link(site, fave.nsid),
                " ",
                time_tag(fave.date_faved),
                tag("span", " (no longer)", class_="flag") if fave.deleted_on_flickr else None,
            ],
        )
        for fave in photo.faves
    ]
    return tag(
        "section",
        [
            tag("h2", f"Faved by {_count(len(items), 'person', 'people')}"),
            tag("ul", items, class_="plain faves"),
        ],
        id="faves",
    )
