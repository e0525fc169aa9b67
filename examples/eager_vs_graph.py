"""Eager execution (define-by-run) versus a graph built first and run later.

TensorFlow 1 worked in two phases. First you *defined* a graph of symbolic tensors, with
placeholders for the inputs; nothing was computed. Then a session *ran* it, feeding in
values::

    x = tf.placeholder(tf.float32)              # TensorFlow 1: define ...
    y = x * x + 2 * x
    print(y)                                    # Tensor("add:0", dtype=float32): no value!
    with tf.Session() as sess:
        print(sess.run(y, feed_dict={x: 3.0}))  # ... then run: 15.0

Because the Python code ran only once, while the graph was built, a Python ``if`` or
``for`` could not depend on the data: you wrote ``tf.cond`` and ``tf.while_loop`` instead.

TensorFlow 2 (and PyTorch, and this library) are *eager*: every line computes its value
the moment it runs, like plain numpy::

    x = Tensor(3.0, requires_grad=True)         # eager: define AND run
    y = x * x + 2 * x
    print(y)                                    # Tensor(15., ...): the value, right away

So where is the graph that backpropagation needs? It is recorded on the side, as the code
runs: each result remembers the op that made it (``y.creator``) and that op remembers its
inputs (``y.creator.inputs``). This is "define-by-run": the graph is whatever the code
actually did for this input. Consequences, each shown below:

1. intermediate values can be printed (and debugged) at once;
2. ordinary Python ``if`` and ``for`` decide the graph, so two inputs can give two
   different graphs;
3. the recorded graph can still be walked, counted and drawn like TF1's;
4. it can be differentiated after the fact: ``backward()`` at the end walks it in reverse.

Eager mode pays for that freedom on every op: Python dispatch, checks, a new Tensor and a
new array, the graph's bookkeeping. Graph mode pays once. ``tinygrad_edu.trace.trace``
runs a function once, records its ops, and returns a *plan*: numpy calls writing into
buffers allocated once, some fused. Replaying it is TF1's ``sess.run``, with TF1's catch:
Python ran only once, so an ``if`` on the data was decided for good. Section 5 shows both
and times the book's 3-layer network one image at a time: eager, traced, the same
arithmetic in plain numpy, and PyTorch if it is installed.

    python examples/eager_vs_graph.py           # graph pictures in out/eager_vs_graph/
"""

import time

import numpy as np
from _common import make_parser

from tinygrad_edu import Tensor, no_grad
from tinygrad_edu.models import ThreeLayerNet
from tinygrad_edu.numerical import numerical_diff
from tinygrad_edu.ops import stable_sigmoid
from tinygrad_edu.trace import trace

try:  # the graph drawings are optional: without them we print the graph as text
    from tinygrad_edu import viz
except ImportError:
    viz = None


def parse_args(argv=None):
    p = make_parser("eager_vs_graph", __doc__, quick_help="a shorter timing in section 5")
    p.add_argument(
        "--inputs",
        type=float,
        nargs=2,
        default=[3.5, -2.5],
        metavar=("X1", "X2"),
        help="the two inputs whose graphs are compared (default: 3.5 -2.5)",
    )
    args = p.parse_args(argv)
    if args.inputs[0] == args.inputs[1]:
        p.error("--inputs: give two different numbers, to compare their graphs")
    return args


def f(x):
    """A function whose graph depends on its input: Python's ``if`` and ``for`` choose.

    For x > 0: y = x*x, else y = -x; then x is added |x| times (rounded down). So f jumps
    where |x| crosses a whole number (the loop runs once more); in between it is smooth.
    """
    # The *value* of x picks the branch (a plain Python if, hence no ternary for ruff).
    if x.item() > 0:  # noqa: SIM108
        y = x * x
    else:
        y = -x
    for _ in range(int(abs(x.item()))):  # the value picks the number of steps
        y = y + x
    return y


def f_derivative(x):
    """df/dx by hand, for the branch taken: 2x + n for x > 0, -1 + n otherwise."""
    n = int(abs(x))
    return 2 * x + n if x > 0 else -1 + n


