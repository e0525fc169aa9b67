"""Inference speed: the book's pre-trained 3-layer sigmoid network on the MNIST test set.

    sigmoid(x @ W1 + b1) -> sigmoid(. @ W2 + b2) -> softmax(. @ W3 + b3)

run over all test images at batch sizes 1, 10, 100, 1000, 10000 by

* tinygrad_edu: ``models.ThreeLayerNet`` (one fused ``linear`` op per layer) under
  ``no_grad()``;
* traced: the same model through ``tinygrad_edu.trace.trace`` (graph mode: the ops recorded
  once, replayed as a fixed plan of numpy calls into preallocated buffers; one plan per
  batch size, traced by the untimed first pass; results copied out, the default);
* numpy: the same arithmetic on raw arrays (the same stable sigmoid and max-shifted
  softmax as tinygrad_edu);
* PyTorch (CPU, under ``torch.inference_mode()``), when it is installed;

all in float32. Each variant first makes one untimed pass that also measures its accuracy
(they must agree: 0.9352 with the book's weights), then the timed passes run round-robin.

    python benchmarks/bench_inference.py --weights sample_weight.npz --data-dir DIR
"""

import contextlib
import math
import time
from functools import partial

import numpy as np
from common import (
    Case,
    add_data_options,
    banner,
    compare,
    environment,
    fmt,
    fmt_ratio,
    footer,
    import_torch,
    int_list,
    load_mnist_data,
    make_parser,
    numpy_sigmoid,
    numpy_softmax,
    parse_args,
    print_table,
    print_targets,
    save_plot,
    target,
    write_json,
)

from tinygrad_edu import no_grad
from tinygrad_edu.models import ThreeLayerNet
from tinygrad_edu.trace import trace

SHAPES = {
    "W1": (784, 50),
    "b1": (50,),
    "W2": (50, 100),
    "b2": (100,),
    "W3": (100, 10),
    "b3": (10,),
}


def load_weights(path, seed):
    """The network's float32 weights from ``path`` (an .npz with W1, b1, ..., b3), or
    random ones of the same shapes when ``path`` is None. Returns ``(weights, source)``."""
    if path is None:
        rng = np.random.default_rng(seed)
        weights = {k: (0.1 * rng.standard_normal(s)).astype(np.float32) for k, s in SHAPES.items()}
        return weights, "RANDOM weights (no --weights given): accuracy will be near chance"
    with np.load(path, allow_pickle=False) as archive:
        weights = {k: archive[k].astype(np.float32) for k in SHAPES}
    for k, shape in SHAPES.items():
        if weights[k].shape != shape:
            raise ValueError(f"{path}: {k} has shape {weights[k].shape}, expected {shape}")
    return weights, f"{path}"


# --------------------------------------------------------------------------- variants


class NumpyNet:
    name = "numpy"

    def __init__(self, w):
        self.w = w

    def predict(self, x):
        w = self.w
        a = numpy_sigmoid(x @ w["W1"] + w["b1"])
        a = numpy_sigmoid(a @ w["W2"] + w["b2"])
        return numpy_softmax(a @ w["W3"] + w["b3"])

    def context(self):
        return contextlib.nullcontext()

    def labels(self, y):
        return y.argmax(axis=1)


class TensorNet:
    name = "tinygrad_edu"

    def __init__(self, w):
        # the library's model of the book's network: F.linear (one op, x @ W + b) per layer
        self.model = ThreeLayerNet(784, *w["W2"].shape, w["W3"].shape[1], dtype=np.float32)
        self.model.load_state_dict(w)

    def predict(self, x):
        return self.model(x)

    def context(self):
        return no_grad()

    def labels(self, y):
        return y.data.argmax(axis=1)


class TracedNet(TensorNet):
    name = "traced"

    def __init__(self, w):
        super().__init__(w)
        # traced on one image; a new batch size traces again (kept: one plan per size)
        self.predict = trace(self.model, np.zeros((1, 784), np.float32))

    def context(self):
        return contextlib.nullcontext()  # a replay records nothing: no no_grad() needed


