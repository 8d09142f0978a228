"""How fast the course evaluator loads and scores images (issue 5: load < 2 s, 2,000 images < 5 s).

Run: ``TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/evaluator_speed.py [--repeats 5]``. Prints one line per
measurement; the load time is taken after TensorFlow is imported (the import itself is reported apart).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed evaluations of 2,000 images")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {args.repeats}")

    start = time.perf_counter()
    import numpy as np
    import tensorflow as tf  # noqa: F401  (timed on its own)

    t_import = time.perf_counter() - start
    from course_utils import data
    from course_utils import evaluator as ev

    start = time.perf_counter()
    ev.load_evaluator()
    t_load = time.perf_counter() - start
    digits = data.load_bundled_mnist()
    x = np.concatenate([digits.x_train, digits.x_test])[:2000]
    times = []
    for _ in range(args.repeats + 1):  # the first call traces the graph; reported apart
        start = time.perf_counter()
        ev.fid(x)
        ev.class_coverage(x)
        times.append(time.perf_counter() - start)
    print(f"import tensorflow           : {t_import:6.2f} s")
    print(f"load_evaluator()            : {t_load:6.2f} s   (target < 2 s)")
    print(f"fid + class_coverage, 2,000 : first {times[0]:.2f} s, then median {np.median(times[1:]):.2f} s "
          f"over {args.repeats}   (target < 5 s)")
    print(f"CPU cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
