"""The checks of lesson 07's exercises: the lesson's solutions, the references and other right answers (float32,
TensorFlow) pass; plausible wrong answers fail with the mistake named; nbgrader's stub is reported as not attempted;
the DDPM references agree with the lesson's own q_sample, training loss and sampler."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from course_utils.checks import ExerciseError
from course_utils.exercises import trends as ex
from course_utils.lessons import load_lesson_code


@pytest.fixture(scope="module")
def lesson():
    return load_lesson_code("07_trends_and_challenges")


def _stub(*_args, **_kwargs):
    raise NotImplementedError()


def _direction(z, labels, source, target):
    labels = np.asarray(labels)
    if not (np.any(labels == source) and np.any(labels == target)):
        raise ValueError("a class without samples")
    return ex.reference_class_mean_direction(z, labels, source, target)


# --- the lesson's solutions and the references --------------------------------------------------------

def test_the_lesson_solutions_pass(lesson, capsys):
    assert ex.check_diffaugment_views(lesson.diffaugment_views) is True
    assert ex.check_ddpm_training(lesson.q_sample_np, lesson.ddpm_loss) is True
    assert ex.check_ddpm_step_back(lesson.ddpm_step_back) is True
    assert ex.check_class_mean_direction(lesson.class_mean_direction) is True
    out = capsys.readouterr().out
    assert all(f"Correct: {n}" in out for n in ("diffaugment_views", "q_sample_np", "ddpm_loss", "ddpm_step_back",
                                                 "class_mean_direction"))


def test_the_references_pass():
    assert ex.check_diffaugment_views(ex.reference_diffaugment_views) is True
    assert ex.check_ddpm_training(ex.reference_q_sample, ex.reference_ddpm_loss) is True
    assert ex.check_ddpm_step_back(ex.reference_ddpm_step_back) is True
    assert ex.check_class_mean_direction(_direction) is True


def test_stubs_are_not_attempted(capsys):
    assert ex.check_diffaugment_views(_stub) is False
    assert ex.check_ddpm_training(_stub, _stub) is False
    assert ex.check_ddpm_training(ex.reference_q_sample, _stub) is False
    assert ex.check_ddpm_step_back(_stub) is False
    assert ex.check_class_mean_direction(_stub) is False
    err = capsys.readouterr().err
    assert all(f"Exercise {n}: not attempted yet" in err for n in (1, 2, 3, 4))


# --- exercise 1: DiffAugment's views --------------------------------------------------------------------

def test_diffaugment_views_accepts_float32_and_tensorflow_answers(lesson):
    def tf_views(real, fake, draws, size):  # the lesson's translate with the offsets the shifts stand for
        def t(images, which):
            images = tf.constant(images, tf.float32)
            s = images.shape[1]
            padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]], constant_values=-1.0)
            off = tf.constant(draws[f"{which}_shifts"] + 2, tf.int32)
            rows = off[:, :1] + tf.range(s)[None, :]
            cols = off[:, 1:] + tf.range(images.shape[2])[None, :]
            moved = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
            return lesson.cutout(moved, draws[f"{which}_centers"], size)

        fv = t(fake, "fake")
        return {"d_real": t(real, "real"), "d_fake": fv, "g_fake": fv}

    assert ex.check_diffaugment_views(tf_views) is True
    assert ex.check_diffaugment_views(lambda *a: {k: v.astype(np.float32) for k, v in
                                                  ex.reference_diffaugment_views(*a).items()}) is True


def _views(**kw):
    """A DiffAugment answer with one of the check's named mistakes built in."""
    def fn(real, fake, draws, size):
        return ex._views_mistakes(real, fake, draws, size)[kw["text"]]
    return fn


