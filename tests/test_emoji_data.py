"""The bundled emoji (data/emoji_64.npz), their loader course_utils.data.load_emoji, and data/build_emoji.py.

The build from the real npm tarballs needs the network, so it runs only when ``COURSE_EMOJI_TARBALLS`` names a
folder holding both tarballs (``npm pack emoji-datasource-google@16.0.0 emoji-datasource-twitter@16.0.0``).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from course_utils import data, emoji
from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "data" / data.BUNDLED_EMOJI.name
N_ALL, N_HELD_OUT = 1871, 282
# SHA-256 of the held-out code points, one per line in file order: the split may not move silently.
HELD_OUT_DIGEST = "f84623f930825035753a5c934c6dc487ccb77d12dd6b61d6c58be6298dac7108"


build = load_script(ROOT / "data" / "build_emoji.py")


@pytest.fixture(scope="module")
def both():
    return data.load_emoji("both", "all")


@pytest.fixture(scope="module")
def raw():
    with np.load(BUNDLE, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture
def copy_dir(tmp_path, monkeypatch):
    """A data folder holding a copy of the bundle, which the loader reads (COURSE_DATA_DIR)."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copyfile(BUNDLE, folder / BUNDLE.name)
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    return folder / BUNDLE.name


# ---------------------------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------------------------

def test_bundle_digest_matches_the_loader_and_the_readme():
    assert data.sha256_of(BUNDLE) == data.BUNDLED_EMOJI.sha256
    assert BUNDLE.stat().st_size == data.BUNDLED_EMOJI.size
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert data.BUNDLED_EMOJI.sha256 in readme and f"{data.BUNDLED_EMOJI.size:,} bytes" in readme
    for package in build.PACKAGES.values():
        assert package.integrity in readme, f"data/README.md lacks the integrity of {package.spec}"


def test_the_bundle_loads_without_pickle_and_holds_what_the_readme_says(raw):
    assert sorted(raw) == ["category", "category_names", "google", "google_codepoints", "held_out", "names",
                           "twitter", "twitter_codepoints"]
    assert raw["google"].shape == raw["twitter"].shape == (N_ALL, 64, 64, 3)
    assert tuple(raw["category_names"].tolist()) == data.EMOJI_CATEGORIES


# ---------------------------------------------------------------------------------------------
# Shapes, types, ranges, pairing, split
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("split, n", [("train", N_ALL - N_HELD_OUT), ("held_out", N_HELD_OUT), ("all", N_ALL)])
@pytest.mark.parametrize("size", [64, 32])
def test_shapes_dtypes_and_ranges(split, n, size):
    ds = data.load_emoji("twitter", split, size)
    assert ds.images is ds.twitter and ds.google is None
    assert ds.images.shape == (n, size, size, 3) and ds.images.dtype == np.uint8
    assert ds.categories.shape == ds.codepoints.shape == ds.names.shape == (n,) and ds.categories.dtype == np.uint8
    assert ds.categories.max() < len(ds.category_names) == 9 and len(ds) == n
    # On white: corners are (nearly) background, a third or more of the pixels are pure white, no image is blank,
    # and the pixels use the whole range.
    corners = ds.images[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners >= 240).mean() > 0.9
    assert 0.3 < (ds.images == 255).mean() < 0.6
    assert (ds.images.reshape(n, -1).min(axis=1) < 255).all()
    assert ds.images.min() == 0 and ds.images.max() == 255
    assert ds.summary().startswith(f"emoji (twitter, {split}): {n:,} images ({size}, {size}, 3) uint8")


