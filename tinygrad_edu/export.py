"""The way out: a model of this library as an ONNX file or a PyTorch module, and
PyTorch-trained weights back in.

    to_onnx(model, example_input, "model.onnx")     # for onnxruntime, TensorRT, a browser...
    torch_model = to_torch(model)                   # torch.nn layers, same outputs
    load_torch_state_dict(model, torch_model.state_dict())   # and back

What can leave: an ``nn.Sequential`` (nested ones too) of the layers in ``RULES``:
Linear, ReLU, Sigmoid, Tanh, Softmax, Dropout, Flatten, Conv2d, MaxPool2d, AvgPool2d,
BatchNorm1d, BatchNorm2d. A Module with its own ``forward`` (``TwoLayerNet``, a subclass
of a layer) cannot: its ``forward`` is Python code, which the exporter does not read;
rebuild it as an ``nn.Sequential``. The ONNX file is for inference: it computes what the
model computes in eval mode (Dropout is the identity, BatchNorm uses its running
statistics). The PyTorch module is for training too: ``torch.nn.Dropout``,
``torch.nn.BatchNorm1d`` with the running statistics and momentum.

Layouts: this library's ``Linear`` weight is (in_features, out_features), as in the book
(y = x @ W + b); PyTorch's is the transpose, (out_features, in_features), so ``to_torch``
and ``load_torch_state_dict`` transpose it. ONNX's ``MatMul`` takes it as it is. Conv2d's
weight has the same layout everywhere, (out_channels, in_channels, kh, kw).

Every layer type that can leave has one entry in ``RULES``: a ``LayerRule`` holding its
ONNX converter, its PyTorch converter and the names of its parameters that PyTorch stores
transposed. Supporting a new layer is one entry there.

onnx and torch are optional extras (``pip install 'tinygrad_edu[onnx]'``,
``pip install 'tinygrad_edu[torch]'``): they are imported inside the functions that need
them. ``load_torch_state_dict`` needs neither (a state_dict of numpy arrays works); to
read a file that ``torch.save`` wrote, use ``torch.load(path, weights_only=True)``, which
refuses pickled code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_edu._io import atomic_write
from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.nn.conv import AvgPool2d, Conv2d, MaxPool2d
from tinygrad_edu.nn.layers import Dropout, Flatten, Linear, ReLU, Sigmoid, Softmax, Tanh
from tinygrad_edu.nn.module import Module, Sequential
from tinygrad_edu.nn.normalization import BatchNorm1d, BatchNorm2d
from tinygrad_edu.tensor import Tensor

if TYPE_CHECKING:
    import onnx
    import torch

ONNX_HINT = "pip install 'tinygrad_edu[onnx]'"
TORCH_HINT = "pip install 'tinygrad_edu[torch]'"
MIN_OPSET = 13  # Softmax takes one axis, as here and in PyTorch, from opset 13 on
BATCH = "batch"  # the name of the ONNX model's dynamic first axis
Shape = tuple[int, ...]


# ------------------------------------------------------------------------ ONNX graph


class OnnxGraph:
    """The ONNX graph under construction: nodes and initializers (weights), in order.

    Names follow the model's: the weights keep their ``state_dict`` names ("0.weight"),
    a node and its output are named after the layer's path and the op ("0/MatMul").
    """

    def __init__(self, onnx_module: Any):
        self.onnx = onnx_module
        self.nodes: list[Any] = []  # onnx.NodeProto
        self.initializers: list[Any] = []  # onnx.TensorProto

    def weight(self, path: str, name: str, array: np.ndarray) -> str:
        """Add ``array`` as a float32 initializer named as in ``state_dict`` ("0.weight"
        for ``name`` "weight" of the layer at ``path`` "0"); returns that name."""
        return self.constant(path, name, np.asarray(array, np.float32))

    def constant(self, path: str, name: str, array: np.ndarray) -> str:
        """Add an initializer of ``array`` in its own dtype (e.g. a Reshape's int64 shape)."""
        full_name = f"{path}.{name}" if path else name
        self.initializers.append(self.onnx.numpy_helper.from_array(array, full_name))
        return full_name

    def node(self, op: str, inputs: list[str], path: str, **attributes: Any) -> str:
        """Add one ``op`` node reading ``inputs``, for the layer at ``path``; returns the
        name of its output ("0/MatMul")."""
        output = f"{path}/{op}" if path else op
        self.nodes.append(
            self.onnx.helper.make_node(op, inputs, [output], name=output, **attributes)
        )
        return output


# ----------------------------------------------------------- the rules, one per layer
# An ONNX converter: (layer, graph, input name, path of the layer, input shape) -> output
# name. A PyTorch converter: (layer, the torch module) -> a torch.nn.Module with the
# layer's weights.


def _linear_onnx(layer: Linear, g: OnnxGraph, x: str, path: str, shape: Shape) -> str:
    """y = x @ W + b: MatMul (any number of leading axes) then Add; W stays (in, out)."""
    y = g.node("MatMul", [x, g.weight(path, "weight", layer.weight.data)], path)
    if layer.bias is None:
        return y
    return g.node("Add", [y, g.weight(path, "bias", layer.bias.data)], path)


def _linear_torch(layer: Linear, torch: Any) -> Any:
    dtype = torch.from_numpy(layer.weight.data).dtype
    out = torch.nn.Linear(
        layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=dtype
    )
    out.weight = _parameter(torch, layer.weight.data.T)  # (in, out) -> PyTorch's (out, in)
    if layer.bias is not None:
        out.bias = _parameter(torch, layer.bias.data)
    return out


def _elementwise_onnx(op: str) -> Callable[[Module, OnnxGraph, str, str, Shape], str]:
    """The converter of a layer that is one ONNX op with no attributes (Relu, Tanh...)."""

    def convert(layer: Module, g: OnnxGraph, x: str, path: str, shape: Shape) -> str:
        return g.node(op, [x], path)

    return convert


def _softmax_axis(layer: Softmax) -> int:
    """The axis the layer normalizes: ``axis``, else ``dim``, else the last (-1)."""
    return next((a for a in (layer.axis, layer.dim) if a is not None), -1)


def _softmax_onnx(layer: Softmax, g: OnnxGraph, x: str, path: str, shape: Shape) -> str:
    return g.node("Softmax", [x], path, axis=_softmax_axis(layer))


def _dropout_onnx(layer: Dropout, g: OnnxGraph, x: str, path: str, shape: Shape) -> str:
    """The ONNX file is for inference, where dropout does nothing: no node at all."""
    return x


def _flatten_onnx(layer: Flatten, g: OnnxGraph, x: str, path: str, shape: Shape) -> str:
    """Reshape to (the axes before start_dim, -1): the 0s copy those axes' sizes, so
    the batch axis stays dynamic."""
    start = layer.start_dim % len(shape) if layer.start_dim < 0 else layer.start_dim
    target = np.array([0] * start + [-1], dtype=np.int64)
    return g.node("Reshape", [x, g.constant(path, "shape", target)], path)


def _conv2d_onnx(layer: Conv2d, g: OnnxGraph, x: str, path: str, shape: Shape) -> str:
    """Conv: the weight has the same layout everywhere, (out, in, kh, kw)."""
    inputs = [x, g.weight(path, "weight", layer.weight.data)]
    if layer.bias is not None:
        inputs.append(g.weight(path, "bias", layer.bias.data))
    (ph, pw), kernel, stride = layer.padding, list(layer.kernel_size), list(layer.stride)
    # ONNX's pads: the starts of the axes, then their ends (top, left, bottom, right)
    return g.node("Conv", inputs, path, kernel_shape=kernel, strides=stride, pads=[ph, pw, ph, pw])


def _conv2d_torch(layer: Conv2d, torch: Any) -> Any:
    out = torch.nn.Conv2d(
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        stride=layer.stride,
        padding=layer.padding,
        bias=layer.bias is not None,
        dtype=torch.from_numpy(layer.weight.data).dtype,
    )
    out.weight = _parameter(torch, layer.weight.data)
    if layer.bias is not None:
        out.bias = _parameter(torch, layer.bias.data)
    return out


def _pool_onnx(op: str, **extra: int) -> Callable[..., str]:
    """The converter of a pooling layer: ONNX ``op`` with its window attributes."""

    def convert(layer: MaxPool2d | AvgPool2d, g: OnnxGraph, x: str, path: str, shape: Shape) -> str:
        kernel, stride, (ph, pw) = layer.window  # (height, width) pairs
        return g.node(
            op,
            [x],
            path,
            kernel_shape=list(kernel),
            strides=list(stride),
            pads=[ph, pw, ph, pw],
            **extra,
        )

    return convert


def _batch_norm_onnx(
    layer: BatchNorm1d | BatchNorm2d, g: OnnxGraph, x: str, path: str, shape: Shape
) -> str:
    """BatchNormalization with the running statistics (inference), gamma and beta (ones and
    zeros when the layer does not learn them)."""
    if layer.running_mean is None or layer.running_var is None:
        raise NotImplementedError(
            f"to_onnx: cannot export {type(layer).__name__} (at '{path}') with "
            f"track_running_stats=False: it normalises with each batch's own statistics "
            f"even in eval mode, which BatchNormalization cannot express"
        )
    c = layer.num_features
    gamma = np.ones(c) if layer.weight is None else layer.weight.data
    beta = np.zeros(c) if layer.bias is None else layer.bias.data
    inputs = [
        x,
        g.weight(path, "weight", gamma),
        g.weight(path, "bias", beta),
        g.weight(path, "running_mean", layer.running_mean.data),
        g.weight(path, "running_var", layer.running_var.data),
    ]
    return g.node("BatchNormalization", inputs, path, epsilon=float(layer.eps))


def _batch_norm_torch(layer: BatchNorm1d | BatchNorm2d, torch: Any) -> Any:
    """torch.nn.BatchNorm1d/2d with the same settings, loaded with the layer's state_dict
    (the names and layouts are PyTorch's: weight, bias, running_mean, running_var,
    num_batches_tracked)."""
    state = layer.state_dict()
    floats = [array.dtype for array in state.values() if array.dtype.kind == "f"]
    torch_type = torch.nn.BatchNorm1d if isinstance(layer, BatchNorm1d) else torch.nn.BatchNorm2d
    out = torch_type(
        layer.num_features,
        eps=layer.eps,
        momentum=layer.momentum,
        affine=layer.affine,
        track_running_stats=layer.track_running_stats,
        bias=layer.bias is not None,
        dtype=torch.from_numpy(np.zeros(0, floats[0] if floats else np.float32)).dtype,
    )
    out.load_state_dict({name: torch.from_numpy(array) for name, array in state.items()})
    return out


@dataclass(frozen=True)
class LayerRule:
    """How one layer type leaves the library.

    onnx: adds the layer's nodes and weights to an ``OnnxGraph`` (see ``_linear_onnx``);
    torch: builds the equivalent ``torch.nn`` module, weights copied (``_linear_torch``);
    transposed: the parameters that PyTorch stores transposed (Linear's "weight").
    """

    onnx: Callable[..., str]
    torch: Callable[[Any, Any], Any]
    transposed: tuple[str, ...] = ()


RULES: dict[type[Module], LayerRule] = {
    Linear: LayerRule(_linear_onnx, _linear_torch, transposed=("weight",)),
    ReLU: LayerRule(_elementwise_onnx("Relu"), lambda layer, torch: torch.nn.ReLU()),
    Sigmoid: LayerRule(_elementwise_onnx("Sigmoid"), lambda layer, torch: torch.nn.Sigmoid()),
    Tanh: LayerRule(_elementwise_onnx("Tanh"), lambda layer, torch: torch.nn.Tanh()),
    Softmax: LayerRule(
        _softmax_onnx, lambda layer, torch: torch.nn.Softmax(dim=_softmax_axis(layer))
    ),
    Dropout: LayerRule(_dropout_onnx, lambda layer, torch: torch.nn.Dropout(layer.p)),
    Flatten: LayerRule(
        _flatten_onnx, lambda layer, torch: torch.nn.Flatten(start_dim=layer.start_dim)
    ),
    Conv2d: LayerRule(_conv2d_onnx, _conv2d_torch),
    MaxPool2d: LayerRule(
        _pool_onnx("MaxPool"),
        lambda layer, torch: torch.nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding),
    ),
    AvgPool2d: LayerRule(  # zero padding counts in the mean, as in PyTorch
        _pool_onnx("AveragePool", count_include_pad=1),
        lambda layer, torch: torch.nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding),
    ),
    BatchNorm1d: LayerRule(_batch_norm_onnx, _batch_norm_torch),
    BatchNorm2d: LayerRule(_batch_norm_onnx, _batch_norm_torch),
}


