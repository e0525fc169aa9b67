"""Graph mode (tinygrad_edu.trace): a traced plan computes what eager mode computes.

The judge is always the eager library itself, run on the same inputs: values of ``trace``
on a hypothesis-drawn set of ops and shapes and on the flagship networks, gradients and
updated weights of ``trace_step`` for SGD, SGD with momentum and Adam, and the accuracy a
traced training loop reaches on real MNIST. Then what a trace must refuse, with its
message. No timing here: speed is measured in benchmarks/.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, no_grad, optim
from tinygrad_edu.datasets import load_mnist
from tinygrad_edu.models import ThreeLayerNet
from tinygrad_edu.trace import SHORT_ROW, Traced, trace, trace_step

# Ops of one tensor: each a function eager mode computes and a plan must replay.
OPS = {
    "exp": lambda t: t.exp(),
    "log": lambda t: (t * t + 1).log(),
    "sqrt": lambda t: (t * t + 1).sqrt(),
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "relu": lambda t: t.relu(),
    "neg_abs": lambda t: -t.abs(),
    "affine": lambda t: 3 * t - 1,
    "div": lambda t: t / (t * t + 1),
    "pow": lambda t: (t * t + 1) ** 1.5,
    "clip": lambda t: t.clip(-0.5, 0.5),
    "softmax": lambda t: t.softmax(axis=-1),
    "log_softmax": lambda t: t.log_softmax(axis=0),
    "sum": lambda t: t.sum(axis=0),
    "mean": lambda t: t.mean(),
    "max": lambda t: t.max(axis=-1),
    "reshape": lambda t: t.reshape(-1) * 2,
    "transpose": lambda t: t.T + 1,
    "getitem": lambda t: t[:, :1] * t,
    "matmul": lambda t: t @ t.T,
    "linear_relu": lambda t: F.linear(t, t.T, t[0]).relu(),
    "two_uses": lambda t: t.sigmoid() * t.tanh() + t,
}


def draw(rng, shape, dtype):
    return rng.uniform(-3, 3, shape).astype(dtype)


class Lab(nn.Module):
    """``op(x * w)`` with a parameter ``w`` of x's shape: the gradient reaches w through op."""

    def __init__(self, w, op):
        self.w, self.op = Tensor(w, requires_grad=True), op

    def forward(self, x):
        return self.op(x * self.w)


def weighted_sum(y, t):
    """A loss that weighs every output element: all of op's gradient matters."""
    return (y * t).sum()


# --------------------------------------------------------------------- values, gradients


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(OPS)),
    rows=st.integers(1, 4),
    cols=st.integers(1, 5),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_traced_ops_agree_with_eager(name, rows, cols, dtype, seed):
    """Values (trace) and gradients (trace_step) of every op, for new inputs."""
    op, rng = OPS[name], np.random.default_rng(seed)
    shape = (cols, cols) if name == "linear_relu" else (rows, cols)
    traced = trace(op, draw(rng, shape, dtype))
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12}
    for _ in range(3):
        x = draw(rng, shape, dtype)
        with no_grad():
            expected = op(Tensor(x))
        got = traced(x)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_allclose(got.data, expected.data, **tolerance)

    w0 = draw(rng, shape, dtype)
    eager, replayed = Lab(w0.copy(), op), Lab(w0.copy(), op)
    sgd = optim.SGD(replayed.parameters(), lr=0.0)  # lr 0: compare gradients at w0
    x, t = draw(rng, shape, dtype), draw(rng, op(Tensor(w0)).shape, dtype)
    step = trace_step(replayed, weighted_sum, sgd, draw(rng, shape, dtype), t)
    loss = step(x, t)
    expected_loss = weighted_sum(eager(x), t)
    expected_loss.backward()
    np.testing.assert_allclose(loss.data, expected_loss.data, **tolerance)
    np.testing.assert_allclose(replayed.w.grad.data, eager.w.grad.data, **tolerance)
    assert replayed.w.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fused", [False, True])
