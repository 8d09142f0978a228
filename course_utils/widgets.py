"""Widget plumbing the lessons share, kept out of the lessons so that their cells show the ideas, not the layout.

Only widgets common to ipywidgets 7.7 (Colab) and 8 are used. The drawing functions are the lesson's own, passed
in; this module only lays out controls and calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .validate import int_at_least

__all__ = ["latent_explorer"]


def latent_explorer(generators: Mapping[str, Any], draw_samples: Callable[..., Any],
                    walk_latent: Callable[..., Any], *, max_seed: int = 999) -> Any:
    """Two latent-space widgets: **draw** (32 samples for a seed) and **walk** (a point on the path between seeds).

    Introduced in 05_gan_engineering.

    Args:
        generators: menu label -> generator; the first is the default.
        draw_samples: ``draw_samples(generator, seed) -> (n, 28, 28, 1)`` images in [-1, 1].
        walk_latent: ``walk_latent(generator, seed_a, seed_b, t, mode) -> (28, 28, 1)`` image in [-1, 1].
        max_seed: the sliders' largest seed.

    Returns:
        An ``ipywidgets.VBox`` to display.

    Raises:
        ValueError: if ``generators`` is empty, a drawing function is not callable, or ``max_seed`` < 2.
    """
    if not isinstance(generators, Mapping) or not generators:
        raise ValueError(f"generators must be a non-empty mapping of label -> generator, got {generators!r}")
    if not callable(draw_samples) or not callable(walk_latent):
        raise ValueError(f"draw_samples and walk_latent must be callables, got {draw_samples!r} and {walk_latent!r}")
    max_seed = int_at_least(max_seed, 2, "max_seed")
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from . import viz

    labels = list(generators)

    def show_draw(seed: int, which: str) -> None:
        viz.show_images(draw_samples(generators[which], seed), ncols=16, size=0.7)
        plt.show()

    def show_walk(seed_a: int, seed_b: int, t: float, mode: str, which: str) -> None:
        fig, axes = plt.subplots(1, 3, figsize=(5, 1.9))
        chosen = generators[which]
        for ax, (tt, title) in zip(axes, [(0.0, f"seed {seed_a}"), (t, f"t = {t:.2f}"), (1.0, f"seed {seed_b}")]):
            ax.imshow(walk_latent(chosen, seed_a, seed_b, tt, mode)[..., 0], cmap="gray", vmin=-1, vmax=1)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        plt.show()

    def slider(value: int, label: str) -> Any:
        return widgets.IntSlider(value=value, min=0, max=max_seed, description=label, continuous_update=False)

    draw = {"seed": slider(0, "seed"), "which": widgets.Dropdown(options=labels, description="generator")}
    walk = {"which": widgets.Dropdown(options=labels, description="generator"),
            "seed_a": slider(1, "seed A"), "seed_b": slider(2, "seed B"),
            "t": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t"),
            "mode": widgets.Dropdown(options=["slerp", "linear"], value="slerp", description="path")}
    draw_out = widgets.interactive_output(show_draw, draw)
    walk_out = widgets.interactive_output(show_walk, walk)
    return widgets.VBox([widgets.HTML("<b>draw</b>"), widgets.HBox([draw["seed"], draw["which"]]), draw_out,
                         widgets.HTML("<b>walk</b>"), walk["which"], widgets.HBox([walk["seed_a"], walk["seed_b"]]),
                         widgets.HBox([walk["t"], walk["mode"]]), walk_out])
