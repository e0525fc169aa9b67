"""Clumsy and hostile use of the engine, one test per class of failure: nothing computes a
silently wrong number, bad input is refused at the door with a message that names the op,
and in-place changes are tracked like PyTorch's version counters."""

import threading
import warnings

import numpy as np
import pytest
from helpers import leaf

import tinygrad_edu.functional as F
from tinygrad_edu import Function, Tensor, concatenate, nn, no_grad, optim, stack

# ------------------------------------------------------------ in-place changes, tracked


def _sgd_step(w):
    w.grad = Tensor(np.ones_like(w.data))
    optim.SGD([w], lr=0.1).step()


def _subtract_in_place(w):
    with no_grad():
        w -= 1.0


def _copy_in_place(w):
    with no_grad():
        w.copy_(np.zeros_like(w.data))


def _load_state(w):
    holder = nn.Module()
    holder.w = w
    holder.load_state_dict({"w": np.zeros_like(w.data)})


CHANGES = {
    "optimizer step": _sgd_step,
    "w -= 1 under no_grad": _subtract_in_place,
    "copy_": _copy_in_place,
    "load_state_dict": _load_state,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_between_forward_and_backward_is_refused(change):
    w = leaf([1.0, 2.0, 3.0])
    loss = (w * w).sum()  # mul saved w: its backward needs the old values
    loss.backward(retain_graph=True)
    change(w)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*'mul'"):
        loss.backward()


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_before_the_forward_pass_is_fine(change):
    w = leaf([1.0, 2.0, 3.0])
    change(w)
    w.grad = None
    expected = 2 * w.data.copy()
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, expected)


def test_a_changed_output_is_refused_too():
    x = leaf([0.5, 1.0])
    y = x.exp()  # exp's backward reads its output
    with no_grad():
        y += 1.0
    with pytest.raises(RuntimeError, match="the output of 'exp'"):
        y.sum().backward()


def test_in_place_under_no_grad_changes_the_same_array_and_counts():
    w = leaf([1.0, 2.0])
    array, version = w.data, w._version
    with no_grad():
        w -= 0.5
        w *= 2.0
        w /= 4.0
        w += 1.0
    assert w.data is array and w.requires_grad and w.creator is None
    np.testing.assert_array_equal(w.data, [1.25, 1.75])
    assert w._version > version


def test_the_micrograd_training_habit_works():
    """``W -= lr * W.grad`` under no_grad, as PyTorch and micrograd users write it."""
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))
    w = leaf(np.zeros((3, 1)))
    for _ in range(200):
        loss = ((x @ w - t) ** 2).mean()
        w.grad = None
        loss.backward()
        with no_grad():
            w -= 0.1 * w.grad
    best, *_ = np.linalg.lstsq(x, t, rcond=None)
    np.testing.assert_allclose(w.data, best, atol=1e-6)


@pytest.mark.parametrize("symbol", ["+=", "-=", "*=", "/="])
def test_in_place_on_a_leaf_that_requires_grad_is_refused_while_recording(symbol):
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used"):
        exec(f"w {symbol} 2.0", {"w": w})


@pytest.mark.parametrize("symbol", ["+=", "-=", "*=", "/="])
def test_in_place_inside_a_forward_differentiates_like_the_plain_operator(symbol):
    x, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    h = x * 1.0
    scope = {"h": h, "b": b}
    exec(f"h {symbol} b", scope)
    scope["h"].sum().backward()
    got = x.grad.data.copy(), b.grad.data.copy()
    x.grad = b.grad = None
    eval(f"x * 1.0 {symbol[0]} b", {"x": x, "b": b}).sum().backward()
    np.testing.assert_allclose(got[0], x.grad.data)
    np.testing.assert_allclose(got[1], b.grad.data)


def test_in_place_that_would_change_the_shape_or_dtype_is_refused():
    w = Tensor(np.zeros(3))
    with pytest.raises(ValueError, match=r"\+=: the result would have shape \(2, 3\)"):
        w += np.ones((2, 3))
    counts = Tensor(np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match=r"\*=: the result would be float64, which cannot"):
        counts *= 0.5


def test_gradient_accumulation_is_safe_across_threads():
    w = leaf(0.0)
    threads, passes = 8, 300

    def work():
        for _ in range(passes):
            (w * 1.0).backward()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert w.grad.item() == threads * passes


# ------------------------------------------------------------ bad input, at the door


@pytest.mark.parametrize("data", ["abc", None, object(), {"a": 1}, [1.0, "x"], [[1.0], [1.0, 2.0]]])
def test_non_numeric_data_is_refused_when_the_tensor_is_made(data):
    with pytest.raises(TypeError, match="Tensor: "):
        Tensor(data)


