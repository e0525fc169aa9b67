"""Training speed: one SGD step of the 784-hidden-10 ReLU network on mini-batches of 100.

The same step (forward, softmax cross-entropy, backward, parameter update with lr 0.1), from
the same initial weights on the same MNIST mini-batches, by

* tinygrad_edu: ``nn.Sequential(nn.Linear, nn.ReLU, nn.Linear)``, ``F.cross_entropy``,
  ``optim.SGD``: ``zero_grad()``, ``backward()``, ``step()``;
* traced: the same model, loss and optimizer through ``tinygrad_edu.trace.trace_step``
  (graph mode: the step recorded once, replayed as a fixed plan: forward, backward and
  update into preallocated buffers);
* numpy: the book's chapter-5 layers (Affine, Relu, SoftmaxWithLoss) written by hand,
  efficiently (no needless copies, in-place updates, no gradient for the input images);
* book: the book's chapter-5 code as printed (``common/layers.py``, ``softmax`` and
  ``cross_entropy_error`` from ``common/functions.py``, ``TwoLayerNet.gradient`` and the
  update ``params[key] -= learning_rate * grad[key]``), which is what a learner has written;
* PyTorch (CPU), when installed: ``torch.nn.Linear`` etc. and ``torch.optim.SGD``;

in float32 and float64, with hidden sizes 50, 100 and 1000. Before timing, each variant
trains a few steps from the same start and their losses are compared (they must agree to
rounding). The targets concern float32 with 100 hidden units.

    python benchmarks/bench_training.py --data-dir DIR
"""

import numpy as np
from common import (
    add_data_options,
    banner,
    compare,
    environment,
    fmt,
    fmt_ratio,
    footer,
    grouped_bars,
    import_torch,
    int_list,
    load_mnist_data,
    make_parser,
    parse_args,
    print_table,
    print_targets,
    ratio,
    save_plot,
    target,
    write_json,
)

import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.trace import trace_step

LR = 0.1

# --------------------------------------------------------------------------- numpy


class Affine:
    """y = x @ W + b; backward keeps dW and db and returns dx (only if asked)."""

    def __init__(self, W, b, need_dx=True):
        self.W, self.b, self.need_dx = W, b, need_dx

    def forward(self, x):
        self.x = x
        out = x @ self.W
        out += self.b
        return out

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T if self.need_dx else None


class Relu:
    def forward(self, x):
        self.mask = x > 0
        return np.multiply(x, self.mask, out=x)  # x is the fresh output of Affine: reuse it

    def backward(self, dout):
        dout *= self.mask
        return dout


class SoftmaxWithLoss:
    """Softmax and the mean cross-entropy, fused; backward is (softmax - onehot) / N."""

    def forward(self, scores, t):
        n = len(t)
        self.rows, self.t = np.arange(n), t
        scores -= scores.max(axis=1, keepdims=True)  # the scores are ours to overwrite
        picked = scores[self.rows, t]
        np.exp(scores, out=scores)
        sums = scores.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(sums[:, 0]) - picked))
        scores /= sums
        self.y = scores
        return loss

    def backward(self):
        dx = self.y
        dx[self.rows, self.t] -= 1
        dx *= 1 / len(self.t)
        return dx


class NumpyNet:
    name = "numpy"

    def __init__(self, W1, b1, W2, b2):
        self.affine1 = Affine(W1.copy(), b1.copy(), need_dx=False)
        self.relu = Relu()
        self.affine2 = Affine(W2.copy(), b2.copy())
        self.loss_layer = SoftmaxWithLoss()

    def step(self, x, t):
        h = self.relu.forward(self.affine1.forward(x))
        loss = self.loss_layer.forward(self.affine2.forward(h), t)
        dout = self.affine2.backward(self.loss_layer.backward())
        self.affine1.backward(self.relu.backward(dout))
        for layer in (self.affine1, self.affine2):
            for p, g in ((layer.W, layer.dW), (layer.b, layer.db)):
                g *= LR
                p -= g
        return loss


# ---------------------------------------------------------- the book, as printed


def book_softmax(x):
    x = x.T
    x = x - np.max(x, axis=0)
    y = np.exp(x) / np.sum(np.exp(x), axis=0)
    return y.T


