"""Helpers shared by the small examples: command-line options and saving pictures.

Every example takes the same two options:

    --out DIR   the folder for its pictures (default: out/<example name>/)
    --quick     a faster run: fewer points or steps, smaller pictures

Pictures are drawn with matplotlib's Agg backend, which renders straight to PNG files: no
window opens, so the examples also run over SSH, in CI, or in a container without a
display. matplotlib is optional; without it an example prints a notice, skips its
pictures, and still prints all of its numbers.
"""

import argparse
from pathlib import Path

from tinygrad_edu._plot import new_figure, save_figure

__all__ = [
    "add_data_dir",
    "figure_dpi",
    "make_parser",
    "new_figure",
    "panel_figure",
    "save_figure",
]


def make_parser(name, doc, quick_help="a faster run: fewer points and smaller pictures", prog=None):
    """An ArgumentParser with ``--out`` (default ``out/<name>``) and ``--quick``.

    ``doc`` is the example's module docstring; its first paragraph becomes the
    description shown by ``--help``. ``prog`` names the program in messages (default
    ``<name>.py``; the command line passes e.g. "tinygrad-edu explain"). Add the example's
    own options to the result.
    """
    parser = argparse.ArgumentParser(
        prog=prog or f"{name}.py",
        description=doc.strip().split("\n\n")[0],
        epilog="Run without options to print the numbers and write the pictures.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out") / name,
        metavar="DIR",
        help=f"folder for the pictures (default: out/{name}/)",
    )
    parser.add_argument("--quick", action="store_true", help=quick_help)
    return parser


def add_data_dir(parser):
    """``--data-dir DIR``, for the examples on MNIST (``load_data`` searches without it)."""
    parser.add_argument("--data-dir", help="folder holding the four MNIST files (default: search)")


def panel_figure(count, columns, panel_size, what):
    """A figure of ``count`` panels in rows of ``columns``, sharing their axes: ``(fig,
    axes)``, ``axes`` flat with the unused panels hidden; ``(None, None)`` without
    matplotlib. ``panel_size`` is one panel's (width, height) in inches."""
    rows = -(-count // columns)
    fig = new_figure((panel_size[0] * columns, panel_size[1] * rows), what)
    if fig is None:
        return None, None
    axes = fig.subplots(rows, columns, squeeze=False, sharex=True, sharey=True).ravel()
    for ax in axes[count:]:
        ax.set_axis_off()
    return fig, axes[:count]


def figure_dpi(args):
    """The resolution of the saved pictures: lower with --quick (saving is the slow part)."""
    return 60 if args.quick else 100
