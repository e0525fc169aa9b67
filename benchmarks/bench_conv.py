"""Convolution and pooling speed: forward + backward of each layer of the MNIST CNN.

The layers of examples/mnist_cnn.py on a batch of 100 float32 images, each timed as one
forward and one backward pass (every gradient: input, weight, bias), by

* tinygrad_edu: ``F.conv2d`` and ``F.max_pool2d`` on Tensors, then ``backward``;
* book: the book's chapter-7 code as printed (``common/util.py``'s ``im2col`` and
  ``col2im``, ``common/layers.py``'s ``Convolution`` and ``Pooling``), which is what a
  learner has written. As printed, its ``im2col`` fills ``np.zeros(...)``, a float64
  array, so it computes in float64 whatever the input's type;
* PyTorch (CPU), when installed: ``torch.nn.functional.conv2d`` and ``max_pool2d``.

Before timing, the variants' outputs and gradients are compared. A second table times
the two ways of building im2col's columns, the book's loop over the kernel's positions
and ``numpy.lib.stride_tricks.sliding_window_view`` (tinygrad_edu's ``im2col``: as fast
or faster here), and the loop of ``col2im``, on the same shapes. A third times the two ways
of max pooling: im2col, the maximum of each window and col2im, against tinygrad_edu's
loop over the kernel's positions that copies no window (the faster here).

    python benchmarks/bench_conv.py
"""

import numpy as np
from common import (
    Case,
    banner,
    compare,
    environment,
    fmt,
    fmt_ratio,
    footer,
    grouped_bars,
    import_torch,
    make_parser,
    parse_args,
    print_table,
    print_targets,
    save_plot,
    target,
    write_json,
)

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor
from tinygrad_edu.functional.conv import col2im, im2col
from tinygrad_edu.ops import Function

# The CNN's layers (examples/mnist_cnn.py): name, op, input shape, then for a convolution
# the weight's shape, for a pool the kernel size (stride = kernel, no padding).
LAYERS = [
    ("conv1", "conv2d", (100, 1, 28, 28), (30, 1, 5, 5)),
    ("pool1", "max_pool2d", (100, 30, 24, 24), 2),
    ("conv2", "conv2d", (100, 30, 12, 12), (32, 30, 3, 3)),
    ("pool2", "max_pool2d", (100, 32, 10, 10), 2),
]

# ----------------------------------------------------- the book's code, as printed


def book_im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1

    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w))

    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]

    col = col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)
    return col


def book_col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)

    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1))
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]

    return img[:, :, pad : H + pad, pad : W + pad]


class BookConvolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad

        self.x = None
        self.col = None
        self.col_W = None

        self.dW = None
        self.db = None

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape  # noqa: RUF059 (as printed)
        out_h = 1 + int((H + 2 * self.pad - FH) / self.stride)
        out_w = 1 + int((W + 2 * self.pad - FW) / self.stride)

        col = book_im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T

        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

        self.x = x
        self.col = col
        self.col_W = col_W

        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)

        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout)
        self.dW = self.dW.transpose(1, 0).reshape(FN, C, FH, FW)

        dcol = np.dot(dout, self.col_W.T)
        dx = book_col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)

        return dx


class BookPooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad

        self.x = None
        self.arg_max = None

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)

        col = book_im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)

        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

        self.x = x
        self.arg_max = arg_max

        return out

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)

        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape((*dout.shape, pool_size))

        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        dx = book_col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)

        return dx


# ------------------------------------------------------------------ the variants


class Ours:
    """tinygrad_edu: the op on leaf Tensors, then backward with the given gradient."""

    name = "tinygrad_edu"

    def __init__(self, op, arrays, param, upstream):
        self.op, self.param, self.upstream = op, param, upstream
        self.leaves = [Tensor(a, requires_grad=True) for a in arrays]

    def __call__(self):
        for leaf in self.leaves:
            leaf.grad = None
        if self.op == "conv2d":
            out = F.conv2d(*self.leaves)
        else:
            out = F.max_pool2d(self.leaves[0], self.param)
        out.backward(self.upstream)
        return out.data, [leaf.grad.data for leaf in self.leaves]


