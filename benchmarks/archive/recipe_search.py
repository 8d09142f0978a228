#!/usr/bin/env python
"""The recipe search behind lesson 04's recipe (exploration code, kept as it was run; see recipe_search_record.py).

Usage: TF_ENABLE_ONEDNN_OPTS=0 taskset -c 0 python benchmarks/recipe_search.py train VARIANT BATCH LR STEPS
       python benchmarks/recipe_search.py time BATCH VARIANT...
"""
import os, sys, time, json
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, "/work/main")
import numpy as np, tensorflow as tf, keras
from keras import layers
from course_utils import lessons, data, device, evaluator
L = lessons.load_lesson_code("04_dcgan")
R = L["RECIPE"]

@keras.saving.register_keras_serializable(package="course")
class DepthToSpace(layers.Layer):
    def __init__(self, block=2, **kw):
        super().__init__(**kw); self.block = block
    def call(self, x):
        return tf.nn.depth_to_space(x, self.block)
    def get_config(self):
        return {**super().get_config(), "block": self.block}

def G_up(noise_dim=64, width=64, mode="upconv", k=4):
    seq = [keras.Input((noise_dim,)), layers.Dense(7 * 7 * 2 * width, use_bias=False), layers.BatchNormalization(), layers.ReLU(),
           layers.Reshape((7, 7, 2 * width))]
    if mode == "upconv":
        seq += [layers.UpSampling2D(2), layers.Conv2D(width, 3, padding="same", use_bias=False)]
    elif mode == "subpixel":
        seq += [layers.Conv2D(4 * width, 3, padding="same", use_bias=False), DepthToSpace(2)]
    elif mode == "subpixel2":
        seq += [layers.Conv2D(4 * width, 2, padding="same", use_bias=False), DepthToSpace(2)]
    elif mode == "convt":
        seq += [layers.Conv2DTranspose(width, k, strides=2, padding="same", use_bias=False)]
    seq += [layers.BatchNormalization(), layers.ReLU(), layers.Conv2DTranspose(1, 4, strides=2, padding="same"),
            layers.Activation("tanh", dtype="float32")]
    return keras.Sequential(seq)

def G_bnc(noise_dim=64, width=64, k=4):
    return keras.Sequential([keras.Input((noise_dim,)), layers.Dense(7 * 7 * 2 * width, use_bias=False),
        layers.Reshape((7, 7, 2 * width)), layers.BatchNormalization(), layers.ReLU(),
        layers.Conv2DTranspose(width, k, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.ReLU(), layers.Conv2DTranspose(1, 4, strides=2, padding="same"),
        layers.Activation("tanh", dtype="float32")])

VARIANTS = {
    "aug": lambda: (L["build_generator"](), D_aug()),
    "bnc": lambda: (G_bnc(), L["build_discriminator"]()),
    "bnc32": lambda: (G_bnc(width=32), L["build_discriminator"]()),
    "bnc48": lambda: (G_bnc(width=48), L["build_discriminator"]()),
    "base": lambda: (L["build_generator"](), L["build_discriminator"]()),
    "upconv": lambda: (G_up(mode="upconv"), L["build_discriminator"]()),
    "subpixel": lambda: (G_up(mode="subpixel"), L["build_discriminator"]()),
    "subpixel2": lambda: (G_up(mode="subpixel2"), L["build_discriminator"]()),
    "w48": lambda: (L["build_generator"](width=48), L["build_discriminator"]()),
    "w32": lambda: (L["build_generator"](width=32), L["build_discriminator"]()),
    "w32d24": lambda: (L["build_generator"](width=32), L["build_discriminator"](width=24)),
    "convt_k3": lambda: (G_up(mode="convt", k=3), L["build_discriminator"]()),
}

_G_OPT = []
_OPTS = []
def R_iters():
    return _G_OPT[0].iterations
@tf.function
def upd(e, g, it, dcy):
    k = float(os.environ.get("EMA_K", "4"))
    t = tf.cast(it, tf.float32)
    b = tf.minimum(dcy, (1.0 + t) / (k + t))
    for a, c in zip(e.weights, g.weights):
        a.assign_sub((1.0 - b) * (a - c))

@keras.saving.register_keras_serializable(package="course")
class Shift(layers.Layer):
    def __init__(self, pad=2, **kw):
        super().__init__(**kw); self.pad = pad
    def call(self, x, training=False):
        if not training: return x
        p = self.pad
        n = tf.shape(x)[0]
        xp = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], constant_values=-1.0)
        dx = tf.random.uniform([n], 0, 2 * p + 1, dtype=tf.int32)
        dy = tf.random.uniform([n], 0, 2 * p + 1, dtype=tf.int32)
        rows = dy[:, None] + tf.range(28)[None, :]
        cols = dx[:, None] + tf.range(28)[None, :]
        xp = tf.gather(xp, rows, axis=1, batch_dims=1)
        xp = tf.gather(xp, cols, axis=2, batch_dims=1)
        return xp
    def get_config(self):
        return {**super().get_config(), "pad": self.pad}

