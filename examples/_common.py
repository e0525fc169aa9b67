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

__all__ = ["figure_dpi", "make_parser", "new_figure", "save_figure"]


def make_parser(name, doc, quick_help="a faster run: fewer points and smaller pictures"):
    """An ArgumentParser with ``--out`` (default ``out/<name>``) and ``--quick``.

    ``doc`` is the example's module docstring; its first paragraph becomes the
    description shown by ``--help``. Add the example's own options to the result.
    """
    parser = argparse.ArgumentParser(
        prog=f"{name}.py",
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


def figure_dpi(args):
    """The resolution of the saved pictures: lower with --quick (saving is the slow part)."""
    return 60 if args.quick else 100
