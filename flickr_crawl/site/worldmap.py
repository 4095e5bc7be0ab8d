"""``map.html``: the photostream's geotagged photos as points on a world outline, offline.

No tile server and no script: the outline (``assets/world.svg``, Natural Earth 1:110m countries,
public domain; ``tests/scripts/world_outline.py`` made it) is drawn in the same equirectangular
projection as the points, one SVG unit per degree (x = longitude + 180, y = 90 - latitude), so
a point is placed by arithmetic alone. Each point links to its photo's page, and a list below
the map names the same photos for keyboards and screen readers.

Only locations Flickr shows to everyone (``geo_is_public``) are mapped: a site passed on to
others does not reveal where a private location is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flickr_crawl.site.markup import join, tag
from flickr_crawl.site.names import photo_page, rel
from flickr_crawl.site.pages import count, layout, time_tag, title_of

if TYPE_CHECKING:
    from flickr_crawl.site.pages import Site

PATH = "map.html"
OUTLINE = "assets/world.svg"


def position(latitude: float, longitude: float) -> tuple[float, float]:
    """(x, y) on the 360 x 180 map."""
    x = min(max(longitude, -180.0), 180.0) + 180.0
    y = 90.0 - min(max(latitude, -90.0), 90.0)
    return round(x, 3), round(y, 3)


def map_page(site: Site) -> dict[str, bytes]:
    photos = site.archive.photos
    mapped = [
        (pid, lat, lon)
        for pid in site.archive.photostream
        if photos[pid].geo_public
        and (lat := photos[pid].latitude) is not None
        and (lon := photos[pid].longitude) is not None
    ]
    points = []
    items = []
    for pid, lat, lon in mapped:
        photo = photos[pid]
        x, y = position(lat, lon)
        name = title_of(photo)
        where = ", ".join(photo.places)
        label = f"{name} ({where})" if where else name
        href = rel(PATH, photo_page(pid))
        points.append(
            tag(
                "a",
                [tag("title", label), tag("circle", None, cx=x, cy=y, r="1.4", class_="point")],
                href=href,
                data_photo=pid,
                data_lat=photo.latitude,
                data_lon=photo.longitude,
            )
        )
        items.append(
            tag(
                "li",
                [
                    tag("a", name, href=href),
                    f" · {where}" if where else "",
                    " · ",
                    time_tag(photo.date_taken, photo.date_taken_granularity),
                ],
                data_photo=pid,
            )
        )
    svg = tag(
        "svg",
        [
            tag("image", None, href=rel(PATH, OUTLINE), x="0", y="0", width="360", height="180"),
            tag("g", points, class_="points"),
        ],
        xmlns="http://www.w3.org/2000/svg",
        viewBox="0 0 360 180",
        role="img",
        aria_label=f"World map with {count(len(mapped), 'photo')}",
        class_="worldmap",
    )
    hidden = sum(
        1
        for pid in site.archive.photostream
        if photos[pid].latitude is not None and not photos[pid].geo_public
    )
    facts = [count(len(mapped), "photo or video", "photos and videos") + " with a public location"]
    if hidden:
        facts.append(f"{count(hidden, 'more', 'more')} with a location only some people may see")
    body = join(
        [
            tag("h1", "Map"),
            tag("p", " · ".join(facts), class_="meta"),
            tag("figure", svg, class_="map"),
            tag("ul", items, class_="map-list")
            if items
            else tag("p", "No photos with a public location.", class_="empty"),
        ]
    )
    return {PATH: layout(site, PATH, "Map", body, section=PATH)}
