"""Writing the site's files: atomically, and only when their bytes change.

Every file appears under its final name by ``os.replace`` of a finished temp file, so a browser
(or a zip) never sees half a page. Unlike the archive's own files these are not fsynced: all of
them can be made again from catalog.db and the originals, and a build writes thousands.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

STATE_NAME = ".build-state.json"
TMP_SUFFIX = ".site.tmp"


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TMP_SUFFIX}")
    try:
        tmp.write_bytes(data)
        tmp.chmod(0o644)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PageWriter:
    """Writes a page only if its bytes differ from what is on disk.

    The digests of the last build are kept in ``site/.build-state.json``, so an unchanged page
    costs a stat, not a read; when the state is missing or does not match (a crash, a hand
    edit), the file on disk is read and compared instead.
    """

    def __init__(self, root: Path, *, full: bool = False) -> None:
        self.root = root
        self.full = full
        self.before: dict[str, str] = {} if full else self._load()
        self.after: dict[str, str] = {}

    def _load(self) -> dict[str, str]:
        try:
            state = json.loads((self.root / STATE_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        pages = state.get("pages") if isinstance(state, dict) else None
        return {str(k): str(v) for k, v in pages.items()} if isinstance(pages, dict) else {}

    def write(self, relative: str, data: bytes) -> bool:
        """Write ``data`` at ``relative`` unless it is there already; True if written."""
        path = self.root / relative
        new = digest(data)
        self.after[relative] = new
        if not self.full:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = -1
            if size == len(data) and (
                self.before.get(relative) == new or path.read_bytes() == data
            ):
                return False
        write_atomic(path, data)
        return True

    def save(self) -> None:
        """Record the digests of this build (the file is left alone when nothing changed)."""
        if self.after == self.before and (self.root / STATE_NAME).is_file():
            return
        payload = json.dumps({"version": 1, "pages": self.after}, sort_keys=True)
        write_atomic(self.root / STATE_NAME, payload.encode())
