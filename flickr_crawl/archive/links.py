"""Finds symlinks in the archive that lead outside it, before a run writes anything.

Every path the crawl writes is built inside the archive
(``flickr_crawl.archive.paths.inside``), but a folder of the archive that is a symlink to
somewhere else would carry those writes out of it: a backup must never write where it was not
asked to. Links that stay inside are fine.
"""

from __future__ import annotations

import os
from pathlib import Path


def links_leaving(root: Path) -> list[tuple[Path, Path]]:
    """(link, where it leads) for each symlink under ``root`` that resolves outside it."""
    base = root.resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in (*dirnames, *filenames):
            path = Path(dirpath, name)
            if not path.is_symlink():
                continue
            target = path.resolve()
            if not target.is_relative_to(base):
                found.append((path, target))
    return found
