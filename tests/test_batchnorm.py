"""Batch Normalization: the fused op ``F.batch_norm`` and the layers ``nn.BatchNorm1d`` and
``nn.BatchNorm2d``.

Gradient checks (hypothesis, float64, against central differences) of the training-mode op
for (N, C), (N, C, L) and (N, C, H, W) inputs, with and without weight and bias, its
second derivatives, and the evaluation mode; then PyTorch as the oracle: forward values,
gradients, running statistics over several steps, evaluation outputs, ``state_dict`` keys
and loading PyTorch's state; then dtypes and the errors.
"""

import numpy as np
import pytest
from helpers import check_gradients, float_arrays
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn

RTOL, ATOL = 1e-10, 1e-12  # float64 against PyTorch, as in test_torch_oracle.py


@st.composite
def batches(draw, ranks=(2, 3, 4)):
    """A float64 batch (N, C, ...) of rank 2, 3 or 4, N >= 2, every axis 1 to 3 long."""
    rank = draw(st.sampled_from(ranks))
    shape = (draw(st.integers(2, 3)), *[draw(st.integers(1, 3)) for _ in range(rank - 1)])
    return draw(float_arrays(shape))


def channels(x):
    return float_arrays(x.shape[1], lo=0.5, hi=2.0)


def train_norm(x, w=None, b=None):
    return F.batch_norm(x, None, None, w, b, training=True)


# ---------------------------------------------------------------- gradient checks


@given(data=st.data())
def test_training_batch_norm_gradients_match_numerical(data):
    """The fused backward (the book's formula) for x, weight and bias, ranks 2 to 4."""
    x = data.draw(batches(), label="x")
    w, b = data.draw(channels(x), label="weight"), data.draw(channels(x), label="bias")
    check_gradients(train_norm, x, w, b)


@pytest.mark.parametrize("affine", ["weight only", "bias only", "neither"])
@given(x=batches())
def test_training_batch_norm_gradients_without_weight_or_bias(affine, x):
    c = x.shape[1]
    if affine == "weight only":
        check_gradients(lambda x, w: train_norm(x, w), x, np.linspace(0.5, 2, c))
    elif affine == "bias only":
        check_gradients(lambda x, b: train_norm(x, None, b), x, np.linspace(-1, 1, c))
    else:
        check_gradients(train_norm, x)


def input_gradient(x, w, b):
    """d(sum(y * u))/dx of the training-mode op, recorded (create_graph) so that it can be
    differentiated again; u fixed weights, so every output element counts."""
    u = np.cos(np.arange(x.size)).reshape(x.shape)
    with tg.enable_grad():  # gradcheck evaluates it under no_grad for the differences
        x.grad = w.grad = b.grad = None
        (train_norm(x, w, b) * u).sum().backward(create_graph=True)
        gx = x.grad
        x.grad = w.grad = b.grad = None
    return gx


@given(data=st.data())
def test_second_derivatives_match_numerical(data):
    """The backward is written with Tensor operations, so backward(create_graph=True)
    through it gives second derivatives (here of dL/dx with respect to x, weight, bias)."""
    x = data.draw(batches(), label="x")
    w, b = data.draw(channels(x), label="weight"), data.draw(channels(x), label="bias")
    check_gradients(input_gradient, x, w, b)


@given(data=st.data())
def test_eval_batch_norm_gradients_match_numerical(data):
    x = data.draw(batches(), label="x")
    mean = Tensor(data.draw(float_arrays(x.shape[1]), label="running_mean"))
    var = Tensor(data.draw(float_arrays(x.shape[1], 0.1, 3.0), label="running_var"))
    w, b = data.draw(channels(x), label="weight"), data.draw(channels(x), label="bias")
    check_gradients(lambda x, w, b: F.batch_norm(x, mean, var, w, b), x, w, b)


# ------------------------------------------------------------ PyTorch as the oracle


