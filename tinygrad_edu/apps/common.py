"""What the course's command-line programs share: the argument parser (one-line errors,
defaults in --help, checks of option values), the top-level error handler ``run_main``,
MNIST with a loud fallback banner, and the files a training run leaves in ``--out``."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from tinygrad_edu import memory, metrics, threads
from tinygrad_edu._io import atomic_write
from tinygrad_edu._plot import new_figure, save_figure
from tinygrad_edu.datasets import SampleDataWarning, load_mnist
from tinygrad_edu.nn import Module

TRACEBACK_ENV = "TINYGRAD_EDU_TRACEBACK"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
SEED_MAX = 2**32 - 1  # np.random.seed takes 0 .. 2**32 - 1
HIDDEN_MAX = 100_000  # 784 x 100,000 float32 weights are 300 MB, with their gradient and
# momentum about 1 GB: bigger only exhausts memory

EPILOG = (
    "On a failure the command prints one line, what went wrong and what to do, and exits "
    "with status 1 (2 for a bad option, 130 when interrupted by Ctrl-C); set the "
    f"environment variable {TRACEBACK_ENV}=1 to see the full Python traceback instead."
)

# Folders made by ArgumentParser.check_out_folder; run_main removes those still empty when
# the run fails, so a failed or interrupted run leaves nothing behind.
_created_folders: list[Path] = []


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: X)" after an option's help, unless there is nothing to show: no
    default (None), a flag (False), or a help text that already speaks of its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if action.default is None or action.default is False or "default" in help_text:
            return help_text
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with bad arguments reported in one line (and exit status 2), defaults
    shown by --help, the error-handling note as epilog, and checks of option values that
    run right after parsing, before any data is loaded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("epilog", EPILOG)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (try --help)\n")

    def check_int(
        self, args: argparse.Namespace, name: str, low: int, high: int | None = None, why: str = ""
    ) -> None:
        """Refuse ``args.<name>`` (an int) outside ``low .. high``; ``why`` explains the
        upper bound."""
        value = getattr(args, name)
        option = _option(name)
        if value < low:
            self.error(f"{option} must be at least {low:,}, not {value}")
        if high is not None and value > high:
            self.error(f"{option} must be at most {high:,}, not {value}{why}")

    def check_seed(self, args: argparse.Namespace, name: str = "seed") -> None:
        value = getattr(args, name)
        if not 0 <= value <= SEED_MAX:
            self.error(f"{_option(name)} must be in 0 .. {SEED_MAX} (2**32 - 1), not {value}")

    def check_positive(self, args: argparse.Namespace, name: str) -> None:
        """Refuse ``args.<name>`` unless it is a finite number above 0 (so not nan, inf)."""
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            self.error(f"{_option(name)} must be positive and finite, not {value}")

    def check_fraction(self, args: argparse.Namespace, name: str) -> None:
        """Refuse ``args.<name>`` outside [0, 1) (nan included)."""
        value = getattr(args, name)
        if not 0 <= value < 1:
            self.error(f"{_option(name)} must be in [0, 1), not {value}")

    def check_data_dir(self, args: argparse.Namespace, name: str = "data_dir") -> None:
        """Refuse a data folder that does not exist (a typo), before anything is loaded."""
        value = getattr(args, name)
        if value is None:
            return
        folder = Path(value).expanduser()
        if not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            self.error(
                f"{_option(name)} {value}: {what}; pass the folder holding the four MNIST "
                f"files (train-images-idx3-ubyte[.gz] and the three others)"
            )

    def check_out_folder(self, args: argparse.Namespace, name: str = "out") -> None:
        """Make sure a file can be written into the folder ``args.<name>`` (None: skipped),
        before any work starts: create the folder, write and remove a probe file there.
        A path that is a file, or a place we may not write to, is refused now, rather than
        after an hour of training."""
        value = getattr(args, name)
        if value is None:
            return
        folder = Path(value).expanduser()
        option = f"{_option(name)} {value}"
        if folder.exists() and not folder.is_dir():
            self.error(f"{option}: is a file, not a folder; pass a folder to write into")
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _created_folders.extend(missing)  # deepest first
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
                pass  # created, then removed on closing
        except OSError as err:
            _remove_empty_folders()
            reason = err.strerror or str(err)
            self.error(f"{option}: cannot write there ({reason}); pass a folder you can write to")


def _option(name: str) -> str:
    """``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def _remove_empty_folders() -> None:
    """Remove the folders check_out_folder made, if nothing was written into them."""
    while _created_folders:
        with contextlib.suppress(OSError):  # not empty (or gone): keep it
            _created_folders.pop(0).rmdir()


def run_main(main: Callable[[], object], prog: str | None = None) -> int:
    """Run a program's ``main()`` and return its exit status, as the command line wants:

    * a result that is an int is the status; anything else (None, a dict) means 0;
    * an exception prints one line, ``<prog>: error: <message>``, and gives 1;
    * Ctrl-C (KeyboardInterrupt) prints ``<prog>: interrupted`` and gives 130;
    * SystemExit (argparse's errors, status 2; --help, 0; a program's own error
      message, 1) passes through;
    * a closed stdout (``... | head``) ends the run quietly.

    Folders made for ``--out`` are removed again if the run fails while they are still
    empty; the outputs themselves are written atomically, so none is ever half-written.
    With ``TINYGRAD_EDU_TRACEBACK=1`` the traceback is printed above the line.

    numpy's matrix code gets ``threads.default_num_threads()`` threads (one: measured
    fastest for the course's small matrices, and steady on a busy machine), unless the
    environment chooses (``OPENBLAS_NUM_THREADS``, ...); and freed memory is kept for
    the next training step (``memory.keep_freed_memory``: no page faults to get it back).
    """
    prog = prog or Path(sys.argv[0]).name
    threads.use_default_num_threads()
    memory.keep_freed_memory()
    _created_folders.clear()
    try:
        result = main()
        sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
    except SystemExit as stop:  # argparse's, or a program's own one-line error
        if stop.code not in (0, None):
            _remove_empty_folders()
        raise
    except KeyboardInterrupt:
        _remove_empty_folders()
        _show_traceback()
        newline = "\n" if sys.stderr.isatty() else ""  # after the terminal's "^C"
        print(f"{newline}{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to say
        _remove_empty_folders()
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as err:
        _remove_empty_folders()
        _show_traceback()
        print(f"{prog}: error: {describe_error(err)}", file=sys.stderr)
        return 1
    _created_folders.clear()
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _show_traceback() -> None:
    if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
        traceback.print_exc()


def describe_error(err: BaseException) -> str:
    """One line for an exception: its message (lines joined), with advice for the kinds
    that are not the user's to fix."""
    message = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    if isinstance(err, MemoryError):
        return (
            f"out of memory ({message or 'MemoryError'}); try a smaller --hidden or "
            f"--batch-size, or close other programs"
        )
    if isinstance(err, (OSError, ValueError, RuntimeError)) and message:
        return message  # the library's own errors say what, why and what to do
    return (
        f"unexpected {type(err).__name__}{': ' + message if message else ''} (a bug); "
        f"rerun with {TRACEBACK_ENV}=1 to see where, and please report it"
    )


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
        if not issubclass(w.category, SampleDataWarning):  # not ours to announce: pass it on
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            continue
        print(
            "=" * 78,
            f"WARNING: {w.message}",
            "  On the command line: pass --data-dir DIR, a folder with the four MNIST files "
            "(or set TINYGRAD_EDU_DATA; the files go in its mnist/ subfolder).",
            "=" * 78,
            sep="\n",
            file=sys.stderr,
        )
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
