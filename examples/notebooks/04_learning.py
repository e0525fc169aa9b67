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
# # Chapter 4: learning (학습) from data
#
# A network learns by making a loss function (손실 함수) smaller. This notebook computes
# the two classic losses with the notes' numbers, takes derivatives numerically
# (수치 미분), draws a gradient (기울기) field, and walks downhill by gradient descent
# (경사 하강법).

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, optim
from tinygrad_edu.datasets import load_mnist
from tinygrad_edu.numerical import gradient_descent, numerical_diff, numerical_gradient

# %% [markdown]
# ## Loss functions
#
# The sum of squared errors (오차제곱합) E = ½ Σ (y_k - t_k)² and the cross-entropy error
# (교차 엔트로피 오차) E = -Σ t_k log(y_k + 1e-7). The label t is one-hot (원-핫 인코딩)
# for the digit 2; y1 gives 0.6 to class 2 (right), y2 gives 0.6 to class 7 (wrong).

# %%
t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
y1 = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
y2 = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
for name, y in [("y1 (says 2)", y1), ("y2 (says 7)", y2)]:
    sse = F.sum_squared_error(Tensor(y), t).item()
    cee = F.cross_entropy_error(Tensor(y), t).item()
    print(f"{name}: SSE {sse:.4f}   CEE {cee:.4f}")

# %% [markdown]
# With a one-hot t, the cross-entropy keeps one term: -log(y of the right class). It is 0
# for a certain right answer and grows without bound as that probability goes to 0:

# %%
p = np.linspace(0.001, 1, 200)
plt.figure(figsize=(4.5, 3))
plt.plot(p, -np.log(p))
plt.xlabel("probability given to the right class")
plt.ylabel("cross-entropy  -log p")
plt.show()

# %% [markdown]
# ## Mini-batches (미니배치)
#
# The loss over all 60,000 training images is costly, so each step uses a random sample,
# as the notes do with `np.random.choice`. `F.cross_entropy` averages over the batch.

# %%
(x_train, t_train), _ = load_mnist()
np.random.seed(0)
batch_mask = np.random.choice(len(x_train), 10)
x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
print(x_batch.shape, t_batch)
uniform_scores = np.zeros((10, 10), dtype=np.float32)  # every class equally likely
print("loss of a uniform guess:", F.cross_entropy(uniform_scores, t_batch).item(), "= ln 10")

# %% [markdown]
# ## Numerical differentiation
#
# The derivative (미분) is the slope: lim (f(x + h) - f(x)) / h. A computer cannot take the
# limit, and a tiny h rounds away, so `numerical_diff` uses h = 1e-4 and the central
# difference (중심 차분) (f(x + h) - f(x - h)) / 2h. For f(x) = 0.01x² + 0.1x the exact
# derivative is 0.02x + 0.1: 0.2 at x = 5 and 0.3 at x = 10.


# %%
def function_1(x):
    return 0.01 * x**2 + 0.1 * x


print(numerical_diff(function_1, 5.0), numerical_diff(function_1, 10.0))

xs = np.arange(0.0, 20.0, 0.1)
plt.figure(figsize=(5, 3.5))
plt.plot(xs, function_1(xs), label="f(x) = 0.01x² + 0.1x")
for a in (5.0, 10.0):
    slope = numerical_diff(function_1, a)
    plt.plot(xs, slope * (xs - a) + function_1(a), "--", label=f"tangent at x = {a:g}")
plt.legend()
plt.show()

# %% [markdown]
# ## Partial derivatives and the gradient
#
# For f(x0, x1) = x0² + x1², the vector of partial derivatives (편미분) is the gradient
# (2x0, 2x1). `numerical_gradient` nudges one element at a time:


# %%
def function_2(x):
    return x[0] ** 2 + x[1] ** 2


for point in ([3.0, 4.0], [0.0, 2.0], [3.0, 0.0]):
    print(point, "->", numerical_gradient(function_2, point))

# %% [markdown]
# Drawn at many points, the negative gradient points downhill, towards the minimum at
# (0, 0), and is longer where f is steeper:

# %%
grid = np.arange(-2, 2.5, 0.25)
g0, g1 = np.meshgrid(grid, grid)
field = np.array([numerical_gradient(function_2, [a, b]) for a, b in zip(g0.ravel(), g1.ravel())])
plt.figure(figsize=(4.5, 4.5))
plt.quiver(g0.ravel(), g1.ravel(), -field[:, 0], -field[:, 1], angles="xy", color="#666666")
plt.xlabel("x0")
plt.ylabel("x1")
plt.title("-gradient of x0² + x1²")
plt.gca().set_aspect("equal")
plt.show()

# %% [markdown]
# ## Gradient descent
#
# Repeat x <- x - lr * grad f(x). The learning rate (학습률) lr is a hyperparameter
# (하이퍼파라미터): set by hand. From (-3, 4), 100 steps: lr = 0.1 reaches the minimum,
# lr = 0.01 is still on its way, lr = 10 diverges (발산), lr = 1e-10 barely moves.

# %%
init_x = np.array([-3.0, 4.0])
paths = {}
for lr in (0.1, 0.01, 10.0, 1e-10):
    x, history = gradient_descent(function_2, init_x, lr=lr, step_num=100, return_history=True)
    paths[lr] = history
    print(f"lr = {lr:<6g} -> {x}")

fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))
for ax, (lr, history) in zip(axes, paths.items()):
    ax.plot(history[:, 0], history[:, 1], "o-", ms=3)
    ax.plot(0, 0, "k+", ms=12)
    ax.set(title=f"lr = {lr:g}", xlabel="x0", ylabel="x1")
    if lr != 10.0:
        ax.set(xlim=(-3.5, 3.5), ylim=(-4.5, 4.5))
plt.show()

# %% [markdown]
# ## The same descent with autograd
#
# Instead of nudging every coordinate, let backpropagation compute the exact gradient
# 2x: a Tensor with `requires_grad=True`, `backward()`, and `optim.SGD`, which applies the
# same update x <- x - lr * x.grad.

# %%
x = Tensor(init_x.copy(), requires_grad=True)
optimizer = optim.SGD([x], lr=0.1)
for _ in range(100):
    optimizer.zero_grad()
    loss = function_2(x)
    loss.backward()
    optimizer.step()
print("autograd:", x.numpy(), "  numerical:", paths[0.1][-1])
print("same path:", np.allclose(x.numpy(), paths[0.1][-1], atol=1e-12))
