"""Tests for tinygrad_edu.models.TwoLayerNet: the study notes' interface, the chapter's
gradient check (backprop against numerical gradients, also on real MNIST rows),
accuracy, and training steps written as in the notes."""

import numpy as np
import pytest

from tinygrad_edu import optim
from tinygrad_edu.datasets import load_mnist
from tinygrad_edu.models import TwoLayerNet

KEYS = ("W1", "b1", "W2", "b2")


def small_problem(weight_init_std=0.01, seed=0):
    """A 20 -> 10 -> 3 net and 3 samples, float64."""
    np.random.seed(seed)
    net = TwoLayerNet(20, 10, 3, weight_init_std=weight_init_std)
    rng = np.random.default_rng(seed)
    return net, rng.standard_normal((3, 20)), np.array([0, 2, 1])


def one_hot(t, classes):
    return np.eye(classes)[t]


def check_backprop_against_numerical(net, x, t):
    """The chapter's check: per parameter, mean |backprop - numerical| < 1e-6. Also
    returns both gradients so callers can make sharper checks."""
    before = {k: p.copy() for k, p in net.params.items()}
    numerical = net.numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    assert set(numerical) == set(backprop) == set(KEYS)
    for key in KEYS:
        assert backprop[key].shape == numerical[key].shape == net.params[key].shape
        assert np.mean(np.abs(backprop[key] - numerical[key])) < 1e-6, key
        np.testing.assert_array_equal(net.params[key], before[key])  # restored
    return backprop, numerical


def test_params_have_the_notes_names_shapes_and_dtype():
    net = TwoLayerNet(784, 50, 10)
    shapes = {k: p.shape for k, p in net.params.items()}
    assert shapes == {"W1": (784, 50), "b1": (50,), "W2": (50, 10), "b2": (10,)}
    assert list(net.params) == list(KEYS)
    assert all(p.dtype == np.float64 for p in net.params.values())
    # params holds the arrays of the parameter Tensors themselves (shared, not copies)
    tensors = dict(net.named_parameters())
    assert all(net.params[k] is tensors[k].data and tensors[k].requires_grad for k in KEYS)
    np.testing.assert_array_equal(net.params["b1"], 0)
    assert net.params["W1"].std() == pytest.approx(0.01, rel=0.05)
    assert net.predict(np.zeros((5, 784))).shape == (5, 10)


@pytest.mark.parametrize("labels", ["indices", "one-hot"])
def test_gradient_check_small_net(labels):
    net, x, t = small_problem()
    backprop, _ = check_backprop_against_numerical(
        net, x, t if labels == "indices" else one_hot(t, 3)
    )
    # the check is not vacuous: the gradients are far from zero
    assert all(np.abs(backprop[k]).max() > 1e-4 for k in KEYS)


def test_gradient_check_is_sharp_with_larger_weights():
    # With weight_init_std=0.01 every gradient is small, so an absolute check is lenient;
    # with unit weights a relative comparison catches any missing factor.
    net, x, t = small_problem(weight_init_std=1.0, seed=1)
    backprop, numerical = check_backprop_against_numerical(net, x, t)
    for key in KEYS:
        np.testing.assert_allclose(backprop[key], numerical[key], rtol=1e-5, atol=1e-8)


def test_gradient_check_on_real_mnist_rows(mnist_dir):
    (x_train, t_train), _ = load_mnist(data_dir=mnist_dir)
    x, t = x_train[:3].astype(np.float64), t_train[:3]
    np.random.seed(0)
    net = TwoLayerNet(784, 10, 10)
    backprop, _ = check_backprop_against_numerical(net, x, t)
    assert np.abs(backprop["W1"]).max() > 0


def test_accuracy_with_int_and_one_hot_labels():
    net, x, _ = small_problem()
    predicted = net.predict(x).data.argmax(axis=1)
    wrong = (predicted + 1) % 3
    t = np.where([True, False, True], predicted, wrong)  # 2 of 3 right
    assert net.accuracy(x, t) == pytest.approx(2 / 3)
    assert net.accuracy(x, one_hot(t, 3)) == pytest.approx(2 / 3)
    assert net.accuracy(x, predicted) == 1.0


def training_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 20))
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)


def test_a_few_sgd_steps_reduce_the_loss():
    net, _, _ = small_problem(weight_init_std=0.1)
    x, t = training_data()
    opt = optim.SGD(net.parameters(), lr=0.5)
    first = net.loss(x, t).item()
    for _ in range(20):
        opt.zero_grad()
        net.loss(x, t).backward()
        opt.step()
    assert net.loss(x, t).item() < 0.7 * first


def test_the_notes_update_loop_as_written_trains_the_net():
    # The chapter trains with `network.params[key] -= learning_rate * grad[key]`; the
    # module promises the notes' interface, so that loop must change the weights.
    net, _, _ = small_problem(weight_init_std=0.1)
    x, t = training_data()
    first = net.loss(x, t).item()
    for _ in range(20):
        grad = net.gradient(x, t)
        for key in KEYS:
            net.params[key] -= 0.5 * grad[key]
    assert net.loss(x, t).item() < 0.7 * first