def _parameter(torch: Any, array: np.ndarray) -> Any:
    """A torch Parameter holding a copy of ``array`` (same dtype)."""
    return torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(array).copy()))


# ------------------------------------------------------------------ reading a model


def supported_layers() -> list[str]:
    """The names of the layer types that can leave (the keys of ``RULES``)."""
    return [layer_type.__name__ for layer_type in RULES]


def _rule(module: Module, where: str, function: str) -> LayerRule:
    """The rule of ``module``'s exact type, or NotImplementedError naming it.

    NotImplementedError, not TypeError: the module is a valid Module, and the model a
    valid argument; what is missing is a converter, i.e. the exporter's own limit. It is
    also a RuntimeError, the kind torch.onnx raises for an operator it cannot export.
    """
    rule = RULES.get(type(module))
    if rule is not None:
        return rule
    name = type(module).__name__
    why = (
        "it defines its own forward(), which the exporter does not read; rebuild the "
        "model as an nn.Sequential of supported layers"
        if type(module).forward is not Module.forward
        else "it has no forward()"
    )
    raise NotImplementedError(
        f"{function}: cannot export {name} ({where}): {why}. Supported: nn.Sequential of "
        f"{', '.join(supported_layers())}"
    )


def _is_chain(module: Module) -> bool:
    """A Sequential whose forward is Sequential's own: its layers, applied in order."""
    return isinstance(module, Sequential) and type(module).forward is Sequential.forward


