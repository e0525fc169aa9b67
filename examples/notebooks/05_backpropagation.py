# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %%
# Install tinygrad_edu if it is missing (on Colab, for instance); otherwise this does nothing.
# OWNER is a placeholder: put the GitHub owner of the repository in its place.
try:
    import tinygrad_edu
except ImportError:
    # %pip install --quiet "tinygrad_edu[plot] @ git+https://github.com/OWNER/tinygrad_edu"
    import tinygrad_edu
print("tinygrad_edu", tinygrad_edu.__version__)

# %% [markdown]
# # Chapter 5: backpropagation (오차역전파법)
#
# Numerical gradients need two forward passes per weight. Backpropagation gets every
# gradient in one backward pass by applying the chain rule (연쇄법칙) node by node on the
# computational graph (계산 그래프). This notebook draws graphs with `viz.draw_graph`,
# works the book's apple example, watches backward step by step with `explain_backward`,
# and checks gradients (기울기 확인) numerically.

# %%
import numpy as np
from IPython.display import display

import tinygrad_edu.functional as F
from tinygrad_edu import Function, Tensor, explain_backward, nn, viz
from tinygrad_edu.models import TwoLayerNet
from tinygrad_edu.numerical import compare_gradients, gradcheck_graph

# %% [markdown]
# ## The apple example
#
# Two apples at 100 each, with a consumption tax of 1.1: price = 100 × 2 × 1.1 = 220.
# Every tensor gets a name, so the graph reads like the book's figure 5-16. The forward
# pass (순전파) records the graph as it computes:

# %%
apple = Tensor(100.0, requires_grad=True, name="apple")
apple_num = Tensor(2.0, requires_grad=True, name="apple_num")
tax = Tensor(1.1, requires_grad=True, name="tax")
apple_price = apple * apple_num
apple_price.name = "apple_price"
price = apple_price * tax
price.name = "price"
print(price.item())
viz.draw_graph(price, show_data=True, rankdir="LR")

# %% [markdown]
# Backward (역전파) starts from d(price)/d(price) = 1 and goes right to left. A
# multiplication node (곱셈 노드) passes the upstream gradient times the *other* input;
# an addition node (덧셈 노드) passes it through unchanged. `explain_backward` runs
# `price.backward()` and tells each step:

# %%
explanation = explain_backward(price)
print(explanation)

# %% [markdown]
# The same gradients are now in `.grad`, as after a plain `backward()`: if the apple
# costs 1 more, the price rises by 2.2.

# %%
print(apple.grad.item(), apple_num.grad.item(), tax.grad.item())

# %% [markdown]
# `explanation.frames()` draws one picture per step: the current op in orange, and every
# gradient known so far written on the graph.

# %%
for frame in explanation.frames():
    display(frame)

# %% [markdown]
# ## Apples and oranges (figure 5-17)
#
# Add three oranges at 150: an addition node joins the two subtotals. The graph after
# `backward()` still shows its shape, now with each leaf's gradient.

# %%
orange = Tensor(150.0, requires_grad=True, name="orange")
orange_num = Tensor(3.0, requires_grad=True, name="orange_num")
apple.grad = apple_num.grad = tax.grad = None
total = (apple * apple_num + orange * orange_num) * tax
total.name = "price"
total.backward()
print(f"price = {total.item():g}")
for leaf in (apple, apple_num, orange, orange_num, tax):
    print(f"d(price)/d({leaf.name}) = {leaf.grad.item():g}")
viz.draw_graph(total, show_grad=True, rankdir="LR")

# %% [markdown]
# ## Layers as nodes: ReLU, sigmoid, Affine, Softmax-with-Loss
#
# The book builds layers whose backward is a formula: ReLU passes the gradient where its
# input was positive, sigmoid multiplies it by y(1 - y), and Affine (y = x @ W + b) sends
# dy @ Wᵀ to x and xᵀ @ dy to W. Autograd derives the same:

# %%
x = Tensor(np.array([[1.0, -0.5], [-2.0, 3.0]]), requires_grad=True)
y = F.sigmoid(x)
y.sum().backward()
print("autograd:  ", x.grad.numpy().ravel())
print("y (1 - y): ", (y.numpy() * (1 - y.numpy())).ravel())

# %% [markdown]
# The Softmax-with-Loss layer's backward is famously simple: (y - t) / N, the softmax
# output minus the one-hot label, divided by the batch size.

# %%
scores = Tensor(np.array([[0.3, 2.9, 4.0], [1.0, 0.0, -1.0]]), requires_grad=True)
labels = np.array([2, 0])
F.cross_entropy(scores, labels).backward()
y = F.softmax(scores, axis=1).numpy()
print("autograd:\n", scores.grad.numpy())
print("(y - t) / N:\n", (y - np.eye(3)[labels]) / 2)

# %% [markdown]
# ## A whole network's graph
#
# The notes' `TwoLayerNet` (Affine -> ReLU -> Affine -> Softmax-with-Loss) on a batch of 3
# random inputs. Modules name their parameters (`W1`, `b1`, ...).

# %%
np.random.seed(0)
net = TwoLayerNet(input_size=4, hidden_size=5, output_size=3)
x_batch = np.random.standard_normal((3, 4))
t_batch = np.array([0, 2, 1])
loss = net.loss(x_batch, t_batch)
loss.backward()
viz.draw_graph(loss, params=dict(net.named_parameters()), show_grad=True)

# %% [markdown]
# ## Gradient checking (기울기 확인)
#
# Backprop is fast but easy to get wrong; numerical differentiation is slow but simple.
# Comparing the two is the standard check. `compare_gradients` prints both for every
# input (parameters in float64: central differences in float32 are too coarse).

# %%
grads = net.gradient(x_batch, t_batch)
numeric = net.numerical_gradient(x_batch, t_batch)
for key in grads:
    print(f"{key}: max |backprop - numerical| = {np.abs(grads[key] - numeric[key]).max():.2e}")

report = compare_gradients(
    lambda W1, b1, W2, b2: net.loss(x_batch, t_batch), dict(net.named_parameters())
)
print(report)

# %% [markdown]
# ## Which op is wrong?
#
# Checking the whole loss only says "something is wrong". `gradcheck_graph` checks every
# op on its own, against central differences of its own forward, so the faulty op is
# named even deep inside a network. Here a hand-written sigmoid has a classic mistake in
# its backward (y instead of y(1 - y)); `draw_graph(loss, highlight=report)` paints it
# red.


# %%
class BadSigmoid(Function):
    """sigmoid(x) with a wrong backward: y instead of y (1 - y)."""

    def forward(self, x):
        return 1 / (1 + np.exp(-x))

    def backward(self, grad):
        return grad * self.saved_output()  # wrong: should be grad * y * (1 - y)


np.random.seed(1)
layer1, layer2 = nn.Linear(4, 6, dtype=np.float64), nn.Linear(6, 3, dtype=np.float64)
loss = F.cross_entropy(layer2(BadSigmoid()(layer1(x_batch))), t_batch)
check = gradcheck_graph(loss)
print(check)
viz.draw_graph(loss, highlight=check)
