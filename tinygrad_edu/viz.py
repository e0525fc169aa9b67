"""Drawing the computational graph: what ``backward()`` walks, as a picture.

``draw_graph(loss)`` follows the graph from a tensor back to its inputs (each tensor's
``creator`` op, each op's ``inputs``) and returns a ``graphviz.Digraph``. Arrows follow
the data: input tensor -> op -> output tensor. In Jupyter the result shows inline;
elsewhere write it to a file with ``render`` (needs Graphviz's ``dot`` program) or
``save_dot`` (plain text, no program needed)::

    loss.backward()
    graph = draw_graph(loss, show_grad=True)  # every parameter with its gradient
    render(graph, "loss.svg")

``backward()`` frees the arrays the graph kept, but not its shape (as in PyTorch), so the
whole graph can be drawn before or after it; only ``show_data`` has less to show after
(intermediate results that nothing else holds say ``data: freed by backward()``).

How nodes look:

* ops: orange ellipses labelled with the op's name (``matmul``, ``add``, ``relu``);
* parameters (leaf tensors with ``requires_grad=True``): blue boxes with a bold border,
  grouped into one cluster per module (``0.weight`` and ``0.bias`` in cluster ``0``);
* intermediate results: grey rounded boxes; the tensor you drew from has a double border;
* constants (tensors without ``requires_grad``, such as a batch of images): dashed boxes;
  raw numbers and arrays passed to an op (the ``2`` of ``x * 2``): small dashed nodes;
* notes (yellow): the nodes left out because the graph has more than ``max_nodes``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import graphviz
import numpy as np
from numpy.typing import ArrayLike

from tinygrad_edu._io import atomic_write
from tinygrad_edu.numerical import GraphCheck
from tinygrad_edu.ops import FreedInput, Function
from tinygrad_edu.tensor import Tensor

# A node of the drawing: (key, kind, object). The key is its DOT id ("t0", "f1", ...); the
# kind is "tensor" (a Tensor), "op" (a Function) or "const" (a raw number or array input).
Node = tuple[str, str, Any]

FAILED_COLOR = "#ff6b6b"  # ops that gradcheck_graph found wrong

# Graphviz attributes for each kind of node.
OP_STYLE = {"shape": "ellipse", "style": "filled", "fillcolor": "#ffd59e", "color": "#b86e00"}
PARAMETER_STYLE = {
    "shape": "box",
    "style": "filled,bold",
    "fillcolor": "#b7dcf5",
    "color": "#1f6f99",
    "penwidth": "2",
}
INTERMEDIATE_STYLE = {
    "shape": "box",
    "style": "rounded,filled",
    "fillcolor": "#f2f2f2",
    "color": "#808080",
}
OUTPUT_STYLE = {**INTERMEDIATE_STYLE, "fillcolor": "#d4f0d4", "peripheries": "2"}
CONSTANT_STYLE = {
    "shape": "box",
    "style": "dashed,filled",
    "fillcolor": "#ffffff",
    "color": "#999999",
    "fontcolor": "#555555",
}
RAW_CONSTANT_STYLE = {**CONSTANT_STYLE, "style": "dashed,rounded", "fontsize": "9", "height": "0.3"}
NOTE_STYLE = {"shape": "note", "style": "filled", "fillcolor": "#fff3a3", "fontcolor": "#8b1a1a"}
CLUSTER_STYLE = {"style": "rounded,dashed", "color": "#1f6f99", "fontcolor": "#1f6f99"}

MISSING_DOT_MESSAGE = (
    "render: Graphviz's 'dot' program was not found on PATH; it draws the picture. "
    "Install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install "
    "graphviz; Windows: winget install graphviz, or the installer from "
    "https://graphviz.org/download/, then add its bin folder to PATH). The graph itself "
    "does not need it: its DOT text is graph.source, and graph.save('graph.dot') or "
    "tinygrad_edu.viz.save_dot(graph, 'graph.dot') writes it to a file."
)


def draw_graph(
    root: Tensor,
    params: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None = None,
    show_data: bool = False,
    show_grad: bool = False,
    rankdir: Literal["TB", "LR", "BT", "RL"] = "TB",
    max_nodes: int = 200,
    highlight: Mapping[Any, str] | GraphCheck | None = None,
    notes: Mapping[Any, str] | None = None,
) -> graphviz.Digraph:
    """Draw the computational graph that produced ``root``.

    Args:
        root: the Tensor to start from, usually the loss.
        params: optional names for tensors: a dict name -> Tensor, matched by identity,
            e.g. ``dict(model.named_parameters())`` (a list of (name, Tensor) pairs works
            too). Without it, tensors show their ``.name`` if set (``nn.Module`` names
            its parameters when ``named_parameters()`` or ``parameters()`` is called).
        show_data: add a short summary of each tensor's values: the values themselves for
            at most 4 elements, else the mean and standard deviation (min and max for
            integers).
        show_grad: add a summary of ``.grad`` where there is one (leaves after
            ``backward()``, and intermediates that called ``retain_grad()``): its values
            when it has at most 4 elements, else its norm, min and max; leaves that
            require grad but have none show ``grad: None``.
        rankdir: the layout direction: "TB" (top to bottom), "LR", "BT" or "RL".
        max_nodes: draw at most this many nodes, the ones closest to ``root``; the rest
            become a single note "... N more nodes not shown".
        highlight: colours for some nodes: {op (a Function) or Tensor: fill colour}, or
            the report of ``numerical.gradcheck_graph``, whose failing ops turn red.
        notes: an extra line of text for some nodes: {op or Tensor: text}
            (``explain_backward(...).frames()`` writes the gradients there).

    Returns:
        a ``graphviz.Digraph``. It displays inline in Jupyter; ``render(graph, path)``
        writes SVG/PNG/PDF, ``graph.source`` is its DOT text.

    Before and after ``backward()`` the drawing is the same, except that ``show_data``
    cannot show intermediate results that only the graph held.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: root must be a Tensor, got {type(root).__name__}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw_graph: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be a positive integer, got {max_nodes!r}")
    names = {id(t): name for name, t in dict(params or {}).items()}
    if isinstance(highlight, GraphCheck):
        highlight = {row.node: FAILED_COLOR for row in highlight.rows if not row.passed}
    colors = {id(obj): color for obj, color in (highlight or {}).items()}
    extra = {id(obj): text for obj, text in (notes or {}).items()}

    nodes, edges, hidden = _walk(root, max_nodes)

    graph = graphviz.Digraph(
        name="tinygrad_edu",
        graph_attr={"rankdir": rankdir, "fontname": "Helvetica"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"color": "#555555", "arrowsize": "0.7"},
    )
    # module prefix -> [(key, label, style)] for its parameters
    clusters: dict[str, list[tuple[str, str, dict[str, str]]]] = {}
    for key, kind, obj in nodes:
        note = [extra[id(obj)]] if id(obj) in extra else []
        color = {"fillcolor": colors[id(obj)]} if id(obj) in colors else {}
        if kind == "op":
            graph.node(key, _label([obj.name, *note]), **{**OP_STYLE, **color})
        elif kind == "const":
            graph.node(key, _label(_constant_lines(obj, show_data)), **RAW_CONSTANT_STYLE)
        else:
            name = names.get(id(obj), obj.name)
            lines = _tensor_lines(obj, name, show_data, show_grad) + note
            style = {**_tensor_style(obj, is_root=obj is root), **color}
            is_parameter = obj.creator is None and obj.requires_grad
            prefix = _module_prefix(name) if is_parameter else None
            if prefix is None:
                graph.node(key, _label(lines), **style)
            else:
                clusters.setdefault(prefix, []).append((key, _label(lines), style))

    for number, (prefix, members) in enumerate(clusters.items()):
        with graph.subgraph(name=_cluster_id(prefix, number)) as cluster:
            cluster.attr(label=_label([prefix]), **CLUSTER_STYLE)
            for key, label, style in members:
                cluster.node(key, label, **style)

    # Edges whose source was not drawn come from the "... more nodes" note instead.
    drawn = {key for key, _, _ in nodes}
    cut_off = []
    for src, dst in edges:
        if src in drawn:
            graph.edge(src, dst)
        elif dst not in cut_off:
            cut_off.append(dst)
    if hidden:
        text = f"... {hidden} more nodes not shown (max_nodes={max_nodes})"
        graph.node("more", _label([text]), **NOTE_STYLE)
        for dst in cut_off:
            graph.edge("more", dst, style="dashed")
    return graph


