"""Per-operation overhead: what a Tensor op costs on top of the bare numpy call.

For each op (add, mul, matmul, exp, sigmoid, sum, relu, reshape, getitem) on small (10, 10)
arrays and on one medium size, three variants are timed round-robin:

* numpy: the bare numpy call that the op's forward makes;
* tensor, no_grad: the Tensor op inside ``no_grad()`` (nothing recorded);
* tensor, grad: the Tensor op on inputs that require grad (the graph node is recorded).

overhead = tensor time - numpy time (microseconds per call). Then, for a small chain of
ops, the cost of ``backward()`` per op, against the same backward arithmetic written in
numpy by hand.

    python benchmarks/bench_overhead.py
"""

import numpy as np
from common import (
    Case,
    banner,
    compare,
    environment,
    fmt,
    footer,
    installed_torch,
    make_parser,
    numpy_sigmoid,
    parse_args,
    print_table,
    save_plot,
    write_json,
)

from tinygrad_edu import Tensor, no_grad

# name -> (the numpy call, the Tensor op); both get two operands a, b of the same shape.
OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b),
    "exp": (lambda a, b: np.exp(a), lambda a, b: a.exp()),
    "sigmoid": (lambda a, b: numpy_sigmoid(a), lambda a, b: a.sigmoid()),
    "sum": (lambda a, b: a.sum(), lambda a, b: a.sum()),
    "relu": (lambda a, b: np.maximum(a, 0), lambda a, b: a.relu()),
    "reshape": (lambda a, b: a.reshape(-1), lambda a, b: a.reshape(-1)),
    "getitem": (lambda a, b: a[2:5], lambda a, b: a[2:5]),
}
US = 1e-6


def op_cases(op, shape, rng):
    """The three variants of one op as timing cases."""
    numpy_op, tensor_op = OPS[op]
    a, b = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    plain = Tensor(a), Tensor(b)
    tracked = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    return {
        "numpy": Case(lambda: numpy_op(a, b)),
        "no_grad": Case(lambda: tensor_op(*plain), context=no_grad),
        "grad": Case(lambda: tensor_op(*tracked)),
    }


def measure_ops(shapes, args, rng):
    rows = []
    for shape in shapes:
        for op in OPS:
            timings = compare(op_cases(op, shape, rng), args.repeats, args.min_time)
            us = {name: t.median / US for name, t in timings.items()}
            rows.append(
                {
                    "op": op,
                    "shape": list(shape),
                    "us": {name: t.to_dict(US) for name, t in timings.items()},
                    "overhead_no_grad_us": us["no_grad"] - us["numpy"],
                    "overhead_grad_us": us["grad"] - us["numpy"],
                }
            )
    return rows


# ---------------------------------------------------------------- backward of a chain


def chain_backward(length, shape, args, rng):
    """y = tanh(... tanh(tanh(x * w) * w) ...), ``length`` times (mul, tanh), then sum.

    Times backward() alone (the graphs are built untimed) and the same backward pass
    written in numpy: per link, tanh' = 1 - y^2 and the product rule, with w's gradient
    summed over the links.
    """
    x0 = rng.standard_normal(shape).astype(np.float32)
    w0 = (0.5 * rng.standard_normal(shape)).astype(np.float32)
    x, w = Tensor(x0), Tensor(w0, requires_grad=True)

    def build(count):
        graphs = []
        for _ in range(count):
            y = x
            for _ in range(length):
                y = (y * w).tanh()
            graphs.append(y.sum())
        return graphs

    def numpy_forward(count):
        ys = [x0]
        for _ in range(length):
            ys.append(np.tanh(ys[-1] * w0))
        return [ys] * count  # the backward only reads them

    def numpy_backward(ys):
        grad = np.ones_like(ys[-1])  # d sum / dy
        grad_w = np.zeros_like(w0)
        for k in range(length, 0, -1):
            grad = grad * (1 - ys[k] * ys[k])  # through tanh
            grad_w += grad * ys[k - 1]  # through the product, for w
            grad = grad * w0  # ... and for its other operand
        return grad_w

    def tensor_backward(root):
        w.grad = None
        root.backward()

    cases = {
        "numpy": Case(numpy_backward, setup=numpy_forward),
        "tensor": Case(tensor_backward, setup=build),
    }
    timings = compare(cases, args.repeats, args.min_time)
    ops = 2 * length + 1  # mul and tanh per link, then sum
    grad_w = numpy_backward(numpy_forward(1)[0])
    root = build(1)[0]
    tensor_backward(root)
    agree = bool(np.allclose(w.grad.data, grad_w, rtol=1e-4, atol=1e-5))
    us = {name: t.median / US for name, t in timings.items()}
    return {
        "length": length,
        "shape": list(shape),
        "ops": ops,
        "us": {name: t.to_dict(US) for name, t in timings.items()},
        "us_per_op": {name: value / ops for name, value in us.items()},
        "overhead_per_op_us": (us["tensor"] - us["numpy"]) / ops,
        "gradients_agree": agree,
    }


