"""Flickr's user HTML (descriptions, comments, notes) made safe to show: an allowlist.

Flickr lets people write a little HTML: links, emphasis, quotes, lists; many comments also
paste ``<img>`` badges from other sites, and the sandbox's (like real) data has ``<script>`` and
``onerror`` payloads. Everything goes through ammonia (``nh3``), an HTML5-parsing allowlist
sanitizer, so what comes out is parsed the way a browser parses it:

- kept: the tags in ``TAGS``; on links only ``href``/``title``, with http, https and mailto
  URLs (relative ones are made absolute against flickr.com, where they were written);
  every link gets ``rel="nofollow noopener noreferrer"``;
- images become links to the image ("[image]"): showing them would fetch from the network;
- ``script``/``style`` disappear with their content; every other tag is dropped, its text kept;
- newlines become ``<br>`` (Flickr's own rendering) and bare web addresses become links.

The final step is always a plain ``nh3`` pass with the allowlist, so the conversions in between
cannot let anything through that the allowlist would not.
"""

from __future__ import annotations

import re

import nh3

from flickr_crawl.site.markup import Safe

FLICKR_BASE = "https://www.flickr.com/"
TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "cite",
        "code",
        "del",
        "em",
        "i",
        "ins",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "strike",
        "strong",
        "sub",
        "sup",
        "u",
        "ul",
    }
)
SCHEMES = frozenset({"http", "https", "mailto"})
_BLOCK = frozenset({"blockquote", "li", "ol", "p", "pre", "ul"})
_LINK_REL = "nofollow noopener noreferrer"

# Pass 1 also keeps <img src alt> so images can be turned into links; pass 2 is the allowlist.
_FIRST = nh3.Cleaner(
    tags=set(TAGS | {"img"}),
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "img": {"src", "alt"}},
    url_schemes=set(SCHEMES),
    url_relative=("rewrite_with_base", FLICKR_BASE),
    link_rel=None,
    strip_comments=True,
)
_FINAL = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}},
    url_schemes=set(SCHEMES),
    url_relative=("rewrite_with_base", FLICKR_BASE),
    link_rel=_LINK_REL,
    strip_comments=True,
)
# ammonia's serialiser double-quotes every attribute value and escapes "<" and ">" in text,
# so this splits its output exactly into tags and text (a ">" may sit inside a quoted value).
_TAG = re.compile(r'<(/?)([a-zA-Z0-9]+)((?:[^<>"]|"[^"]*")*)>')
_IMG_SRC = re.compile(r'\bsrc="([^"]*)"')
_IMG_ALT = re.compile(r'\balt="([^"]*)"')
_URL = re.compile(r"""\bhttps?://[^\s<>"'\[\]]+""")


def sanitize(markup: str | None) -> Safe:
    """Flickr HTML as safe HTML for a page (see the module docstring for what is kept)."""
    if not markup:
        return Safe("")
    first = _FIRST.clean(markup.replace("\r\n", "\n").replace("\r", "\n"))
    return Safe(_FINAL.clean(_convert(first)).strip())


def plain(text: str | None) -> str:
    """A Flickr plain-text field (titles): Flickr serves it as typed (see ``text.py``), so it is
    shown as it is, never decoded: a title typed "R&amp;D" reads "R&amp;D". The caller escapes
    the result like any other text."""
    return (text or "").strip()


def _convert(clean: str) -> str:
    """Images to links; in text: newlines to <br>, bare web addresses to links."""
    out: list[str] = []
    pos = 0
    in_link = 0
    previous = ""  # the tag before the current text: decides whether a bare newline is a break
    for match in _TAG.finditer(clean):
        closing, name = match.group(1) == "/", match.group(2).lower()
        _text(out, clean[pos : match.start()], in_link=in_link > 0, around=(previous, name))
        pos = match.end()
        if name == "img":
            out.append(_image_link(match.group(3)))
            previous = ""
            continue
        if name == "a":
            in_link += -1 if closing else 1
        out.append(match.group(0))
        previous = name
    _text(out, clean[pos:], in_link=in_link > 0, around=(previous, ""))
    return "".join(out)


def _text(out: list[str], text: str, *, in_link: bool, around: tuple[str, str]) -> None:
    if not text:
        return
    # A newline right after or before a block element (</li>\n<li>, </ul>\nmore) is layout,
    # not a line break: it stays a plain newline.
    head = tail = ""
    if around[0] in _BLOCK and text.startswith("\n"):
        head, text = "\n", text[1:]
    if around[1] in _BLOCK and text.endswith("\n"):
        text, tail = text[:-1], "\n"
    if not in_link:
        text = _URL.sub(lambda m: _autolink(m.group(0)), text)
    out.append(head + text.replace("\n", "<br>\n") + tail)


def _autolink(url: str) -> str:
    trail = ""
    while url and url[-1] in ".,;:!?)":
        trail = url[-1] + trail
        url = url[:-1]
    return f'<a href="{url}">{url}</a>{trail}'


def _image_link(attributes: str) -> str:
    src = _IMG_SRC.search(attributes)
    if src is None or not src.group(1):
        return ""
    alt = _IMG_ALT.search(attributes)
    label = f"[image: {alt.group(1)}]" if alt and alt.group(1) else "[image]"
    return f'<a href="{src.group(1)}">{label}</a>'