def render(
    graph: graphviz.Digraph, path: str | os.PathLike[str], format: str | None = None
) -> Path:
    """Draw ``graph`` into the file ``path`` with Graphviz's ``dot`` program.

    Args:
        graph: a ``graphviz.Digraph`` (from ``draw_graph``).
        path: the file to write, e.g. "loss.svg"; written as given (no suffix is added)
            and atomically (a temporary file, then a rename).
        format: "svg", "png", "pdf" (any format ``dot`` knows); by default taken from the
            path's suffix, else "svg".

    Returns:
        the path written, as a ``pathlib.Path``.

    Raises RuntimeError, saying how to install Graphviz, when ``dot`` is missing; the DOT
    text (``graph.source``, ``save_dot``) does not need it.
    """
    path = Path(path)
    if format is None:
        format = path.suffix.lstrip(".").lower() or "svg"
    try:
        picture = graph.pipe(format=format)
    except graphviz.ExecutableNotFound as err:
        raise RuntimeError(MISSING_DOT_MESSAGE) from err
    with atomic_write(path) as f:
        f.write(picture)
    return path


def save_dot(graph: graphviz.Digraph, path: str | os.PathLike[str]) -> Path:
    """Write the graph's DOT text (``graph.source``) to ``path``, atomically; no Graphviz
    program needed. ``dot -Tsvg file.dot -o file.svg`` draws it later. Returns the path."""
    path = Path(path)
    with atomic_write(path) as f:
        f.write(graph.source.encode("utf-8"))
    return path


