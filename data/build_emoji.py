"""Rebuild ``data/emoji_64.npz`` from the npm packages ``emoji-datasource-google`` and ``-twitter`` 16.0.0.

Run by a maintainer; learners never need it (no lesson downloads anything)::

    python data/build_emoji.py GOOGLE.tgz TWITTER.tgz      # tarballs fetched earlier with `npm pack`
    python data/build_emoji.py --fetch                      # runs `npm pack` into a temporary folder
    python data/build_emoji.py --sheet sheet.png            # a contact sheet of the shipped file

Each tarball must have the integrity hash the npm registry publishes for it (``npm view
emoji-datasource-google@16.0.0 dist.integrity``), recorded below in ``PACKAGES``; a tarball with another hash is
refused before anything is read from it.

What goes into the bundle (``data/README.md`` says why):

* the base emoji of ``emoji.json`` that both packages draw, in Unicode's emoji order (``sort_order``); no
  skin-tone variants, no ``Component`` category (the five skin-tone swatches);
* of emoji whose images are pixel-identical in either style (territories that fly their country's flag; the
  families Twemoji draws alike), only one is kept (``preference``), so no image appears twice;
* each 64x64 RGBA PNG composited onto white (``BACKGROUND``) in integer arithmetic, straight alpha:
  ``rgb = (rgb * a + 255 * (255 - a) + 127) // 255``;
* a held-out split fixed by ``SPLIT_SEED``, the same for both styles, stratified by category, which keeps
  emoji that differ only in gender (man / woman / person ...) on the same side.

The ``.npz`` is written with :func:`course_utils.data.npz_bytes` (fixed entry order and dates, deflate level 9)
through :func:`course_utils.atomic.write_bytes`: rebuilding gives the same bytes, and an interrupted build leaves
the old file. The script prints the new SHA-256: paste it into ``course_utils.data.BUNDLED_EMOJI`` and
``data/README.md``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils import atomic, data  # noqa: E402  (the checkout's course_utils, not an installed copy)


@dataclass(frozen=True)
class Package:
    """One npm tarball: name, version and the integrity string the registry publishes for it."""

    name: str
    version: str
    integrity: str

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def filename(self) -> str:
        """The name `npm pack` gives the tarball."""
        return f"{self.name}-{self.version}.tgz"


PACKAGES = {
    "google": Package("emoji-datasource-google", "16.0.0",
                      "sha512-ZRexfzs7MVoLnmzZmNsO4TKhnAJp5D++Vm6PpUpH/jEQQlemp3l88CjZ+DoZ2faM9R4QxZkOPJCoT8DlPhfQ3A=="),
    "twitter": Package("emoji-datasource-twitter", "16.0.0",
                       "sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ=="),
}
SIZE = 64
BACKGROUND = 255  # white, in all three channels
EXCLUDED_CATEGORIES = ("Component",)
SPLIT_SEED = 25
HELD_OUT_FRACTION = 0.15
MAX_PNG_BYTES = 1 << 20
CODEPOINTS = re.compile(r"[0-9A-F]{4,6}(-[0-9A-F]{4,6})*")
# Gender and age words that make variants of one drawing: mapped to the neutral person / child before grouping.
_GENDER_SIGNS = {"2640", "2642", "FE0F", "200D"}
_NEUTRAL = {"1F468": "1F9D1", "1F469": "1F9D1", "1F466": "1F9D2", "1F467": "1F9D2", "1F474": "1F9D3", "1F475": "1F9D3",
            "1F46B": "1F9D1-1F91D-1F9D1", "1F46C": "1F9D1-1F91D-1F9D1", "1F46D": "1F9D1-1F91D-1F9D1"}


# ---------------------------------------------------------------------------------------------
# The tarballs
# ---------------------------------------------------------------------------------------------

def sri_sha512(path: str | Path) -> str:
    """The Subresource Integrity string npm records for a tarball: ``sha512-`` and the base64 of its SHA-512."""
    digest = hashlib.sha512()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode("ascii")


def verify_tarball(path: str | Path, style: str) -> Path:
    """Check that ``path`` is the published tarball of ``PACKAGES[style]``.

    Raises:
        ValueError: for an unknown style, a missing file, or a tarball whose integrity hash differs (another
            version, a corrupt download or a different file), naming both hashes and how to fetch the right one.
    """
    if style not in PACKAGES:
        raise ValueError(f"style must be one of {sorted(PACKAGES)}, got {style!r}")
    package, path = PACKAGES[style], Path(path)
    if not path.is_file():
        raise ValueError(f"expected the tarball of {package.spec} at {path}, found no file")
    actual = sri_sha512(path)
    if actual != package.integrity:
        raise ValueError(f"{path} is not the published tarball of {package.spec}: its integrity is {actual}, expected "
                         f"{package.integrity} (npm view {package.spec} dist.integrity). Fetch it again with "
                         f"`npm pack {package.spec}`, or run this script with --fetch")
    return path


def fetch_tarballs(folder: Path) -> dict[str, Path]:
    """Run ``npm pack`` for both packages into ``folder`` and return the tarballs' paths (not yet verified)."""
    paths = {}
    for style, package in PACKAGES.items():
        subprocess.run(["npm", "pack", package.spec, "--pack-destination", str(folder)], check=True,
                       stdout=subprocess.DEVNULL)
        paths[style] = folder / package.filename
    return paths