def test_sigmoid_of_extreme_inputs(dtype, fused):
    """The plan's sigmoid, 0.5 tanh(z / 2) + 0.5, alone or fused after a linear layer, on
    inputs from -1000 to 1000: no numpy warning (e^-z would overflow), eager's values to
    float rounding near 0 and 1."""
    z = np.array([[-1000, -90, -30, -17, -5, -1e-3, 0, 1e-3, 5, 17, 30, 90, 1000]], dtype)
    layer = nn.Linear(13, 13, dtype=dtype)
    layer.load_state_dict({"weight": np.eye(13, dtype=dtype), "bias": np.zeros(13, dtype)})

    def fn(x):
        return (layer(x) if fused else x).sigmoid()

    traced = trace(fn, np.zeros_like(z))
    assert ("fused" in str(traced)) == fused and "tanh" in str(traced)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = traced(z).data
        with no_grad():
            expected = fn(Tensor(z)).data
    np.testing.assert_allclose(got, expected, rtol=0, atol=np.finfo(dtype).eps)
    assert got[0, 0] == 0 and got[0, -1] == 1 and got.dtype == dtype


def book_network(rng):
    net = ThreeLayerNet(784, 50, 100, 10)
    shapes = {"W1": (784, 50), "b1": (50,), "W2": (50, 100), "b2": (100,), "W3": (100, 10)}
    weights = {k: (0.3 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}
    weights["b3"] = np.zeros(10, np.float32)
    return net.load_state_dict(weights)


def test_flagship_inference_many_inputs(rng):
    """The book's 3-layer sigmoid network, one image and batches, 60 inputs each."""
    net = book_network(rng)
    traced = trace(net, np.zeros((1, 784), np.float32))
    for batch in (1, 100, 1, 7):
        for _ in range(15):
            x = rng.random((batch, 784), dtype=np.float32) * 4 - 2
            with no_grad():
                expected = net(x).data
            np.testing.assert_allclose(traced(x).data, expected, rtol=1e-5, atol=1e-7)
    assert len(traced.plans) == 3  # one per batch size: 1, 100, 7


def test_inference_sees_new_weights(rng):
    """Parameters are read by reference: load_state_dict and in-place updates show."""
    net = book_network(rng)
    x = rng.random((2, 784), dtype=np.float32)
    traced = trace(net, x)
    net.load_state_dict({k: v * 0.5 for k, v in net.state_dict().items()})
    with no_grad():
        expected = net(x).data
    np.testing.assert_allclose(traced(x).data, expected, rtol=1e-5, atol=1e-7)


def mlp(seed, hidden=32):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    weights = {
        k: rng.standard_normal(v.shape).astype(np.float32) * 0.05
        for k, v in model.state_dict().items()
    }
    return model.load_state_dict(weights)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda ps: optim.Adam(ps, lr=1e-3),
        lambda ps: optim.AdamW(ps, lr=1e-3),
        lambda ps: optim.RMSprop(ps, lr=1e-3, momentum=0.5),
    ],
    ids=["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"],
)
def test_trace_step_matches_eager_steps(rng, make):
    """Same losses, gradients and weights as zero_grad/backward/step, step after step."""
    eager_model, traced_model = mlp(1), mlp(1)
    eager_opt, traced_opt = make(eager_model.parameters()), make(traced_model.parameters())
    x0, t0 = rng.random((20, 784), dtype=np.float32), rng.integers(0, 10, 20)
    step = trace_step(traced_model, F.cross_entropy, traced_opt, x0, t0)
    for _ in range(8):
        x, t = rng.random((20, 784), dtype=np.float32), rng.integers(0, 10, 20)
        loss = step(x, t)
        eager_loss = F.cross_entropy(eager_model(x), t)
        eager_opt.zero_grad()
        eager_loss.backward()
        eager_opt.step()
        assert loss.dtype == np.float32 and loss.shape == ()
        np.testing.assert_allclose(loss.data, eager_loss.data, rtol=1e-6)
        # float32 sums in another order (the plan's bias gradients are ones @ g, its
        # softmax is stored class-major): where terms cancel, a gradient is as exact as a
        # few float steps of the largest one; Adam and RMSprop divide by the gradients'
        # size, so the weights move by 1e-7s
        for p, q in zip(traced_model.parameters(), eager_model.parameters()):
            scale = np.abs(q.grad.data).max()
            np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=1e-5, atol=1e-6 * scale)
            np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-6)
    assert traced_opt.state_dict()["state"].keys() == eager_opt.state_dict()["state"].keys()


