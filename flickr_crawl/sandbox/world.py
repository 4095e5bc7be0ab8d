"""The sandbox's fake Flickr account: deterministic generated data plus mutations.

Everything the fake server knows lives here as plain dataclasses, generated from one seed so a
test can start two servers and get byte-identical worlds. The data is deliberately awkward the
way real accounts are (titles with slashes, reserved Windows names, emoji and HTML; photos in
several albums or none; private photos; photos without an original; videos; a photo with 57
faves and one with 120 comments). No HTTP, JSON shaping or image bytes here: ``rest.py`` turns
the world into Flickr responses and ``media.py`` into bytes.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import time
from dataclasses import dataclass, field

GENERATED_NOW = 1719792000  # 2024-07-01: every generated timestamp is before this
FIRST_UPLOAD = 1199145600  # 2008-01-01

ADVERSARIAL_TITLES: tuple[str, ...] = (
    "a/b/c",
    "..",
    ".",
    "CON",
    "nul",
    "COM1.txt",
    "trailing dot.",
    "trailing space ",
    " leading space",
    "x" * 300,
    "Sunrise \U0001f305 over the bay \U0001f3d4\ufe0f",
    "",
    # Flickr serves titles as typed (see flickr_crawl/text.py): "&" stays "&", and a title
    # typed with entities in it keeps them.
    "Fish & Chips",
    "&lt;b&gt;not bold&lt;/b&gt;",
    "<i>raw markup</i>",
    'back\\slash:colon*star?question"quote<lt>gt|pipe',
    "Ünïcödé Ñandú façade",
    "日本語のタイトル",
    "tab\there",
    "IMG_0001.JPG",
)
ALBUM_TITLES: tuple[str, ...] = (
    "Holidays",
    "Holidays",
    "Family / Friends",
    "..",
    "CON",
    "Best of 2019 \u2728",
    "",
    "Rock & Roll <3",
    "trailing dots...",
    "y" * 300,
    "Garden",
    "Street",
    "Night sky",
    "Archive ",
)
COMMENT_TEXTS: tuple[str, ...] = (
    "Lovely light!",
    "Great shot \U0001f44d\U0001f3fc",
    'See also <a href="https://example.org/some/page" rel="noreferrer nofollow">this page</a>',
    "<script>alert('xss')</script>",
    '<img src="x" onerror="alert(1)">',
    "Wow &amp; wow &lt;3",
    "Multi\nline\ncomment",
    "[https://www.example.com/photos/someone/sets/1234]",
    "\u00bfD\u00f3nde est\u00e1 esto?",
    "👀",
)
DESCRIPTIONS: tuple[str, ...] = (
    "",
    "Taken on a walk.",
    'Some <b>bold</b> text and a <a href="https://example.org/">link</a>.\n\nSecond paragraph.',
    "Fish &amp; chips &lt;tasty&gt;",
    "Emoji \U0001f30a and unicode ümlaut",
    "<script>document.title='pwned'</script>",
)
TAG_VOCAB: tuple[tuple[str, str], ...] = (
    ("Sunset", "sunset"),
    ("New York", "newyork"),
    ("café au lait", "caféaulait"),
    ("B&W", "bw"),
    ("street photography", "streetphotography"),
    ("DOG", "dog"),
    ("2019", "2019"),
    ("Ümlaut", "ümlaut"),
    ("macro", "macro"),
    ("film", "film"),
)
MACHINE_TAGS: tuple[str, ...] = (
    "geo:locality=somewhere",
    "dc:author=jane",
    "camera:make=fujifilm",
    "upcoming:event=12345",
)
PLACES: tuple[tuple[str, str, str, float, float], ...] = (
    ("Lisbon", "Lisboa", "Portugal", 38.7223, -9.1393),
    ("Kyoto", "Kyoto Prefecture", "Japan", 35.0116, 135.7681),
    ("Reykjavík", "Capital Region", "Iceland", 64.1466, -21.9426),
    ("Valparaíso", "Valparaíso", "Chile", -33.0472, -71.6127),
    ("Nairobi", "Nairobi", "Kenya", -1.2921, 36.8219),
    ("Québec", "Quebec", "Canada", 46.8139, -71.2080),
)
CAMERAS: tuple[tuple[str, str], ...] = (
    ("Canon", "Canon EOS 5D Mark III"),
    ("NIKON CORPORATION", "NIKON D750"),
    ("FUJIFILM", "X-T3"),
    ("Apple", "iPhone 12 Pro"),
    ("SONY", "ILCE-7M3"),
    ("OLYMPUS IMAGING CORP.", "E-M5"),
)
PHOTO_DIMS: tuple[tuple[int, int], ...] = (
    (6000, 4000),
    (4032, 3024),
    (3024, 4032),
    (2048, 1365),
    (1600, 1200),
    (800, 600),
    (640, 480),
    (4000, 2000),
    (5472, 3648),
    (1024, 768),
)
VIDEO_DIMS: tuple[tuple[int, int], ...] = ((1280, 720), (1920, 1080), (640, 360))
FIRST_NAMES = ("Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ines", "Jun")
LAST_NAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Novak", "Silva", "Byrne", "Haddad")
WORDS = ("kestrel", "tinfoil", "moss", "quartz", "lumen", "harbor", "cobalt", "ember", "fjord")


@dataclass
class User:
    """A Flickr member: the owner, a commenter, a faver or someone tagged in a photo."""

    nsid: str
    username: str
    realname: str
    path_alias: str | None
    iconserver: str
    iconfarm: int
    location: str = ""
    description: str = ""
    ispro: int = 0
    deleted: bool = False


@dataclass
class Tag:
    """A tag as stored on a photo: raw form, normalised form, author, machine-tag flag."""

    id: str
    raw: str
    content: str
    author: str
    machine: bool


@dataclass
class Comment:
    """One comment; ``text`` is HTML as Flickr returns it."""

    id: str
    author: str
    datecreate: int
    text: str


@dataclass
class Fave:
    """Someone who faved a photo, and when."""

    nsid: str
    favedate: int


@dataclass
class Note:
    """A note box on the 500px rendering, with HTML content, and when it was added (for
    flickr.activity.userPhotos)."""

    id: str
    author: str
    x: int
    y: int
    w: int
    h: int
    text: str
    date: int = 0


@dataclass
class PersonTag:
    """A person tagged in a photo, optionally with a box."""

    nsid: str
    added_by: str
    box: tuple[int, int, int, int] | None


@dataclass
class Place:
    """One level of a photo's reverse-geocoded place."""

    name: str
    place_id: str
    woeid: str