def _layers(module: Module, function: str, prefix: str = "") -> list[tuple[str, Module]]:
    """The layers ``module`` applies, in order, with their dotted paths ("1.0" for layer
    0 of the Sequential at position 1); nested Sequentials are opened."""
    if _is_chain(module):
        return [
            pair
            for name, child in module.children()
            for pair in _layers(child, function, f"{prefix}{name}.")
        ]
    where = f"at '{prefix[:-1]}'" if prefix else "the model itself"
    _rule(module, where, function)
    return [(prefix[:-1], module)]


def _modes(model: Module) -> list[tuple[Module, bool]]:
    """Every module of ``model`` with its training flag, to restore after an eval run."""
    pairs = [(model, model.training)]
    for _, child in model.children():
        pairs.extend(_modes(child))
    return pairs


def _trace_shapes(
    model: Module, layers: list[tuple[str, Module]], x: np.ndarray
) -> tuple[list[Shape], Shape]:
    """Run ``x`` through the layers in eval mode: the input shape of each, and the output
    shape. This also checks that ``x`` fits the model (a ValueError names the layer)."""
    modes = _modes(model)
    model.eval()
    shapes = []
    try:
        out: Any = Tensor(x)
        with no_grad():
            for path, layer in layers:
                shapes.append(tuple(out.shape))
                try:
                    out = layer(out)
                except ValueError as err:
                    raise ValueError(f"example_input does not fit layer '{path}': {err}") from None
    finally:
        for module, training in modes:
            module.training = training
    return shapes, tuple(out.shape)


