"""Receptive field of a stack of convolution and pooling layers, along one spatial axis.

A layer with kernel ``k``, stride ``s``, dilation ``d`` and ``p`` pixels of padding before the input, applied
after layers whose outputs are ``j`` input pixels apart (the *jump*), gives

    size_out  = size_in + d * (k - 1) * j
    jump_out  = j * s
    start_out = start_in + (d * (k - 1) / 2 - p) * j

with ``size = jump = 1`` and ``start = 0`` for the input itself. ``start`` is the input coordinate (in pixels,
0 = the centre of the first pixel) of the centre of the first output pixel's receptive field.

Used in 02_convolution_and_pooling and again for the discriminators of the GAN lessons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .validate import int_at_least


@dataclass(frozen=True)
class LayerSpec:
    """One layer as the receptive-field recurrence sees it (one spatial axis).

    Introduced in 02_convolution_and_pooling.

    Attributes:
        kernel: kernel (or pooling window) size, >= 1 (a Python or NumPy integer; stored as ``int``).
        stride: stride, >= 1.
        dilation: dilation, >= 1 (1 for pooling).
        padding: pixels of padding before the input (affects only ``start``), >= 0.
        name: a label for printing.
    """

    kernel: int
    stride: int = 1
    dilation: int = 1
    padding: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        note = f"layer {self.name!r}" if self.name else ""
        for field_name, at_least in (("kernel", 1), ("stride", 1), ("dilation", 1), ("padding", 0)):
            value = int_at_least(getattr(self, field_name), at_least, field_name, note=note)
            object.__setattr__(self, field_name, value)  # NumPy integers (np.int64(3)) become ints


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field after a stack of layers, along one axis.

    Introduced in 02_convolution_and_pooling.

    Attributes:
        size: number of input pixels one output pixel depends on.
        jump: distance in input pixels between neighbouring output pixels (product of the strides).
        start: input coordinate of the centre of the first output pixel's receptive field.
    """

    size: int
    jump: int
    start: float


LayerLike = LayerSpec | Sequence[int] | Mapping[str, Any]


def _as_spec(layer: LayerLike, index: int) -> LayerSpec:
    if isinstance(layer, LayerSpec):
        return layer
    if isinstance(layer, Mapping):
        unknown = set(layer) - {"kernel", "stride", "dilation", "padding", "name"}
        if unknown or "kernel" not in layer:
            raise ValueError(f"layer {index}: expected a mapping with 'kernel' and optionally 'stride', 'dilation', "
                             f"'padding', 'name', got keys {sorted(layer)}")
        return LayerSpec(**layer)
    if isinstance(layer, Sequence) and not isinstance(layer, str) and 1 <= len(layer) <= 4:
        return LayerSpec(*layer)
    raise ValueError(f"layer {index}: expected a LayerSpec, a (kernel, stride[, dilation[, padding]]) tuple or a "
                     f"mapping, got {layer!r}")


def receptive_fields(layers: Iterable[LayerLike]) -> list[ReceptiveField]:
    """Receptive field after each layer of a stack, in order.

    Introduced in 02_convolution_and_pooling.

    Args:
        layers: the stack, input first. Each item is a :class:`LayerSpec`, a tuple
            ``(kernel, stride[, dilation[, padding]])`` or a mapping with those keys.

    Returns:
        One :class:`ReceptiveField` per layer.

    Raises:
        ValueError: if ``layers`` is empty or a layer is malformed (non-positive kernel, stride or dilation,
            negative padding, wrong type).

    Example:
        >>> [f.size for f in receptive_fields([(3, 1), (3, 1), (2, 2)])]
        [3, 5, 6]
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Iterable):
        raise ValueError(f"expected a sequence of layers, got {type(layers).__name__}")
    specs = [_as_spec(layer, i) for i, layer in enumerate(layers)]
    if not specs:
        raise ValueError("expected at least one layer, got an empty stack")
    size, jump, start = 1, 1, 0.0
    fields = []
    for spec in specs:
        span = spec.dilation * (spec.kernel - 1)
        size += span * jump
        start += (span / 2 - spec.padding) * jump
        jump *= spec.stride
        fields.append(ReceptiveField(size=size, jump=jump, start=start))
    return fields


def receptive_field(layers: Iterable[LayerLike]) -> ReceptiveField:
    """Receptive field of the last layer of a stack (see :func:`receptive_fields`).

    Introduced in 02_convolution_and_pooling.

    Args:
        layers: the stack, input first.

    Returns:
        The :class:`ReceptiveField` of the last layer's output pixels.

    Raises:
        ValueError: as :func:`receptive_fields`.
    """
    return receptive_fields(layers)[-1]


def from_keras(model: Any, axis: int = 0) -> list[LayerSpec]:
    """The spatial layers of a Keras model as :class:`LayerSpec` items, for :func:`receptive_field`.

    Reads ``Conv2D``, ``DepthwiseConv2D``, ``MaxPooling2D`` and ``AveragePooling2D`` layers, also inside nested
    models (a ``Sequential`` used as a layer); skips layers that do not change the spatial geometry (activations,
    normalisation, dropout) and the head (flatten, dense, global pooling). For ``"same"`` padding it records the
    pixels TensorFlow adds before the input, ``max(d*(k-1)+1 - s, 0) // 2`` (exact when the input size is a
    multiple of the stride); padding only affects ``start``.

    Introduced in 02_convolution_and_pooling.

    Args:
        model: a built ``keras.Model``: Sequential, or functional as long as it is a single chain of layers.
        axis: 0 for rows (height), 1 for columns (width).

    Returns:
        One :class:`LayerSpec` per spatial layer, in order.

    Raises:
        ValueError: if ``axis`` is not 0 or 1, ``model`` is not a Keras model, it has no convolution or pooling
            layer, it is not a single chain (parallel branches, skip connections, several inputs or outputs,
            shared layers), or it holds a layer the recurrence does not cover (upsampling, transposed
            convolution, cropping, explicit zero padding, separable convolution).
    """
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (height) or 1 (width), got {axis!r}")
    if not hasattr(model, "layers"):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    specs = _specs_of(model, axis)
    if not specs:
        raise ValueError(f"model {getattr(model, 'name', '')!r} has no Conv2D or pooling layers")
    return specs


def _not_a_chain(model: Any, layer: Any, why: str) -> ValueError:
    return ValueError(f"model {model.name!r} is not a single chain of layers: layer {layer.name!r} "
                      f"({type(layer).__name__}) {why} (parallel branches, a skip connection, several inputs or a "
                      "shared layer). The receptive-field recurrence covers one chain: pass the layers of one path "
                      "to receptive_field() as LayerSpec items instead")


def _chain(model: Any) -> list:
    """The layers of ``model`` in order, after checking that each one takes the previous one's output."""
    import keras

    if isinstance(model, keras.Sequential) or not hasattr(model, "inputs"):
        return list(model.layers)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise _not_a_chain(model, model, f"has {len(model.inputs)} inputs and {len(model.outputs)} outputs")
    current, chain = model.inputs[0], []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        # The node by which this model calls the layer (a nested model also has a node of its own graph).
        nodes = [n for n in layer._inbound_nodes if any(t is current for t in n.input_tensors)]
        if len(nodes) != 1 or len(nodes[0].input_tensors) != 1 or len(nodes[0].output_tensors) != 1:
            raise _not_a_chain(model, layer, "does not take exactly the previous layer's output")
        current = nodes[0].output_tensors[0]
        chain.append(layer)
    if current is not model.outputs[0]:
        raise _not_a_chain(model, chain[-1] if chain else model, "is not the model's output")
    return chain


