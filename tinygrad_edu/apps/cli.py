"""The ``tinygrad-edu`` command (also ``python -m tinygrad_edu``).

tinygrad-edu train        train the flagship MNIST two-layer net
tinygrad-edu infer        accuracy and per-sample vs batched inference time of saved weights
tinygrad-edu graph        draw the flagship's computational graph
tinygrad-edu gradcheck    the notes' TwoLayerNet gradient check, as a table
tinygrad-edu bench        run the benchmarks (from a source checkout)
tinygrad-edu examples     list the curriculum's example scripts
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from tinygrad_edu.apps.common import ArgumentParser, load_data

PACKAGE = Path(__file__).resolve().parent.parent  # the installed tinygrad_edu/

# The course programs that are commands too: command -> examples/<script>.py
PROGRAMS = {"train": "mnist_two_layer", "infer": "mnist_inference"}


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in PROGRAMS:  # these parse their own options
        program = load_example(PROGRAMS[argv[0]])
        program.main(argv[1:], prog=f"tinygrad-edu {argv[0]}")
        return 0
    parser = ArgumentParser(prog="tinygrad-edu", description="tinygrad_edu's command line")
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)

    commands.add_parser("train", help="train the flagship MNIST net (see train --help)")

    commands.add_parser("infer", help="accuracy and speed of saved weights (see infer --help)")

    graph = commands.add_parser("graph", help="draw the flagship's computational graph")
    graph.add_argument("--out", type=Path, default=Path("graphs"), help="output folder")
    graph.add_argument("--format", choices=["svg", "png", "pdf"], default="svg")

    check = commands.add_parser("gradcheck", help="backprop vs numerical gradients")
    check.add_argument("--data-dir", help="folder of the MNIST files (default: search)")
    check.add_argument("--hidden", type=int, default=10, help="hidden size (50 in the notes)")
    check.add_argument("--samples", type=int, default=3, help="number of training images")

    bench = commands.add_parser("bench", help="run a benchmark script")
    bench.add_argument("name", choices=["inference", "training", "gradients", "overhead"])
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed to the script")

    commands.add_parser("examples", help="list the example scripts")

    args = parser.parse_args(argv)
    return {
        "graph": run_graph,
        "gradcheck": run_gradcheck,
        "bench": run_bench,
        "examples": run_examples,
    }[args.command](args)


def run_gradcheck(args):
    """The notes' check: mean |backprop - numerical| per parameter, below 1e-6."""
    import numpy as np

    from tinygrad_edu.models import TwoLayerNet

    (x_train, t_train), _ = load_data(args.data_dir)
    x, t = x_train[: args.samples].astype(np.float64), t_train[: args.samples]
    np.random.seed(0)
    net = TwoLayerNet(784, args.hidden, 10)
    numerical = net.numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    print(f"{'parameter':<10} {'shape':<12} {'mean |backprop - numerical|':>28}  result")
    passed = True
    for name in backprop:
        diff = float(np.mean(np.abs(backprop[name] - numerical[name])))
        passed &= diff < 1e-6
        shape = str(backprop[name].shape)
        print(f"{name:<10} {shape:<12} {diff:>28.3e}  {'ok' if diff < 1e-6 else 'FAIL'}")
    return 0 if passed else 1


def examples_folder() -> Path:
    """The course's example scripts: ``tinygrad_edu/examples`` in an installed package
    (the wheel carries them), else ``examples/`` of the source checkout beside it."""
    installed = PACKAGE / "examples"
    return installed if installed.is_dir() else PACKAGE.parent / "examples"


def load_example(name: str) -> ModuleType:
    """Import the example script ``name``.py as a module (its folder goes on sys.path,
    as when Python runs it, so it can import its sibling ``_common``)."""
    folder = examples_folder()
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"no example {name}.py in {folder}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def benchmarks_folder() -> Path | None:
    """``benchmarks/`` of a source checkout (the current folder, or beside the package
    when it is installed in editable mode); None outside one."""
    for root in (Path.cwd(), PACKAGE.parent):
        if (root / "benchmarks").is_dir():
            return root / "benchmarks"
    return None


def run_bench(args):
    folder = benchmarks_folder()
    script = folder / f"bench_{args.name}.py" if folder else None
    if script is None or not script.is_file():
        print(
            "tinygrad-edu bench: the benchmarks are part of the source repository "
            "(benchmarks/); run this from the root of a clone of it",
            file=sys.stderr,
        )
        return 2
    return subprocess.call([sys.executable, str(script), *args.args])


def run_examples(args):
    folder = examples_folder()
    for script in sorted(folder.glob("[!_]*.py")):
        print(f"{script.name:<32} {_first_line_of_docstring(script)}")
    print(f"\nrun one with: python {folder / '<name>.py'} --help")
    return 0


def _first_line_of_docstring(path):
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().split("\n")[0]


def run_graph(args):
    """The flagship's loss on four images, with values and gradients, as a picture."""
    import numpy as np

    import tinygrad_edu.functional as F
    from tinygrad_edu import nn, viz

    np.random.seed(0)
    model = nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10))
    x = np.random.random_sample((4, 784)).astype(np.float32)
    loss = F.cross_entropy(model(x), np.random.randint(0, 10, size=4))
    loss.backward(retain_graph=True)
    graph = viz.draw_graph(loss, params=dict(model.named_parameters()), show_grad=True)
    path = args.out / f"two_layer_loss.{args.format}"
    try:
        viz.render(graph, path)
    except RuntimeError as err:  # no Graphviz: keep the DOT text
        path = path.with_suffix(".dot")
        viz.save_dot(graph, path)
        print(err, file=sys.stderr)
    print(f"wrote {path}")
    return 0
