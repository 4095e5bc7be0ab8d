"""Whether Flickr's API host answers at all, asked before a run creates or spends anything.

A backup started while the network is down (or Flickr is) must end in one line and exit 1,
with no new archive and no API calls charged to the hourly budget. So the run first asks the
API host's root page (``https://api.flickr.com/``): not a REST method, so no API call is
counted by Flickr or by us. Any HTTP answer, even an error page, means the host is reached;
refused connections, names that do not resolve and silence until the timeout do not.
No Scrapy here.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit, urlunsplit


class Unreachable(Exception):
    """The host did not answer; the message says how it failed."""


def host_root(url: str) -> str:
    """The root page of ``url``'s host (scheme, host and port kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def check_reachable(url: str, timeout: float) -> None:
    """Raise Unreachable unless ``url``'s host answers an HTTP request within ``timeout`` s."""
    import requests

    root = host_root(url)
    try:
        # Proxies from the environment apply, as they do to the crawl's requests.
        requests.head(root, timeout=timeout, allow_redirects=False).close()
    except requests.RequestException as exc:
        raise Unreachable(why_unreachable(exc, timeout)) from None


def why_unreachable(exc: BaseException, timeout: float) -> str:
    """Why a ``requests`` call got no answer, in words a person can act on."""
    import requests

    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    return _why(exc)


def _why(exc: BaseException) -> str:
    """The cause from the chain of wrapped exceptions."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, socket.gaierror):
            return "the host name does not resolve (DNS)"
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, ssl.SSLError):
            return f"TLS failed ({err.reason or err})"
        if isinstance(err, OSError) and err.strerror:
            return err.strerror.lower()
        todo.extend(e for e in (err.__cause__, err.__context__) if e is not None)
        todo.extend(a for a in getattr(err, "args", ()) if isinstance(a, BaseException))
        reason = getattr(err, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    text = str(exc)
    if "Failed to resolve" in text or "Name or service not known" in text:
        return "the host name does not resolve (DNS)"
    return exc.__class__.__name__
