"""Watch backpropagation: the book's apple example told step by step, then checked op by op.

1. The apple example of chapter 5 (2 apples at 100 each, tax 1.1: price 220):
   ``explain_backward`` runs ``price.backward()`` and prints each step, the local rule of
   each op and what it hands to each input (d price/d apple = 2.2, d apple_num = 110,
   d tax = 200), then draws one picture per step (the current op in orange).
2. A small two-layer network, in which one op has a deliberately wrong backward:
   ``gradcheck_graph`` checks every op on its own and names the wrong one, and
   ``draw_graph(loss, highlight=report)`` paints it red.

Pictures need Graphviz's ``dot`` program (else the DOT text is written); with matplotlib
installed (the ``plot`` extra) the steps also become one animated GIF.

    python examples/explain_backward.py            # into out/explain_backward/
"""

import shutil
import sys

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


def save(graph, path_without_suffix, have_dot):
    if have_dot:
        return viz.render(graph, path_without_suffix.with_suffix(".png"))
    return viz.save_dot(graph, path_without_suffix.with_suffix(".dot"))


def write_gif(pngs, path):
    """The step pictures as one animated GIF, one second per step (needs Pillow, which
    comes with matplotlib)."""
    try:
        from PIL import Image
    except ImportError:
        print("(no GIF: Pillow is missing; pip install 'tinygrad_edu[plot]')")
        return
    frames = [Image.open(p).convert("RGB") for p in pngs]
    width = max(f.width for f in frames)
    height = max(f.height for f in frames)
    canvas = [Image.new("RGB", (width, height), "white") for _ in frames]
    for blank, frame in zip(canvas, frames):
        blank.paste(frame, ((width - frame.width) // 2, 0))
    canvas[0].save(path, save_all=True, append_images=canvas[1:], duration=1000, loop=0)
    print(f"wrote {path}")


def main(argv=None, prog=None):
    parser = make_parser("explain_backward", __doc__)
    parser.prog = prog or parser.prog  # "tinygrad-edu explain" when run as the command
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    have_dot = shutil.which("dot") is not None

    print("== 1. The apple example, step by step ==\n")
    price = apple_example()
    explanation = explain_backward(price)
    print(explanation, "\n")
    pictures = [
        save(frame, args.out / f"apple_step_{number}", have_dot)
        for number, frame in enumerate(explanation.frames(), 1)
    ]
    for path in pictures:
        print(f"wrote {path}")
    if have_dot and not args.quick:
        write_gif(pictures, args.out / "apple_backward.gif")

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
