"""Seeing backprop (issue: the graph after backward): intermediates that keep their
gradient with ``retain_grad()``, as in PyTorch."""

import numpy as np
from helpers import leaf

from tinygrad_edu import Tensor


def test_retain_grad_keeps_an_intermediate_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)  # d(sum h^2)/dh = 2h
    np.testing.assert_allclose(x.grad.data, 2 * h.data * 3.0)


def test_retain_grad_sums_over_uses_and_calls_and_is_free_on_leaves():
    x = leaf([1.0, -1.0])
    x.retain_grad()  # a leaf keeps its gradient anyway
    h = x * 2.0
    h.retain_grad()
    y = (h * h + h).sum()  # h used twice: its gradient is the sum, 2h + 1
    y.backward(retain_graph=True)
    np.testing.assert_allclose(h.grad.data, 2 * h.data + 1)
    y.backward()  # gradients accumulate across calls, as for leaves
    np.testing.assert_allclose(h.grad.data, 2 * (2 * h.data + 1))


def test_without_retain_grad_an_intermediate_has_no_gradient():
    x = leaf([1.0])
    h = x * 2.0
    (h * h).sum().backward()
    assert h.grad is None and x.grad is not None


def test_retain_grad_matches_pytorch(torch):
    data = np.array([0.5, -1.5, 2.0])
    x, tx = leaf(data), torch.tensor(data, requires_grad=True)
    h, th = x.tanh(), tx.tanh()
    h.retain_grad()
    th.retain_grad()
    (h * h * Tensor(data)).sum().backward()
    (th * th * torch.tensor(data)).sum().backward()
    np.testing.assert_allclose(h.grad.data, th.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)
