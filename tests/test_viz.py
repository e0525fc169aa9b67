"""Graph drawings: the DOT text that ``viz.draw_graph`` builds, and rendering with ``dot``.

Most tests read the DOT source, so they need no Graphviz program. The rendering tests
need ``dot``: skipped when it is missing, except in CI (CI=true), where it must exist.
"""

import re
import shutil

import numpy as np
import pytest
from helpers import EXAMPLES, run_python, skip_or_fail_in_ci

import tinygrad_edu.functional as F
from tinygrad_edu import Function, Tensor, nn, viz

NODE = re.compile(r"^\s*(\w+) \[(.*)\]$")
EDGE = re.compile(r"^\s*(\w+) -> (\w+)")
SUBGRAPH = re.compile(r"^\s*subgraph (\w+) \{$")
ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s"]+)')


def parse(graph):
    """Read a Digraph's DOT body back.

    Returns:
        nodes: {node id: {attribute: value}} (labels with their DOT escapes, e.g. ``\\n``);
        edges: [(tail, head)] in order;
        clusters: {subgraph name: {"label": ..., "nodes": [node ids]}}.
    """
    nodes, edges, clusters = {}, [], {}
    cluster = None
    for line in graph.source.splitlines():
        if m := SUBGRAPH.match(line):
            cluster = clusters.setdefault(m.group(1), {"label": None, "nodes": []})
        elif line.strip() == "}":
            cluster = None
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2)))
        elif (m := NODE.match(line)) and m.group(1) not in ("graph", "node", "edge"):
            attrs = {k: v[1:-1] if v.startswith('"') else v for k, v in ATTR.findall(m.group(2))}
            nodes[m.group(1)] = attrs
            if cluster is not None:
                cluster["nodes"].append(m.group(1))
        elif cluster is not None and (m := re.search(r"\blabel=(\S+)", line)):
            cluster["label"] = m.group(1).strip('"')
    return nodes, edges, clusters


def labels(nodes):
    return {node_id: attrs.get("label", "") for node_id, attrs in nodes.items()}


def find(nodes, text):
    """The id of the one node whose label contains ``text``."""
    found = [i for i, label in labels(nodes).items() if text in label]
    assert len(found) == 1, f"{text!r} found in {found}"
    return found[0]


def mul_add():
    """f = x * y + z, each leaf named."""
    x, y, z = (Tensor(v, requires_grad=True) for v in (2.0, 3.0, 4.0))
    x.name, y.name, z.name = "x", "y", "z"
    return x, y, z, x * y + z


def chain(n, op):
    """A chain of ``n`` ops from one leaf."""
    y = x = Tensor(1.0, requires_grad=True)
    for _ in range(n):
        y = op(y)
    return x, y


@pytest.fixture
def dot_program():
    """Graphviz's ``dot``: skip without it, except in CI, where it must be installed."""
    if shutil.which("dot") is None:
        skip_or_fail_in_ci(
            "Graphviz's dot program is not installed: apt-get install graphviz (or your system's "
            "package of it)",
            "CI installs graphviz, so rendering must be tested",
        )


# ------------------------------------------------------------------- structure


def test_mul_add_has_two_ops_five_tensors_and_data_flow_edges():
    _, _, _, f = mul_add()
    nodes, edges, _ = parse(viz.draw_graph(f))
    ops = [i for i, a in nodes.items() if a["shape"] == "ellipse"]
    tensors = [i for i, a in nodes.items() if a["shape"] == "box"]
    assert sorted(labels(nodes)[i] for i in ops) == ["add", "mul"]
    assert len(tensors) == 5  # x, y, z, x * y, f
    x, y, z = (find(nodes, f"{name}\\n") for name in "xyz")
    mul, add = find(nodes, "mul"), find(nodes, "add")
    (product,) = [head for tail, head in edges if tail == mul]
    (output,) = [head for tail, head in edges if tail == add]
    assert sorted(edges) == sorted(
        [(x, mul), (y, mul), (mul, product), (product, add), (z, add), (add, output)]
    )
    assert output == "t0"  # the root


def test_labels_show_shape_tuples_and_dtypes():
    a = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    s = (a * a).sum()
    text = "\n".join(labels(parse(viz.draw_graph(s))[0]).values())
    assert "(2, 3) float32" in text
    assert "() float32" in text


