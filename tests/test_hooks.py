"""Module hooks and buffers: ``register_forward_hook`` / ``register_forward_pre_hook`` and
their handles, ``register_buffer`` with ``named_buffers``, ``state_dict`` and
``load_state_dict``, and ``named_modules``; PyTorch's behaviour and names as the oracle."""

import threading

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn

X = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)


def mlp():
    np.random.seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))


# ---------------------------------------------------------------------- forward hooks


def test_a_forward_hook_sees_module_inputs_and_output():
    model = mlp()
    calls = []
    handle = model[1].register_forward_hook(lambda m, i, o: calls.append((m, i, o)))
    out = model(X)
    assert len(calls) == 1
    module, inputs, output = calls[0]
    assert module is model[1]
    assert isinstance(inputs, tuple) and len(inputs) == 1
    np.testing.assert_array_equal(output.data, np.maximum(inputs[0].data, 0))
    assert out.shape == (4, 2)
    assert isinstance(handle, nn.RemovableHandle)


def test_a_hook_that_returns_a_value_replaces_the_output_and_gradients_flow():
    layer = nn.Linear(3, 2)
    layer.register_forward_hook(lambda m, i, o: o * 2)
    layer.register_forward_hook(lambda m, i, o: o + 1)  # sees the doubled output
    expected = 2 * (X @ layer.weight.data + layer.bias.data) + 1
    out = layer(X)
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(layer.bias.grad.data, np.full(2, 2 * len(X)))


def test_hooks_match_pytorch_semantics(torch):
    """Same calls in the same order, replacement outputs and replaced inputs as in torch."""

    def run(module_type, x):
        layer = module_type()
        log = []
        layer.register_forward_pre_hook(lambda m, i: log.append("pre") or (i[0] * 3,))
        layer.register_forward_hook(lambda m, i, o: log.append(("post", len(i))))
        layer.register_forward_hook(lambda m, i, o: o - 1)
        return layer(x), log

    ours, our_log = run(nn.ReLU, Tensor(np.array([-1.0, 2.0])))
    theirs, their_log = run(torch.nn.ReLU, torch.tensor([-1.0, 2.0], dtype=torch.float64))
    assert our_log == their_log == ["pre", ("post", 1)]
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_remove_takes_the_hook_off_and_twice_is_harmless():
    layer = nn.ReLU()
    calls = []
    first = layer.register_forward_hook(lambda m, i, o: calls.append("first"))
    layer.register_forward_hook(lambda m, i, o: calls.append("second"))
    layer(X)
    first.remove()
    first.remove()
    layer(X)
    assert calls == ["first", "second", "second"]


def test_a_handle_is_a_context_manager():
    layer = nn.ReLU()
    calls = []
    with layer.register_forward_hook(lambda m, i, o: calls.append(1)):
        layer(X)
    layer(X)
    assert calls == [1]


def test_a_hook_may_remove_itself_while_running():
    layer = nn.ReLU()
    calls = []

    def once(module, inputs, output):
        calls.append(1)
        handle.remove()

    handle = layer.register_forward_hook(once)
    layer(X)
    layer(X)
    assert calls == [1]


def test_a_pre_hook_returning_a_single_value_replaces_the_one_input():
    layer = nn.ReLU()
    layer.register_forward_pre_hook(lambda m, inputs: -inputs[0])
    np.testing.assert_array_equal(layer(X).data, np.maximum(-X, 0))


def test_hooks_are_per_module_and_a_module_without_hooks_has_none():
    a, b = nn.ReLU(), nn.ReLU()
    a.register_forward_hook(lambda m, i, o: None)
    assert b._forward_hooks is None and "_forward_hooks" not in vars(b)  # the fast path
    assert len(a._forward_hooks) == 1


def test_a_hook_must_be_callable():
    with pytest.raises(TypeError, match="register_forward_hook: the hook must be callable"):
        nn.ReLU().register_forward_hook("print")


# ---------------------------------------------------------------------------- buffers


class Counter(nn.Module):
    """A layer with a parameter and three buffers: an array, a Tensor and a count."""

    def __init__(self):
        self.scale = Tensor(np.ones(3, np.float32), requires_grad=True)
        self.register_buffer("total", np.zeros(3, np.float32))
        self.register_buffer("calls", Tensor(np.array(0, np.int64)))
        self.register_buffer("scratch", np.zeros(2), persistent=False)

    def forward(self, x):
        self.total.copy_(self.total.data + x.sum(axis=0))
        self.calls += 1
        return x * self.scale


class Outer(nn.Module):
    def __init__(self):
        self.register_buffer("step", np.zeros(1))
        self.inner = Counter()
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        return self.head(self.inner(x))


def test_buffers_are_listed_but_are_not_parameters():
    model = Outer()
    assert [n for n, _ in model.named_buffers()] == [
        "step",
        "inner.total",
        "inner.calls",
        "inner.scratch",
    ]
    assert [n for n, _ in model.named_parameters()] == [
        "inner.scale",
        "head.weight",
        "head.bias",
    ]
    assert len(model.buffers()) == 4
    assert isinstance(model.inner.total, Tensor) and not model.inner.total.requires_grad


def test_a_buffer_given_as_an_array_is_a_copy():
    values = np.zeros(3)
    layer = nn.Module()
    layer.register_buffer("stats", values)
    layer.stats.copy_(np.ones(3))
    assert not values.any()


def test_a_buffer_that_requires_grad_is_still_not_a_parameter():
    layer = nn.Module()
    layer.register_buffer("frozen", Tensor(np.ones(2), requires_grad=True))
    assert layer.parameters() == [] and len(layer.buffers()) == 1