class TorchNet:
    name = "torch"

    def __init__(self, w, torch):
        self.torch = torch
        self.w = {k: torch.from_numpy(v) for k, v in w.items()}

    def predict(self, x):
        torch, w = self.torch, self.w
        a = torch.sigmoid(torch.from_numpy(x) @ w["W1"] + w["b1"])
        a = torch.sigmoid(a @ w["W2"] + w["b2"])
        return torch.softmax(a @ w["W3"] + w["b3"], dim=-1)

    def context(self):
        return self.torch.inference_mode()

    def labels(self, y):
        return y.argmax(dim=1).numpy()


# ------------------------------------------------------------------------------ runs


def run_pass(net, x, batch_size):
    """Predict every image of ``x``, ``batch_size`` at a time (the timed loop)."""
    predict = net.predict
    for i in range(0, len(x), batch_size):
        predict(x[i : i + batch_size])


def accuracy(net, x, t, batch_size):
    """``(accuracy, seconds)`` of one untimed pass, which also warms the variant up."""
    start = time.perf_counter()
    with net.context():
        labels = [
            net.labels(net.predict(x[i : i + batch_size])) for i in range(0, len(x), batch_size)
        ]
    seconds = time.perf_counter() - start
    return float(np.mean(np.concatenate(labels) == t)), seconds


def benchmark(nets, x, t, batch_sizes, repeats, min_time):
    """Per batch size and variant: accuracy and the timing of a full pass.

    A sample is one pass over all images, or several when a pass is shorter than
    ``min_time`` (the time of the untimed accuracy pass decides).
    """
    results = []
    for b in batch_sizes:
        accuracies, passes = {}, {}
        for net in nets:
            accuracies[net.name], seconds = accuracy(net, x, t, b)
            passes[net.name] = max(1, math.ceil(min_time / seconds))
        cases = {net.name: Case(partial(run_pass, net, x, b), context=net.context) for net in nets}
        timings = compare(cases, repeats, number=passes)
        for net in nets:
            seconds = timings[net.name]
            results.append(
                {
                    "batch_size": b,
                    "variant": net.name,
                    "accuracy": accuracies[net.name],
                    "seconds": seconds.to_dict(),
                    "images_per_second": len(x) / seconds.median,
                    "us_per_image": seconds.median / len(x) * 1e6,
                }
            )
    by_key = {(r["variant"], r["batch_size"]): r for r in results}
    for r in results:
        first = by_key[(r["variant"], batch_sizes[0])]
        r["speedup_over_batch_1"] = first["seconds"]["median"] / r["seconds"]["median"]
        numpy_run = by_key.get(("numpy", r["batch_size"]))
        r["ratio_to_numpy"] = r["seconds"]["median"] / numpy_run["seconds"]["median"]
    return results


def print_results(results, n_images):
    rows = [
        [
            r["batch_size"],
            r["variant"],
            fmt(r["seconds"]["median"]),
            fmt(r["seconds"]["iqr"], 2),
            fmt(r["images_per_second"]),
            fmt(r["us_per_image"]),
            fmt_ratio(r["speedup_over_batch_1"]),
            fmt_ratio(r["ratio_to_numpy"]),
            f"{r['accuracy']:.4f}",
        ]
        for r in results
    ]
    headers = [
        "batch",
        "variant",
        "total s",
        "IQR s",
        "images/s",
        "us/image",
        "speed-up vs batch 1",
        "time / numpy",
        "accuracy",
    ]
    print_table(headers, rows, title=f"Inference on {n_images:,} images (median of the runs)")


def targets_from(results):
    seconds = {(r["variant"], r["batch_size"]): r["seconds"] for r in results}

    def check(name, a, b, batch, limit):
        return target(name, seconds.get((a, batch)), seconds.get((b, batch)), limit)

    return [
        check("per-sample (batch 1): tinygrad_edu / numpy", "tinygrad_edu", "numpy", 1, 2.0),
        check("per-sample (batch 1): tinygrad_edu / torch", "tinygrad_edu", "torch", 1, 1.0),
        check("batch 100: tinygrad_edu / numpy", "tinygrad_edu", "numpy", 100, 1.05),
        check("per-sample (batch 1): traced / numpy", "traced", "numpy", 1, 1.0),
        check("per-sample (batch 1): traced / torch", "traced", "torch", 1, 1.0),
        check("batch 100: traced / numpy", "traced", "numpy", 100, 1.0),
    ]


