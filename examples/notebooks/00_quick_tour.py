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
# # A quick tour of tinygrad_edu
#
# tinygrad_edu is a small automatic differentiation (자동 미분) library written in plain
# Python and numpy, for the course "Deep Learning from Scratch" (밑바닥부터 시작하는 딥러닝).
# A `Tensor` remembers how it was computed; `backward()` walks that record backwards and
# applies the chain rule (연쇄법칙), which is backpropagation (오차역전파법).
#
# This notebook shows the main pieces in a few minutes; the other notebooks follow the
# course chapter by chapter.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, metrics, nn, no_grad, optim, threads, viz
from tinygrad_edu.data import DataLoader
from tinygrad_edu.datasets import load_mnist

threads.use_default_num_threads()  # one thread for numpy's matrix products (the scripts' default)
print("numpy's matrix products use", threads.get_num_threads(), "thread(s)")

# %% [markdown]
# ## Tensors
#
# A `Tensor` wraps a numpy array and keeps numpy's dtype. In Jupyter it is shown as a
# small table: its shape, dtype, the op that made it (`grad_fn`) and whether gradients are
# wanted for it (`requires_grad`).

# %%
x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True, name="x")
x

# %%
y = (x**2).sum()
y

# %% [markdown]
# ## Gradients (기울기)
#
# `y.backward()` fills `x.grad` with dy/dx. For y = sum of x², that is 2x:

# %%
y.backward()
print(x.grad)
print("equal to 2x:", np.allclose(x.grad.numpy(), 2 * x.numpy()))

# %% [markdown]
# ## The computational graph (계산 그래프)
#
# Every operation was recorded. `viz.draw_graph` draws the record; it shows inline here
# (ellipses are tensors, boxes are operations). With `show_grad=True` each leaf also shows
# its gradient.

# %%
a = Tensor(2.0, requires_grad=True, name="a")
b = Tensor(-3.0, requires_grad=True, name="b")
c = Tensor(10.0, requires_grad=True, name="c")
e = a * b + c
e.name = "e"
e.backward()
viz.draw_graph(e, show_data=True, show_grad=True, rankdir="LR")

# %% [markdown]
# de/da = b = -3, de/db = a = 2 and de/dc = 1:

# %%
print(a.grad.item(), b.grad.item(), c.grad.item())

# %% [markdown]
# ## A network learns to read digits
#
# `load_mnist` gives the MNIST handwritten digits as float32 rows of 784 pixels. It looks
# for the files (`$TINYGRAD_EDU_DATA/mnist`, then its cache), downloads them once, and
# without a network falls back to a small bundled sample (with a warning). To keep this
# tour quick we train on 10,000 images for two epochs (에폭).

# %%
(x_train, t_train), (x_test, t_test) = load_mnist()
x_train, t_train = x_train[:10_000], t_train[:10_000]
print(x_train.shape, x_train.dtype, t_train[:10])

fig, axes = plt.subplots(1, 8, figsize=(8, 1.3))
for ax, image, label in zip(axes, x_train, t_train):
    ax.imshow(image.reshape(28, 28), cmap="gray")
    ax.set_title(int(label))
    ax.axis("off")
plt.show()

# %% [markdown]
# A two-layer network (784 -> 100 -> 10 with ReLU), the softmax cross-entropy loss
# (교차 엔트로피 오차) and SGD with momentum: the training loop (학습) is five lines.

# %%
np.random.seed(0)
model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loader = DataLoader(x_train, t_train, batch_size=100, seed=0)
losses = []
for _ in range(2):  # two epochs
    for x_batch, t_batch in loader:
        loss = F.cross_entropy(model(x_batch), t_batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

with no_grad():
    predicted = model(x_test[:2000]).numpy().argmax(axis=1)
print(f"test accuracy (정확도) on 2,000 images: {metrics.accuracy(t_test[:2000], predicted):.3f}")

plt.figure(figsize=(5, 3))
plt.plot(losses)
plt.xlabel("step")
plt.ylabel("cross-entropy loss")
plt.title("two epochs on 10,000 images")
plt.show()

# %% [markdown]
# ## Where next
#
# - `02_perceptrons`: logic gates from a weighted sum and a threshold
# - `03_forward_pass`: activation functions, softmax, batches
# - `04_learning`: losses, numerical differentiation, gradient descent
# - `05_backpropagation`: graphs, the apple example, `explain_backward`, gradient checks
# - `06_learning_techniques`: optimizers, weight initialisation, BatchNorm, the `Monitor`
# - `07_cnn`: convolution and pooling, a small CNN
# - `08_write_your_own_op`: a new operation with its own backward, checked numerically