def test_state_dict_order_and_keys_match_pytorch(torch):
    """Each module's own parameters, then its persistent buffers, then its children's."""

    class TorchCounter(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(3))
            self.register_buffer("total", torch.zeros(3))
            self.register_buffer("calls", torch.tensor(0))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)

    class TorchOuter(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("step", torch.zeros(1))
            self.inner = TorchCounter()
            self.head = torch.nn.Linear(3, 1)

    ours, theirs = Outer(), TorchOuter()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


def test_state_dict_round_trip_restores_buffers_in_place(tmp_path):
    source = Outer()
    source(X[:, :3])
    source(X[:, :3])
    state = source.state_dict()
    assert state["inner.calls"] == 2 and state["inner.calls"].dtype == np.int64
    assert "inner.scratch" not in state  # persistent=False
    target = Outer()
    buffer_before = target.inner.total.data
    target.load_state_dict(state)
    assert target.inner.total.data is buffer_before  # in place
    np.testing.assert_array_equal(target.inner.total.data, source.inner.total.data)
    assert target.inner.calls.item() == 2
    source.save(tmp_path / "state.npz")
    again = Outer().load(tmp_path / "state.npz")
    assert again.inner.calls.item() == 2


def test_load_state_dict_checks_buffers_too():
    state = Outer().state_dict()
    missing = {k: v for k, v in state.items() if k != "inner.total"}
    with pytest.raises(KeyError, match=r"missing keys \['inner\.total'\]"):
        Outer().load_state_dict(missing)
    with pytest.raises(ValueError, match=r"'inner\.total' has shape \(4,\).*\(3,\)"):
        Outer().load_state_dict({**state, "inner.total": np.zeros(4)})
    with pytest.raises(TypeError, match=r"'inner\.calls' holds float64 values.*int64"):
        Outer().load_state_dict({**state, "inner.calls": np.array(2.5)})
    model = Outer()
    with pytest.raises(TypeError):  # checked before anything is changed
        model.load_state_dict({**state, "step": np.ones(1), "inner.calls": np.array(2.5)})
    assert not model.step.data.any()


def test_a_none_buffer_is_declared_but_not_saved():
    layer = nn.Module()
    layer.register_buffer("running_mean", None)
    assert layer.running_mean is None
    assert layer.named_buffers() == [] and layer.state_dict() == {}
    layer.register_buffer("running_mean", np.zeros(2))
    assert list(layer.state_dict()) == ["running_mean"]


@pytest.mark.parametrize("name", ["", "a.b", 3])
def test_register_buffer_refuses_bad_names(name):
    with pytest.raises(KeyError, match="register_buffer: the name must be"):
        nn.Module().register_buffer(name, np.zeros(1))


def test_register_buffer_refuses_the_name_of_an_attribute():
    layer = nn.Linear(2, 2)
    with pytest.raises(KeyError, match="Linear already has an attribute 'weight'"):
        layer.register_buffer("weight", np.zeros(2))


def test_named_modules_lists_each_module_once_depth_first():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.Sequential(nn.ReLU(), shared))
    assert [n for n, _ in model.named_modules()] == ["", "0", "1", "1.0"]
    assert len(model.named_modules(remove_duplicate=False)) == 5
    assert model.modules()[0] is model


def test_re_registering_a_buffer_as_persistent_saves_it_like_pytorch(torch):
    class Ours(nn.Module):
        def __init__(self):
            self.register_buffer("stat", np.zeros(2, np.float32), persistent=False)
            self.register_buffer("stat", np.ones(2, np.float32), persistent=True)

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("stat", torch.zeros(2), persistent=False)
            self.register_buffer("stat", torch.ones(2), persistent=True)

    assert list(Ours().state_dict()) == list(Theirs().state_dict()) == ["stat"]
    np.testing.assert_array_equal(Ours().state_dict()["stat"], np.ones(2))


def test_assigning_a_non_tensor_to_a_buffer_is_a_type_error_like_pytorch(torch):
    theirs = torch.nn.BatchNorm1d(3)
    with pytest.raises(TypeError):
        theirs.running_mean = np.zeros(3, np.float32)
    bn = nn.BatchNorm1d(3)
    with pytest.raises(
        TypeError,
        match=r"BatchNorm1d: cannot assign a value of type ndarray to the buffer 'running_mean'.*"
        r"Tensor or None.*\.running_mean\.copy_\(",
    ):
        bn.running_mean = np.zeros(3, np.float32)
    assert isinstance(bn.running_mean, Tensor)  # unchanged
    bn.state_dict()  # still works
    bn.running_mean = Tensor(np.ones(3, np.float32))  # a Tensor or None is fine, as in torch
    bn.running_mean = None
    assert "running_mean" not in bn.state_dict()


def test_hooks_registered_from_two_threads_are_all_kept():
    """The first registration makes the module's hook dicts. Two threads doing it at once
    must share one pair of dicts: here the "slow" thread is held up just after it read
    the (still missing) dicts, until the other thread has registered its hook: the worst
    moment for a thread switch, made certain."""
    fast_done = threading.Event()

    class HeldUp(nn.ReLU):
        def __getattribute__(self, name):
            value = super().__getattribute__(name)
            if name == "_forward_pre_hooks" and threading.current_thread().name == "slow":
                fast_done.wait(timeout=2)
            return value

    module = HeldUp()

    def register():
        module.register_forward_hook(lambda *args: None)
        module.register_forward_pre_hook(lambda *args: None)
        if threading.current_thread().name == "fast":
            fast_done.set()

    threads = [threading.Thread(target=register, name=name) for name in ("slow", "fast")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pre_hooks, hooks = module._hook_dicts()
    assert len(hooks) == 2 and len(pre_hooks) == 2