# ------------------------------------------------------------------------------- ONNX


def _import_onnx(function: str) -> Any:
    """The onnx package, or an ImportError naming the extra to install."""
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as err:
        raise ImportError(f"{function} needs the onnx package: {ONNX_HINT}") from err
    return onnx


def to_onnx(
    model: Module,
    example_input: Any,
    path: str | os.PathLike[str],
    opset: int = 17,
) -> onnx.ModelProto:
    """Write ``model`` as an ONNX file at ``path`` and return the ``onnx.ModelProto``.

    model: an ``nn.Sequential`` (nested ones too) of the layers in ``RULES``; exported in
        eval mode (Dropout is the identity), its training flags untouched.
    example_input: a batch the model accepts, (N, ...); it sets the input's shape except
        axis 0, which stays dynamic (named "batch"): any batch size runs.
    opset: the ONNX operator set: 13 up to the installed onnx package's newest.

    The graph reads "input" and writes "output" (both float32: float64 weights are rounded
    to float32, the type every ONNX runtime runs), passes ``onnx.checker.check_model``, and
    is written atomically (a failed export leaves no file). Raises NotImplementedError
    naming a layer that cannot be exported, ValueError for an example input that does not
    fit, ImportError without onnx (``pip install 'tinygrad_edu[onnx]'``).
    """
    onnx = _import_onnx("to_onnx")
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(
            f"to_onnx: opset must be in {MIN_OPSET} .. {onnx.defs.onnx_opset_version()} "
            f"(this onnx package's newest), got {opset}"
        )
    x = np.asarray(example_input.data if isinstance(example_input, Tensor) else example_input)
    if x.ndim < 2:
        raise ValueError(
            f"to_onnx: example_input must be a batch (N, ...), got shape {x.shape}; add a "
            f"batch axis: x[None]"
        )
    layers = _layers(model, "to_onnx")
    shapes, out_shape = _trace_shapes(model, layers, x.astype(np.float32))

    g = OnnxGraph(onnx)
    name = "input"
    for (where, layer), shape in zip(layers, shapes):
        name = RULES[type(layer)].onnx(layer, g, name, where, shape)
    if name == "input":  # nothing but identities (Dropout): one Identity node
        g.node("Identity", [name], "")
    g.nodes[-1].output[0] = "output"  # the last node writes the graph's output

    float32 = onnx.TensorProto.FLOAT
    graph = onnx.helper.make_graph(
        g.nodes,
        type(model).__name__,
        inputs=[onnx.helper.make_tensor_value_info("input", float32, [BATCH, *x.shape[1:]])],
        outputs=[onnx.helper.make_tensor_value_info("output", float32, [BATCH, *out_shape[1:]])],
        initializer=g.initializers,
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=onnx.helper.find_min_ir_version_for(opsets),  # readable by older runtimes
        producer_name="tinygrad_edu",
        doc_string=repr(model),
    )
    onnx.checker.check_model(proto, full_check=True)
    with atomic_write(Path(path)) as f:
        f.write(proto.SerializeToString())
    return proto


