"""Reliability: linear-time backprop, anomaly mode at the extremes, errors that say where."""

import gc
import time

import numpy as np
import pytest
from helpers import finite_floats, float_arrays, strict_floats
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, detect_anomaly, nn


def chain_backward_seconds(n):
    """CPU time of one backward through a chain of n multiplications.

    The garbage collector is paused while timing: its full collections scan every object
    of the test session, which would measure the size of the heap, not the engine."""
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        y.backward()
        return time.process_time() - start
    finally:
        gc.enable()


def test_backward_time_grows_linearly_with_the_chain():
    # Quadratic work (e.g. scanning a list per op) would make the ratio about 4. The two
    # sizes alternate and each keeps its best of 5, so that a burst of other work on the
    # machine does not count.
    short, long = float("inf"), float("inf")
    for _ in range(5):
        short = min(short, chain_backward_seconds(20_000))
        long = min(long, chain_backward_seconds(40_000))
    ratio = long / short
    assert ratio < 3.0, f"doubling the chain multiplied backward's time by {ratio:.2f}"


def test_exp_overflow_is_inf_and_anomaly_mode_names_it():
    x = Tensor([1.0, 1000.0], requires_grad=True)
    with np.errstate(over="ignore"):
        assert np.isinf(x.exp().data[1])  # reported as Inf, not NaN
        message = "exp produced Inf in the forward pass"
        with pytest.raises(FloatingPointError, match=message), detect_anomaly():
            x.exp()


def test_log_of_zero_in_backward_is_blamed_on_log():
    x = Tensor([0.0, 1.0], requires_grad=True)
    y = (x * 0.0 + 1e-320).log()  # finite forward (about -737), but 1/1e-320 overflows
    message = "log produced Inf in the backward pass"
    quiet = np.errstate(all="ignore")
    with pytest.raises(FloatingPointError, match=message), quiet, detect_anomaly():
        y.sum().backward()


def test_a_mis_sized_input_names_the_layer_in_a_sequential():
    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(50, 10))
    with pytest.raises(ValueError) as err:
        model(np.zeros((8, 784), dtype=np.float32))
    message = str(err.value)
    assert message.startswith("layer 2: Linear(in_features=50, out_features=10)")
    assert "50 features" in message and "(8, 100)" in message


def test_cross_entropy_batch_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"logits have shape \(4, 10\) .* \(3,\)"):
        F.cross_entropy(np.zeros((4, 10)), np.array([1, 2, 3]))


# Values a learner's data can hold: huge, tiny, zero, negative.
EXTREME = st.one_of(
    st.sampled_from([0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300, 1e4, -1e4]),
    finite_floats(-1e300, 1e300),
)

# op name -> function of a float64 Tensor that must stay finite for any finite input
BOUNDED_OPS = {
    "sigmoid": lambda x: x.sigmoid(),
    "tanh": lambda x: x.tanh(),
    "relu": lambda x: x.relu(),
    "abs": lambda x: x.abs(),
    "clip": lambda x: x.clip(-1.0, 1.0),
    "softmax": lambda x: x.softmax(axis=-1),
    "log_softmax": lambda x: (x / 1e280).log_softmax(axis=-1),  # finite spread, any sign
    "max": lambda x: x.max(axis=-1),
    "min": lambda x: x.min(axis=-1),
    "cross_entropy": lambda x: F.cross_entropy(x / 1e280, np.zeros(x.shape[0], dtype=int)),
    "bce_with_logits": lambda x: F.binary_cross_entropy_with_logits(x, np.ones(x.shape)),
    "bce": lambda x: F.binary_cross_entropy(x.sigmoid(), np.zeros(x.shape)),
}


@pytest.mark.parametrize("name", sorted(BOUNDED_OPS))
@given(values=float_arrays((3, 4), elements=EXTREME))
def test_outputs_and_gradients_stay_finite_and_silent_at_the_extremes(name, values):
    x = Tensor(values, requires_grad=True)
    with strict_floats():  # any RuntimeWarning fails the test
        y = BOUNDED_OPS[name](x)
        y.sum().backward()
    assert np.isfinite(y.data).all(), f"{name} gave {y.data}"
    assert np.isfinite(x.grad.data).all(), f"{name}'s gradient: {x.grad.data}"
