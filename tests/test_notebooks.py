"""The course's notebooks (examples/notebooks) and how a Tensor shows in Jupyter.

Each notebook is kept twice: a jupytext percent-format ``.py`` source (reviewable diffs)
and the ``.ipynb`` generated from it (``jupytext --update --to ipynb
examples/notebooks/*.py``), committed without outputs. These tests check that the two agree,
that no output was committed, and that every notebook runs top to bottom on a fresh
kernel, as a learner would run it: nbclient executes it in an empty folder, with
$TINYGRAD_EDU_DATA passed through (without it, offline, on the bundled MNIST sample). A
cell that fails fails its test with the cell's own error (nbclient's CellExecutionError).

jupytext, nbclient and ipykernel come with the ``notebooks`` extra
(``pip install '.[notebooks]'``). Without them these tests are skipped, except in CI
(CI=true), where they fail: .ci/run installs the extra.
"""

import json
import os
import re

import numpy as np
import pytest
from helpers import EXAMPLES, OFFLINE_ENV, REPO, optional_module

from tinygrad_edu import Tensor

NOTEBOOKS = EXAMPLES / "notebooks"
# The notebooks the course promises (one per chapter built so far, a tour, and "write
# your own op"); the tests also cover any other numbered notebook found in the folder.
REQUIRED = [
    "00_quick_tour",
    "02_perceptrons",
    "03_forward_pass",
    "04_learning",
    "05_backpropagation",
    "06_learning_techniques",
    "07_cnn",
    "08_write_your_own_op",
]
NAMES = sorted({p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py")} | set(REQUIRED))
IMAGE_TYPES = ("image/png", "image/svg+xml")
MIN_NOTEBOOKS_WITH_PICTURES = 5
CELL_TIMEOUT = 300  # seconds; each notebook takes a few seconds in all


def needs(module_name):
    """Import a module of the ``notebooks`` extra, or skip (fail in CI) without it."""
    return optional_module(
        module_name,
        "pip install '.[notebooks]'",
        "CI must check and run the notebooks (.ci/run installs the notebooks extra)",
    )


def cells_of_ipynb(name):
    """[(cell type, source)] of the committed .ipynb, read as plain JSON."""
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
    return nb, [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]


# ------------------------------------------------------------------ the files


def test_every_required_notebook_has_both_files():
    missing = [
        f"{name}{suffix}"
        for name in REQUIRED
        for suffix in (".py", ".ipynb")
        if not (NOTEBOOKS / f"{name}{suffix}").is_file()
    ]
    assert not missing, f"missing in examples/notebooks: {missing}"
    orphans = sorted({p.stem for p in NOTEBOOKS.glob("*.ipynb")} - set(NAMES))
    assert not orphans, f"notebooks without a .py source: {orphans}"


@pytest.mark.parametrize("name", NAMES)
def test_source_and_notebook_agree(name):
    """The .ipynb has exactly the cells jupytext reads from the .py: else regenerate it."""
    jupytext = needs("jupytext")
    from_source = jupytext.read(NOTEBOOKS / f"{name}.py")
    expected = [(c.cell_type, c.source) for c in from_source.cells]
    _, committed = cells_of_ipynb(name)
    assert committed == expected, (
        f"examples/notebooks/{name}.ipynb has drifted from {name}.py; regenerate it: "
        f"jupytext --update --to ipynb examples/notebooks/{name}.py"
    )


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs(name):
    nb, _ = cells_of_ipynb(name)
    dirty = [
        number
        for number, cell in enumerate(nb["cells"], 1)
        if cell["cell_type"] == "code" and (cell["outputs"] or cell["execution_count"])
    ]
    assert not dirty, (
        f"{name}.ipynb carries outputs or execution counts in cells {dirty}; commit it "
        f"without: jupytext --update --to ipynb examples/notebooks/{name}.py"
    )


@pytest.mark.parametrize("name", NAMES)
def test_first_cell_installs_the_library_only_when_missing(name):
    _, cells = cells_of_ipynb(name)
    kind, source = cells[0]
    assert kind == "code"
    lines = [line.strip() for line in source.splitlines()]
    # the %pip line sits inside `except ImportError:`, after a `try: import tinygrad_edu`
    assert lines.index("import tinygrad_edu") < lines.index("except ImportError:")
    assert lines[lines.index("except ImportError:") + 1].startswith("%pip install")


def test_the_readme_lists_every_notebook_with_a_colab_link():
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        link = (
            "https://colab.research.google.com/github/OWNER/tinygrad_edu/blob/main/"
            f"examples/notebooks/{name}.ipynb"
        )
        assert link in readme, f"examples/notebooks/README.md lacks the Colab link of {name}"


def test_the_library_and_examples_use_tqdm_auto():
    """tqdm.auto draws a widget in Jupyter and text in a terminal; plain tqdm draws text
    everywhere (garbled in a notebook)."""
    plain = re.compile(r"^\s*(from tqdm import|import tqdm\b(?!\.auto))", re.MULTILINE)
    offenders = [
        str(path.relative_to(REPO))
        for folder in (REPO / "tinygrad_edu", EXAMPLES, REPO / "benchmarks")
        for path in sorted(folder.rglob("*.py"))
        if plain.search(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"use `from tqdm.auto import tqdm` in {offenders}"


# ------------------------------------------------------------------ running them


def kernel_env(tmp_path):
    """The kernel's environment: this checkout first on the path, matplotlib's inline
    backend (an MPLBACKEND inherited from CI would hide the pictures), and, without
    $TINYGRAD_EDU_DATA, no network and an empty cache, so that load_mnist() falls back
    to the bundled sample at once."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    if not env.get("TINYGRAD_EDU_DATA"):
        env.update(OFFLINE_ENV)
        env["TINYGRAD_EDU_CACHE"] = str(tmp_path / "cache")
    return env


def execute(nb, folder):
    """Run ``nb`` in place on a fresh python3 kernel whose working folder is ``folder``.
    A failing cell raises nbclient's CellExecutionError, which shows the cell and its
    traceback."""
    needs("ipykernel")
    nbclient = needs("nbclient")
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": folder}}
    )
    client.execute(env=kernel_env(folder))
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """``executed(name)``: the notebook after a run from top to bottom (once per module)."""
    runs = {}

    def run(name):
        if name not in runs:
            nbformat = needs("nbformat")
            nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
            runs[name] = execute(nb, tmp_path_factory.mktemp(name))
        return runs[name]

    return run


def outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def has_picture(nb):
    """Whether an output of ``nb`` is a PNG or SVG picture (matplotlib, graphviz)."""
    return any(kind in out.get("data", {}) for out in outputs(nb) for kind in IMAGE_TYPES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(executed, name):
    nb = executed(name)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells), "a code cell was not executed"
    errors = [out for out in outputs(nb) if out.output_type == "error"]
    assert not errors, errors


def test_at_least_five_notebooks_draw_pictures(executed):
    with_pictures = [
        name
        for name in NAMES
        if any(
            kind in out.get("data", {}) for out in outputs(executed(name)) for kind in IMAGE_TYPES
        )
    ]
    assert len(with_pictures) >= MIN_NOTEBOOKS_WITH_PICTURES, with_pictures


def test_a_broken_cell_fails_with_its_own_error(tmp_path):
    nbformat = needs("nbformat")
    nbclient = needs("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("raise ValueError('the broken cell')"),
        nbformat.v4.new_code_cell("never = True"),
    ]
    with pytest.raises(nbclient.exceptions.CellExecutionError) as caught:
        execute(nb, tmp_path)
    assert "ValueError" in str(caught.value)
    assert "the broken cell" in str(caught.value)
    assert nb.cells[2].get("execution_count") is None  # nothing after it ran


# ------------------------------------------------------------------ Tensor in Jupyter


def table(html_text):
    """The {key: value} rows of Tensor._repr_html_'s table."""
    return dict(re.findall(r"<th[^>]*>(.*?)</th><td>(.*?)</td>", html_text))


def test_repr_html_of_a_leaf():
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True, name="x")
    page = x._repr_html_()
    assert table(page) == {
        "name": "x",
        "shape": "(2, 3)",
        "dtype": "float32",
        "requires_grad": "True",
    }
    assert "[[0., 1., 2.],\n [3., 4., 5.]]" in page  # numpy's own layout of the values


def test_repr_html_names_the_op_and_says_when_grad_is_set():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    rows = table(y._repr_html_())
    assert rows["grad_fn"] == "&lt;mul&gt;"  # <mul>, escaped
    assert rows["requires_grad"] == "True"
    assert "grad" not in table(x._repr_html_())
    y.sum().backward()
    assert table(x._repr_html_())["grad"] == "set, shape (2,)"
    assert "grad_fn" not in table(Tensor([1.0])._repr_html_())
    assert table(Tensor([1.0])._repr_html_())["requires_grad"] == "False"


def test_repr_html_abbreviates_large_tensors_like_numpy():
    page = Tensor(np.arange(10_000))._repr_html_()
    values = page[page.index("<pre") : page.index("</pre>")]
    assert re.search(r"\[ *0, +1, +2, \.\.\., 9997, 9998, 9999\]", values), values
    assert "5000" not in values
    assert len(page) < 1000  # the first and last entries only


def test_repr_html_escapes_what_it_shows():
    page = Tensor([1.0], name="<script>alert(1)</script>")._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
