"""Seeing backprop: ``explain_backward`` (the walk told step by step) and
``numerical.gradcheck_graph`` (every op checked on its own)."""

import numpy as np
import pytest
from helpers import check_gradients, leaf
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu.functional as F
from tinygrad_edu import Function, Tensor, explain_backward, nn, viz
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


def test_explain_backward_refuses_what_backward_refuses():
    with pytest.raises(RuntimeError, match="does not require grad"):
        explain_backward(Tensor(1.0))
    with pytest.raises(TypeError, match="explain_backward: root must be a Tensor"):
        explain_backward(1.0)
    _, price = apple_example()
    explain_backward(price)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        explain_backward(price)  # the graph was freed, as by backward()


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


def test_gradcheck_graph_needs_the_graph():
    _, price = apple_example()
    price.backward()
    with pytest.raises(RuntimeError, match="already freed"):
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


def test_the_command_runs_the_example(tmp_path, capsys):
    from tinygrad_edu.apps import cli

    assert cli.main(["explain", "--quick", "--out", str(tmp_path)]) == 0
    assert "d(price)/d(apple_num) = 110.0" in capsys.readouterr().out
    assert (tmp_path / "gradcheck.png").exists() or (tmp_path / "gradcheck.dot").exists()
