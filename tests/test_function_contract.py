"""The contract of a custom op (``Function``) and of numpy functions on Tensors: whatever a
user writes either works on the graph or fails loudly, naming the op; never a silently
lost gradient or second derivative."""

import numpy as np
import pytest

from tinygrad_edu import Function, Tensor, no_grad


def leaf_vector():
    """A float64 leaf of shape (3,) that requires grad."""
    return Tensor([0.5, -1.0, 2.0], requires_grad=True)


class NumpyWhereReLU(Function):
    """ReLU whose backward uses np.where: fine on arrays, not recordable."""

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, grad):
        (x,) = self.saved_inputs()
        return np.where(x > 0, grad, 0)


class OnceDifferentiableReLU(NumpyWhereReLU):
    once_differentiable = True


class ConstantGradient(Function):
    """A backward that returns a fresh array, unrelated to ``grad``."""

    def forward(self, x):
        return x * 2

    def backward(self, grad):
        return np.full(self.input_arrays[0].shape, 2.0)


@pytest.mark.parametrize("op", [NumpyWhereReLU, OnceDifferentiableReLU])
def test_a_numpy_backward_gives_first_derivatives(op):
    x = leaf_vector()
    op()(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 1.0])


def test_numpy_function_in_a_recorded_backward_raises_naming_the_op_and_the_cure():
    x = leaf_vector()
    with pytest.raises(TypeError, match=r"numpywhererelu\.backward.*once_differentiable"):
        NumpyWhereReLU()(x).sum().backward(create_graph=True)


def test_numpy_function_on_a_recorded_tensor_in_a_backward_names_the_cure():
    class WhereOnInput(NumpyWhereReLU):
        def backward(self, grad):
            (x,) = self.saved_inputs()
            return grad * np.where(x.data > 0, x, 0)  # x requires grad while recording

    x = leaf_vector()
    with pytest.raises(TypeError, match=r"np\.where in a Function's backward.*once_differentiable"):
        WhereOnInput()(x).sum().backward(create_graph=True)


def test_once_differentiable_refuses_create_graph_naming_the_op():
    x = leaf_vector()
    y = OnceDifferentiableReLU()(x).sum()
    with pytest.raises(RuntimeError, match="'oncedifferentiablerelu' is once_differentiable"):
        y.backward(create_graph=True)


def test_an_array_returned_while_recording_is_refused_naming_the_op_and_input():
    x = leaf_vector()
    with pytest.raises(
        TypeError, match=r"constantgradient\.backward returned a ndarray for input 0 "
    ):
        ConstantGradient()(x).sum().backward(create_graph=True)


def test_numpy_ufuncs_on_tensors_are_recorded_ops():
    x = leaf_vector()
    y = np.exp(x) * np.array([1.0, 2.0, 3.0]) + np.log(np.abs(x))  # ufuncs on both sides
    assert isinstance(y, Tensor) and y.creator is not None
    y.sum().backward()
    v = x.data
    np.testing.assert_allclose(x.grad.data, np.exp(v) * [1, 2, 3] + 1 / v)


def test_numpy_ufunc_second_derivative_inside_a_backward():
    class Softplus(Function):  # backward written with np.exp: recorded when create_graph
        def forward(self, x):
            return np.log1p(np.exp(x))

        def backward(self, grad):
            (x,) = self.saved_inputs()
            return grad / (1 + np.exp(-x))

    x = leaf_vector()
    Softplus()(x).sum().backward(create_graph=True)
    first = x.grad
    x.grad = None
    first.sum().backward()
    s = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(x.grad.data, s * (1 - s))  # sigmoid'


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda t: np.sum(t), "np.sum"),
        (lambda t: np.where(t.data > 0, t, 0), "np.where"),
        (lambda t: np.dot(t, t), "np.dot"),
        (lambda t: np.concatenate([t, t]), "np.concatenate"),
        (lambda t: np.maximum(t, 0), "np.maximum"),
        (lambda t: np.sin(t), "np.sin"),
    ],
)
def test_numpy_functions_that_would_drop_the_graph_raise(call, name):
    with pytest.raises(TypeError, match=rf"{name} was given a Tensor that requires grad.*t\.sum"):
        call(leaf_vector())


def test_numpy_functions_without_a_gradient_at_stake_still_work():
    x = leaf_vector()
    assert np.shape(x) == (3,) and np.argmax(x) == 2  # no float result: nothing lost
    assert bool(np.all(np.isfinite(x).data))
    with no_grad():  # nothing is recorded anyway
        assert np.sum(x) == pytest.approx(1.5)
    constant = Tensor([1.0, 2.0])  # does not require grad
    assert np.sum(constant) == 3.0
    np.testing.assert_allclose(np.sin(constant).data, np.sin([1.0, 2.0]))
    assert isinstance(np.array([1.0, 2.0]) > constant, Tensor)