def read_tarball(path: Path, style: str) -> tuple[list[dict], dict[str, bytes]]:
    """The entries of ``package/emoji.json`` and the 64x64 PNGs (file name -> bytes) of one verified tarball.

    Members are read, never extracted, and only regular files are read.
    """
    prefix = f"package/img/{style}/{SIZE}/"
    entries, pngs = None, {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            if member.name == "package/emoji.json":
                entries = json.loads(tar.extractfile(member).read().decode("utf-8"))
            elif member.name.startswith(prefix) and member.name.endswith(".png") and "/" not in member.name[len(prefix):]:
                if member.size > MAX_PNG_BYTES:
                    raise ValueError(f"{path}: {member.name} is {member.size:,} bytes, expected a small PNG")
                pngs[member.name[len(prefix):]] = tar.extractfile(member).read()
    if not isinstance(entries, list) or not pngs:
        raise ValueError(f"{path} lacks package/emoji.json or {prefix}*.png: not an emoji-datasource-{style} tarball")
    return entries, pngs


# ---------------------------------------------------------------------------------------------
# Images, selection, split
# ---------------------------------------------------------------------------------------------

def composite_on_white(png: bytes, name: str = "image") -> np.ndarray:
    """Decode a PNG and composite it onto ``BACKGROUND``: uint8 (SIZE, SIZE, 3), integer arithmetic, straight alpha."""
    from PIL import Image  # the maintainer's build needs Pillow (a course dependency); the loader does not

    with Image.open(io.BytesIO(png)) as im:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.int32)
    if rgba.shape != (SIZE, SIZE, 4):
        raise ValueError(f"{name}: expected a {SIZE}x{SIZE} image, got {rgba.shape[:2]}")
    rgb, alpha = rgba[..., :3], rgba[..., 3:]
    return ((rgb * alpha + BACKGROUND * (255 - alpha) + 127) // 255).astype(np.uint8)


def select(entries: list[dict]) -> list[dict]:
    """The base emoji both styles draw, outside ``EXCLUDED_CATEGORIES``, in Unicode's order (``sort_order``).

    Skin-tone variants are not top-level entries of ``emoji.json`` (they sit in ``skin_variations``), so they
    never come in.
    """
    chosen = [e for e in entries if e["category"] not in EXCLUDED_CATEGORIES and e["has_img_google"]
              and e["has_img_twitter"]]
    return sorted(chosen, key=lambda e: e["sort_order"])


def keep_one_of_duplicates(styles: list[np.ndarray], preference: list[tuple]) -> np.ndarray:
    """Mask keeping one emoji of each group whose images are identical, the one with the lowest ``preference``.

    Duplicates are joined across styles (if A = B in one style and B = C in the other, A, B and C are one group).
    """
    n = len(preference)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for images in styles:
        first: dict[bytes, int] = {}
        for i in range(n):
            j = first.setdefault(hashlib.sha256(images[i].tobytes()).digest(), i)
            parent[root(i)] = root(j)
    best: dict[int, int] = {}
    for i in range(n):
        r = root(i)
        if r not in best or preference[i] < preference[best[r]]:
            best[r] = i
    keep = np.zeros(n, dtype=bool)
    keep[list(best.values())] = True
    return keep


def preference(entry: dict) -> tuple:
    """Which of identical images to keep: the emoji added to Unicode first, then the shortest name, then Unicode's order.

    So France's flag is kept rather than Clipperton Island's, Norway's rather than Bouvet Island's, and the
    generic FAMILY rather than its gendered forms (which Twemoji draws alike).
    """
    return tuple(int(v) for v in entry["added_in"].split(".")), len(entry["name"]), entry["sort_order"]


def variant_group(codepoints: str) -> str:
    """Key shared by emoji that differ only in gender or in man / woman / person (boy / girl / child ...)."""
    parts = [_NEUTRAL.get(p, p) for p in codepoints.split("-") if p not in _GENDER_SIGNS]
    return "-".join(parts)


def held_out_split(codepoints: np.ndarray, categories: np.ndarray, *, seed: int = SPLIT_SEED,
                   fraction: float = HELD_OUT_FRACTION) -> np.ndarray:
    """Boolean mask of the held-out emoji: ``fraction`` of each category, whole variant groups at a time.

    Within each category (in id order) the groups, in order of first appearance, are shuffled by one
    ``np.random.default_rng(seed)``; groups are then taken in that order while they fit in
    ``round(fraction * count)``. The result depends only on the code points, the categories and the seed.
    """
    codepoints, categories = np.asarray(codepoints), np.asarray(categories)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(codepoints), dtype=bool)
    for cat in np.unique(categories):
        members = np.flatnonzero(categories == cat)
        groups: dict[str, list[int]] = {}
        for i in members:
            groups.setdefault(variant_group(str(codepoints[i])), []).append(int(i))
        in_order = list(groups.values())
        target, taken = round(fraction * len(members)), 0
        for g in rng.permutation(len(in_order)):
            group = in_order[g]
            if taken + len(group) <= target:
                held[group] = True
                taken += len(group)
    return held


