"""Imported once by tests/launcher.py's fork server: what a command would import anyway
(Scrapy, its default components, the project's modules and the components its settings
name), so each forked command starts with them loaded. Nothing here may install a Twisted
reactor, start a thread or read the environment: every command chooses its own."""

from __future__ import annotations

import threading
from contextlib import suppress

import scrapy.cmdline
import scrapy.crawler
from scrapy.settings import Settings
from scrapy.utils.misc import load_object, walk_modules_iter

import flickr_crawl.settings

for package in ("flickr_crawl", "spiders", "pipelines"):
    for _module in walk_modules_iter(package):
        pass

# The components the default and project settings name (handlers, middlewares, extensions,
# pipelines, scheduler queues...): a crawl loads them all.
_settings = Settings()
_settings.setmodule(flickr_crawl.settings, priority="project")
for _value in _settings.values():
    _paths = [*_value.keys(), *_value.values()] if hasattr(_value, "keys") else [_value]
    for _path in _paths:
        if isinstance(_path, str) and "." in _path and " " not in _path:
            with suppress(Exception):  # not a dotted path after all
                load_object(_path)

assert scrapy.cmdline
assert scrapy.crawler
if threading.active_count() != 1:
    raise RuntimeError(f"preloading started threads: {threading.enumerate()}")
