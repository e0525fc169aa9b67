"""Tests for tinygrad_edu.optim: SGD (plain, momentum, weight decay) and Adam against
hand-written numpy references, in-place float32 updates, argument errors, convergence."""

import numpy as np
import pytest

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, optim

# ----------------------------------------------------------------------------- helpers

TARGET = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
CURVATURE = np.array([[1.0, 2.0, 0.5], [0.1, 3.0, 1.0]])


def loss_fn(p):
    """sum(c * (p - target)^2): a real graph whose gradient is 2 c (p - target)."""
    return (CURVATURE * (p - TARGET) ** 2).sum()


def grad_fn(p):
    return 2 * CURVATURE * (p - TARGET)


def start(dtype=np.float64):
    return np.random.default_rng(0).standard_normal(TARGET.shape).astype(dtype)


def run(optimizer_cls, steps, dtype=np.float64, **kwargs):
    """The parameter after ``steps`` optimizer steps on ``loss_fn``."""
    p = Tensor(start(dtype), requires_grad=True)
    opt = optimizer_cls([p], **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(p).backward()
        opt.step()
    return p


def sgd_reference(steps, lr, momentum=0.0, weight_decay=0.0):
    """PyTorch's SGD: g += wd p; v = m v + g (v = g at the first step); p -= lr v."""
    p, v = start(), None
    for _ in range(steps):
        g = grad_fn(p) + weight_decay * p
        if momentum:
            v = g.copy() if v is None else momentum * v + g
            g = v
        p = p - lr * g
    return p


def adam_reference(steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Adam (Kingma & Ba), as PyTorch computes it (weight decay added to the gradient)."""
    b1, b2 = betas
    p = start()
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t in range(1, steps + 1):
        g = grad_fn(p) + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


# ---------------------------------------------------------------------- the formulas


def test_sgd_plain_step_is_exactly_p_minus_lr_g():
    for dtype in (np.float64, np.float32):
        p = Tensor(start(dtype), requires_grad=True)
        before = p.data.copy()
        loss_fn(p).backward()
        g = p.grad.data.copy()
        optim.SGD([p], lr=0.05).step()
        np.testing.assert_array_equal(p.data, before - 0.05 * g)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0.05},
        {"lr": 0.05, "momentum": 0.9},
        {"lr": 0.05, "weight_decay": 0.1},
        {"lr": 0.02, "momentum": 0.8, "weight_decay": 0.05},
    ],
)
def test_sgd_matches_reference_over_several_steps(kwargs):
    p = run(optim.SGD, 7, **kwargs)
    np.testing.assert_allclose(p.data, sgd_reference(7, **kwargs), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0.01},
        {"lr": 0.1, "betas": (0.8, 0.99), "eps": 1e-6},
        {"lr": 0.01, "weight_decay": 0.1},
    ],
)
def test_adam_matches_reference_over_several_steps(kwargs):
    p = run(optim.Adam, 7, **kwargs)
    np.testing.assert_allclose(p.data, adam_reference(7, **kwargs), rtol=1e-12, atol=1e-14)


def test_adam_first_step_moves_each_weight_by_lr():
    p = run(optim.Adam, 1, lr=0.01)
    np.testing.assert_allclose(np.abs(p.data - start()), 0.01, rtol=1e-5)


# ------------------------------------------------------- in place, dtypes, skipping


OPTIMIZERS = {
    "sgd": (optim.SGD, {"lr": 0.01}),
    "sgd momentum wd": (optim.SGD, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.01}),
    "adam": (optim.Adam, {"lr": 0.01}),
    "adam wd": (optim.Adam, {"lr": 0.01, "weight_decay": 0.01}),
}
optimizer_cases = pytest.mark.parametrize(
    ("cls", "kwargs"), OPTIMIZERS.values(), ids=OPTIMIZERS.keys()
)


@optimizer_cases
def test_updates_are_in_place_and_keep_float32(cls, kwargs):
    p = Tensor(start(np.float32), requires_grad=True)
    array = p.data
    opt = cls([p], **kwargs)
    for _ in range(3):
        opt.zero_grad()
        loss_fn(p).backward()
        opt.step()
        assert p.data is array
    assert p.data.dtype == np.float32
    assert not np.array_equal(p.data, start(np.float32))
    # and the result agrees with the float64 run to float32 precision
    p64 = run(cls, 3, **kwargs)
    np.testing.assert_allclose(p.data, p64.data, rtol=1e-4, atol=1e-5)


@optimizer_cases
def test_parameters_without_gradient_are_skipped(cls, kwargs):
    used = Tensor(start(), requires_grad=True)
    unused = Tensor(np.ones(3), requires_grad=True)
    opt = cls([used, unused], **kwargs)
    for _ in range(2):
        opt.zero_grad()
        loss_fn(used).backward()
        opt.step()
    assert unused.grad is None
    np.testing.assert_array_equal(unused.data, np.ones(3))
    assert not np.array_equal(used.data, start())


def test_adam_counts_steps_per_parameter():
    # A parameter skipped at step 1 (no gradient) and updated at step 2 must get Adam's
    # first-step update, |dp| = lr, as in PyTorch, whose step count is per parameter.
    # A global count applies step-2 bias corrections to a first moment that saw one
    # gradient, shrinking the update to ~0.74 lr.
    late, early = Tensor(start(), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([early, late], lr=0.01)
    early.grad = Tensor(np.ones(2))
    opt.step()
    opt.zero_grad()
    loss_fn(late).backward()
    opt.step()
    np.testing.assert_allclose(np.abs(late.data - start()), 0.01, rtol=1e-5)


@optimizer_cases
def test_zero_grad_sets_none(cls, kwargs):
    p = Tensor(start(), requires_grad=True)
    opt = cls([p], **kwargs)
    loss_fn(p).backward()
    assert p.grad is not None
    opt.zero_grad()
    assert p.grad is None


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_no_parameters_is_a_value_error(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__}: got no parameters"):
        cls([])
    with pytest.raises(ValueError, match="no parameters"):
        cls(nn.ReLU().parameters())


def test_a_parameter_given_twice_is_named():
    model = nn.Sequential(nn.Linear(3, 2))
    params = model.parameters()
    with pytest.raises(ValueError, match=r"parameter 2 \('0\.weight'\).*\(3, 2\).*twice"):
        optim.SGD([*params, params[0]])


@pytest.mark.parametrize(
    ("bad", "type_name"),
    [(np.ones(3), "ndarray"), (3.0, "float"), (Tensor(np.ones(3)), "Tensor")],
    ids=["ndarray", "float", "no requires_grad"],
)
def test_non_parameters_are_type_errors(bad, type_name):
    good = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match=rf"parameter 1 is not a Tensor.*\(got {type_name}\)"):
        optim.SGD([good, bad])


def test_a_single_tensor_instead_of_a_list_is_refused():
    # list(tensor) iterates over its rows: non-leaf slices that never receive a .grad, so
    # training would silently do nothing. PyTorch raises TypeError here.
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(TypeError):
        optim.SGD(w, lr=0.1)


def test_a_non_leaf_tensor_is_refused():
    # A computed tensor never gets .grad from backward(), so it could never be updated.
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises((TypeError, ValueError), match="leaf"):
        optim.SGD([w * 2], lr=0.1)


# ---------------------------------------------------------------------- convergence


@pytest.mark.parametrize(
    ("cls", "kwargs", "steps"),
    [
        (optim.SGD, {"lr": 0.1}, 300),
        (optim.SGD, {"lr": 0.05, "momentum": 0.9}, 200),
        (optim.Adam, {"lr": 0.05}, 400),
    ],
    ids=["sgd", "sgd momentum", "adam"],
)
def test_tiny_regression_converges(cls, kwargs, steps):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3))
    true_w, true_b = np.array([[1.5], [-2.0], [0.5]]), 0.7
    y = x @ true_w + true_b
    np.random.seed(0)
    model = nn.Linear(3, 1, dtype=np.float64)
    opt = cls(model.parameters(), **kwargs)
    first = F.mse_loss(model(x), y).item()
    for _ in range(steps):
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-4 * first
    np.testing.assert_allclose(model.weight.data, true_w, atol=1e-2)
    np.testing.assert_allclose(model.bias.data, [true_b], atol=1e-2)