# ---------------------------------------------------------------------------- PyTorch


def _import_torch(function: str) -> Any:
    """The torch package, or an ImportError naming the extra to install."""
    try:
        import torch
    except ImportError as err:
        raise ImportError(f"{function} needs PyTorch: {TORCH_HINT}") from err
    return torch


def to_torch(model: Module) -> torch.nn.Module:
    """The same model built from ``torch.nn`` layers, weights copied (Linear's transposed
    to PyTorch's (out, in)), in the same dtype and the same training/eval mode.

    A Sequential becomes a ``torch.nn.Sequential`` (nested ones too), so the parameter
    names match: our "0.weight" is PyTorch's "0.weight". A layer used twice becomes one
    torch module used twice, so tied weights stay tied. Raises NotImplementedError
    naming a layer that has no PyTorch equivalent here, ImportError without PyTorch
    (``pip install 'tinygrad_edu[torch]'``).
    """
    torch = _import_torch("to_torch")
    _layers(model, "to_torch")  # every layer supported, or one error before any work
    return _torch_module(model, torch, {})


def _torch_module(module: Module, torch: Any, built: dict[int, Any]) -> Any:
    """The torch module of ``module``; ``built`` maps id(module) to the torch modules made
    so far, so that a module met again gives the same torch module."""
    if id(module) not in built:
        if _is_chain(module):
            children = (_torch_module(child, torch, built) for _, child in module.children())
            out = torch.nn.Sequential(*children)
        else:
            out = RULES[type(module)].torch(module, torch)
        built[id(module)] = out.train(module.training)
    return built[id(module)]


