"""The ``tinygrad-edu`` command (also ``python -m tinygrad_edu``).

tinygrad-edu train        train the flagship MNIST two-layer net
tinygrad-edu infer        accuracy and per-sample vs batched inference time of saved weights
tinygrad-edu graph        draw the flagship's computational graph
tinygrad-edu gradcheck    the notes' TwoLayerNet gradient check, as a table
tinygrad-edu explain      backprop step by step: the book's apple example, a bug found
tinygrad-edu bench        run the benchmarks (from a source checkout)
tinygrad-edu export       saved weights as an ONNX file or a PyTorch state_dict
tinygrad-edu examples     list the curriculum's example scripts

Every option is checked before any work starts (a bad one: exit status 2). An error
during a run is one line, ``tinygrad-edu <command>: error: <message>`` (status 1), Ctrl-C
prints "interrupted" (status 130): see ``run_main`` in apps/common.py. With
TINYGRAD_EDU_TRACEBACK=1 the Python traceback is shown too.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from tinygrad_edu.apps.common import ArgumentParser, load_data, run_main

PACKAGE = Path(__file__).resolve().parent.parent  # the installed tinygrad_edu/

# The course programs that are commands too: command -> examples/<script>.py
PROGRAMS = {"train": "mnist_two_layer", "infer": "mnist_inference", "explain": "explain_backward"}
TRAIN_MODELS = {"mlp": "mnist_two_layer", "cnn": "mnist_cnn"}  # train --model NAME
COMMANDS = ("train", "infer", "graph", "gradcheck", "explain", "bench", "examples", "export")

GRAPH_FILE = "two_layer_loss"  # graph writes OUT/two_layer_loss.FORMAT
GRADCHECK_TOLERANCE = 1e-6  # the notes' threshold on mean |backprop - numerical|
# export --model: the shape of one input (the ONNX file's batch axis comes in front)
EXPORT_INPUTS = {"mlp": (784,), "cnn": (1, 28, 28)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` (default: sys.argv[1:]) and return its exit status; errors
    are reported in one line (see ``run_main``), never as a traceback."""
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = f"tinygrad-edu {argv[0]}" if argv[:1] and argv[0] in COMMANDS else "tinygrad-edu"
    return run_main(lambda: _run(argv), prog)


