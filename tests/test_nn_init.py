"""Tests for tinygrad_edu.nn.init: gains and fans against torch.nn.init (on the transposed
shape for this library's (in, out) Linear weights), the statistics of every initialiser
against its formula and against PyTorch's draws, in-place filling, nn.Linear's init, and
argument errors."""

import math

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn
from tinygrad_edu.nn import init

# ------------------------------------------------------------------- gains and fans

GAIN_CASES = [
    ("linear", None),
    ("conv2d", None),
    ("conv_transpose3d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("selu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", 0),
    ("leaky_relu", 1),
]


@pytest.mark.parametrize(("nonlinearity", "param"), GAIN_CASES)
def test_calculate_gain_matches_torch(torch, nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_values():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("leaky_relu", 0.5) == pytest.approx(math.sqrt(2 / 1.25))


@pytest.mark.parametrize("shape", [(5, 3), (1, 7), (8, 3, 4), (6, 2, 3, 5), (4, 3, 2, 2, 2)])
def test_fans_match_torch_on_its_layout(torch, shape):
    ours = init._calculate_fan_in_and_fan_out(Tensor(np.zeros(shape)))
    # a 2-D weight is (in, out) here and (out, in) in PyTorch; conv weights share a layout
    torch_shape = shape[::-1] if len(shape) == 2 else shape
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(torch_shape))
    if len(shape) == 2:
        assert ours == shape  # fan_in = in_features, fan_out = out_features


# ------------------------------------------------------------------------ statistics

IN, OUT = 600, 200  # a Linear weight (in, out) with fan_in != fan_out
BIG = (IN, OUT)
CONV = (64, 16, 5, 5)  # (out_channels, in_channels, kh, kw): fan_in 400, fan_out 1600


def fans(shape):
    if len(shape) == 2:
        return shape
    k = math.prod(shape[2:])
    return shape[1] * k, shape[0] * k


def expected_std(name, shape, kwargs):
    """The standard deviation each initialiser's docstring promises."""
    fan_in, fan_out = fans(shape)
    if name.startswith("xavier"):
        return kwargs.get("gain", 1.0) * math.sqrt(2 / (fan_in + fan_out))
    fan = fan_in if kwargs.get("mode", "fan_in") == "fan_in" else fan_out
    gain = init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0))
    return gain / math.sqrt(fan)