def load_torch_state_dict(model: Module, state_dict: Mapping[str, Any]) -> Module:
    """Load a PyTorch ``state_dict`` into ``model`` (in place); returns the model.

    state_dict: {name: torch tensor or numpy array}, e.g. ``to_torch(model).state_dict()``,
        a PyTorch-trained model of the same layers, or ``torch.load(path,
        weights_only=True)`` of a saved one. Names are PyTorch's, which are ours
        ("0.weight"); Linear weights are (out, in) there and transposed here. BatchNorm's
        "num_batches_tracked" counters are optional, as in PyTorch: one that is missing
        leaves the model's count as it is, one that is given is loaded (and one the model
        has no place for is ignored).

    Every problem is reported at once, in one ValueError: missing and unexpected names,
    and each array whose shape differs (in PyTorch's layout), by name. Nothing is changed
    unless everything fits. Needs neither torch nor onnx.
    """
    layers = _layers(model, "load_torch_state_dict")
    transposed = {
        f"{path}.{name}" if path else name
        for path, layer in layers
        for name in RULES[type(layer)].transposed
    }
    ours = model.state_dict()
    theirs = {name: _as_numpy(value) for name, value in state_dict.items()}
    problems = [
        f"missing key '{name}'" for name in ours if name not in theirs and not _optional(name)
    ]
    problems += [
        f"unexpected key '{name}'" for name in theirs if name not in ours and not _optional(name)
    ]
    arrays = {name: ours[name] for name in ours if name not in theirs and _optional(name)}
    for name in (name for name in ours if name in theirs):
        array = theirs[name]
        expected = ours[name].shape[::-1] if name in transposed else ours[name].shape
        if array.dtype.kind not in "biuf":
            problems.append(f"'{name}' holds {array.dtype} values, not numbers")
        elif array.shape != expected:
            layout = f" (PyTorch's layout of our {ours[name].shape})" if name in transposed else ""
            problems.append(f"'{name}' has shape {array.shape}, the model needs {expected}{layout}")
        else:
            arrays[name] = array.T if name in transposed else array
    if problems:
        raise ValueError(
            f"load_torch_state_dict: {len(problems)} problem(s): {'; '.join(problems)}. "
            f"This model's names and PyTorch shapes: "
            + ", ".join(
                f"{name} {ours[name].shape[::-1] if name in transposed else ours[name].shape}"
                for name in ours
            )
        )
    model.load_state_dict(arrays)
    return model


def _optional(name: str) -> bool:
    """Whether a state_dict entry may be missing or extra: BatchNorm's batch counter,
    "num_batches_tracked", which older PyTorch versions did not save."""
    return name.rpartition(".")[2] == "num_batches_tracked"


def _as_numpy(value: Any) -> np.ndarray:
    """A torch tensor (detached, on the CPU) or anything array-like, as a numpy array."""
    if hasattr(value, "detach"):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    return np.asarray(value)