@pytest.mark.parametrize(
    "operation",
    [
        lambda t: t + "abc",
        lambda t: "abc" - t,
        lambda t: t * None,
        lambda t: t / "x",
        lambda t: t ** "2",
        lambda t: t @ "x",
    ],
)
def test_a_tensor_combined_with_a_string_names_the_op_and_the_types(operation):
    with pytest.raises(TypeError, match=r"^\w+: unsupported operand types \(.*Tensor"):
        operation(leaf([1.0, 2.0]))


AXIS_OPS = {
    "sum": lambda t, axis: t.sum(axis=axis),
    "mean": lambda t, axis: t.mean(axis=axis),
    "max": lambda t, axis: t.max(axis=axis),
    "min": lambda t, axis: t.min(axis=axis),
    "argmax": lambda t, axis: t.argmax(axis=axis),
    "softmax": lambda t, axis: t.softmax(axis=axis),
    "log_softmax": lambda t, axis: t.log_softmax(axis=axis),
    "concatenate": lambda t, axis: concatenate([t, t], axis=axis),
    "stack": lambda t, axis: stack([t, t], axis=axis + 1 if axis >= 0 else axis - 1),
    "transpose": lambda t, axis: t.transpose(axis, 0),
}


@pytest.mark.parametrize("op", AXIS_OPS, ids=AXIS_OPS.keys())
@pytest.mark.parametrize("axis", [2, -3, 7])
def test_an_axis_out_of_range_names_the_op_the_axis_and_the_shape(op, axis):
    shape = r"\(2, 3\)" if op != "stack" else r"\(2, 3, 1\)"
    with pytest.raises(IndexError, match=rf"^{op}: axis -?\d+ is out of range.*shape {shape}"):
        AXIS_OPS[op](leaf(np.ones((2, 3))), axis)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "softmax", "argmax"])
def test_an_axis_that_is_not_an_int_is_refused(op):
    with pytest.raises(TypeError, match=rf"^{op}: axis must be an int"):
        AXIS_OPS[op](leaf(np.ones((2, 3))), 1.5)


DIM_OPS = ["sum", "mean", "max", "min", "argmax", "softmax", "log_softmax"]


@pytest.mark.parametrize("op", DIM_OPS)
def test_dim_is_accepted_wherever_axis_is(op):
    t = leaf(np.arange(6.0).reshape(2, 3))
    by_axis, by_dim = getattr(t, op)(axis=1), getattr(t, op)(dim=1)
    np.testing.assert_array_equal(by_axis.data, by_dim.data)
    with pytest.raises(TypeError, match=rf"^{op}: got both axis=1 and dim=1"):
        getattr(t, op)(axis=1, dim=1)


def test_dim_keepdim_and_joins_take_pytorch_names():
    t = leaf(np.ones((2, 3)))
    assert t.sum(dim=1, keepdim=True).shape == (2, 1)
    assert concatenate([t, t], dim=1).shape == (2, 6)
    assert stack([t, t], dim=2).shape == (2, 3, 2)
    assert F.softmax(t, dim=0).shape == (2, 3)


@pytest.mark.parametrize("op", ["max", "min"])
def test_the_extreme_of_an_empty_tensor_names_the_op(op):
    message = rf"^{op}: the tensor is empty along the reduced axes \(shape \(0, 3\)"
    with pytest.raises(ValueError, match=message):
        getattr(Tensor(np.zeros((0, 3))), op)()


def test_the_mean_of_nothing_is_nan_quietly_as_in_pytorch():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(Tensor(np.zeros((0, 3))).mean().item())


@pytest.mark.parametrize("join", [concatenate, stack])
def test_joining_nothing_says_a_tensor_is_needed(join):
    with pytest.raises(ValueError, match="need at least one tensor"):
        join([])


@pytest.mark.parametrize("grad", [[None, None], ["a", "b"], [object(), 1.0]])
def test_backward_seeded_with_non_numbers_is_refused(grad):
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(TypeError, match="backward: grad must hold numbers"):
        y.backward(grad)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, TypeError, "assigned grad must be a Tensor or None, got int"),
        (np.zeros(2), TypeError, "got ndarray"),
        (Tensor(np.zeros(3)), ValueError, r"has shape \(3,\), but the tensor has shape \(2,\)"),
    ],
)
def test_assigning_a_wrong_grad_is_refused(value, error, message):
    x = leaf([1.0, 2.0])
    with pytest.raises(error, match=message):
        x.grad = value
    x.grad = Tensor(np.ones(2))  # a Tensor of the right shape, or None, is fine
    x.grad = None


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        (np.array([0.0, 1.0]), TypeError, "class-index targets must be integers, got float64"),
        (np.array(["a", "b"]), TypeError, "must be class indices .* or probability rows"),
    ],
)
def test_cross_entropy_says_what_is_wrong_with_the_labels(target, error, message):
    with pytest.raises(error, match=message):
        F.cross_entropy(np.zeros((2, 3)), target)