def test_both_styles_are_aligned_pairs_of_different_drawings(both):
    google, twitter = data.load_emoji("google", "all"), data.load_emoji("twitter", "all")
    np.testing.assert_array_equal(google.codepoints, twitter.codepoints)
    np.testing.assert_array_equal(both.codepoints, google.codepoints)
    np.testing.assert_array_equal(both.google, google.images)
    np.testing.assert_array_equal(both.twitter, twitter.images)
    # Two styles: no emoji is drawn the same, though they agree on the rough colours.
    differ = np.abs(both.google.astype(int) - both.twitter.astype(int)).mean(axis=(1, 2, 3))
    assert differ.min() > 1.0
    same_colour = np.corrcoef(both.google.reshape(N_ALL, -1, 3).mean(1).ravel(),
                              both.twitter.reshape(N_ALL, -1, 3).mean(1).ravel())[0, 1]
    assert same_colour > 0.6  # measured: 0.79
    for split in ("train", "held_out"):
        a, b = data.load_emoji("google", split), data.load_emoji("twitter", split)
        np.testing.assert_array_equal(a.codepoints, b.codepoints)  # the same emoji held out in both styles
        np.testing.assert_array_equal(a.categories, b.categories)
    with pytest.raises(ValueError, match=r"use \.google and \.twitter"):
        both.images  # noqa: B018


def test_emoji_text_and_names(both):
    assert both.codepoints[0] == "1F600" and both.emoji[0] == "\U0001F600" and both.names[0] == "grinning face"
    assert all(len(e) >= 1 for e in both.emoji)
    assert len(set(both.codepoints.tolist())) == N_ALL


def test_split_is_disjoint_complete_fixed_and_stratified(both, raw):
    train, held = data.load_emoji("google", "train"), data.load_emoji("google", "held_out")
    train_set, held_set = set(train.codepoints.tolist()), set(held.codepoints.tolist())
    assert not train_set & held_set
    assert train_set | held_set == set(both.codepoints.tolist())
    assert len(held_set) == N_HELD_OUT
    assert held.held_out.all() and not train.held_out.any() and both.held_out.sum() == N_HELD_OUT
    assert set(both.codepoints[both.held_out].tolist()) == held_set
    # Fixed: the stored split is what the build script's rule gives for these emoji, and its digest is pinned.
    recomputed = build.held_out_split(raw["google_codepoints"], raw["category"])
    np.testing.assert_array_equal(recomputed, raw["held_out"])
    listing = "\n".join(raw["google_codepoints"][raw["held_out"]].tolist())
    assert hashlib.sha256(listing.encode()).hexdigest() == HELD_OUT_DIGEST
    # Stratified: each category holds out 10-20 % of its emoji.
    for cat, name in enumerate(data.EMOJI_CATEGORIES):
        share = (held.categories == cat).sum() / (both.categories == cat).sum()
        assert 0.10 <= share <= 0.20, (name, share)
    # Variants that differ only in gender sit on one side.
    sides: dict[str, set[bool]] = {}
    for code, is_held in zip(raw["google_codepoints"].tolist(), raw["held_out"].tolist()):
        sides.setdefault(build.variant_group(code), set()).add(is_held)
    assert all(len(s) == 1 for s in sides.values())
    assert sum(1 for code in raw["google_codepoints"].tolist() if build.variant_group(code) == "1F9D1-1F4BB") == 3


def test_train_order_is_shuffled_and_the_same_every_time():
    a, b = data.load_emoji("google", "train"), data.load_emoji("google", "train")
    np.testing.assert_array_equal(a.codepoints, b.codepoints)
    assert len(set(a.categories[:32].tolist())) >= 6  # a first batch mixes categories
    held = data.load_emoji("google", "held_out")
    assert np.all(np.diff(held.categories.astype(int)) >= 0)  # held out: Unicode's order, categories in turn


def test_category_counts_are_sane(both, capsys):
    counts = np.bincount(both.categories, minlength=9)
    held = np.bincount(data.load_emoji("google", "held_out").categories, minlength=9)
    with capsys.disabled():
        print("\n" + "\n".join(f"  {name:18s} {n:4d} ({h} held out)"
                               for name, n, h in zip(both.category_names, counts, held)))
    assert (counts >= 80).sum() >= 8 and counts.sum() == N_ALL
    assert (held >= 10).all()