def test_trace_step_reads_the_learning_rate_at_each_step(rng):
    model = mlp(2)
    sgd = optim.SGD(model.parameters(), lr=0.1)
    x, t = rng.random((5, 784), dtype=np.float32), rng.integers(0, 10, 5)
    step = trace_step(model, F.cross_entropy, sgd, x, t)
    before = [p.data.copy() for p in model.parameters()]  # tracing changed nothing
    sgd.lr = 0.0  # as a scheduler would
    step(x, t)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_trace_step_retraces_the_last_smaller_batch(rng):
    model = mlp(3)
    step = trace_step(
        model,
        F.cross_entropy,
        optim.SGD(model.parameters(), lr=0.1),
        rng.random((8, 784), dtype=np.float32),
        rng.integers(0, 10, 8),
    )
    step(rng.random((8, 784), dtype=np.float32), rng.integers(0, 10, 8))
    step(rng.random((3, 784), dtype=np.float32), rng.integers(0, 10, 3))
    assert len(step.plans) == 2


def test_traced_training_reaches_eager_accuracy(mnist_dir):
    """The flagship 784-100-10, 300 SGD steps of 100 real MNIST images, eager and traced
    from the same weights on the same batches: the same test accuracy."""
    (x_train, t_train), (x_test, t_test) = load_mnist(data_dir=mnist_dir)
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(x_train), 100, replace=False) for _ in range(300)]
    accuracies = []
    for traced in (False, True):
        model = mlp(4, hidden=100)
        sgd = optim.SGD(model.parameters(), lr=0.1)
        if traced:
            step = trace_step(model, F.cross_entropy, sgd, x_train[:100], t_train[:100])
        for rows in batches:
            x, t = x_train[rows], t_train[rows]
            if traced:
                step(x, t)
            else:
                loss = F.cross_entropy(model(x), t)
                sgd.zero_grad()
                loss.backward()
                sgd.step()
        with no_grad():
            labels = model(x_test[:2000]).data.argmax(axis=1)
        accuracies.append(float(np.mean(labels == t_test[:2000])))
    assert accuracies[0] > 0.85  # it learned
    assert accuracies[1] == pytest.approx(accuracies[0], abs=0.005)


# ------------------------------------------------------------------------ shapes, buffers


def test_other_shapes_retrace_or_raise(rng):
    def f(x):
        return x.sigmoid() * 2

    x = rng.random((2, 3))
    traced = trace(f, x)
    assert traced(rng.random((4, 3))).shape == (4, 3)
    assert traced(x.astype(np.float32)).dtype == np.float32
    assert len(traced.plans) == 3
    strict = trace(f, x, retrace=False)
    with pytest.raises(ValueError, match=r"\(4, 3\) float64.*traced for \(2, 3\) float64"):
        strict(rng.random((4, 3)))
    with pytest.raises(TypeError, match="takes 1 input"):
        strict(x, x)


def test_plans_are_kept_up_to_max_plans(rng):
    traced = trace(lambda x: x * 2, rng.random(1), max_plans=2)
    for n in (2, 3, 1):
        traced(rng.random(n))
    assert [p.key[0][0] for p in traced.plans] == [(1,), (3,)]
    with pytest.raises(ValueError, match="max_plans"):
        trace(lambda x: x * 2, rng.random(1), max_plans=0)


