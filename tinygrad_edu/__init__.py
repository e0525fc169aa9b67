"""tinygrad_edu: a small autograd framework for learning deep learning from scratch.

    >>> from tinygrad_edu import Tensor
    >>> x = Tensor([2.0], requires_grad=True)
    >>> (x**3).sum().backward()
    >>> x.grad
    Tensor([12.], dtype=float64)

Modules: ``nn`` (layers: Linear, Conv2d, pooling, BatchNorm, ``nn.init``, ``nn.utils``),
``functional`` (activations, losses, convolution), ``optim`` (SGD, Adagrad, RMSprop,
Adam, AdamW, ``optim.lr_scheduler``), ``numerical`` (numerical differentiation, gradient
checks, ``gradcheck_graph``), ``datasets`` (MNIST), ``data`` (mini-batches), ``metrics``,
``models`` (the notes' TwoLayerNet), ``monitor`` (the training health monitor), ``export``
(to ONNX and PyTorch), ``trace`` (graph mode: ``trace``, ``trace_step``), ``viz`` (graph
drawings), ``explain`` (``explain_backward``: backprop step by step), ``threads`` (how many
threads numpy's matrix products use), ``memory`` (``keep_freed_memory``: reuse freed
memory instead of page-faulting it back at every step).
"""

from tinygrad_edu import (
    data,
    datasets,
    functional,
    memory,
    metrics,
    models,
    nn,
    numerical,
    optim,
    threads,
    viz,
)
from tinygrad_edu.explain import explain_backward
from tinygrad_edu.grad_mode import (
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinygrad_edu.ops import Function
from tinygrad_edu.tensor import Tensor, as_tensor, concatenate, stack
from tinygrad_edu.threads import get_num_threads, set_num_threads
from tinygrad_edu.trace import trace, trace_step

__all__ = [
    "Function",
    "Tensor",
    "as_tensor",
    "concatenate",
    "data",
    "datasets",
    "detect_anomaly",
    "enable_grad",
    "explain_backward",
    "functional",
    "get_num_threads",
    "is_grad_enabled",
    "memory",
    "metrics",
    "models",
    "nn",
    "no_grad",
    "numerical",
    "optim",
    "set_grad_enabled",
    "set_num_threads",
    "stack",
    "threads",
    "trace",
    "trace_step",
    "viz",
]
__version__ = "0.1.0"
