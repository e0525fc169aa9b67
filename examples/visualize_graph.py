"""Draw three computational graphs, with values and gradients, as pictures.

1. f = x * y + z with x=2, y=3, z=4: the notes' multiplication and addition nodes
   (f = 10; df/dx = y = 3, df/dy = x = 2, df/dz = 1).
2. One sigmoid neuron, y = sigmoid(w @ x + b).
3. The flagship two-layer network's loss: 784 -> 50 -> 10 with ReLU and softmax
   cross-entropy, on a mini-batch of 4 random "images".

Each graph is drawn after ``backward()``: backward frees the arrays the graph kept, not its
shape, so the whole graph is drawn and every parameter shows its gradient. Writes SVG files
(or PNG/PDF with --format) when Graphviz's ``dot`` program is installed, else the DOT text
(``.dot`` files; ``dot -Tsvg`` draws them).

    python examples/visualize_graph.py                 # into graphs/
    python examples/visualize_graph.py --out docs/     # regenerates docs/graph_two_layer.svg
"""

import argparse
import shutil
from pathlib import Path

import numpy as np

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, viz


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("graphs"), help="output folder")
    p.add_argument("--format", default="svg", choices=["svg", "png", "pdf"], help="picture type")
    p.add_argument("--seed", type=int, default=0, help="random seed (weights and images)")
    return p.parse_args(argv)


def mul_add_graph():
    """f = x * y + z for x=2, y=3, z=4."""
    x = Tensor(2.0, requires_grad=True)
    y = Tensor(3.0, requires_grad=True)
    z = Tensor(4.0, requires_grad=True)
    x.name, y.name, z.name = "x", "y", "z"
    xy = x * y  # held here, so its value outlives backward() and is drawn
    xy.retain_grad()  # and it keeps its gradient, df/d(xy) = 1
    f = xy + z
    f.name = "f"
    f.backward()
    return viz.draw_graph(f, show_data=True, show_grad=True)


def sigmoid_neuron_graph():
    """y = sigmoid(w @ x + b): three inputs, three weights, one bias."""
    w = Tensor([0.5, -0.3, 0.8], requires_grad=True)
    b = Tensor(0.1, requires_grad=True)
    x = Tensor([1.0, 2.0, 3.0])  # the input: a constant, no gradient needed
    w.name, b.name, x.name = "w", "b", "x"
    a = w @ x + b  # held here, so its value outlives backward() and is drawn
    y = a.sigmoid()
    y.name = "y"
    y.backward()
    return viz.draw_graph(y, show_data=True, show_grad=True)


def two_layer_graph(seed):
    """The loss of a 784 -> 50 -> 10 ReLU network on 4 random images."""
    np.random.seed(seed)  # nn.Linear draws its weights from numpy's global generator
    model = nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10))
    x = Tensor(np.random.random_sample((4, 784)).astype(np.float32))
    x.name = "x (4 images)"
    t = np.random.randint(0, 10, size=4)  # their labels (a constant of the loss op)
    loss = F.cross_entropy(model(x), t)
    loss.name = "loss"
    loss.backward()
    return viz.draw_graph(loss, show_data=True, show_grad=True)  # names: "0.weight", ...


def main(argv=None):
    args = parse_args(argv)
    graphs = {
        "graph_mul_add": mul_add_graph(),
        "graph_sigmoid_neuron": sigmoid_neuron_graph(),
        "graph_two_layer": two_layer_graph(args.seed),
    }
    have_dot = shutil.which("dot") is not None
    if not have_dot:
        print("Graphviz's 'dot' program was not found: writing DOT text (.dot files).")
        print("Install Graphviz to get pictures (Debian/Ubuntu: sudo apt-get install graphviz;")
        print("macOS: brew install graphviz), or draw them with: dot -Tsvg file.dot -o file.svg")
    for stem, graph in graphs.items():
        if have_dot:
            path = viz.render(graph, args.out / f"{stem}.{args.format}")
        else:
            path = viz.save_dot(graph, args.out / f"{stem}.dot")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
