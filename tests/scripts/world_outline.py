"""Make ``flickr_crawl/site/assets/world.svg``, the world outline the offline map draws on.

The outline is Natural Earth's 1:110m admin-0 countries (public domain, naturalearthdata.com),
as geopandas 0.14.4 shipped it in its wheel (``geopandas/datasets/naturalearth_lowres``; later
geopandas versions dropped it). It is drawn in the map's own projection: equirectangular, one
SVG unit per degree (x = longitude + 180, y = 90 - latitude), rounded to 0.1 degree. Run it
once with pyshp installed and the shapefile unpacked from that wheel::

    pip download geopandas==0.14.4 --no-deps
    unzip geopandas-0.14.4-*.whl 'geopandas/datasets/*'
    python tests/scripts/world_outline.py \\
        geopandas/datasets/naturalearth_lowres/naturalearth_lowres.shp
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import shapefile  # pyshp: only needed to remake the asset, not a dependency of the project

OUT = Path(__file__).resolve().parents[2] / "flickr_crawl" / "site" / "assets" / "world.svg"


def ring_path(points: list[tuple[float, float]]) -> str:
    steps: list[str] = []
    last = None
    for lon, lat in points:
        x, y = round(lon + 180, 1), round(90 - lat, 1)
        if (x, y) == last:
            continue
        steps.append(f"{x:g} {y:g}")
        last = (x, y)
    # After M, further coordinate pairs are implicit linetos.
    return "M" + " ".join(steps) + "Z" if len(steps) > 2 else ""


def main(shp: str) -> None:
    reader = shapefile.Reader(shp)
    rings = []
    for shape in reader.shapes():
        parts = [*shape.parts, len(shape.points)]
        for start, end in itertools.pairwise(parts):
            if path := ring_path(shape.points[start:end]):
                rings.append(path)
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 360 180" width="360" height="180">\n'
        "<!-- Country outlines: Natural Earth 1:110m admin-0 countries (public domain,"
        " naturalearthdata.com), equirectangular, 1 unit = 1 degree;"
        " made by tests/scripts/world_outline.py -->\n"
        '<rect width="360" height="180" fill="#dfeaf3"/>\n'
        f'<path fill="#f4f1ea" stroke="#9a9a9a" stroke-width="0.2" d="{"".join(rings)}"/>\n'
        "</svg>\n"
    )
    OUT.write_text(svg, encoding="utf-8")
    print(f"{OUT}: {len(rings)} rings, {len(svg):,} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
