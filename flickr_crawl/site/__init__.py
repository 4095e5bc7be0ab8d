"""A static website inside the archive (``site/index.html``), built from catalog.db and the
originals, that opens from disk in any browser: ``scrapy site``. See ``build.build_site``."""
