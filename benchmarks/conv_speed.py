"""Time the convolutions of 02_convolution_and_pooling against TensorFlow on a realistic layer.

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/conv_speed.py [--repeats 15] [--full-loops]

Layer: a batch of 8 images of 64x64 pixels with 16 channels, 32 filters of 3x3, "same" padding, float32.
Each figure is the minimum over ``--repeats`` runs (the run least disturbed by other programs); TensorFlow and
the vectorized version take turns, so load from other programs hits both alike. The loop version
is timed on one image's 16x16 corner and scaled by the number of output values (its cost is proportional to
them); ``--full-loops`` also runs it once on the whole batch.

NumPy's matrix product runs on several OpenBLAS threads; on a machine whose cores are busy with other programs,
those threads wait for each other and the vectorized time can jump several-fold. Measure on a quiet machine, or
compare with ``OPENBLAS_NUM_THREADS=1`` (set before Python starts) for a single-thread figure. The functions are the lesson's own
(cells tagged ``export``), loaded with ``course_utils.lessons.load_lesson_code``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from course_utils.validate import int_option


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int_option(1), default=15, help="runs per timing; the minimum is reported")
    parser.add_argument("--full-loops", action="store_true", help="also run the loop version on the whole batch")
    args = parser.parse_args()

    import tensorflow as tf

    from course_utils.lessons import load_lesson_code

    lesson = load_lesson_code("02_convolution_and_pooling")
    conv_loops, conv_vec, best_times = lesson.conv2d_loops, lesson.conv2d_vectorized, lesson.best_times

    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 64, 64, 16)).astype(np.float32)
    w = (rng.standard_normal((3, 3, 16, 32)) / np.sqrt(3 * 3 * 16)).astype(np.float32)
    x_tf, w_tf = tf.constant(x), tf.constant(w)

    y_tf = tf.nn.conv2d(x_tf, w_tf, strides=1, padding="SAME").numpy()   # warm-up and reference
    err_vec = float(np.max(np.abs(conv_vec(x, w, padding="same") - y_tf)))
    t_tf, t_vec = best_times([lambda: tf.nn.conv2d(x_tf, w_tf, strides=1, padding="SAME").numpy(),
                              lambda: conv_vec(x, w, padding="same")], args.repeats)
    x_slice = x[:1, :16, :16]
    scale = x[..., 0].size / x_slice[..., 0].size
    (t_slice,) = best_times([lambda: conv_loops(x_slice, w, padding="same")], max(1, args.repeats // 5))
    t_loops = t_slice * scale

    print(f"layer: input {x.shape}, kernel {w.shape}, padding 'same', float32; {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f}; minimum of {args.repeats} runs")
    print(f"TensorFlow tf.nn.conv2d   {t_tf * 1e3:9.2f} ms")
    print(f"vectorized (im2col)       {t_vec * 1e3:9.2f} ms   {t_vec / t_tf:6.1f}x TensorFlow   "
          f"max abs error {err_vec:.1e}")
    print(f"loops, extrapolated       {t_loops * 1e3:9.0f} ms   {t_loops / t_vec:6.0f}x vectorized   "
          f"({t_slice * 1e3:.1f} ms on {x_slice.shape} x {scale:.0f})")
    if args.full_loops:
        start = time.perf_counter()
        y_loops = conv_loops(x, w, padding="same")
        t_full = time.perf_counter() - start
        err_loops = float(np.max(np.abs(y_loops - y_tf)))
        print(f"loops, whole batch once   {t_full * 1e3:9.0f} ms   {t_full / t_vec:6.0f}x vectorized   "
              f"max abs error {err_loops:.1e}")
    print(f"within 5x of TensorFlow: {t_vec <= 5 * t_tf}; loops >= 50x slower than vectorized: {t_loops >= 50 * t_vec}")


if __name__ == "__main__":
    main()
