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

    python examples/eager_vs_graph.py           # graph pictures in out/eager_vs_graph/
"""

from _common import make_parser

from tinygrad_edu import Tensor, no_grad
from tinygrad_edu.numerical import numerical_diff

try:  # the graph drawings are optional: without them we print the graph as text
    from tinygrad_edu import viz
except ImportError:
    viz = None


def parse_args(argv=None):
    p = make_parser("eager_vs_graph", __doc__, quick_help="accepted for uniformity; already quick")
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
    }


if __name__ == "__main__":
    main()
