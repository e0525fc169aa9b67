"""What the course's command-line programs share: one-line argument errors, MNIST with a
loud fallback banner, and the files a training run leaves in ``--out``."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import NoReturn

import numpy as np

from tinygrad_edu import metrics
from tinygrad_edu._io import atomic_write
from tinygrad_edu._plot import new_figure, save_figure
from tinygrad_edu.datasets import SampleDataWarning, load_mnist
from tinygrad_edu.nn import Module


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with bad arguments reported in one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (try --help)\n")


def load_data(
    data_dir: str | Path | None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as float32 (N, 784) in [0, 1] and int labels, ``((x_train, t_train),
    (x_test, t_test))``; says loudly (a banner on stderr) if it fell back to the small
    bundled sample."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SampleDataWarning)
        data = load_mnist(data_dir=data_dir)
    for w in caught:
        print("=" * 78, f"WARNING: {w.message}", "=" * 78, sep="\n", file=sys.stderr)
    return data


def write_training_outputs(
    out: Path,
    weights_name: str,
    model: Module,
    history: dict[str, list[float]],
    t_test: np.ndarray,
    y_test: np.ndarray,
) -> None:
    """Into ``out``: the weights (``weights_name``, .npz), the test confusion matrix
    (CSV, rows: true class, columns: predicted) and the learning curves (PNG, with
    matplotlib). ``history`` holds per-epoch lists "loss", "train_acc" and "test_acc"."""
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / weights_name)
    matrix = metrics.confusion_matrix(t_test, y_test, num_classes=10)
    with atomic_write(out / "confusion_matrix.csv", "w") as f:
        np.savetxt(
            f,
            matrix,
            fmt="%d",
            delimiter=",",
            header="rows: true class 0-9; columns: predicted class 0-9",
        )
    print("test confusion matrix (rows: true, columns: predicted):")
    print(matrix)
    fig = new_figure((10, 4), "learning-curve plot")
    if fig is not None:
        epochs = np.arange(1, len(history["loss"]) + 1)
        ax_loss, ax_acc = fig.subplots(1, 2)
        ax_loss.plot(epochs, history["loss"], marker="o")
        ax_loss.set(xlabel="epoch", ylabel="mean training loss", title="loss")
        ax_acc.plot(epochs, history["train_acc"], marker="o", label="train")
        ax_acc.plot(epochs, history["test_acc"], marker="s", label="test")
        ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        ax_acc.legend()
        save_figure(fig, out / "learning_curves.png")
    print(f"wrote {out / weights_name} and {out / 'confusion_matrix.csv'}")