def test_a_tensor_used_twice_is_one_node_with_two_edges():
    x = Tensor([1.0, 2.0], requires_grad=True)
    nodes, edges, _ = parse(viz.draw_graph(x * x))
    assert len(nodes) == 3
    mul = find(nodes, "mul")
    assert [tail for tail, head in edges if head == mul] == ["t2", "t2"]


def test_a_leaf_root_is_a_single_node():
    nodes, edges, _ = parse(viz.draw_graph(Tensor([1.0, 2.0])))
    assert list(nodes) == ["t0"] and edges == []


def test_raw_constants_are_small_nodes_with_their_value_or_shape():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2.0 + np.arange(6.0).reshape(2, 3)
    nodes, edges, _ = parse(viz.draw_graph(y, show_data=True))
    two, array = find(nodes, "2.0"), find(nodes, "(2, 3) float64\\nmean 2.5 std 1.71")
    assert two.startswith("c") and array.startswith("c")
    assert (two, find(nodes, "mul")) in edges
    assert (array, find(nodes, "add")) in edges


def test_same_graph_gives_the_same_source():
    _, _, _, f = mul_add()
    assert viz.draw_graph(f).source == viz.draw_graph(f).source


# ------------------------------------------------------------------ node kinds


def test_parameters_constants_raw_constants_intermediates_look_different():
    w = Tensor([1.0, 2.0], requires_grad=True)
    data = Tensor([3.0, 4.0])  # requires_grad False: a constant
    w.name, data.name = "w", "data"
    y = (w * data + 1.0).sum()
    nodes, edges, _ = parse(viz.draw_graph(y))
    (product,) = [head for tail, head in edges if tail == find(nodes, "mul")]
    kinds = {
        "parameter": nodes[find(nodes, "w\\n")],
        "constant": nodes[find(nodes, "data\\n")],
        "raw constant": nodes[find(nodes, "1.0")],
        "intermediate": nodes[product],
        "output": nodes["t0"],
    }
    looks = {
        k: (a.get("style"), a.get("fillcolor"), a.get("peripheries")) for k, a in kinds.items()
    }
    assert len(set(looks.values())) == len(looks), looks
    assert "dashed" in kinds["constant"]["style"] and "dashed" in kinds["raw constant"]["style"]
    assert "bold" in kinds["parameter"]["style"]
    assert all(a["shape"] == "box" for a in kinds.values())


# ----------------------------------------------------------------------- names


def small_net():
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loss = F.cross_entropy(model(np.ones((5, 3), np.float32)), np.array([0, 1, 0, 1, 1]))
    return model, loss


def test_parameter_names_from_params_dict():
    model, loss = small_net()
    for params in (dict(model.named_parameters()), model.named_parameters()):
        text = "\n".join(labels(parse(viz.draw_graph(loss, params=params))[0]).values())
        for name in ("0.weight\\n(3, 4) float32", "0.bias\\n(4,) float32", "2.weight", "2.bias"):
            assert name in text


def test_parameter_names_set_by_the_module_show_automatically():
    _, loss = small_net()  # the model's first call named its parameters ("0.weight")
    text = "\n".join(labels(parse(viz.draw_graph(loss))[0]).values())
    assert "0.weight" in text and "0.bias" in text and "2.weight" in text


def test_one_cluster_per_module():
    model, loss = small_net()
    nodes, _, clusters = parse(viz.draw_graph(loss, params=dict(model.named_parameters())))
    assert set(clusters) == {"cluster_0", "cluster_2"}
    for prefix in ("0", "2"):
        cluster = clusters[f"cluster_{prefix}"]
        assert cluster["label"] == prefix
        members = sorted(labels(nodes)[i].split("\\n")[0] for i in cluster["nodes"])
        assert members == [f"{prefix}.bias", f"{prefix}.weight"]


# ------------------------------------------------------------- data and grads


def test_data_and_grad_summaries_only_when_asked():
    x, _, _, f = mul_add()
    assert "data:" not in viz.draw_graph(f).source
    assert "grad:" not in viz.draw_graph(f).source
    before = labels(parse(viz.draw_graph(f, show_data=True, show_grad=True))[0])
    assert "x\\n() float64\\ndata: 2.0\\ngrad: None" in before.values()
    f.backward(retain_graph=True)
    after = labels(parse(viz.draw_graph(f, show_grad=True))[0])
    assert "x\\n() float64\\ngrad: 3.0" in after.values()
    assert "data:" not in "".join(after.values())
    with_data = labels(parse(viz.draw_graph(f, show_data=True))[0])
    assert with_data["t0"] == "() float64\\ndata: 10.0"
    assert x.grad is not None


