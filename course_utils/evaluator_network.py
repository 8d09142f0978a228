"""The digit evaluator's network: its architecture and the fixed recipe it was trained with.

A small MNIST CNN (two conv/pool blocks, a 64-unit feature layer, a 10-way softmax) used as a measuring instrument
for generated digits. :mod:`course_utils.evaluator_scoring` runs it and scores with it,
:mod:`course_utils.evaluator_files` writes and loads its shipped files, and :func:`course_utils.evaluator.train_evaluator`
trains it with :data:`RECIPE`.
"""

from __future__ import annotations

from dataclasses import dataclass

FEATURE_LAYER = "features"
FEATURE_DIM = 64
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class Recipe:
    """The fixed training recipe of the shipped evaluator.

    Introduced in 03_cnn_classifier.
    """

    seed: int = 1234
    epochs: int = 15
    batch_size: int = 64
    learning_rate: float = 1e-3
    dropout: float = 0.3


RECIPE = Recipe()


def build_model(dropout: float = RECIPE.dropout):
    """Build the evaluator CNN (untrained): two conv/pool blocks, a 64-unit feature layer, a 10-way softmax.

    The input is a float image in [0, 1] of shape (28, 28, 1). The layer named ``"features"`` (the
    penultimate, after its ReLU) gives the features used by :func:`fid`.

    Introduced in 03_cnn_classifier.

    Args:
        dropout: dropout rate before the last layer (active only in training).

    Returns:
        A ``keras.Sequential`` model (105,866 parameters).
    """
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=IMAGE_SHAPE),
        layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(FEATURE_DIM, activation="relu", name=FEATURE_LAYER),
        layers.Dropout(dropout, name="dropout"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="probs"),
    ], name="mnist_evaluator")
