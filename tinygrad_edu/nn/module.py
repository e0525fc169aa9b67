"""``Module``, the base class of layers and models, and the containers ``ModuleList``,
``ModuleDict`` and ``Sequential``.

A Module holds its parameters (Tensors with ``requires_grad=True``), buffers (Tensors of
state that is not learned, such as BatchNorm's running mean, declared with
``register_buffer``) and sub-modules as ordinary attributes; ``parameters()`` finds them
by looking at those attributes, in the order they were assigned.

Forward hooks (``register_forward_hook``) let a tool watch or change what a module
computes without editing it: ``tinygrad_edu.monitor.Monitor`` uses them.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_edu._io import atomic_write, read_npz
from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor, TensorLike

# hook(module, inputs, output) -> None or a replacement output (PyTorch's signature)
ForwardHook = Callable[["Module", tuple, Any], Any]
# hook(module, inputs) -> None or replacement inputs (a tuple, or one value)
ForwardPreHook = Callable[["Module", tuple], Any]


class RemovableHandle:
    """What ``register_forward_hook`` returns: ``handle.remove()`` takes the hook off
    again (PyTorch's name). Also a context manager: the hook is removed on leaving
    ``with module.register_forward_hook(hook):``."""

    _ids = itertools.count()  # one id per handle, over the whole program

    def __init__(self, hooks: dict[int, Any]):
        self.hooks = hooks  # the module's dict of hooks that holds this one
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        """Take the hook off (doing it twice is harmless)."""
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


class Module:
    """Base class of layers and models: subclass it and define ``forward``."""

    training = True
    _named = False  # whether the parameters took their dotted names (see __call__)
    _buffer_names: tuple[str, ...] = ()  # the registered buffers, in order
    _non_persistent: tuple[str, ...] = ()  # buffers left out of state_dict()
    # {handle id: hook}, both made by the first register_forward_(pre_)hook; None until
    # then, so that __call__ without hooks costs one attribute check.
    _forward_pre_hooks: dict[int, ForwardPreHook] | None = None
    _forward_hooks: dict[int, ForwardHook] | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._buffer_names and value is not None and not isinstance(value, Tensor):
            raise TypeError(  # as PyTorch: a buffer must stay a Tensor (or None)
                f"{type(self).__name__}: cannot assign a value of type {type(value).__name__} to "
                f"the buffer '{name}' (a Tensor or None is expected); wrap it in a Tensor, or "
                f"change the buffer in place with .{name}.copy_(value)"
            )
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

    def _name_errors(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)``, for a layer's ``forward``: a ValueError it raises
        is raised again with this module's repr in front, so the message says which layer
        failed ("Conv2d(1, 30, kernel_size=(5, 5), stride=(1, 1)): conv2d: ...")."""
        try:
            return function(*args, **kwargs)
        except ValueError as err:
            raise ValueError(f"{self!r}: {err}") from None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._named:  # the first call names the parameters ("0.weight") for drawings
            self.named_parameters()
            self._named = True
        if self._forward_hooks is None:  # no hook was ever registered: the fast path
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    # ------------------------------------------------------------------- hooks
    def register_forward_hook(self, hook: ForwardHook) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every ``forward`` of this module.

        ``inputs`` is the tuple of positional arguments. If the hook returns something
        other than None, that replaces the output (later hooks and the caller see it).
        Returns a handle: ``handle.remove()`` takes the hook off. Hooks run in the order
        they were registered.
        """
        return _add_hook(self._hook_dicts()[1], hook, "register_forward_hook")

    def register_forward_pre_hook(self, hook: ForwardPreHook) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before every ``forward`` of this module; if it
        returns something other than None, that replaces the inputs (a value that is not
        a tuple is taken as the one input). Returns a handle with ``.remove()``."""
        return _add_hook(self._hook_dicts()[0], hook, "register_forward_pre_hook")

    def _hook_dicts(self) -> tuple[dict[int, ForwardPreHook], dict[int, ForwardHook]]:
        """This module's own dicts of pre-hooks and hooks, made on first use.

        ``setdefault`` on the instance's dict is one step (atomic in CPython): two threads
        registering the first hooks at once get the same dicts, and no hook is lost."""
        own = vars(self)
        return own.setdefault("_forward_pre_hooks", {}), own.setdefault("_forward_hooks", {})

    def _call_with_hooks(self, args: tuple, kwargs: dict[str, Any]) -> Any:
        pre_hooks, hooks = self._hook_dicts()
        for pre_hook in list(pre_hooks.values()):  # a copy: a hook may remove itself
            new_args = pre_hook(self, args)
            if new_args is not None:
                args = new_args if isinstance(new_args, tuple) else (new_args,)
        output = self.forward(*args, **kwargs)
        for hook in list(hooks.values()):
            new_output = hook(self, args, output)
            if new_output is not None:
                output = new_output
        return output

    # -------------------------------------------------------- the module tree
    def children(self) -> list[tuple[str, Module]]:
        """(name, sub-module) pairs, found among the attributes."""
        return [(name, value) for name, value in vars(self).items() if isinstance(value, Module)]

    def named_modules(
        self, prefix: str = "", remove_duplicate: bool = True
    ) -> list[tuple[str, Module]]:
        """(dotted name, module) pairs of this module ("") and every module inside it,
        depth first, each once (unless ``remove_duplicate=False``), as in PyTorch."""
        listed, seen = [], set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate and id(module) in seen:
                continue
            seen.add(id(module))
            listed.append((name, module))
            dot = f"{name}." if name else ""
            stack.extend((dot + n, child) for n, child in reversed(module.children()))
        return listed

    def modules(self) -> list[Module]:
        """This module and every module inside it, each once (``named_modules`` order)."""
        return [m for _, m in self.named_modules()]

    # ------------------------------------------------------ parameters, buffers
    def _own_parameters(self) -> list[tuple[str, Tensor]]:
        """This module's own parameters (not its children's): attributes that are Tensors
        requiring grad and not registered as buffers."""
        return [
            (name, value)
            for name, value in vars(self).items()
            if isinstance(value, Tensor) and value.requires_grad and name not in self._buffer_names
        ]

    def _own_buffers(self) -> list[tuple[str, Tensor]]:
        """This module's own registered buffers that are not None, in registration order."""
        own = vars(self)
        return [(name, own[name]) for name in self._buffer_names if own.get(name) is not None]

    def named_parameters(
        self, prefix: str = "", remove_duplicate: bool = True
    ) -> list[tuple[str, Tensor]]:
        """(dotted name, parameter) pairs, e.g. ("0.weight", Tensor). A layer used twice
        shares its parameters: they are listed once, under their first name, unless
        ``remove_duplicate=False`` (PyTorch's flag; ``state_dict`` lists every name). A
        parameter without a ``name`` takes its dotted name, which graph drawings show."""
        pairs = [(prefix + name, value) for name, value in self._own_parameters()]
        for name, child in self.children():
            pairs.extend(child.named_parameters(f"{prefix}{name}.", remove_duplicate=False))
        for name, p in pairs:
            if p.name is None:
                p.name = name
        return _unique(pairs) if remove_duplicate else pairs

    def parameters(self) -> list[Tensor]:
        """The parameters, as a list (each once), in the order of ``named_parameters``."""
        return [p for _, p in self.named_parameters()]

    def register_buffer(
        self, name: str, tensor: TensorLike | None, persistent: bool = True
    ) -> None:
        """Keep ``tensor`` as state that is not learned, such as BatchNorm's running mean.

        It becomes the attribute ``self.<name>`` (a Tensor; an array is copied into one),
        is saved by ``state_dict()`` and restored by ``load_state_dict()`` (unless
        ``persistent=False``) and listed by ``named_buffers()``, but ``parameters()``
        leaves it out, so no optimizer changes it. ``None`` declares a buffer that is
        absent for now (left out of ``state_dict()``).
        """
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(
                f"register_buffer: the name must be a non-empty string without '.', got {name!r}"
            )
        if name in vars(self) and name not in self._buffer_names:
            raise KeyError(
                f"register_buffer: {type(self).__name__} already has an attribute "
                f"{name!r}; choose another name for the buffer"
            )
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.array(tensor))  # a copy: the buffer changes in place
        setattr(self, name, tensor)
        if name not in self._buffer_names:
            self._buffer_names = (*self._buffer_names, name)
        if not persistent and name not in self._non_persistent:
            self._non_persistent = (*self._non_persistent, name)
        elif persistent and name in self._non_persistent:  # registered again: the last says
            self._non_persistent = tuple(n for n in self._non_persistent if n != name)

    def named_buffers(
        self, prefix: str = "", remove_duplicate: bool = True
    ) -> list[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs, e.g. ("1.running_mean", Tensor), children after
        their parent, each once unless ``remove_duplicate=False``."""
        pairs = [(prefix + name, value) for name, value in self._own_buffers()]
        for name, child in self.children():
            pairs.extend(child.named_buffers(f"{prefix}{name}.", remove_duplicate=False))
        return _unique(pairs) if remove_duplicate else pairs

    def buffers(self) -> list[Tensor]:
        """The buffers, as a list (each once), in the order of ``named_buffers``."""
        return [b for _, b in self.named_buffers()]

    def zero_grad(self) -> None:
        """Reset every parameter's gradient (to None)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Switch to training mode (dropout on, BatchNorm uses the batch's statistics);
        returns self."""
        self.training = mode
        for _, child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (dropout off, BatchNorm uses its running statistics);
        returns self."""
        return self.train(False)

    # ------------------------------------------------------------- saving, loading
    def _state_tensors(self, prefix: str = "") -> list[tuple[str, Tensor]]:
        """Every (dotted name, Tensor) that ``state_dict`` saves, in PyTorch's order: a
        module's own parameters, then its persistent buffers, then its children's; a
        shared tensor under each of its names."""
        pairs = [(prefix + name, p) for name, p in self._own_parameters()]
        pairs += [
            (prefix + name, b)
            for name, b in self._own_buffers()
            if name not in self._non_persistent
        ]
        for name, child in self.children():
            pairs.extend(child._state_tensors(f"{prefix}{name}."))
        return pairs

    def state_dict(self) -> dict[str, np.ndarray]:
        """{dotted name: copy of the array} of every parameter and persistent buffer,
        every name of a shared one included (as in PyTorch)."""
        return {name: t.data.copy() for name, t in self._state_tensors()}

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> Module:
        """Copy arrays into the parameters and buffers, in place and in their dtype.

        Raises KeyError naming a missing or unexpected key, ValueError naming a key whose
        shape differs, TypeError naming a key whose values do not fit (not numbers, or
        floats for an integer buffer such as ``num_batches_tracked``).
        """
        tensors = dict(self._state_tensors())
        missing = [k for k in tensors if k not in state]
        unexpected = [k for k in state if k not in tensors]
        if missing or unexpected:
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}; "
                f"this model's parameters and buffers are {list(tensors)}"
            )
        arrays = {}
        for name, t in tensors.items():  # check everything before changing anything
            array = np.asarray(state[name])
            if array.dtype.kind not in "biuf":
                raise TypeError(
                    f"load_state_dict: '{name}' holds {array.dtype} values, not numbers"
                )
            if not np.can_cast(array.dtype, t.dtype, "same_kind"):
                raise TypeError(
                    f"load_state_dict: '{name}' holds {array.dtype} values in the state but "
                    f"{t.dtype} in the model; convert them with .astype(np.{t.dtype})"
                )
            if array.shape != t.shape:
                raise ValueError(
                    f"load_state_dict: '{name}' has shape {array.shape} in the state but "
                    f"{t.shape} in the model"
                )
            arrays[name] = array
        with no_grad():
            for name, t in tensors.items():
                t.copy_(arrays[name])
        return self

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the parameters and buffers to an ``.npz`` file (atomically: a temporary
        file, then a rename, so an interrupted save never leaves a truncated file)."""
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
        return ", ".join(f"{name}={value.shape}" for name, value in self._own_parameters())


def _add_hook(hooks: dict[int, Any], hook: Callable, method: str) -> RemovableHandle:
    """Put ``hook`` into ``hooks`` under a new handle's id; return the handle."""
    if not callable(hook):
        raise TypeError(f"{method}: the hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _unique(pairs: list[tuple[str, Tensor]]) -> list[tuple[str, Tensor]]:
    """``pairs`` without the repeats of a Tensor (shared by two layers): each once, under
    its first name."""
    listed, seen = [], set()
    for name, t in pairs:
        if id(t) not in seen:
            seen.add(id(t))
            listed.append((name, t))
    return listed


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
