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
# # Chapter 7: convolutional neural networks (합성곱 신경망, CNN)
#
# A fully connected layer flattens an image into a row of 784 pixels and forgets which
# pixels were neighbours. A convolution layer (합성곱 계층) keeps the image's shape: it
# slides small filters (필터) over it, and a pooling layer (풀링 계층) shrinks the result.
# This notebook applies both to a few MNIST digits, then trains a small CNN briefly.

# %%
import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, memory, metrics, nn, no_grad, optim, threads
from tinygrad_edu.data import DataLoader
from tinygrad_edu.datasets import load_mnist

threads.use_default_num_threads()  # one thread for numpy's matrix products (the scripts' default)
print("numpy's matrix products use", threads.get_num_threads(), "thread(s)")
# A CNN's step frees and asks again for tens of MB: keep them rather than page-fault them back
# (Linux with glibc; elsewhere this does nothing). The scripts do the same.
print("freed memory kept for reuse:", memory.keep_freed_memory())

# %% [markdown]
# ## Images as (N, C, H, W)
#
# Convolutions take a batch of images shaped (N, C, H, W): N images, C channels
# (1 for grey), H rows and W columns, PyTorch's layout.

# %%
(x_train, t_train), (x_test, t_test) = load_mnist()
images = x_train[:4].reshape(-1, 1, 28, 28)
print(images.shape, t_train[:4])

# %% [markdown]
# ## Convolution by hand-made filters
#
# Each output pixel is the sum of a 3×3 window of the image times the filter, plus a
# bias. Two classic filters: one responds to vertical edges (a left-to-right change),
# the other to horizontal ones. The output size is
# OH = (H + 2P - FH) / S + 1 for padding (패딩) P and stride (스트라이드) S:
# (28 + 0 - 3) / 1 + 1 = 26.

# %%
vertical = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float32)
filters = Tensor(np.stack([vertical, vertical.T])[:, None])  # (out=2, in=1, 3, 3)
edges = F.conv2d(images, filters)
print("conv2d:", images.shape, "->", edges.shape)
padded = F.conv2d(images, filters, padding=1)
strided = F.conv2d(images, filters, stride=2)
print("padding 1:", padded.shape, "  stride 2:", strided.shape)

fig, axes = plt.subplots(3, 4, figsize=(8, 6))
for column, (image, maps) in enumerate(zip(images, edges.numpy())):
    axes[0, column].imshow(image[0], cmap="gray")
    axes[1, column].imshow(maps[0], cmap="RdBu_r")
    axes[2, column].imshow(maps[1], cmap="RdBu_r")
for ax, title in zip(axes[:, 0], ["image", "vertical edges", "horizontal edges"]):
    ax.set_ylabel(title)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown]
# ## Pooling
#
# Max pooling (최대 풀링) keeps the largest value of each window, average pooling
# (평균 풀링) their mean; a 2×2 window with stride 2 halves the height and the width.
# Pooling has no weights, and a small shift of the input barely changes its output.

# %%
positive = F.relu(edges)
pooled_max = F.max_pool2d(positive, 2)
pooled_avg = F.avg_pool2d(positive, 2)
print(positive.shape, "-> max pool", pooled_max.shape, " avg pool", pooled_avg.shape)

fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
for ax, (title, maps) in zip(
    axes,
    [
        ("ReLU(vertical edges)", positive),
        ("max pool 2x2", pooled_max),
        ("avg pool 2x2", pooled_avg),
    ],
):
    ax.imshow(maps.numpy()[0, 0], cmap="gray")
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## A small CNN
#
# Conv(8 filters 5×5) -> ReLU -> MaxPool(2) -> Affine -> 10 scores, trained with Adam for
# three epochs on 5,000 images (the course's `examples/mnist_cnn.py` trains a bigger one on
# all 60,000 images to 99 %). The shapes:
# (N, 1, 28, 28) -> (N, 8, 24, 24) -> (N, 8, 12, 12) -> (N, 1152) -> (N, 10).

# %%
np.random.seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 8, 5),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(8 * 12 * 12, 10),
)
nn.init.normal_(model[0].weight, std=0.01)  # faint random filters (the book's start)
filters_before = model[0].weight.numpy().copy()

x_small = x_train[:5000].reshape(-1, 1, 28, 28)
t_small = t_train[:5000]
optimizer = optim.Adam(model.parameters(), lr=0.003)
loader = DataLoader(x_small, t_small, batch_size=100, seed=0)
losses = []
for epoch in range(3):
    for x_batch, t_batch in tqdm(loader, desc=f"epoch {epoch + 1}"):
        loss = F.cross_entropy(model(x_batch), t_batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

with no_grad():
    predicted = model(x_test[:1000].reshape(-1, 1, 28, 28)).numpy().argmax(axis=1)
print(f"test accuracy on 1,000 images: {metrics.accuracy(t_test[:1000], predicted):.3f}")

plt.figure(figsize=(5, 3))
plt.plot(losses)
plt.xlabel("step")
plt.ylabel("cross-entropy loss")
plt.show()

# %% [markdown]
# ## What the filters learned
#
# The first layer's 8 filters before and after training (the book's figure 7-24). Random
# noise becomes strokes and edges: each filter now responds to a pattern in the digits.

# %%
fig, axes = plt.subplots(2, 8, figsize=(10, 2.8))
for row, (title, weights) in zip(
    axes, [("before", filters_before), ("after", model[0].weight.numpy())]
):
    for ax, kernel in zip(row, weights[:, 0]):
        ax.imshow(kernel, cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(title)
plt.show()

# %% [markdown]
# And what each learned filter sees in one digit:

# %%
with no_grad():
    feature_maps = F.relu(model[0](images[:1])).numpy()[0]
fig, axes = plt.subplots(1, 9, figsize=(12, 1.8))
axes[0].imshow(images[0, 0], cmap="gray")
for ax, feature_map in zip(axes[1:], feature_maps):
    ax.imshow(feature_map, cmap="gray")
for ax in axes:
    ax.axis("off")
plt.show()