def test_results_are_copies_by_default(rng):
    traced = trace(lambda x: (x.exp(), x.exp().reshape(-1), x * 1), rng.random((2, 2)))
    first = traced(rng.random((2, 2)))
    kept = [t.data.copy() for t in first]
    second = traced(rng.random((2, 2)))
    for a, k in zip(first, kept):
        np.testing.assert_array_equal(a.data, k)  # not overwritten by the next call
    arrays = [t.data for t in (*first, *second)]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)
    assert isinstance(first, tuple)


def test_copy_false_returns_the_buffers(rng):
    traced = trace(lambda x: x.exp() + 1, rng.random(3), copy=False)
    first = traced(np.zeros(3))
    second = traced(np.ones(3))
    assert np.shares_memory(first.data, second.data)  # documented: the next call overwrites
    np.testing.assert_allclose(first.data, np.e + 1)


def test_constant_results_and_lists(rng):
    w = Tensor(rng.random(3), requires_grad=True)
    traced = trace(lambda x: [x, x * w], rng.random(3))
    x = rng.random(3)
    out = traced(x)
    assert isinstance(out, list)
    np.testing.assert_array_equal(out[0].data, x)
    np.testing.assert_allclose(out[1].data, x * w.data)


# ----------------------------------------------------------------- what a trace freezes


def test_python_if_is_decided_once():
    """The TF1 lesson, as in the module's docstring: the branch taken at trace time."""

    def f(x):
        if x.sum() > 0:
            return x * 2
        return -x

    g = trace(f, np.ones(3))
    np.testing.assert_array_equal(g(-np.ones(3)).data, [-2.0, -2.0, -2.0])
    np.testing.assert_array_equal(f(Tensor(-np.ones(3))).data, [1.0, 1.0, 1.0])  # eager


def test_target_of_cross_entropy_follows_the_input(rng):
    """The labels reach cross_entropy as a constant of the op: the plan re-reads them."""
    logits = Tensor(rng.standard_normal((6, 4)), requires_grad=True)

    def loss(t):
        return F.cross_entropy(logits, t)

    traced = trace(loss, np.zeros(6, np.int64))
    t = rng.integers(0, 4, 6)
    np.testing.assert_allclose(traced(t).data, F.cross_entropy(logits, t).data, rtol=1e-12)


# ------------------------------------------------------------------------------ refusals


def test_refuses_a_function_without_a_tensor_result():
    with pytest.raises(TypeError, match="returned float, not a Tensor"):
        trace(lambda x: 3.0, np.ones(2))
    with pytest.raises(TypeError, match="fn must be callable"):
        trace("f", np.ones(2))


def test_refuses_a_result_no_op_computed():
    with pytest.raises(RuntimeError, match=r"output 0 .* not computed by a recorded op"):
        trace(lambda x: x.argmax(axis=0), np.ones((2, 2)))


@pytest.mark.parametrize(
    "read, what",
    [
        (lambda y: y.item(), r"item\(\)"),
        (lambda y: y.numpy().sum(), r"numpy\(\)"),
        (float, r"float\(t\)"),
        (int, r"int\(t\)"),
        (np.asarray, r"np.asarray\(t\)"),
    ],
    ids=["item", "numpy", "float", "int", "asarray"],
)
def test_refuses_reading_values_inside(read, what):
    def f(x):
        return x * read(x.sum())

    with pytest.raises(RuntimeError, match=f"trace\\(f\\): {what} reads the values.*data leaves"):
        trace(f, np.ones(3))
    assert float(Tensor(2.0) * 2) == 4.0  # outside a trace, reading is fine again


def test_refuses_an_input_used_through_detach():
    with pytest.raises(RuntimeError, match="shares memory with input 0"):
        trace(lambda x: x.detach() * Tensor(2.0, requires_grad=True), np.ones(3))