class Book:
    """The book's layer: forward, then backward (it keeps dW and db)."""

    name = "book"

    def __init__(self, op, arrays, param, upstream):
        self.op, self.upstream = op, upstream
        self.x = arrays[0]
        if op == "conv2d":
            self.layer = BookConvolution(arrays[1], arrays[2])
        else:
            self.layer = BookPooling(param, param, stride=param)

    def __call__(self):
        out = self.layer.forward(self.x)
        dx = self.layer.backward(self.upstream)
        grads = [dx, self.layer.dW, self.layer.db] if self.op == "conv2d" else [dx]
        return out, grads


class Torch:
    name = "torch"

    def __init__(self, op, arrays, param, upstream, torch):
        self.torch, self.op, self.param = torch, op, param
        self.leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
        self.upstream = torch.from_numpy(upstream)

    def __call__(self):
        functional = self.torch.nn.functional
        for leaf in self.leaves:
            leaf.grad = None
        if self.op == "conv2d":
            out = functional.conv2d(*self.leaves)
        else:
            out = functional.max_pool2d(self.leaves[0], self.param)
        out.backward(self.upstream)
        return out.detach().numpy(), [leaf.grad.numpy() for leaf in self.leaves]


def layer_arrays(op, shape, param, rng):
    """float32 input (post-ReLU-like for a pool: many zeros, so ties), weight, bias."""
    x = rng.standard_normal(shape).astype(np.float32)
    if op == "max_pool2d":
        return [np.maximum(x, 0)]
    fan_in = int(np.prod(param[1:]))
    w = (rng.standard_normal(param) * np.sqrt(2 / fan_in)).astype(np.float32)
    return [x, w, np.zeros(param[0], np.float32)]


def max_relative_difference(a, b):
    """max |a - b| / max |b|: how far variant a's array is from b's."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def run_layer(name, op, shape, param, args, torch):
    rng = np.random.default_rng(args.seed)
    arrays = layer_arrays(op, shape, param, rng)
    out = F.conv2d(*arrays) if op == "conv2d" else F.max_pool2d(arrays[0], param)
    upstream = rng.standard_normal(out.shape).astype(np.float32)
    variants = [Ours(op, arrays, param, upstream), Book(op, arrays, param, upstream)]
    if torch is not None:
        variants.append(Torch(op, arrays, param, upstream, torch))
    # The same inputs: the outputs and gradients must agree (this also warms them up).
    results = {v.name: v() for v in variants}
    reference_out, reference_grads = results["tinygrad_edu"]
    differences = {
        v: max(
            max_relative_difference(out, reference_out),
            *(max_relative_difference(g, r) for g, r in zip(grads, reference_grads)),
        )
        for v, (out, grads) in results.items()
    }
    timings = compare({v.name: Case(v) for v in variants}, args.repeats, args.min_time)
    seconds = {v: t.to_dict() for v, t in timings.items()}
    return {
        "layer": name,
        "op": op,
        "input_shape": shape,
        "weight_shape" if op == "conv2d" else "kernel_size": param,
        "output_shape": out.shape,
        "seconds": seconds,
        "ms": {v: s["median"] * 1e3 for v, s in seconds.items()},
        "max_relative_difference_to_tinygrad_edu": differences,
    }


# ------------------------------------------------------------- im2col, two ways


def im2col_loop(x, kernel, stride=(1, 1), padding=(0, 0), fill=0.0):
    """im2col as the book builds it, a loop over the kernel's positions copying one
    strided slice each, into tinygrad_edu's layout (N, C, kh, kw, OH, OW) and type."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    col = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            col[:, :, i, j] = x[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]
    return col


