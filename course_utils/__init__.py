"""Helpers for the course *Deep learning for image synthesis — GANs and CNNs, hands-on*.

Only plumbing lives here (data loading, plots, device set-up, the evaluator, exercise checks);
what a lesson teaches is written in the lesson itself. Importing this package changes no global
state: seeding, device set-up and plotting style are explicit calls.
"""

__version__ = "0.1.0"

