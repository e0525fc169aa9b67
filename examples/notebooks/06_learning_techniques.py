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
# # Chapter 6: learning techniques (학습 관련 기술들)
#
# Four things that decide whether a network trains well: the optimizer (최적화 기법),
# the initial weights (가중치의 초깃값), batch normalization (배치 정규화), and watching
# training for trouble with tinygrad_edu's `Monitor`.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, no_grad, optim, threads
from tinygrad_edu.data import DataLoader
from tinygrad_edu.datasets import load_mnist
from tinygrad_edu.monitor import Monitor

threads.use_default_num_threads()  # one thread for numpy's matrix products (the scripts' default)
print("numpy's matrix products use", threads.get_num_threads(), "thread(s)")

# %% [markdown]
# ## Optimizers on the book's function f(x, y) = x²/20 + y²
#
# The valley of f is long in x and steep in y, so the gradient mostly points across the
# valley rather than along it. From (-7, 2), 30 steps each, with the book's learning
# rates: SGD (확률적 경사 하강법) zig-zags; momentum (모멘텀) builds up speed along the
# valley; AdaGrad scales each coordinate's step by its gradient history; Adam combines
# both ideas. Each is `tinygrad_edu.optim`'s class with PyTorch's rules, driven by
# `backward()`.


# %%
def f(p):
    return p[0] ** 2 / 20 + p[1] ** 2