def draw(results):
    def figure(plt):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for variant in dict.fromkeys(r["variant"] for r in results):
            rows = [r for r in results if r["variant"] == variant]
            ax.plot(
                [r["batch_size"] for r in rows],
                [r["images_per_second"] for r in rows],
                marker="o",
                label=variant,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("images per second")
        ax.set_title("3-layer sigmoid net, MNIST test set, float32")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        return fig

    return figure


def main(argv=None):
    parser = make_parser(__doc__, "a few seconds: 500 images, 2 runs")
    add_data_options(parser)
    parser.add_argument(
        "--weights",
        metavar="NPZ",
        help="the pre-trained weights (the book's sample_weight.npz); default: random weights",
    )
    parser.add_argument(
        "--batch-sizes",
        type=int_list,
        default=[1, 10, 100, 1000, 10000],
        metavar="B,B,...",
        help="images per forward pass",
    )
    parser.add_argument("--images", type=int, help="use only the first N test images")
    parser.add_argument("--repeats", type=int, default=5, help="timed samples per variant")
    parser.add_argument(
        "--min-time", type=float, default=0.2, help="a sample repeats short passes to last this (s)"
    )
    args = parse_args(parser, argv)
    if args.quick:
        args.images = args.images or 500
        args.repeats = min(args.repeats, 2)
        args.min_time = min(args.min_time, 0.02)

    torch, torch_note = import_torch(args.no_torch)
    env = environment(torch, torch_note)
    weights, weights_source = load_weights(args.weights, args.seed)
    _, (x, t), data_source = load_mnist_data(args.data_dir, args.download)
    x, t = np.ascontiguousarray(x[: args.images]), t[: args.images]
    batch_sizes = sorted({min(b, len(x)) for b in args.batch_sizes})
    banner(
        "Inference benchmark: 3-layer sigmoid net (784-50-100-10), float32",
        env,
        [
            f"data:     {data_source}; timing {len(x):,} test images",
            f"weights:  {weights_source}",
            f"batches:  {batch_sizes}; per variant {args.repeats} timed samples, round-robin "
            f"(a sample: passes over all images lasting >= {args.min_time} s)",
            "variants: tinygrad_edu under no_grad(); numpy (same arithmetic); traced "
            "(trace(model)); "
            + ("torch under inference_mode()" if torch else f"torch {torch_note}"),
        ],
    )

    nets = [TensorNet(weights), NumpyNet(weights), TracedNet(weights)]
    if torch is not None:
        nets.append(TorchNet(weights, torch))
    results = benchmark(nets, x, t, batch_sizes, args.repeats, args.min_time)
    print_results(results, len(x))

    accuracies = {(r["variant"], r["batch_size"]): r["accuracy"] for r in results}
    agree = len(set(accuracies.values())) == 1
    print(
        f"accuracy: {next(iter(accuracies.values())):.4f} for every variant and batch size"
        if agree
        else "accuracy DIFFERS between variants: "
        + ", ".join(f"{v} b={b}: {a:.4f}" for (v, b), a in accuracies.items())
    )
    print()
    targets = targets_from(results)
    print_targets(targets)
    footer(env)

    if args.json:
        settings = {
            "data": data_source,
            "weights": weights_source,
            "images": len(x),
            "batch_sizes": batch_sizes,
            "repeats": args.repeats,
            "variants": [net.name for net in nets],
            "torch_note": torch_note,
        }
        payload = {"runs": results, "accuracies_agree": agree, "targets": targets}
        write_json(args.json, "inference", env, settings, payload)
    if args.plot:
        save_plot(args.plot, draw(results))


if __name__ == "__main__":
    main()