# ----------------------------------------------------------------- the graph walk


KEY_LETTERS = {"tensor": "t", "op": "f", "const": "c"}


def _walk(root: Tensor, max_nodes: int) -> tuple[list[Node], list[tuple[str, str]], int]:
    """Visit the graph breadth-first from ``root``, each tensor and op once.

    No recursion (a queue), so graphs of any depth work. Nodes are (key, kind, object):
    kind is "tensor", "op" or "const" (a raw number or array among an op's inputs) and
    key a DOT node id numbered in the order of discovery: "t0" (the root), "f1", "t2",
    "c3"... so the same graph always gives the same DOT text, before or after backward.

    Returns:
        nodes: the first ``max_nodes`` nodes in breadth-first order (closest to root);
        edges: (source key, destination key) for every edge into a drawn node, in the
            direction of the data flow (input -> op -> output);
        hidden: how many more nodes there are.
    """
    keys = {id(root): "t0"}  # tensor or op (by identity) -> its key
    queue: deque[Node] = deque([("t0", "tensor", root)])
    nodes: list[Node] = []
    edges: list[tuple[str, str]] = []
    hidden = 0
    count = 1  # nodes discovered so far
    while queue:
        key, kind, obj = queue.popleft()
        drawn = len(nodes) < max_nodes
        if drawn:
            nodes.append((key, kind, obj))
        else:
            hidden += 1  # still walked, to count what is left out
        for source_kind, source, identity in _sources(kind, obj):
            source_key = keys.get(id(identity)) if source_kind != "const" else None
            if source_key is None:  # first visit (constants: every use is its own node)
                source_key = f"{KEY_LETTERS[source_kind]}{count}"
                count += 1
                if source_kind != "const":
                    keys[id(identity)] = source_key
                queue.append((source_key, source_kind, source))
            if drawn:
                edges.append((source_key, key))
    return nodes, edges, hidden


def _sources(kind: str, obj: Any) -> list[tuple[str, Any, Any]]:
    """(kind, object, identity) for each node whose data flows into this one: a tensor's
    creator op; an op's inputs (Tensors, or raw constants such as the 2 in ``x * 2``).
    The identity tells nodes apart: the object itself, except for an intermediate result
    that ``backward()`` freed, drawn from what its op remembers (``output_info``) and
    known by that."""
    if kind == "tensor":
        return [] if obj.creator is None else [("op", obj.creator, obj.creator)]
    if kind != "op":
        return []
    if obj.inputs is not None:  # a live op: its input tensors
        return [("tensor" if isinstance(x, Tensor) else "const", x, x) for x in obj.inputs]
    found: list[tuple[str, Any, Any]] = []
    for source in obj.sources or ():  # a released op: see Function.release
        if isinstance(source, Function):
            output = source.output  # still alive if someone holds it
            if output is None:
                found.append(("tensor", FreedResult(source), source.output_info))
            else:
                found.append(("tensor", output, output))
        elif isinstance(source, Tensor) or (isinstance(source, FreedInput) and source.tensor):
            found.append(("tensor", source, source))
        else:
            found.append(("const", source, source))
    return found


class FreedResult:
    """An intermediate result whose array ``backward()`` freed, as its op remembers it:
    shape, dtype and name (it quacks like a Tensor for the labels)."""

    requires_grad, grad, data = True, None, None

    def __init__(self, creator: Function):
        self.creator = creator
        self.shape, self.dtype, self.name = creator.output_info


# ------------------------------------------------------------------------ labels


