import os

import numpy as np
import pytest
from PIL import Image

from course_utils import viz


def test_image_grid_layout_and_range():
    imgs = np.stack([np.full((4, 5), v, np.uint8) for v in (0, 255, 0)])
    grid = viz.image_grid(imgs, ncols=2, pad=1)
    assert grid.shape == (2 * 5 + 1, 2 * 6 + 1)
    assert grid[1, 1] == 0.0 and grid[1, 7] == 1.0  # first image black, second white
    assert grid[0, 0] == 1.0  # padding
    assert grid[7, 8] == 1.0  # the empty fourth slot stays white


def test_image_grid_float_tanh_range_and_colour():
    imgs = np.full((2, 3, 3, 1), -1.0, np.float32)
    assert viz.image_grid(imgs).max() == 1.0 and viz.image_grid(imgs, pad=0).max() == 0.0
    colour = viz.image_grid(np.zeros((4, 3, 3, 3), np.float32))
    assert colour.ndim == 3 and colour.shape[-1] == 3


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 3, 3, 2)), r"expected images shaped .* got \(2, 3, 3, 2\)"),
    (np.zeros((0, 3, 3)), r"n >= 1, got \(0, 3, 3\)"),
    (np.array([["a"]]), "expected numeric images, got dtype <U1"),
])
def test_image_grid_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        viz.image_grid(bad)


def test_nan_images_are_reported():
    with pytest.raises(ValueError, match="NaN or infinite"):
        viz.image_grid(np.full((1, 2, 2), np.nan))


def test_bad_value_range_and_ncols():
    with pytest.raises(ValueError, match="value_range must be"):
        viz.image_grid(np.zeros((1, 2, 2)), value_range=(1, 0))
    with pytest.raises(ValueError, match="ncols must be a positive int, got 0"):
        viz.image_grid(np.zeros((1, 2, 2)), ncols=0)


def test_show_images_saves_png(tmp_path):
    fig = viz.show_images(np.zeros((3, 8, 8), np.uint8), labels=["a", "b", "c"], title="t", save=tmp_path / "g.png")
    assert len(fig.axes) == 3
    assert Image.open(tmp_path / "g.png").format == "PNG"
    with pytest.raises(ValueError, match="expected 3 labels \\(one per image\\), got 2"):
        viz.show_images(np.zeros((3, 8, 8), np.uint8), labels=["a", "b"])


def test_plot_history_panels_and_errors(tmp_path):
    fig = viz.plot_history({"d_loss": [1, 0.5], "g_loss": [2, 1], "fid": [50, 20]},
                           groups=[["d_loss", "g_loss"], ["fid"]], save=tmp_path / "h.png")
    assert len(fig.axes) == 2 and (tmp_path / "h.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no curve named 'acc'"):
        viz.plot_history({"loss": [1]}, keys=["acc"])
    with pytest.raises(ValueError, match="curve 'loss' is empty"):
        viz.plot_history({"loss": []})


def test_save_gif_frames_scale_and_atomic(tmp_path):
    frames = [viz.image_grid(np.full((4, 6, 6), v, np.uint8)) for v in (0, 128, 255)]
    path = viz.save_gif(frames, tmp_path / "sub" / "train.gif", scale=3)
    gif = Image.open(path)
    assert gif.n_frames == 3 and gif.size == (frames[0].shape[1] * 3, frames[0].shape[0] * 3)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["train.gif"]
    assert viz.show_gif(path).data[:6] == b"GIF89a"


def test_save_gif_bad_input(tmp_path):
    with pytest.raises(ValueError, match="at least one frame"):
        viz.save_gif([], tmp_path / "x.gif")
    with pytest.raises(ValueError, match="frame 0 is \\(2, 2\\), frame 1 is \\(3, 3\\)"):
        viz.save_gif([np.zeros((2, 2)), np.zeros((3, 3))], tmp_path / "x.gif")
    with pytest.raises(ValueError, match="no GIF at"):
        viz.show_gif(tmp_path / "missing.gif")


# --- issue 16: clear errors in place of confusing ones ------------------------------------------------

def test_plot_history_takes_one_key_as_a_string():
    fig = viz.plot_history({"d_loss": [1, 0.5], "g_loss": [2, 1]}, keys="d_loss")
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["d_loss"]
    fig = viz.plot_history({"d_loss": [1, 0.5], "fid": [9, 8]}, groups=[["d_loss"], "fid"])
    assert [[line.get_label() for line in ax.get_lines()] for ax in fig.axes] == [["d_loss"], ["fid"]]
    with pytest.raises(ValueError, match=r"curve names must be strings, got 3 \(int\)"):
        viz.plot_history({"d_loss": [1]}, keys=[3])


@pytest.mark.parametrize("ncols", [0, -2, 2.5, True])
def test_show_images_refuses_a_bad_ncols(ncols):
    with pytest.raises(ValueError, match=rf"ncols must be a positive int, got {ncols!r} \(images per row; None"):
        viz.show_images(np.zeros((3, 8, 8), np.uint8), ncols=ncols)


def test_show_images_accepts_a_numpy_int_ncols():
    assert len(viz.show_images(np.zeros((4, 8, 8), np.uint8), ncols=np.int64(2)).axes) == 4