def D_aug():
    d = L["build_discriminator"]()
    return keras.Sequential([keras.Input((28, 28, 1)), Shift(2)] + d.layers)

def make(name, bs, lr=None):
    if os.environ.get("SHIFT"):
        L["translate"].__defaults__ = (int(os.environ["SHIFT"]),)
    if os.environ.get("EMA_DECAY"):
        L["update_ema"].__defaults__ = (float(os.environ["EMA_DECAY"]),)
    if lr: R["learning_rate"] = lr
    R["batch_size"] = bs
    for k, v in json.loads(os.environ.get("RECIPE_OVERRIDES", "{}")).items(): R[k] = v
    g, d = VARIANTS[name]()
    go, do = L["make_optimizers"]()
    if os.environ.get("BETA2"):
        go.beta_2 = float(os.environ["BETA2"]); do.beta_2 = float(os.environ["BETA2"])
    _G_OPT[:] = [go]
    _OPTS[:] = [go, do]
    ema = L["make_ema"](g)
    step = L["make_train_step"](g, d, go, do, ema=ema)
    return g, d, ema, step

if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "time":
        device.setup(0)
        x = data.to_float_images(data.load_mnist(verbose=False).x_train)
        for name in sys.argv[3:]:
            bs = int(sys.argv[2])
            g, d, ema, step = make(name, bs)
            b = tf.constant(x[:bs])
            for _ in range(15): float(step(b)["d_loss"])
            ts = []
            for r in range(3):
                t = time.perf_counter()
                for _ in range(40): out = step(b)
                float(out["d_loss"]); ts.append((time.perf_counter() - t) / 40 * 1000)
            print(name, bs, "ms/step", [round(v, 1) for v in ts], "params", g.count_params(), d.count_params(), flush=True)
    elif mode == "train":
        name, bs, lr, budget = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
        device.setup(42)
        x = data.to_float_images(data.load_mnist(verbose=False).x_train)
        g, d, ema, step = make(name, bs, lr)
        decays = [float(v) for v in os.environ.get("EMAS", "0.999,0.998").split(",")]
        emas = [L["make_ema"](g) for _ in decays]
        inner = step
        decay_steps = int(os.environ.get("DECAY", "0"))
        def step(batch):
            if decay_steps:
                frac = max(0.0, 1.0 - float(_G_OPT[0].iterations.numpy()) / decay_steps)
                for o in _OPTS: o.learning_rate.assign(lr * (0.1 + 0.9 * frac))
            out = inner(batch)
            for e, dcy in zip(emas, decays):
                upd(e, g, R_iters(), dcy)
            return out
        go = None
        judge = evaluator.load_evaluator()
        noise = tf.random.normal([2000, 64], seed=43)
        ds = iter(tf.data.Dataset.from_tensor_slices(x).repeat().shuffle(4000, seed=4).batch(bs, drop_remainder=True).prefetch(2))
        float(step(next(ds))["d_loss"])
        t_train, steps, nxt, curve = 0.0, 0, 500, []
        while steps < budget:
            t = time.perf_counter(); out = step(next(ds)); float(out["d_loss"]); t_train += time.perf_counter() - t; steps += 1
            if steps >= nxt:
                res = []
                for e in [ema] + emas:
                    imgs = L["sample"](e, noise)
                    res.append(round(judge.fid(imgs), 2))
                curve.append((round(t_train), steps, res)); nxt += 500
                print(name, bs, lr, curve[-1], flush=True)
        print("RESULT", json.dumps({"name": name, "bs": bs, "lr": lr, "curve": curve}))