def ops_in_graph(root):
    """The ops that produced ``root``, in the order they ran (inputs first).

    A graph walk: from ``root.creator`` follow each op's ``inputs`` to *their* creators,
    and list an op only after everything it depends on (a depth-first post-order).
    """
    order, seen = [], set()
    stack = [(root.creator, False)] if root.creator is not None else []
    while stack:
        fn, inputs_done = stack.pop()
        if inputs_done:
            order.append(fn)
            continue
        if fn in seen:
            continue
        seen.add(fn)
        stack.append((fn, True))
        for x in fn.inputs:
            if isinstance(x, Tensor) and x.creator is not None and x.creator not in seen:
                stack.append((x.creator, False))
    return order


def describe(value):
    """A short text for a Tensor or a number inside an op's inputs."""
    if isinstance(value, Tensor):
        return "x" if value.creator is None else f"{value.item():g}"
    return repr(value)


def print_graph(root):
    """Print the recorded graph as a little program, one op per line."""
    for i, fn in enumerate(ops_in_graph(root), 1):
        args = ", ".join(describe(x) for x in fn.inputs)
        print(f"    {i}. {fn.name}({args}) -> {fn.output.item():g}")


def draw(root, folder, stem):
    """Draw the graph with tinygrad_edu.viz: ``stem.png`` if Graphviz's ``dot`` is
    installed, else the DOT text ``stem.dot``. Returns the path written, or None without viz."""
    if viz is None:
        return None
    graph = viz.draw_graph(root, show_data=True, rankdir="LR")
    try:
        written = viz.render(graph, folder / f"{stem}.png")
    except RuntimeError:  # no `dot` program: save the text, `dot -Tpng` draws it later
        written = viz.save_dot(graph, folder / f"{stem}.dot")
    print(f"    drawn: {written}")
    return written


def g(x):
    """f's branch written with a comparison of Tensors, which a trace accepts (and freezes)."""
    if x.sum() > 0:  # noqa: SIM108
        y = x * x
    else:
        y = -x
    return y


def numpy_net(w):
    """The book's 3-layer network in plain numpy (the same stable sigmoid and softmax)."""

    def predict(x):
        a = stable_sigmoid(x @ w["W1"] + w["b1"])
        a = stable_sigmoid(a @ w["W2"] + w["b2"])
        z = a @ w["W3"] + w["b3"]
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    return predict


def torch_net(w):
    """The same network in PyTorch (CPU, inference mode), or None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    tw = {k: torch.from_numpy(v) for k, v in w.items()}

    def predict(x):
        with torch.inference_mode():
            a = torch.sigmoid(torch.from_numpy(x) @ tw["W1"] + tw["b1"])
            a = torch.sigmoid(a @ tw["W2"] + tw["b2"])
            return torch.softmax(a @ tw["W3"] + tw["b3"], dim=-1).numpy()

    return predict


def time_per_call(variants, images, rounds):
    """Microseconds per image of each variant, one image per call: the variants take
    turns (A, B, C, A, B, C, ...) so that a busy spell of the machine hits them alike;
    the median over the rounds, and each one's median ratio to the first (paired)."""
    samples = {name: [] for name in variants}
    for _ in range(rounds):
        for name, predict in variants.items():
            start = time.perf_counter()
            for i in range(len(images)):
                predict(images[i : i + 1])
            samples[name].append((time.perf_counter() - start) / len(images) * 1e6)
    first = np.array(next(iter(samples.values())))
    return {
        name: (float(np.median(s)), float(np.median(np.array(s) / first)))
        for name, s in samples.items()
    }


