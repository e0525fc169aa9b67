"""Tests for tinygrad_edu.nn.utils: clip_grad_norm_ and clip_grad_value_ against PyTorch
(clipped gradients and the returned norm) and against their definitions; None gradients,
a single Tensor, float32, non-finite norms, argument errors."""

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn
from tinygrad_edu.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(3, 4), (4,), (2, 2, 2)]


def with_grads(dtype=np.float64, scale=1.0, seed=0):
    """Parameters of SHAPES whose .grad holds random values times ``scale``."""
    rng = np.random.default_rng(seed)
    params = []
    for shape in SHAPES:
        p = Tensor(np.zeros(shape, dtype), requires_grad=True)
        p.grad = Tensor((scale * rng.standard_normal(shape)).astype(dtype))
        params.append(p)
    return params


def torch_copies(torch, params):
    copies = []
    for p in params:
        t = torch.zeros(p.shape, dtype=getattr(torch, str(p.dtype)), requires_grad=True)
        if p.grad is not None:
            t.grad = torch.from_numpy(p.grad.data.copy())
        copies.append(t)
    return copies


NORM_TYPES = [2.0, 1.0, 3.5, float("inf"), "inf", 0.0, -float("inf")]


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipped, and left alone
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm):
    ours = with_grads()
    theirs = torch_copies(torch, ours)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_float32_matches_torch(torch):
    ours = with_grads(np.float32, scale=3.0)
    theirs = torch_copies(torch, ours)
    total = clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert total.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in ours)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_by_its_definition():
    params = with_grads(scale=2.0)
    joined = np.concatenate([p.grad.data.ravel() for p in params])
    total = clip_grad_norm_(params, max_norm=1.5)
    assert total.item() == pytest.approx(np.sqrt((joined**2).sum()), rel=1e-12)
    clipped = np.concatenate([p.grad.data.ravel() for p in params])
    # one factor for all: the direction is kept, the length becomes max_norm
    np.testing.assert_allclose(clipped, joined * 1.5 / (total.item() + 1e-6), rtol=1e-12)
    assert np.linalg.norm(clipped) == pytest.approx(1.5, rel=1e-5)


def test_none_gradients_are_skipped_and_a_single_tensor_is_accepted(torch):
    ours = with_grads()
    ours[1].grad = None
    theirs = torch_copies(torch, ours)
    total = clip_grad_norm_(iter(ours), 0.1)  # any iterable, e.g. model.parameters()
    expected = torch.nn.utils.clip_grad_norm_(theirs, 0.1)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    assert ours[1].grad is None
    single = with_grads()[0]
    single_torch = torch_copies(torch, [single])[0]
    np.testing.assert_allclose(
        clip_grad_norm_(single, 0.1).item(),
        torch.nn.utils.clip_grad_norm_(single_torch, 0.1).item(),
        rtol=1e-12,
    )
    np.testing.assert_allclose(single.grad.data, single_torch.grad.numpy(), rtol=1e-12)


def test_no_gradients_at_all_gives_a_zero_norm():
    p = Tensor(np.ones(3), requires_grad=True)
    assert clip_grad_norm_([p], 1.0).item() == 0.0
    assert p.grad is None


def test_clipping_is_in_place_and_counted():
    params = with_grads(scale=5.0)
    arrays = [p.grad.data for p in params]
    versions = [p.grad._version for p in params]
    clip_grad_norm_(params, 1.0)
    assert all(p.grad.data is a for p, a in zip(params, arrays))
    assert all(p.grad._version > v for p, v in zip(params, versions))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_norm(torch, bad):
    ours = with_grads()
    ours[0].grad.data[0, 0] = bad
    theirs = torch_copies(torch, ours)
    with pytest.raises(RuntimeError, match=r"clip_grad_norm_: the total norm .* is (nan|inf)"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    # without the flag both go on: NaN, or zeros (and inf * 0 = NaN), as PyTorch gives
    total = clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_array_equal(total.item(), expected.item())
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())


@pytest.mark.parametrize("clip_value", [0.0, 0.3, 10.0])
def test_clip_grad_value_matches_torch(torch, clip_value):
    ours = with_grads()
    ours[2].grad = None
    theirs = torch_copies(torch, ours)
    arrays = [p.grad.data if p.grad is not None else None for p in ours]
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, t, a in zip(ours, theirs, arrays):
        if t.grad is None:
            assert p.grad is None
            continue
        assert p.grad.data is a  # in place
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())
        assert np.abs(p.grad.data).max() <= clip_value


def test_clip_grad_value_keeps_float32():
    (p, *_) = with_grads(np.float32, scale=3.0)
    clip_grad_value_(p, 0.5)
    assert p.grad.dtype == np.float32 and np.abs(p.grad.data).max() == np.float32(0.5)


def test_exposed_as_nn_utils():
    assert nn.utils.clip_grad_norm_ is clip_grad_norm_
    assert nn.utils.clip_grad_value_ is clip_grad_value_


def test_bad_arguments_name_the_function():
    with pytest.raises(ValueError, match=r"clip_grad_value_: clip_value must be >= 0 .*got -1"):
        clip_grad_value_(with_grads(), -1)
    with pytest.raises(TypeError, match="clip_grad_norm_: parameter 1 is a ndarray"):
        clip_grad_norm_([with_grads()[0], np.ones(3)], 1.0)
    with pytest.raises(ValueError, match="clip_grad_norm_: norm_type must be a number or 'inf'"):
        clip_grad_norm_(with_grads(), 1.0, norm_type="two")
