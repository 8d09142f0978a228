"""course_utils.degrade: each degradation does what it says, keeps shape and dtype, and refuses bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import degrade

RNG = np.random.default_rng(0)
GREY = RNG.uniform(0.2, 0.8, (32, 40)).astype(np.float32)
COLOUR = RNG.uniform(0.2, 0.8, (16, 24, 3)).astype(np.float32)
BATCH = RNG.uniform(0.2, 0.8, (5, 12, 8, 1)).astype(np.float32)


@pytest.mark.parametrize("images", [GREY, COLOUR, BATCH], ids=["grey", "colour", "batch"])
@pytest.mark.parametrize("fn", [lambda x: degrade.gaussian_noise(x, 0.1, seed=1),
                                lambda x: degrade.salt_and_pepper(x, 0.1, seed=1),
                                lambda x: degrade.gaussian_blur(x, 1.0)], ids=["noise", "salt", "blur"])
def test_shape_dtype_and_range_are_kept(images, fn):
    out = fn(images)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out, images)


def test_gaussian_noise_has_the_asked_spread_and_is_seeded():
    x = np.full((200, 200), 0.5, np.float64)
    noisy = degrade.gaussian_noise(x, 0.05, seed=3)
    assert abs((noisy - x).std() - 0.05) < 0.002 and abs((noisy - x).mean()) < 0.002
    assert np.array_equal(noisy, degrade.gaussian_noise(x, 0.05, seed=3))
    assert not np.array_equal(noisy, degrade.gaussian_noise(x, 0.05, seed=4))
    assert np.array_equal(degrade.gaussian_noise(x, 0.0), x)
    unclipped = degrade.gaussian_noise(np.zeros((50, 50)), 0.1, clip=False)
    assert unclipped.min() < 0  # without clipping the noise goes below black
    assert degrade.gaussian_noise(np.zeros((50, 50)), 0.1).min() == 0.0


def test_salt_and_pepper_hits_the_asked_fraction_with_pure_black_and_white():
    x = np.full((100, 100, 3), 0.5, np.float32)
    out = degrade.salt_and_pepper(x, 0.2, seed=0, salt_vs_pepper=0.25)
    hit = np.any(out != 0.5, axis=-1)
    assert abs(hit.mean() - 0.2) < 0.02
    values = out[hit]
    assert np.all((values == 0.0) | (values == 1.0))
    assert np.all(values.min(axis=-1) == values.max(axis=-1))  # all channels of a hit pixel alike
    assert abs((values[:, 0] == 1.0).mean() - 0.25) < 0.05
    assert np.array_equal(degrade.salt_and_pepper(x, 0.0), x)


def test_blur_keeps_the_mean_smooths_and_never_mixes_images():
    x = np.zeros((2, 21, 21, 1), np.float32)
    x[0, 10, 10, 0] = 1.0  # an impulse in the first image only
    out = degrade.gaussian_blur(x, 2.0)
    assert np.allclose(out[0].sum(), 1.0, atol=1e-4)  # energy kept
    assert np.all(out[1] == 0.0)  # nothing leaked into the second image
    assert 0 < out[0, 10, 10, 0] < 1.0 and out[0, 10, 13, 0] > 0
    profile = out[0, 10, :, 0]
    expected = np.exp(-(np.arange(21) - 10) ** 2 / (2 * 2.0 ** 2))
    assert np.allclose(profile / profile.max(), expected, atol=0.02)  # a Gaussian of sigma 2
    flat = np.full((9, 9), 0.3, np.float32)
    assert np.allclose(degrade.gaussian_blur(flat, 3.0), 0.3)
    assert np.array_equal(degrade.gaussian_blur(GREY, 0.0), GREY)


@pytest.mark.parametrize("kind, size", [("box", 0.5), ("lines", 0.2), ("pixels", 0.3)])
def test_masks_lose_about_the_asked_share(kind, size):
    mask = degrade.make_mask((40, 40), kind, size, seed=2)
    assert mask.dtype == bool and mask.shape == (40, 40)
    share = mask.mean()
    target = size ** 2 if kind == "box" else size
    assert abs(share - target) < 0.06, share
    assert np.array_equal(mask, degrade.make_mask((40, 40), kind, size, seed=2))


def test_box_mask_is_one_square():
    mask = degrade.make_mask((28, 28), "box", 0.5, seed=7)
    rows, cols = np.where(mask)
    assert rows.max() - rows.min() + 1 == 14 and cols.max() - cols.min() + 1 == 14 and mask.sum() == 14 * 14


def test_apply_mask_fills_only_the_holes():
    mask = degrade.make_mask((12, 8), "box", 0.5, seed=0)
    out = degrade.apply_mask(BATCH, mask, fill=0.0)
    assert np.all(out[:, mask] == 0.0) and np.array_equal(out[:, ~mask], BATCH[:, ~mask])
    per_image = np.stack([degrade.make_mask((12, 8), "pixels", 0.3, seed=i) for i in range(5)])
    out = degrade.apply_mask(BATCH, per_image, fill=1.0)
    assert np.all(out[per_image] == 1.0) and np.array_equal(out[~per_image], BATCH[~per_image])
    colour_mask = np.zeros((16, 24), bool)
    colour_mask[:4] = True
    out = degrade.apply_mask(COLOUR, colour_mask)
    assert np.all(out[:4] == 0) and np.array_equal(out[4:], COLOUR[4:])


def test_downsample_averages_blocks():
    x = np.arange(16, dtype=np.float64).reshape(4, 4) / 15
    small = degrade.downsample(x, 2)
    expected = np.array([[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]]) / 4 / 15
    assert np.allclose(small, expected)
    assert degrade.downsample(BATCH, 4).shape == (5, 3, 2, 1)
    assert degrade.downsample(COLOUR, 4).shape == (4, 6, 3)
    assert np.allclose(degrade.downsample(COLOUR, 2)[1, 2], COLOUR[2:4, 4:6].mean(axis=(0, 1)), atol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: degrade.gaussian_noise(GREY * 255, 0.1), r"values in \[0, 1\]"),
    (lambda: degrade.gaussian_noise((GREY * 255).astype(np.uint8), 0.1), "float images"),
    (lambda: degrade.gaussian_noise(np.full((4, 4), np.nan), 0.1), "finite"),
    (lambda: degrade.gaussian_noise(np.zeros(5), 0.1), "shape"),
    (lambda: degrade.gaussian_noise(np.zeros((5, 6, 7)), 0.1), "c <= 4"),
    (lambda: degrade.gaussian_noise(GREY, -0.1), r"sigma must be in \[0, 1\]"),
    (lambda: degrade.gaussian_noise(GREY, "0.1"), "finite number"),
    (lambda: degrade.gaussian_noise(GREY, 0.1, seed=-1), "seed"),
    (lambda: degrade.gaussian_noise(GREY, 0.1, seed=1.5), "seed"),
    (lambda: degrade.salt_and_pepper(GREY, 1.5), "amount"),
    (lambda: degrade.salt_and_pepper(GREY, 0.1, salt_vs_pepper=2), "salt_vs_pepper"),
    (lambda: degrade.gaussian_blur(GREY, 50), "sigma"),
    (lambda: degrade.gaussian_blur(GREY, float("inf")), "finite"),
    (lambda: degrade.make_mask((28, 28), "circle"), "kind"),
    (lambda: degrade.make_mask((28,), "box"), "shape"),
    (lambda: degrade.make_mask((2, 28), "box"), "shape"),
    (lambda: degrade.make_mask((28, 28), "box", 0.0), "size"),
    (lambda: degrade.make_mask((28, 28), "box", 1.0), "size"),
    (lambda: degrade.apply_mask(GREY, np.zeros((32, 40))), "bool"),
    (lambda: degrade.apply_mask(GREY, np.zeros((32, 41), bool)), "shape"),
    (lambda: degrade.apply_mask(BATCH, np.zeros((4, 12, 8), bool)), "shape"),
    (lambda: degrade.apply_mask(GREY, np.zeros((32, 40), bool), fill=2), "fill"),
    (lambda: degrade.downsample(GREY, 3), "multiples of factor 3"),
    (lambda: degrade.downsample(GREY, 1), "factor"),
    (lambda: degrade.downsample(GREY, 2.0), "factor"),
    (lambda: degrade.downsample(GREY, True), "factor"),
])
def test_bad_arguments_are_refused_with_a_message(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- issue 24: channels-first input is refused, not read as 28-channel images --------------------------------

@pytest.mark.parametrize("call", [lambda x: degrade.gaussian_blur(x, 1.5), lambda x: degrade.gaussian_noise(x, 0.1),
                                  lambda x: degrade.salt_and_pepper(x, 0.1), lambda x: degrade.downsample(x, 2)],
                         ids=["gaussian_blur", "gaussian_noise", "salt_and_pepper", "downsample"])
def test_channels_first_batches_are_refused(call):
    x = np.random.default_rng(0).random((4, 28, 28))
    with pytest.raises(ValueError, match=r"channels-first .*\(4, 1, 28, 28\).*channels last"):
        call(x[:, None])
    with pytest.raises(ValueError, match=r"\(n, h, w, c\) with c <= 4 channels, got shape \(4, 3, 28, 28\)"):
        call(np.repeat(x[:, None], 3, axis=1))