def _spatial_shape(layer: Any, which: str) -> tuple | None:
    """The (height, width) of a layer's input or output, None when it is not an image (or not known)."""
    try:
        shape = tuple(getattr(layer, which).shape)
    except (AttributeError, ValueError, TypeError, RuntimeError):
        return None
    return shape[1:3] if len(shape) == 4 else None


def _specs_of(model: Any, axis: int) -> list[LayerSpec]:
    import keras

    L = keras.layers  # noqa: N806 - the Keras module's own spelling
    specs = []
    for outer in _chain(model):
        layer = outer
        while isinstance(layer, L.Wrapper):  # SpectralNormalization(Conv2D(...)), TimeDistributed, ...
            layer = layer.layer
        kind = type(layer).__name__
        if isinstance(layer, keras.Model) and not hasattr(layer, "kernel_size"):  # a nested model: its own chain
            specs += _specs_of(layer, axis)
            continue
        if isinstance(layer, (L.Conv2DTranspose, L.UpSampling2D, L.Cropping2D, L.ZeroPadding2D, L.SeparableConv2D)):
            raise ValueError(f"layer {outer.name!r} ({kind}) is not supported by the receptive-field recurrence")
        if isinstance(layer, (L.Conv2D, L.DepthwiseConv2D)):
            kernel, stride, dilation = layer.kernel_size[axis], layer.strides[axis], layer.dilation_rate[axis]
        elif isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
            kernel, stride, dilation = layer.pool_size[axis], layer.strides[axis], 1
        else:
            before, after = _spatial_shape(outer, "input"), _spatial_shape(outer, "output")
            if before is not None and after is not None and before != after:
                raise ValueError(f"layer {outer.name!r} ({type(outer).__name__}) changes the spatial size, "
                                 f"{before} -> {after}, and the receptive-field recurrence does not know how: expected "
                                 "Conv2D, DepthwiseConv2D, MaxPooling2D or AveragePooling2D (or a layer that keeps "
                                 "the size). Pass the layers as LayerSpec items to receptive_field() instead")
            continue
        padding = max(dilation * (kernel - 1) + 1 - stride, 0) // 2 if layer.padding == "same" else 0
        specs.append(LayerSpec(int(kernel), int(stride), int(dilation), int(padding), layer.name))
    return specs


def _vgg16_layers() -> tuple[LayerSpec, ...]:
    specs = []
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1):
        specs += [LayerSpec(3, 1, 1, 1, f"conv{block}_{i}") for i in range(1, convs + 1)]
        specs.append(LayerSpec(2, 2, 1, 0, f"pool{block}"))
    return tuple(specs)


VGG16_LAYERS: tuple[LayerSpec, ...] = _vgg16_layers()
"""VGG-16's convolution and pooling layers (Simonyan and Zisserman 2015): 3x3 convolutions padded by 1, 2x2 pooling.
Receptive field of pool5: 212 pixels (Araujo et al., Distill 2019)."""

ALEXNET_LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec(11, 4, 1, 0, "conv1"), LayerSpec(3, 2, 1, 0, "pool1"),
    LayerSpec(5, 1, 1, 2, "conv2"), LayerSpec(3, 2, 1, 0, "pool2"),
    LayerSpec(3, 1, 1, 1, "conv3"), LayerSpec(3, 1, 1, 1, "conv4"), LayerSpec(3, 1, 1, 1, "conv5"),
    LayerSpec(3, 2, 1, 0, "pool5"),
)
"""AlexNet's convolution and pooling layers (Krizhevsky et al. 2012). Receptive field of pool5: 195 pixels
(Araujo et al., Distill 2019)."""
