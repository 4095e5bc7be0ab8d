"""Flickr's words as the person typed them, for every file and index we write.

What Flickr serves, checked against the real recordings (``flickr-real/xml``: 978 photo, album
and group titles, 87 of them with ``&``, ``<``, ``"`` or ``'``, none with an HTML entity once
the XML is parsed): titles, tag spellings, user and place names arrive as typed, so they are
kept as they are and never decoded (a title typed as ``R&amp;D`` stays ``R&amp;D``).
Descriptions, comments and notes are HTML (``B&amp;W``, ``&lt;3``, ``&quot;``, links): the
catalog and the sidecar keep that HTML, and EXIF, XMP and the search indexes get the plain
text :func:`html_to_text` makes of it, entities decoded once and links kept as text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["clean_text", "html_to_text"]

_NOT_XML = re.compile("[^\t\n\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BLOCK_TAGS = frozenset(
    {"p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}
)


def clean_text(text: str) -> str:
    """``text`` with Unix line breaks and without what XML 1.0 and EXIF cannot hold.

    Drops NUL and other control characters (a NUL would end an EXIF ASCII value early), lone
    surrogates and U+FFFE/U+FFFF; keeps tabs, line breaks and everything printable.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _NOT_XML.sub("", text)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._links: list[tuple[str, int]] = []  # (href, index of the first part inside)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n" if tag == "p" else "\n")
            if tag == "li":
                self.parts.append("- ")
        elif tag == "a":
            self._links.append((dict(attrs).get("href") or "", len(self.parts)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n" if tag == "p" else "\n")
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            label = "".join(self.parts[start:]).strip()
            # Keep where a link pointed unless its text already says it (Flickr's auto-links).
            if href.startswith(("http://", "https://")) and href.rstrip("/") not in label:
                self.parts.append(f" ({href})" if label else href)

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def html_to_text(html: str | None) -> str:
    """Plain text of Flickr HTML (a description, comment or note): tags stripped, entities
    decoded once, ``<script>``/``<style>`` dropped.

    Line breaks survive: Flickr keeps the owner's newlines in the text, and ``<br>``, ``<p>``
    and other block tags add their own. A link keeps its text, followed by its target in
    brackets when the text does not already show it: ``see here (https://example.org/x)``.
    """
    if not html:
        return ""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = clean_text("".join(parser.parts))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