def test_large_tensors_show_mean_and_std():
    w = Tensor(np.full((10, 10), 0.5), requires_grad=True)
    y = (w * 3.0).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)  # gradients accumulate: 3 + 3
    text = viz.draw_graph(y, show_data=True, show_grad=True).source
    assert "(10, 10) float64\\ndata: mean 0.5 std 0\\ngrad: norm 60, min 6, max 6" in text
    assert "(10, 10) float64\\ndata: mean 1.5 std 0" in text  # w * 3: no grad kept
    assert text.count("grad:") == 1


def test_summarize():
    assert viz.summarize(2.0) == "2.0"
    assert viz.summarize(np.float32(0.1)) == "0.1"
    assert viz.summarize([1.0, -2.5]) == "[1.0, -2.5]"
    assert viz.summarize(np.zeros((2, 2))) == "[[0.0, 0.0], [0.0, 0.0]]"
    assert viz.summarize([True, False]) == "[True, False]"
    assert viz.summarize(np.arange(10)) == "min 0 max 9"
    assert viz.summarize(np.array([1.0, 1.0, 3.0, 3.0, 2.0])) == "mean 2 std 0.894"
    assert viz.summarize(np.array([1.0, np.nan, 1.0, 1.0, 1.0])) == "mean 1 std 0 (1 NaN/Inf)"
    assert viz.summarize(np.zeros(0)) == "empty"


# ------------------------------------------------------ the graph after backward


def two_layer_loss(x_name=None):
    """A two-layer net's loss on a constant batch, with a dropout mask (a raw array), a
    raw number and a broadcast bias: every kind of node."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    x = Tensor(rng.standard_normal((6, 4)), name=x_name)
    mask = (rng.random((6, 3)) > 0.2).astype(np.float64)
    return F.cross_entropy(model(x) * mask * 0.5, np.arange(6) % 3)


GRAPHS = {
    "mul_add": lambda: mul_add()[3],
    "two_layer": two_layer_loss,
    "named_batch": lambda: two_layer_loss("x"),
    "chain_with_constants": lambda: chain(5, lambda y: (y * 1.01 + np.arange(3.0)).sum())[1],
    "constant_used_twice": lambda: (
        lambda x: x * Tensor(2.0, requires_grad=True) + x * Tensor(3.0, requires_grad=True)
    )(Tensor(np.ones((2, 3)), name="x")).sum(),
}


@pytest.mark.parametrize("build", GRAPHS)
def test_the_drawing_after_backward_equals_the_drawing_before(build):
    root = GRAPHS[build]()
    before = viz.draw_graph(root).source
    root.backward()  # frees the arrays, keeps the graph's shape
    assert root.creator.inputs is None  # freed indeed
    assert viz.draw_graph(root).source == before


def test_after_backward_every_leaf_shows_its_gradient():
    loss = two_layer_loss()
    loss.backward()
    nodes, _, _ = parse(viz.draw_graph(loss, show_grad=True))
    for name in ("0.weight", "0.bias", "2.weight"):  # more than 4 elements: a summary
        label = nodes[find(nodes, name)]["label"]
        assert re.search(r"grad: norm [0-9.e-]+, min -?[0-9.e-]+, max -?[0-9.e-]+", label), label
    bias_label = labels(nodes)[find(nodes, "2.bias")]
    assert re.search(r"grad: \[-?[0-9.]+, -?[0-9.]+, -?[0-9.]+\]", bias_label), bias_label


def test_retained_intermediate_shows_its_gradient_after_backward():
    x, y, z, _ = mul_add()
    product = x * y
    product.retain_grad()
    f = product + z
    f.backward()
    nodes, _, _ = parse(viz.draw_graph(f, show_grad=True))
    assert "grad: 1.0" in nodes["t2"]["label"]  # df/d(x*y) = 1
    assert "grad: 3.0" in nodes[find(nodes, "x")]["label"]  # df/dx = y


def test_freed_data_is_said_so_and_a_second_backward_still_raises():
    loss = two_layer_loss()
    loss.backward()
    text = viz.draw_graph(loss, show_data=True).source
    assert "data: freed by backward()" in text  # intermediates only the graph held
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


# ----------------------------------------------------------------- big graphs


def test_max_nodes_collapses_the_rest_into_one_note():
    _, y = chain(1000, lambda y: y * 1.01)  # 1000 ops, 1000 raw constants, 1001 tensors
    nodes, edges, _ = parse(viz.draw_graph(y, max_nodes=50))
    assert len(nodes) == 51
    assert nodes["more"]["label"] == "... 2951 more nodes not shown (max_nodes=50)"
    assert [tail for tail, _ in edges].count("more") >= 1
    drawn = set(nodes)
    assert all(tail in drawn and head in drawn for tail, head in edges)


def test_small_graphs_have_no_more_note():
    _, _, _, f = mul_add()
    assert "more" not in parse(viz.draw_graph(f, max_nodes=7))[0]
    assert "... 1 more nodes" in viz.draw_graph(f, max_nodes=6).source


def test_a_100k_op_chain_draws_without_recursion_error():
    _, y = chain(100_000, lambda y: -y)
    graph = viz.draw_graph(y)  # default max_nodes=200
    assert "... 199801 more nodes not shown (max_nodes=200)" in graph.source


# ------------------------------------------------------------------- escaping


class Strange(Function):
    """An op with a name full of DOT's special characters."""

    name = 'a<b> "c" \\l'

    def forward(self, x):
        return x + 1

    def backward(self, grad):
        return grad