def run_im2col(args):
    rows = []
    rng = np.random.default_rng(args.seed)
    for name, op, shape, param in LAYERS:
        x = rng.standard_normal(shape).astype(np.float32)
        kernel = tuple(param[2:]) if op == "conv2d" else (param, param)
        stride = (1, 1) if op == "conv2d" else kernel
        col = im2col(x, kernel, stride)
        assert np.array_equal(col, im2col_loop(x, kernel, stride))
        cases = {
            "im2col loop": lambda x=x, k=kernel, s=stride: im2col_loop(x, k, s),
            "im2col sliding_window_view": lambda x=x, k=kernel, s=stride: im2col(x, k, s),
            "col2im loop": lambda c=col, x=x, s=stride: col2im(c, x.shape, s),
        }
        timings = compare(cases, args.repeats, args.min_time)
        rows.append(
            {
                "layer": name,
                "input_shape": shape,
                "columns_shape": col.shape,
                "seconds": {v: t.to_dict() for v, t in timings.items()},
                "ms": {v: t.median * 1e3 for v, t in timings.items()},
            }
        )
    return rows


# ------------------------------------------------ max pooling, two ways


class Im2colMaxPool(Function):
    """max_pool2d as the book's ``Pooling`` computes it, in float32: im2col's copy of the
    windows, their maximum, then backward the first maximum's mask and col2im (how
    tinygrad_edu computed it until its kernel-position loop, which needs no copy)."""

    name = "max_pool2d"
    once_differentiable = True

    def __init__(self, size):
        self.kernel = (size, size)

    def forward(self, x):
        col = im2col(x, self.kernel, self.kernel, fill=-np.inf)
        n, c, kh, kw, oh, ow = col.shape
        self.input_shape = x.shape
        self.windows = col.reshape(n, c, kh * kw, oh, ow)  # axis 2: a window, row-major
        return self.windows.max(axis=2)

    def backward(self, grad):
        y = self.saved_output()
        is_max = self.windows == y[:, :, None]
        first = np.empty_like(is_max)  # the first maximum of each window gets the gradient
        seen = np.zeros(y.shape, dtype=bool)
        for k in range(is_max.shape[2]):
            np.logical_and(is_max[:, :, k], ~seen, out=first[:, :, k])
            seen |= is_max[:, :, k]
        grad_col = (first * grad[:, :, None]).reshape(*y.shape[:2], *self.kernel, *y.shape[2:])
        return col2im(grad_col, self.input_shape, self.kernel)


def run_pool_ways(args):
    """Both ways of max_pool2d, forward + backward on Tensors, on the CNN's pools."""
    rows = []
    rng = np.random.default_rng(args.seed)
    for name, op, shape, size in LAYERS:
        if op != "max_pool2d":
            continue
        x = Tensor(layer_arrays(op, shape, size, rng)[0], requires_grad=True)
        upstream = rng.standard_normal(F.max_pool2d(x, size).shape).astype(np.float32)

        def way(pool, x=x, upstream=upstream):
            def run():
                x.grad = None
                out = pool(x)
                out.backward(upstream)
                return out.data, x.grad.data

            return run

        cases = {
            "im2col, max, col2im": way(lambda x, s=size: Im2colMaxPool(s)(x)),
            "kernel-position loop": way(lambda x, s=size: F.max_pool2d(x, s)),
        }
        first, second = (case() for case in cases.values())
        assert all(np.array_equal(a, b) for a, b in zip(first, second))
        timings = compare(cases, args.repeats, args.min_time)
        ms = {v: t.median * 1e3 for v, t in timings.items()}
        rows.append({"layer": name, "input_shape": shape, "ms": ms})
    return rows


# ------------------------------------------------------------------------ report


def print_layers(layers, variants):
    rows = []
    for r in layers:
        ms = r["ms"]
        row = [r["layer"], r["op"], str(r["input_shape"])]
        row += [fmt(ms.get(v)) for v in variants]
        row += [fmt_ratio(ms["tinygrad_edu"] / ms[v]) if v in ms else "-" for v in variants[1:]]
        diffs = r["max_relative_difference_to_tinygrad_edu"]
        row.append(fmt(max(d for v, d in diffs.items()), 2))
        rows.append(row)
    headers = ["layer", "op", "input"] + [f"{v} ms" for v in variants]
    headers += [f"tinygrad_edu / {v}" for v in variants[1:]] + ["max rel diff"]
    print_table(headers, rows, title="Forward + backward, batch of 100 (median ms)")
    print(
        "max rel diff: the largest difference of a variant's output or gradient from "
        "tinygrad_edu's, relative to the largest value (float32 against the book's float64)"
    )
    print()