def book_cross_entropy_error(y, t):
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class BookRelu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class BookAffine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class BookSoftmaxWithLoss:
    def forward(self, x, t):
        self.t = t
        self.y = book_softmax(x)
        return book_cross_entropy_error(self.y, t)

    def backward(self):
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx / batch_size


class BookNet:
    name = "book"

    def __init__(self, W1, b1, W2, b2):
        self.params = {"W1": W1.copy(), "b1": b1.copy(), "W2": W2.copy(), "b2": b2.copy()}
        self.layers = [
            BookAffine(self.params["W1"], self.params["b1"]),
            BookRelu(),
            BookAffine(self.params["W2"], self.params["b2"]),
        ]
        self.last_layer = BookSoftmaxWithLoss()

    def gradient(self, x, t):
        for layer in self.layers:
            x = layer.forward(x)
        loss = self.last_layer.forward(x, t)
        dout = self.last_layer.backward()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        first, last = self.layers[0], self.layers[2]
        grads = {"W1": first.dW, "b1": first.db, "W2": last.dW, "b2": last.db}
        return loss, grads

    def step(self, x, t):
        loss, grads = self.gradient(x, t)
        for key in ("W1", "b1", "W2", "b2"):
            self.params[key] -= LR * grads[key]
        return float(loss)


# ------------------------------------------------------------------- the others


class TensorNet:
    name = "tinygrad_edu"

    def __init__(self, W1, b1, W2, b2):
        dtype = W1.dtype
        self.model = nn.Sequential(
            nn.Linear(*W1.shape, dtype=dtype), nn.ReLU(), nn.Linear(*W2.shape, dtype=dtype)
        )
        self.model.load_state_dict({"0.weight": W1, "0.bias": b1, "2.weight": W2, "2.bias": b2})
        self.optimizer = optim.SGD(self.model.parameters(), lr=LR)

    def step(self, x, t):
        loss = F.cross_entropy(self.model(x), t)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()


class TracedNet(TensorNet):
    name = "traced"

    def __init__(self, W1, b1, W2, b2, x, t):
        super().__init__(W1, b1, W2, b2)
        # tracing runs the forward pass once on (x, t) and changes no weight
        self.traced = trace_step(self.model, F.cross_entropy, self.optimizer, x, t)

    def step(self, x, t):
        return self.traced(x, t).item()


class TorchNet:
    name = "torch"

    def __init__(self, W1, b1, W2, b2, torch):
        dtype = {np.float32: torch.float32, np.float64: torch.float64}[W1.dtype.type]
        self.torch = torch
        self.model = torch.nn.Sequential(
            torch.nn.Linear(*W1.shape, dtype=dtype),
            torch.nn.ReLU(),
            torch.nn.Linear(*W2.shape, dtype=dtype),
        )
        with torch.no_grad():  # torch stores the weights transposed: (out, in)
            for layer, W, b in ((self.model[0], W1, b1), (self.model[2], W2, b2)):
                layer.weight.copy_(torch.from_numpy(W.T))
                layer.bias.copy_(torch.from_numpy(b))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.batches = {}  # numpy batch id -> the same data as torch tensors

    def step(self, x, t):
        x, t = self.as_torch(x, t)
        loss = self.torch.nn.functional.cross_entropy(self.model(x), t)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def as_torch(self, x, t):
        """The batch as torch tensors (sharing memory), converted once and then reused."""
        key = id(x)
        if key not in self.batches:
            self.batches[key] = (x, self.torch.from_numpy(x), self.torch.from_numpy(t))
        return self.batches[key][1:]


# -------------------------------------------------------------------------- runs


def make_batches(x_train, t_train, batch_size, count, dtype, seed, random_data):
    """``count`` mini-batches (contiguous arrays), real data or random."""
    rng = np.random.default_rng(seed)
    if random_data:
        xs = rng.random((count, batch_size, 784)).astype(dtype)
        ts = rng.integers(0, 10, (count, batch_size))
    else:
        order = rng.permutation(len(x_train))[: count * batch_size]
        xs = x_train[order].astype(dtype).reshape(count, batch_size, 784)
        ts = t_train[order].reshape(count, batch_size)
    return [(np.ascontiguousarray(x), np.ascontiguousarray(t)) for x, t in zip(xs, ts)]