def test_refuses_backward_inside(rng):
    def f(x):
        y = (x * x).sum()
        y.backward()
        return y

    with pytest.raises(RuntimeError, match=r"backward.*use trace_step"):
        trace(f, np.ones(3))

    model = mlp(5)

    def loss_with_backward(y, t):
        loss = F.cross_entropy(y, t)
        loss.backward()
        return loss

    sgd = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="backward"):
        trace_step(model, loss_with_backward, sgd, rng.random((2, 784)), np.array([1, 2]))


def test_refuses_batch_norm_in_training_mode(rng):
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    with pytest.raises(RuntimeError, match=r"'batch_norm' in training mode.*eval"):
        trace(model, rng.random((5, 4)).astype(np.float32))
    model.eval()
    x = rng.random((5, 4)).astype(np.float32)
    traced = trace(model, x)
    with no_grad():
        np.testing.assert_allclose(traced(x).data, model(x).data, rtol=1e-6)


def test_trace_step_refuses_bad_arguments(rng):
    model = mlp(6)
    x, t = rng.random((2, 784)), np.array([1, 2])
    with pytest.raises(TypeError, match="optimizer must be an optimizer"):
        trace_step(model, F.cross_entropy, None, x, t)
    sgd = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="one-element Tensor"):
        trace_step(model, lambda y, t: y, sgd, x, t)


def test_refuses_non_numeric_inputs():
    with pytest.raises(TypeError, match="input 0 must hold numbers"):
        trace(lambda x: x, np.array(["a"]))


# ------------------------------------------------------------------------- what it shows


def test_print_lists_the_plan(rng):
    net = book_network(rng)
    traced = trace(net, np.zeros((1, 784), np.float32))
    text = str(traced)
    assert isinstance(traced, Traced) and "1 plan(s)" in repr(traced)
    assert "sigmoid(linear(in0, W1, b1)) (1, 50) float32" in text
    assert "softmax(" in text and "returns" in text
    assert len(traced.plans[0].steps) == 4  # two fused linear+sigmoid, linear, softmax


def test_graph_draws(rng):
    viz = pytest.importorskip("tinygrad_edu.viz")
    traced = trace(book_network(rng), np.zeros((1, 784), np.float32))
    source = viz.draw_graph(traced.graph).source
    assert source.count("linear") == 3 and "sigmoid" in source and "softmax" in source


# ------------------------------------------------------- state changed after tracing


def small_mlp():
    np.random.seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))


def small_batch(rng):
    return rng.normal(size=(8, 4)).astype(np.float32), rng.integers(0, 3, 8)


def eager_step(model, optimizer, x, t, loss_fn=F.cross_entropy):
    optimizer.zero_grad()
    loss = loss_fn(model(x), t)
    loss.backward()
    optimizer.step()
    return loss


def test_trace_step_sees_optimizer_load_state_dict(rng):
    """Resuming from a checkpoint after tracing: the loaded Adam state is used."""
    x, t = small_batch(rng)
    source = small_mlp()
    adam = optim.Adam(source.parameters(), lr=0.1)
    for _ in range(3):
        eager_step(source, adam, x, t)
    eager, traced = small_mlp(), small_mlp()
    eager_opt, traced_opt = (
        optim.Adam(eager.parameters(), lr=0.1),
        optim.Adam(traced.parameters(), lr=0.1),
    )
    step = trace_step(traced, F.cross_entropy, traced_opt, x, t)
    for model, opt in ((eager, eager_opt), (traced, traced_opt)):
        model.load_state_dict(source.state_dict())
        opt.load_state_dict(adam.state_dict())
    eager_step(eager, eager_opt, x, t)
    step(x, t)
    for p, q in zip(traced.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)
    assert [s["step"] for s in traced_opt.state.values()] == [4] * 4


