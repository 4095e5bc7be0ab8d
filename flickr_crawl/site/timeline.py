"""The timeline: ``timeline.html`` lists the years and months photos were taken in, with their
counts, and each year and month has its own pages of photos (``timeline/2023.html``,
``timeline/2023-11.html``), newest first, each photo dated at the precision Flickr knows.

A date known only to the year (Flickr's granularity 6, or 8: "circa") counts in its year but in
no month; a photo without any date taken is listed under "Date unknown".
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from flickr_crawl.site.markup import Safe, join, tag
from flickr_crawl.site.names import rel, timeline_page
from flickr_crawl.site.pages import MONTHS, count, layout, paged_grid

if TYPE_CHECKING:
    from flickr_crawl.site.model import Photo
    from flickr_crawl.site.pages import Site

PATH = "timeline.html"
UNDATED = "undated"


def when(photo: Photo) -> tuple[str, str]:
    """(year, month) the photo was taken: month "" when only the year is known, year
    ``UNDATED`` without a date."""
    taken = photo.date_taken or ""
    if len(taken) < 4 or not taken[:4].isdigit():
        return UNDATED, ""
    month = taken[5:7] if photo.date_taken_granularity in (0, 4, None) else ""
    return taken[:4], month if month.isdigit() and 1 <= int(month) <= 12 else ""


def _newest_taken_first(site: Site) -> list[str]:
    photos = site.archive.photos
    ids = list(site.archive.photostream)  # newest posted first: the tie-break
    ids.sort(key=lambda pid: photos[pid].date_taken or "", reverse=True)
    return ids


def timeline_pages(site: Site) -> dict[str, bytes]:
    """``timeline.html`` and the pages of each year and month it links to."""
    years: dict[str, list[str]] = defaultdict(list)
    months: dict[tuple[str, str], list[str]] = defaultdict(list)
    for pid in _newest_taken_first(site):
        year, month = when(site.archive.photos[pid])
        years[year].append(pid)
        if month:
            months[(year, month)].append(pid)
    out: dict[str, bytes] = {}
    entries = []
    for year in sorted((y for y in years if y != UNDATED), reverse=True):
        ids = years[year]
        month_items = []
        for month in sorted({m for (y, m) in months if y == year}, reverse=True):
            in_month = months[(year, month)]
            name = f"{MONTHS[int(month) - 1]} {year}"
            month_items.append(_entry(timeline_page(year, month), name, len(in_month), month))
            out.update(_list(site, (year, month), name, in_month))
        only_year = len(ids) - sum(len(months[(year, m)]) for (y, m) in months if y == year)
        if only_year:
            month_items.append(
                tag("li", f"Month not known: {count(only_year, 'item')}", class_="only-year")
            )
        entries.append(
            tag(
                "li",
                [
                    tag("h2", _link(timeline_page(year), year, len(ids))),
                    tag("ul", month_items, class_="months"),
                ],
                class_="year",
                data_year=year,
                data_count=len(ids),
            )
        )
        out.update(_list(site, (year, ""), year, ids))
    if years.get(UNDATED):
        ids = years[UNDATED]
        entries.append(
            tag(
                "li",
                tag("h2", _link(timeline_page(UNDATED), "Date unknown", len(ids))),
                class_="year",
                data_year=UNDATED,
                data_count=len(ids),
            )
        )
        out.update(_list(site, (UNDATED, ""), "Date unknown", ids))
    total = len(site.archive.photostream)
    body = join(
        [
            tag("h1", "Timeline"),
            tag(
                "p",
                f"{count(total, 'photo or video', 'photos and videos')} by the date "
                "they were taken",
                class_="meta",
            ),
            tag("ol", entries, class_="timeline")
            if entries
            else tag("p", "Nothing here yet.", class_="empty"),
        ]
    )
    out[PATH] = layout(site, PATH, "Timeline", body, section=PATH)
    return out


def _link(target: str, label: str, n: int) -> Safe:
    return join([tag("a", label, href=rel(PATH, target)), " ", tag("span", str(n), class_="count")])


def _entry(target: str, label: str, n: int, month: str) -> Safe:
    return tag("li", _link(target, label, n), data_month=month, data_count=n)


def _list(site: Site, key: tuple[str, str], title: str, ids: list[str]) -> dict[str, bytes]:
    year, month = key
    head = join(
        [
            tag("h1", title),
            tag(
                "p",
                [
                    count(len(ids), "photo or video", "photos and videos"),
                    " · ",
                    tag("a", "Timeline", href=rel(timeline_page(year, month), PATH)),
                ],
                class_="meta",
            ),
        ]
    )
    return paged_grid(
        site, lambda page: timeline_page(year, month, page), title, head, ids, PATH, dated=True
    )
