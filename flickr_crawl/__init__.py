"""flickr-crawl: a complete, verifiable backup of your own Flickr account, built on Scrapy."""

import os

# Scrapy's cookie middleware builds a tldextract instance at import time, which tries to
# download the Public Suffix List (and prints a traceback where it cannot). The bundled
# snapshot is enough for flickr.com cookies, and a backup tool should not call other hosts.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