@pytest.mark.parametrize("key, match", [
    ("only the real images", "only the real images are augmented"),
    ("the generator's loss sees", "generator's loss sees un-augmented fakes"),
    ("the real images are not", "real images are not augmented"),
    ("the fakes used", "real batch's draws"),
    ("the translation moves", "moves the wrong way"),
    ("the translation fills", "fills the uncovered border with 0"),
    ("cutout's hole", "hole is filled with -1"),
    ("cutout comes before", "translation, then cutout"),
])
def test_diffaugment_views_names_the_mistake(key, match):
    real, fake = np.zeros((1, 4, 4, 1)), np.zeros((1, 4, 4, 1))
    draws = {k: np.zeros((1, 2), int) for k in ("real_shifts", "real_centers", "fake_shifts", "fake_centers")}
    (text,) = [t for t in ex._views_mistakes(real, fake, draws, 2) if t.startswith(key)]
    with pytest.raises(ExerciseError, match=match):
        ex.check_diffaugment_views(_views(text=text))


def test_diffaugment_views_written_by_hand_mistakes_are_named():
    def only_real(real, fake, draws, size):
        right = ex.reference_diffaugment_views(real, fake, draws, size)
        return {"d_real": right["d_real"], "d_fake": np.array(fake), "g_fake": np.array(fake)}

    with pytest.raises(ExerciseError, match="only the real images are augmented"):
        ex.check_diffaugment_views(only_real)

    def g_plain(real, fake, draws, size):
        right = ex.reference_diffaugment_views(real, fake, draws, size)
        right["g_fake"] = np.array(fake)
        return right

    with pytest.raises(ExerciseError, match="the same T"):
        ex.check_diffaugment_views(g_plain)


@pytest.mark.parametrize("fn, match", [
    (lambda r, f, d, s: None, "returned None"),
    (lambda r, f, d, s: (r, f, f), "a dict with the keys"),
    (lambda r, f, d, s: {"d_real": r, "d_fake": f}, "a dict with the keys"),
    (lambda r, f, d, s: {"d_real": r, "d_fake": f, "g_fake": f}, r"fakes|un-augmented|expected"),
])
def test_diffaugment_views_trivial_answers_fail(fn, match):
    with pytest.raises(ExerciseError, match=match):
        ex.check_diffaugment_views(fn)


def test_diffaugment_views_must_not_change_its_input():
    def in_place(real, fake, draws, size):
        out = ex.reference_diffaugment_views(real, fake, draws, size)
        real[...] = out["d_real"]
        return out

    with pytest.raises(ExerciseError, match="input images were changed"):
        ex.check_diffaugment_views(in_place)


def test_diffaugment_views_may_not_call_the_lessons_diff_augment(lesson):
    namespace = {"diff_augment": lesson.diff_augment, "tf": tf, "np": np}
    exec("def views(real, fake, draws, size):\n    v = np.asarray(diff_augment(tf.constant(fake), tf.constant([1, 2]), "
         "('translation', 'cutout')))\n    return {'d_real': real, 'd_fake': v, 'g_fake': v}", namespace)
    with pytest.raises(ExerciseError, match="rather than calling diff_augment"):
        ex.check_diffaugment_views(namespace["views"])


def test_reference_translate_is_the_lessons_translate(lesson):
    """The shifts of the exercise are the lesson's random offsets minus 2."""
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (6, 9, 9, 1)), tf.float32)
    seed = tf.constant([3, 4])
    moved = lesson.translate(images, seed, shift=lesson.RECIPE.translate).numpy()
    offsets = tf.random.stateless_uniform([2, 6], seed, 0, 5, dtype=tf.int32).numpy()
    assert np.allclose(moved, ex.reference_translate(images.numpy(), offsets.T - 2))


# --- exercise 2: q(x_t | x_0) and the DDPM loss ---------------------------------------------------------------

@pytest.mark.parametrize("kind, match", [
    ("beta_t", "not cumulative"),
    ("no_sqrt", "square roots are missing"),
    ("cumprod_betas", "cumulative product of the betas"),
    ("one_early", "one step early"),
])
def test_q_sample_mistakes_are_named(kind, match):
    with pytest.raises(ExerciseError, match=match):
        ex.check_q_sample(lambda x0, t, noise, betas: ex._q_variant(x0, t, noise, betas, kind))


