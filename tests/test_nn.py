"""Tests for tinygrad_edu.nn: parameter discovery and names, train/eval, state dicts and
.npz files, Linear (shapes, dtypes, initialisation, errors) and the small modules."""

import os
import re

import numpy as np
import pytest

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, optim

# ----------------------------------------------------------------------------- helpers


class Head(nn.Module):
    def __init__(self):
        self.proj = nn.Linear(3, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.proj(self.drop(x))


class Net(nn.Module):
    """A custom module: a parameter of its own, a Sequential and a nested custom module,
    plus attributes that are not parameters."""

    def __init__(self):
        self.scale = Tensor(np.ones(4, np.float32), requires_grad=True)
        self.encoder = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 3))
        self.head = Head()
        self.constant = Tensor(np.ones(4, np.float32))  # no requires_grad: not a parameter
        self.note = "not a module"

    def forward(self, x):
        return self.head(self.encoder(x * self.scale))


NET_NAMES = [
    "scale",
    "encoder.0.weight",
    "encoder.0.bias",
    "encoder.2.weight",
    "encoder.2.bias",
    "head.proj.weight",
    "head.proj.bias",
]


def mlp(seed=0):
    np.random.seed(seed)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))


def all_modules(module):
    yield module
    for _, child in module.children():
        yield from all_modules(child)


def outputs(model, x):
    return model(x).data.copy()


def backprop_once(model, x):
    model(x).sum().backward()


X = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)


# ---------------------------------------------------------------- parameter discovery


def test_named_parameters_of_a_custom_module_use_dotted_names_in_order():
    net = Net()
    named = net.named_parameters()
    assert [name for name, _ in named] == NET_NAMES
    expected = [
        net.scale,
        net.encoder[0].weight,
        net.encoder[0].bias,
        net.encoder[2].weight,
        net.encoder[2].bias,
        net.head.proj.weight,
        net.head.proj.bias,
    ]
    assert all(a is b for a, b in zip(net.parameters(), expected, strict=True))
    assert all(p is q for (_, p), q in zip(named, net.parameters(), strict=True))


def test_sequential_names_parameters_by_position():
    assert [n for n, _ in mlp().named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_a_layer_used_twice_is_one_parameter_set():
    # Weight sharing: PyTorch's parameters() yields a shared tensor once, so an optimizer
    # can be built from it. Listing it twice makes SGD refuse the model.
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    params = model.parameters()
    assert len(params) == 2
    assert params[0] is shared.weight and params[1] is shared.bias
    optim.SGD(params, lr=0.1)


def test_module_without_forward_says_so():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        Empty()(X)


# --------------------------------------------------------------------- train / eval


def test_train_and_eval_reach_every_nested_module():
    net = Net()
    assert net.eval() is net
    assert not any(m.training for m in all_modules(net))
    assert net.train() is net
    assert all(m.training for m in all_modules(net))
    assert len(list(all_modules(net))) == 8  # net, encoder + its 3 layers, head + proj + drop
    # eval output is deterministic (dropout off), train output is not
    net.eval()
    np.testing.assert_array_equal(outputs(net, X), outputs(net, X))


def test_dropout_is_active_only_in_training():
    drop = nn.Dropout(0.25)
    x = np.ones((400, 500), np.float32)
    np.random.seed(0)
    y = drop(x).data
    assert y.dtype == np.float32
    assert np.mean(y == 0) == pytest.approx(0.25, abs=0.005)  # zeroes ~p
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}  # survivors scaled by 1/(1-p)
    assert y.mean() == pytest.approx(1.0, abs=0.01)  # inverted dropout keeps the mean
    np.testing.assert_array_equal(drop.eval()(x).data, x)


@pytest.mark.parametrize("p", [-0.5, 1.0])
def test_dropout_module_rejects_bad_p(p):
    with pytest.raises(ValueError, match=re.escape(f"got {p}")):
        nn.Dropout(p)


def test_zero_grad_resets_every_gradient_to_none():
    net = Net().eval()
    backprop_once(net, X)
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ------------------------------------------------------------------------ state dicts


def test_state_dict_round_trip_restores_outputs_in_place():
    source, target = mlp(seed=0), mlp(seed=1)
    assert not np.allclose(outputs(source, X), outputs(target, X))
    state = source.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    arrays_before = [p.data for p in target.parameters()]
    assert target.load_state_dict(state) is target
    np.testing.assert_array_equal(outputs(target, X), outputs(source, X))
    assert all(p.data is a for p, a in zip(target.parameters(), arrays_before))  # in place


def test_state_dict_holds_copies():
    model = mlp()
    state = model.state_dict()
    state["0.weight"][...] = 0
    assert np.abs(model[0].weight.data).sum() > 0


def test_load_state_dict_names_a_missing_key():
    state = mlp().state_dict()
    del state["2.bias"]
    with pytest.raises(KeyError, match=r"missing keys \['2\.bias'\]"):
        mlp().load_state_dict(state)


def test_load_state_dict_names_an_unexpected_key():
    state = mlp().state_dict()
    state["3.weight"] = np.zeros((5, 3))
    with pytest.raises(KeyError, match=r"unexpected keys \['3\.weight'\]"):
        mlp().load_state_dict(state)


def test_load_state_dict_names_a_misshaped_key_and_both_shapes():
    state = mlp().state_dict()
    state["2.weight"] = np.zeros((3, 5), np.float32)
    with pytest.raises(ValueError, match=r"'2\.weight'.*\(3, 5\).*\(5, 3\)"):
        mlp().load_state_dict(state)


