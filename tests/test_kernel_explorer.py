"""course_utils.kernel_explorer: the widget of lesson 02's kernel explorer, driven without a browser."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from course_utils import kernel_explorer  # noqa: E402

PRESETS = {"identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]], "double": [[0, 0, 0], [0, 2, 0], [0, 0, 0]]}


def _apply(image, kernel, stride, padding, pooling, pool_size):
    return image[::stride, ::stride] * kernel[1, 1]  # enough to see which controls reach the function


def test_controls_reach_the_function():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    box, controls = kernel_explorer.build_kernel_explorer(image, _apply, PRESETS, paddings=("valid", "same"),
                                                          poolings=("none", "max"), default="double")
    assert [c.value for c in controls["cells"]][4] == 2.0
    assert np.array_equal(controls["update"](), image * 2)
    controls["stride"].value = 2
    assert controls["shape"].value == "input (4, 4) -> output (2, 2)"
    controls["preset"].value = "identity"
    assert np.array_equal(controls["update"](), image[::2, ::2])


@pytest.mark.parametrize("image, presets, default, message", [
    (np.zeros(4), PRESETS, "identity", r"expected a 2-D grey image, got shape \(4,\)"),
    (np.zeros((4, 4)), {"bad": [[1, 2], [3, 4]]}, "bad", r"every preset must be a 3x3 kernel; not 3x3: \['bad'\]"),
    (np.zeros((4, 4)), PRESETS, "blur", r"default must be one of \['identity', 'double'\], got 'blur'"),
])
def test_bad_input_is_refused(image, presets, default, message):
    with pytest.raises(ValueError, match=message):
        kernel_explorer.build_kernel_explorer(image, _apply, presets, paddings=("same",), poolings=("none",),
                                              default=default)