def test_32_pixels_is_the_mean_of_each_2x2_block(both):
    small = data.load_emoji("both", "all", 32)
    expected = both.google.reshape(N_ALL, 32, 2, 32, 2, 3).astype(float).mean(axis=(2, 4))
    assert np.abs(small.google - expected).max() <= 0.5
    np.testing.assert_array_equal(small.codepoints, both.codepoints)


def test_area_downsample_rounds_and_refuses_bad_input():
    x = np.array([[[[0], [1]], [[1], [0]]]], dtype=np.uint8)  # mean 0.5 -> rounds up
    assert data.area_downsample(x, 2).tolist() == [[[[1]]]]
    assert data.area_downsample(np.full((1, 4, 4, 3), 255, np.uint8), 4).tolist() == [[[[255, 255, 255]]]]
    with pytest.raises(ValueError, match=r"expected uint8 images \(n, h, w, c\), got float64"):
        data.area_downsample(np.zeros((1, 4, 4, 3)), 2)
    with pytest.raises(ValueError, match="factor must be a positive int, got 0"):
        data.area_downsample(np.zeros((1, 4, 4, 3), np.uint8), 0)
    with pytest.raises(ValueError, match="factor must be a positive int, got True"):
        data.area_downsample(np.zeros((1, 4, 4, 3), np.uint8), True)
    with pytest.raises(ValueError, match="factor 3 for 4x4"):
        data.area_downsample(np.zeros((1, 4, 4, 3), np.uint8), 3)


# ---------------------------------------------------------------------------------------------
# Bad arguments, bad files
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"style": "apple"}, r"style must be one of 'google', 'twitter', 'both', got 'apple'"),
    ({"style": None}, r"style must be one of .* got None"),
    ({"split": "test"}, r"split must be one of 'train', 'held_out', 'all', got 'test'"),
    ({"split": "heldout"}, r"split must be one of .* got 'heldout'"),
    ({"size": 28}, r"size must be one of 64, 32 \(pixels\), got 28"),
    ({"size": 32.0}, r"size must be one of 64, 32 \(pixels\), got 32\.0"),
    ({"size": True}, r"size must be one of 64, 32 \(pixels\), got True"),
    ({"size": "64"}, r"size must be one of 64, 32 \(pixels\), got '64'"),
])
def test_bad_arguments_say_what_was_expected_and_what_came(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load_emoji(**kwargs)


def test_a_truncated_copy_is_refused_naming_the_rebuild(copy_dir):
    raw = copy_dir.read_bytes()
    copy_dir.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"corrupt or incomplete: SHA-256 is .* expected "
                                         rf"{data.BUNDLED_EMOJI.sha256}\. .*git checkout.*build_emoji\.py --fetch"):
        data.load_emoji()


def test_a_bit_flipped_copy_is_refused(copy_dir):
    raw = bytearray(copy_dir.read_bytes())
    raw[len(raw) // 3] ^= 0x10
    copy_dir.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupt or incomplete.*build_emoji.py"):
        data.load_emoji("both", "all")


def test_a_missing_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataUnavailableError, match=r"bundled emoji are missing .*emoji_64\.npz.*build_emoji\.py"):
        data.load_emoji()


def _write_variant(path: Path, raw: dict, monkeypatch, **changes) -> None:
    """Write the bundle with some arrays changed, and make its digest the expected one (the content checks)."""
    arrays = {**raw, **changes}
    path.write_bytes(data.npz_bytes(arrays))
    monkeypatch.setattr(emoji, "BUNDLED_EMOJI", data.RemoteFile(path.name, data.sha256_of(path), ""))