def test_q_sample_trivial_answers_fail():
    with pytest.raises(ExerciseError):
        ex.check_q_sample(lambda x0, t, noise, betas: x0)
    with pytest.raises(ExerciseError):
        ex.check_q_sample(lambda x0, t, noise, betas: noise)
    with pytest.raises(ExerciseError, match="returned None"):
        ex.check_q_sample(lambda x0, t, noise, betas: None)


def test_a_right_float32_q_sample_passes():
    """Issue 23's gap: rtol=1e-6 rejected a right answer computed in float32 (off by about 2e-5 relative)."""
    def q32(x0, t, noise, betas):
        abar = np.cumprod(1.0 - np.asarray(betas, np.float32))[np.asarray(t)][:, None]
        return np.sqrt(abar) * np.asarray(x0, np.float32) + np.sqrt(1 - abar) * np.asarray(noise, np.float32)

    def q_tf(x0, t, noise, betas):
        abar = tf.gather(tf.math.cumprod(1.0 - tf.constant(betas, tf.float32)), t)[:, None]
        return tf.sqrt(abar) * tf.cast(x0, tf.float32) + tf.sqrt(1 - abar) * tf.cast(noise, tf.float32)

    assert ex.check_q_sample(q32) is True
    assert ex.check_q_sample(q_tf) is True
    with pytest.raises(ExerciseError, match="one step early"):  # the float32 tolerance still names the mistakes
        ex.check_q_sample(lambda *a: ex._q_variant(*a, "one_early").astype(np.float32))


def test_reference_q_sample_is_the_composed_one_step_process():
    """Composing q(x_t | x_{t-1}) by hand, with the noise of each step, has the closed form's mean and variance."""
    betas = np.linspace(0.01, 0.2, 8)
    rng = np.random.default_rng(0)
    x = np.ones((50_000, 1))
    for b in betas:
        x = np.sqrt(1 - b) * x + np.sqrt(b) * rng.standard_normal(x.shape)
    closed = ex.reference_q_sample(np.ones((50_000, 1)), np.full(50_000, 7), rng.standard_normal((50_000, 1)), betas)
    assert abs(x.mean() - closed.mean()) < 0.01 and abs(x.var() - closed.var()) < 0.01


def test_reference_q_sample_is_the_lessons(lesson):
    rng = np.random.default_rng(1)
    x0, noise, t = rng.normal(size=(5, 2)), rng.normal(size=(5, 2)), np.array([0, 3, 99, 150, 199])
    assert np.allclose(lesson.q_sample(x0.astype(np.float32), t, noise.astype(np.float32)),
                       ex.reference_q_sample(x0, t, noise, lesson.BETAS), rtol=1e-4, atol=1e-5)


def _mean(a):
    return float(np.mean(a))


def _loss(fn):
    """A ddpm_loss built from the right x_t, with `fn(x0, t, e, x_t, w, b)` giving the loss."""
    def loss(x0, t, e, betas, w, b):
        x0, e, w, b = (np.asarray(a, np.float64) for a in (x0, e, w, b))
        return fn(x0, t, e, ex.reference_q_sample(x0, t, e, betas), w, b)
    return loss


