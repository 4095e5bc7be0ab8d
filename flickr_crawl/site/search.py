"""The client-side search index: words of titles, descriptions, tags, notes and comments.

Written as ``search-index.js``, a script that assigns a global, because pages opened from disk
(file://) may not fetch() JSON. The index is inverted and compact for 20,000 photos: each word
once, with the numbers of the photos that contain it as base-36 gaps. ``assets/search.js``
splits a query the same way ``words`` does here (lower case, accents dropped, letters and
digits), and finds photos that have every query word as the start of one of their words.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import TYPE_CHECKING

from flickr_crawl.metadata.text import html_to_text
from flickr_crawl.site.sanitize import plain, sanitize

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flickr_crawl.site.model import Archive

GLOBAL = "FLICKR_SEARCH"
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> set[str]:
    """The search words of a text; search.js does exactly this to a query."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.category(ch).startswith("M"))
    return set(_WORD.findall(folded))


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def build_index(archive: Archive, order: Iterable[str], keys: dict[str, str]) -> bytes:
    """``search-index.js`` for the photos in ``order``; ``keys`` maps a photo id to the key of
    its thumbnail where it has one (search.js makes ``t/<id>-<key>.jpg`` of it).

    Each photo is ``[id, title, key or "", 1 if video else 0]``, numbered in list order.
    """
    docs = []
    postings: dict[str, list[int]] = {}
    for number, pid in enumerate(order):
        photo = archive.photos[pid]
        title = plain(photo.title)
        docs.append([pid, title, keys.get(pid, ""), int(photo.media == "video")])
        # The text people see on the pages: sanitised first, so a dropped <script> is not found.
        texts = [title, html_to_text(sanitize(photo.description))]
        texts += [f"{tag} {raw}" for tag, raw, _ in photo.tags]
        texts += [html_to_text(sanitize(note.html)) for note in photo.notes]
        texts += [html_to_text(sanitize(comment.html)) for comment in photo.comments]
        for word in words(" ".join(texts)):
            postings.setdefault(word, []).append(number)
    terms = {}
    for word in sorted(postings):
        gaps, last = [], 0
        for number in postings[word]:
            gaps.append(_base36(number - last))
            last = number
        terms[word] = ",".join(gaps)
    payload = json.dumps({"docs": docs, "terms": terms}, ensure_ascii=False, separators=(",", ":"))
    # "</script" cannot occur in JSON we load by src=, but U+2028/2029 are kept JS-safe anyway.
    payload = payload.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"window.{GLOBAL}={payload};\n".encode()