# ------------------------------------------------------------------------- output


def print_ops(rows):
    table = []
    for r in rows:
        us = {name: t["median"] for name, t in r["us"].items()}
        table.append(
            [
                r["op"],
                "x".join(map(str, r["shape"])),
                fmt(us["numpy"]),
                fmt(us["no_grad"]),
                fmt(r["overhead_no_grad_us"]),
                fmt(us["grad"]),
                fmt(r["overhead_grad_us"]),
            ]
        )
    headers = [
        "op",
        "shape",
        "numpy us",
        "no_grad us",
        "overhead",
        "grad us",
        "overhead",
    ]
    print_table(headers, table, title="Forward: microseconds per call (median)")


def print_chain(chain):
    us = {name: t["median"] for name, t in chain["us"].items()}
    table = [
        [
            "numpy (by hand)",
            fmt(us["numpy"]),
            fmt(chain["us_per_op"]["numpy"]),
        ],
        ["tensor.backward()", fmt(us["tensor"]), fmt(chain["us_per_op"]["tensor"])],
    ]
    title = (
        f"Backward through a chain of {chain['ops']} ops "
        f"({chain['length']} x (mul, tanh), then sum) on {tuple(chain['shape'])}"
    )
    print_table(["backward", "us", "us per op"], table, title=title)
    print(
        f"backward overhead: {chain['overhead_per_op_us']:.2f} us per op; gradients agree "
        f"with the numpy version: {chain['gradients_agree']}"
    )
    print()


def draw(rows):
    def figure(plt):
        shapes = list(dict.fromkeys(tuple(r["shape"]) for r in rows))
        fig, axes = plt.subplots(1, len(shapes), figsize=(6 * len(shapes), 4), squeeze=False)
        for ax, shape in zip(axes[0], shapes):
            sub = [r for r in rows if tuple(r["shape"]) == shape]
            xs = np.arange(len(sub))
            ax.bar(xs - 0.2, [r["overhead_no_grad_us"] for r in sub], 0.4, label="no_grad")
            ax.bar(xs + 0.2, [r["overhead_grad_us"] for r in sub], 0.4, label="grad")
            ax.set_xticks(xs, [r["op"] for r in sub], rotation=45)
            ax.set_ylabel("overhead over numpy (us per call)")
            ax.set_title(f"shape {shape}")
            ax.legend()
        return fig

    return figure


def main(argv=None):
    parser = make_parser(__doc__, "a few seconds: fewer, shorter samples", torch_option=False)
    parser.add_argument("--small", type=int, default=10, help="small arrays are (N, N)")
    parser.add_argument("--medium", type=int, default=256, help="medium arrays are (N, N)")
    parser.add_argument("--chain", type=int, default=10, help="links (mul, tanh) in the chain")
    parser.add_argument("--repeats", type=int, default=7, help="timed samples per variant")
    parser.add_argument("--min-time", type=float, default=0.05, help="seconds per sample")
    args = parse_args(parser, argv)
    if args.quick:
        args.repeats, args.min_time = min(args.repeats, 3), min(args.min_time, 0.005)
    torch_version, torch_note = installed_torch()
    env = environment(None, torch_note, torch_version)
    shapes = [(args.small, args.small), (args.medium, args.medium)]
    banner(
        "Overhead benchmark: Tensor ops vs bare numpy calls (float32)",
        env,
        [
            f"shapes:   {shapes[0]} and {shapes[1]}",
            f"timing:   per variant {args.repeats} samples of >= {args.min_time} s, round-robin",
        ],
    )
    rng = np.random.default_rng(args.seed)
    rows = measure_ops(shapes, args, rng)
    print_ops(rows)
    chain = chain_backward(args.chain, shapes[0], args, rng)
    print_chain(chain)
    small = [r for r in rows if tuple(r["shape"]) == shapes[0]]
    summary = {
        "median_overhead_no_grad_us": float(np.median([r["overhead_no_grad_us"] for r in small])),
        "median_overhead_grad_us": float(np.median([r["overhead_grad_us"] for r in small])),
        "backward_overhead_per_op_us": chain["overhead_per_op_us"],
    }
    print(
        f"typical overhead on {shapes[0]} (median over the ops): "
        f"{summary['median_overhead_no_grad_us']:.2f} us under no_grad, "
        f"{summary['median_overhead_grad_us']:.2f} us recording the graph"
    )
    print()
    footer(env)
    if args.json:
        settings = {
            "shapes": shapes,
            "chain_length": args.chain,
            "repeats": args.repeats,
            "min_time": args.min_time,
        }
        results = {"ops": rows, "chain": chain, "summary": summary}
        write_json(args.json, "overhead", env, settings, results)
    if args.plot:
        save_plot(args.plot, draw(rows))


if __name__ == "__main__":
    main()
