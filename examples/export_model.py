"""The way out: the flagship exported to ONNX and to PyTorch, and judged by both.

A network trained here should not have to be retyped to run elsewhere (a GPU, a phone, a
web page, a bigger project). ``tinygrad_edu.export`` writes it in two standard forms:

* ``to_onnx(model, example_input, "model.onnx")``: an ONNX file, the format that
  onnxruntime, TensorRT, OpenVINO and browsers run. Its batch axis is dynamic.
* ``to_torch(model)``: the same network made of ``torch.nn`` layers; its ``state_dict``,
  saved with ``torch.save``, is all a PyTorch user needs. Our Linear weight is
  (in_features, out_features), as in the book; PyTorch's is the transpose, so the export
  transposes it (and ``load_torch_state_dict`` transposes it back).

This script trains the flagship (``--quick``: 1 epoch on 10,000 images) or loads it
(``--weights``), writes ``model.onnx`` and ``model.pt`` into ``--out``, then scores the
10,000 test images three ways: here, in onnxruntime (reading model.onnx) and in PyTorch (a
``torch.nn.Sequential`` typed by hand, loading model.pt). The three accuracies agree: the
scores differ only in float32 rounding. Last, model.pt comes back in through
``load_torch_state_dict``, the road a PyTorch-trained network takes to run here.

Needs onnxruntime and PyTorch: ``pip install 'tinygrad_edu[onnx,torch]'``.

    python examples/export_model.py --quick
    python examples/export_model.py --weights out/mnist_two_layer/mnist_two_layer.npz
"""

import sys
from pathlib import Path

import mnist_inference
import mnist_two_layer
import numpy as np

from tinygrad_edu import metrics, no_grad
from tinygrad_edu._io import atomic_write
from tinygrad_edu.apps.common import ArgumentParser, load_data, run_main
from tinygrad_edu.export import load_torch_state_dict, to_onnx, to_torch
from tinygrad_edu.models import load_network


def parse_args(argv=None, prog=None):
    p = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--weights",
        type=Path,
        metavar="PATH",
        help="the flagship's .npz (tinygrad-edu train --out DIR writes it); default: train",
    )
    p.add_argument(
        "--data-dir", metavar="DIR", help="folder holding the four MNIST files (default: search)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("out") / "export_model",
        metavar="DIR",
        help="folder for model.onnx and model.pt",
    )
    p.add_argument(
        "--quick", action="store_true", help="train 1 epoch on 10,000 images (no --weights)"
    )
    args = p.parse_args(argv)
    p.check_data_dir(args)
    p.check_out_folder(args)  # last: it creates the folder
    return args


def import_runtimes(prog):
    """onnxruntime and torch, or a one-line error saying what to install."""
    try:
        import onnxruntime
        import torch
    except ImportError as err:
        raise SystemExit(
            f"{prog}: error: this example needs onnxruntime and PyTorch ({err.name} is "
            f"missing): pip install 'tinygrad_edu[onnx,torch]'"
        ) from None
    return onnxruntime, torch


def trained_flagship(args):
    """The flagship network: loaded from --weights, or trained now."""
    if args.weights is not None:
        return load_network(args.weights, mnist_inference.build_network)
    options = ["--quick"] if args.quick else []
    if args.data_dir:
        options += ["--data-dir", args.data_dir]
    model, _ = mnist_two_layer.train(mnist_two_layer.parse_args(options))
    return model


def main(argv=None, prog=None):
    args = parse_args(argv, prog)
    onnxruntime, torch = import_runtimes(prog or "export_model.py")
    model = trained_flagship(args)
    _, (x_test, t_test) = load_data(args.data_dir)  # (10000, 784) float32
    model.eval()

    # 1. Export: an ONNX file, and PyTorch's state_dict of the same network.
    onnx_path, torch_path = args.out / "model.onnx", args.out / "model.pt"
    to_onnx(model, x_test[:1], onnx_path)
    with atomic_write(torch_path) as f:
        torch.save(to_torch(model).state_dict(), f)
    print(f"\nwrote {onnx_path} and {torch_path}")

    # 2. Run each: here, in onnxruntime, and in PyTorch as a PyTorch user would.
    with no_grad():
        ours = model(x_test).data
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (from_onnx,) = session.run(["output"], {"input": x_test})
    hidden = model[0].out_features
    torch_model = torch.nn.Sequential(
        torch.nn.Linear(784, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
    )
    torch_model.load_state_dict(torch.load(torch_path, weights_only=True))
    with torch.no_grad():
        from_torch = torch_model(torch.from_numpy(x_test)).numpy()

    scores = {"tinygrad_edu": ours, "onnxruntime": from_onnx, "PyTorch": from_torch}
    accuracies = [metrics.accuracy(t_test, s.argmax(axis=1)) for s in scores.values()]
    gaps = [float(np.max(np.abs(s - ours))) for s in scores.values()]
    flips = [int(np.sum(s.argmax(axis=1) != ours.argmax(axis=1))) for s in scores.values()]
    print(f"\n{f'{len(x_test):,} test images':<24}" + "".join(f"{k:>14}" for k in scores))
    print(f"{'accuracy':<24}" + "".join(f"{a:>14.4f}" for a in accuracies))
    print(f"{'max |score - ours|':<24}" + "".join(f"{g:>14.1e}" for g in gaps))
    print(f"{'predictions unlike ours':<24}" + "".join(f"{n:>14}" for n in flips))

    # 3. And back: PyTorch's weights into a network of this library.
    back = mnist_inference.build_network(model.state_dict())
    load_torch_state_dict(back, torch.load(torch_path, weights_only=True))
    with no_grad():
        returned = bool(np.array_equal(back(x_test).data, ours))
    verdict = "the same" if returned else "OTHER"
    print(f"\nmodel.pt loaded back by load_torch_state_dict: {verdict} scores as before")
    agree = all(np.allclose(s, ours, rtol=1e-5, atol=1e-4) for s in scores.values())
    if not (agree and returned):
        print("the exported models disagree with this library's scores", file=sys.stderr)
        return 1
    return {
        "accuracy": accuracies[0],
        "accuracy_onnx": accuracies[1],
        "accuracy_torch": accuracies[2],
        "max_gap_onnx": gaps[1],
        "max_gap_torch": gaps[2],
        "other_predictions": flips[1:],
        "round_trip_identical": returned,
        "files": [onnx_path, torch_path],
    }


if __name__ == "__main__":  # errors in one line, Ctrl-C as "interrupted" (exit 130)
    raise SystemExit(run_main(main))
