"""Keeps credentials out of the log, whatever LOG_LEVEL says.

Two sources leak at DEBUG: oauthlib logs every signature base string with the access token
(its loggers are held at WARNING), and each request URL is logged by Scrapy (media downloads
too), which for video downloads carries a signed, time-limited token (``?s=``). Every log
record goes through a filter that replaces such values with ``<redacted>``; nothing else about
the line changes.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

# Query parameters that authorise a request: video URL tokens, OAuth parameters, API signatures.
_SECRET_PARAMS = re.compile(
    r"(?P<key>[?&;](?:s|oauth_token|oauth_signature|oauth_nonce|oauth_verifier|api_sig|"
    r"oauth_token_secret)=)[^&\s>\"')]+"
)
_OAUTH_HEADER = re.compile(r"(Authorization['\"]?:\s*\[?b?['\"]?OAuth )[^'\"\]]+")
CHATTY_LOGGERS = ("oauthlib", "requests_oauthlib")


def redact(text: str) -> str:
    """``text`` with credential-bearing URL parameters and OAuth headers blanked."""
    text = _SECRET_PARAMS.sub(r"\g<key><redacted>", text)
    return _OAUTH_HEADER.sub(r"\1<redacted>", text)


class RedactingFilter(logging.Filter):
    """A log filter applying ``redact`` to the finished message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


FILTER = RedactingFilter()


def quiet_oauth_loggers() -> None:
    """oauthlib's DEBUG lines are made of tokens and signatures: never let them through."""
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class LogRedaction:
    """Extension installing the filter on Scrapy's log handler once the crawl has one."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("FLICKR_LOG_REDACTION_ENABLED", True):
            raise NotConfigured("FLICKR_LOG_REDACTION_ENABLED is off")
        quiet_oauth_loggers()
        ext = cls()
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        return ext

    def spider_opened(self, **kwargs: Any) -> None:
        for handler in logging.getLogger().handlers:
            if FILTER not in handler.filters:
                handler.addFilter(FILTER)