def test_trace_step_leaves_frozen_parameters_alone(rng):
    """requires_grad=False (fine-tuning): no gradient, no update, as eagerly; unfreezing
    it later is seen too (the step is traced again)."""
    x, t = small_batch(rng)
    eager, traced = small_mlp(), small_mlp()
    eager_opt = optim.SGD(eager.parameters(), lr=0.5)
    traced_opt = optim.SGD(traced.parameters(), lr=0.5)
    step = trace_step(traced, F.cross_entropy, traced_opt, x, t)
    params = {model: model.parameters() for model in (eager, traced)}  # before freezing
    frozen = params[traced][0].data.copy()
    for flag in (False, True):
        for model in (eager, traced):
            params[model][0].requires_grad = flag
        eager_step(eager, eager_opt, x, t)
        step(x, t)
        for p, q in zip(params[traced], params[eager]):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)
            assert (p.grad is None) == (q.grad is None)
        if not flag:
            np.testing.assert_array_equal(params[traced][0].data, frozen)


def test_trace_step_sees_an_added_param_group(rng):
    x, t = small_batch(rng)
    eager, traced = small_mlp(), small_mlp()
    eager_opt = optim.SGD(eager.parameters()[:2], lr=0.5)
    traced_opt = optim.SGD(traced.parameters()[:2], lr=0.5)
    step = trace_step(traced, F.cross_entropy, traced_opt, x, t)
    eager_opt.add_param_group({"params": eager.parameters()[2:]})
    traced_opt.add_param_group({"params": traced.parameters()[2:]})
    eager_step(eager, eager_opt, x, t)
    step(x, t)
    for p, q in zip(traced.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)


def test_replaced_parameter_data_is_seen(rng):
    """``p.data = new_array``: the next call traces again, on the new arrays."""
    x, t = small_batch(rng)
    lin = small_mlp()
    f = trace(lin, x)
    for p in lin.parameters():
        p.data = rng.normal(size=p.shape).astype(np.float32)
    with no_grad():
        np.testing.assert_allclose(f(x).data, lin(x).data, rtol=1e-6)
    eager, traced = small_mlp(), small_mlp()
    eager_opt = optim.SGD(eager.parameters(), lr=0.5)
    traced_opt = optim.SGD(traced.parameters(), lr=0.5)
    step = trace_step(traced, F.cross_entropy, traced_opt, x, t)
    for p, q in zip(traced.parameters(), eager.parameters()):
        p.data = q.data = np.full(p.shape, 0.1, np.float32)
    eager_step(eager, eager_opt, x, t)
    step(x, t)
    for p, q in zip(traced.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------- more refusals and fixes


@pytest.mark.parametrize(
    "fn, inputs",
    [
        (
            lambda x, m: (x * m.astype(np.float32)).sum(),
            (np.ones(4, np.float32), np.array([1, 0, 1, 0])),
        ),
        (lambda x, k: x * (k + 1).item(), (np.ones(4, np.float32), np.array(1))),
        (
            lambda x, i: x[i.astype(np.int64)] * 2,
            (np.arange(4, dtype=np.float32), np.array([0, 1], np.int32)),
        ),
    ],
    ids=["mask_astype", "item", "index_astype"],
)
def test_refuses_values_derived_from_integer_inputs(fn, inputs):
    """An integer input's derived values get no gradient, hence no recorded op: refused
    rather than frozen."""
    with pytest.raises(RuntimeError, match=r"trace\(<lambda>\).*input"):
        trace(fn, *inputs)


@pytest.mark.parametrize(
    ("dtype", "classes", "wrong"),
    [(np.int8, 200, -1), (np.int8, 200, -100), (np.int16, 40_000, -30_000)],
)
def test_negative_classes_refused_with_more_classes_than_the_dtype_holds(
    rng, dtype, classes, wrong
):
    """int8 holds classes up to 127: with 200 classes, -100 viewed as unsigned is 156,
    below 200, yet refused as eagerly (a row-major buffer: more than SHORT_ROW classes)."""
    z = rng.normal(size=(3, classes)).astype(np.float32)
    f = trace(F.cross_entropy, z, np.array([0, 1, 2], dtype))
    with pytest.raises(IndexError, match=f"cross_entropy: target class {wrong} is out"):
        f(z, np.array([0, wrong, 2], dtype))


def test_big_endian_classes(rng):
    z = rng.normal(size=(5, 10)).astype(np.float32)
    t = np.array([1, 2, 3, 4, 5], ">i8")
    expected = F.cross_entropy(Tensor(z), t).data
    np.testing.assert_allclose(trace(F.cross_entropy, z, t)(z, t).data, expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64])