def strange_graph():
    x = Tensor([1.0], requires_grad=True)
    x.name = 'w<0>\n"q" \\ {x} ;'
    return Strange()(x)


def test_labels_escape_quotes_backslashes_and_newlines():
    nodes, _, _ = parse(viz.draw_graph(strange_graph()))
    assert nodes["f1"]["label"] == r"a<b> \"c\" \\l"
    assert nodes["t2"]["label"].startswith(r"w<0>\n\"q\" \\ {x} ;\n(1,) float64")


def test_angle_brackets_are_not_read_as_html_labels():
    x = Tensor([1.0], requires_grad=True)
    x.name = "<b>"
    y = x * 1.0
    y.name = "<i>x</i>"
    assert 'label="<i>x</i>\\n' in viz.draw_graph(y).source


def test_special_characters_render(dot_program):
    svg = viz.draw_graph(strange_graph()).pipe(format="svg").decode()
    assert "a&lt;b&gt; &quot;c&quot; \\l" in svg
    assert "w&lt;0&gt;" in svg and "{x} ;" in svg


# ---------------------------------------------------------------- arguments


def test_bad_arguments():
    with pytest.raises(TypeError, match="root must be a Tensor"):
        viz.draw_graph(np.ones(3))
    y = Tensor([1.0], requires_grad=True) * 2.0
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(y, rankdir="sideways")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_nodes"):
            viz.draw_graph(y, max_nodes=bad)
    assert "rankdir=LR" in viz.draw_graph(y, rankdir="LR").source


# ------------------------------------------------------------------ rendering


def test_render_svg_and_png(dot_program, tmp_path):
    _, _, _, f = mul_add()
    graph = viz.draw_graph(f, show_data=True)
    svg = viz.render(graph, tmp_path / "g.svg")
    assert svg == tmp_path / "g.svg"
    text = svg.read_text()
    assert text.startswith("<?xml") and "<svg" in text and "mul" in text
    png = viz.render(graph, tmp_path / "g.png")  # the format comes from the suffix
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    pdf = viz.render(graph, tmp_path / "picture", format="pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.png", "g.svg", "picture"]


def test_render_without_dot_explains_how_to_install_it(monkeypatch, tmp_path):
    _, _, _, f = mul_add()
    graph = viz.draw_graph(f)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError) as info:
        viz.render(graph, tmp_path / "g.svg")
    message = str(info.value)
    assert "sudo apt-get install graphviz" in message and "brew install graphviz" in message
    assert "winget" in message and "graph.source" in message
    assert not (tmp_path / "g.svg").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_save_dot_needs_no_graphviz(monkeypatch, tmp_path):
    _, _, _, f = mul_add()
    graph = viz.draw_graph(f)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    path = viz.save_dot(graph, tmp_path / "sub" / "g.dot")
    assert path.read_text(encoding="utf-8") == graph.source


def test_example_script_writes_three_graphs(tmp_path):
    out = tmp_path / "tmp"
    result = run_python(EXAMPLES / "visualize_graph.py", "--out", out, timeout=120)
    assert result.returncode == 0, result.stderr
    suffix = ".svg" if shutil.which("dot") else ".dot"
    for stem in ("graph_mul_add", "graph_sigmoid_neuron", "graph_two_layer"):
        assert (out / (stem + suffix)).stat().st_size > 0
        assert f"wrote {out / (stem + suffix)}" in result.stdout