def graph_mode(quick):
    """Section 5: trace f and g, then time eager against traced against numpy (and torch)."""
    print("\n5. Graph mode: record once, replay a fixed plan (TensorFlow 1's sess.run)")
    try:
        trace(f, np.array(3.5))
    except RuntimeError as err:
        print(f"    trace(f) refuses: {str(err)[:96]}...")
    traced_g = trace(g, np.array(3.5))  # the example is positive: the plan is x * x
    frozen = traced_g(np.array(-2.5)).item()
    print(
        f"    g traced at 3.5, called at -2.5: {frozen:g} (eager g(-2.5) = "
        f"{g(Tensor(-2.5)).item():g}): the if was decided once, at trace time"
    )

    rng = np.random.default_rng(0)
    shapes = {"W1": (784, 50), "W2": (50, 100), "W3": (100, 10)}
    w = {k: (0.3 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}
    w.update({f"b{i}": np.zeros(shapes[f"W{i}"][1], np.float32) for i in (1, 2, 3)})
    net = ThreeLayerNet(784, 50, 100, 10).load_state_dict(w)
    images = rng.random((200 if quick else 2000, 784), dtype=np.float32)

    def eager(x):
        with no_grad():
            return net(x)

    variants = {"eager": eager, "traced": trace(net, images[:1]), "numpy": numpy_net(w)}
    torch_predict = torch_net(w)
    if torch_predict is not None:
        variants["torch"] = torch_predict
    print("    the traced plan of the book's 3-layer network, one image per call:")
    for line in str(variants["traced"]).splitlines()[1:]:
        print(f"    {line}")
    expected = eager(images[:5]).data
    outputs = [np.asarray(predict(images[:5])) for predict in variants.values()]
    agree = all(np.allclose(out, expected, atol=1e-6) for out in outputs)
    timings = time_per_call(variants, images, 3 if quick else 7)
    for name, (us, ratio) in timings.items():
        print(f"    {name:7s} {us:7.1f} us per image   {ratio:5.2f}x eager (paired)")
    if torch_predict is None:
        print("    (PyTorch is not installed: pip install 'tinygrad_edu[torch]' adds it)")
    print("    (times on a busy machine move by tens of percent: run it twice)")
    return {"frozen_branch": frozen, "timings_us": timings, "variants_agree": agree}


def main(argv=None):
    args = parse_args(argv)

    print("1. Eager: every line has its value as soon as it runs")
    x = Tensor(3.0, requires_grad=True)
    a = x * x
    print(f"    a = x * x      -> {a}")
    b = a + 2 * x
    print(f"    b = a + 2 * x  -> {b}")
    print('    (TensorFlow 1 would print Tensor("add:0", ...) here: no value before sess.run)')
    left, right = b.creator.inputs
    print(
        f"    recorded on the side: b.creator = '{b.creator.name}' with inputs "
        f"{left.item():g} (made by '{left.creator.name}') and {right.item():g} "
        f"(made by '{right.creator.name}')"
    )

    print("\n2. Python control flow decides the graph, input by input")
    results = {}
    for value in args.inputs:
        x = Tensor(value, requires_grad=True)
        y = f(x)  # runs now; records only the ops this input went through
        x.name, y.name = "x", "y"  # labels for the drawings
        ops = ops_in_graph(y)
        print(f"  f({value:g}) = {y.item():g}, recorded {len(ops)} op(s):")
        print_graph(y)
        results[value] = {"x": x, "y": y, "ops": [fn.name for fn in ops]}
    first, second = (r["ops"] for r in results.values())
    same = "the same graph" if first == second else "two different graphs"
    print(f"  same function, two inputs: {' '.join(first)} vs {' '.join(second)}: {same}")

    print("\n3. The graph was recorded, so it can be drawn (before backward frees it)")
    pictures = []
    if viz is None:
        print("    (tinygrad_edu.viz is not available: the listings above are the graphs)")
    for i, r in enumerate(results.values(), 1):
        picture = draw(r["y"], args.out, f"graph_{i}")
        if picture is not None:
            pictures.append(picture)

    print("\n4. ... and differentiated after the fact: backward() walks it in reverse")
    for value, r in results.items():
        r["y"].backward()  # the chain rule through exactly the ops recorded for this x
        with no_grad():
            numeric = numerical_diff(lambda v: f(Tensor(v)).item(), value)
        r["grad"], r["expected"], r["numerical"] = r["x"].grad.item(), f_derivative(value), numeric
        print(
            f"    x = {value:g}: backprop dy/dx = {r['grad']:g},  by hand {r['expected']:g},"
            f"  central difference {numeric:.6f}"
        )
    freed = all(r["y"].creator.inputs is None for r in results.values())
    print(
        "    afterwards y.creator.inputs is None: backward() freed the graph to save memory "
        "(backward(retain_graph=True) keeps it)"
        if freed
        else "    the graphs are still there"
    )
    return {
        "b": b.item(),
        "op_counts": {value: len(r["ops"]) for value, r in results.items()},
        "ops": {value: r["ops"] for value, r in results.items()},
        "grads": {value: r["grad"] for value, r in results.items()},
        "expected_grads": {value: r["expected"] for value, r in results.items()},
        "numerical_grads": {value: r["numerical"] for value, r in results.items()},
        "figures": pictures,  # PNGs, or DOT text files without Graphviz's dot
        "freed": freed,
        **graph_mode(args.quick),
    }


if __name__ == "__main__":
    main()