@dataclass
class Geo:
    """A photo's location: coordinates, accuracy and place hierarchy."""

    latitude: float
    longitude: float
    accuracy: int
    locality: Place
    county: Place
    region: Place
    country: Place


@dataclass
class Video:
    """The video original behind a ``media=video`` photo."""

    container: str  # mp4 | mov
    size: int
    duration: int
    width: int
    height: int


@dataclass
class Photo:
    """A photo or video with every field the API can expose."""

    id: str
    owner: str
    secret: str
    server: str
    farm: int
    title: str
    description: str
    ispublic: int
    isfriend: int
    isfamily: int
    safety_level: int
    license: int
    dateupload: int
    lastupdate: int
    datetaken: str
    takengranularity: int
    takenunknown: int
    views: int
    media: str
    width: int
    height: int
    rotation: int
    originalsecret: str
    originalformat: str
    can_download: bool
    size_secrets: dict[str, str]
    tags: list[Tag] = field(default_factory=list)
    geo: Geo | None = None
    comments: list[Comment] = field(default_factory=list)
    faves: list[Fave] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    people: list[PersonTag] = field(default_factory=list)
    video: Video | None = None
    camera: tuple[str, str] | None = None
    orientation: int = 1
    deleted: bool = False

    @property
    def has_original(self) -> bool:
        """Whether Flickr offers an original file at all."""
        return bool(self.originalsecret)


@dataclass
class Album:
    """A photoset: ordered photo ids and a primary photo."""

    id: str
    title: str
    description: str
    photo_ids: list[str]
    primary: str
    date_create: int
    date_update: int
    count_views: int
    count_comments: int
    deleted: bool = False


@dataclass
class Gallery:
    """A gallery curated by the owner: own and other people's photos, with optional comments."""

    id: str
    title: str
    description: str
    items: list[tuple[str, str]]  # (photo_id, curator comment or "")
    date_create: int
    date_update: int
    count_views: int
    count_comments: int


@dataclass
class Collection:
    """A collection: either sub-collections or albums."""

    id: str
    title: str
    description: str
    children: list[Collection] = field(default_factory=list)
    album_ids: list[str] = field(default_factory=list)


@dataclass
class OwnerFave:
    """A photo by someone else that the owner faved."""

    photo_id: str
    date_faved: int


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10 ** (n - 1), 10**n))


