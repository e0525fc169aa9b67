"""``Module``, the base class of layers and models, and the containers ``ModuleList``,
``ModuleDict`` and ``Sequential``.

A Module holds its parameters (Tensors with ``requires_grad=True``) and sub-modules as
ordinary attributes; ``parameters()`` finds them by looking at those attributes, in the
order they were assigned.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_edu._io import atomic_write, read_npz
from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor, TensorLike


class Module:
    """Base class of layers and models: subclass it and define ``forward``."""

    training = True
    _named = False  # whether the parameters took their dotted names (see __call__)

    def __setattr__(self, name: str, value: Any) -> None:
        items = value.values() if isinstance(value, dict) else value
        if (
            not name.startswith("_")
            and isinstance(value, (list, tuple, dict))
            and any(isinstance(v, Module) for v in items)
        ):
            container = "ModuleDict" if isinstance(value, dict) else "ModuleList"
            warnings.warn(
                f"{type(self).__name__}.{name} is a plain {type(value).__name__} of Modules: "
                f"their parameters are invisible to parameters(), state_dict() and the "
                f"optimizers; wrap it in nn.{container}(...)",
                stacklevel=2,
            )
        super().__setattr__(name, value)

    def forward(self, *args: Any) -> Any:
        """The computation; ``module(x)`` calls it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._named:  # the first call names the parameters ("0.weight") for drawings
            self.named_parameters()
            self._named = True
        return self.forward(*args, **kwargs)

    def children(self) -> list[tuple[str, Module]]:
        """(name, sub-module) pairs, found among the attributes."""
        return [(name, value) for name, value in vars(self).items() if isinstance(value, Module)]

    def named_parameters(
        self, prefix: str = "", remove_duplicate: bool = True
    ) -> list[tuple[str, Tensor]]:
        """(dotted name, parameter) pairs, e.g. ("0.weight", Tensor). A layer used twice
        shares its parameters: they are listed once, under their first name, unless
        ``remove_duplicate=False`` (PyTorch's flag; ``state_dict`` lists every name). A
        parameter without a ``name`` takes its dotted name, which graph drawings show."""
        pairs = [
            (prefix + name, value)
            for name, value in vars(self).items()
            if isinstance(value, Tensor) and value.requires_grad
        ]
        for name, child in self.children():
            pairs.extend(child.named_parameters(f"{prefix}{name}.", remove_duplicate=False))
        listed, seen = [], set()
        for name, p in pairs:
            if p.name is None:
                p.name = name
            if not (remove_duplicate and id(p) in seen):
                seen.add(id(p))
                listed.append((name, p))
        return listed

    def parameters(self) -> list[Tensor]:
        """The parameters, as a list (each once), in the order of ``named_parameters``."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Reset every parameter's gradient (to None)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Switch to training mode (dropout on); returns self."""
        self.training = mode
        for _, child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (dropout off); returns self."""
        return self.train(False)

    # ------------------------------------------------------------- saving, loading
    def state_dict(self) -> dict[str, np.ndarray]:
        """{dotted name: copy of the parameter's array}, every name of a shared parameter
        included (as in PyTorch)."""
        return {name: p.data.copy() for name, p in self.named_parameters(remove_duplicate=False)}

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> Module:
        """Copy arrays into the parameters, in place and in the parameters' dtype.

        Raises KeyError naming a missing or unexpected key, ValueError naming a key whose
        shape differs.
        """
        params = dict(self.named_parameters(remove_duplicate=False))
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if missing or unexpected:
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}; "
                f"this model's parameters are {list(params)}"
            )
        arrays = {}
        for name, p in params.items():  # check everything before changing anything
            array = np.asarray(state[name])
            if array.dtype.kind not in "biuf":
                raise TypeError(
                    f"load_state_dict: '{name}' holds {array.dtype} values, not numbers"
                )
            if array.shape != p.shape:
                raise ValueError(
                    f"load_state_dict: '{name}' has shape {array.shape} in the state but "
                    f"{p.shape} in the model"
                )
            arrays[name] = array
        with no_grad():
            for name, p in params.items():
                p.copy_(arrays[name])
        return self

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the parameters to an ``.npz`` file (atomically: a temporary file, then
        a rename, so an interrupted save never leaves a truncated file)."""
        arrays: dict[str, Any] = self.state_dict()
        with atomic_write(path) as f:
            np.savez(f, **arrays)

    def load(self, path: str | os.PathLike[str]) -> Module:
        """Read parameters saved by ``save`` (pickles are refused: they can run code)."""
        return self.load_state_dict(read_npz(path))

    def __repr__(self) -> str:
        lines = [f"({name}): {child!r}".replace("\n", "\n  ") for name, child in self.children()]
        inner = "".join(f"\n  {line}" for line in lines)
        return f"{type(self).__name__}({self.extra_repr()}{inner}{chr(10) if lines else ''})"

    def extra_repr(self) -> str:
        """What repr shows inside the parentheses: by default the module's own parameters."""
        return ", ".join(
            f"{name}={value.shape}"
            for name, value in vars(self).items()
            if isinstance(value, Tensor) and value.requires_grad
        )


class ModuleList(Module):
    """A list of Modules that the parent Module sees (a plain list hides their
    parameters); parameters are named by position ("0.weight"), as in PyTorch."""

    def __init__(self, modules: Iterable[Module] = ()):
        self._modules: list[Module] = []
        self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns self."""
        if not isinstance(module, Module):
            raise TypeError(
                f"{type(self).__name__}: can hold only Modules, got {type(module).__name__}"
            )
        self._modules.append(module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add each of ``modules`` at the end; returns self."""
        for module in modules:
            self.append(module)
        return self

    def children(self) -> list[tuple[str, Module]]:
        return [(str(i), module) for i, module in enumerate(self._modules)]

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} has no forward(): loop over it and call each module"
        )

    def __getitem__(self, index: int) -> Module:
        return self._modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules)


class ModuleDict(Module):
    """A dict of Modules that the parent Module sees (a plain dict hides their
    parameters); parameters are named by key ("encoder.weight"), as in PyTorch."""

    def __init__(self, modules: Mapping[str, Module] | None = None):
        self._modules: dict[str, Module] = {}
        for key, module in (modules or {}).items():
            self[key] = module

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: can hold only Modules, got {type(module).__name__}")
        self._modules[key] = module

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def children(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)


class Sequential(ModuleList):
    """Layers applied in order; parameters are named by position ("0.weight")."""

    def __init__(self, *layers: Module):
        super().__init__(layers)

    @property
    def layers(self) -> list[Module]:
        """The layers, in order."""
        return self._modules

    def forward(self, x: TensorLike) -> Tensor:
        out: Any = x
        for i, layer in enumerate(self._modules):
            try:
                out = layer(out)
            except ValueError as err:  # say which layer: "layer 2: Linear(...): ..."
                raise ValueError(f"layer {i}: {err}") from None
        return out
