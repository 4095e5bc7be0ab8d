"""Atomic writes into the archive: temp file + rename, links with a copy fallback.

An interrupted run must never leave a file that looks complete but is not, so every file
appears under its final name only by ``os.replace`` of a finished temp file in the same folder.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

PART_SUFFIX = ".part"


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON through a temp file and a rename."""
    payload = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return write_bytes_atomic(path, payload.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write through a temp file (created 0600: never readable by others) and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_private_atomic(path: Path, data: bytes) -> Path:
    """For secrets (tokens, cookies): mode 0600 from the first byte, folder 0700 if new."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return write_bytes_atomic(path, data, mode=0o600)


def part_path(folder: Path, photo_id: str) -> Path:
    """A fresh, unique file for a download to stream to before it is verified and renamed.

    Nothing is looked up: a failed download removes its own part, and the parts a killed run
    left are swept before the next one starts (``flickr_crawl.extensions.leftovers``). (Listing the
    folder for them per photo cost O(files in the folder), quadratic on a big account.)
    """
    return folder / f".{photo_id}.{secrets.token_hex(4)}{PART_SUFFIX}"


def link_or_copy(source: Path, target: Path, *, mode: str = "hardlink") -> str:
    """Make ``target`` show the same bytes as ``source``: a hard link, else a copy.

    Returns "hardlink", "existing" or "copy". The target appears atomically either way.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and mode == "hardlink" and source.samefile(target):
        return "existing"
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.link.tmp")
    if mode == "hardlink":
        try:
            os.link(source, tmp)
            tmp.replace(target)
            return "hardlink"
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                raise
    try:
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half copy behind (disk full)
        raise
    return "copy"


def sha256_file(path: Path, *, block: int = 1 << 20) -> tuple[int, str]:
    """Size and SHA-256 of a file, read in blocks (memory stays flat for any size)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
