"""Seeing backprop: ``explain_backward`` (the walk told step by step) and
``numerical.gradcheck_graph`` (every op checked on its own)."""

import re

import numpy as np
import pytest
from helpers import check_gradients, leaf
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_op_gradients import DTYPE_CASES as OP_SET  # the hypothesis op set: fn, inputs

import tinygrad_edu.functional as F
from tinygrad_edu import Function, Tensor, explain_backward, nn, ops, viz
from tinygrad_edu.explain import MAX_PRINTED_STEPS
from tinygrad_edu.numerical import gradcheck_graph


def apple_example():
    """The book's figure 5-16: 2 apples at 100 each, tax 1.1: price 220."""
    apple = Tensor(100.0, requires_grad=True, name="apple")
    apple_num = Tensor(2.0, requires_grad=True, name="apple_num")
    tax = Tensor(1.1, requires_grad=True, name="tax")
    apple_price = apple * apple_num
    apple_price.name = "apple_price"
    price = apple_price * tax
    price.name = "price"
    return (apple, apple_num, tax), price


def small_net(seed=0):
    """A 4-5-3 tanh network's loss; the same seed gives the same network and batch."""
    np.random.seed(seed)  # nn.Linear draws from numpy's global generator
    rng = np.random.default_rng(seed)
    model = nn.Sequential(
        nn.Linear(4, 5, dtype=np.float64), nn.Tanh(), nn.Linear(5, 3, dtype=np.float64)
    )
    x = rng.standard_normal((6, 4))
    return model, F.cross_entropy(model(x), np.arange(6) % 3)


# ------------------------------------------------------------------ explain_backward


def test_the_apple_example_reads_like_the_book():
    (apple, apple_num, tax), price = apple_example()
    text = str(explain_backward(price))
    assert "backward from price = 220.0" in text
    assert "step 1: mul" in text and "step 2: mul" in text
    assert "d(a*b)/da = b, d(a*b)/db = a" in text  # the local rule
    assert "d(price)/d(apple_price) = 1.1" in text  # what arrives at the first mul
    for name, value in (("apple", "2.2"), ("apple_num", "110.0"), ("tax", "200.0")):
        assert f"d(price)/d({name}) = {value}" in text
    assert (apple.grad.item(), apple_num.grad.item(), tax.grad.item()) == pytest.approx(
        (2.2, 110.0, 200.0)
    )


def test_grads_are_exactly_those_of_backward():
    model_a, loss_a = small_net()
    model_b, loss_b = small_net()
    loss_a.backward()
    explain_backward(loss_b)
    for (name, a), (_, b) in zip(model_a.named_parameters(), model_b.named_parameters()):
        np.testing.assert_array_equal(a.grad.data, b.grad.data, err_msg=name)


def test_steps_record_each_op_with_its_upstream_and_handoffs():
    _, price = apple_example()
    steps = explain_backward(price).steps
    assert [s.name for s in steps] == ["mul", "mul"]
    assert steps[0].upstream == 1.0 and steps[1].upstream == pytest.approx(1.1)
    assert [(h.input, float(h.grad)) for h in steps[1].handoffs] == [
        ("apple", pytest.approx(2.2)),
        ("apple_num", pytest.approx(110.0)),
    ]


def test_broadcasting_and_reuse_are_told():
    x = Tensor(np.ones((2, 3)), requires_grad=True, name="x")
    b = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, name="b")
    y = ((x + b) * x).sum()  # b is broadcast; x is used twice
    explanation = explain_backward(y)
    text = str(explanation)
    assert "summed over axes (0,)" in text and "from shape (3,) to (2, 3)" in text
    assert "x is used more than once" in text
    reused = [h for s in explanation.steps for h in s.handoffs if h.added_to is not None]
    assert [h.input for h in reused] == ["x"]
    np.testing.assert_allclose(x.grad.data, 2 * x.data + b.data)  # d/dx (x+b)x = 2x + b


def test_frames_draw_one_picture_per_step_with_the_current_op_highlighted():
    _, price = apple_example()
    explanation = explain_backward(price)
    frames = explanation.frames()
    assert len(frames) == len(explanation.steps) == 2
    first, last = frames[0].source, frames[1].source
    assert first.count("#ff7f50") == last.count("#ff7f50") == 1
    assert "grad so far = 200.0" in first and "grad so far = 2.2" not in first
    assert "grad so far = 2.2" in last and "grad so far = 110.0" in last


