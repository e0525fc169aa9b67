"""Weight initialisation (chapter 6, section 6.2): fill a Tensor in place, PyTorch's
``torch.nn.init`` functions with their names, arguments and numbers.

Each function changes the tensor's array in place under ``no_grad()`` (through
``Tensor.copy_``, so the change is counted like any in-place change), keeps its dtype
and returns the tensor: ``nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")``.
The random values come from numpy's global generator (seed it with ``np.random.seed``,
as for ``nn.Linear``) unless a ``generator=np.random.default_rng(seed)`` is given.

Fans, adjusted to this library's layouts. The scaled initialisations divide by the
number of inputs (fan_in) or outputs (fan_out) of one unit:

- a ``Linear`` weight is (in_features, out_features), the transpose of PyTorch's, so for
  a 2-D tensor fan_in = shape[0] and fan_out = shape[1]: the same fans PyTorch computes
  for the (out_features, in_features) weight of the same layer;
- a convolution weight is (out_channels, in_channels, kh, kw), as in PyTorch, so for 3 or
  more dimensions PyTorch's rule holds: fan_in = in_channels * kh * kw and
  fan_out = out_channels * kh * kw (``shape[1]`` and ``shape[0]`` times the rest).

The book's names: "Xavier" in the book is std = 1 / sqrt(n) with n = fan_in (what
``nn.Linear(init="xavier")`` draws; here ``kaiming_normal_(w, nonlinearity="linear")``),
while PyTorch's ``xavier_normal_`` follows Glorot & Bengio's paper, std =
sqrt(2 / (fan_in + fan_out)); "He" is std = sqrt(2 / n), ``kaiming_normal_(w,
nonlinearity="relu")``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor

GAINS = {  # calculate_gain: the std a nonlinearity needs, relative to a linear unit
    "linear": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4,
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table): 1 for linear, conv and
    sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu
    (``param`` = the negative slope, 0.01 by default), 3/4 for selu."""
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, (int, float)):
            raise ValueError(
                f"calculate_gain: the negative slope of leaky_relu must be a number, got {param!r}"
            )
        else:
            slope = param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in GAINS:
        raise ValueError(
            f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; choose one of "
            f"{[*GAINS, 'leaky_relu']}"
        )
    return GAINS[nonlinearity]


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: (shape[0], shape[1]) for a (in, out) ``Linear``
    weight; (in_channels * k, out_channels * k), k = the product of the kernel sizes, for
    an (out_channels, in_channels, *kernel) convolution weight (PyTorch's rule)."""
    return _fans("_calculate_fan_in_and_fan_out", tensor)


def _fans(function: str, tensor: Tensor) -> tuple[int, int]:
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(
            f"{function}: fan in and fan out can not be computed for a tensor of shape "
            f"{shape}: it needs at least 2 dimensions, (in_features, out_features) or "
            f"(out_channels, in_channels, kh, kw); initialise a bias with zeros_ or "
            f"uniform_ instead"
        )
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(function: str, tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{function}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(function, tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values: np.ndarray | float) -> Tensor:
    """Copy ``values`` into ``tensor`` in place (cast to its dtype); return it."""
    with no_grad():
        return tensor.copy_(values)


def _check_tensor(function: str, tensor: Tensor) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"{function}: expected a Tensor (e.g. layer.weight), got {type(tensor).__name__}"
        )


def _empty(tensor: Tensor) -> bool:
    """True (with PyTorch's warning) for a tensor with no elements: nothing to fill."""
    if tensor.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None
) -> Tensor:
    """Fill with values drawn from the uniform distribution U(a, b)."""
    _check_tensor("uniform_", tensor)
    if not a <= b:
        raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
    random = generator if generator is not None else np.random
    return _fill(tensor, random.uniform(a, b, tensor.shape))


def normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Fill with values drawn from the normal distribution N(mean, std^2)."""
    _check_tensor("normal_", tensor)
    if not std >= 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    random = generator if generator is not None else np.random
    return _fill(tensor, random.normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    _check_tensor("constant_", tensor)
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0 (the usual bias)."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None
) -> Tensor:
    """Glorot & Bengio (2010), uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in +
    fan_out)), i.e. std = gain * sqrt(2 / (fan_in + fan_out)). For sigmoid and tanh."""
    _check_tensor("xavier_uniform_", tensor)
    fan_in, fan_out = _fans("xavier_uniform_", tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # U(-a, a) has std a / sqrt(3)
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(
    tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None
) -> Tensor:
    """Glorot & Bengio (2010), normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in +
    fan_out)). (The book's "Xavier", 1 / sqrt(fan_in), is ``kaiming_normal_(w,
    nonlinearity="linear")``.)"""
    _check_tensor("xavier_normal_", tensor)
    fan_in, fan_out = _fans("xavier_normal_", tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """He et al. (2015), uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan),
    i.e. std = gain / sqrt(fan); gain = ``calculate_gain(nonlinearity, a)`` (``a``: the
    negative slope of leaky_relu), fan = fan_in (keeps the forward pass's variance) or
    fan_out (the backward pass's)."""
    _check_tensor("kaiming_uniform_", tensor)
    if _empty(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan("kaiming_uniform_", tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """He et al. (2015), normal: N(0, std^2) with std = gain / sqrt(fan) (see
    ``kaiming_uniform_``). With nonlinearity="relu" and mode="fan_in" this is the book's
    "He" initial value, std = sqrt(2 / n)."""
    _check_tensor("kaiming_normal_", tensor)
    if _empty(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan("kaiming_normal_", tensor, mode))
    return normal_(tensor, 0.0, std, generator)