def print_im2col(rows):
    names = list(rows[0]["ms"])
    table = [
        [r["layer"], str(r["input_shape"]), str(r["columns_shape"])]
        + [fmt(r["ms"][n]) for n in names]
        + [fmt_ratio(r["ms"]["im2col sliding_window_view"] / r["ms"]["im2col loop"])]
        for r in rows
    ]
    headers = ["layer", "input", "columns", *(f"{n} ms" for n in names), "sliding / loop"]
    print_table(headers, table, title="im2col and col2im alone, float32 (median ms)")


def print_pool_ways(rows):
    names = list(rows[0]["ms"])
    table = [
        [r["layer"], str(r["input_shape"])]
        + [fmt(r["ms"][n]) for n in names]
        + [fmt_ratio(r["ms"][names[1]] / r["ms"][names[0]])]
        for r in rows
    ]
    headers = ["layer", "input", *(f"{n} ms" for n in names), "loop / im2col"]
    title = "max_pool2d forward + backward, two ways, float32 (median ms)"
    print_table(headers, table, title=title)


def targets_from(layers):
    found = []
    for r in layers:
        s = r["seconds"]
        label = f"{r['layer']} ({r['op']}) forward + backward: tinygrad_edu"
        found.append(target(f"{label} / book", s["tinygrad_edu"], s["book"], 1.0))
        found.append(target(f"{label} / torch", s["tinygrad_edu"], s.get("torch"), 2.0))
    return found


def draw(layers, variants):
    def figure(plt):
        fig, ax = plt.subplots(figsize=(8, 4.5))
        labels = [f"{r['layer']}\n{r['op']}" for r in layers]
        grouped_bars(ax, layers, variants, lambda r, v: r["ms"].get(v, 0), labels)
        ax.set_ylabel("ms, forward + backward (batch of 100)")
        ax.set_title("The MNIST CNN's layers")
        ax.legend()
        return fig

    return figure


def main(argv=None):
    parser = make_parser(__doc__, "a few seconds: fewer and shorter samples")
    parser.add_argument("--repeats", type=int, default=9, help="timed samples per variant")
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds per sample")
    args = parse_args(parser, argv)
    if args.quick:
        args.repeats, args.min_time = min(args.repeats, 3), min(args.min_time, 0.02)

    torch, torch_note = import_torch(args.no_torch)
    env = environment(torch, torch_note)
    variants = ["tinygrad_edu", "book"] + (["torch"] if torch else [])
    banner(
        "Convolution benchmark: the MNIST CNN's layers, forward + backward, float32",
        env,
        [
            "layers:   " + "; ".join(f"{n} {op} {s}" for n, op, s, _ in LAYERS),
            f"timing:   per variant {args.repeats} samples of >= {args.min_time} s, round-robin",
            "variants: " + ", ".join(variants) + ("" if torch else f" (torch {torch_note})"),
        ],
    )
    layers = [run_layer(*layer, args, torch) for layer in LAYERS]
    print_layers(layers, variants)
    im2col_rows = run_im2col(args)
    print_im2col(im2col_rows)
    pool_rows = run_pool_ways(args)
    print_pool_ways(pool_rows)
    targets = targets_from(layers)
    print_targets(targets)
    footer(env)

    if args.json:
        settings = {
            "layers": [
                {"layer": n, "op": op, "input_shape": s, "param": p} for n, op, s, p in LAYERS
            ],
            "dtype": "float32",
            "repeats": args.repeats,
            "min_time": args.min_time,
            "variants": variants,
            "torch_note": torch_note,
        }
        results = {
            "layers": layers,
            "im2col": im2col_rows,
            "max_pool_ways": pool_rows,
            "targets": targets,
        }
        write_json(args.json, "conv", env, settings, results)
    if args.plot:
        save_plot(args.plot, draw(layers, variants))


if __name__ == "__main__":
    main()