def test_cross_entropy_of_an_empty_batch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"cross_entropy: the batch is empty \(logits shape"):
        F.cross_entropy(np.zeros((0, 10)), np.zeros(0, dtype=np.int64))


# ---------------------------------------------------------------------- containers


class TwoHeads(nn.Module):
    def __init__(self):
        self.blocks = nn.ModuleList([nn.Linear(4, 3), nn.Linear(3, 2)])
        self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 1)})


def test_module_list_and_dict_parameters_are_visible_and_named():
    names = [name for name, _ in TwoHeads().named_parameters()]
    assert names == [
        "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias",
        "heads.a.weight", "heads.a.bias", "heads.b.weight", "heads.b.bias",
    ]  # fmt: skip


@pytest.mark.parametrize("container", [list, tuple, lambda layers: dict(enumerate(layers))])
def test_a_plain_container_of_modules_warns_that_its_parameters_are_invisible(container):
    holder = nn.Module()
    with pytest.warns(UserWarning, match="parameters are invisible.*nn.Module(List|Dict)"):
        holder.layers = container([nn.Linear(2, 2)])


def test_load_checks_every_entry_before_changing_any():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = {k: np.zeros_like(v) for k, v in before.items()}
    state["2.bias"] = np.array(["bad"])  # the last entry is bad
    with pytest.raises((TypeError, ValueError), match=r"'2\.bias'"):
        model.load_state_dict(state)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


# ------------------------------------------------- found in review: views, lists, None


def _change_through_a_slice(x):
    with no_grad():
        view = x[0:2]
        view += 10.0


def _change_through_detach(x):
    with no_grad():
        detached = x.detach()
        detached += 10.0


def _change_through_reshape(x):
    with no_grad():
        reshaped = x.reshape(3)
        reshaped += 10.0


VIEWS = {
    "slice": _change_through_a_slice,
    "detach": _change_through_detach,
    "reshape": _change_through_reshape,
}


@pytest.mark.parametrize("change", VIEWS.values(), ids=VIEWS.keys())
def test_a_change_through_a_view_counts_for_the_memory_it_shares(change):
    x = Tensor([1.0, 2.0, 3.0])  # a constant input, changed through another tensor
    w = leaf([1.0, 1.0, 1.0])
    loss = (x * w).sum()
    change(x)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_retained_and_leaf_gradients_never_share_memory():
    x = leaf([1.0, 2.0])
    h = x + 1.0  # add hands the same gradient to both
    h.retain_grad()
    (h * 3.0).sum().backward()
    assert not np.shares_memory(x.grad.data, h.grad.data)


def test_a_recorded_leaf_gradient_can_be_changed_in_place():
    x = leaf([1.0, 2.0])
    s = x.sum()
    (s * s).backward(create_graph=True)  # sum's gradient is a broadcast (read-only) view
    with no_grad():
        x.grad += 1.0
    np.testing.assert_allclose(x.grad.data, 2 * s.data + 1.0)


def test_a_backward_that_returns_none_for_a_needed_input_means_zero():
    class OnlyFirst(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, grad):
            _, b = self.saved_inputs()
            return grad * b, None

    a, b0 = leaf([3.0, 4.0]), leaf([1.0, 2.0])
    OnlyFirst()(a, b0 * 2.0).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [2.0, 4.0])
    assert b0.grad is None


def test_lists_work_as_operands_on_either_side():
    t = leaf([[1.0, 2.0]])
    assert (t @ [[1.0], [2.0]]).shape == ([[1.0, 2.0]] @ Tensor([[1.0], [2.0]])).shape == (1, 1)
    (t ** [2.0, 3.0]).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [[2.0, 12.0]])


def test_a_bias_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"linear: a bias of shape \(5,\) does not fit"):
        F.linear(np.ones((2, 3)), leaf(np.ones((3, 4))), leaf(np.ones(5)))


def test_the_extreme_along_a_non_empty_axis_of_an_empty_tensor_is_empty():
    assert Tensor(np.zeros((0, 3))).max(axis=1).shape == (0,)  # as numpy and PyTorch


def test_copying_a_tensor_that_requires_grad_while_recording_is_refused():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="copy_: the source requires grad"):
        Tensor([0.0, 0.0]).copy_(w * 2.0)