def build_arrays(tarballs: dict[str, Path]) -> dict[str, np.ndarray]:
    """Verify both tarballs and return the bundle's arrays (see ``data/README.md`` for each one)."""
    for style in PACKAGES:
        verify_tarball(tarballs[style], style)
    read = {style: read_tarball(Path(tarballs[style]), style) for style in PACKAGES}
    chosen = {style: select(entries) for style, (entries, _) in read.items()}
    keys = {style: [(e["unified"], e["category"]) for e in chosen[style]] for style in PACKAGES}
    if keys["google"] != keys["twitter"]:
        raise ValueError("the two packages list different emoji or categories; expected the same emoji.json")
    entries = chosen["google"]
    names = list(dict.fromkeys(e["category"] for e in entries))  # in Unicode's order of first appearance
    if tuple(names) != data.EMOJI_CATEGORIES:
        raise ValueError(f"expected the categories {data.EMOJI_CATEGORIES}, got {tuple(names)}")
    images = {}
    for style in PACKAGES:
        pngs = read[style][1]
        missing = [e["image"] for e in chosen[style] if e["image"] not in pngs]
        if missing:
            raise ValueError(f"{tarballs[style]} lacks the images {missing[:5]} ({len(missing)} in all)")
        images[style] = np.stack([composite_on_white(pngs[e["image"]], e["image"]) for e in chosen[style]])
    keep = keep_one_of_duplicates([images["google"], images["twitter"]], [preference(e) for e in entries])
    codepoints = {style: np.array([e["unified"] for e in chosen[style]])[keep] for style in PACKAGES}
    for style, values in codepoints.items():
        bad = [c for c in values if not CODEPOINTS.fullmatch(c)]
        if bad:
            raise ValueError(f"{style}: unexpected code points {bad[:5]}")
    category = np.array([names.index(e["category"]) for e in entries], dtype=np.uint8)[keep]
    return {
        "google": images["google"][keep],
        "twitter": images["twitter"][keep],
        "google_codepoints": codepoints["google"],
        "twitter_codepoints": codepoints["twitter"],
        "names": np.array([e["name"].lower() for e in entries])[keep],
        "category": category,
        "category_names": np.array(names),
        "held_out": held_out_split(codepoints["google"], category),
    }


