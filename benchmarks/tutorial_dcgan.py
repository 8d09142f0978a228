"""The TensorFlow DCGAN tutorial's recipe, re-implemented for the time-to-quality benchmark.

From https://www.tensorflow.org/tutorials/generative/dcgan: its generator and discriminator, Adam(1e-4) for both,
binary cross-entropy from logits, batch 256, noise 100, and its ``train_step`` (two tapes), returning the metrics
the benchmark records. ``benchmarks/time_to_quality.py`` checks the parameter counts below.
"""

from __future__ import annotations

# The tutorial's recipe, as its text and code give it.
TUTORIAL = {
    "source": "https://www.tensorflow.org/tutorials/generative/dcgan",
    "batch_size": 256,
    "noise_dim": 100,
    "learning_rate": 1e-4,
    "optimizer": "Adam(1e-4) for both networks (Keras defaults otherwise: beta_1=0.9)",
    "loss": "BinaryCrossentropy(from_logits=True); D: real->1 + fake->0, G: fake->1",
    "leaky_relu_negative_slope": 0.3,
    "dropout": 0.3,
}
TUTORIAL_G_PARAMS = 2_330_944
TUTORIAL_D_PARAMS = 212_865


def build_tutorial_generator():
    """The tutorial's ``make_generator_model``: 7x7x256 -> 7x7x128 -> 14x14x64 -> 28x28x1, no biases.

    LeakyReLU is written with ``negative_slope=0.3``, the Keras default the tutorial relies on (it calls
    ``layers.LeakyReLU()`` without an argument; tf.keras 2's ``alpha`` default was also 0.3).
    """
    import keras
    from keras import layers

    slope = TUTORIAL["leaky_relu_negative_slope"]
    return keras.Sequential([
        keras.Input(shape=(TUTORIAL["noise_dim"],)),
        layers.Dense(7 * 7 * 256, use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=slope),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=slope),
        layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=slope),
        layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh"),
    ], name="tutorial_generator")


def build_tutorial_discriminator():
    """The tutorial's ``make_discriminator_model``: two strided 5x5 convolutions with dropout, then one logit."""
    import keras
    from keras import layers

    slope = TUTORIAL["leaky_relu_negative_slope"]
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=slope),
        layers.Dropout(TUTORIAL["dropout"]),
        layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=slope),
        layers.Dropout(TUTORIAL["dropout"]),
        layers.Flatten(),
        layers.Dense(1),
    ], name="tutorial_discriminator")


def make_tutorial_optimizers():
    """``tf.keras.optimizers.Adam(1e-4)`` for each network, as in the tutorial."""
    import keras

    return keras.optimizers.Adam(TUTORIAL["learning_rate"]), keras.optimizers.Adam(TUTORIAL["learning_rate"])


def make_tutorial_train_step(generator, discriminator, g_opt, d_opt, *, jit_compile: bool = False):
    """The tutorial's ``train_step`` (two tapes, BCE from logits), returning the course contract's metrics."""
    import keras
    import tensorflow as tf

    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    batch_size, noise_dim = TUTORIAL["batch_size"], TUTORIAL["noise_dim"]

    def discriminator_loss(real_output, fake_output):
        real_loss = cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    @tf.function(jit_compile=jit_compile)
    def train_step(images):
        noise = tf.random.normal([batch_size, noise_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        g_opt.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        d_opt.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))
        return {"d_loss": disc_loss, "g_loss": gen_loss,
                "d_real": tf.reduce_mean(tf.sigmoid(tf.cast(real_output, tf.float32))),
                "d_fake": tf.reduce_mean(tf.sigmoid(tf.cast(fake_output, tf.float32)))}

    return train_step