def _fmt_date(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


class World:
    """The generated account. Access from request threads under ``lock``."""

    def __init__(
        self,
        seed: int = 1,
        photos: int = 60,
        videos: int = 4,
        albums: int = 8,
        video_size: int = 3_000_000,
        big_video: int = 0,
        web_password: str = "sandbox-password",
    ) -> None:
        self.seed = seed
        self.video_size = video_size
        self.web_password = web_password
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.users: dict[str, User] = {}
        self.photos: dict[str, Photo] = {}
        self.own_ids: list[str] = []  # the owner's photos, in upload order
        self.albums: list[Album] = []
        self.galleries: list[Gallery] = []
        self.collections: list[Collection] = []
        self.owner_faves: list[OwnerFave] = []
        self._next_id = 0
        self._next_set = 0
        rng = self.rng
        self.api_key = _hex(rng, 32)
        self.api_secret = _hex(rng, 16)
        self.oauth_token = f"{72157 * 10**12 + rng.randrange(10**12)}-{_hex(rng, 16)}"
        self.oauth_token_secret = _hex(rng, 16)
        self._make_users()
        self._make_photos(photos, videos, big_video)
        self._make_others()
        self._make_albums(albums)
        self._make_galleries()
        self._make_collections()

    # -- generation ---------------------------------------------------------------------------
    def _make_users(self) -> None:
        rng = self.rng
        num = rng.randrange(10_000_000, 99_999_999)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        alias = f"{rng.choice(WORDS)}{rng.choice(WORDS)}{rng.randrange(10, 99)}"
        self.owner = User(
            nsid=f"{num}@N00",
            username=f"{first.lower()}.{rng.choice(WORDS)}",
            realname=f"{first} {last}",
            path_alias=alias,
            iconserver=str(rng.randrange(1000, 65535)),
            iconfarm=rng.randrange(1, 66),
            location="Somewhere, Earth",
            description='Photos by me. <a href="https://example.org/">My site</a> &amp; more.',
            ispro=1,
        )
        self.users[self.owner.nsid] = self.owner
        self.core_users: list[str] = []
        for i in range(15):
            suffix = rng.choice(("@N00", "@N02", "@N03", "@N05", "@N07", "@N08"))
            nsid = f"{rng.randrange(10**7, 2 * 10**8)}{suffix}"
            f, la = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            alias_kind = i % 3
            user = User(
                nsid=nsid,
                username=f"{rng.choice(WORDS)}_{f.lower()}{i}" if i != 4 else f"{f} {la} ✨",
                realname="" if i == 7 else f"{f} {la}",
                path_alias=(None, "", f"{f.lower()}{la.lower()}{i}")[alias_kind],
                iconserver="0" if i in (2, 9, 12) else str(rng.randrange(1000, 65535)),
                iconfarm=0 if i in (2, 9, 12) else rng.randrange(1, 66),
                location=rng.choice(("", "Berlin", "São Paulo")),
                deleted=(i == 11),
            )
            self.users[nsid] = user
            self.core_users.append(nsid)
        self.fans: list[str] = []
        for i in range(60):
            nsid = f"{rng.randrange(10**8, 2 * 10**8)}@N0{rng.randrange(1, 9)}"
            user = User(
                nsid=nsid,
                username=f"fan{i}_{rng.choice(WORDS)}",
                realname=rng.choice(("", f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}")),
                path_alias=None,
                iconserver=str(rng.randrange(1000, 65535)) if i % 5 else "0",
                iconfarm=rng.randrange(1, 66) if i % 5 else 0,
            )
            self.users[nsid] = user
            self.fans.append(nsid)
        self.live_core = [n for n in self.core_users if not self.users[n].deleted]

    def new_photo_id(self) -> str:
        """The next photo id (11 digits, increasing with upload time)."""
        if not self._next_id:
            self._next_id = 27_000_000_000 + self.rng.randrange(10**9)
        self._next_id += self.rng.randrange(1000, 3_000_000)
        return str(self._next_id)

    def new_set_id(self) -> str:
        """A 17-digit photoset/gallery id starting with 72157."""
        if not self._next_set:
            self._next_set = 72157 * 10**12 + self.rng.randrange(10**11)
        self._next_set += self.rng.randrange(1000, 10**7)
        return str(self._next_set)

    def _place(self, rng: random.Random) -> Geo:
        loc, reg, country, lat, lon = rng.choice(PLACES)

        def pl(name: str) -> Place:
            digest = hashlib.sha1(name.encode()).digest()
            pid = base64.urlsafe_b64encode(digest).decode()[:15].replace("-", ".")
            return Place(name, pid, str(int.from_bytes(digest[:4], "big") % 90_000_000 + 10_000))

        return Geo(
            latitude=round(lat + rng.uniform(-0.05, 0.05), 6),
            longitude=round(lon + rng.uniform(-0.05, 0.05), 6),
            accuracy=rng.choice((16, 16, 15, 11, 6, 3)),
            locality=pl(loc),
            county=pl(f"{loc} County"),
            region=pl(reg),
            country=pl(country),
        )

    def make_photo(
        self,
        owner: str,
        upload: int,
        *,
        media: str = "photo",
        index: int = 0,
        fmt: str = "jpg",
        title: str | None = None,
        video_size: int | None = None,
    ) -> Photo:
        """Create (but do not register) one photo with random but plausible metadata."""
        rng = self.rng
        pid = self.new_photo_id()
        if media == "video":
            width, height = rng.choice(VIDEO_DIMS)
        else:
            width, height = rng.choice(PHOTO_DIMS)
            if fmt == "gif":
                width, height = 640, 480
        r = rng.random()
        if r < 0.6:
            vis = (1, 0, 0)
        elif r < 0.7:
            vis = (0, 1, 0)
        elif r < 0.78:
            vis = (0, 0, 1)
        elif r < 0.85:
            vis = (0, 1, 1)
        else:
            vis = (0, 0, 0)
        gran = rng.choice((0,) * 14 + (4, 6, 8))
        unknown = 1 if rng.random() < 0.05 else 0
        taken = upload - rng.randrange(0, 86400 * 400)
        if unknown:
            datetaken = _fmt_date(upload)
            gran = 0
        elif gran == 4:
            datetaken = _fmt_date(taken)[:7] + "-01 00:00:00"
        elif gran in (6, 8):
            datetaken = _fmt_date(taken)[:4] + "-01-01 00:00:00"
        else:
            datetaken = _fmt_date(taken)
        photo = Photo(
            id=pid,
            owner=owner,
            secret=_hex(rng, 10),
            server=rng.choice(("65535", str(rng.randrange(1000, 9999)), "31337")),
            farm=rng.choice((66, rng.randrange(1, 10))),
            title=title if title is not None else f"IMG_{index:04d}",
            description=rng.choice(DESCRIPTIONS),
            ispublic=vis[0],
            isfriend=vis[1],
            isfamily=vis[2],
            safety_level=rng.choice((0,) * 12 + (1, 2, 3)),
            license=rng.choice((0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)),
            dateupload=upload,
            lastupdate=min(upload + rng.randrange(0, 86400 * 900), GENERATED_NOW - 1),
            datetaken=datetaken,
            takengranularity=gran,
            takenunknown=unknown,
            views=rng.randrange(0, 20000),
            media=media,
            width=width,
            height=height,
            rotation=rng.choice((0,) * 12 + (90, 180, 270)),
            originalsecret=_hex(rng, 10),
            originalformat="jpg" if media == "video" else fmt,
            can_download=True,
            size_secrets={s: _hex(rng, 10) for s in ("h", "k", "3k", "4k", "5k", "6k")},
        )
        if media == "photo" and fmt == "jpg" and rng.random() < 0.9:
            photo.camera = rng.choice(CAMERAS)
            photo.orientation = rng.choice((1,) * 8 + (6, 8, 3))
        ntags = rng.choice((0, 0, 1, 2, 3, 5))
        tags = rng.sample(TAG_VOCAB, ntags)
        for j, (raw, norm) in enumerate(tags):
            photo.tags.append(
                Tag(f"{owner.split('@')[0]}-{pid}-{j + 100}", raw, norm, owner, False)
            )
        if rng.random() < 0.15:
            mt = rng.choice(MACHINE_TAGS)
            photo.tags.append(Tag(f"{owner.split('@')[0]}-{pid}-9{ntags}", mt, mt, owner, True))
        if rng.random() < 0.3:
            photo.geo = self._place(rng)
        if media == "video":
            container = "mov" if (len(self.own_ids) % 2) else "mp4"
            base = video_size or self.video_size
            size = base if video_size else base - rng.randrange(0, max(1, base // 4))
            photo.video = Video(container, size, rng.randrange(4, 120), width, height)
        return photo

    def _make_photos(self, n_photos: int, n_videos: int, big_video: int) -> None:
        rng = self.rng
        total = n_photos + n_videos + (1 if big_video else 0)
        uploads = sorted(rng.randrange(FIRST_UPLOAD, GENERATED_NOW - 86400) for _ in range(total))
        kinds = ["photo"] * n_photos + ["video"] * n_videos
        rng.shuffle(kinds)
        if big_video:
            kinds.append("bigvideo")
        # Adversarial titles go on a spread of photos; formats png/gif on a few.
        adv_slots = rng.sample(range(total), min(total, len(ADVERSARIAL_TITLES)))
        titles = dict(zip(adv_slots, ADVERSARIAL_TITLES, strict=False))
        photo_slots = [i for i, k in enumerate(kinds) if k == "photo"]
        fmt_slots: dict[int, str] = {}
        no_orig: set[int] = set()
        if photo_slots:
            n_png = max(1, len(photo_slots) * 6 // 100)
            n_gif = max(1, len(photo_slots) * 3 // 100)
            n_none = max(1, len(photo_slots) * 15 // 1000)
            picks = rng.sample(photo_slots, min(len(photo_slots), n_png + n_gif + n_none))
            for i in picks[:n_png]:
                fmt_slots[i] = "png"
            for i in picks[n_png : n_png + n_gif]:
                fmt_slots[i] = "gif"
            no_orig = set(picks[n_png + n_gif :])
        for i, (kind, upload) in enumerate(zip(kinds, uploads, strict=True)):
            media = "photo" if kind == "photo" else "video"
            photo = self.make_photo(
                self.owner.nsid,
                upload,
                media=media,
                index=i + 1,
                fmt=fmt_slots.get(i, "jpg"),
                title=titles.get(i),
                video_size=big_video if kind == "bigvideo" else None,
            )
            if i in no_orig:
                photo.originalsecret = ""
                photo.originalformat = ""
                photo.can_download = False
            self.photos[photo.id] = photo
            self.own_ids.append(photo.id)
        own = [self.photos[i] for i in self.own_ids]
        # Comments, faves, notes, people.
        for photo in own:
            if rng.random() < 0.15:
                self._add_comments(photo, rng.randrange(1, 7))
            if rng.random() < 0.2:
                self._add_faves(photo, rng.randrange(1, 12))
            if rng.random() < 0.05:
                self._add_notes(photo)
            if rng.random() < 0.05:
                self._add_people(photo)
        if own:
            busy = own[len(own) // 3]
            self._add_comments(busy, 120 - len(busy.comments))
            popular = own[(2 * len(own)) // 3]
            popular.faves.clear()
            self._add_faves(popular, 57)
            self._add_notes(own[len(own) // 2])
            self._add_people(own[len(own) // 4])

    def _add_comments(self, photo: Photo, n: int) -> None:
        rng = self.rng
        start = max(photo.dateupload, photo.lastupdate - 86400 * 30)
        for _ in range(n):
            author = rng.choice([*self.core_users, self.owner.nsid])
            when = rng.randrange(start, GENERATED_NOW)
            cid = f"{photo.owner.split('@')[0]}-{photo.id}-72157{_digits(rng, 12)}"
            photo.comments.append(Comment(cid, author, when, rng.choice(COMMENT_TEXTS)))
        photo.comments.sort(key=lambda c: (c.datecreate, c.id))
        photo.lastupdate = max(photo.lastupdate, photo.comments[-1].datecreate)

    def _add_faves(self, photo: Photo, n: int) -> None:
        rng = self.rng
        have = {f.nsid for f in photo.faves}
        pool = [u for u in self.fans + self.live_core if u not in have]
        for nsid in rng.sample(pool, min(n, len(pool))):
            photo.faves.append(Fave(nsid, rng.randrange(photo.dateupload, GENERATED_NOW)))
        photo.faves.sort(key=lambda f: -f.favedate)

    def _add_notes(self, photo: Photo) -> None:
        rng = self.rng
        for j in range(rng.randrange(1, 4)):
            photo.notes.append(
                Note(
                    id=f"72157{_digits(rng, 12)}",
                    author=rng.choice((self.owner.nsid, *self.live_core[:3])),
                    x=rng.randrange(0, 400),
                    y=rng.randrange(0, 300),
                    w=rng.randrange(10, 100),
                    h=rng.randrange(10, 100),
                    text=(
                        "Look <b>here</b>",
                        "a &amp; b",
                        'see <a href="https://example.org">x</a>',
                    )[j % 3],
                )
            )
            # Dated from its id, not the generator: one more draw would change every world.
            note = photo.notes[-1]
            note.date = photo.dateupload + int(note.id) % max(GENERATED_NOW - photo.dateupload, 1)

    def _add_people(self, photo: Photo) -> None:
        rng = self.rng
        for nsid in rng.sample(self.live_core, 2):
            box = (
                None
                if rng.random() < 0.3
                else (rng.randrange(0, 400), rng.randrange(0, 300), rng.randrange(20, 80), 40)
            )
            photo.people.append(PersonTag(nsid, self.owner.nsid, box))

    def _make_others(self) -> None:
        """Other people's photos: the owner's faves and gallery picks."""
        rng = self.rng
        others: list[Photo] = []
        for i in range(30):
            owner = rng.choice(self.live_core)
            photo = self.make_photo(owner, rng.randrange(FIRST_UPLOAD, GENERATED_NOW - 86400))
            photo.title = f"Their photo {i}" if i % 7 else f"Their \U0001f4f7 {i} / fave"
            photo.ispublic, photo.isfriend, photo.isfamily = 1, 0, 0
            if i % 6 == 1:  # private to friends (the owner is a friend)
                photo.ispublic, photo.isfriend = 0, 1
            if i % 5 == 2:  # owner of the photo disallows downloading originals
                photo.can_download = False
            photo.safety_level = 0
            self.photos[photo.id] = photo
            others.append(photo)
        self.other_ids = [p.id for p in others]
        dates = sorted(rng.sample(range(FIRST_UPLOAD + 10**8, GENERATED_NOW), 20), reverse=True)
        for photo, when in zip(others[:20], dates, strict=True):
            when = max(when, photo.dateupload + 60)
            self.owner_faves.append(OwnerFave(photo.id, when))
            photo.faves.append(Fave(self.owner.nsid, when))
        self.owner_faves.sort(key=lambda f: -f.date_faved)

    def _make_albums(self, n_albums: int) -> None:
        rng = self.rng
        own = list(self.own_ids)
        if not own:
            return
        for i in range(n_albums):
            title = ALBUM_TITLES[i % len(ALBUM_TITLES)] if i < len(ALBUM_TITLES) else f"Album {i}"
            k = rng.randrange(1, max(2, len(own) // 3))
            ids = rng.sample(own, min(k, len(own)))
            created = rng.randrange(FIRST_UPLOAD, GENERATED_NOW - 86400)
            self.albums.append(
                Album(
                    id=self.new_set_id(),
                    title=title,
                    description=rng.choice(DESCRIPTIONS),
                    photo_ids=ids,
                    primary=rng.choice(ids),
                    date_create=created,
                    date_update=rng.choice((0, rng.randrange(created, GENERATED_NOW))),
                    count_views=rng.randrange(0, 5000),
                    count_comments=rng.randrange(0, 5),
                )
            )

    def _make_galleries(self) -> None:
        rng = self.rng
        own = list(self.own_ids)
        for g in range(3):
            items: list[tuple[str, str]] = []
            picks = rng.sample(self.other_ids, 4) + rng.sample(own, min(2, len(own)))
            for j, pid in enumerate(picks):
                items.append((pid, "" if j % 2 else "Chosen because <b>light</b> &amp; colour"))
            created = rng.randrange(FIRST_UPLOAD + 10**8, GENERATED_NOW - 86400)
            self.galleries.append(
                Gallery(
                    id=self.new_set_id(),
                    title=("Favourite blues", "Gallery / with slash", "\U0001f5bc Frames")[g],
                    description=("", "Things I like &amp; admire", "<i>curated</i>")[g],
                    items=items,
                    date_create=created,
                    date_update=rng.randrange(created, GENERATED_NOW),
                    count_views=rng.randrange(0, 300),
                    count_comments=rng.randrange(0, 4),
                )
            )

    def _make_collections(self) -> None:
        prefix = self.owner.nsid.split("@")[0][-6:]
        ids = [a.id for a in self.albums]
        if not ids:
            return

        def cid() -> str:
            return f"{prefix}-{self.new_set_id()}"

        third = max(1, len(ids) // 3)
        sub1 = Collection(cid(), "Travel / Europe", "Sub-collection", album_ids=ids[:third])
        sub2 = Collection(cid(), "Travel \u2708 Asia", "", album_ids=ids[third : 2 * third])
        top1 = Collection(cid(), "Travel", "All my <b>trips</b>", children=[sub1, sub2])
        top2 = Collection(cid(), "Everything else", "", album_ids=ids[2 * third :])
        self.collections = [top1, top2]

    # -- queries ------------------------------------------------------------------------------
    def own_photos(self) -> list[Photo]:
        """The owner's live photos, newest upload first."""
        return [self.photos[i] for i in reversed(self.own_ids) if not self.photos[i].deleted]

    def live_albums(self) -> list[Album]:
        """Albums not deleted."""
        return [a for a in self.albums if not a.deleted]

    def album(self, album_id: str) -> Album | None:
        """Album by id, or None."""
        for a in self.albums:
            if a.id == album_id and not a.deleted:
                return a
        return None

    def albums_of(self, photo_id: str) -> list[Album]:
        """Albums containing a photo."""
        return [a for a in self.live_albums() if photo_id in a.photo_ids]

    def user_by_id(self, ref: str) -> User | None:
        """A user by nsid or path alias."""
        if ref in self.users:
            return self.users[ref]
        for u in self.users.values():
            if u.path_alias and u.path_alias == ref:
                return u
        return None

    # -- mutations ----------------------------------------------------------------------------
    def _bump(self, photo: Photo) -> None:
        photo.lastupdate = max(int(time.time()), photo.lastupdate + 1)

    def apply(self, ops: list[dict[str, object]]) -> dict[str, object]:
        """Apply mutation ops; return the ids they changed."""
        changed_photos: list[str] = []
        changed_albums: list[str] = []
        results: list[dict[str, object]] = []
        with self.lock:
            for op in ops:
                res = self._apply_one(op)
                results.append(res)
                changed_photos += [str(x) for x in res.get("photo_ids", [])]  # type: ignore[attr-defined]
                changed_albums += [str(x) for x in res.get("album_ids", [])]  # type: ignore[attr-defined]
        return {
            "results": results,
            "photo_ids": sorted(set(changed_photos)),
            "album_ids": sorted(set(changed_albums)),
        }

    def _photo_arg(self, op: dict[str, object], key: str = "id") -> Photo:
        pid = str(op.get(key) or op.get("photo_id") or "")
        photo = self.photos.get(pid)
        if photo is None or photo.deleted:
            raise KeyError(f"photo {pid!r} not found")
        return photo

    def _album_arg(self, op: dict[str, object]) -> Album:
        aid = str(op.get("album_id") or op.get("id") or "")
        album = self.album(aid)
        if album is None:
            raise KeyError(f"album {aid!r} not found")
        return album

    def _apply_one(self, op: dict[str, object]) -> dict[str, object]:
        kind = op.get("op")
        now = int(time.time())
        if kind == "add_photo":
            media = str(op.get("media", "photo"))
            photo = self.make_photo(self.owner.nsid, now, media=media, index=len(self.own_ids) + 1)
            photo.lastupdate = now
            if "title" in op:
                photo.title = str(op["title"])
            for key in ("ispublic", "isfriend", "isfamily"):
                if key in op:
                    setattr(photo, key, int(op[key]))  # type: ignore[call-overload]
            self.photos[photo.id] = photo
            self.own_ids.append(photo.id)
            return {"op": kind, "photo_ids": [photo.id]}
        if kind == "edit_photo":
            photo = self._photo_arg(op)
            if "can_download" in op:  # the owner allows or disallows original downloads
                photo.can_download = bool(op["can_download"])
            if "title" in op:
                photo.title = str(op["title"])
            if "description" in op:
                photo.description = str(op["description"])
            if "tags" in op:
                raw_tags = op["tags"]
                raw = raw_tags.split() if isinstance(raw_tags, str) else list(raw_tags)  # type: ignore[call-overload]
                photo.tags = [
                    Tag(
                        f"{photo.owner.split('@')[0]}-{photo.id}-{500 + j}",
                        str(t),
                        str(t).lower().replace(" ", ""),
                        photo.owner,
                        ":" in str(t) and "=" in str(t),
                    )
                    for j, t in enumerate(raw)
                ]
            for key in ("ispublic", "isfriend", "isfamily", "safety_level", "license"):
                if key in op:
                    setattr(photo, key, int(op[key]))  # type: ignore[call-overload]
            if "datetaken" in op:  # "YYYY-MM-DD HH:MM:SS", with takengranularity 0, 4 or 6
                photo.datetaken = str(op["datetaken"])
                photo.takengranularity = int(op.get("takengranularity", 0))  # type: ignore[call-overload]
                photo.takenunknown = 0
            if "geo" in op:  # {"latitude": .., "longitude": ..}, or None: the place removed
                geo = op["geo"]
                photo.geo = None
                if isinstance(geo, dict):
                    place = self._place(self.rng)
                    place.latitude = float(geo["latitude"])
                    place.longitude = float(geo["longitude"])
                    photo.geo = place
            self._bump(photo)
            return {"op": kind, "photo_ids": [photo.id]}
        if kind == "delete_photo":
            photo = self._photo_arg(op)
            photo.deleted = True
            touched = []
            for album in self.live_albums():
                if photo.id in album.photo_ids:
                    album.photo_ids.remove(photo.id)
                    album.date_update = now
                    touched.append(album.id)
                    if not album.photo_ids:
                        album.deleted = True
                    elif album.primary == photo.id:
                        album.primary = album.photo_ids[0]
            return {"op": kind, "photo_ids": [photo.id], "album_ids": touched}
        if kind == "add_comment":
            photo = self._photo_arg(op, "photo_id")
            author = str(op.get("author") or self.live_core[0])
            cid = f"{photo.owner.split('@')[0]}-{photo.id}-72157{_digits(self.rng, 12)}"
            when = int(str(op.get("date") or now))
            photo.comments.append(Comment(cid, author, when, str(op.get("text", "New comment"))))
            self._bump(photo)
            return {"op": kind, "photo_ids": [photo.id], "comment_id": cid}
        if kind == "add_note":  # someone (the owner, by default) adds a note box
            photo = self._photo_arg(op, "photo_id")
            author = str(op.get("author") or photo.owner)
            nid = f"72157{_digits(self.rng, 12)}"
            when = int(str(op.get("date") or now))
            text = str(op.get("text", "A note"))
            photo.notes.append(Note(nid, author, 10, 10, 50, 50, text, when))
            self._bump(photo)
            return {"op": kind, "photo_ids": [photo.id], "note_id": nid}
        if kind == "add_person":  # someone (the owner, by default) tags a person in a photo
            photo = self._photo_arg(op, "photo_id")
            tagged = {x.nsid for x in photo.people}
            nsid = str(op.get("nsid") or next(u for u in self.live_core if u not in tagged))
            if nsid in tagged:
                raise ValueError(f"{nsid} is already tagged in photo {photo.id}")
            box = op.get("box")  # [x, y, w, h], or none: the whole photo
            photo.people.append(PersonTag(
                nsid, str(op.get("added_by") or photo.owner),
                tuple(int(v) for v in box) if isinstance(box, list | tuple) else None,  # type: ignore[arg-type]
            ))  # fmt: skip
            # Whether Flickr moves the photo's lastupdate for this is not documented: the
            # sandbox does not, the harder case (a crawl that waits for lastupdate sees nothing).
            return {"op": kind, "photo_ids": [photo.id], "nsid": nsid}
        if kind == "owner_fave":  # the account's owner faves a photo (anyone's)
            photo = self._photo_arg(op, "photo_id")
            when = int(str(op.get("date_faved") or now))
            self.owner_faves = [f for f in self.owner_faves if f.photo_id != photo.id]
            self.owner_faves.insert(0, OwnerFave(photo.id, when))
            self.owner_faves.sort(key=lambda f: -f.date_faved)
            photo.faves.insert(0, Fave(self.owner.nsid, when))
            return {"op": kind, "photo_ids": [photo.id]}
        if kind == "owner_unfave":
            photo = self._photo_arg(op, "photo_id")
            self.owner_faves = [f for f in self.owner_faves if f.photo_id != photo.id]
            photo.faves = [f for f in photo.faves if f.nsid != self.owner.nsid]
            return {"op": kind, "photo_ids": [photo.id]}
        if kind == "delete_comment":  # the commenter deleted it, or their account is gone
            photo = self._photo_arg(op, "photo_id")
            cid = str(op.get("comment_id") or (photo.comments[0].id if photo.comments else ""))
            before = len(photo.comments)
            photo.comments = [c for c in photo.comments if c.id != cid]
            if len(photo.comments) == before:
                raise ValueError(f"photo {photo.id} has no comment {cid!r}")
            self._bump(photo)
            return {"op": kind, "photo_ids": [photo.id], "comment_id": cid}
        if kind == "add_fave":
            photo = self._photo_arg(op, "photo_id")
            have = {f.nsid for f in photo.faves}
            nsid = str(
                op.get("user") or next(u for u in self.fans + self.live_core if u not in have)
            )
            photo.faves.insert(0, Fave(nsid, int(str(op.get("date") or now))))
            photo.faves.sort(key=lambda f: -f.favedate)
            return {"op": kind, "photo_ids": [photo.id], "user": nsid}
        if kind in ("add_to_album", "remove_from_album"):
            photo = self._photo_arg(op, "photo_id")
            album = self._album_arg(op)
            if kind == "add_to_album" and photo.id not in album.photo_ids:
                album.photo_ids.append(photo.id)
            elif kind == "remove_from_album" and photo.id in album.photo_ids:
                album.photo_ids.remove(photo.id)
                if not album.photo_ids:
                    album.deleted = True
                elif album.primary == photo.id:
                    album.primary = album.photo_ids[0]
            album.date_update = now
            self._bump(photo)
            return {"op": kind, "photo_ids": [photo.id], "album_ids": [album.id]}
        if kind == "set_primary":  # the album's cover photo (one of its photos)
            album = self._album_arg(op)
            photo = self._photo_arg(op, "photo_id")
            if photo.id not in album.photo_ids:
                raise ValueError(f"photo {photo.id} is not in album {album.id}")
            album.primary = photo.id
            album.date_update = now
            return {"op": kind, "album_ids": [album.id]}
        if kind == "rename_album":
            album = self._album_arg(op)
            album.title = str(op.get("title", album.title))
            if "description" in op:
                album.description = str(op["description"])
            album.date_update = now
            return {"op": kind, "album_ids": [album.id]}
        if kind == "delete_album":
            album = self._album_arg(op)
            album.deleted = True
            return {"op": kind, "album_ids": [album.id]}
        raise ValueError(f"unknown op {kind!r}")
