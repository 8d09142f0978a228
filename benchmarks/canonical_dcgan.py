"""The canonical DCGAN recipe (Radford et al., 2016), sized for 28x28, as the time-to-quality benchmark's peer.

The hyperparameters are those of the paper as the PyTorch ``examples/dcgan`` script and d2l's DCGAN chapter use
them: Adam(2e-4, beta_1=0.5) for both networks; batch norm in G and in D except D's input layer; 4x4 stride-2
(transposed) convolutions without biases; ReLU in G, LeakyReLU(0.2) in D; tanh output; weights drawn from
N(0, 0.02) (batch-norm scales from N(1, 0.02)); noise of 100; batch 128; binary cross-entropy, the generator with
the non-saturating target. The PyTorch script's 64x64 stack (4 -> 8 -> 16 -> 32 -> 64, 64·2^k channels) is cut to the
two upsamplings that 28x28 needs: a 7x7 projection, then 14x14 and 28x28, with 256 -> 128 channels (ngf = 64,
as in the script). Its discriminator mirrors it: 64 -> 128 channels, then a 7x7 convolution to one logit.

The update is the script's: one discriminator step on a real batch and a separate fake batch (batch norm sees
each batch alone), then one generator step through the *updated* discriminator on the same fakes.
``benchmarks/time_to_quality.py`` checks the parameter counts below.
"""

from __future__ import annotations

CANONICAL = {
    "source": "Radford, Metz & Chintala (2016); the PyTorch examples/dcgan script and d2l's DCGAN chapter",
    "batch_size": 128,
    "noise_dim": 100,
    "learning_rate": 2e-4,
    "beta_1": 0.5,
    "optimizer": "Adam(2e-4, beta_1=0.5) for both networks",
    "loss": "binary cross-entropy from logits; D: real->1, fake->0 on separate batches; G: fake->1",
    "leaky_relu_negative_slope": 0.2,
    "init": "conv weights N(0, 0.02); batch-norm gamma N(1, 0.02), beta 0",
    "update": "alternating: D step, then G step through the updated D (as the PyTorch script)",
    "ngf": 64,
    "ndf": 64,
}
CANONICAL_G_PARAMS = 1_782_272
CANONICAL_D_PARAMS = 138_880


def _init():
    import keras

    return keras.initializers.RandomNormal(0.0, 0.02), keras.initializers.RandomNormal(1.0, 0.02)


def build_canonical_generator():
    """100 -> 7x7x256 (a 7x7 transposed convolution of the 1x1 noise) -> 14x14x128 -> 28x28x1, BN + ReLU, tanh."""
    import keras
    from keras import layers

    w, gamma = _init()
    ngf = CANONICAL["ngf"]
    return keras.Sequential([
        keras.Input(shape=(CANONICAL["noise_dim"],)),
        layers.Reshape((1, 1, CANONICAL["noise_dim"])),
        layers.Conv2DTranspose(ngf * 4, 7, strides=1, padding="valid", use_bias=False, kernel_initializer=w),
        layers.BatchNormalization(gamma_initializer=gamma),
        layers.ReLU(),
        layers.Conv2DTranspose(ngf * 2, 4, strides=2, padding="same", use_bias=False, kernel_initializer=w),
        layers.BatchNormalization(gamma_initializer=gamma),
        layers.ReLU(),
        layers.Conv2DTranspose(1, 4, strides=2, padding="same", use_bias=False, kernel_initializer=w,
                               activation="tanh"),
    ], name="canonical_generator")


def build_canonical_discriminator():
    """28x28x1 -> 14x14x64 (no batch norm on the input layer) -> 7x7x128 (BN) -> one logit (a 7x7 convolution)."""
    import keras
    from keras import layers

    w, gamma = _init()
    ndf, slope = CANONICAL["ndf"], CANONICAL["leaky_relu_negative_slope"]
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(ndf, 4, strides=2, padding="same", use_bias=False, kernel_initializer=w),
        layers.LeakyReLU(negative_slope=slope),
        layers.Conv2D(ndf * 2, 4, strides=2, padding="same", use_bias=False, kernel_initializer=w),
        layers.BatchNormalization(gamma_initializer=gamma),
        layers.LeakyReLU(negative_slope=slope),
        layers.Conv2D(1, 7, strides=1, padding="valid", use_bias=False, kernel_initializer=w),
        layers.Flatten(),
    ], name="canonical_discriminator")


def make_canonical_optimizers():
    """Adam(2e-4, beta_1=0.5) for each network."""
    import keras

    def adam():
        return keras.optimizers.Adam(CANONICAL["learning_rate"], beta_1=CANONICAL["beta_1"])

    return adam(), adam()


def make_canonical_train_step(generator, discriminator, g_opt, d_opt, *, jit_compile: bool = False):
    """One D step (real and fake batches apart), then one G step through the updated D; the contract's metrics."""
    import keras
    import tensorflow as tf

    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    batch_size, noise_dim = CANONICAL["batch_size"], CANONICAL["noise_dim"]

    @tf.function(jit_compile=jit_compile)
    def train_step(images):
        noise = tf.random.normal([batch_size, noise_dim])
        with tf.GradientTape() as g_tape:
            fake = generator(noise, training=True)
            with tf.GradientTape() as d_tape:
                real_logits = discriminator(images, training=True)
                fake_logits = discriminator(tf.stop_gradient(fake), training=True)
                d_loss = (bce(tf.ones_like(real_logits), real_logits)
                          + bce(tf.zeros_like(fake_logits), fake_logits))
            d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
            d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables))
            g_logits = discriminator(fake, training=True)  # the updated D, as in the PyTorch script
            g_loss = bce(tf.ones_like(g_logits), g_logits)
        g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
        g_opt.apply_gradients(zip(g_grads, generator.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss,
                "d_real": tf.reduce_mean(tf.sigmoid(tf.cast(real_logits, tf.float32))),
                "d_fake": tf.reduce_mean(tf.sigmoid(tf.cast(fake_logits, tf.float32)))}

    return train_step