def test_cross_entropy_labels_checked_at_each_call(rng, dtype):
    """The plan reads each row's target at a flat index, class * 200 + row here, which a
    class out of range would move into another row: it is refused first, in any row, for
    every integer dtype, and classes in range give eager mode's loss (also int8 ones,
    whose index 2 * 200 does not fit an int8)."""
    z = rng.normal(size=(200, 3)).astype(np.float32)
    f = trace(F.cross_entropy, z, np.zeros(200, dtype))
    good = rng.integers(0, 3, 200).astype(dtype)
    expected = F.cross_entropy(Tensor(z), good).data
    np.testing.assert_allclose(f(z, good).data, expected, rtol=1e-6)
    wrong_classes = [3, 7] + ([-1] if np.dtype(dtype).kind == "i" else [])
    for wrong, row in zip(wrong_classes, [1, 199, 0]):
        bad = good.copy()
        bad[row] = wrong
        with pytest.raises(IndexError, match=f"cross_entropy: target class {wrong} is out"):
            F.cross_entropy(Tensor(z), bad)  # eager
        with pytest.raises(IndexError, match=f"cross_entropy: target class {wrong} is out"):
            f(z, bad)
    model = small_mlp()
    step = trace_step(
        model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1), *small_batch(rng)
    )
    with pytest.raises(IndexError, match="target class 3 is out of range for 3 classes"):
        step(small_batch(rng)[0], np.array([0, 1, 2, 3, 0, 0, 0, 0]))


def test_trace_step_with_a_loss_not_reaching_the_parameters():
    """As eagerly: no gradient, no update, the loss still computed."""
    x, t = np.ones((4, 2), np.float32), np.zeros((4, 3), np.float32)
    model = nn.Linear(2, 3)
    other = Tensor(np.ones(3, np.float32), requires_grad=True)
    sgd = optim.SGD([other], lr=0.1)

    def loss_fn(y, t):
        return F.mse_loss(y, t) * 0.5

    step = trace_step(model, loss_fn, sgd, x, t)
    loss = step(x, t)
    with no_grad():
        np.testing.assert_allclose(loss.data, loss_fn(model(x), t).data, rtol=1e-6)
    assert other.grad is None
    np.testing.assert_array_equal(other.data, np.ones(3, np.float32))


def test_trace_step_gradients_are_separate_writable_arrays():
    x, t = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    p = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    q = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    s = Tensor(np.ones(4, np.float32), requires_grad=True)
    sgd = optim.SGD([p, q, s], lr=0.1)
    step = trace_step(lambda x: x * 0.5 + (p + q) + s.mean(), F.mse_loss, sgd, x, t)
    step(x, t)
    assert not np.shares_memory(p.grad.data, q.grad.data)
    assert s.grad.data.flags.writeable
    sgd.zero_grad(set_to_none=False)
    step(x, t)
    assert np.abs(p.grad.data).max() > 0