@pytest.mark.parametrize("change, match", [
    (lambda r: {"twitter_codepoints": np.roll(r["twitter_codepoints"], 1)}, "not aligned: row 0 is 1F600 in google"),
    (lambda r: {"google": r["google"][:, :32]}, r"expected google images uint8 \(n, 64, 64, 3\)"),
    (lambda r: {"twitter": r["twitter"].astype(np.float32)}, r"expected twitter images uint8 .* got float32"),
    (lambda r: {"category": r["category"].astype(np.int64)}, "expected category of shape"),
    (lambda r: {"category": np.minimum(r["category"], 7)}, r"each used, got counts"),
    (lambda r: {"category_names": r["category_names"][::-1]}, "expected the category names"),
    (lambda r: {"held_out": np.zeros_like(r["held_out"])}, "both splits to be non-empty"),
    (lambda r: {"google_codepoints": np.full_like(r["google_codepoints"], "1F600"),
                "twitter_codepoints": np.full_like(r["google_codepoints"], "1F600")}, "distinct code point"),
    (lambda r: {"google": np.where(np.arange(N_ALL)[:, None, None, None] == 5, 255, r["google"]).astype(np.uint8)},
     r"google image 5 \(.*\) is blank white"),
])
def test_content_checks_catch_a_wrong_file_even_with_a_matching_digest(copy_dir, raw, monkeypatch, change, match):
    _write_variant(copy_dir, raw, monkeypatch, **change(raw))
    with pytest.raises(ValueError, match=match):
        data.load_emoji()


def test_an_array_that_needs_pickle_is_refused(copy_dir, raw, monkeypatch):
    arrays = {**raw, "names": np.array([str(n) for n in raw["names"]], dtype=object)}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    copy_dir.write_bytes(buf.getvalue())
    monkeypatch.setattr(emoji, "BUNDLED_EMOJI", data.RemoteFile(copy_dir.name, data.sha256_of(copy_dir), ""))
    with pytest.raises(ValueError, match="pickled Python objects"):
        data.load_emoji()


# ---------------------------------------------------------------------------------------------
# The build script (without the network)
# ---------------------------------------------------------------------------------------------

def _fake_tarball(path: Path) -> Path:
    """A small tarball laid out like the npm package, which of course lacks the published hash."""
    with tarfile.open(path, "w:gz") as tar:
        payload = b'[{"unified": "1F600", "category": "Smileys & Emotion"}]'
        info = tarfile.TarInfo("package/emoji.json")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return path


def test_the_integrity_constants_are_npm_sha512_strings():
    for style, package in build.PACKAGES.items():
        assert package.name == f"emoji-datasource-{style}" and package.version == "16.0.0"
        assert package.integrity.startswith("sha512-") and len(package.integrity) == 7 + 88
        assert package.filename == f"emoji-datasource-{style}-16.0.0.tgz"


