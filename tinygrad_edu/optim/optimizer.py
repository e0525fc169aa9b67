"""Optimizers: update parameters in place from their gradients (chapter 6, section 6.1).

Every optimizer follows PyTorch's documented algorithm for ``torch.optim.<Name>``, with
the same arguments and defaults, so that the same hyperparameters give the same numbers.
Each docstring writes PyTorch's update next to the book's form of the same method.

Notation, for one parameter p at step t (t counts the steps at which p had a gradient):
g = p.grad, lr = the learning rate (the book's eta), and products, squares, square roots
and divisions of arrays are elementwise. The updates run on the arrays in the parameter's
own dtype (a float32 network stays float32), in place under ``no_grad()`` (``p -= ...``),
so the in-place change is counted (see ``Tensor._inplace``).

Parameters can be given as a list of Tensors (``model.parameters()``) or, as in PyTorch,
as a list of groups, dicts with the key "params" and hyperparameters overriding the
defaults for that group: ``SGD([{"params": body}, {"params": head, "lr": 0.1}], lr=0.01)``.
``optimizer.param_groups`` holds the groups; ``optimizer.lr`` reads or sets the learning
rate of all of them (the learning rate schedulers change ``group["lr"]``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor

ParamGroup = dict[str, Any]  # {"params": [Tensor, ...], "lr": 0.01, ...}


def require(owner: object, condition: bool, message: str) -> None:
    """Raise ValueError("<owner's class>: <message>") unless ``condition`` (NaN fails):
    the argument checks of the optimizers and the learning rate schedulers."""
    if not condition:
        raise ValueError(f"{type(owner).__name__}: {message}")


def as_python(value: Any) -> Any:
    """A numpy number (or a 0-d array) as the Python number it holds, inside tuples too
    (Adam's betas); anything else unchanged. A hyperparameter np.float64(0.1) times a
    float32 array gives float64 (numpy's rule), the Python float 0.1 keeps float32."""
    if isinstance(value, tuple):
        return tuple(as_python(v) for v in value)
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    return value


class Optimizer:
    """Holds the parameters, in groups, and their state; a subclass defines ``_update``,
    the rule for one parameter, and ``_check``, the checks of its hyperparameters."""

    defaults: dict[str, Any]  # the hyperparameters given to the constructor
    param_groups: list[ParamGroup]
    state: dict[Tensor, dict[str, Any]]  # per parameter: momentum buffers, step counts...

    def __init__(self, params: Iterable[Tensor] | Iterable[ParamGroup], defaults: dict[str, Any]):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be a list of Tensors, got a single Tensor; "
                f"write {name}([w]) or {name}(model.parameters())"
            )
        self.defaults = {key: as_python(value) for key, value in defaults.items()}
        self.param_groups, self.state = [], {}
        given: list[Any] = list(params)  # Tensors, or groups (dicts)
        groups = given if given and isinstance(given[0], dict) else [{"params": given}]
        for group in groups:
            self.add_param_group(group)
        if not self.params:
            raise ValueError(
                f"{name}: got no parameters to optimize; pass model.parameters() (is the "
                f"model built, and do its tensors have requires_grad=True?)"
            )

    @property
    def params(self) -> list[Tensor]:
        """Every parameter, group after group."""
        return [p for group in self.param_groups for p in group["params"]]

    @property
    def lr(self) -> float:
        """The learning rate (of every group: ask ``param_groups`` when they differ)."""
        rates = [group["lr"] for group in self.param_groups]
        if any(rate != rates[0] for rate in rates):
            raise ValueError(
                f"{type(self).__name__}: the parameter groups have different learning rates "
                f"{rates}; read them as optimizer.param_groups[i]['lr']"
            )
        return rates[0]

    @lr.setter
    def lr(self, value: float) -> None:
        require(self, value >= 0, f"lr must be >= 0, got {value}")
        for group in self.param_groups:
            group["lr"] = as_python(value)

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group: a dict with "params" (a list of Tensors) and, optionally,
        hyperparameters that replace the defaults for these parameters."""
        name = type(self).__name__
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group must be a dict with a 'params' key")
        unknown = sorted(set(param_group) - set(self.defaults) - {"params"})
        if unknown:
            raise ValueError(
                f"{name}: unknown hyperparameters {unknown} in a parameter group; "
                f"{name} takes {sorted(self.defaults)}"
            )
        group_params = param_group["params"]
        params = [group_params] if isinstance(group_params, Tensor) else list(group_params)
        seen = {id(p) for p in self.params}
        for i, p in enumerate(params, start=len(seen)):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: parameter {i} is not a Tensor with requires_grad=True "
                    f"(got {type(p).__name__})"
                )
            if not p.requires_grad:
                raise ValueError(
                    f"{name}: parameter {i} of shape {p.shape} has requires_grad=False; "
                    f"create it with requires_grad=True"
                )
            if p.creator is not None:
                raise ValueError(
                    f"{name}: parameter {i} of shape {p.shape} was computed by "
                    f"'{p.creator.name}'; only leaf tensors (created directly, with "
                    f"requires_grad=True) can be optimized"
                )
            if id(p) in seen:
                label = f" ('{p.name}')" if p.name else ""
                raise ValueError(
                    f"{name}: parameter {i}{label} of shape {p.shape} appears twice; each "
                    f"parameter must be given once"
                )
            seen.add(id(p))
        given = {key: as_python(value) for key, value in param_group.items()}
        group = {**self.defaults, **given, "params": params}
        self._check(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (so the next backward starts fresh),
        or to zeros in place with ``set_to_none=False``."""
        with no_grad():
            for p in self.params:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.copy_(0)

    def step(self) -> None:
        """Update, in place, every parameter that has a gradient (one without is skipped,
        and its state, such as Adam's step count, does not move)."""
        with no_grad():  # an update is not part of any graph
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, p.grad.data, self.state.setdefault(p, {}), group)

    def _update(
        self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: ParamGroup
    ) -> None:
        """Change ``p`` in place, from its gradient, its ``state`` (empty at its first
        step) and its group's hyperparameters."""
        raise NotImplementedError(f"{type(self).__name__} must define _update()")

    def _check(self, group: ParamGroup) -> None:
        """Refuse hyperparameters the algorithm is not defined for (as PyTorch does)."""
        require(self, group["lr"] >= 0, f"lr must be >= 0, got {group['lr']}")
        weight_decay = group.get("weight_decay", 0.0)
        require(self, weight_decay >= 0, f"weight_decay must be >= 0, got {weight_decay}")

    def _weight_decay(self, p: Tensor, grad: np.ndarray, group: ParamGroup) -> np.ndarray:
        """The gradient with the weight decay: PyTorch's L2 form, g = grad + weight_decay *
        p, the gradient of (weight_decay / 2) * ||p||^2 added to the loss (the book's
        section 6.4.1). AdamW replaces it with its decoupled decay."""
        if group["weight_decay"]:
            return grad + group["weight_decay"] * p.data
        return grad

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as PyTorch lays it out: {"state": {parameter index:
        {name: value}}, "param_groups": [{hyperparameters, "params": [indices]}]}, with
        copies of the arrays. Save it beside ``model.state_dict()`` to resume training."""
        index = {id(p): i for i, p in enumerate(self.params)}
        state = {
            index[id(p)]: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
            for p, s in self.state.items()
            if s  # plain SGD keeps no state
        }
        groups = [
            {**group, "params": [index[id(p)] for p in group["params"]]}
            for group in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what ``state_dict()`` gave (for the same parameters, in the same
        groups): the hyperparameters of every group and the state of every parameter.

        Everything is checked before anything changes (ValueError naming the problem):
        the group sizes, each group's hyperparameters (this optimizer's, plus the
        "initial_lr" a learning rate scheduler adds; another optimizer's state_dict is
        refused), their values, and each state's parameter index and array shapes."""
        name, params = type(self).__name__, self.params
        saved_groups = state_dict["param_groups"]
        sizes = [len(g["params"]) for g in self.param_groups]
        saved_sizes = [len(g["params"]) for g in saved_groups]
        if sizes != saved_sizes:
            raise ValueError(
                f"{name}: load_state_dict got groups of {saved_sizes} parameters, but this "
                f"optimizer has groups of {sizes}; build it with the same parameters"
            )
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            keys = set(saved) - {"params", "initial_lr"}
            if keys != set(self.defaults):
                raise ValueError(
                    f"{name}: load_state_dict got the state of another optimizer "
                    f"({_optimizer_with(keys)}: hyperparameters {sorted(keys)}), but {name} "
                    f"has {sorted(self.defaults)}; load one that {name}.state_dict() returned"
                )
            groups.append({**group, **{k: as_python(v) for k, v in saved.items() if k != "params"}})
            self._check(groups[-1])
        state: dict[Tensor, dict[str, Any]] = {}
        for i, saved in state_dict["state"].items():
            if not (isinstance(i, (int, np.integer)) and 0 <= i < len(params)):
                raise ValueError(
                    f"{name}: load_state_dict got a state for parameter {i!r}, but this "
                    f"optimizer has {len(params)} parameter(s), numbered 0 to "
                    f"{len(params) - 1}; load a state_dict saved for the same parameters"
                )
            p = params[i]
            state[p] = {}
            for key, value in saved.items():
                if isinstance(value, np.ndarray):
                    if value.shape != p.shape:
                        raise ValueError(
                            f"{name}: load_state_dict: '{key}' of parameter {i} has shape "
                            f"{value.shape}, but the parameter has shape {p.shape}"
                        )
                    value = value.astype(p.dtype)  # a copy, in the parameter's dtype
                state[p][key] = value
        for group, checked in zip(self.param_groups, groups):
            group.update(checked)
        self.state = state