def descend(make_optimizer, steps=30):
    p = Tensor(np.array([-7.0, 2.0]), requires_grad=True)
    optimizer = make_optimizer([p])
    path = [p.numpy().copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        f(p).backward()
        optimizer.step()
        path.append(p.numpy().copy())
    return np.array(path)


optimizers = {
    "SGD (lr 0.95)": lambda ps: optim.SGD(ps, lr=0.95),
    "Momentum (lr 0.1, 0.9)": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "AdaGrad (lr 1.5)": lambda ps: optim.Adagrad(ps, lr=1.5),
    "Adam (lr 0.3)": lambda ps: optim.Adam(ps, lr=0.3),
}
gx, gy = np.meshgrid(np.linspace(-10, 10, 201), np.linspace(-5, 5, 101))
fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
for ax, (name, make) in zip(axes, optimizers.items()):
    path = descend(make)
    ax.contour(gx, gy, f(np.array([gx, gy])), levels=np.linspace(0.5, 25, 12), cmap="Greys")
    ax.plot(path[:, 0], path[:, 1], "o-", color="tab:red", ms=3)
    ax.plot(0, 0, "k+", ms=12)
    ax.set(title=name, xlim=(-10, 10), ylim=(-5, 5))
    print(f"{name:<24} ends at ({path[-1, 0]:+.4f}, {path[-1, 1]:+.4f})")
plt.show()

# %% [markdown]
# ## Initial weights and activation histograms
#
# 1000 random inputs go through 5 layers of 100 units (no bias). We draw each layer's
# output as a histogram (the book's figures 6-10 to 6-14):
#
# - sigmoid with std 1: outputs pile up at 0 and 1, where the slope is ~0, so gradients
#   vanish (기울기 소실);
# - sigmoid with std 0.01: everything near 0.5, 100 units doing the same thing (표현력 제한);
# - sigmoid with the book's Xavier (std 1/√n): a healthy spread in every layer;
# - ReLU with std 0.01: the signal shrinks layer by layer;
# - ReLU with He (std √(2/n)): the same spread in every layer.
#
# `nn.init` has PyTorch's functions; the book's Xavier for n inputs is
# `kaiming_normal_(w, nonlinearity="linear")` and He is `kaiming_normal_(w,
# nonlinearity="relu")`.

# %%
inits = {
    "std 1": lambda w: nn.init.normal_(w, std=1.0),
    "std 0.01": lambda w: nn.init.normal_(w, std=0.01),
    "Xavier": lambda w: nn.init.kaiming_normal_(w, nonlinearity="linear"),
    "He": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}
runs = [
    ("sigmoid", "std 1"),
    ("sigmoid", "std 0.01"),
    ("sigmoid", "Xavier"),
    ("relu", "std 0.01"),
    ("relu", "He"),
]
np.random.seed(0)
inputs = np.random.standard_normal((1000, 100)).astype(np.float32)
fig, axes = plt.subplots(len(runs), 5, figsize=(13, 2.1 * len(runs)), sharey="row")
for row, (activation, init) in zip(axes, runs):
    h = Tensor(inputs)
    for i, ax in enumerate(row):
        layer = nn.Linear(100, 100, bias=False)
        inits[init](layer.weight)
        with no_grad():
            h = F.sigmoid(layer(h)) if activation == "sigmoid" else F.relu(layer(h))
        values = h.numpy().ravel()
        ax.hist(values, bins=30, range=(0, 1) if activation == "sigmoid" else None)
        ax.set_title(f"{activation}, {init}: layer {i + 1}", fontsize=9)
        ax.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Batch normalization
#
# `nn.BatchNorm1d` normalises each feature over the mini-batch to mean 0 and variance 1,
# then scales and shifts it by learned γ and β. Placed after each Linear layer (the
# book's Affine -> BatchNorm -> ReLU), it makes training much less sensitive to the
# initial weights. As in the book's figure 6-18: 1000 training images, 5 hidden layers of
# 100 units, SGD with lr 0.01, once with and once without BatchNorm, for three scales of
# the initial weights.

# %%
(x_train, t_train), _ = load_mnist()
x_small, t_small = x_train[:1000], t_train[:1000]


def mlp(std, batch_norm):
    layers, n = [], 784
    for _ in range(5):
        linear = nn.Linear(n, 100)
        nn.init.normal_(linear.weight, std=std)
        layers += [linear, nn.BatchNorm1d(100)] if batch_norm else [linear]
        layers.append(nn.ReLU())
        n = 100
    last = nn.Linear(n, 10)
    nn.init.normal_(last.weight, std=std)
    return nn.Sequential(*layers, last)


def train_accuracy_curve(model, epochs=20):
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    loader = DataLoader(x_small, t_small, batch_size=100, seed=0)
    curve = []
    for _ in range(epochs):
        model.train()
        for x_batch, t_batch in loader:
            loss = F.cross_entropy(model(x_batch), t_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with no_grad():
            curve.append(float((model(x_small).numpy().argmax(axis=1) == t_small).mean()))
    return curve


fig, axes = plt.subplots(1, 3, figsize=(14, 3.2))
for ax, std in zip(axes, (0.01, 0.3, 1.0)):
    for batch_norm, style in ((True, "-"), (False, "--")):
        np.random.seed(0)
        with np.errstate(over="ignore", invalid="ignore"):  # std 1 without BatchNorm overflows
            curve = train_accuracy_curve(mlp(std, batch_norm))
        label = "with BatchNorm" if batch_norm else "without"
        ax.plot(range(1, 21), curve, style, label=label)
    ax.set(title=f"initial weights: std {std}", xlabel="epoch", ylabel="training accuracy")
    ax.set_ylim(0, 1)
    ax.legend()
plt.show()

# %% [markdown]
# With BatchNorm the network learns at every scale. Without it, it learns only when the
# scale happens to suit the network (std 0.3 here, where it is even quicker): with std
# 0.01 the signal fades layer by layer, with std 1 it overflows to NaN. BatchNorm's gift is
# robustness to the initial weights, not speed at the best one.

# %% [markdown]
# ## Watching training with `Monitor`
#
# The histograms above are a diagnosis by eye. `Monitor` takes those measurements at
# every training step (through forward hooks on the layers) and turns them into plain
# warnings that name the layer, the symptom and the usual fix. A sick network first:
# sigmoid layers with std-1 weights, trained briefly.

# %%
np.random.seed(0)
sick = nn.Sequential(
    nn.Linear(784, 100), nn.Sigmoid(), nn.Linear(100, 100), nn.Sigmoid(), nn.Linear(100, 10)
)
for layer in (sick[0], sick[2], sick[4]):
    nn.init.normal_(layer.weight, std=1.0)
optimizer = optim.SGD(sick.parameters(), lr=0.01)
monitor = Monitor(sick)
for x_batch, t_batch in DataLoader(x_small, t_small, batch_size=100, seed=0):
    loss = F.cross_entropy(sick(x_batch), t_batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    monitor.step(loss)
problems = monitor.report()
# %% [markdown]
# Its dashboard: the latest activation histograms on top; below, over the steps, the
# loss, each weight's gradient norm and its update-to-weight ratio (about 1e-3 is
# healthy).

# %%
dashboard = monitor.plot(Path(tempfile.mkdtemp()) / "health.png")
display(Image(filename=str(dashboard)))

# %% [markdown]
# The cure the report suggests: ReLU with He initialisation (ReLU layers and `nn.Linear`'s
# default), and Adam.

# %%
np.random.seed(0)
healthy = nn.Sequential(
    nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)
)
optimizer = optim.Adam(healthy.parameters(), lr=0.001)
with Monitor(healthy) as monitor:
    for x_batch, t_batch in DataLoader(x_small, t_small, batch_size=100, seed=0):
        loss = F.cross_entropy(healthy(x_batch), t_batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step(loss)
problems = monitor.report()
