"""The bundled emoji: 1,871 emoji drawn in two styles (Google's Noto Emoji, Twitter's Twemoji), 64x64 RGB.

They are only bundled (``data/emoji_64.npz``, checked against its SHA-256; ``data/build_emoji.py`` rebuilds it):
nothing is downloaded. :func:`load_emoji` gives one style or both, a split, at 64x64 or 32x32
(:func:`area_downsample`). Lessons 08 and 09 train on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .data_folder import _read_npz, data_dir
from .downloads import DataUnavailableError, RemoteFile, verify_file
from .validate import int_at_least

BUNDLED_EMOJI = RemoteFile("emoji_64.npz", "8719e85029a20c3a6de826b2f060d957196125a86c2c2225d818cd15bb250a35", "",
                           size=9_163_949)
"""The emoji of both styles in ``data/`` (``data/README.md``: provenance, licences; ``data/build_emoji.py``)."""
EMOJI_STYLES = ("google", "twitter")
"""The two drawings of each emoji: Google's Noto Emoji and Twitter's Twemoji."""
EMOJI_CATEGORIES = ("Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Travel & Places",
                    "Activities", "Objects", "Symbols", "Flags")
"""Category names of the bundled emoji; a category id indexes this tuple."""


EMOJI_SPLITS = ("train", "held_out", "all")
EMOJI_SIZES = (64, 32)
_EMOJI_REBUILD = ("Restore it with `git checkout -- data/emoji_64.npz`, or rebuild it with "
                  "`python data/build_emoji.py --fetch` (see data/README.md).")
_CODEPOINTS = re.compile(r"[0-9A-F]{4,6}(-[0-9A-F]{4,6})*")


@dataclass
class EmojiDataset:
    """Emoji drawn in one or both styles, with their categories and code points.

    Row ``i`` of ``google``, ``twitter``, ``categories``, ``codepoints`` and ``names`` is the same emoji, so with
    ``style="both"`` the two arrays are aligned pairs (one emoji, two drawings).

    Introduced in 08_colour_gans (through ``data.load_emoji``).

    Attributes:
        google: uint8 images (n, size, size, 3) in Noto Emoji's style, or None when not asked for.
        twitter: uint8 images (n, size, size, 3) in Twemoji's style, or None when not asked for.
        categories: uint8 category ids (n,), indexes into ``category_names``.
        codepoints: the emoji's code points, e.g. ``"1F600"`` or ``"1F468-200D-1F373"`` (str array, (n,)).
        names: lower-case Unicode names, e.g. ``"grinning face"`` (str array, (n,)).
        category_names: the category names (``EMOJI_CATEGORIES``).
        held_out: bool (n,), True for the held-out emoji (all True or all False unless ``split="all"``).
        style, split, size: what was asked for.
    """

    google: np.ndarray | None
    twitter: np.ndarray | None
    categories: np.ndarray
    codepoints: np.ndarray
    names: np.ndarray
    category_names: tuple[str, ...]
    held_out: np.ndarray
    style: str
    split: str
    size: int

    @property
    def images(self) -> np.ndarray:
        """The images of the one style asked for (``style="google"`` or ``"twitter"``).

        Raises:
            ValueError: for ``style="both"``, where ``google`` and ``twitter`` hold the two aligned sets.
        """
        if self.style == "both":
            raise ValueError("this dataset holds both styles: use .google and .twitter (aligned pairs), not .images")
        return self.google if self.style == "google" else self.twitter

    @property
    def emoji(self) -> list[str]:
        """The emoji as text (each code point sequence turned into its characters)."""
        return ["".join(chr(int(p, 16)) for p in c.split("-")) for c in self.codepoints]

    def __len__(self) -> int:
        return len(self.categories)

    def summary(self) -> str:
        """One line: styles, split, count, image shape, categories."""
        counts = np.bincount(self.categories, minlength=len(self.category_names))
        per = ", ".join(f"{name} {n}" for name, n in zip(self.category_names, counts))
        return (f"emoji ({self.style}, {self.split}): {len(self):,} images ({self.size}, {self.size}, 3) uint8; {per}")


def _check_emoji(arrays: dict[str, np.ndarray], where: str) -> None:
    """The bundle's arrays have the shapes, types and values ``data/build_emoji.py`` writes, and the styles align."""
    google, twitter = arrays["google"], arrays["twitter"]
    n = len(google)
    for style, x in (("google", google), ("twitter", twitter)):
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (64, 64, 3) or n == 0:
            raise ValueError(f"{where}: expected {style} images uint8 (n, 64, 64, 3) with n > 0 (n = {n}), got "
                             f"{x.dtype} {x.shape}")
    names = arrays["category_names"]
    if names.dtype.kind != "U" or tuple(names.tolist()) != EMOJI_CATEGORIES:
        raise ValueError(f"{where}: expected the category names {EMOJI_CATEGORIES}, got {names.tolist()}")
    for key, kind in (("google_codepoints", "U"), ("twitter_codepoints", "U"), ("names", "U"), ("category", "u"),
                      ("held_out", "b")):
        if arrays[key].dtype.kind != kind or arrays[key].shape != (n,):
            raise ValueError(f"{where}: expected {key} of shape ({n},) and dtype kind {kind!r}, got "
                             f"{arrays[key].dtype} {arrays[key].shape}")
    if not np.array_equal(arrays["google_codepoints"], arrays["twitter_codepoints"]):
        wrong = int(np.flatnonzero(arrays["google_codepoints"] != arrays["twitter_codepoints"])[0])
        raise ValueError(f"{where}: the two styles are not aligned: row {wrong} is {arrays['google_codepoints'][wrong]} "
                         f"in google, {arrays['twitter_codepoints'][wrong]} in twitter; expected the same emoji per row")
    codepoints = arrays["google_codepoints"]
    bad = [c for c in codepoints.tolist() if not _CODEPOINTS.fullmatch(c)]
    if bad or len(set(codepoints.tolist())) != n:
        raise ValueError(f"{where}: expected {n} distinct code point sequences like '1F600', got "
                         f"{len(set(codepoints.tolist()))} distinct, malformed: {bad[:5]}")
    counts = np.bincount(arrays["category"], minlength=len(EMOJI_CATEGORIES))
    if len(counts) != len(EMOJI_CATEGORIES) or counts.min() == 0:
        raise ValueError(f"{where}: expected category ids 0..{len(EMOJI_CATEGORIES) - 1}, each used, got counts "
                         f"{counts.tolist()}")
    held = arrays["held_out"]
    if not 0 < int(held.sum()) < n:
        raise ValueError(f"{where}: expected both splits to be non-empty, got {int(held.sum())} of {n} held out")
    for style, x in (("google", google), ("twitter", twitter)):
        blank = np.flatnonzero(x.reshape(n, -1).min(axis=1) == 255)
        if len(blank):
            raise ValueError(f"{where}: {style} image {blank[0]} ({codepoints[blank[0]]}) is blank white; "
                             "expected an emoji on a white background")