def _run(argv: list[str]) -> int:
    if argv[:1] and argv[0] in PROGRAMS:  # these parse their own options
        name, options = PROGRAMS[argv[0]], argv[1:]
        if argv[0] == "train":
            name, options = _train_script(options)
            if {"-h", "--help"} & set(options):  # the scripts' help knows no --model
                print(
                    f"--model {{{','.join(TRAIN_MODELS)}}}: mlp, the flagship (the default), "
                    f"or cnn, chapter 7's CNN; this is the help of {name}.py:\n"
                )
        program = load_example(name)
        status = program.main(options, prog=f"tinygrad-edu {argv[0]}")
        return status if isinstance(status, int) else 0  # some return their results
    parser = ArgumentParser(
        prog="tinygrad-edu",
        description="tinygrad_edu's command line: the course's programs and tools",
    )
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)

    commands.add_parser(
        "train",
        help="train the flagship MNIST net, or with --model cnn the CNN (see train --help)",
        description="Train the flagship two-layer MNIST network (examples/mnist_two_layer.py); "
        "with --model cnn, the chapter-7 CNN (examples/mnist_cnn.py).",
    )
    commands.add_parser(
        "infer",
        help="accuracy and speed of saved weights (see infer --help)",
        description="Score saved weights on MNIST, per-sample and batched "
        "(examples/mnist_inference.py).",
    )
    commands.add_parser(
        "explain",
        help="backprop step by step, and a wrong op found (see explain --help)",
        description="The book's apple example told step by step by explain_backward, and "
        "a planted bug found by gradcheck_graph (examples/explain_backward.py).",
    )

    graph = commands.add_parser(
        "graph",
        help=f"draw the flagship's computational graph into OUT/{GRAPH_FILE}.FORMAT",
        description="Draw the flagship's loss on four random images as a computational graph, "
        f"with values and gradients, into the file OUT/{GRAPH_FILE}.FORMAT (its full path "
        "is printed). Without Graphviz's dot program, the graph's DOT text is written "
        f"instead, to OUT/{GRAPH_FILE}.dot.",
    )
    graph.add_argument(
        "--out",
        type=Path,
        default=Path("graphs"),
        metavar="DIR",
        help=f"folder to write {GRAPH_FILE}.FORMAT into (created if missing)",
    )
    graph.add_argument(
        "--format", choices=["svg", "png", "pdf"], default="svg", help="picture format"
    )

    check = commands.add_parser(
        "gradcheck",
        help="backprop vs numerical gradients",
        description="The notes' gradient check of TwoLayerNet (784 -> hidden -> 10) on a few "
        "MNIST training images: the mean |backprop - numerical gradient| of each parameter, "
        "which must be below 1e-6. Exits 1 if one is not.",
    )
    check.add_argument(
        "--data-dir", metavar="DIR", help="folder of the four MNIST files (default: search)"
    )
    check.add_argument("--hidden", type=int, default=50, help="hidden layer size, as in the notes")
    check.add_argument("--samples", type=int, default=3, help="number of training images")

    bench = commands.add_parser(
        "bench",
        help="run a benchmark script (source repository only)",
        description="Run benchmarks/bench_NAME.py, passing it ARGS. The benchmarks are part "
        "of the source repository, not of the installed package: run this from the root of "
        "a clone.",
    )
    bench.add_argument(
        "name", choices=["inference", "training", "gradients", "overhead", "threads"]
    )
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed to the script")

    commands.add_parser(
        "examples",
        help="list the example scripts",
        description="List the curriculum's example scripts, with the first line of each one's "
        "docstring, and where they are.",
    )

    export = commands.add_parser(
        "export",
        help="saved weights as an ONNX file or a PyTorch state_dict",
        description="Rebuild the network saved in --weights (the .npz that 'tinygrad-edu "
        "train --out DIR' writes) and write it to --out: as an ONNX file (--format onnx, for "
        "onnxruntime and other runtimes; needs pip install 'tinygrad_edu[onnx]') or as a "
        "PyTorch state_dict (--format torch, read it with torch.load(PATH, "
        "weights_only=True); needs pip install 'tinygrad_edu[torch]').",
    )
    export.add_argument(
        "--weights", type=Path, required=True, metavar="W.npz", help=".npz of the trained weights"
    )
    export.add_argument("--format", choices=["onnx", "torch"], default="onnx", help="file format")
    export.add_argument("--out", type=Path, required=True, metavar="PATH", help="file to write")
    export.add_argument(
        "--model",
        choices=list(EXPORT_INPUTS),
        default="mlp",
        help="the network's kind: the flagship MLP or the chapter-7 CNN",
    )

    args = parser.parse_args(argv)
    if args.command == "export" and args.out.expanduser().is_dir():
        export.error(f"--out {args.out}: is a folder; pass the path of the file to write")
    if args.command == "graph":
        graph.check_out_folder(args)
    elif args.command == "gradcheck":
        check.check_data_dir(args)
        check.check_int(args, "hidden", 1, 1000, " (the numerical gradient's time grows with it)")
        check.check_int(args, "samples", 1, 100, " (more images only slow the check down)")
    return {
        "graph": run_graph,
        "gradcheck": run_gradcheck,
        "bench": run_bench,
        "examples": run_examples,
        "export": run_export,
    }[args.command](args)


def _train_script(options: list[str]) -> tuple[str, list[str]]:
    """``train``'s example script and the options left for it: ``--model cnn`` (or
    ``--model=cnn``) picks examples/mnist_cnn.py, ``--model mlp`` (the default) the
    flagship; anything else is refused in one line (exit status 2)."""
    kind, rest = "mlp", []
    items = iter(options)
    for option in items:
        if option == "--model":
            kind = next(items, "")
        elif option.startswith("--model="):
            kind = option.partition("=")[2]
        else:
            rest.append(option)
    if kind not in TRAIN_MODELS:
        ArgumentParser(prog="tinygrad-edu train").error(
            f"--model must be {' or '.join(TRAIN_MODELS)}, not {kind!r}"
        )
    return TRAIN_MODELS[kind], rest


