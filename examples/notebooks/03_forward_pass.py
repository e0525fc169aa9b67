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
# # Chapter 3: the forward pass (순전파) of a neural network
#
# A neural network (신경망) is perceptrons in layers, with a smooth activation function
# (활성화 함수) in place of the step. This notebook draws the activations, computes
# softmax, runs the notes' 3-layer network on one input and on a batch (배치), and times
# one image at a time against whole batches.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, no_grad, threads
from tinygrad_edu.datasets import load_mnist
from tinygrad_edu.models import ThreeLayerNet

threads.use_default_num_threads()  # one BLAS thread, as the course's scripts (see below)
print("numpy's matrix products use", threads.get_num_threads(), "thread(s)")

# %% [markdown]
# ## Activation functions and their slopes
#
# The step function (계단 함수), the sigmoid (시그모이드) 1 / (1 + exp(-x)), ReLU
# max(0, x) and tanh. Their derivatives come from autograd: one `backward()` of
# `f(x).sum()` gives f'(x) at every point at once. The step's slope is 0 everywhere (it
# cannot guide learning); the sigmoid's is y(1 - y), at most 1/4.

# %%
activations = {
    "step": F.step_function,
    "sigmoid": F.sigmoid,
    "ReLU": F.relu,
    "tanh": F.tanh,
}
xs = np.linspace(-5, 5, 201)
fig, axes = plt.subplots(1, 4, figsize=(14, 3))
for ax, (name, f) in zip(axes, activations.items()):
    x = Tensor(xs, requires_grad=True)
    y = f(x)
    if name != "step":  # the step is not recorded: it has no useful gradient
        y.sum().backward()
    slope = np.zeros_like(xs) if x.grad is None else x.grad.numpy()
    ax.plot(xs, y.numpy(), label=name)
    ax.plot(xs, slope, "--", label="derivative")
    ax.set_title(name)
    ax.legend()
plt.show()

# %% [markdown]
# ## Softmax (소프트맥스)
#
# The output layer of a classifier turns scores a into probabilities:
# y_k = exp(a_k) / Σ exp(a_i). The notes' example:

# %%
a = Tensor([0.3, 2.9, 4.0])
y = F.softmax(a, axis=0)
print(y.numpy(), "sum:", y.numpy().sum())

# %% [markdown]
# Computed naively, exp overflows for large scores. Subtracting the largest score first
# gives the same result (the constant cancels) without overflow, and that is what
# `F.softmax` does:

# %%
big = np.array([1010.0, 1000.0, 990.0])
with np.errstate(over="ignore", invalid="ignore"):
    print("naive:   ", np.exp(big) / np.exp(big).sum())
print("softmax: ", F.softmax(Tensor(big), axis=0).numpy())

# %% [markdown]
# ## The notes' 3-layer network
#
# Each layer computes a = z @ W + b and applies an activation: sigmoid in the hidden
# layers, the identity (항등 함수) at the output. W has shape (inputs, outputs). With the
# notes' weights, x = [1.0, 0.5] gives y = [0.31682708, 0.77338016].

# %%
network = {
    "W1": Tensor([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
    "b1": Tensor([0.1, 0.2, 0.3]),
    "W2": Tensor([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]),
    "b2": Tensor([0.1, 0.2]),
    "W3": Tensor([[0.1, 0.3], [0.2, 0.5]]),
    "b3": Tensor([0.1, 0.2]),
}


def forward(net, x):
    z1 = F.sigmoid(Tensor(x) @ net["W1"] + net["b1"])  # (2,) @ (2, 3) -> (3,)
    z2 = F.sigmoid(z1 @ net["W2"] + net["b2"])  # (3,) @ (3, 2) -> (2,)
    return z2 @ net["W3"] + net["b3"]  # identity output, (2,)


y = forward(network, np.array([1.0, 0.5]))
y

# %% [markdown]
# ## Batches
#
# Stack N inputs as the rows of X, shape (N, 2), and the very same code computes all N
# outputs at once: (N, 2) @ (2, 3) -> (N, 3), and the bias is broadcast (브로드캐스트) to
# every row. Row i is exactly what input i gives alone.

# %%
X = np.array([[1.0, 0.5], [0.0, 0.0], [1.0, 1.0], [-1.0, 0.5], [0.5, -1.0]])
Y = forward(network, X)
alone = np.array([forward(network, row).numpy() for row in X])
print("Y =\n", Y.numpy())
print("max |batch - one at a time| =", np.abs(Y.numpy() - alone).max())

# %% [markdown]
# ## One image at a time versus batches
#
# On MNIST, the book's 3-layer network (784 -> 50 -> 100 -> 10, `ThreeLayerNet`; random
# weights here, since we only time it). One big matrix product is much faster than
# many small ones: numpy's loops run in C and the weights are read once per batch. The
# times depend on the machine, so read them as a ratio. (The first cell asked numpy's
# matrix library for one thread: on a small, busy machine, two threads fighting for the
# cores can make the batches slower than single images, which hides the lesson.
# `tinygrad_edu.set_num_threads(n)` picks another count.)

# %%
(_, _), (x_test, t_test) = load_mnist()
x_test = x_test[:1000]
np.random.seed(0)
net = ThreeLayerNet(784, 50, 100, 10)

with no_grad():
    start = time.perf_counter()
    one_by_one = np.array([net(x[None]).numpy()[0] for x in x_test])
    per_image = time.perf_counter() - start

    start = time.perf_counter()
    batched = np.concatenate([net(x_test[i : i + 100]).numpy() for i in range(0, 1000, 100)])
    per_batch = time.perf_counter() - start

print(f"one image at a time: {per_image * 1e3:7.1f} ms for 1000 images")
print(f"batches of 100:      {per_batch * 1e3:7.1f} ms for 1000 images")
print(f"same scores: {np.allclose(one_by_one, batched, atol=1e-5)}")

plt.figure(figsize=(5, 2.5))
plt.barh(["batches of 100", "one at a time"], [per_batch * 1e3, per_image * 1e3])
plt.xlabel("milliseconds for 1000 images")
plt.show()