def area_downsample(x: np.ndarray, factor: int) -> np.ndarray:
    """Shrink uint8 images (n, h, w, c) by ``factor`` with area averaging: each output pixel is the rounded mean
    of a ``factor`` x ``factor`` block (as ``cv2.INTER_AREA`` or ``tf.image.resize(..., "area")`` for whole factors).

    Introduced in 08_colour_gans (``load_emoji(size=32)`` uses it).

    Raises:
        ValueError: if ``x`` is not uint8 (n, h, w, c), ``factor`` is not a positive int, or does not divide h and w.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8 or x.ndim != 4:
        raise ValueError(f"expected uint8 images (n, h, w, c), got {x.dtype} {x.shape}")
    factor = int_at_least(factor, 1, "factor", expected="a positive int")
    n, h, w, c = x.shape
    if h % factor or w % factor:
        raise ValueError(f"factor must divide the image size, got factor {factor} for {h}x{w}")
    blocks = x.reshape(n, h // factor, factor, w // factor, factor, c).astype(np.uint32).sum(axis=(2, 4))
    return ((blocks + factor * factor // 2) // (factor * factor)).astype(np.uint8)


def load_emoji(style: str = "google", split: str = "train", size: int = 64) -> EmojiDataset:
    """Load the bundled emoji: 1,871 emoji, each drawn by Google (Noto Emoji) and by Twitter (Twemoji).

    Both styles come from the npm packages ``emoji-datasource-google`` / ``-twitter`` 16.0.0, composited onto white
    (``data/README.md``: what was kept, the licences, Twemoji's attribution). The held-out split (282 emoji, about
    15 % of each category) is stored in the file and is the same for both styles. ``"train"`` comes in a fixed
    shuffled order (so a first batch mixes categories), ``"held_out"`` and ``"all"`` in Unicode's emoji order.
    The file is checked (SHA-256, shapes, types, the styles' alignment) before use. Nothing is downloaded.

    Introduced in 08_colour_gans.

    Args:
        style: ``"google"``, ``"twitter"`` or ``"both"`` (aligned pairs: ``.google[i]`` and ``.twitter[i]``).
        split: ``"train"``, ``"held_out"`` or ``"all"``.
        size: 64 (as drawn) or 32 (2x2 area averaging, :func:`area_downsample`).

    Returns:
        An :class:`EmojiDataset` of uint8 RGB images (``x.astype("float32") / 127.5 - 1`` puts them in [-1, 1]).

    Raises:
        ValueError: for an unknown style, split or size, or a corrupt, truncated or wrong file (the message says
            how to restore or rebuild it).
        DataUnavailableError: if the file is missing (e.g. a pip install without the repository).
    """
    for what, value, allowed in (("style", style, ("google", "twitter", "both")), ("split", split, EMOJI_SPLITS)):
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(f"{what} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size not in EMOJI_SIZES:
        raise ValueError(f"size must be one of {', '.join(map(str, EMOJI_SIZES))} (pixels), got {size!r}")
    path = data_dir() / BUNDLED_EMOJI.name
    if not path.is_file():
        raise DataUnavailableError(f"the bundled emoji are missing ({path}); clone the repository or set "
                                   f"COURSE_DATA_DIR. {_EMOJI_REBUILD}")
    verify_file(path, BUNDLED_EMOJI.sha256, remedy=_EMOJI_REBUILD)
    arrays = _read_npz(path, ("google", "twitter", "google_codepoints", "twitter_codepoints", "names", "category",
                              "category_names", "held_out"))
    _check_emoji(arrays, str(path))
    held = arrays["held_out"]
    if split == "train":
        rows = np.flatnonzero(~held)[np.random.default_rng(0).permutation(int((~held).sum()))]
    else:
        rows = np.flatnonzero(held) if split == "held_out" else np.arange(len(held))
    images = {}
    for name in EMOJI_STYLES:
        if style in (name, "both"):
            x = arrays[name][rows]
            images[name] = x if size == 64 else area_downsample(x, 64 // size)
    return EmojiDataset(images.get("google"), images.get("twitter"), arrays["category"][rows],
                        arrays["google_codepoints"][rows], arrays["names"][rows], EMOJI_CATEGORIES, held[rows],
                        style, split, size)