def run_gradcheck(args: argparse.Namespace) -> int:
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
    failed = []
    for name in backprop:
        diff = float(np.mean(np.abs(backprop[name] - numerical[name])))
        if not diff < GRADCHECK_TOLERANCE:
            failed.append(name)
        shape = str(backprop[name].shape)
        print(f"{name:<10} {shape:<12} {diff:>28.3e}  {'FAIL' if name in failed else 'ok'}")
    if failed:
        print(
            f"tinygrad-edu gradcheck: backprop and the numerical gradient disagree for "
            f"{', '.join(failed)} (mean difference not below 1e-6)",
            file=sys.stderr,
        )
        return 1
    return 0


def run_export(args: argparse.Namespace) -> int:
    """The network in ``args.weights`` as an ONNX file or a PyTorch state_dict."""
    import numpy as np

    from tinygrad_edu import export
    from tinygrad_edu._io import atomic_write
    from tinygrad_edu.models import load_network

    try:
        model = load_network(args.weights, network_builder(args.model))
    except OSError as err:  # missing, unreadable, a folder...
        raise OSError(
            f"cannot read --weights {args.weights} ({err.strerror or err}); pass the .npz of "
            f"a trained network, e.g. the mnist_two_layer.npz that 'tinygrad-edu train --out "
            f"DIR' writes into DIR"
        ) from None
    except ValueError as err:  # the arrays of another network
        others = ", ".join(f"--model {kind}" for kind in EXPORT_INPUTS if kind != args.model)
        raise ValueError(f"{err} (--model {args.model}; are these weights for {others}?)") from None
    path = args.out.expanduser().resolve()
    try:
        if args.format == "onnx":
            example = np.zeros((1, *EXPORT_INPUTS[args.model]), np.float32)
            proto = export.to_onnx(model, example, path)
            shapes = [
                tuple(d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim)
                for value in (proto.graph.input[0], proto.graph.output[0])
            ]
            print(f"wrote {path}: ONNX, 'input' {shapes[0]} -> 'output' {shapes[1]}")
            return 0
        torch_model = export.to_torch(model)
    except ImportError as err:  # an extra is missing: the message says which to install
        raise SystemExit(f"tinygrad-edu export: error: {err}") from None
    import torch

    with atomic_write(path) as f:
        torch.save(torch_model.state_dict(), f)
    print(f"wrote {path}: the PyTorch state_dict of\n{torch_model}")
    print("load it into that model: model.load_state_dict(torch.load(path, weights_only=True))")
    return 0


def network_builder(kind: str) -> Callable[[dict[str, Any]], Any]:
    """The function that rebuilds a saved network of ``kind`` from its arrays: for "mlp",
    ``build_network`` of examples/mnist_inference.py (it also rebuilds the notes' nets,
    which the exporter then refuses by name: their forward is their own); for "cnn",
    ``build_model`` of examples/mnist_cnn.py (its architecture is fixed)."""
    if kind == "cnn":
        cnn = load_example("mnist_cnn")
        return lambda weights: cnn.build_model()
    return load_example("mnist_inference").build_network


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
    path = folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if not path.is_file() or spec is None or spec.loader is None:
        raise FileNotFoundError(
            f"the example program {path} is missing: this installation of tinygrad_edu is "
            f"incomplete; reinstall it (pip install --force-reinstall tinygrad_edu)"
        )
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


def run_bench(args: argparse.Namespace) -> int:
    folder = benchmarks_folder()
    script = folder / f"bench_{args.name}.py" if folder else None
    if script is None or not script.is_file():
        print(
            f"tinygrad-edu bench: error: no benchmarks/bench_{args.name}.py here: the "
            "benchmarks are part of the source repository, not of the installed package; "
            "run this from the root of a clone of the repository",
            file=sys.stderr,
        )
        return 2
    return subprocess.call([sys.executable, str(script), *args.args])


def run_examples(args: argparse.Namespace) -> int:
    folder = examples_folder()
    for script in sorted(folder.glob("[!_]*.py")):
        print(f"{script.name:<32} {_first_line_of_docstring(script)}")
    print(f"\nrun one with: python {folder / '<name>.py'} --help")
    return 0


def _first_line_of_docstring(path: Path) -> str:
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().split("\n")[0]


def run_graph(args: argparse.Namespace) -> int:
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
    path = (args.out / f"{GRAPH_FILE}.{args.format}").expanduser().resolve()
    try:
        viz.render(graph, path)
    except RuntimeError as err:  # no Graphviz: keep the DOT text
        path = path.with_suffix(".dot")
        viz.save_dot(graph, path)
        print(err, file=sys.stderr)
    print(f"wrote {path}")
    return 0