def assert_same(ours, theirs, rtol=RTOL, atol=ATOL):
    ours = ours.data if isinstance(ours, Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


@given(data=st.data())
def test_functional_training_forward_gradients_and_running_stats_match_pytorch(torch, data):
    x = data.draw(batches(), label="x")
    c = x.shape[1]
    w, b = data.draw(channels(x), label="weight"), data.draw(channels(x), label="bias")
    momentum = data.draw(st.sampled_from([0.1, 0.5, 1.0]), label="momentum")
    upstream = data.draw(float_arrays(x.shape), label="d(loss)/d(output)")
    ours = [Tensor(a.copy(), requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    stats = [Tensor(np.linspace(-1, 1, c)), Tensor(np.linspace(0.5, 2, c))]
    torch_stats = [torch.tensor(s.data.copy()) for s in stats]
    y = F.batch_norm(ours[0], *stats, ours[1], ours[2], training=True, momentum=momentum)
    ref = torch.nn.functional.batch_norm(
        theirs[0], *torch_stats, theirs[1], theirs[2], training=True, momentum=momentum
    )
    assert_same(y, ref)
    y.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for mine, torch_leaf in zip(ours, theirs):
        assert_same(mine.grad, torch_leaf.grad, atol=1e-9)  # sums of ~1e2 terms of ~1e1
    for mine, torch_stat in zip(stats, torch_stats):
        assert_same(mine, torch_stat)


@given(data=st.data())
def test_functional_eval_forward_and_gradients_match_pytorch(torch, data):
    x = data.draw(batches(), label="x")
    c = x.shape[1]
    mean = data.draw(float_arrays(c), label="running_mean")
    var = data.draw(float_arrays(c, 0.1, 3.0), label="running_var")
    w, b = data.draw(channels(x), label="weight"), data.draw(channels(x), label="bias")
    ours = [Tensor(a.copy(), requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.batch_norm(ours[0], Tensor(mean), Tensor(var), ours[1], ours[2])
    ref = torch.nn.functional.batch_norm(
        theirs[0], torch.tensor(mean), torch.tensor(var), theirs[1], theirs[2]
    )
    assert_same(y, ref)
    upstream = data.draw(float_arrays(x.shape), label="d(loss)/d(output)")
    y.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for mine, torch_leaf in zip(ours, theirs):
        assert_same(mine.grad, torch_leaf.grad, atol=1e-9)


@given(data=st.data())
def test_second_derivatives_match_pytorch(torch, data):
    x = data.draw(batches(), label="x")
    w, b = data.draw(channels(x), label="weight"), data.draw(channels(x), label="bias")
    u, v = (data.draw(float_arrays(x.shape), label=n) for n in ("u", "v"))
    ours = [Tensor(a.copy(), requires_grad=True) for a in (x, w, b)]
    (train_norm(*ours) * u).sum().backward(create_graph=True)
    grad_x, grad_w = ours[0].grad, ours[1].grad
    for t in ours:
        t.grad = None
    ((grad_x * v).sum() + grad_w.sum()).backward()

    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ref = torch.nn.functional.batch_norm(theirs[0], None, None, *theirs[1:], training=True)
    tgx, tgw = torch.autograd.grad((ref * torch.tensor(u)).sum(), theirs[:2], create_graph=True)
    ((tgx * torch.tensor(v)).sum() + tgw.sum()).backward()
    assert_same(grad_x, tgx, atol=1e-9)
    for mine, torch_leaf in zip(ours[:2], theirs[:2]):
        assert_same(mine.grad, torch_leaf.grad, rtol=1e-8, atol=1e-7)
    # The first derivatives do not depend on the bias: PyTorch gives no gradient (None)
    assert theirs[2].grad is None and (ours[2].grad is None or not ours[2].grad.data.any())


LAYERS = [  # (ours, PyTorch's name, input shape)
    (nn.BatchNorm1d, "BatchNorm1d", (8, 3)),
    (nn.BatchNorm1d, "BatchNorm1d", (4, 3, 5)),
    (nn.BatchNorm2d, "BatchNorm2d", (4, 3, 2, 3)),
]
MODULE_SETTINGS = [
    {},
    {"momentum": 0.3, "eps": 1e-3},
    {"momentum": None},  # a cumulative average over the batches
    {"affine": False},
    {"bias": False},
    {"track_running_stats": False},
]


def layer_pair(torch, ours, name, settings, num_features=3):
    """Our layer (float64) and PyTorch's (double), with the same random weight and bias."""
    layer = ours(num_features, dtype=np.float64, **settings)
    ref = getattr(torch.nn, name)(num_features, **settings).double()
    rng = np.random.default_rng(1)
    with torch.no_grad():
        for attr in ("weight", "bias"):
            if getattr(layer, attr) is not None:
                values = rng.uniform(0.5, 2.0, num_features)
                getattr(layer, attr).data[...] = values
                getattr(ref, attr).copy_(torch.tensor(values))
    return layer, ref


@pytest.mark.parametrize("settings", MODULE_SETTINGS, ids=str)
@pytest.mark.parametrize(("ours", "name", "shape"), LAYERS, ids=lambda v: str(v))
def test_layer_matches_pytorch_over_training_steps_then_in_eval(torch, ours, name, shape, settings):
    """Five training steps (outputs, gradients, running statistics, batch count), then
    evaluation mode on a new batch, then the state_dict: same keys, same values."""
    layer, ref = layer_pair(torch, ours, name, settings)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.normal(2.0, 3.0, shape)
        upstream = rng.standard_normal(shape)
        xs, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, y_ref = layer(xs), ref(xt)
        assert_same(y, y_ref)
        y.backward(upstream)
        y_ref.backward(torch.tensor(upstream))
        assert_same(xs.grad, xt.grad, atol=1e-9)
        for (n, p), (torch_name, q) in zip(layer.named_parameters(), ref.named_parameters()):
            assert n == torch_name
            assert_same(p.grad, q.grad, atol=1e-9)
            p.grad = None
        ref.zero_grad()
        for (n, buf), (torch_name, torch_buf) in zip(layer.named_buffers(), ref.named_buffers()):
            assert n == torch_name
            assert_same(buf, torch_buf)
    layer.eval(), ref.eval()
    x = rng.normal(2.0, 3.0, shape)
    assert_same(layer(x), ref(torch.tensor(x)))
    state, torch_state = layer.state_dict(), ref.state_dict()
    assert list(state) == list(torch_state)
    for key in state:
        np.testing.assert_allclose(state[key], torch_state[key].numpy(), rtol=RTOL)
        assert state[key].dtype == torch_state[key].numpy().dtype, key


def test_state_dict_keys_and_loading_pytorchs_state(torch):
    """The keys are PyTorch's (weight, bias, running_mean, running_var,
    num_batches_tracked), in a model too, and PyTorch's state loads into ours."""
    ref = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(), torch.nn.Linear(3, 2)
    ).double()
    ref.train()
    with torch.no_grad():  # a few batches, so the running statistics are not the defaults
        for seed in range(3):
            ref(torch.tensor(np.random.default_rng(seed).normal(1.0, 2.0, (6, 4))))
    model = nn.Sequential(
        nn.Linear(4, 3, dtype=np.float64),
        nn.BatchNorm1d(3, dtype=np.float64),
        nn.ReLU(),
        nn.Linear(3, 2, dtype=np.float64),
    )
    torch_state = ref.state_dict()
    assert list(model.state_dict()) == list(torch_state)
    state = {k: v.numpy() for k, v in torch_state.items()}
    for key in ("0.weight", "3.weight"):  # our Linear weight is PyTorch's transposed
        state[key] = state[key].T
    model.load_state_dict(state)
    assert int(model[1].num_batches_tracked.item()) == 3
    model.eval(), ref.eval()
    x = np.random.default_rng(9).standard_normal((5, 4))
    assert_same(model(x), ref(torch.tensor(x)))


# -------------------------------------------------------- the layer on its own


def test_parameters_are_weight_and_bias_and_the_statistics_are_buffers():
    bn = nn.BatchNorm1d(4)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    np.testing.assert_array_equal(bn.weight.data, np.ones(4))
    np.testing.assert_array_equal(bn.bias.data, np.zeros(4))
    np.testing.assert_array_equal(bn.running_mean.data, np.zeros(4))
    np.testing.assert_array_equal(bn.running_var.data, np.ones(4))
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    assert not any(b.requires_grad for b in bn.buffers())


def test_float32_stays_float32():
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32))
    x.requires_grad_()
    bn = nn.BatchNorm1d(3)
    y = bn(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == bn.weight.grad.dtype == np.float32
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float32
    assert bn.eval()(x).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_integer_input_gives_the_layers_dtype_in_both_modes(dtype):
    """uint8 pixels: the layer's float dtype, in training as in evaluation."""
    x = np.random.default_rng(0).integers(0, 255, (4, 2, 3, 3), dtype=np.uint8)
    bn = nn.BatchNorm2d(2, dtype=dtype)
    y = bn(x)
    assert y.dtype == bn.running_mean.dtype == bn.running_var.dtype == dtype
    np.testing.assert_allclose(y.data, bn.train()(x.astype(dtype)).data, rtol=1e-6)
    assert bn.eval()(x).dtype == dtype
    no_statistics = F.batch_norm(x, None, None, Tensor(np.ones(2, dtype)), training=True)
    assert no_statistics.dtype == dtype


def test_eval_output_of_one_sample_does_not_depend_on_its_batch():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm1d(3)
    for _ in range(3):
        bn(rng.normal(1.0, 2.0, (10, 3)).astype(np.float32))
    bn.eval()
    batch = rng.standard_normal((6, 3)).astype(np.float32)
    np.testing.assert_array_equal(bn(batch[:1]).data, bn(batch).data[:1])


def test_eval_and_no_grad_leave_the_running_statistics_alone():
    bn = nn.BatchNorm1d(3)
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    bn.eval()
    bn(x)
    np.testing.assert_array_equal(bn.running_mean.data, np.zeros(3))
    assert bn.num_batches_tracked.item() == 0
    bn.train()
    with tg.no_grad():  # training mode under no_grad still updates them, as in PyTorch
        bn(x)
    assert bn.num_batches_tracked.item() == 1
    assert not np.array_equal(bn.running_mean.data, np.zeros(3))


def test_a_network_with_batch_norm_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 10.0, (64, 4)).astype(np.float32)  # badly scaled inputs
    t = (x[:, 0] > 5.0).astype(np.int64)
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = tg.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ------------------------------------------------------------------ errors


def test_a_batch_of_one_in_training_is_refused_like_pytorch(torch):
    x = np.ones((1, 3), np.float32)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        torch.nn.BatchNorm1d(3)(torch.tensor(x))
    bn = nn.BatchNorm1d(3)
    with pytest.raises(
        ValueError, match=r"BatchNorm1d\(3.*Expected more than 1 value per channel.*\(1, 3\)"
    ):
        bn(x)
    assert bn.num_batches_tracked.item() == 0  # the refused batch was not counted
    assert bn.eval()(x).shape == (1, 3)  # in eval mode, one sample is fine
    assert nn.BatchNorm1d(3)(np.ones((1, 3, 2), np.float32)).shape == (1, 3, 2)  # 2 values


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 2, 2), (2, 3, 0)])
def test_an_empty_batch_in_training_gives_an_empty_output_like_pytorch(torch, shape):
    """Nothing to normalise: an empty output, zero gradients for weight and bias, the
    running statistics untouched and the batch counted, as PyTorch does."""
    ours = (nn.BatchNorm1d if len(shape) < 4 else nn.BatchNorm2d)(3)
    theirs = (torch.nn.BatchNorm1d if len(shape) < 4 else torch.nn.BatchNorm2d)(3)
    x = Tensor(np.zeros(shape, np.float32), requires_grad=True)
    t = torch.zeros(shape, requires_grad=True)
    y, ref = ours(x), theirs(t)
    assert y.shape == tuple(ref.shape) and y.dtype == np.float32
    y.sum().backward()
    ref.sum().backward()
    assert x.grad.shape == tuple(t.grad.shape)
    for name in ("weight", "bias"):
        np.testing.assert_array_equal(
            getattr(ours, name).grad.data, getattr(theirs, name).grad.numpy()
        )
    for name, buffer in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name], buffer.numpy())
    assert F.batch_norm(x, None, None, training=True) is not x  # a new Tensor, as torch's


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (nn.BatchNorm1d(4), (2, 4, 3, 3), r"BatchNorm1d\(4.*2-D \(N, C\) or 3-D \(N, C, L\)"),
        (nn.BatchNorm1d(4), (4,), r"BatchNorm1d\(4.*got shape \(4,\)"),
        (nn.BatchNorm2d(4), (2, 4), r"BatchNorm2d\(4.*4-D \(N, C, H, W\).*\(2, 4\)"),
        (nn.BatchNorm1d(4), (2, 5), r"BatchNorm1d\(4.*\(2, 5\) has 5 channels.*num_features=4"),
        (nn.BatchNorm2d(3), (2, 4, 2, 2), r"\(2, 4, 2, 2\) has 4 channels.*num_features=3"),
    ],
)
def test_wrong_input_shapes_name_the_layer_and_the_shapes(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(np.ones(shape, np.float32))


def test_in_a_sequential_the_error_also_names_the_position():
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match=r"layer 1: BatchNorm1d\(4.*\(2, 5\)"):
        model(np.ones((2, 3), np.float32))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_features": 0}, "num_features must be a positive int"),
        ({"num_features": 2.5}, "num_features must be a positive int"),
        ({"num_features": 3, "eps": 0}, "eps must be positive"),
        ({"num_features": 3, "momentum": -0.1}, r"momentum must be in \[0, 1\]"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=f"BatchNorm1d: {message}"):
        nn.BatchNorm1d(**kwargs)


def test_functional_errors_name_the_op_and_the_shapes():
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"batch_norm: running_mean has shape \(2,\).*\(3,\)"):
        F.batch_norm(x, Tensor(np.zeros(2)), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"batch_norm: weight has shape \(4,\)"):
        F.batch_norm(x, None, None, Tensor(np.ones(4)), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: .*\(N, C, \.\.\.\), got shape \(3,\)"):
        F.batch_norm(np.ones(3), None, None, training=True)
    with pytest.raises(ValueError, match="running_mean and running_var are needed"):
        F.batch_norm(x, None, None)


def test_repr_matches_pytorch(torch):
    for kwargs in [{}, {"momentum": None, "affine": False}, {"track_running_stats": False}]:
        assert repr(nn.BatchNorm2d(5, **kwargs)) == repr(torch.nn.BatchNorm2d(5, **kwargs))