def _optimizer_with(hyperparameters: set[str]) -> str:
    """The name of the optimizer(s) of this module taking exactly these hyperparameters
    (its constructor's arguments but ``params``), for messages: "SGD", "Adam or AdamW"."""
    names = [
        cls.__name__
        for cls in (SGD, Adagrad, RMSprop, Adam, AdamW)
        if set(inspect.signature(cls).parameters) - {"params"} == hyperparameters
    ]
    return " or ".join(names) or "an unknown optimizer"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and weight
    decay: ``torch.optim.SGD`` (PyTorch's algorithm, step by step)::

        g = grad + weight_decay * p
        b = g                                      at the first step (momentum != 0)
        b = momentum * b + (1 - dampening) * g     afterwards
        g = g + momentum * b   with nesterov,   else   g = b
        p = p - lr * g

    Without momentum this is the book's ``SGD``: W = W - eta * dL/dW. With momentum it is
    the book's ``Momentum`` (section 6.1.4), written there as
    ``v = alpha * v - eta * dL/dW;  W = W + v``: the same steps with v = -lr * b and
    alpha = momentum, as long as lr is constant and dampening is 0 (the book's v starts at
    zero, so its first step is eta * g, like PyTorch's b = g).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[ParamGroup],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _check(self, group: ParamGroup) -> None:
        super()._check(group)
        momentum = group["momentum"]
        require(self, momentum >= 0, f"momentum must be >= 0, got {momentum}")
        if group["nesterov"]:
            require(
                self,
                momentum > 0 and group["dampening"] == 0,
                f"Nesterov momentum requires a momentum and zero dampening, got "
                f"momentum={momentum}, dampening={group['dampening']}",
            )

    def _update(
        self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: ParamGroup
    ) -> None:
        momentum, g = group["momentum"], self._weight_decay(p, grad, group)
        if momentum:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = np.array(g, dtype=p.dtype)  # a copy
            else:
                b *= momentum
                b += (1 - group["dampening"]) * g if group["dampening"] else g  # no copy
            g = g + momentum * b if group["nesterov"] else b
        p -= group["lr"] * g


class Adagrad(Optimizer):
    """AdaGrad (Duchi et al., 2011): each weight's step shrinks with the squared gradients
    it has seen, ``torch.optim.Adagrad``::

        g = grad + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g^2                     (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    The book's ``AdaGrad`` (section 6.1.5) is the case lr_decay = weight_decay = 0:
    ``h += dL/dW * dL/dW;  W -= eta * dL/dW / (sqrt(h) + 1e-7)`` (PyTorch: eps = 1e-10).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[ParamGroup],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ):
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
        }
        super().__init__(params, defaults)

    def _check(self, group: ParamGroup) -> None:
        super()._check(group)
        for key in ("lr_decay", "initial_accumulator_value", "eps"):
            require(self, group[key] >= 0, f"{key} must be >= 0, got {group[key]}")

    def _update(
        self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: ParamGroup
    ) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        g = self._weight_decay(p, grad, group)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        p -= clr * (g / (np.sqrt(state["sum"]) + group["eps"]))


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012): AdaGrad with a running average of g^2 in place of the sum,
    so old gradients are forgotten, ``torch.optim.RMSprop``::

        g = grad + weight_decay * p
        v = alpha * v + (1 - alpha) * g^2                      (v starts at 0)
        centered:  m = alpha * m + (1 - alpha) * g,  d = sqrt(v - m^2) + eps
        else:      d = sqrt(v) + eps
        with momentum:  b = momentum * b + g / d,  p = p - lr * b   (b starts at 0)
        else:           p = p - lr * g / d

    The book's ``RMSprop`` (``common/optimizer.py``, decay_rate = alpha = 0.99 and
    eps = 1e-7) is the plain case: ``h = alpha h + (1 - alpha) g^2;  W -= eta g / (sqrt(h)
    + eps)``. ``centered`` divides by an estimate of the gradient's standard deviation
    instead of its root mean square.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[ParamGroup],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ):
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults)

    def _check(self, group: ParamGroup) -> None:
        super()._check(group)
        for key in ("alpha", "eps", "momentum"):
            require(self, group[key] >= 0, f"{key} must be >= 0, got {group[key]}")

    def _update(
        self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: ParamGroup
    ) -> None:
        alpha = group["alpha"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        g = self._weight_decay(p, grad, group)
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            m = state["grad_avg"]
            m += (1 - alpha) * (g - m)  # = alpha m + (1 - alpha) g, as torch's lerp_
            d = np.sqrt(v - m * m) + group["eps"]
        else:
            d = np.sqrt(v) + group["eps"]
        if group["momentum"] > 0:
            b = state["momentum_buffer"]
            b *= group["momentum"]
            b += g / d
            p -= group["lr"] * b
        else:
            p -= group["lr"] * (g / d)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): momentum on the gradient (m) and RMSprop's average of
    its square (v), each corrected for its start at zero, ``torch.optim.Adam``::

        g = grad + weight_decay * p           (the L2 penalty; AdamW decouples it)
        m = b1 * m + (1 - b1) * g,   v = b2 * v + (1 - b2) * g^2      (both start at 0)
        amsgrad:  v_max = max(v_max, v), used in place of v below
        p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    The book's ``Adam`` (section 6.1.6, ``common/optimizer.py``) takes the same step
    written with lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t): ``W -= lr_t * m / (sqrt(v) +
    1e-7)``; only where eps enters differs (the book's eps is not bias-corrected).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[ParamGroup],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ):
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)

    def _check(self, group: ParamGroup) -> None:
        super()._check(group)
        require(self, group["eps"] >= 0, f"eps must be >= 0, got {group['eps']}")
        for i, beta in enumerate(group["betas"]):
            require(
                self, 0 <= beta < 1, f"betas[{i}] must be in [0, 1), got {beta} (e.g. (0.9, 0.999))"
            )

    def _update(
        self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: ParamGroup
    ) -> None:
        b1, b2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        g = self._weight_decay(p, grad, group)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - b1) * (g - m)  # = b1 m + (1 - b1) g, as torch's lerp_
        v *= b2
        v += (1 - b2) * g * g
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denominator = np.sqrt(v) / (1 - b2**t) ** 0.5 + group["eps"]
        p -= group["lr"] / (1 - b1**t) * (m / denominator)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019),
    ``torch.optim.AdamW``: before Adam's step (without weight decay),

        p = p - lr * weight_decay * p

    so the decay shrinks every weight by the same factor instead of passing through
    Adam's per-weight scaling, as an L2 penalty in the loss (``Adam(weight_decay=...)``)
    does. The book (section 6.4.1) adds the L2 penalty to the loss, Adam's form.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[ParamGroup],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

    def _weight_decay(self, p: Tensor, grad: np.ndarray, group: ParamGroup) -> np.ndarray:
        """AdamW's decoupled decay: shrink p in place; the gradient is left as it is."""
        if group["weight_decay"]:
            p *= 1 - group["lr"] * group["weight_decay"]
        return grad
