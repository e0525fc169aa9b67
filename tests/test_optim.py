"""Tests for tinygrad_edu.optim: SGD, Adagrad, RMSprop, Adam and AdamW against hand-written
numpy references, the book's forms and PyTorch (every option, 25 steps), in-place float32
updates, parameter groups, state_dict, argument errors, convergence."""

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
    "sgd nesterov": (optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    "adagrad": (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01}),
    "rmsprop": (optim.RMSprop, {"lr": 0.01}),
    "rmsprop centered momentum": (
        optim.RMSprop,
        {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01},
    ),
    "adam": (optim.Adam, {"lr": 0.01}),
    "adam wd": (optim.Adam, {"lr": 0.01, "weight_decay": 0.01}),
    "adam amsgrad": (optim.Adam, {"lr": 0.01, "amsgrad": True}),
    "adamw": (optim.AdamW, {"lr": 0.01}),
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


ALL_CLASSES = [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam, optim.AdamW]


@pytest.mark.parametrize("cls", ALL_CLASSES)
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
    ("bad", "type_name"), [(np.ones(3), "ndarray"), (3.0, "float")], ids=["ndarray", "float"]
)
def test_non_parameters_are_type_errors(bad, type_name):
    good = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match=rf"parameter 1 is not a Tensor.*\(got {type_name}\)"):
        optim.SGD([good, bad])


def test_a_tensor_without_requires_grad_is_a_value_error_saying_what_to_do():
    w = Tensor(np.zeros((2, 3), np.float32))  # requires_grad forgotten
    with pytest.raises(
        ValueError,
        match=r"^SGD: parameter 0 of shape \(2, 3\) has requires_grad=False; create it with "
        r"requires_grad=True",
    ):
        optim.SGD([w], lr=0.1)


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


# ------------------------------------------------------------- PyTorch, every option

# A loss with curvature that changes (a quartic term), a matrix product and a bias, so
# that the adaptive methods' per-weight scales differ from weight to weight.
MIX = np.random.default_rng(1).standard_normal((4, 3))
TORCH_STARTS = [np.random.default_rng(2).standard_normal(s) for s in ((3, 2), (2,))]


def torch_case_loss(w, b, mix, step):
    """A smooth loss of two parameters; b takes part only at even steps, so that at odd
    steps its gradient is None and the optimizer must skip it (its step count too)."""
    loss = ((mix @ w - 0.5) ** 2).sum() + 0.1 * (w**4).sum()
    if step % 2 == 0:
        loss = loss + ((w.sum(0) * b - 1.0) ** 2).sum()
    return loss


def compare_with_torch(torch, name, groups_of, steps=25, **hyper):
    """Run our optimizer ``name`` and torch.optim's side by side; assert the parameters
    agree after every step (float64). ``groups_of(params)`` makes the params argument."""
    ours = [Tensor(s.copy(), requires_grad=True) for s in TORCH_STARTS]
    theirs = [torch.tensor(s.copy(), requires_grad=True) for s in TORCH_STARTS]
    ours_opt = getattr(optim, name)(groups_of(ours), **hyper)
    theirs_opt = getattr(torch.optim, name)(groups_of(theirs), **hyper)
    for step in range(steps):
        ours_opt.zero_grad()
        torch_case_loss(*ours, MIX, step).backward()
        ours_opt.step()
        theirs_opt.zero_grad()
        torch_case_loss(*theirs, torch.from_numpy(MIX), step).backward()
        theirs_opt.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(
                p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"step {step}"
            )
    return ours_opt, theirs_opt


def as_list(params):
    return list(params)


TORCH_CASES = [
    ("SGD", {}),  # the defaults, lr=1e-3 included
    ("SGD", {"lr": 0.02}),
    ("SGD", {"lr": 0.02, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.02, "momentum": 0.9}),
    ("SGD", {"lr": 0.02, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.02, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.02, "momentum": 0.7, "nesterov": True, "weight_decay": 0.1}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.3}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "eps": 1e-3}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-4}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.8}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.8, "centered": True, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1, "betas": (0.5, 0.9)}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.5}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.0}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "betas": (0.5, 0.9), "eps": 1e-6}),
]


