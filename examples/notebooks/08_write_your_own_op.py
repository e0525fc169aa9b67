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
# # Write your own operation
#
# Every operation in tinygrad_edu is a `Function` with two halves, the book's layer
# (계층) idea from chapter 5: a `forward` that computes the output from the inputs' numpy
# arrays, and a `backward` that turns the gradient arriving from above (upstream, 상류)
# into the gradient of each input, by the chain rule (연쇄법칙). This notebook writes
# two new ops, checks them against numerical gradients (수치 미분) with `gradcheck` and
# `gradcheck_graph`, and shows what a mistake looks like.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_edu.functional as F
from tinygrad_edu import Function, Tensor, explain_backward, nn, viz
from tinygrad_edu.numerical import GradcheckError, compare_gradients, gradcheck, gradcheck_graph

# %% [markdown]
# ## Softplus: a smooth ReLU
#
# softplus(x) = log(1 + eˣ). Its derivative is the sigmoid: d softplus/dx = 1 / (1 + e⁻ˣ).
#
# - `forward` gets numpy arrays and returns an array. `np.logaddexp(0, x)` computes
#   log(e⁰ + eˣ) without overflow for large x.
# - `backward(grad)` gets dL/dy and returns dL/dx = grad × dy/dx. It reads the input with
#   `self.saved_inputs()`.
# - `formula` (optional) is the local rule that `explain_backward` prints.
#
# The backward uses only operators and `np.exp`, which also work on Tensors, so the same
# formula can be differentiated again (second derivatives, below).


# %%
class Softplus(Function):
    formula = "d softplus(x)/dx = sigmoid(x) = 1 / (1 + exp(-x))"

    def forward(self, x):
        return np.logaddexp(0, x)

    def backward(self, grad):
        (x,) = self.saved_inputs()
        return grad / (1 + np.exp(-x))


def softplus(x):
    return Softplus()(x)


x = Tensor(np.linspace(-4, 4, 9), requires_grad=True)
y = softplus(x)
y

# %% [markdown]
# Called on a Tensor, the op joins the graph like a built-in one:

# %%
y.sum().backward()
print("backward:", x.grad.numpy().round(4))
print("sigmoid: ", F.sigmoid(x).numpy().round(4))
viz.draw_graph(softplus(Tensor(1.0, requires_grad=True, name="x")) * 2, rankdir="LR")

# %% [markdown]
# ## Check the backward against numerical gradients
#
# `gradcheck` compares backprop with central differences (f(x + h) - f(x - h)) / 2h for
# every element, in float64 (float32 is too coarse for differences), and returns True or
# raises an error naming the worst element. `compare_gradients` prints the table.

# %%
x64 = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
print(gradcheck(softplus, [x64]))
print(compare_gradients(softplus, {"x": x64}))

# %% [markdown]
# ## A mistake, caught
#
# The most common slip: forgetting the chain rule, returning dy/dx instead of
# grad × dy/dx. For y.sum() the upstream gradient is all ones, so the slip hides; with a
# random upstream gradient (which `gradcheck` uses) it shows.


# %%
class ForgetfulSoftplus(Softplus):
    def backward(self, grad):
        (x,) = self.saved_inputs()
        return 1 / (1 + np.exp(-x))  # wrong: not multiplied by grad


try:
    gradcheck(lambda x: ForgetfulSoftplus()(x), [x64])
except GradcheckError as error:
    print("GradcheckError:", error)

# %% [markdown]
# ## Two inputs and broadcasting: hypot
#
# hypot(a, b) = √(a² + b²) has two inputs, so `backward` returns two gradients, one per
# input: ∂/∂a = a / y and ∂/∂b = b / y. When a and b were broadcast (브로드캐스트) to a
# common shape, the engine sums each gradient back to its input's shape, so the op need
# not care.


# %%
class Hypot(Function):
    formula = "d hypot(a, b)/da = a / y, d/db = b / y"

    def forward(self, a, b):
        return np.sqrt(a * a + b * b)

    def backward(self, grad):
        a, b = self.saved_inputs()
        y = self.saved_output()
        return grad * a / y, grad * b / y


rng = np.random.default_rng(1)
a = Tensor(rng.standard_normal((3, 4)), requires_grad=True, name="a")
b = Tensor(rng.standard_normal(4), requires_grad=True, name="b")  # broadcast over rows
print(gradcheck(lambda a, b: Hypot()(a, b), [a, b]))
print(Hypot()(Tensor(3.0), Tensor(4.0)))

# %% [markdown]
# `explain_backward` shows the op's rule and the broadcasting sum:

# %%
a = Tensor([3.0, 6.0], requires_grad=True, name="a")
b = Tensor(4.0, requires_grad=True, name="b")  # one number for both elements: broadcast
total = Hypot()(a, b).sum()
total.name = "total"
print(explain_backward(total))

# %% [markdown]
# ## Inside a network: `gradcheck_graph`
#
# In a network the new op is one node among many. `gradcheck_graph` checks every op of
# the graph on its own, each against central differences of its own forward, so a wrong
# op is named even deep inside. Here a 4 -> 8 -> 3 classifier uses softplus as its
# activation, once right and once with the forgetful backward, which is painted red.

# %%
np.random.seed(0)
layer1, layer2 = nn.Linear(4, 8, dtype=np.float64), nn.Linear(8, 3, dtype=np.float64)
inputs = np.random.standard_normal((5, 4))
labels = np.array([0, 1, 2, 1, 0])

good = F.cross_entropy(layer2(softplus(layer1(inputs))), labels)
print(gradcheck_graph(good), "\n")

bad = F.cross_entropy(layer2(ForgetfulSoftplus()(layer1(inputs))), labels)
report = gradcheck_graph(bad)
print(report)
viz.draw_graph(bad, highlight=report)

# %% [markdown]
# ## Second derivatives for free
#
# Because `Softplus.backward` is written with operators and `np.exp`, inside
# `backward(create_graph=True)` it runs on Tensors and is itself recorded. So the
# gradient can be differentiated again: softplus'' = sigmoid' = σ(x)(1 - σ(x)).

# %%
xs = Tensor(np.linspace(-6, 6, 121), requires_grad=True)
softplus(xs).sum().backward(create_graph=True)
first = xs.grad
xs.grad = None
first.sum().backward()
second = xs.grad.numpy()
s = F.sigmoid(xs).numpy()
print("max |second - sigmoid (1 - sigmoid)| =", np.abs(second - s * (1 - s)).max())

plt.figure(figsize=(6, 3.5))
plt.plot(xs.numpy(), softplus(xs).numpy(), label="softplus(x)")
plt.plot(xs.numpy(), first.numpy(), label="first derivative (sigmoid)")
plt.plot(xs.numpy(), second, label="second derivative")
plt.plot(xs.numpy(), F.relu(xs).numpy(), ":", color="grey", label="ReLU, for comparison")
plt.legend()
plt.show()