def initial_weights(hidden, dtype, seed):
    """He-initialised weights (as nn.Linear does), zero biases."""
    rng = np.random.default_rng(seed)
    W1 = (rng.standard_normal((784, hidden)) * np.sqrt(2 / 784)).astype(dtype)
    W2 = (rng.standard_normal((hidden, 10)) * np.sqrt(2 / hidden)).astype(dtype)
    return W1, np.zeros(hidden, dtype), W2, np.zeros(10, dtype)


class Trainer:
    """Calls ``net.step`` on the batches in turn: one call, one SGD step."""

    def __init__(self, net, batches):
        self.net, self.batches, self.i = net, batches, 0

    def __call__(self):
        x, t = self.batches[self.i % len(self.batches)]
        self.i += 1
        return self.net.step(x, t)


def run_config(dtype, hidden, batches, args, torch):
    weights = initial_weights(hidden, dtype, args.seed)
    nets = [TensorNet(*weights), NumpyNet(*weights), BookNet(*weights)]
    nets.append(TracedNet(*weights, *batches[0]))
    if torch is not None:
        nets.append(TorchNet(*weights, torch))
    trainers = {net.name: Trainer(net, batches) for net in nets}
    # Same start, same batches: the losses must agree (this also warms everything up).
    losses = {name: [train() for _ in range(args.check_steps)] for name, train in trainers.items()}
    reference = np.array(losses["numpy"])
    differences = {
        name: float(np.max(np.abs(np.array(values) - reference))) for name, values in losses.items()
    }
    timings = compare(trainers, args.repeats, args.min_time)
    seconds = {name: timing.to_dict() for name, timing in timings.items()}
    return {
        "dtype": np.dtype(dtype).name,
        "hidden": hidden,
        "losses": losses,
        "max_loss_difference_to_numpy": differences,
        "seconds_per_step": seconds,
        "ms_per_step": {name: s["median"] * 1e3 for name, s in seconds.items()},
        "ratio_to_numpy": {
            name: s["median"] / seconds["numpy"]["median"] for name, s in seconds.items()
        },
    }


def print_results(configs, variants):
    rows = []
    for c in configs:
        ms = c["ms_per_step"]
        row = [c["dtype"], c["hidden"]]
        row += [fmt(ms.get(v)) for v in variants]
        row += [fmt_ratio(c["ratio_to_numpy"].get(v)) for v in variants if v != "numpy"]
        row.append(fmt_ratio(ratio(ms["tinygrad_edu"], ms.get("torch"))))
        row.append(fmt_ratio(ratio(ms["traced"], ms.get("torch"))))
        differences = c["max_loss_difference_to_numpy"]
        row.append(fmt(max(d for v, d in differences.items() if v != "book"), 2))
        rows.append(row)
    headers = ["dtype", "hidden"]
    headers += [f"{v} ms" for v in variants]
    headers += [f"{v} / numpy" for v in variants if v != "numpy"]
    headers += ["tinygrad_edu / torch", "traced / torch", "max loss diff"]
    print_table(headers, rows, title="One SGD step, batch of 100 (median ms per step)")


def targets_from(configs):
    main = next((c for c in configs if c["dtype"] == "float32" and c["hidden"] == 100), None)
    seconds = main["seconds_per_step"] if main else {}
    return [
        target(
            "training step (float32, 100 hidden): tinygrad_edu / numpy",
            seconds.get("tinygrad_edu"),
            seconds.get("numpy"),
            1.10,
        ),
        target(
            "training step (float32, 100 hidden): tinygrad_edu / book",
            seconds.get("tinygrad_edu"),
            seconds.get("book"),
            1.10,
        ),
        target(
            "training step (float32, 100 hidden): tinygrad_edu / torch",
            seconds.get("tinygrad_edu"),
            seconds.get("torch"),
            1.0,
        ),
        target(
            "training step (float32, 100 hidden): traced / numpy",
            seconds.get("traced"),
            seconds.get("numpy"),
            1.0,
        ),
        target(
            "training step (float32, 100 hidden): traced / torch",
            seconds.get("traced"),
            seconds.get("torch"),
            0.7,
        ),
    ]