@pytest.mark.parametrize(("name", "hyper"), TORCH_CASES, ids=[f"{n}-{h}" for n, h in TORCH_CASES])
def test_trajectory_matches_torch(torch, name, hyper):
    compare_with_torch(torch, name, as_list, **hyper)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_parameter_groups_match_torch(torch, name):
    # the second group overrides lr and weight_decay; the first takes the defaults
    def groups_of(params):
        return [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.05, "weight_decay": 0.2}]

    extra = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    ours, theirs = compare_with_torch(torch, name, groups_of, lr=0.01, **extra)
    assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups]


@pytest.mark.parametrize(("name", "hyper"), TORCH_CASES[::3])
def test_state_dict_has_torch_names(torch, name, hyper):
    ours, theirs = compare_with_torch(torch, name, as_list, steps=2, **hyper)
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert ours_state["state"].keys() == theirs_state["state"].keys()
    for i, state in ours_state["state"].items():
        assert state.keys() == theirs_state["state"][i].keys()
    for group, theirs_group in zip(ours_state["param_groups"], theirs_state["param_groups"]):
        assert group["params"] == theirs_group["params"]
        assert set(group) <= set(theirs_group)
        assert all(group[k] == theirs_group[k] for k in group)


# ---------------------------------------------------------------- the book's forms


def book_momentum(steps, lr, momentum):
    """The book's Momentum (common/optimizer.py): v = alpha v - lr g; W = W + v."""
    p, v = start(), np.zeros(TARGET.shape)
    for _ in range(steps):
        v = momentum * v - lr * grad_fn(p)
        p = p + v
    return p


def book_adagrad(steps, lr, eps=1e-7):
    """The book's AdaGrad: h = h + g g; W = W - lr g / (sqrt(h) + 1e-7)."""
    p, h = start(), np.zeros(TARGET.shape)
    for _ in range(steps):
        g = grad_fn(p)
        h = h + g * g
        p = p - lr * g / (np.sqrt(h) + eps)
    return p


def book_rmsprop(steps, lr, decay_rate=0.99, eps=1e-7):
    """The book's RMSprop: h = d h + (1 - d) g g; W = W - lr g / (sqrt(h) + 1e-7)."""
    p, h = start(), np.zeros(TARGET.shape)
    for _ in range(steps):
        g = grad_fn(p)
        h = decay_rate * h + (1 - decay_rate) * g * g
        p = p - lr * g / (np.sqrt(h) + eps)
    return p


def book_adam(steps, lr, beta1=0.9, beta2=0.999):
    """The book's Adam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); W = W - lr_t m / sqrt(v)
    (eps left out: only where eps enters differs from PyTorch's)."""
    p, m, v = start(), np.zeros(TARGET.shape), np.zeros(TARGET.shape)
    for t in range(1, steps + 1):
        g = grad_fn(p)
        lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        m = m + (1 - beta1) * (g - m)
        v = v + (1 - beta2) * (g**2 - v)
        p = p - lr_t * m / np.sqrt(v)
    return p


@pytest.mark.parametrize(
    ("cls", "kwargs", "book"),
    [
        (optim.SGD, {"lr": 0.02, "momentum": 0.9}, lambda: book_momentum(12, 0.02, 0.9)),
        (optim.Adagrad, {"lr": 0.3, "eps": 1e-7}, lambda: book_adagrad(12, 0.3)),
        (optim.RMSprop, {"lr": 0.01, "eps": 1e-7}, lambda: book_rmsprop(12, 0.01)),
        (optim.Adam, {"lr": 0.05, "eps": 0.0}, lambda: book_adam(12, 0.05)),
    ],
    ids=["Momentum", "AdaGrad", "RMSprop", "Adam"],
)
def test_the_books_form_gives_the_same_steps(cls, kwargs, book):
    np.testing.assert_allclose(run(cls, 12, **kwargs).data, book(), rtol=1e-10, atol=1e-12)


def test_adamw_without_weight_decay_is_adam():
    np.testing.assert_array_equal(
        run(optim.AdamW, 6, lr=0.01, weight_decay=0.0).data, run(optim.Adam, 6, lr=0.01).data
    )


