"""``flickr-crawl COMMAND`` (or ``python -m flickr_crawl COMMAND``): scrapy, from any folder.

``scrapy`` finds this project's commands and spiders only inside the clone (its scrapy.cfg),
so from anywhere else, a cron job's folder for one, every command fails with "Unknown
command". This entry point names the settings module itself (unless SCRAPY_SETTINGS_MODULE
says otherwise) and then runs Scrapy's own command line: ``flickr-crawl auth``,
``flickr-crawl crawl photostream -s FLICKR_ARCHIVE_DIR=~/flickr``, ... Relative paths in
settings are relative to the current folder, as with ``scrapy``.
"""

from __future__ import annotations

import os
import sys

SETTINGS_MODULE = "flickr_crawl.settings"


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", SETTINGS_MODULE)
    from scrapy.cmdline import execute

    execute(["scrapy", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