SCALED = [
    ("xavier_uniform_", BIG, {}),
    ("xavier_uniform_", CONV, {"gain": 5 / 3}),
    ("xavier_normal_", BIG, {}),
    ("xavier_normal_", CONV, {"gain": 0.5}),
    ("kaiming_uniform_", BIG, {}),
    ("kaiming_uniform_", BIG, {"a": math.sqrt(5)}),  # what PyTorch's nn.Linear uses
    ("kaiming_uniform_", CONV, {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", BIG, {"nonlinearity": "relu"}),
    ("kaiming_normal_", BIG, {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", CONV, {"nonlinearity": "tanh"}),
    ("kaiming_normal_", BIG, {"nonlinearity": "leaky_relu", "a": 0.2}),
]
scaled_ids = [f"{name}-{shape}-{kwargs}" for name, shape, kwargs in SCALED]


@pytest.mark.parametrize(("name", "shape", "kwargs"), SCALED, ids=scaled_ids)
def test_scaled_initialisers_have_the_formulas_statistics(name, shape, kwargs):
    std = expected_std(name, shape, kwargs)
    w = getattr(init, name)(Tensor(np.zeros(shape)), **kwargs, generator=np.random.default_rng(0))
    values = w.data
    assert values.std() == pytest.approx(std, rel=0.02)
    assert abs(values.mean()) < 0.02 * std
    if "uniform" in name:  # U(-bound, bound), bound = sqrt(3) std
        bound = math.sqrt(3) * std
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.999 * bound


@pytest.mark.parametrize(("name", "shape", "kwargs"), SCALED, ids=scaled_ids)
def test_scaled_initialisers_spread_like_torch_on_the_transposed_weight(torch, name, shape, kwargs):
    torch.manual_seed(0)
    torch_shape = shape[::-1] if len(shape) == 2 else shape
    theirs = getattr(torch.nn.init, name)(torch.empty(torch_shape, dtype=torch.float64), **kwargs)
    ours = getattr(init, name)(
        Tensor(np.zeros(shape)), **kwargs, generator=np.random.default_rng(0)
    )
    assert ours.data.std() == pytest.approx(theirs.std().item(), rel=0.03)
    if "uniform" in name:
        assert np.abs(ours.data).max() == pytest.approx(theirs.abs().max().item(), rel=0.01)


def test_the_linear_layout_decides_the_fan():
    # (in, out) = (1000, 10): fan_in mode divides by 1000, fan_out mode by 10
    w = Tensor(np.zeros((1000, 10)))
    init.kaiming_normal_(w, nonlinearity="relu", generator=np.random.default_rng(0))
    assert w.data.std() == pytest.approx(math.sqrt(2 / 1000), rel=0.05)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2 / 10), rel=0.05)


def test_plain_initialisers():
    w = Tensor(np.zeros((300, 200)))
    init.uniform_(w, -2.0, 3.0)
    assert w.data.min() >= -2 and w.data.max() < 3
    assert w.data.mean() == pytest.approx(0.5, abs=0.05)
    init.normal_(w, mean=1.0, std=0.01)
    assert w.data.mean() == pytest.approx(1.0, abs=1e-3)
    assert w.data.std() == pytest.approx(0.01, rel=0.02)
    np.testing.assert_array_equal(init.constant_(w, 0.25).data, 0.25)
    np.testing.assert_array_equal(init.zeros_(w).data, 0)
    np.testing.assert_array_equal(init.ones_(w).data, 1)


# -------------------------------------------------------------- in place, RNG, dtype

ALL = [
    (init.uniform_, {}),
    (init.normal_, {}),
    (init.constant_, {"val": 0.5}),
    (init.zeros_, {}),
    (init.ones_, {}),
    (init.xavier_uniform_, {}),
    (init.xavier_normal_, {}),
    (init.kaiming_uniform_, {}),
    (init.kaiming_normal_, {}),
]


@pytest.mark.parametrize(("fn", "kwargs"), ALL, ids=[fn.__name__ for fn, _ in ALL])
def test_fills_in_place_keeps_float32_and_counts_the_change(fn, kwargs):
    w = Tensor(np.full((4, 3), 7.0, np.float32), requires_grad=True)  # a parameter
    array, version = w.data, w._version
    assert fn(w, **kwargs) is w
    assert w.data is array and w.dtype == np.float32
    assert w._version > version
    assert not np.any(w.data == 7.0)
    assert w.requires_grad and w.creator is None and w.grad is None


@pytest.mark.parametrize("fn", [init.normal_, init.xavier_uniform_, init.kaiming_normal_])
def test_random_values_come_from_the_seeded_generator(fn):
    draws = []
    for _ in range(2):
        np.random.seed(3)
        draws.append(fn(Tensor(np.zeros((5, 4)))).data.copy())
        draws.append(fn(Tensor(np.zeros((5, 4))), generator=np.random.default_rng(3)).data)
    np.testing.assert_array_equal(draws[0], draws[2])  # np.random.seed
    np.testing.assert_array_equal(draws[1], draws[3])  # generator=
    assert not np.array_equal(draws[0], draws[1])


def test_zero_element_tensors_warn_as_in_torch():
    w = Tensor(np.zeros((0, 3)))
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_normal_(w) is w


# ------------------------------------------------------------------- nn.Linear's init


@pytest.mark.parametrize(("name", "gain"), [("he", 2.0), ("xavier", 1.0)])
def test_linear_keeps_its_numbers(name, gain):
    # the same draws as before nn.init existed: N(0, 1) * sqrt(gain / in_features)
    np.random.seed(5)
    weight = nn.Linear(30, 7, init=name, dtype=np.float64).weight.data
    np.random.seed(5)
    np.testing.assert_array_equal(weight, np.random.standard_normal((30, 7)) * np.sqrt(gain / 30))


def test_linear_takes_an_init_function():
    np.random.seed(0)
    layer = nn.Linear(400, 300, init=init.xavier_uniform_)
    bound = math.sqrt(6 / 700)
    assert np.abs(layer.weight.data).max() <= bound
    assert layer.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    np.testing.assert_array_equal(layer.bias.data, 0)
    small = nn.Linear(400, 300, init=lambda w: init.normal_(w, std=0.01))
    assert small.weight.data.std() == pytest.approx(0.01, rel=0.02)


def test_exposed_as_nn_init():
    assert nn.init is init
    assert nn.init.kaiming_normal_ is init.kaiming_normal_


# -------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: init.xavier_uniform_(Tensor(np.zeros(5))),
            ValueError,
            r"xavier_uniform_: fan in and fan out can not be computed for a tensor of "
            r"shape \(5,\)",
        ),
        (lambda: init.kaiming_normal_(Tensor(np.zeros(()))), ValueError, "kaiming_normal_: fan"),
        (
            lambda: init.kaiming_uniform_(Tensor(np.zeros((2, 2))), mode="fan_avg"),
            ValueError,
            "kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got 'fan_avg'",
        ),
        (
            lambda: init.kaiming_normal_(Tensor(np.zeros((2, 2))), nonlinearity="gelu"),
            ValueError,
            "calculate_gain: unsupported nonlinearity 'gelu'",
        ),
        (
            lambda: init.calculate_gain("leaky_relu", True),
            ValueError,
            "calculate_gain: the negative slope of leaky_relu must be a number",
        ),
        (lambda: init.normal_(np.zeros(3)), TypeError, "normal_: expected a Tensor.*ndarray"),
        (lambda: init.uniform_(Tensor(np.zeros(3)), 1, 0), ValueError, "uniform_: expects a <= b"),
        (lambda: init.normal_(Tensor(np.zeros(3)), std=-1), ValueError, "normal_: std must be"),
    ],
)
def test_bad_arguments_name_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_torch_refuses_the_same(torch):
    with pytest.raises(ValueError):
        torch.nn.init.xavier_uniform_(torch.zeros(5))
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("gelu")
    with pytest.raises(ValueError):
        torch.nn.init.kaiming_uniform_(torch.zeros(2, 2), mode="fan_avg")