def _tensor_style(t: Tensor, is_root: bool) -> dict[str, str]:
    """Which kind of box a tensor gets."""
    if t.creator is not None:
        return OUTPUT_STYLE if is_root else INTERMEDIATE_STYLE
    if t.requires_grad:
        return PARAMETER_STYLE
    return CONSTANT_STYLE


def _tensor_lines(t: Tensor, name: str | None, show_data: bool, show_grad: bool) -> list[str]:
    """The lines of a tensor's label: name, shape and dtype, then optional summaries."""
    lines = [] if name is None else [str(name)]
    lines.append(f"{tuple(t.shape)} {t.dtype}")
    data = t.data  # None for a FreedResult or FreedInput: backward() freed the array
    if show_data:
        lines.append("data: " + ("freed by backward()" if data is None else summarize(data)))
    grad = t.grad
    if show_grad:
        if grad is not None:
            lines.append("grad: " + summarize_grad(grad.data))
        elif t.creator is None and t.requires_grad:
            lines.append("grad: None")
    return lines


def _constant_lines(value: object, show_data: bool) -> list[str]:
    """The label of a raw constant input (a Python number or an ndarray)."""
    if isinstance(value, FreedInput):  # an array backward() freed: its shape remains
        return [f"{value.shape} {value.dtype}"] + (["freed by backward()"] if show_data else [])
    array = (
        np.asarray(value)
        if isinstance(value, (int, float, complex, np.generic, np.ndarray))
        else None
    )
    if array is None or array.dtype == object:
        text = repr(value)
        return [text if len(text) <= 30 else text[:27] + "..."]
    if array.size <= 4:
        return [summarize(array)]
    lines = [f"{array.shape} {array.dtype}"]
    if show_data:
        lines.append(summarize(array))
    return lines


def summarize(array: ArrayLike) -> str:
    """A short text for an array's values.

    At most 4 elements: the values (``[1, 2.5]``, or ``3`` for a scalar). More: the mean
    and standard deviation for floats, e.g. ``mean 0.12 std 0.98`` (over the finite values,
    with a count of NaN/Inf), and the min and max for integers and booleans.
    """
    array = np.asarray(array)
    if array.size == 0:
        return "empty"
    if array.size <= 4:
        text = np.array2string(
            array, separator=", ", formatter={"float_kind": _float_text, "bool": str}
        )
        return " ".join(text.split())  # one line, even for 2-d arrays
    if array.dtype.kind in "fc":
        finite = array[np.isfinite(array)]
        bad = array.size - finite.size
        if finite.size == 0:
            return f"all {array.size} values NaN/Inf"
        text = f"mean {finite.mean():.3g} std {finite.std():.3g}"
        return text + (f" ({bad} NaN/Inf)" if bad else "")
    if array.dtype.kind in "iub":
        return f"min {array.min()} max {array.max()}"
    return f"{array.size} values of {array.dtype}"


def summarize_grad(grad: np.ndarray) -> str:
    """A short text for a gradient: its values when it has at most 4 elements, else its
    (Euclidean) norm, min and max, e.g. ``norm 0.812, min -0.31, max 0.27``."""
    if grad.size <= 4 or grad.dtype.kind not in "fc":
        return summarize(grad)
    norm = np.linalg.norm(grad)  # Euclidean, of all elements
    return f"norm {norm:.3g}, min {grad.min():.3g}, max {grad.max():.3g}"


def _float_text(value: np.floating) -> str:
    """A float in at most 4 significant digits that still looks like a float: 2.0, 0.1235."""
    text = f"{value:.4g}"
    return text + ".0" if text.lstrip("-").isdigit() else text


def _label(lines: Iterable[object]) -> str:
    """A DOT label from lines of text: backslashes and quotes kept literally, one line
    break (DOT's ``\\n``) between lines, and never read as an HTML-like ``<...>`` label."""
    parts = []
    for line in lines:
        for piece in str(line).splitlines() or [""]:
            parts.append(piece.replace("\\", "\\\\"))
    return graphviz.nohtml("\\n".join(parts))  # graphviz quotes it and escapes '"'


def _module_prefix(name: str | None) -> str | None:
    """The module part of a dotted parameter name ("0" for "0.weight"), or None."""
    if name is None or "." not in str(name):
        return None
    return str(name).rsplit(".", 1)[0]


def _cluster_id(prefix: str, number: int) -> str:
    """A DOT subgraph id for a module: "cluster_0" for prefix "0" (Graphviz draws a box
    around subgraphs whose id starts with "cluster")."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in prefix)
    return f"cluster_{safe}" if safe == prefix else f"cluster_{safe}_{number}"