@pytest.mark.parametrize("fn, match", [
    (_loss(lambda x0, t, e, xt, w, b: _mean((x0 - (xt @ w + b[t])) ** 2)), "target is x0"),
    (_loss(lambda x0, t, e, xt, w, b: _mean((xt - (xt @ w + b[t])) ** 2)), "target is x_t"),
    (_loss(lambda x0, t, e, xt, w, b: _mean((e - (x0 @ w + b[t])) ** 2)), "fed x0"),
    (_loss(lambda x0, t, e, xt, w, b: _mean((e - (xt @ w.T + b[t])) ** 2)), "transposed"),
    (_loss(lambda x0, t, e, xt, w, b: _mean((e - xt @ w) ** 2)), "time term"),
    (_loss(lambda x0, t, e, xt, w, b: float(np.sum((e - (xt @ w + b[t])) ** 2))), "summed instead"),
    (_loss(lambda x0, t, e, xt, w, b: _mean(np.sum((e - (xt @ w + b[t])) ** 2, axis=1))), "per example"),
    (_loss(lambda x0, t, e, xt, w, b: float(np.sqrt(_mean((e - (xt @ w + b[t])) ** 2)))), "root"),
    (lambda x0, t, e, betas, w, b: _mean((e - (ex._q_variant(x0, t, e, betas, "no_sqrt") @ w + b[t])) ** 2),
     "square roots"),
    (lambda x0, t, e, betas, w, b: np.ones(3), "one number"),
])
def test_ddpm_loss_mistakes_are_named(fn, match):
    with pytest.raises(ExerciseError, match=match):
        ex.check_ddpm_training(ex.reference_q_sample, fn)


def test_ddpm_loss_accepts_float32_and_tensorflow_answers():
    def loss_tf(x0, t, e, betas, w, b):
        abar = tf.gather(tf.math.cumprod(1.0 - tf.constant(betas, tf.float32)), t)[:, None]
        xt = tf.sqrt(abar) * tf.cast(x0, tf.float32) + tf.sqrt(1 - abar) * tf.cast(e, tf.float32)
        pred = tf.matmul(xt, tf.cast(w, tf.float32)) + tf.gather(tf.cast(b, tf.float32), t)
        return tf.reduce_mean(tf.square(tf.cast(e, tf.float32) - pred))

    assert ex.check_ddpm_training(ex.reference_q_sample, loss_tf) is True


def test_reference_ddpm_loss_is_the_lessons_training_loss(lesson):
    """The lesson's make_diffusion_step loss, with its random t and noise replaced by given ones, is the reference."""
    rng = np.random.default_rng(2)
    x0, e = rng.normal(size=(6, 2)).astype(np.float32), rng.normal(size=(6, 2)).astype(np.float32)
    t = np.array([0, 5, 50, 120, 180, 199])
    w, b = rng.normal(size=(2, 2)).astype(np.float32), rng.normal(size=(lesson.T_STEPS, 2)).astype(np.float32)
    pred = lesson.q_sample(x0, t, e) @ w + b[t]  # the lesson's loss, tf.reduce_mean(tf.square(noise - pred))
    lesson_loss = float(tf.reduce_mean(tf.square(e - pred)))
    assert lesson_loss == pytest.approx(ex.reference_ddpm_loss(x0, t, e, lesson.BETAS, w, b), rel=1e-5)


# --- exercise 3: one step of the sampler -------------------------------------------------------------------

def _step(text_start):
    def fn(x, t, eps, z, betas):
        (text,) = [k for k in ex._step_mistakes(x, t, eps, z, betas) if k.startswith(text_start)]
        return np.broadcast_to(ex._step_mistakes(x, t, eps, z, betas)[text], np.shape(x))
    return fn


@pytest.mark.parametrize("start, match", [
    ("noise was added", "no z"),
    ("the mean is divided", r"sqrt\(alpha_t\)"),
    ("the noise coefficient", r"beta_t / sqrt\(1 - abar_t\)"),
    ("the whole predicted", "one step removes only"),
    ("the predicted noise is added", "added instead of subtracted"),
    ("the noise's standard", "sigma_t = sqrt"),
    ("1 - abar_t was", "cumulative"),
    ("sigma_t squared is the posterior", "beta_tilde"),
    ("the step uses betas", "0-based"),
])
def test_ddpm_step_back_mistakes_are_named(start, match):
    with pytest.raises(ExerciseError, match=match):
        ex.check_ddpm_step_back(_step(start))


def test_ddpm_step_back_by_hand_mistakes_are_named():
    def always_noise(x, t, eps, z, betas):
        return ex.reference_ddpm_step_back(x, t, eps, np.zeros_like(z), betas) + np.sqrt(betas[t]) * z

    with pytest.raises(ExerciseError, match="last step"):
        ex.check_ddpm_step_back(always_noise)
    with pytest.raises(ExerciseError):
        ex.check_ddpm_step_back(lambda x, t, eps, z, betas: x - eps)
    with pytest.raises(ExerciseError, match="returned None"):
        ex.check_ddpm_step_back(lambda x, t, eps, z, betas: None)