def draw(configs, variants):
    def figure(plt):
        fig, ax = plt.subplots(figsize=(8, 4.5))
        labels = [f"{c['dtype']}\nhidden {c['hidden']}" for c in configs]
        grouped_bars(ax, configs, variants, lambda c, v: c["ms_per_step"][v], labels)
        ax.set_yscale("log")
        ax.set_ylabel("ms per SGD step (batch of 100)")
        ax.set_title("784-hidden-10 ReLU net: one training step")
        ax.legend()
        return fig

    return figure


def main(argv=None):
    parser = make_parser(__doc__, "a few seconds: float32 and float64 with 100 hidden units")
    add_data_options(parser)
    parser.add_argument("--random-data", action="store_true", help="random data, not MNIST")
    parser.add_argument("--batch-size", type=int, default=100, help="images per mini-batch")
    parser.add_argument(
        "--hidden", type=int_list, default=[50, 100, 1000], metavar="H,H,...", help="hidden sizes"
    )
    parser.add_argument("--dtypes", default="float32,float64", metavar="D,D", help="float types")
    parser.add_argument("--repeats", type=int, default=7, help="timed samples per variant")
    parser.add_argument("--min-time", type=float, default=0.1, help="seconds per sample")
    parser.add_argument(
        "--check-steps", type=int, default=10, help="steps whose losses are compared"
    )
    parser.add_argument("--batches", type=int, default=50, help="distinct mini-batches")
    args = parse_args(parser, argv)
    if args.quick:
        args.hidden, args.repeats = [100], min(args.repeats, 3)
        args.min_time = min(args.min_time, 0.02)
        args.batches, args.check_steps = min(args.batches, 10), min(args.check_steps, 5)
    dtypes = [np.dtype(d).type for d in args.dtypes.split(",")]

    torch, torch_note = import_torch(args.no_torch)
    env = environment(torch, torch_note)
    if args.random_data:
        x_train, t_train, data_source = None, None, "random data (--random-data)"
    else:
        (x_train, t_train), _, data_source = load_mnist_data(args.data_dir, args.download)
    variants = ["tinygrad_edu", "numpy", "book", "traced"] + (["torch"] if torch else [])
    banner(
        "Training benchmark: one SGD step (lr 0.1) of the 784-hidden-10 ReLU net",
        env,
        [
            f"data:     {data_source}; {args.batches} mini-batches of {args.batch_size}",
            f"configs:  dtypes {args.dtypes}; hidden sizes {args.hidden}",
            f"timing:   per variant {args.repeats} samples of >= {args.min_time} s, round-robin",
            "variants: " + ", ".join(variants) + ("" if torch else f" (torch {torch_note})"),
        ],
    )

    configs = []
    for dtype in dtypes:
        batches = make_batches(
            x_train, t_train, args.batch_size, args.batches, dtype, args.seed, args.random_data
        )
        for hidden in args.hidden:
            configs.append(run_config(dtype, hidden, batches, args, torch))
    print_results(configs, variants)
    print(
        f"losses: the variants trained {args.check_steps} steps from the same weights on the "
        "same batches; 'max loss diff' is the largest difference from numpy's losses (book "
        "left out: its cross_entropy_error adds 1e-7 inside the log, which moves the loss by "
        "about 1e-6)"
    )
    print()
    targets = targets_from(configs)
    print_targets(targets)
    footer(env)

    if args.json:
        settings = {
            "data": data_source,
            "batch_size": args.batch_size,
            "hidden": args.hidden,
            "dtypes": args.dtypes.split(","),
            "repeats": args.repeats,
            "min_time": args.min_time,
            "check_steps": args.check_steps,
            "variants": variants,
            "torch_note": torch_note,
        }
        write_json(args.json, "training", env, settings, {"configs": configs, "targets": targets})
    if args.plot:
        save_plot(args.plot, draw(configs, variants))


if __name__ == "__main__":
    main()