def test_one_traced_shared_by_threads():
    """Calls are serialised by a lock: each thread gets its own input's result."""
    import threading

    rng = np.random.default_rng(0)
    w = Tensor(rng.normal(size=(64, 256)).astype(np.float32), requires_grad=True)
    f = trace(lambda x: (x @ w).relu() * 2, np.ones((32, 64), np.float32))
    xs = [np.full((32, 64), v, np.float32) for v in (1.0, -1.0)]
    with no_grad():
        want = [((Tensor(x) @ w).relu() * 2).data for x in xs]
    wrong = []

    def work(i):
        for _ in range(200):
            if not np.allclose(f(xs[i]).data, want[i], atol=1e-4):
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.parametrize("classes", [2, SHORT_ROW, SHORT_ROW + 1, 40])
def test_cross_entropy_of_short_and_long_rows(rng, classes):
    """The plan takes the maxima of short rows down the columns of a transposed copy and
    of long rows along the rows: both as eager mode, on logits that need the shift."""
    eager = Lab(np.ones((7, classes), np.float32), lambda t: t)
    replayed = Lab(np.ones((7, classes), np.float32), lambda t: t)
    sgd = optim.SGD(replayed.parameters(), lr=0.0)  # lr 0: compare gradients at w
    x, t = rng.normal(0, 50, (7, classes)).astype(np.float32), rng.integers(0, classes, 7)
    step = trace_step(replayed, F.cross_entropy, sgd, x, t)
    for _ in range(3):
        x, t = rng.normal(0, 50, (7, classes)).astype(np.float32), rng.integers(0, classes, 7)
        eager.w.grad = None
        expected = F.cross_entropy(eager(x), t)
        expected.backward()
        np.testing.assert_allclose(step(x, t).data, expected.data, rtol=1e-6)
        np.testing.assert_allclose(replayed.w.grad.data, eager.w.grad.data, rtol=1e-5, atol=1e-7)


def test_cross_entropy_on_one_sample(rng):
    z = rng.normal(size=3).astype(np.float32)
    f = trace(F.cross_entropy, z, np.array(1))
    for label in (0, 2):
        z = rng.normal(size=3).astype(np.float32)
        expected = F.cross_entropy(Tensor(z), np.array(label))
        np.testing.assert_allclose(f(z, np.array(label)).data, expected.data, rtol=1e-6)


def test_plans_are_evicted_least_recently_used():
    calls = []

    def f(x):
        calls.append(x.shape)
        return x * 2

    g = trace(f, np.ones(100, np.float32), max_plans=2)
    for n in (100, 7, 100, 9, 100, 7, 100, 9, 100):
        g(np.ones(n, np.float32))
    assert len(calls) == 5  # 100 is used most: never evicted


def test_refuses_backward_with_retain_graph_inside():
    w = Tensor(np.ones(3), requires_grad=True)

    def f(x):
        y = (x * w).sum()
        y.backward(retain_graph=True)
        return y

    with pytest.raises(RuntimeError, match=r"trace\(f\): backward.*use trace_step"):
        trace(f, np.ones(3))
    assert w.grad is None


def test_input_errors_give_the_traced_signature():
    traced = trace(lambda x: x * 2, np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"takes 1 input.*\(\(2, 3\), float32\).*got 2"):
        traced(np.ones((2, 3)), np.ones(2))
    with pytest.raises(TypeError, match=r"input 0 must hold numbers, got <U1 .* shape \(1,\)"):
        trace(lambda x: x, np.array(["a"]))


@pytest.mark.parametrize("shape", [(10,), (1, 10), (1, 1, 3)])
def test_softmax_of_one_row(rng, shape):
    """The plan's softmax of one row (its maximum read at argmax, its sum a dot product)
    is eager mode's, also where only the shift by the maximum avoids exp's overflow, and
    NaN stays NaN."""
    f = trace(lambda t: t.softmax(axis=-1), np.zeros(shape, np.float32))
    big = np.full(shape, -1000.0, np.float32)
    big.flat[-1] = 1000.0
    for z in (rng.normal(0, 5, shape).astype(np.float32), big):
        np.testing.assert_allclose(f(z).data, Tensor(z).softmax(axis=-1).data, rtol=1e-6)
    z = rng.normal(size=shape).astype(np.float32)
    z.flat[0] = np.nan
    np.testing.assert_allclose(f(z).data, Tensor(z).softmax(axis=-1).data)  # all NaN
    assert np.isnan(f(z).data).all()
