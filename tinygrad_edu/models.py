"""The study notes' ``TwoLayerNet``, written on top of the library.

Same interface as the notes (``params``, ``predict``, ``loss``, ``accuracy``, ``gradient``,
``numerical_gradient``), so the chapter's gradient check runs as written:

    net = TwoLayerNet(784, 50, 10)
    grad_numerical = net.numerical_gradient(x[:3], t[:3])
    grad_backprop = net.gradient(x[:3], t[:3])
    for key in grad_numerical:
        print(key, np.mean(np.abs(grad_backprop[key] - grad_numerical[key])))
"""

import numpy as np

from tinygrad_edu import functional as F
from tinygrad_edu import numerical
from tinygrad_edu.autograd import no_grad
from tinygrad_edu.nn import Module
from tinygrad_edu.tensor import Tensor


class TwoLayerNet(Module):
    """input -> Affine -> ReLU -> Affine -> (softmax with loss).

    Shapes: W1 (input_size, hidden_size), b1 (hidden_size,), W2 (hidden_size, output_size),
    b2 (output_size,). float64 by default, like the notes' numpy code, so numerical
    gradients are accurate.
    """

    def __init__(
        self, input_size, hidden_size, output_size, weight_init_std=0.01, dtype=np.float64
    ):
        def weight(*shape):
            w = weight_init_std * np.random.standard_normal(shape)
            return Tensor(w.astype(dtype), requires_grad=True)

        self.W1 = weight(input_size, hidden_size)
        self.b1 = Tensor(np.zeros(hidden_size, dtype), requires_grad=True)
        self.W2 = weight(hidden_size, output_size)
        self.b2 = Tensor(np.zeros(output_size, dtype), requires_grad=True)

    @property
    def params(self):
        """{"W1": ndarray, "b1": ..., "W2": ..., "b2": ...}: the parameters' arrays, as in the
        notes. They are shared with the Tensors, so the notes' in-place update
        ``net.params[key] -= lr * grad[key]`` trains the net."""
        return {name: p.data for name, p in self.named_parameters()}

    def predict(self, x):
        """(N, input_size) -> (N, output_size) scores (before softmax)."""
        h = F.relu(F.linear(x, self.W1, self.b1))
        return F.linear(h, self.W2, self.b2)

    forward = predict

    def loss(self, x, t):
        """Mean softmax cross-entropy; t: class indices (N,) or one-hot (N, output_size)."""
        return F.cross_entropy(self.predict(x), t)

    def accuracy(self, x, t):
        with no_grad():
            y = self.predict(x).data.argmax(axis=1)
        t = np.asarray(t)
        if t.ndim != 1:
            t = t.argmax(axis=1)
        return float(np.mean(y == t))

    def gradient(self, x, t):
        """Gradients by backpropagation: {name: ndarray}."""
        self.zero_grad()
        self.loss(x, t).backward()
        return {name: p.grad.data for name, p in self.named_parameters()}

    def numerical_gradient(self, x, t):
        """Gradients by central differences, one weight at a time (slow!): {name: ndarray}."""

        def loss_w(_):
            with no_grad():
                return self.loss(x, t).item()

        return {
            name: numerical.numerical_gradient(loss_w, p) for name, p in self.named_parameters()
        }
