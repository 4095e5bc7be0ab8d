"""Building HTML where every string is escaped unless it is already ``Safe`` markup.

Pages are assembled from small functions rather than a template engine. The one rule that keeps
them free of injected markup: plain ``str`` values are always escaped on the way in, and only
``Safe`` (our own fragments, or Flickr HTML that went through ``sanitize``) passes unchanged.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Iterable


class Safe(str):
    """A string that is HTML already: inserted as is."""

    __slots__ = ()


def esc(value: object) -> Safe:
    """``value`` as HTML: Safe passes through, None is empty, anything else is escaped."""
    if isinstance(value, Safe):
        return value
    if value is None:
        return _EMPTY
    return Safe(html.escape(str(value), quote=True))


def join(parts: Iterable[object], sep: str = "") -> Safe:
    """Concatenate fragments, escaping the ones that are not Safe."""
    return Safe(sep.join([esc(part) for part in parts]))


def _attr_name(name: str) -> str:
    """``class_`` -> ``class``, ``data_box`` -> ``data-box`` (cached: a build asks often)."""
    found = _NAMES.get(name)
    if found is None:
        found = _NAMES[name] = name.rstrip("_").replace("_", "-")
    return found


def attrs(values: dict[str, object]) -> Safe:
    """`` name="value"`` pairs; False/None drop the attribute, True writes it bare."""
    out = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        if value is True:
            out.append(f" {_attr_name(name)}")
        else:
            out.append(f' {_attr_name(name)}="{esc(value)}"')
    return Safe("".join(out))


def tag(name: str, content: object = None, /, **attributes: object) -> Safe:
    """``<name attrs>content</name>``; ``class_`` stands for ``class``, ``data_x`` for
    ``data-x``; content is one value or a list of them."""
    inner = join(content) if isinstance(content, list | tuple) else esc(content)
    return Safe(f"<{name}{attrs(attributes) if attributes else ''}>{inner}</{name}>")


def void(name: str, /, **attributes: object) -> Safe:
    """An element without content (``img``, ``meta``, ``link``, ``input``)."""
    return Safe(f"<{name}{attrs(attributes)}>")


def url_path(path: str) -> str:
    """A relative URL from a path: each segment percent-encoded (``#``, ``?``, ``%``, spaces)."""
    if _URL_SAFE.fullmatch(path):
        return path
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


_EMPTY = Safe("")
_NAMES: dict[str, str] = {}
_URL_SAFE = re.compile(r"[A-Za-z0-9._~/-]*")
