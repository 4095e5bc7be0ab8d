"""The catalog's shape: its DDL as ``user_version`` migrations, and the steps that apply them.

The file opens as is in Datasette: plain tables, foreign keys, and ``photos_fts``, an FTS5 index
over ``photos`` named and triggered the way sqlite-utils' ``enable_fts`` does it. One migration
per schema version, each a sequence of statements run in one transaction, applied by
``migrate`` when the catalog is opened (``flickr_crawl.catalog.db.open_catalog``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator, Sequence

# Version N is reached by applying MIGRATIONS[:N]; never edit a released migration, append one.
_V1: tuple[str, ...] = (
    """
    CREATE TABLE users (
        nsid TEXT PRIMARY KEY,
        username TEXT NOT NULL DEFAULT '',
        realname TEXT NOT NULL DEFAULT '',
        path_alias TEXT,
        buddy_icon_url TEXT NOT NULL DEFAULT '',
        profile_url TEXT NOT NULL DEFAULT '',
        deleted INTEGER NOT NULL DEFAULT 0,
        first_seen TEXT,
        last_seen TEXT
    )
    """,
    """
    CREATE TABLE photos (
        id TEXT PRIMARY KEY,
        owner TEXT REFERENCES users(nsid),
        media TEXT,
        title TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '',
        comments TEXT NOT NULL DEFAULT '',
        date_posted TEXT,
        date_taken TEXT,
        date_taken_granularity INTEGER,
        date_taken_unknown INTEGER,
        last_update TEXT,
        last_update_unix INTEGER,
        license INTEGER,
        license_name TEXT,
        license_url TEXT,
        is_public INTEGER,
        is_friend INTEGER,
        is_family INTEGER,
        safety_level INTEGER,
        views INTEGER,
        count_comments INTEGER,
        count_faves INTEGER,
        latitude REAL,
        longitude REAL,
        accuracy INTEGER,
        geo_context INTEGER,
        place_id TEXT,
        woeid TEXT,
        neighbourhood TEXT,
        locality TEXT,
        county TEXT,
        region TEXT,
        country TEXT,
        original_format TEXT,
        original_secret TEXT,
        rotation INTEGER,
        path_alias TEXT,
        page_url TEXT,
        raw TEXT,
        info_raw TEXT,
        comments_raw TEXT,
        faves_raw TEXT,
        faves_total INTEGER,
        first_seen TEXT,
        last_seen TEXT,
        deleted_on_flickr INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX photos_owner ON photos(owner)",
    "CREATE INDEX photos_last_update_unix ON photos(last_update_unix)",
    "CREATE INDEX photos_date_taken ON photos(date_taken)",
    """
    CREATE TABLE files (
        photo_id TEXT PRIMARY KEY REFERENCES photos(id),
        status TEXT NOT NULL,
        path TEXT,
        links TEXT NOT NULL DEFAULT '[]',
        size INTEGER,
        sha256 TEXT,
        original_sha256 TEXT,
        original_size INTEGER,
        content_type TEXT,
        label TEXT,
        is_original INTEGER NOT NULL DEFAULT 0,
        width INTEGER,
        height INTEGER,
        reason TEXT,
        metadata TEXT,
        updated_at TEXT
    )
    """,
    "CREATE INDEX files_status ON files(status)",
    "CREATE INDEX files_sha256 ON files(sha256)",
    """
    CREATE TABLE albums (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        primary_photo_id TEXT REFERENCES photos(id),
        count_photos INTEGER,
        count_videos INTEGER,
        date_create TEXT,
        date_update TEXT,
        folder TEXT,
        raw TEXT,
        first_seen TEXT,
        last_seen TEXT,
        deleted_on_flickr INTEGER NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE TABLE album_photos (
        album_id TEXT NOT NULL REFERENCES albums(id),
        photo_id TEXT NOT NULL REFERENCES photos(id),
        position INTEGER NOT NULL,
        PRIMARY KEY (album_id, photo_id)
    )
    """,
    "CREATE INDEX album_photos_photo_id ON album_photos(photo_id)",
    """
    CREATE TABLE galleries (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        url TEXT NOT NULL DEFAULT '',
        date_create TEXT,
        date_update TEXT,
        raw TEXT,
        first_seen TEXT,
        last_seen TEXT,
        deleted_on_flickr INTEGER NOT NULL DEFAULT 0
    )
    """,
    # Galleries hold other people's photos too, which this archive never fetches: photo_id is
    # deliberately not a foreign key (a stub in photos would look like a photo we failed to get).
    """
    CREATE TABLE gallery_photos (
        gallery_id TEXT NOT NULL REFERENCES galleries(id),
        photo_id TEXT NOT NULL,
        position INTEGER,
        PRIMARY KEY (gallery_id, photo_id)
    )
    """,
    "CREATE INDEX gallery_photos_photo_id ON gallery_photos(photo_id)",
    """
    CREATE TABLE collections (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        parent_id TEXT REFERENCES collections(id),
        position INTEGER,
        raw TEXT,
        first_seen TEXT,
        last_seen TEXT,
        deleted_on_flickr INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX collections_parent_id ON collections(parent_id)",
    """
    CREATE TABLE collection_albums (
        collection_id TEXT NOT NULL REFERENCES collections(id),
        album_id TEXT NOT NULL REFERENCES albums(id),
        position INTEGER,
        PRIMARY KEY (collection_id, album_id)
    )
    """,
    "CREATE INDEX collection_albums_album_id ON collection_albums(album_id)",
    """
    CREATE TABLE comments (
        id TEXT PRIMARY KEY,
        photo_id TEXT NOT NULL REFERENCES photos(id),
        author TEXT REFERENCES users(nsid),
        author_name TEXT NOT NULL DEFAULT '',
        realname TEXT NOT NULL DEFAULT '',
        date TEXT,
        permalink TEXT NOT NULL DEFAULT '',
        html TEXT NOT NULL DEFAULT '',
        author_is_deleted INTEGER NOT NULL DEFAULT 0,
        first_seen TEXT,
        last_seen TEXT,
        deleted_on_flickr INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX comments_photo_id ON comments(photo_id)",
    "CREATE INDEX comments_author ON comments(author)",
    """
    CREATE TABLE faves (
        photo_id TEXT NOT NULL REFERENCES photos(id),
        nsid TEXT NOT NULL REFERENCES users(nsid),
        date_faved TEXT,
        first_seen TEXT,
        last_seen TEXT,
        deleted_on_flickr INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (photo_id, nsid)
    )
    """,
    "CREATE INDEX faves_nsid ON faves(nsid)",
    """
    CREATE TABLE tags (
        photo_id TEXT NOT NULL REFERENCES photos(id),
        tag TEXT NOT NULL,
        raw TEXT NOT NULL DEFAULT '',
        tag_id TEXT NOT NULL DEFAULT '',
        author TEXT REFERENCES users(nsid),
        author_name TEXT NOT NULL DEFAULT '',
        machine INTEGER NOT NULL DEFAULT 0,
        position INTEGER NOT NULL,
        PRIMARY KEY (photo_id, tag)
    )
    """,
    "CREATE INDEX tags_tag ON tags(tag)",
    """
    CREATE TABLE notes (
        id TEXT PRIMARY KEY,
        photo_id TEXT NOT NULL REFERENCES photos(id),
        author TEXT REFERENCES users(nsid),
        author_name TEXT NOT NULL DEFAULT '',
        x INTEGER,
        y INTEGER,
        w INTEGER,
        h INTEGER,
        html TEXT NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX notes_photo_id ON notes(photo_id)",
    """
    CREATE TABLE people (
        photo_id TEXT NOT NULL REFERENCES photos(id),
        nsid TEXT NOT NULL REFERENCES users(nsid),
        added_by TEXT REFERENCES users(nsid),
        x INTEGER,
        y INTEGER,
        w INTEGER,
        h INTEGER,
        PRIMARY KEY (photo_id, nsid)
    )
    """,
    "CREATE INDEX people_nsid ON people(nsid)",
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        spider TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,
        reason TEXT,
        photos_listed INTEGER,
        files_downloaded INTEGER,
        failed INTEGER,
        videos_missing INTEGER,
        api_calls INTEGER,
        counts TEXT
    )
    """,
    # Full-text search, the sqlite-utils way (``enable_fts(..., create_triggers=True)``), which
    # is what Datasette detects: an external-content table ``photos_fts`` over photos columns.
    # photos.tags and photos.comments are text the save functions derive from those tables.
    """
    CREATE VIRTUAL TABLE [photos_fts] USING FTS5 (
        [title], [description], [tags], [comments],
        tokenize='unicode61 remove_diacritics 2',
        content=[photos]
    )
    """,
    """
    CREATE TRIGGER [photos_ai] AFTER INSERT ON [photos] BEGIN
      INSERT INTO [photos_fts] (rowid, [title], [description], [tags], [comments])
      VALUES (new.rowid, new.[title], new.[description], new.[tags], new.[comments]);
    END
    """,
    """
    CREATE TRIGGER [photos_ad] AFTER DELETE ON [photos] BEGIN
      INSERT INTO [photos_fts] ([photos_fts], rowid, [title], [description], [tags], [comments])
      VALUES ('delete', old.rowid, old.[title], old.[description], old.[tags], old.[comments]);
    END
    """,
    """
    CREATE TRIGGER [photos_au] AFTER UPDATE OF [title], [description], [tags], [comments]
    ON [photos] BEGIN
      INSERT INTO [photos_fts] ([photos_fts], rowid, [title], [description], [tags], [comments])
      VALUES ('delete', old.rowid, old.[title], old.[description], old.[tags], old.[comments]);
      INSERT INTO [photos_fts] (rowid, [title], [description], [tags], [comments])
      VALUES (new.rowid, new.[title], new.[description], new.[tags], new.[comments]);
    END
    """,
)

# Version 2: the account's favourites, and sync state (watermarks) for incremental runs.
_V2: tuple[str, ...] = (
    """
    CREATE TABLE favorites (
        photo_id TEXT PRIMARY KEY REFERENCES photos(id),
        owner TEXT REFERENCES users(nsid),
        date_faved TEXT,
        date_faved_unix INTEGER,
        stored_as TEXT NOT NULL DEFAULT 'favorite',
        first_seen TEXT,
        last_seen TEXT,
        gone_from_flickr INTEGER NOT NULL DEFAULT 0,
        gone_since TEXT
    )
    """,
    "CREATE INDEX favorites_date_faved ON favorites(date_faved_unix)",
    """
    CREATE TABLE sync_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
)

# Version 3: search the text people read, not Flickr's HTML. photos.description keeps the HTML;
# photos.description_text is its plain text (``text.html_to_text``: entities decoded once,
# links kept as text), and photos_fts indexes that instead (``MATCH 'href'`` found every
# description with a link). The comments column is made again with the same helper, and the
# index is rebuilt from the rows, so an older catalog is repaired when it is opened.
_FTS_COLUMNS = "[title], [description_text], [tags], [comments]"
_V3: tuple[str, ...] = (
    "DROP TRIGGER [photos_ai]",
    "DROP TRIGGER [photos_ad]",
    "DROP TRIGGER [photos_au]",
    "DROP TABLE [photos_fts]",
    "ALTER TABLE photos ADD COLUMN description_text TEXT NOT NULL DEFAULT ''",
    "UPDATE photos SET description_text = flickr_html_to_text(description)",
    """
    UPDATE photos SET comments = COALESCE((
        SELECT group_concat(text, char(10)) FROM (
            SELECT flickr_html_to_text(html) AS text FROM comments
            WHERE comments.photo_id = photos.id ORDER BY date, id
        )
    ), '')
    """,
    f"""
    CREATE VIRTUAL TABLE [photos_fts] USING FTS5 (
        {_FTS_COLUMNS},
        tokenize='unicode61 remove_diacritics 2',
        content=[photos]
    )
    """,
    f"""
    CREATE TRIGGER [photos_ai] AFTER INSERT ON [photos] BEGIN
      INSERT INTO [photos_fts] (rowid, {_FTS_COLUMNS})
      VALUES (new.rowid, new.[title], new.[description_text], new.[tags], new.[comments]);
    END
    """,
    f"""
    CREATE TRIGGER [photos_ad] AFTER DELETE ON [photos] BEGIN
      INSERT INTO [photos_fts] ([photos_fts], rowid, {_FTS_COLUMNS})
      VALUES ('delete', old.rowid, old.[title], old.[description_text], old.[tags], old.[comments]);
    END
    """,
    f"""
    CREATE TRIGGER [photos_au] AFTER UPDATE OF {_FTS_COLUMNS}
    ON [photos] BEGIN
      INSERT INTO [photos_fts] ([photos_fts], rowid, {_FTS_COLUMNS})
      VALUES ('delete', old.rowid, old.[title], old.[description_text], old.[tags], old.[comments]);
      INSERT INTO [photos_fts] (rowid, {_FTS_COLUMNS})
      VALUES (new.rowid, new.[title], new.[description_text], new.[tags], new.[comments]);
    END
    """,
    "INSERT INTO [photos_fts] ([photos_fts]) VALUES ('rebuild')",
)

# Version 4: each video's still (Flickr's largest, ``<id>.poster.jpg`` beside it) for the site.
_V4: tuple[str, ...] = (
    "ALTER TABLE files ADD COLUMN poster_path TEXT",
    "ALTER TABLE files ADD COLUMN poster_size INTEGER",
    "ALTER TABLE files ADD COLUMN poster_sha256 TEXT",
    "ALTER TABLE files ADD COLUMN poster_key TEXT",  # what names the still on Flickr
)

# Version 5: views for the questions people ask an archive, so Datasette, sqlite-utils or the
# sqlite3 shell answer them without a join by hand. VIEWS describes each (README, Datasette
# metadata). Views read only; the tables stay the truth. Albums and comments of a photo exclude
# those gone from Flickr where the view is about what is there now; flags say so elsewhere.
VIEWS: dict[str, str] = {
    "photo_files": "Each photo and video with its file in the archive (path relative to the "
    "archive folder, status, size, sha256) and the albums it is in, by title and by id.",
    "missing_files": "Photos and videos whose file is not complete in the archive: missing "
    "(e.g. a video without a web session), failed, or never downloaded, with the reason.",
    "album_contents": "Every album's photos in Flickr's order (position 1 first), with each "
    "photo's title and file.",
    "comments_with_authors": "Every comment with its photo and its author's name and profile.",
    "faves_with_users": "Everyone who faved each photo, with their name, profile and the date.",
}
_V5: tuple[str, ...] = (
    """
    CREATE VIEW photo_files AS
    SELECT p.id AS photo_id, p.media, p.title, p.date_taken, p.date_taken_granularity,
           p.date_posted, p.is_public, p.page_url, p.deleted_on_flickr,
           f.status, f.path, f.size, f.sha256, f.content_type, f.label,
           (SELECT json_group_array(title) FROM (
                SELECT a.title FROM album_photos ap JOIN albums a ON a.id = ap.album_id
                WHERE ap.photo_id = p.id AND a.deleted_on_flickr = 0 ORDER BY a.title, a.id
           )) AS albums,
           (SELECT json_group_array(id) FROM (
                SELECT a.id FROM album_photos ap JOIN albums a ON a.id = ap.album_id
                WHERE ap.photo_id = p.id AND a.deleted_on_flickr = 0 ORDER BY a.title, a.id
           )) AS album_ids
    FROM photos p LEFT JOIN files f ON f.photo_id = p.id
    WHERE p.media IS NOT NULL
    ORDER BY p.date_posted DESC, p.id DESC
    """,
    """
    CREATE VIEW missing_files AS
    SELECT p.id AS photo_id, p.media, p.title, p.page_url, p.deleted_on_flickr,
           COALESCE(f.status, 'not downloaded') AS status, f.reason, f.updated_at
    FROM photos p LEFT JOIN files f ON f.photo_id = p.id
    WHERE p.media IS NOT NULL
      AND (f.status IS NULL OR f.status NOT IN ('downloaded', 'uptodate'))
    ORDER BY p.id
    """,
    """
    CREATE VIEW album_contents AS
    SELECT a.id AS album_id, a.title AS album_title, ap.position, ap.photo_id,
           p.media, p.title, f.status, f.path
    FROM albums a
    JOIN album_photos ap ON ap.album_id = a.id
    LEFT JOIN photos p ON p.id = ap.photo_id
    LEFT JOIN files f ON f.photo_id = ap.photo_id
    WHERE a.deleted_on_flickr = 0
    ORDER BY a.title, a.id, ap.position
    """,
    """
    CREATE VIEW comments_with_authors AS
    SELECT c.id AS comment_id, c.photo_id, p.title AS photo_title, c.date, c.author,
           COALESCE(NULLIF(u.realname, ''), NULLIF(c.realname, ''), NULLIF(u.username, ''),
                    c.author_name) AS author_name,
           COALESCE(NULLIF(u.username, ''), c.author_name) AS author_username,
           u.profile_url AS author_profile_url, c.html, c.permalink, c.author_is_deleted,
           c.deleted_on_flickr
    FROM comments c
    LEFT JOIN photos p ON p.id = c.photo_id
    LEFT JOIN users u ON u.nsid = c.author
    ORDER BY c.photo_id, c.date, c.id
    """,
    """
    CREATE VIEW faves_with_users AS
    SELECT fv.photo_id, p.title AS photo_title, fv.nsid, u.username, u.realname,
           u.profile_url, fv.date_faved, fv.deleted_on_flickr
    FROM faves fv
    LEFT JOIN photos p ON p.id = fv.photo_id
    LEFT JOIN users u ON u.nsid = fv.nsid
    ORDER BY fv.photo_id, fv.date_faved DESC, fv.nsid
    """,
)

# Version 6: what a re-run needs to keep a complete file without reading its JSON sidecar: the
# key of the source it was fetched from (what names its bytes on Flickr), the camera's EXIF
# read from it (JSON), and a digest of the photo's fields embedded into it
# (``flickr_crawl.metadata.exif.exif_fields_sha256``). Rows saved before stay NULL: for those
# photos the sidecar is read, once, and the run's save fills them.
_V6: tuple[str, ...] = (
    "ALTER TABLE files ADD COLUMN source_key TEXT",
    "ALTER TABLE files ADD COLUMN camera TEXT",
    "ALTER TABLE files ADD COLUMN exif_fields_sha256 TEXT",
)

# Version 7: a photo whose photos.getInfo an incremental run did not ask (new comments alone
# moved its lastupdate, recent activity said so) owes it: what only getInfo shows (people
# tagged, note text, permissions) may have changed unseen. ``info_owed`` is the lastupdate it
# was skipped at (NULL: nothing owed); the next sweep or ``-a full=1`` asks getInfo, and saving
# its answer clears it.
_V7: tuple[str, ...] = ("ALTER TABLE photos ADD COLUMN info_owed INTEGER",)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7)
SCHEMA_VERSION = len(MIGRATIONS)


class CatalogVersionError(RuntimeError):
    """The catalog was written by a newer flickr-crawl than this one."""


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, migrations: Sequence[Sequence[str]] = MIGRATIONS) -> int:
    """Apply the migrations this catalog lacks, each in its own transaction; the new version."""
    if check_version(db, migrations) == len(migrations):
        return len(migrations)  # up to date: no write lock needed (read-only media work)
    while True:
        with db:
            # The version is read again inside the write lock: two processes opening a new
            # catalog at once must not both apply the same migration.
            db.execute("BEGIN IMMEDIATE")
            version = check_version(db, migrations)
            if version == len(migrations):
                return version
            for statement in migrations[version]:
                db.execute(statement)
            # PRAGMA takes no parameters; the version is an int we computed, never data.
            db.execute(f"PRAGMA user_version = {int(version) + 1}")


def check_version(db: sqlite3.Connection, migrations: Sequence[Sequence[str]]) -> int:
    """The catalog's version; CatalogVersionError if a newer flickr-crawl wrote it."""
    version = schema_version(db)
    if version > len(migrations):
        raise CatalogVersionError(
            f"catalog schema version {version} is newer than this flickr-crawl knows "
            f"({len(migrations)}); upgrade flickr-crawl to open it"
        )
    return version


def rebuild_fts(db: sqlite3.Connection) -> None:
    """Re-index photos_fts from photos (needed after a VACUUM, which may renumber rowids)."""
    with db:
        db.execute("INSERT INTO photos_fts(photos_fts) VALUES ('rebuild')")


def datasette_metadata(title: str = "Flickr archive") -> dict[str, Any]:
    """Datasette's metadata for catalog.db (``datasette catalog.db -m metadata.json``): the
    views described."""
    views = {name: {"description": text} for name, text in VIEWS.items()}
    return {"title": title, "databases": {"catalog": {"tables": views}}}


def iter_tables(db: sqlite3.Connection) -> Iterator[str]:
    """The catalog's plain tables (not FTS shadow tables), for checks and reports."""
    for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'photos_fts%'"
        " AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ):
        yield row["name"]