def test_sri_sha512_is_the_base64_of_the_sha512(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    # The SHA-512 of "abc" (FIPS 180-2, appendix C.1), as base64.
    assert build.sri_sha512(path) == ("sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qm"
                                      "slPpUyknw==")


def test_a_tarball_with_another_hash_is_refused(tmp_path):
    fake = _fake_tarball(tmp_path / "emoji-datasource-google-16.0.0.tgz")
    with pytest.raises(ValueError, match=r"is not the published tarball of emoji-datasource-google@16\.0\.0: its "
                                         r"integrity is sha512-.*, expected sha512-ZRexfzs7.*npm pack"):
        build.verify_tarball(fake, "google")
    with pytest.raises(ValueError, match="is not the published tarball"):
        build.build_arrays({"google": fake, "twitter": fake})
    out = tmp_path / "out.npz"
    with pytest.raises(ValueError, match="is not the published tarball"):
        build.main([str(fake), str(fake), "--out", str(out)])
    assert not out.exists()  # nothing written
    with pytest.raises(ValueError, match="found no file"):
        build.verify_tarball(tmp_path / "absent.tgz", "twitter")
    with pytest.raises(ValueError, match="style must be one of"):
        build.verify_tarball(fake, "apple")


def test_the_script_wants_two_tarballs_or_fetch(capsys):
    for argv in ([], ["a.tgz"], ["a.tgz", "b.tgz", "--fetch"], ["a", "b", "c"]):
        with pytest.raises(SystemExit):
            build.main(argv)
    assert "give the two tarballs" in capsys.readouterr().err


def test_compositing_onto_white():
    from PIL import Image

    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red stays red
    rgba[0, 1] = (0, 0, 0, 128)  # half-transparent black turns mid-grey
    rgba[0, 2] = (12, 34, 56, 0)  # fully transparent turns white, whatever its colour
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    out = build.composite_on_white(buf.getvalue())
    assert out.dtype == np.uint8 and out.shape == (64, 64, 3)
    assert out[0, 0].tolist() == [255, 0, 0] and out[0, 1].tolist() == [127, 127, 127]
    assert out[0, 2].tolist() == [255, 255, 255] and (out[1:] == 255).all()
    small = io.BytesIO()
    Image.fromarray(rgba[:32, :32], "RGBA").save(small, format="PNG")
    with pytest.raises(ValueError, match=r"expected a 64x64 image, got \(32, 32\)"):
        build.composite_on_white(small.getvalue(), "small.png")


def test_identical_images_keep_the_preferred_emoji_across_styles():
    a, b, c = (np.full((2, 2, 3), v, np.uint8) for v in (1, 2, 3))
    google = np.stack([a, b, a, c])  # 0 = 2 in google
    twitter = np.stack([a, b, c, b])  # 1 = 3 in twitter
    keep = build.keep_one_of_duplicates([google, twitter], [(2,), (1,), (0,), (0,)])
    assert keep.tolist() == [False, False, True, True]  # one of {0, 2} (the lowest preference), one of {1, 3}
    france = {"added_in": "0.6", "name": "France Flag", "sort_order": 20}
    clipperton = {"added_in": "2.0", "name": "Clipperton Island Flag", "sort_order": 10}
    norway, bouvet = ({"added_in": "2.0", "name": n, "sort_order": s} for n, s in (("Norway Flag", 9), ("Bouvet Island Flag", 1)))
    assert build.preference(france) < build.preference(clipperton)
    assert build.preference(norway) < build.preference(bouvet)


def test_the_bundle_has_no_duplicate_images_and_no_left_out_category(raw):
    for style in data.EMOJI_STYLES:
        digests = {hashlib.sha256(x.tobytes()).digest() for x in raw[style]}
        assert len(digests) == N_ALL, style
    assert "Component" not in raw["category_names"].tolist()
    skin = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}
    assert not any(skin & set(c.split("-")) for c in raw["google_codepoints"].tolist())  # no skin-tone variants


@pytest.mark.slow
def test_rebuild_from_cached_tarballs_gives_the_shipped_bytes(tmp_path):
    folder = os.environ.get("COURSE_EMOJI_TARBALLS")
    if not folder:
        pytest.skip("set COURSE_EMOJI_TARBALLS to a folder holding the two npm tarballs to rebuild the bundle")
    tarballs = [Path(folder) / build.PACKAGES[style].filename for style in ("google", "twitter")]
    out = build.main([*map(str, tarballs), "--out", str(tmp_path / BUNDLE.name)])
    assert data.sha256_of(out) == data.BUNDLED_EMOJI.sha256


def test_contact_sheet_shows_both_styles_per_category(raw, tmp_path):
    sheet = build.contact_sheet(raw["google"], raw["twitter"], raw["category"], per_category=4)
    assert sheet.shape == (9 * 2 * 64, 4 * 64, 3) and sheet.dtype == np.uint8
    first = np.flatnonzero(raw["category"] == 0)
    tile = sheet[:64, :64]
    i = next(i for i in first if np.array_equal(raw["google"][i], tile))  # the top-left tile is a smiley, in Noto
    np.testing.assert_array_equal(sheet[64:128, :64], raw["twitter"][i])  # and under it the same emoji in Twemoji
    with pytest.raises(ValueError, match="per_category must be at most"):
        build.contact_sheet(raw["google"], raw["twitter"], raw["category"], per_category=100)
    out = build.main(["--sheet", str(tmp_path / "sheet.png")])
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