def test_adamw_decay_shrinks_every_weight_by_the_same_factor():
    # with a zero gradient Adam's own step is 0, so only the decoupled decay acts
    p = Tensor(start(), requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = Tensor(np.zeros(TARGET.shape))
    opt.step()
    np.testing.assert_allclose(p.data, start() * (1 - 0.1 * 0.5), rtol=1e-15)


# ------------------------------------------------------- groups, lr, state, versions


def test_lr_reads_and_sets_every_group():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "momentum": 0.5}], lr=0.1)
    assert opt.lr == 0.1
    assert opt.param_groups[1]["momentum"] == 0.5 and opt.param_groups[0]["momentum"] == 0
    opt.lr = 0.01
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.01]
    opt.param_groups[1]["lr"] = 0.5
    with pytest.raises(ValueError, match=r"SGD: the parameter groups have different"):
        _ = opt.lr
    with pytest.raises(ValueError, match="SGD: lr must be >= 0, got -1"):
        opt.lr = -1


def test_a_parameter_in_two_groups_and_an_unknown_key_are_refused():
    a = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="appears twice"):
        optim.Adam([{"params": [a]}, {"params": [a], "lr": 0.1}])
    with pytest.raises(ValueError, match=r"Adam: unknown hyperparameters \['momentum'\]"):
        optim.Adam([{"params": [a], "momentum": 0.9}])
    with pytest.raises(ValueError, match="'params' key"):
        optim.Adam([{"lr": 0.1}])


@optimizer_cases
def test_a_step_is_counted_as_an_in_place_change(cls, kwargs):
    p = Tensor(start(), requires_grad=True)
    opt = cls([p], **kwargs)
    loss_fn(p).backward()
    before = p._version
    opt.step()
    assert p._version > before


