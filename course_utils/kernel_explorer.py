"""The widget of lesson 02's kernel explorer: controls wired to a function that applies a kernel to an image.

What the explorer computes is the lesson's own ``explore_kernel``; this module only builds the controls
(ipywidgets 7.7 and 8) and redraws, so that the lesson's cells stay short.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np


def build_kernel_explorer(image: np.ndarray, apply_kernel: Callable[..., np.ndarray],
                          presets: Mapping[str, Sequence[Sequence[float]]], *, paddings: Sequence[str],
                          poolings: Sequence[str], default: str) -> tuple[object, dict]:
    """Build the kernel explorer: a preset menu, a 3x3 grid of numbers, stride, padding and pooling controls.

    Every change calls ``apply_kernel(image, kernel, stride, padding, pooling, pool_size)`` and shows the input
    and the result side by side.

    Introduced in 02_convolution_and_pooling.

    Args:
        image: a 2-D grey image.
        apply_kernel: the function that computes the result (the lesson's ``explore_kernel``).
        presets: name -> 3x3 kernel.
        paddings: the padding modes offered.
        poolings: the pooling modes offered.
        default: the preset shown first (a key of ``presets``).

    Returns:
        ``(box, controls)``: the widget to display and a dict of its controls, with ``"update"`` (redraw now,
        returning the result) for tests.

    Raises:
        ValueError: if ``image`` is not 2-D, a preset is not 3x3, or ``default`` is not a preset.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    if np.ndim(image) != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {np.shape(image)}")
    bad = [name for name, k in presets.items() if np.shape(k) != (3, 3)]
    if bad or not presets:
        raise ValueError(f"every preset must be a 3x3 kernel; not 3x3: {bad}")
    if default not in presets:
        raise ValueError(f"default must be one of {list(presets)}, got {default!r}")
    preset = widgets.Dropdown(options=list(presets), value=default, description="preset")
    cells = [widgets.FloatText(value=0.0, layout=widgets.Layout(width="70px")) for _ in range(9)]
    stride = widgets.IntSlider(value=1, min=1, max=4, description="stride")
    padding = widgets.Dropdown(options=list(paddings), value=paddings[-1], description="padding")
    pooling = widgets.Dropdown(options=list(poolings), value=poolings[0], description="pooling")
    pool_size = widgets.IntSlider(value=2, min=2, max=4, description="pool size")
    apply = widgets.Button(description="apply kernel")
    shape, output = widgets.Label(), widgets.Output()
    state = {"filling": False}

    def update(*_):
        if state["filling"]:
            return None
        kernel = np.array([c.value for c in cells], np.float32).reshape(3, 3)
        result = apply_kernel(image, kernel, stride.value, padding.value, pooling.value, pool_size.value)
        shape.value = f"input {image.shape} -> output {result.shape}"
        output.clear_output(wait=True)
        with output:
            fig, axes = plt.subplots(1, 2, figsize=(6, 3.5), dpi=72)
            for ax, img, name in zip(axes, (image, result), ("input", "output")):
                ax.imshow(img, cmap="gray")
                ax.set_title(f"{name} {img.shape}")
                ax.axis("off")
            plt.show()
        return result

    def fill_preset(*_):
        state["filling"] = True          # nine value changes, one redraw
        for cell, value in zip(cells, np.ravel(presets[preset.value])):
            cell.value = float(value)
        state["filling"] = False
        update()

    preset.observe(fill_preset, names="value")
    for control in (*cells, stride, padding, pooling, pool_size):
        control.observe(update, names="value")
    apply.on_click(update)
    grid = widgets.GridBox(cells, layout=widgets.Layout(grid_template_columns="repeat(3, 80px)"))
    box = widgets.VBox([widgets.HBox([widgets.VBox([preset, grid, apply]),
                                      widgets.VBox([stride, padding, pooling, pool_size])]), shape, output])
    fill_preset()
    controls = {"preset": preset, "cells": cells, "stride": stride, "padding": padding, "pooling": pooling,
                "pool_size": pool_size, "apply": apply, "shape": shape, "output": output, "update": update}
    return box, controls
