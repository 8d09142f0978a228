"""Plots the lessons share: image grids, training curves and animated GIFs (shown inline, savable).

Nothing here changes matplotlib's global style. Every function returns what it drew, so a test can
check it without a screen.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import atomic
from .ranges import check_value_range
from .validate import int_at_least, positive_number

MAX_GIF_SIDE = 4096
"""Largest width or height, in pixels, of a GIF frame after scaling (GIF itself stops at 65,535)."""
MAX_GIF_BYTES = 512 << 20
"""Most memory, in bytes, the scaled frames of one GIF may take before encoding."""


def _check_ncols(ncols) -> int:
    return int_at_least(ncols, 1, "ncols", expected="a positive int", note="images per row; None for about sqrt(n)")


def _as_image_batch(images: np.ndarray) -> np.ndarray:
    """Return images as float (n, h, w, c) with c in {1, 3}; accept (h, w), (n, h, w) and (n, h, w, c)."""
    arr = original = np.asarray(images)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"expected numeric images, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3) or arr.shape[0] == 0:
        raise ValueError(f"expected images shaped (n, h, w), (n, h, w, 1) or (n, h, w, 3) with n >= 1, got {original.shape}")
    return arr


def to_display_range(images: np.ndarray, value_range: tuple[float, float] | str = "auto") -> np.ndarray:
    """Map images to float32 in [0, 1] for display.

    Introduced in 00_start_here.

    Args:
        images: image batch (see :func:`image_grid`).
        value_range: ``(low, high)`` of the input, or ``"auto"``: uint8 -> (0, 255); float with negatives
            -> (-1, 1); other floats -> (0, 1).

    Returns:
        float32 array of the same shape, clipped to [0, 1].

    Raises:
        ValueError: if the range is not a pair of finite numbers with low < high, ``images`` holds NaN/inf, or
            with ``"auto"``, float images reach beyond [-1.5, 1.5] (e.g. floats in [0, 255]: they would be clipped).
    """
    arr = np.asarray(images)
    if isinstance(value_range, str) and value_range == "auto":
        if np.issubdtype(arr.dtype, np.integer):
            value_range = (0.0, 255.0)
        else:
            value_range = (-1.0, 1.0) if arr.size and float(np.min(arr)) < 0 else (0.0, 1.0)
            if arr.size and np.all(np.isfinite(arr)) and (float(np.min(arr)) < -1.5 or float(np.max(arr)) > 1.5):
                raise ValueError(f"float images with values in [{float(np.min(arr)):.4g}, {float(np.max(arr)):.4g}]: "
                                 "value_range='auto' reads floats as [0, 1] or [-1, 1] and would clip them; pass "
                                 "value_range=(0, 255) for floats in [0, 255], or the range they are in")
    low, high = check_value_range(value_range)
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError("images contain NaN or infinite values; training may have diverged")
    return np.clip((arr - low) / (high - low), 0.0, 1.0)


def image_grid(images: np.ndarray, ncols: int | None = None, *, pad: int = 1,
               value_range: tuple[float, float] | str = "auto") -> np.ndarray:
    """Tile a batch of images into one array (rows x cols), in [0, 1].

    Introduced in 04_dcgan.

    Args:
        images: (n, h, w), (n, h, w, 1) or (n, h, w, 3).
        ncols: images per row (default: about sqrt(n)).
        pad: pixels of padding between images (value 1, white).
        value_range: see :func:`to_display_range`.

    Returns:
        float32 array (H, W) for one channel or (H, W, 3) for colour.

    Raises:
        ValueError: on a bad shape, dtype, ``ncols`` or ``pad``.
    """
    batch = _as_image_batch(images)
    n, h, w, c = batch.shape
    ncols = int(np.ceil(np.sqrt(n))) if ncols is None else _check_ncols(ncols)
    if not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"pad must be a non-negative int, got {pad!r}")
    ncols = min(int(ncols), n)
    nrows = int(np.ceil(n / ncols))
    batch = to_display_range(batch, value_range)
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top:top + h, left:left + w] = batch[i]
    return grid[..., 0] if c == 1 else grid


def show_images(images: np.ndarray, ncols: int | None = None, *, title: str | None = None,
                labels: Sequence[str] | None = None, value_range: tuple[float, float] | str = "auto",
                size: float = 0.9, save: str | os.PathLike | None = None):
    """Show a batch of images as a grid (with optional per-image labels) and optionally save it as PNG.

    Introduced in 00_start_here.

    Args:
        images: (n, h, w), (n, h, w, 1) or (n, h, w, 3).
        ncols: images per row.
        title: figure title.
        labels: one short caption per image (drawn under each one).
        value_range: see :func:`to_display_range`.
        size: inches per image.
        save: path of a PNG to write (written atomically).

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: on bad images, ``ncols`` not a positive int, or when ``labels`` does not have one entry per image.
    """
    import matplotlib.pyplot as plt

    batch = _as_image_batch(images)
    n = batch.shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(f"expected {n} labels (one per image), got {len(labels)}")
    ncols = min(int(np.ceil(np.sqrt(n))) if ncols is None else _check_ncols(ncols), n)
    nrows = int(np.ceil(n / ncols))
    disp = to_display_range(batch, value_range)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * (1.25 if labels else 1.0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            fig.delaxes(ax)
        else:
            img = disp[i, ..., 0] if disp.shape[-1] == 1 else disp[i]
            ax.imshow(img, cmap="gray" if disp.shape[-1] == 1 else None, vmin=0, vmax=1)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if save is not None:
        save_figure(fig, save)
    return fig


def plot_history(history: Mapping[str, Sequence[float]], keys: Sequence[str] | None = None, *,
                 title: str | None = None, xlabel: str = "step", groups: Sequence[Sequence[str]] | None = None,
                 save: str | os.PathLike | None = None):
    """Plot training curves from a dict of lists (e.g. ``keras.callbacks.History.history``).

    Introduced in 03_cnn_classifier.

    Args:
        history: name -> sequence of values.
        keys: which curves to draw (default: all), in one panel; one name (``"d_loss"``) or a list of names;
            ignored when ``groups`` is given.
        title: figure title.
        xlabel: label of the x axis.
        groups: several panels side by side, each a list of keys or one key (e.g. ``[["d_loss", "g_loss"], "fid"]``).
        save: path of a PNG to write (written atomically).

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: if a key is missing or not a string, or a curve is empty.
    """
    import matplotlib.pyplot as plt

    if not isinstance(history, Mapping):
        raise ValueError(f"history must be a mapping of name -> list of values, got {type(history).__name__}")
    def as_names(value) -> list:
        return [value] if isinstance(value, str) else list(value)

    panels = [as_names(g) for g in groups] if groups else [as_names(keys) if keys else list(history)]
    for key in (k for panel in panels for k in panel):
        if not isinstance(key, str):
            raise ValueError(f"curve names must be strings, got {key!r} ({type(key).__name__})")
        if key not in history:
            raise ValueError(f"no curve named {key!r}; available: {sorted(history)}")
        if len(history[key]) == 0:
            raise ValueError(f"curve {key!r} is empty")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.2), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        for key in panel:
            ax.plot(np.arange(1, len(history[key]) + 1), np.asarray(history[key], dtype=float), label=key)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if save is not None:
        save_figure(fig, save)
    return fig


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG, atomically (a crash never leaves half a file).

    Introduced in 01_gan_objective.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return atomic.write_bytes(path, buf.getvalue())


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, *, duration_ms: int = 200,
             scale: int = 2, value_range: tuple[float, float] | str = "auto", loop: int = 0) -> Path:
    """Write an animated GIF from frames (each an image or a grid from :func:`image_grid`), atomically.

    Introduced in 04_dcgan.

    Args:
        frames: sequence of 2-D (grey) or (h, w, 3) arrays, all the same shape.
        path: where to write (parent folders are created).
        duration_ms: time per frame.
        scale: integer upscaling factor (nearest neighbour), so small digits are visible.
        value_range: see :func:`to_display_range` (frames from ``image_grid`` are already in [0, 1]).
        loop: 0 = loop forever.

    Returns:
        The path written.

    Raises:
        ValueError: if there are no frames, they differ in shape, or an argument is out of range (``scale`` so
            large that a frame would exceed ``MAX_GIF_SIDE`` pixels a side, or all frames ``MAX_GIF_BYTES``).
    """
    from PIL import Image

    if len(frames) == 0:
        raise ValueError("expected at least one frame, got none")
    scale = int_at_least(scale, 1, "scale", expected="a positive int")
    positive_number(duration_ms, "duration_ms", expected="a positive number of milliseconds")
    shape = np.shape(frames[0])
    if len(shape) in (2, 3):  # checked before anything is allocated: a huge scale must not exhaust memory
        height, width = shape[0] * scale, shape[1] * scale
        total = height * width * (shape[2] if len(shape) == 3 else 1) * len(frames)
        if max(height, width) > MAX_GIF_SIDE or total > MAX_GIF_BYTES:
            fit = max(1, min(MAX_GIF_SIDE // max(shape[0], shape[1], 1),
                             int((MAX_GIF_BYTES / max(total / scale**2, 1)) ** 0.5)))
            raise ValueError(f"scale={scale} would make {len(frames)} frame(s) of {height:,} x {width:,} pixels "
                             f"({total / 1e9:.2f} GB before encoding); expected at most {MAX_GIF_SIDE} pixels a side and "
                             f"{MAX_GIF_BYTES >> 20} MB in all: use scale <= {fit}")
    pil = []
    for i, frame in enumerate(frames):
        if np.shape(frame) != shape:
            raise ValueError(f"all frames must have the same shape: frame 0 is {shape}, frame {i} is {np.shape(frame)}")
        if len(shape) not in (2, 3) or (len(shape) == 3 and shape[-1] != 3):
            raise ValueError(f"expected frames of shape (h, w) or (h, w, 3), got {shape}")
        arr = (to_display_range(frame, value_range) * 255).round().astype(np.uint8)
        if scale > 1:
            arr = np.kron(arr, np.ones((scale, scale) + (1,) * (arr.ndim - 2), dtype=np.uint8))
        pil.append(Image.fromarray(arr))
    buf = io.BytesIO()
    pil[0].save(buf, format="GIF", save_all=True, append_images=pil[1:], duration=duration_ms, loop=loop)
    return atomic.write_bytes(path, buf.getvalue())


def show_gif(path: str | os.PathLike):
    """Display a GIF inline in a notebook (returns an ``IPython.display.Image``).

    Introduced in 04_dcgan.

    Raises:
        ValueError: if the file does not exist.
    """
    from IPython.display import Image as IPImage

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no GIF at {path}")
    return IPImage(data=path.read_bytes(), format="gif")


# ---- Diagrams of convolution (lesson 02) -------------------------------------------------------------------------


def conv_taps(n: int, k: int, *, stride: int = 1, padding: int = 0, dilation: int = 1,
              position: tuple[int, int] = (0, 0)) -> tuple[list[tuple[int, int]], int]:
    """The input cells one output of a square convolution reads, and the output's size.

    For an ``n x n`` input with ``padding`` zeros on every side, a ``k x k`` kernel, ``stride`` s and
    ``dilation`` d, output ``(i, j)`` reads the padded cells ``(i s + u d, j s + v d)`` for ``u, v`` in
    ``0 .. k-1``, and the output has ``floor((n + 2p - d(k - 1) - 1) / s) + 1`` rows and columns.

    Introduced in 02_convolution_and_pooling (through ``viz.draw_conv_diagram``, which draws what it computes).

    Args:
        n: input size (>= 1).
        k: kernel size (>= 1).
        stride: step between windows (>= 1).
        padding: zeros added on each side (>= 0).
        dilation: spacing between kernel taps (>= 1).
        position: the output cell ``(row, column)``.

    Returns:
        ``(taps, out_size)``: the ``k * k`` cells ``(row, column)`` in padded coordinates (row by row, as the
        kernel's taps) and the output size.

    Raises:
        ValueError: if an argument is not an int in range, the kernel does not fit the padded input, or
            ``position`` lies outside the output.
    """
    n, k = int_at_least(n, 1, "n"), int_at_least(k, 1, "k")
    stride, dilation = int_at_least(stride, 1, "stride"), int_at_least(dilation, 1, "dilation")
    padding = int_at_least(padding, 0, "padding")
    span = dilation * (k - 1) + 1
    if span > n + 2 * padding:
        raise ValueError(f"a kernel spanning {span} cells does not fit an input of {n} cells padded by {padding}")
    out = (n + 2 * padding - span) // stride + 1
    if (not isinstance(position, (tuple, list)) or len(position) != 2
            or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) and 0 <= p < out for p in position)):
        raise ValueError(f"position must be a pair of ints in [0, {out}) for a {out}x{out} output, got {position!r}")
    i, j = (int(p) for p in position)
    taps = [(i * stride + u * dilation, j * stride + v * dilation) for u in range(k) for v in range(k)]
    return taps, out


def draw_conv_diagram(ax, n: int, k: int, *, stride: int = 1, padding: int = 0, dilation: int = 1,
                      position: tuple[int, int] = (0, 0), title: str | None = None) -> dict:
    """Draw an input grid (padding grey), the cells one output reads (orange), and the output grid beside it.

    Introduced in 02_convolution_and_pooling.

    Args:
        ax: a matplotlib axis to draw on (its axes are turned off).
        n, k, stride, padding, dilation, position: as in :func:`conv_taps`.
        title: the axis title; by default the settings and the output size.

    Returns:
        ``{"taps": ..., "out_size": ...}`` from :func:`conv_taps`, plus ``"padded_cells"``, the number of grey
        padding cells drawn.

    Raises:
        ValueError: as :func:`conv_taps`.
    """
    from matplotlib.patches import Rectangle

    taps, out = conv_taps(n, k, stride=stride, padding=padding, dilation=dilation, position=position)
    size = n + 2 * padding
    tap_set, padded_cells = set(taps), 0
    for r in range(size):
        for c in range(size):
            is_pad = not (padding <= r < padding + n and padding <= c < padding + n)
            padded_cells += is_pad
            face = "C1" if (r, c) in tap_set else ("0.85" if is_pad else "white")
            ax.add_patch(Rectangle((c, -r - 1), 1, 1, facecolor=face, edgecolor="0.4", lw=0.8))
    left, top = size + 1.5, -(size - out) / 2
    for r in range(out):
        for c in range(out):
            face = "C1" if (r, c) == tuple(position) else "white"
            ax.add_patch(Rectangle((left + c, top - r - 1), 1, 1, facecolor=face, edgecolor="0.4", lw=0.8))
    ax.text(size / 2, 0.4, f"input {n}x{n}" + (f", padding {padding}" if padding else ""), ha="center", fontsize=8)
    ax.text(left + out / 2, top + 0.4, f"output {out}x{out}", ha="center", fontsize=8)
    ax.set(xlim=(-0.5, left + out + 0.5), ylim=(-size - 0.5, 1.5), aspect="equal")
    ax.axis("off")
    ax.set_title(title if title is not None else f"k={k}, stride {stride}, padding {padding}, dilation {dilation}",
                 fontsize=9)
    return {"taps": taps, "out_size": out, "padded_cells": padded_cells}


def draw_matrix(ax, values, *, highlight: Sequence[tuple[int, int]] = (), title: str | None = None,
                fmt: str = "{:g}") -> int:
    """Draw a 2-D array as a table of numbers; the cells in ``highlight`` are coloured orange.

    Introduced in 02_convolution_and_pooling.

    Args:
        ax: a matplotlib axis (its axes are turned off).
        values: a 2-D array.
        highlight: cells ``(row, column)`` to colour; each must lie inside the array.
        title: the axis title.
        fmt: how each number is written.

    Returns:
        The number of cells drawn.

    Raises:
        ValueError: if ``values`` is not 2-D and non-empty, or a highlighted cell lies outside it.
    """
    from matplotlib.patches import Rectangle

    arr = np.asarray(values)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"values must be a non-empty 2-D array, got shape {arr.shape}")
    marked = {tuple(int(v) for v in cell) for cell in highlight}
    outside = [cell for cell in marked if not (0 <= cell[0] < arr.shape[0] and 0 <= cell[1] < arr.shape[1])]
    if outside:
        raise ValueError(f"highlighted cells {sorted(outside)} lie outside an array of shape {arr.shape}")
    for r in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            face = "C1" if (r, c) in marked else "white"
            ax.add_patch(Rectangle((c, -r - 1), 1, 1, facecolor=face, edgecolor="0.3", lw=0.8))
            ax.text(c + 0.5, -r - 0.5, fmt.format(arr[r, c]), ha="center", va="center", fontsize=9)
    ax.set(xlim=(-0.1, arr.shape[1] + 0.1), ylim=(-arr.shape[0] - 0.1, 0.1), aspect="equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return arr.size
