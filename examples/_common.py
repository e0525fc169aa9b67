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

from tinygrad_edu._io import atomic_write

PLOT_HINT = "pip install 'tinygrad_edu[plot]'"


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


def new_figure(figsize, what="this picture"):
    """A blank matplotlib Figure rendered by the Agg backend, or None without matplotlib.

    The Figure is made directly (not through ``pyplot``), so no window ever opens and no
    global state is touched. Draw on it with ``fig.subplots(...)``, as with pyplot.
    ``what`` names the picture in the notice printed when matplotlib is missing.
    """
    try:  # imported here, not at the top, so the examples run without matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print(f"notice: matplotlib is not installed, so no {what} ({PLOT_HINT})")
        return None
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)  # attach the Agg (PNG) renderer
    return fig


def save_figure(fig, path, dpi=100):
    """Write ``fig`` to ``path`` as a PNG and return the path.

    The file is written under a temporary name and then renamed, so an interrupted run
    never leaves a half-written picture behind. Missing folders are created.
    """
    path = Path(path)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=dpi)
    print(f"wrote {path}")
    return path
