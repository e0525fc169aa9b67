"""Pictures for the examples and the flagship: matplotlib (optional), headless, atomic.

matplotlib's Agg backend renders straight to PNG: no window opens, so pictures work over
SSH, in CI, or in a container without a display. Without matplotlib, a notice is printed
and the picture is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tinygrad_edu._io import atomic_write

if TYPE_CHECKING:  # matplotlib is optional: imported for the type hints only
    from matplotlib.figure import Figure

PLOT_HINT = "pip install 'tinygrad_edu[plot]'"


def new_figure(figsize: tuple[float, float], what: str = "this picture") -> Figure | None:
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


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: float = 100) -> Path:
    """Write ``fig`` to ``path`` as a PNG and return the path.

    The file is written under a temporary name and then renamed, so an interrupted run
    never leaves a half-written picture behind. Missing folders are created.
    """
    path = Path(path)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=dpi)
    print(f"wrote {path}")
    return path