# ------------------------------------------------------------------------- .npz files


def test_save_load_round_trip(tmp_path):
    path = tmp_path / "weights.npz"
    source = mlp(seed=0)
    source.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["0.bias", "0.weight", "2.bias", "2.weight"]
        assert archive["0.weight"].dtype == np.float32
    target = mlp(seed=1)
    assert target.load(path) is target
    np.testing.assert_array_equal(outputs(target, X), outputs(source, X))
    assert os.listdir(tmp_path) == ["weights.npz"]  # no temporary files left


def test_load_refuses_pickled_object_arrays(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, w=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match=r"pickle.*refused|refused.*pickle"):
        mlp().load(path)


def test_interrupted_save_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    old = mlp(seed=0)
    path = tmp_path / "weights.npz"
    old.save(path)
    old_bytes = path.read_bytes()

    def savez_that_dies(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", savez_that_dies)
    with pytest.raises(OSError, match="disk full"):
        mlp(seed=1).save(path)
    with pytest.raises(OSError, match="disk full"):
        mlp(seed=1).save(tmp_path / "new.npz")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["weights.npz"]
    assert path.read_bytes() == old_bytes
    np.testing.assert_array_equal(outputs(mlp(seed=2).load(path), X), outputs(old, X))


# ---------------------------------------------------------------------------- Linear


def test_linear_shapes_and_default_float32():
    layer = nn.Linear(4, 3)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.data, 0)
    y = layer(X)
    assert y.shape == (6, 3) and y.dtype == np.float32
    np.testing.assert_allclose(y.data, X @ layer.weight.data, rtol=1e-6)


def test_linear_float64_option_and_gradients():
    layer = nn.Linear(4, 3, dtype=np.float64)
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    x = X.astype(np.float64)
    backprop_once(layer, x)
    np.testing.assert_allclose(layer.weight.grad.data, x.sum(axis=0)[:, None] * np.ones((1, 3)))
    np.testing.assert_allclose(layer.bias.grad.data, np.full(3, 6.0))


def test_linear_without_bias():
    layer = nn.Linear(4, 3, bias=False)
    assert layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    np.testing.assert_allclose(layer(X).data, X @ layer.weight.data, rtol=1e-6)
    assert "bias=False" in repr(layer)


@pytest.mark.parametrize(("init", "gain"), [("he", 2.0), ("xavier", 1.0)])
def test_linear_initialisation_scale(init, gain):
    np.random.seed(0)
    fan_in = 1000
    w = nn.Linear(fan_in, 600, init=init, dtype=np.float64).weight.data
    expected_std = np.sqrt(gain / fan_in)
    assert w.std() == pytest.approx(expected_std, rel=0.01)
    assert abs(w.mean()) < 0.01 * expected_std
    # the default is He
    np.random.seed(0)
    if init == "he":
        np.testing.assert_array_equal(nn.Linear(fan_in, 600, dtype=np.float64).weight.data, w)


def test_linear_rejects_an_unknown_init():
    with pytest.raises(ValueError, match="'he' or 'xavier', got 'glorot'"):
        nn.Linear(3, 2, init="glorot")


def test_linear_with_the_wrong_feature_count_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"in_features=4.*\(6, 5\)"):
        nn.Linear(4, 3)(np.ones((6, 5), np.float32))


# ------------------------------------------------------------------ small modules


@pytest.mark.parametrize(
    ("module", "reference"),
    [
        (nn.ReLU(), lambda x: np.maximum(x, 0)),
        (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
        (nn.Tanh(), np.tanh),
        (nn.Softmax(), lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)),
        (nn.Softmax(axis=0), lambda x: np.exp(x) / np.exp(x).sum(axis=0, keepdims=True)),
    ],
)
def test_activation_modules_match_numpy(module, reference):
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_allclose(module(x).data, reference(x), rtol=1e-12)
    assert module(Tensor(x, requires_grad=True)).requires_grad


def test_flatten_keeps_the_batch_axis_and_passes_gradients():
    x = Tensor(np.arange(2 * 28 * 28, dtype=np.float64).reshape(2, 1, 28, 28), requires_grad=True)
    y = nn.Flatten()(x)
    assert y.shape == (2, 784)
    np.testing.assert_array_equal(y.data, x.data.reshape(2, 784))
    (y * np.arange(784)).sum().backward()
    np.testing.assert_array_equal(
        x.grad.data, np.broadcast_to(np.arange(784.0), (2, 784)).reshape(2, 1, 28, 28)
    )


def test_sequential_indexing_len_iter_and_forward():
    layers = [nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)]
    model = nn.Sequential(*layers)
    assert len(model) == 3
    assert model[0] is layers[0] and model[-1] is layers[2]
    assert list(model) == layers
    expected = F.linear(
        F.relu(F.linear(X, layers[0].weight, layers[0].bias)), layers[2].weight, layers[2].bias
    )
    np.testing.assert_array_equal(model(X).data, expected.data)


def test_repr_mentions_the_layers():
    text = repr(nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10)))
    for part in [
        "Sequential(",
        "(0): Linear(in_features=784, out_features=256)",
        "(1): ReLU()",
        "(2): Dropout(p=0.2)",
        "(3): Linear(in_features=256, out_features=10)",
    ]:
        assert part in text
    assert "(encoder): Sequential(" in repr(Net())
