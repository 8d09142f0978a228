"""Resumable GAN training and saved model files: the names lessons use, kept in one place.

This module only re-exports; each job has its own module:

* :mod:`course_utils.gan_checkpoint`: the checkpoint of a training run (:class:`GANCheckpoint`: both networks, both
  optimizers, the step and epoch counters and the run history, resumable after a kernel restart), and
  :func:`training_history`, the stopping rule a training loop validates against it;
* :mod:`course_utils.model_file`: one ``.keras`` model file, saved atomically (:func:`save_model_atomic`) and checked
  before it is loaded (:func:`load_model_checked`).

Lessons 04, 05, 07 and 08 write ``from course_utils import checkpoints`` and ``checkpoints.GANCheckpoint``; those
names stay here so that the lessons and their saved outputs do not change.
"""

from __future__ import annotations

from .gan_checkpoint import GANCheckpoint, training_history
from .model_file import load_model_checked, save_model_atomic

__all__ = ["GANCheckpoint", "training_history", "save_model_atomic", "load_model_checked"]
