#!/usr/bin/env python
"""The second recipe search (2026-12-01), which added the R1 penalty to lesson 04's recipe (exploration code, kept
as it was run).

Each run trains lesson 04's recipe as it was *before* R1 (its export cells, with ``r1_gamma`` unused: the
variants below bring their own update; the recorded runs had ``translate=2``, the recipe's value then: pass
``translate=2`` to reproduce them now that the recipe's is 0) with the changes named in VARIANT (``key=value`` pairs, comma-separated,
or ``base``), on one CPU with oneDNN forced off, and scores the weight-averaged generator every 500 steps (course
evaluator FID, 2,000 samples, against the 4,000 training digits). Keys: ``cutout=SIZE`` (DiffAugment cutout after
the shifts, ``fill`` default -1), ``dropout=P`` in D, ``sn=1`` spectral norm in D, ``mbstd=1`` minibatch std in D,
``discriminator_width``/``generator_width``, ``gdeep=1|2`` (an extra 3x3 convolution in G at 7x7 or 14x14),
``r1=GAMMA``, ``inoise=STD`` (instance noise), ``d_lr_scale``, and RECIPE's numbers (``lr_hold``, ``ema_decay``...).

Usage: TF_ENABLE_ONEDNN_OPTS=0 TF_NUM_INTRAOP_THREADS=1 taskset -c 0 \
           python benchmarks/recipe_search_r1.py run VARIANT SEED STEPS       # appends to --jsonl
       python benchmarks/recipe_search_r1.py record                            # writes figures/recipe_search_r1.json
The runs went two side by side (one per CPU) on a machine that was also running the test suite at times, so the
ms/step of the curves are not comparable between runs; the ``timing`` runs (600 steps, one CPU, the other CPU
busy with one training run) are.
"""
import os, sys, json, time, functools
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
JSONL = Path(os.environ.get("RECIPE_SEARCH_JSONL", "/tmp/recipe_search_r1.jsonl"))
RECORD = ROOT / "benchmarks" / "figures" / "recipe_search_r1.json"
from course_utils import device
device.configure_cpu()
import numpy as np, tensorflow as tf, keras
from keras import layers
from course_utils import lessons, data, evaluator