def test_explain_backward_says_what_is_wrong_with_its_input():
    with pytest.raises(
        ValueError, match=r"explain_backward: this tensor .* not computed by any op"
    ):
        explain_backward(Tensor(1.0, requires_grad=True))
    with pytest.raises(TypeError, match="explain_backward: root must be a Tensor"):
        explain_backward(1.0)
    _, price = apple_example()
    explain_backward(price)
    with pytest.raises(RuntimeError, match="explain_backward: backward\\(\\) already ran"):
        explain_backward(price)  # the graph was freed, as by backward()
    with pytest.raises(ValueError, match="backward: grad has shape"):
        explain_backward(apple_example()[1], grad=np.ones(3))


def test_a_big_graph_is_summarised_when_printed():
    x = leaf(0.5)
    y = x
    for _ in range(100):
        y = y * 1.001
    explanation = explain_backward(y)
    assert len(explanation.steps) == 100
    text = str(explanation)
    assert len(re.findall(r"^step \d+: mul", text, flags=re.M)) == MAX_PRINTED_STEPS
    assert f"... {100 - MAX_PRINTED_STEPS} more steps not printed (all are in .steps)" in text


def test_notes_and_names_are_escaped_in_the_drawing():
    x = Tensor(2.0, requires_grad=True, name='say "hi" <b>')
    y = x * 3
    source = viz.draw_graph(y, notes={y.creator: 'a "quoted" <note>'}).source
    assert 'say \\"hi\\" <b>' in source and 'a \\"quoted\\" <note>' in source
    assert "label=<" not in source  # never read as an HTML-like label


@pytest.mark.parametrize("name", OP_SET)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_explain_backward_leaves_the_grads_of_backward(name, data):
    fn, strategy = OP_SET[name]
    arrays = data.draw(strategy, label="inputs")
    weights = np.random.default_rng(0).standard_normal(np.shape(fn(*map(Tensor, arrays))))
    plain, explained = [leaf(a) for a in arrays], [leaf(a) for a in arrays]
    (fn(*plain) * weights).sum().backward()
    explain_backward((fn(*explained) * weights).sum())
    for a, b in zip(plain, explained):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            np.testing.assert_array_equal(a.grad.data, b.grad.data)


@pytest.mark.parametrize("name", OP_SET)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_gradcheck_graph_passes_every_built_in_op(name, data):
    fn, strategy = OP_SET[name]
    arrays = data.draw(strategy, label="inputs")
    if name == "clip":  # clip(-1, 1) has kinks at -1 and 1: stay off them
        assume(np.all(np.abs(np.abs(arrays[0]) - 1) > 1e-3))
    out = fn(*[leaf(a) for a in arrays])
    assume(out.creator is not None)
    report = gradcheck_graph(out)
    assert report.ok, str(report)


# ------------------------------------------------------------------ gradcheck_graph


class WrongSquare(Function):
    """x**2 with a deliberately wrong backward (3x instead of 2x)."""

    def forward(self, x):
        return x * x

    def backward(self, grad):
        (x,) = self.saved_inputs()
        return grad * 3 * x


def test_a_wrong_op_deep_in_a_graph_is_named_and_only_it():
    rng = np.random.default_rng(1)
    w = leaf(rng.standard_normal((4, 3)))
    b = leaf(rng.standard_normal(3))
    x = rng.standard_normal((5, 4))
    h = (x @ w + b).tanh()  # matmul, add, tanh
    h = WrongSquare()(h) * 0.5  # the wrong op, mul
    loss = (h.exp() - h).mean() + (w**2).sum() * 0.1  # exp, sub, mean, pow, sum, mul, add
    report = gradcheck_graph(loss)
    assert len(report.rows) >= 10
    assert not report.ok
    assert [r.op for r in report.failed] == ["wrongsquare"]
    assert "FAIL" in str(report) and "1 wrong" in str(report)
    # the drawing paints it, and only it, red
    source = viz.draw_graph(loss, highlight=report).source
    red = [line for line in source.splitlines() if viz.FAILED_COLOR in line]
    assert len(red) == 1 and "wrongsquare" in red[0]


def test_a_correct_network_passes_every_op():
    _, loss = small_net()
    report = gradcheck_graph(loss)
    assert report.ok, str(report)
    assert [r.op for r in report.rows] == ["linear", "tanh", "linear", "cross_entropy"]
    assert all(r.max_abs_error < 1e-6 for r in report.rows)


def test_float32_graphs_are_checked_in_float64():
    w = Tensor(
        np.random.default_rng(2).standard_normal((3, 3)).astype(np.float32), requires_grad=True
    )
    loss = (w.sigmoid() * w).sum()
    assert gradcheck_graph(loss).ok


