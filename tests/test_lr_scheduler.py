"""Tests for tinygrad_edu.optim.lr_scheduler: the learning rates of 30 epochs against
torch.optim.lr_scheduler and against the closed forms of the docstrings, construction,
chaining, resuming, and argument errors."""

import math

import numpy as np
import pytest

from tinygrad_edu import Tensor, optim
from tinygrad_edu.optim import lr_scheduler

EPOCHS = 30
LRS = (0.1, 0.02)  # two parameter groups with different rates


def sgd(lrs=LRS):
    """An SGD with one group per learning rate."""
    groups = [{"params": [Tensor(np.ones(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, momentum=0.9)


def torch_sgd(torch, lrs=LRS):
    groups = [{"params": [torch.ones(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, momentum=0.9)


def rates(scheduler, epochs=EPOCHS):
    """get_last_lr() after construction and after each of ``epochs`` steps."""
    seen = [scheduler.get_last_lr()]
    for _ in range(epochs):
        scheduler.optimizer.step()  # the order PyTorch asks for: optimizer, then scheduler
        scheduler.step()
        seen.append(scheduler.get_last_lr())
    return seen


CASES = [
    ("StepLR", {"step_size": 7}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 20]}),
    ("MultiStepLR", {"milestones": [8, 3, 8], "gamma": 0.5}),  # unsorted, one twice
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 30}),
    ("CosineAnnealingLR", {"T_max": 8, "eta_min": 0.001}),  # past T_max: climbs back
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.5, "total_iters": 10}),
]
case_ids = [f"{name}-{kwargs}" for name, kwargs in CASES]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=case_ids)
def test_rates_match_torch(torch, name, kwargs):
    ours = getattr(lr_scheduler, name)(sgd(), **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(torch_sgd(torch), **kwargs)
    np.testing.assert_allclose(rates(ours), rates(theirs), rtol=1e-12, atol=1e-15)
    assert ours.last_epoch == theirs.last_epoch == EPOCHS
    assert ours.base_lrs == theirs.base_lrs == list(LRS)


def closed_form(name, kwargs, base, t):
    """The rate of epoch t as the docstrings write it."""
    gamma = kwargs.get("gamma", 0.1)
    if name == "StepLR":
        return base * gamma ** (t // kwargs["step_size"])
    if name == "MultiStepLR":
        return base * gamma ** sum(m <= t for m in kwargs["milestones"])
    if name == "ExponentialLR":
        return base * gamma**t
    if name == "CosineAnnealingLR":
        eta_min, t_max = kwargs.get("eta_min", 0.0), kwargs["T_max"]
        return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2
    start, end = kwargs.get("start_factor", 1 / 3), kwargs.get("end_factor", 1.0)
    total = kwargs.get("total_iters", 5)
    return base * (start + (end - start) * min(t, total) / total)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=case_ids)
def test_rates_follow_the_closed_form(name, kwargs):
    seen = rates(getattr(lr_scheduler, name)(sgd(), **kwargs))
    expected = [[closed_form(name, kwargs, base, t) for base in LRS] for t in range(EPOCHS + 1)]
    np.testing.assert_allclose(seen, expected, rtol=1e-10, atol=1e-15)


def test_the_optimizer_uses_the_scheduled_rate():
    p = Tensor(np.zeros(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.4)
    scheduler = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for lr in (0.4, 0.2, 0.1):
        before = p.data.copy()
        p.grad = Tensor(np.ones(3))
        opt.step()
        np.testing.assert_allclose(before - p.data, lr)
        assert opt.lr == scheduler.get_last_lr()[0] == lr
        scheduler.step()


def test_construction_sets_epoch_zero():
    opt = sgd()
    scheduler = lr_scheduler.LinearLR(opt, start_factor=0.25)
    assert scheduler.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert [g["lr"] for g in opt.param_groups] == [0.25 * lr for lr in LRS]
    assert scheduler.get_last_lr() == [0.25 * lr for lr in LRS]
    assert lr_scheduler.StepLR(sgd(), 3).get_last_lr() == list(LRS)  # the others keep it
    got = scheduler.get_last_lr()
    got[0] = 99.0  # a copy: changing it changes nothing
    assert scheduler.get_last_lr()[0] == 0.025


def test_chained_schedulers_and_a_hand_set_rate_match_torch(torch):
    # warm-up and decay on one optimizer multiply; a rate set by hand is carried forward
    def schedule(module, opt):
        warm = module.LinearLR(opt, start_factor=0.2, total_iters=4)
        decay = module.ExponentialLR(opt, gamma=0.8)
        seen = []
        for epoch in range(12):
            if epoch == 6:
                for group in opt.param_groups:
                    group["lr"] = group["lr"] * 3
            opt.step()
            warm.step()
            decay.step()
            seen.append(decay.get_last_lr())
        return seen

    ours = schedule(lr_scheduler, sgd())
    theirs = schedule(torch.optim.lr_scheduler, torch_sgd(torch))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=case_ids)
def test_state_dict_resumes_the_schedule(name, kwargs):
    straight = rates(getattr(lr_scheduler, name)(sgd(), **kwargs))
    opt = sgd()
    first = getattr(lr_scheduler, name)(opt, **kwargs)
    rates(first, 10)
    saved_opt, saved = opt.state_dict(), first.state_dict()
    opt2 = sgd()
    second = getattr(lr_scheduler, name)(opt2, **kwargs)  # build first, then load both
    opt2.load_state_dict(saved_opt)
    second.load_state_dict(saved)
    assert second.optimizer is opt2
    np.testing.assert_allclose(rates(second, EPOCHS - 10), straight[10:], rtol=1e-12)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("StepLR", {"step_size": 4}), ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.01})],
)
def test_resuming_with_last_epoch_matches_torch(torch, name, kwargs):
    def resumed(module, opt):
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
        return rates(getattr(module, name)(opt, last_epoch=6, **kwargs), 10)

    ours = resumed(lr_scheduler, sgd())
    theirs = resumed(torch.optim.lr_scheduler, torch_sgd(torch))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_resuming_without_initial_lr_is_a_key_error():
    with pytest.raises(KeyError, match=r"StepLR: param_groups\[0\] has no 'initial_lr'"):
        lr_scheduler.StepLR(sgd(), 3, last_epoch=5)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda o: lr_scheduler.StepLR(o, 0), ValueError, "StepLR: step_size must be a positive"),
        (lambda o: lr_scheduler.StepLR(o, 2.5), ValueError, "StepLR: step_size"),
        (
            lambda o: lr_scheduler.MultiStepLR(o, [2, 4.5]),
            ValueError,
            r"MultiStepLR: milestones must be epoch numbers \(ints\)",
        ),
        (
            lambda o: lr_scheduler.CosineAnnealingLR(o, 0),
            ValueError,
            "CosineAnnealingLR: T_max must be a positive",
        ),
        (
            lambda o: lr_scheduler.LinearLR(o, start_factor=0),
            ValueError,
            r"LinearLR: start_factor must be in \(0, 1\], got 0",
        ),
        (
            lambda o: lr_scheduler.LinearLR(o, end_factor=1.5),
            ValueError,
            r"LinearLR: end_factor must be in \[0, 1\]",
        ),
        (
            lambda o: lr_scheduler.LinearLR(o, total_iters=0),
            ValueError,
            "LinearLR: total_iters must be a positive",
        ),
        (
            lambda o: lr_scheduler.ExponentialLR([Tensor(1.0)], 0.9),
            TypeError,
            "ExponentialLR: expected an optimizer.*got list",
        ),
    ],
)
def test_bad_arguments_name_the_scheduler(make, error, message):
    with pytest.raises(error, match=message):
        make(sgd())


def test_a_numpy_factor_gives_python_float_rates_and_keeps_float32_updates():
    """gamma = np.float64(0.5) must not make the rates numpy floats, which would turn a
    float32 network's updates into float64 arithmetic."""
    p = Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    scheduler = lr_scheduler.ExponentialLR(opt, gamma=np.float64(0.5))
    scheduler.step()
    assert type(opt.param_groups[0]["lr"]) is float and opt.lr == 0.05
    assert all(type(lr) is float for lr in scheduler.get_last_lr())