def cutout(images, seed, size, fill):
    n, s = tf.shape(images)[0], images.shape[1]
    starts = tf.random.stateless_uniform([2, n], seed, -(size // 2), s - size // 2 + 1, dtype=tf.int32)
    r = tf.range(s)[None, :]
    in_r = tf.cast((r >= starts[0][:, None]) & (r < starts[0][:, None] + size), images.dtype)
    in_c = tf.cast((r >= starts[1][:, None]) & (r < starts[1][:, None] + size), images.dtype)
    hole = (in_r[:, :, None] * in_c[:, None, :])[..., None]
    return images * (1 - hole) + fill * hole

class MinibatchStd(layers.Layer):
    def call(self, x):
        m = tf.reduce_mean(tf.sqrt(tf.math.reduce_variance(x, axis=0) + 1e-8))
        return tf.concat([x, tf.ones_like(x[..., :1]) * m], -1)

def D_var(L, width=32, dropout=0.0, sn=False, mbstd=False):
    R = L.RECIPE; k, slope = R["kernel_size"], R["leaky_slope"]
    def conv(f, kk):
        c = layers.Conv2D(f, kk, strides=2, padding="same")
        return layers.SpectralNormalization(c) if sn else c
    seq = [keras.Input((28, 28, 1))]
    for f, kk in ((width, k), (2 * width, k), (4 * width, 3)):
        seq += [conv(f, kk), layers.LeakyReLU(negative_slope=slope)]
        if dropout: seq.append(layers.Dropout(dropout))
        if mbstd and f == 2 * width: seq.append(MinibatchStd())
    seq += [layers.Flatten(), layers.Dense(1, dtype="float32")]
    return keras.Sequential(seq, name="discriminator")

def G_var(L, noise_dim, width, deep):
    k = L.RECIPE["kernel_size"]
    seq = [keras.Input((noise_dim,)), layers.Dense(7 * 7 * 2 * width, use_bias=False), layers.BatchNormalization(),
           layers.ReLU(), layers.Reshape((7, 7, 2 * width))]
    if deep == 1:
        seq += [layers.Conv2D(2 * width, 3, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU()]
    seq += [layers.Conv2DTranspose(width, k, strides=2, padding="same", use_bias=False), layers.BatchNormalization(),
            layers.ReLU()]
    if deep == 2:
        seq += [layers.Conv2D(width, 3, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU()]
    seq += [layers.Conv2DTranspose(1, k, strides=2, padding="same"), layers.Activation("tanh", dtype="float32")]
    return keras.Sequential(seq, name="generator")

def run(variant, seed, steps, eval_every=int(os.environ.get("EVAL_EVERY", 500)), fid_samples=2000):
    L = lessons.load_lesson_code("04_dcgan")
    opts = dict(kv.split("=") for kv in variant.split(",") if "=" in kv)
    R = L.RECIPE
    for key in ("learning_rate", "lr_final", "ema_decay", "real_label"):
        if key in opts: R[key] = float(opts[key])
    for key in ("lr_hold", "lr_decay", "batch_size", "generator_width", "discriminator_width", "translate"):
        if key in opts: R[key] = int(opts[key])
    if "ema_decay" in opts:
        L["update_ema"] = functools.partial(L.update_ema, decay=R["ema_decay"])
    if "real_label" in opts:
        L["discriminator_loss"] = functools.partial(L.discriminator_loss, real_label=R["real_label"])
    if "translate" in opts:
        L["translate"] = functools.partial(L.translate, shift=R["translate"])
    if "cutout" in opts:
        size, fill = int(opts["cutout"]), float(opts.get("fill", "-1"))
        base = L.translate
        def aug(images, seed, shift=None):
            return cutout(base(images, seed), seed + [7, 0], size, fill)
        L["translate"] = aug
    if not float(opts.get("r1", 0)) and not float(opts.get("inoise", 0)):
        L["gan_update"] = functools.partial(L.gan_update, r1_gamma=0.0) if "r1_gamma" in R else L.gan_update
    keras.utils.set_random_seed(seed)
    gen = (G_var(L, L.NOISE_DIM, R["generator_width"], int(opts["gdeep"])) if "gdeep" in opts
           else L.build_generator(width=R["generator_width"]))
    disc = D_var(L, R["discriminator_width"], float(opts.get("dropout", 0)), opts.get("sn") == "1", opts.get("mbstd") == "1")
    ema = L.make_ema(gen)
    g_opt, d_opt = L.make_optimizers()
    if "d_lr_scale" in opts:
        sc = float(opts["d_lr_scale"])
        d_opt = keras.optimizers.Adam(lambda: L.learning_rate(d_opt.iterations) * sc, beta_1=R["beta_1"])
    r1_gamma, noise_std = float(opts.get("r1", 0)), float(opts.get("inoise", 0))
    def update(gen, disc, g_opt, d_opt, real, noise):
        seed = tf.stack([tf.cast(d_opt.iterations, tf.int32), 0])
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            fake = gen(noise, training=True)
            ra, fa = L.translate(real, seed), L.translate(fake, seed + [0, 1])
            if noise_std:
                ra = ra + noise_std * tf.random.stateless_normal(tf.shape(ra), seed + [0, 5])
                fa = fa + noise_std * tf.random.stateless_normal(tf.shape(fa), seed + [0, 6])
            if r1_gamma:
                with tf.GradientTape() as r_tape:
                    r_tape.watch(ra)
                    real_logits = disc(ra, training=True)
                    total = tf.reduce_sum(real_logits)
                grad = r_tape.gradient(total, ra)
                r1 = tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]))
            else:
                real_logits, r1 = disc(ra, training=True), 0.0
            fake_logits = disc(fa, training=True)
            d_loss = L.discriminator_loss(real_logits, fake_logits)
            d_total = d_loss + 0.5 * r1_gamma * r1
            g_loss = L.generator_loss(fake_logits)
        d_opt.apply_gradients(zip(d_tape.gradient(d_total, disc.trainable_variables), disc.trainable_variables))
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, gen.trainable_variables), gen.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss, "d_real": tf.reduce_mean(tf.sigmoid(real_logits)),
                "d_fake": tf.reduce_mean(tf.sigmoid(fake_logits))}
    upd = update if (r1_gamma or noise_std) else L.gan_update
    @tf.function
    def step(real):
        noise = tf.random.normal([tf.shape(real)[0], L.NOISE_DIM])
        out = upd(gen, disc, g_opt, d_opt, real, noise)
        L.update_ema(ema, gen, g_opt.iterations)
        return out
    judge = evaluator.load_evaluator()
    x = data.to_float_images(data.load_mnist(verbose=False).x_train)
    rng = np.random.default_rng(seed); bs = R["batch_size"]
    score_noise = tf.random.normal([fid_samples, L.NOISE_DIM], seed=1000 + seed)
    float(step(tf.constant(x[:bs]))["d_loss"])
    curve, t, order, pos = [], 0.0, rng.permutation(len(x)), 0
    for i in range(1, steps + 1):
        if pos + bs > len(order): order, pos = rng.permutation(len(x)), 0
        b = tf.constant(x[order[pos:pos + bs]]); pos += bs
        s0 = time.perf_counter(); out = step(b); float(out["d_loss"]); t += time.perf_counter() - s0
        if i % eval_every == 0:
            imgs = L.sample(ema, score_noise)
            p = {"step": i, "t": round(t, 1), "fid": round(float(judge.fid(imgs)), 2),
                 "cov": int(judge.class_coverage(imgs).n_covered),
                 **{k: round(float(v), 3) for k, v in out.items()}}
            curve.append(p); print(variant, seed, p, flush=True)
    return {"variant": variant, "seed": seed, "ms_per_step": round(1000 * t / steps, 2), "curve": curve}

def record():
    import platform
    from course_utils import atomic
    runs = [json.loads(line) for line in JSONL.read_text().splitlines() if line.strip()]
    cfg = device.cpu_config()
    out = {"schema": "recipe_search/2", "date": "2026-12-01",
           "what": __doc__.split("\n\n")[1].replace("\n", " "),
           "machine": {"cpu": cfg.model, "flags": list(cfg.flags), "onednn": "0 (forced off)", "threads": 1,
                       "python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__},
           "timing_runs": [r for r in runs if r["curve"][-1]["step"] == 600],
           "runs": [r for r in runs if r["curve"][-1]["step"] > 600]}
    atomic.write_text(RECORD, json.dumps(out, indent=1) + "\n")
    print(f"wrote {RECORD} ({len(out['runs'])} runs, {len(out['timing_runs'])} timing runs)")


if __name__ == "__main__":
    if sys.argv[1] == "record":
        record()
    else:
        variant, seed, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        res = run(variant, seed, steps)
        with open(JSONL, "a") as f: f.write(json.dumps(res) + "\n")