def test_zero_grad_can_keep_zeros():
    p = Tensor(start(), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    loss_fn(p).backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad
    np.testing.assert_array_equal(p.grad.data, 0)


@optimizer_cases
def test_state_dict_resumes_exactly(cls, kwargs):
    def train(p, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(p).backward()
            opt.step()

    straight = run(cls, 10, **kwargs)
    p = Tensor(start(), requires_grad=True)
    opt = cls([p], **kwargs)
    train(p, opt, 5)
    saved, weights = opt.state_dict(), p.data.copy()
    train(p, opt, 1)  # the saved state must be a copy, untouched by later steps
    resumed = Tensor(weights, requires_grad=True)
    opt2 = cls([resumed], **kwargs)
    opt2.load_state_dict(saved)
    train(resumed, opt2, 5)
    np.testing.assert_array_equal(resumed.data, straight.data)


def test_load_state_dict_refuses_other_parameters():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = Tensor(np.ones(2)), Tensor(np.ones(3))
    opt.step()
    with pytest.raises(ValueError, match=r"SGD: load_state_dict got groups of \[2\]"):
        optim.SGD([a], lr=0.1).load_state_dict(opt.state_dict())
    swapped = optim.SGD([b, a], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(2,\)"):
        swapped.load_state_dict(opt.state_dict())


def test_load_state_dict_refuses_a_parameter_index_out_of_range():
    p = Tensor(np.zeros(2, np.float32), requires_grad=True)
    opt = optim.Adam([p])
    saved = opt.state_dict()
    saved["state"] = {5: {"step": 1}}
    with pytest.raises(
        ValueError, match=r"^Adam: load_state_dict got a state for parameter 5, .* has 1 parameter"
    ):
        opt.load_state_dict(saved)
    saved["state"] = {-1: {"step": 1}}  # not a silent "last parameter"
    with pytest.raises(ValueError, match=r"parameter -1"):
        opt.load_state_dict(saved)


def test_load_state_dict_refuses_another_optimizers_state():
    """SGD's state_dict loaded into Adam (same parameters) used to be accepted, and step()
    then failed; now the load fails, naming both optimizers."""
    p = Tensor(np.zeros(2, np.float32), requires_grad=True)
    sgd = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = Tensor(np.ones(2, np.float32))
    sgd.step()
    adam = optim.Adam([p])
    before = (adam.state_dict(), adam.param_groups[0].copy())
    with pytest.raises(
        ValueError, match=r"^Adam: load_state_dict got the state of another optimizer \(SGD"
    ):
        adam.load_state_dict(sgd.state_dict())
    assert adam.param_groups[0] == before[1] and adam.state_dict()["state"] == before[0]["state"]
    adam.step()  # still usable
    with pytest.raises(ValueError, match=r"^SGD: load_state_dict got .* \(Adam or AdamW"):
        optim.SGD([p], lr=0.1).load_state_dict(adam.state_dict())


def test_load_state_dict_accepts_a_schedulers_initial_lr():
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    optim.lr_scheduler.StepLR(opt, step_size=2)
    again = optim.SGD([p], lr=0.1)
    again.load_state_dict(opt.state_dict())
    assert again.param_groups[0]["initial_lr"] == 0.1


@optimizer_cases
def test_numpy_hyperparameters_act_as_python_floats(cls, kwargs):
    """np.float64 hyperparameters must not turn float32 updates or state into float64:
    the same steps and state, bit for bit, as with Python floats."""

    def train(hyper):
        p = Tensor(start(np.float32), requires_grad=True)
        opt = cls([p], **hyper)
        for _ in range(3):
            opt.zero_grad()
            loss_fn(p).backward()
            opt.step()
        return p, opt.state[p]

    def as_numpy(value):
        if isinstance(value, bool):
            return value
        return tuple(map(np.float64, value)) if isinstance(value, tuple) else np.float64(value)

    hyper = {"weight_decay": 0.01, **kwargs}  # every optimizer has weight_decay
    p, state = train({k: as_numpy(v) for k, v in hyper.items()})
    reference, reference_state = train(hyper)
    assert p.dtype == np.float32
    np.testing.assert_array_equal(p.data, reference.data)
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32, key
            np.testing.assert_array_equal(value, reference_state[key])


# ------------------------------------------------------------------ argument errors


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (optim.SGD, {"lr": -0.1}, "SGD: lr must be >= 0, got -0.1"),
        (optim.SGD, {"lr": float("nan")}, "SGD: lr must be >= 0, got nan"),
        (optim.SGD, {"momentum": -0.5}, "SGD: momentum must be >= 0"),
        (optim.SGD, {"weight_decay": -1}, "SGD: weight_decay must be >= 0"),
        (optim.SGD, {"nesterov": True}, "SGD: Nesterov momentum requires a momentum"),
        (
            optim.SGD,
            {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
            "SGD: Nesterov momentum requires a momentum and zero dampening",
        ),
        (optim.Adagrad, {"lr": -1}, "Adagrad: lr must be >= 0"),
        (optim.Adagrad, {"lr_decay": -1}, "Adagrad: lr_decay must be >= 0"),
        (optim.Adagrad, {"eps": -1}, "Adagrad: eps must be >= 0"),
        (
            optim.Adagrad,
            {"initial_accumulator_value": -1},
            "Adagrad: initial_accumulator_value must be >= 0",
        ),
        (optim.RMSprop, {"alpha": -0.9}, "RMSprop: alpha must be >= 0"),
        (optim.RMSprop, {"eps": -1e-8}, "RMSprop: eps must be >= 0"),
        (optim.RMSprop, {"momentum": -1}, "RMSprop: momentum must be >= 0"),
        (optim.Adam, {"eps": -1e-8}, "Adam: eps must be >= 0"),
        (optim.Adam, {"betas": (1.0, 0.999)}, r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
        (optim.Adam, {"betas": (0.9, -0.1)}, r"Adam: betas\[1\] must be in \[0, 1\)"),
        (optim.AdamW, {"weight_decay": -0.01}, "AdamW: weight_decay must be >= 0"),
    ],
)
def test_bad_hyperparameters_are_value_errors_naming_the_optimizer(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([Tensor(np.ones(2), requires_grad=True)], **kwargs)


def test_torch_refuses_the_same_hyperparameters(torch):
    # the same cases are errors in PyTorch: a user's bad value fails in both libraries
    w = torch.ones(2, requires_grad=True)
    for name, kwargs in [
        ("SGD", {"lr": -0.1}),
        ("SGD", {"nesterov": True}),
        ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
        ("Adagrad", {"lr_decay": -1}),
        ("RMSprop", {"alpha": -0.9}),
        ("Adam", {"betas": (1.0, 0.999)}),
        ("AdamW", {"eps": -1e-8}),
    ]:
        with pytest.raises(ValueError):
            getattr(torch.optim, name)([w], **kwargs)
        with pytest.raises(ValueError, match=name):
            getattr(optim, name)([Tensor(np.ones(2), requires_grad=True)], **kwargs)