def describe(arrays: dict[str, np.ndarray]) -> str:
    """A table of counts per category and split, for the maintainer and ``data/README.md``."""
    rows = ["| category | train | held out | all |", "|---|---:|---:|---:|"]
    held, cat = arrays["held_out"], arrays["category"]
    for i, name in enumerate(arrays["category_names"]):
        n, h = int((cat == i).sum()), int((held & (cat == i)).sum())
        rows.append(f"| {name} | {n - h:,} | {h:,} | {n:,} |")
    rows.append(f"| all | {int((~held).sum()):,} | {int(held.sum()):,} | {len(held):,} |")
    return "\n".join(rows)


def contact_sheet(google: np.ndarray, twitter: np.ndarray, categories: np.ndarray, *, per_category: int = 8,
                  seed: int = 0) -> np.ndarray:
    """A picture of the bundle: per category, ``per_category`` emoji picked with ``seed``, Noto above Twemoji.

    Returns a uint8 (categories * 2 * h, per_category * w, 3) image, one band of two rows per category, in id order.

    Raises:
        ValueError: if a category has fewer than ``per_category`` emoji.
    """
    rng = np.random.default_rng(seed)
    bands = []
    for cat in np.unique(categories):
        members = np.flatnonzero(categories == cat)
        if len(members) < per_category:
            raise ValueError(f"per_category must be at most {len(members)} (category {cat}), got {per_category}")
        pick = np.sort(rng.choice(members, size=per_category, replace=False))
        bands.append(np.concatenate([np.concatenate([google[i], twitter[i]]) for i in pick], axis=1))
    return np.concatenate(bands, axis=0)


def save_sheet(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write :func:`contact_sheet` of ``arrays`` as a PNG (atomically)."""
    from PIL import Image

    sheet = contact_sheet(arrays["google"], arrays["twitter"], arrays["category"])
    with atomic.atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(sheet).save(tmp, format="PNG")
    print(f"{path}: contact sheet, {sheet.shape[1]}x{sheet.shape[0]} pixels")


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tarballs", nargs="*", type=Path, help="GOOGLE.tgz TWITTER.tgz (from `npm pack`)")
    parser.add_argument("--fetch", action="store_true", help="run `npm pack` for both into a temporary folder")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / data.BUNDLED_EMOJI.name)
    parser.add_argument("--sheet", type=Path, help="also write a contact sheet PNG here (alone: of the shipped file)")
    args = parser.parse_args(argv)
    if args.sheet and not args.fetch and not args.tarballs:
        with np.load(data.data_dir() / data.BUNDLED_EMOJI.name, allow_pickle=False) as f:
            save_sheet(args.sheet, {k: f[k] for k in ("google", "twitter", "category")})
        return args.sheet
    if args.fetch == bool(args.tarballs) or (args.tarballs and len(args.tarballs) != 2):
        parser.error("give the two tarballs (google, then twitter) or --fetch, not both")
    with tempfile.TemporaryDirectory(prefix="emoji-build-") as tmp:
        tarballs = fetch_tarballs(Path(tmp)) if args.fetch else dict(zip(PACKAGES, args.tarballs))
        arrays = build_arrays(tarballs)
    atomic.write_bytes(args.out, data.npz_bytes(arrays, compress=True))
    print(describe(arrays))
    print(f"{args.out}: {args.out.stat().st_size:,} bytes, SHA-256 {data.sha256_of(args.out)}")
    if args.sheet:
        save_sheet(args.sheet, arrays)
    return args.out


if __name__ == "__main__":
    main()