def test_ddpm_step_back_accepts_float32_answers():
    def step32(x, t, eps, z, betas):
        b = np.asarray(betas, np.float32)
        abar = np.cumprod(1 - b)[t]
        mean = (np.float32(x) - b[t] / np.sqrt(1 - abar) * np.float32(eps)) / np.sqrt(1 - b[t])
        return (mean + np.sqrt(b[t]) * np.float32(z) if t > 0 else mean).astype(np.float32)

    assert ex.check_ddpm_step_back(step32) is True


def test_reference_step_back_is_the_lessons_sampler(lesson):
    """diffusion_sample with a linear stand-in for the denoiser runs the reference step, with the lesson's draws."""
    import keras

    kernel = np.zeros((18, 2), np.float32)
    kernel[:2] = [[0.3, -0.1], [0.2, 0.4]]
    model = keras.Sequential([keras.Input((18,)), keras.layers.Dense(2, kernel_initializer="zeros")])
    model.layers[-1].set_weights([kernel, np.array([0.05, -0.02], np.float32)])
    n, seed = 7, 3
    got = lesson.diffusion_sample(model, n, seed=seed)
    x = tf.random.stateless_normal([n, 2], [seed, 0]).numpy().astype(np.float64)
    for t in range(lesson.T_STEPS - 1, -1, -1):
        z = tf.random.stateless_normal([n, 2], [seed, t + 1]).numpy() if t > 0 else np.zeros((n, 2))
        x = ex.reference_ddpm_step_back(x, t, x @ kernel[:2] + [0.05, -0.02], z, lesson.BETAS)
    assert np.allclose(got, x, rtol=1e-3, atol=1e-3)


# --- exercise 4: a class-mean direction -------------------------------------------------------------------

def _unit(v):
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("wrong, match", [
    (lambda z, y, a, b: _unit(z[y == a].mean(0) - z[y == b].mean(0)), "wrong way"),
    (lambda z, y, a, b: z[y == b].mean(0) - z[y == a].mean(0), "not a unit vector"),
    (lambda z, y, a, b: _unit(z[y == b].mean(0) - z.mean(0)), "overall mean"),
])
def test_direction_mistakes_are_named(wrong, match):
    def fn(z, labels, source, target):
        return wrong(np.asarray(z), np.asarray(labels), source, target)

    with pytest.raises(ExerciseError, match=match):
        ex.check_class_mean_direction(fn)


def test_direction_must_refuse_a_missing_class():
    def no_check(z, labels, source, target):
        return ex.reference_class_mean_direction(z, labels, source, target)

    with pytest.raises(ExerciseError, match="raise ValueError"):
        ex.check_class_mean_direction(no_check)


def test_direction_must_refuse_a_missing_source_class_too():
    """Issue 23's gap: the check fed only a missing *target* class, so a function checking only the target passed."""
    def only_target(z, labels, source, target):
        labels = np.asarray(labels)
        if not np.any(labels == target):
            raise ValueError(f"no sample of class {target}")
        return ex.reference_class_mean_direction(z, labels, source, target)

    with pytest.raises(ExerciseError, match="source class mean does not exist.*check the source class too"):
        ex.check_class_mean_direction(only_target)


def test_direction_accepts_a_float32_answer():
    assert ex.check_class_mean_direction(lambda *a: _direction(*a).astype(np.float32)) is True


def test_direction_trivial_answers_fail():
    with pytest.raises(ExerciseError):
        ex.check_class_mean_direction(lambda z, labels, source, target: np.zeros(np.shape(z)[1]))
    with pytest.raises(ExerciseError):
        ex.check_class_mean_direction(lambda z, labels, source, target: _unit(np.ones(np.shape(z)[1])))
