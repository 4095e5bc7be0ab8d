"""The page of one photo or video: the picture or player with its notes, then its facts,
tags, albums and galleries, people, comments and faves.

Videos: Pillow cannot decode them, so a video's thumbnail and poster are made from the still
the crawl keeps beside it (Flickr's largest, ``<id>.poster.jpg``), or a neutral placeholder
without one; its page plays the original in a ``<video>`` element. A video whose file is not
in the archive says so, whatever still it has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flickr_crawl.site.markup import Safe, esc, join, tag, void
from flickr_crawl.site.names import (
    album_page,
    archive_rel,
    favorites_page,
    file_id,
    gallery_page,
    photo_page,
    rel,
    stream_page,
    tag_page,
)
from flickr_crawl.site.pages import (
    Site,
    count,
    layout,
    time_tag,
    title_of,
)
from flickr_crawl.site.sanitize import plain, sanitize

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from flickr_crawl.site.images import Derived
    from flickr_crawl.site.model import Photo

NOTE_FRAME = 500  # Flickr's note coordinates are pixels on the 500px ("Medium") rendering


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
    nav = [tag("a", f"← {back[0]}", href=rel(path, back[1]), rel="up", class_="back")]
    if prev_id:
        nav.append(tag("a", "← Previous", href=rel(path, photo_page(prev_id)), rel="prev"))
    if next_id:
        nav.append(tag("a", "Next →", href=rel(path, photo_page(next_id)), rel="next"))
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
    original = archive_rel(path, photo.file_path) if photo.on_disk and photo.file_path else None
    if photo.media == "video":
        still = site.derived.get(photo.id)  # made from the video's still, where it has one
        if original is None:
            return tag(
                "figure",
                [
                    void("img", src=rel(path, still.web if still else "assets/video.svg"), alt=""),
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
                        poster=rel(path, still.web) if still else None,
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
                void("img", src=rel(path, "assets/missing.svg"), alt=""),
                tag(
                    "figcaption",
                    [text, " ", tag("a", "Open the original", href=original) if original else ""],
                ),
            ],
            class_="media missing",
        )
    img = void(
        "img", src=rel(path, derived.web), alt=name, width=derived.width, height=derived.height
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
        links.append(tag("a", label, href=archive_rel(path, photo.file_path)))
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
                "a", raw, href=rel(path, tag_page(name)), class_="machine" if machine else None
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
            item = tag("li", tag("a", name, href=rel(path, album_page(key))))
        else:
            name = plain(site.galleries[key].title) or "Untitled gallery"
            item = tag("li", tag("a", name, href=rel(path, gallery_page(key))), class_="gallery")
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
        [tag("h2", count(len(items), "note")), tag("ul", items, class_="plain notes-list")],
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
        [tag("h2", count(len(items), "comment")), tag("ol", items, class_="comments")],
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
            tag("h2", f"Faved by {count(len(items), 'person', 'people')}"),
            tag("ul", items, class_="plain faves"),
        ],
        id="faves",
    )
