"""Building HTML where every string is escaped unless it is already ``Safe`` markup.

Pages are assembled from small functions rather than a template engine. The one rule that keeps
them free of injected markup: plain ``str`` values are always escaped on the way in, and only
``Safe`` (our own fragments, or Flickr HTML that went through ``sanitize``) passes unchanged.
"""

from __future__ import annotations

import html
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
        return Safe("")
    return Safe(html.escape(str(value), quote=True))


def join(parts: Iterable[object], sep: str = "") -> Safe:
    """Concatenate fragments, escaping the ones that are not Safe."""
    return Safe(sep.join(esc(part) for part in parts))


def attrs(values: dict[str, object]) -> Safe:
    """`` name="value"`` pairs; False/None drop the attribute, True writes it bare."""
    out = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        out.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return Safe("".join(out))


def tag(name: str, content: object = None, /, **attributes: object) -> Safe:
    """``<name attrs>content</name>``; ``class_`` stands for ``class``, ``data_x`` for
    ``data-x``."""
    return Safe(f"<{name}{attrs(attributes)}>{join(_as_list(content))}</{name}>")


def void(name: str, /, **attributes: object) -> Safe:
    """An element without content (``img``, ``meta``, ``link``, ``input``)."""
    return Safe(f"<{name}{attrs(attributes)}>")


def _as_list(content: object) -> list[object]:
    if content is None:
        return []
    if isinstance(content, list | tuple):
        return list(content)
    return [content]


def url_path(*parts: str) -> str:
    """A relative URL from path segments: each percent-encoded (``#``, ``?``, ``%``, spaces)."""
    return "/".join(quote(segment, safe="") for part in parts for segment in part.split("/"))
