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
# # Chapter 2: perceptrons (퍼셉트론) and logic gates
#
# A perceptron takes inputs x1, x2, multiplies each by a weight (가중치) w1, w2, and fires
# (outputs 1) when the weighted sum is above a threshold θ (임계값). Writing the bias
# (편향) b = -θ:
#
#     y = 1 if w1*x1 + w2*x2 + b > 0, else 0
#
# The weights say how much each input counts, the bias how easily the neuron fires. The
# same perceptron becomes a different logic gate (논리 회로) with different parameters.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, no_grad, optim

# %% [markdown]
# The four possible inputs, one per row, and the notes' parameters for AND, NAND and OR.
# `F.step_function` is the step function (계단 함수): 1 where its input is positive.

# %%
X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64)
GATES = {  # name: ((w1, w2), b)
    "AND": ((0.5, 0.5), -0.7),
    "NAND": ((-0.5, -0.5), 0.7),
    "OR": ((0.5, 0.5), -0.2),
}


def perceptron(x, w, b):
    """step(x @ w + b) for every row of x: one 0 or 1 per input."""
    return F.step_function(Tensor(x) @ Tensor(w) + b).numpy()


def gate(name, x):
    w, b = GATES[name]
    return perceptron(x, w, b)


for name in GATES:
    print(f"{name:<5}", gate(name, X))

# %% [markdown]
# ## XOR and the limit of one perceptron
#
# XOR (배타적 논리합) is 1 when exactly one input is 1. w1*x1 + w2*x2 + b = 0 is a straight
# line: a perceptron outputs 1 on one side of it and 0 on the other. XOR's two 1s sit on
# opposite corners of the square, so no straight line separates them: XOR is not
# linearly separable (선형 분리 불가능). Let us look for one anyway: every (w1, w2, b) on a
# grid of 41 values in [-1, 1], 68,921 perceptrons.

# %%
values = np.linspace(-1, 1, 41)
w1, w2, b = (g.ravel() for g in np.meshgrid(values, values, values, indexing="ij"))
outputs = perceptron(X, np.stack([w1, w2]), b)  # (4, K): every perceptron at once
for name, target in {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}.items():
    found = int((outputs.transpose() == target).all(axis=1).sum())
    print(f"{name:<4} computed by {found:>5} of the {len(b)} perceptrons")

# %% [markdown]
# ## A multi-layer perceptron (다층 퍼셉트론)
#
# Stacking perceptrons removes the limit: XOR(x1, x2) = AND(NAND(x1, x2), OR(x1, x2)).
# The first layer maps the four corners to points that one line can separate.


# %%
def xor(x):
    s1, s2 = gate("NAND", x), gate("OR", x)
    return gate("AND", np.stack([s1, s2], axis=1))


print("XOR", xor(X))

# %% [markdown]
# The decision regions (red: output 1, blue: output 0) and each perceptron's line:

# %%
grid = np.linspace(-0.5, 1.5, 121)
g1, g2 = np.meshgrid(grid, grid)
points = np.column_stack([g1.ravel(), g2.ravel()])
panels = {
    "AND": (gate("AND", points), [GATES["AND"]]),
    "NAND": (gate("NAND", points), [GATES["NAND"]]),
    "OR": (gate("OR", points), [GATES["OR"]]),
    "XOR = AND(NAND, OR)": (xor(points), [GATES["NAND"], GATES["OR"]]),
}
targets = {"AND": [0, 0, 0, 1], "NAND": [1, 1, 1, 0], "OR": [0, 1, 1, 1]}
fig, axes = plt.subplots(1, 4, figsize=(14, 3.6), layout="constrained")
for ax, (title, (region, lines)) in zip(axes, panels.items()):
    ax.contourf(
        g1, g2, region.reshape(g1.shape), levels=[-0.5, 0.5, 1.5], cmap="RdBu_r", alpha=0.35
    )
    for (v1, v2), bias in lines:  # w1*x1 + w2*x2 + b = 0
        ax.plot(grid, -(v1 * grid + bias) / v2, "k--", lw=1)
    target = targets.get(title, [0, 1, 1, 0])
    ax.scatter(*X.T, c=target, cmap="RdBu_r", vmin=0, vmax=1, s=80, edgecolors="k")
    ax.set(title=title, xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="x1", ylabel="x2")
    ax.set_aspect("equal")
plt.show()

# %% [markdown]
# ## Learning XOR instead of setting the weights by hand
#
# A 2-4-1 network with tanh, trained by gradient descent on the binary cross-entropy,
# finds weights for XOR by itself. (How learning works is the subject of chapters 4 and
# 5.) The output is a logit: sigmoid(logit) is the probability of a 1.

# %%
np.random.seed(0)
net = nn.Sequential(nn.Linear(2, 4, init="xavier"), nn.Tanh(), nn.Linear(4, 1, init="xavier"))
optimizer = optim.Adam(net.parameters(), lr=0.1)
x32 = X.astype(np.float32)
t32 = np.array([[0], [1], [1], [0]], dtype=np.float32)
losses = []
for _ in range(300):
    loss = F.binary_cross_entropy_with_logits(net(x32), t32)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

with no_grad():
    probability = F.sigmoid(net(x32)).numpy().ravel()
print("p(1) for (0,0), (1,0), (0,1), (1,1):", probability.round(3))
print("predictions:", (probability > 0.5).astype(int), " XOR:", t32.ravel().astype(int))

with no_grad():
    learned = F.sigmoid(net(points.astype(np.float32))).numpy().reshape(g1.shape)
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
left.plot(losses)
left.set(xlabel="step", ylabel="binary cross-entropy", yscale="log", title="training")
shade = right.contourf(g1, g2, learned, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.5)
right.scatter(*X.T, c=[0, 1, 1, 0], cmap="RdBu_r", vmin=0, vmax=1, s=80, edgecolors="k")
right.set(title="the learned XOR: sigmoid output", xlabel="x1", ylabel="x2")
fig.colorbar(shade, ax=right)
plt.show()

# %% [markdown]
# The learned boundary is curved: the hidden layer bends the plane, which a single
# perceptron's straight line cannot do.
