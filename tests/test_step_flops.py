"""benchmarks/step_flops.py: FLOPs counted from a traced graph's shapes, checked against hand counts, and the peak."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.scripts import load_script

REPO = Path(__file__).resolve().parent.parent
sf = load_script(REPO / "benchmarks" / "step_flops.py")


def _graph_of_conv_step(batch=4, h=8, cin=3, cout=5, k=3, stride=1):
    import tensorflow as tf

    w = tf.Variable(tf.random.normal([k, k, cin, cout]))

    @tf.function
    def step(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, w, strides=stride, padding="SAME")
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, w])

    return step.get_concrete_function(tf.TensorSpec([batch, h, h, cin], tf.float32)).graph


def test_a_convolution_and_its_two_gradients_are_counted_as_three_equal_products():
    batch, h, cin, cout, k = 4, 8, 3, 5, 3
    graph = _graph_of_conv_step(batch, h, cin, cout, k)
    macs = batch * h * h * cout * k * k * cin
    counts = {op.type: sf.op_flops(op) for op in graph.get_operations() if op.type in sf.CONV_LIKE}
    assert counts == {"Conv2D": ("conv", 2 * macs), "Conv2DBackpropInput": ("conv", 2 * macs),
                      "Conv2DBackpropFilter": ("conv", 2 * macs)}
    total = sf.count_graph(graph)
    assert total["conv"] == 6 * macs and total["nested_calls"] == []


def test_a_strided_convolution_counts_its_output_positions_only():
    batch, h, cin, cout, k = 2, 8, 3, 4, 4
    graph = _graph_of_conv_step(batch, h, cin, cout, k, stride=2)
    conv = next(op for op in graph.get_operations() if op.type == "Conv2D")
    assert sf.op_flops(conv) == ("conv", 2 * batch * (h // 2) ** 2 * cout * k * k * cin)


def test_a_matrix_product_is_two_flops_per_multiply_add():
    import tensorflow as tf

    @tf.function
    def f(a, b):
        return tf.matmul(a, b, transpose_a=True)

    g = f.get_concrete_function(tf.TensorSpec([7, 3], tf.float32), tf.TensorSpec([7, 5], tf.float32)).graph
    mm = next(op for op in g.get_operations() if op.type == "MatMul")
    assert sf.op_flops(mm) == ("matmul", 2 * 3 * 5 * 7)


def test_an_unknown_batch_is_refused_rather_than_counted_as_zero():
    import tensorflow as tf

    w = tf.Variable(tf.ones([3, 3, 1, 2]))

    @tf.function
    def f(x):
        return tf.nn.conv2d(x, w, 1, "SAME")

    g = f.get_concrete_function(tf.TensorSpec([None, 8, 8, 1], tf.float32)).graph
    conv = next(op for op in g.get_operations() if op.type == "Conv2D")
    with pytest.raises(ValueError, match="shapes not fully known"):
        sf.op_flops(conv)


def test_peak_is_cores_times_lanes_times_fma_times_two_times_clock():
    p512 = sf.peak_gflops(2, {"avx2", "avx512f"})
    p256 = sf.peak_gflops(2, {"avx2"})
    assert p512["simd_fp32_lanes"] == 16 and p256["simd_fp32_lanes"] == 8
    assert math.isclose(p512["gflops"], 2 * 16 * 2 * 2 * p512["clock_mhz"] / 1000, rel_tol=1e-3)
    assert math.isclose(p512["gflops"], 2 * p256["gflops"], rel_tol=1e-3)
    assert "FMA units" in p512["assumptions"]
