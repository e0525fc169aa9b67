"""Watch backpropagation: the book's chapter-5 graphs told step by step, then checked op by op.

1. ``explain_backward`` runs ``backward()`` and prints each step: the op, its local rule,
   what it hands to each input. First the apple example (2 apples at 100 each, tax 1.1:
   price 220; d price/d apple = 2.2, d apple_num = 110, d tax = 200), then the apples and
   oranges of the notes' multiply and add nodes (715; 2.2, 110, 3.3, 165, 650), then one
   sigmoid neuron, then a two-layer network's loss (a long account, summarised). The
   apple example is drawn step by step (the current op in orange).
2. A small network in which one op has a deliberately wrong backward: ``gradcheck_graph``
   checks every op on its own and names the wrong one, and
   ``draw_graph(loss, highlight=report)`` paints it red.

The pictures are SVG files drawn by Graphviz's ``dot`` program (without it, the DOT text);
with matplotlib installed (the ``plot`` extra, which brings Pillow) the apple example's
steps also become one animated GIF.

    python examples/explain_backward.py            # into out/explain_backward/
"""

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import make_parser

import tinygrad_edu.functional as F
from tinygrad_edu import Function, Tensor, explain_backward, nn, viz
from tinygrad_edu.numerical import gradcheck_graph


def apple_example():
    """price = apple * apple_num * tax, each tensor named as in the book's figure."""
    apple = Tensor(100.0, requires_grad=True, name="apple")
    apple_num = Tensor(2.0, requires_grad=True, name="apple_num")
    tax = Tensor(1.1, requires_grad=True, name="tax")
    apple_price = apple * apple_num
    apple_price.name = "apple_price"
    price = apple_price * tax
    price.name = "price"
    return price


class BadSigmoid(Function):
    """sigmoid(x) with a common mistake in its backward: y instead of y (1 - y)."""

    def forward(self, x):
        return 1 / (1 + np.exp(-x))

    def backward(self, grad):
        return grad * self.saved_output()  # wrong: the derivative is y (1 - y)


def network_with_a_bug(seed):
    """A 4 -> 8 -> 3 network whose hidden activation has the wrong backward."""
    np.random.seed(seed)
    model = nn.Sequential(nn.Linear(4, 8, dtype=np.float64), nn.Linear(8, 3, dtype=np.float64))
    x = np.random.standard_normal((5, 4))
    hidden = BadSigmoid()(model[0](x))
    return F.cross_entropy(model[1](hidden), np.arange(5) % 3)


def apples_and_oranges():
    """The notes' multiply and add nodes: (2 apples at 100 + 3 oranges at 150) x tax 1.1."""
    apple = Tensor(100.0, requires_grad=True, name="apple")
    apple_num = Tensor(2.0, requires_grad=True, name="apple_num")
    orange = Tensor(150.0, requires_grad=True, name="orange")
    orange_num = Tensor(3.0, requires_grad=True, name="orange_num")
    tax = Tensor(1.1, requires_grad=True, name="tax")
    price = (apple * apple_num + orange * orange_num) * tax
    price.name = "price"
    return price


def sigmoid_neuron():
    """y = sigmoid(w . x + b) for three inputs."""
    w = Tensor([0.5, -0.3, 0.8], requires_grad=True, name="w")
    b = Tensor(0.1, requires_grad=True, name="b")
    x = Tensor([1.0, 2.0, 3.0], name="x")
    y = (w @ x + b).sigmoid()
    y.name = "y"
    return y


def two_layer_loss(seed):
    """The loss of a 784 -> 50 -> 10 ReLU network on 4 random images."""
    np.random.seed(seed)
    model = nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10))
    x = Tensor(np.random.random_sample((4, 784)).astype(np.float32), name="x")
    loss = F.cross_entropy(model(x), np.random.randint(0, 10, size=4))
    loss.name = "loss"
    return loss


def save(graph, path_without_suffix, have_dot, picture="svg"):
    """The drawing as a picture (with Graphviz's dot), else as DOT text."""
    if have_dot:
        return viz.render(graph, path_without_suffix.with_suffix(f".{picture}"))
    return viz.save_dot(graph, path_without_suffix.with_suffix(".dot"))


def write_gif(frames, path):
    """The step drawings as one animated GIF, one second per step. Needs Pillow (it comes
    with matplotlib) and Graphviz's dot."""
    try:
        from PIL import Image
    except ImportError:
        print("(no GIF: Pillow is missing; pip install 'tinygrad_edu[plot]')")
        return
    with tempfile.TemporaryDirectory() as folder:
        pngs = [viz.render(f, Path(folder) / f"{i}.png") for i, f in enumerate(frames)]
        images = [Image.open(png).convert("RGB") for png in pngs]
        width, height = max(i.width for i in images), max(i.height for i in images)
        canvas = [Image.new("RGB", (width, height), "white") for _ in images]
        for blank, image in zip(canvas, images):
            blank.paste(image, ((width - image.width) // 2, 0))
        canvas[0].save(path, save_all=True, append_images=canvas[1:], duration=1000, loop=0)
    print(f"wrote {path}")


def main(argv=None, prog=None):
    parser = make_parser("explain_backward", __doc__, prog=prog)  # "tinygrad-edu explain"
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    have_dot = shutil.which("dot") is not None

    print("== 1. The apple example, step by step ==\n")
    explanation = explain_backward(apple_example())
    print(explanation, "\n")
    frames = explanation.frames()
    for number, frame in enumerate(frames, 1):
        print(f"wrote {save(frame, args.out / f'apple_step_{number}', have_dot)}")
    if have_dot and not args.quick:
        write_gif(frames, args.out / "apple_backward.gif")

    print("\n== The notes' multiply and add nodes: apples and oranges ==\n")
    print(explain_backward(apples_and_oranges()))
    print("\n== One sigmoid neuron ==\n")
    print(explain_backward(sigmoid_neuron()))
    print("\n== A two-layer network's loss ==\n")
    print(explain_backward(two_layer_loss(seed=0)))

    print("\n== 2. Which op is wrong? Every op checked on its own ==\n")
    loss = network_with_a_bug(seed=0)
    report = gradcheck_graph(loss)
    print(report)
    for row in report.failed:
        print(f"-> '{row.op}' has a wrong backward (max abs error {row.max_abs_error:.3g})")
    print(f"wrote {save(viz.draw_graph(loss, highlight=report), args.out / 'gradcheck', have_dot)}")
    return 0 if [r.op for r in report.failed] == ["badsigmoid"] else 1


if __name__ == "__main__":
    sys.exit(main())