def wrong_backward(op_class):
    """``op_class`` with a backward that is 10 % off for every input."""

    class Wrong(op_class):
        def backward(self, grad):
            grads = super().backward(grad)
            grads = grads if isinstance(grads, tuple) else (grads,)
            return tuple(None if g is None else g * 1.1 for g in grads)

    return Wrong


# op class -> a graph of several correct ops around one call of the (wrong) op
INJECTED = {
    "mul": (ops.Mul, lambda op, a, w, b: (op()(a.tanh(), a[0]) @ w + b).exp().mean()),
    "exp": (ops.Exp, lambda op, a, w, b: (op()(a * 0.5) @ w).sigmoid().sum()),
    "matmul": (ops.MatMul, lambda op, a, w, b: (op()(a, w) + b).tanh().mean()),
    "sigmoid": (ops.Sigmoid, lambda op, a, w, b: ((op()(a @ w) - b) ** 2).sum()),
    "sum": (ops.Sum, lambda op, a, w, b: op(axis=0)(a @ w * b).tanh().mean()),
    "linear": (
        F.Linear,
        lambda op, a, w, b: F.cross_entropy(op()(a.tanh(), w, b) * 2.0, [0, 1, 2, 0, 1]),
    ),
}


@pytest.mark.parametrize("name", INJECTED)
def test_gradcheck_graph_names_an_injected_wrong_backward(name):
    op_class, build = INJECTED[name]
    rng = np.random.default_rng(3)
    a, w, b = (
        leaf(rng.standard_normal((5, 4))),
        leaf(rng.standard_normal((4, 3))),
        leaf(rng.standard_normal(3)),
    )
    right, wrong = (
        gradcheck_graph(build(op_class, a, w, b)),
        gradcheck_graph(build(wrong_backward(op_class), a, w, b)),
    )
    assert right.ok, str(right)
    assert [r.op for r in wrong.failed] == ["wrong"], str(wrong)
    assert len(wrong.rows) == len(right.rows) >= 4


def test_kinks_are_skipped_not_failed():
    """ReLU's zeros tie in max-pooling windows: max is not differentiable there, and the
    two one-sided differences say so; the op is not called wrong."""
    rng = np.random.default_rng(4)
    x = leaf(rng.standard_normal((2, 3, 6, 6)))
    w = leaf(rng.standard_normal((4, 3, 3, 3)))
    hidden = (F.conv2d(x, w) - 3.0).relu()  # mostly zeros: whole windows of them
    loss = (F.max_pool2d(hidden, 2) * 1.5).sum()
    report = gradcheck_graph(loss)
    assert report.ok, str(report)
    assert sum(r.kinks for r in report.rows) > 0
    assert "not differentiable there" in str(report)


def test_gradcheck_graph_says_what_is_wrong_with_its_input():
    with pytest.raises(TypeError, match="gradcheck_graph: root must be a Tensor"):
        gradcheck_graph(1.0)
    with pytest.raises(ValueError, match="gradcheck_graph: this tensor was not computed"):
        gradcheck_graph(Tensor(1.0, requires_grad=True))
    _, price = apple_example()
    price.backward()
    with pytest.raises(RuntimeError, match="gradcheck_graph: backward\\(\\) already freed"):
        gradcheck_graph(price)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**16))
def test_gradcheck_graph_agrees_with_the_whole_graph_check(n, m, seed):
    """Where the whole-graph check passes, so does every op on its own."""
    rng = np.random.default_rng(seed)
    a, c = rng.standard_normal((n, m)), rng.standard_normal(m)

    def fn(a, c):
        return ((a * c).sigmoid() + a.tanh() * c).mean()

    check_gradients(fn, a, c)
    assert gradcheck_graph(fn(leaf(a), leaf(c))).ok


# ------------------------------------------------------------------ the example


def test_the_example_tells_the_apple_story_and_finds_the_bug(run_example):
    result, printed, out = run_example("explain_backward")
    assert result == 0  # main returns 0 when exactly the planted bug is found
    assert "d(price)/d(apple) = 2.2" in printed and "d(price)/d(tax) = 200.0" in printed
    assert "-> 'badsigmoid' has a wrong backward" in printed
    assert sorted(p.stem for p in out.iterdir()) == ["apple_step_1", "apple_step_2", "gradcheck"]
    assert "d(price)/d(orange_num) = 165.0" in printed  # the notes' multiply and add nodes


def test_the_command_runs_the_example(tmp_path, capsys):
    from tinygrad_edu.apps import cli

    assert cli.main(["explain", "--quick", "--out", str(tmp_path)]) == 0
    assert "d(price)/d(apple_num) = 110.0" in capsys.readouterr().out
    assert (tmp_path / "gradcheck.svg").exists() or (tmp_path / "gradcheck.dot").exists()
