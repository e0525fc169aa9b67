"""Make the small MNIST sample bundled in ``tinygrad_edu/sample/``.

The sample lets the examples run offline. It holds 10,000 training and 2,000 test images
chosen at random (with a fixed seed) from the real MNIST files, stratified so that each digit
keeps its share of the full set. The images keep their original order and are written as
gzipped IDX files, read by the same code as the full data set.

Usage (from the repository root)::

    python scripts/make_mnist_sample.py --source ../shared/datasets/mnist

Then paste the printed SHA-256 values into ``MNIST_SAMPLE_SHA256`` in
``tinygrad_edu/datasets.py``. With the same seed and source files the output is byte-for-byte
the same.
"""

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

# Let the script run from a source checkout without installing the package first.
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tinygrad_edu._io import atomic_write  # noqa: E402
from tinygrad_edu.datasets import (  # noqa: E402
    FILE_NAMES,
    MNIST_SHA256,
    SAMPLE_DIR,
    SAMPLE_PREFIX,
    read_idx,
)

N_TRAIN = 10_000
N_TEST = 2_000
SEED = 20240601


def stratified_indices(labels, n, rng):
    """Pick ``n`` distinct indices so that each class keeps its share of ``labels``.

    Args:
        labels: ``(N,)`` class of each example.
        n: how many indices to pick.
        rng: a ``numpy.random.Generator``.

    Returns:
        ``(n,)`` int64 indices into ``labels``, sorted ascending.
    """
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / len(labels)  # ideal (fractional) number per class
    take = np.floor(quota).astype(np.int64)
    # Hand the few picks lost to rounding down to the classes with the largest remainders.
    leftover = n - take.sum()
    take[np.argsort(take - quota, kind="stable")[:leftover]] += 1
    chosen = [
        rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
        for c, k in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def idx_bytes(array):
    """Encode a uint8 array as an IDX file: magic ``00 00 08 ndim``, sizes, then the data."""
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_gzipped_idx(path, array):
    """Write ``array`` to ``path`` as a gzipped IDX file; return the SHA-256 of the IDX bytes."""
    payload = idx_bytes(array)
    with atomic_write(path) as file:
        file.write(gzip.compress(payload, compresslevel=9, mtime=0))
    return hashlib.sha256(payload).hexdigest()


def read_source(folder, name):
    """Read one of the full MNIST files (plain or .gz), verifying its checksum."""
    for path in (folder / name, folder / f"{name}.gz"):
        if path.is_file():
            return read_idx(path, sha256=MNIST_SHA256[name])
    raise SystemExit(f"error: {folder} has no {name} or {name}.gz")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="folder with full MNIST")
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="where to write")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    train_images, train_labels, test_images, test_labels = (
        read_source(args.source, name) for name in FILE_NAMES
    )
    train = stratified_indices(train_labels, N_TRAIN, rng)
    test = stratified_indices(test_labels, N_TEST, rng)
    arrays = {
        FILE_NAMES[0]: train_images[train],
        FILE_NAMES[1]: train_labels[train],
        FILE_NAMES[2]: test_images[test],
        FILE_NAMES[3]: test_labels[test],
    }

    print("MNIST_SAMPLE_SHA256 = {")
    for name, array in arrays.items():
        path = args.out / f"{SAMPLE_PREFIX}{name}.gz"
        digest = write_gzipped_idx(path, array)
        print(f'    "{name}": "{digest}",  # {path.stat().st_size:,} bytes')
    print("}")


if __name__ == "__main__":
    main()