def test_save_gif_refuses_a_scale_that_would_exhaust_memory(tmp_path, monkeypatch):
    frames = [np.zeros((28, 28))] * 3
    calls = []
    monkeypatch.setattr(np, "kron", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(ValueError, match=r"scale=3000 would make 3 frame\(s\) of 84,000 x 84,000 pixels \(21.17 GB "
                                         r"before encoding\); expected at most 4096 pixels a side .*use scale <= 146"):
        viz.save_gif(frames, tmp_path / "x.gif", scale=3000)
    assert calls == [] and not (tmp_path / "x.gif").exists()  # refused before any allocation
    monkeypatch.undo()
    path = viz.save_gif(frames, tmp_path / "ok.gif", scale=np.int64(2))
    assert Image.open(path).size == (56, 56)


@pytest.mark.parametrize("value_range", [(0, np.inf), (-np.inf, 1), (0.5, 0.5)])
def test_display_range_must_be_finite_and_wide(value_range):
    with pytest.raises(ValueError, match=r"value_range must be 'auto' or"):
        viz.to_display_range(np.zeros((1, 2, 2)), value_range)


def test_saved_figures_and_gifs_are_readable_by_others(tmp_path):
    old_mask = os.umask(0o022)
    try:
        png = viz.save_figure(viz.plot_history({"loss": [1, 2]}), tmp_path / "h.png")
        gif = viz.save_gif([np.zeros((4, 4))], tmp_path / "a.gif")
    finally:
        os.umask(old_mask)
    assert png.stat().st_mode & 0o777 == 0o644 and gif.stat().st_mode & 0o777 == 0o644


# ---- Convolution diagrams (lesson 02) ---------------------------------------------------------------------------

def _taps_by_windows(n, k, stride, padding, dilation, position):
    """An independent reading of the same geometry: number the padded cells, slide windows with NumPy."""
    size = n + 2 * padding
    index = np.arange(size * size).reshape(size, size)
    span = dilation * (k - 1) + 1
    windows = np.lib.stride_tricks.sliding_window_view(index, (span, span))[::stride, ::stride, ::dilation, ::dilation]
    cells = windows[position].ravel()
    return [tuple(int(v) for v in divmod(c, size)) for c in cells], windows.shape[0]


@pytest.mark.parametrize("n, k, stride, padding, dilation, position", [
    (5, 3, 1, 0, 1, (0, 0)), (5, 3, 1, 1, 1, (4, 2)), (5, 3, 2, 1, 1, (1, 2)), (7, 3, 1, 0, 2, (2, 1)),
    (6, 2, 3, 0, 1, (1, 1)), (4, 1, 1, 0, 1, (3, 0)), (6, 3, 2, 2, 2, (2, 2)),
])
def test_conv_taps_match_sliding_windows(n, k, stride, padding, dilation, position):
    taps, out = viz.conv_taps(n, k, stride=stride, padding=padding, dilation=dilation, position=position)
    assert (taps, out) == _taps_by_windows(n, k, stride, padding, dilation, position)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0, "k": 3}, "n must be an int >= 1, got 0"),
    ({"n": 5, "k": 3, "stride": 0}, "stride must be an int >= 1, got 0"),
    ({"n": 5, "k": 3, "padding": -1}, "padding must be an int >= 0, got -1"),
    ({"n": 5, "k": 3, "dilation": 3}, "a kernel spanning 7 cells does not fit an input of 5 cells padded by 0"),
    ({"n": 5, "k": 3, "position": (3, 0)}, r"position must be a pair of ints in \[0, 3\) for a 3x3 output"),
    ({"n": 5, "k": 2.0}, "k must be an int >= 1, got 2.0"),
])
def test_conv_taps_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz.conv_taps(**kwargs)


def test_draw_conv_diagram_draws_every_cell_and_marks_the_taps():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    out = viz.draw_conv_diagram(ax, 5, 3, stride=2, padding=1, position=(1, 1))
    assert out["out_size"] == 3 and out["padded_cells"] == 7 * 7 - 5 * 5
    assert len(ax.patches) == 7 * 7 + 3 * 3
    orange = [p for p in ax.patches if p.get_facecolor()[:3] == plt.matplotlib.colors.to_rgb("C1")]
    assert len(orange) == 9 + 1  # the 9 taps and the one output cell
    assert out["taps"][0] == (2, 2) and out["taps"][-1] == (4, 4)
    plt.close(fig)


def test_draw_matrix_writes_the_numbers_and_checks_highlights():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert viz.draw_matrix(ax, np.arange(6).reshape(2, 3), highlight=[(1, 2)]) == 6
    assert [t.get_text() for t in ax.texts] == ["0", "1", "2", "3", "4", "5"]
    with pytest.raises(ValueError, match=r"highlighted cells \[\(2, 0\)\] lie outside an array of shape \(2, 3\)"):
        viz.draw_matrix(ax, np.zeros((2, 3)), highlight=[(2, 0)])
    with pytest.raises(ValueError, match="non-empty 2-D array"):
        viz.draw_matrix(ax, np.zeros(3))
    plt.close(fig)


def test_floats_in_0_255_are_refused_in_auto_mode_not_clipped():
    x = np.random.default_rng(0).uniform(0, 255, (4, 8, 8)).astype(np.float32)
    with pytest.raises(ValueError, match=r"float images with values in \[.*\] .*value_range=\(0, 255\)"):
        viz.show_images(x)
    assert viz.to_display_range(x, (0, 255)).max() <= 1.0  # explicit range: fine
    slight = np.full((1, 4, 4), 1.2, np.float32)  # a small overshoot (noise, unclipped) is still shown, clipped
    assert viz.to_display_range(slight).max() == 1.0
