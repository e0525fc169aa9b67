"""The training health monitor: sick networks are diagnosed with the right symptom and
layer, a healthy one gets no warning, and the dashboard is a PNG.

The networks are the book's chapter-6 experiment (figures 6-10 to 6-14): 5 hidden layers
of 100 units, weights drawn with a chosen standard deviation, on a synthetic 10-class
problem (100 Gaussian features, labels from a random linear teacher).
"""

import math
import sys

import numpy as np
import pytest
from helpers import PNG_MAGIC, require_matplotlib

import tinygrad_edu.functional as F
from tinygrad_edu import nn, optim, threads
from tinygrad_edu.monitor import HealthWarning, Monitor, StepRecord

FEATURES, CLASSES, BATCH = 100, 10, 100


def dataset(seed=0, n=1000):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, FEATURES)).astype(np.float32)
    t = (x @ rng.standard_normal((FEATURES, CLASSES))).argmax(axis=1)
    return x, t


def network(activation, std, bias=0.0, layers=5, width=100):
    """Linear -> activation, ``layers`` times, then a Linear to the classes. ``std``: a
    number, or "xavier" (sqrt(1 / fan_in)) or "he" (sqrt(2 / fan_in))."""
    np.random.seed(0)
    modules, fan_in = [], FEATURES
    for _ in range(layers):
        linear = nn.Linear(fan_in, width)
        scale = {"xavier": np.sqrt(1 / fan_in), "he": np.sqrt(2 / fan_in)}.get(std, std)
        linear.weight.data[...] = np.random.standard_normal((fan_in, width)) * scale
        linear.bias.data[...] = bias
        modules += [linear, activation()]
        fan_in = width
    return nn.Sequential(*modules, nn.Linear(fan_in, CLASSES))


def train(model, lr, steps=10):
    """``steps`` SGD steps on mini-batches of 100, watched by a Monitor; returns it."""
    x, t = dataset()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    monitor = Monitor(model)
    for step in range(steps):
        rows = slice(step * BATCH % len(x), step * BATCH % len(x) + BATCH)
        with np.errstate(all="ignore"):  # the sick runs overflow on purpose
            loss = F.cross_entropy(model(x[rows]), t[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        monitor.step(loss)
    return monitor


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """One BLAS thread for these tests, as the command line runs (run_main): with two on a
    busy machine, the small matrix products here run up to 10 times slower."""
    before = threads.get_num_threads()
    threads.set_num_threads(1)
    yield
    threads.set_num_threads(before)


def symptoms(monitor):
    return {(w.layer, w.symptom) for w in monitor.report(quiet=True)}


# --------------------------------------------------------------------- diagnoses


def test_a_healthy_he_initialised_relu_net_gets_no_warning(capsys):
    monitor = train(network(nn.ReLU, "he"), lr=0.1)
    assert monitor.report() == []
    assert "no problems found (10 steps recorded)" in capsys.readouterr().out
    ratios = [monitor.steps[-1].update_ratios[f"{i}.weight"] for i in range(0, 11, 2)]
    assert all(1e-4 < r < 3e-2 for r in ratios)  # around CS231n's 1e-3


def test_sigmoid_with_std_1_weights_is_saturated_in_every_layer():
    """The book's figure 6-10: the activations pile up at 0 and 1."""
    monitor = train(network(nn.Sigmoid, 1.0), lr=0.1)
    found = symptoms(monitor)
    sigmoid_layers = [f"layer {i} (Sigmoid)" for i in range(1, 10, 2)]
    assert {(layer, "saturated units") for layer in sigmoid_layers} <= found
    stats = monitor.steps[-1].activations["1"]
    assert stats.saturated > 0.4 and stats.dead is None


def test_sigmoid_with_std_001_weights_has_collapsed_activations_and_vanishing_gradients():
    """The book's figure 6-11: every output near 0.5; the first layer hardly learns."""
    found = symptoms(train(network(nn.Sigmoid, 0.01), lr=0.1))
    assert ("layer 3 (Sigmoid)", "collapsed activations") in found
    assert ("layer 0 (Linear)", "vanishing gradients") in found
    assert not any(symptom == "saturated units" for _, symptom in found)


def test_xavier_sigmoid_is_neither_saturated_nor_collapsed():
    """The book's figure 6-13: a wide spread of activations."""
    found = symptoms(train(network(nn.Sigmoid, "xavier"), lr=0.1))
    assert not {s for _, s in found} & {"saturated units", "collapsed activations"}


def test_tanh_with_large_weights_is_saturated():
    monitor = Monitor(network(nn.Tanh, 1.0))
    monitor.model(dataset()[0][:BATCH])  # one forward pass is enough for activations
    assert ("layer 1 (Tanh)", "saturated units") in symptoms(monitor)


def test_relu_with_a_huge_negative_bias_is_dead():
    monitor = train(network(nn.ReLU, "he", bias=-100.0), lr=0.1, steps=3)
    found = monitor.report(quiet=True)
    assert {w.layer for w in found if w.symptom == "dead units"} == {
        f"layer {i} (ReLU)" for i in range(1, 10, 2)
    }
    assert monitor.steps[-1].activations["1"].dead == 1.0
    # no weight gets a gradient, so the monitor does not blame the optimizer
    assert not any("learning rate" in w.symptom or "change" in w.symptom for w in found)


def test_learning_rate_10_is_flagged_too_high_with_the_nan_loss():
    monitor = train(network(nn.ReLU, "he"), lr=10.0)
    found = monitor.report(quiet=True)
    symptoms_found = [w.symptom for w in found]
    assert symptoms_found[0] == "loss is nan"
    assert "learning rate too high" in symptoms_found
    high = next(w for w in found if w.symptom == "learning rate too high")
    assert "CS231n" in high.detail and "divide the learning rate" in high.fix
    assert high.layer.startswith("layer ") and "(Linear)" in high.layer


def test_a_tiny_learning_rate_is_flagged_too_low():
    found = symptoms(train(network(nn.ReLU, "he"), lr=1e-7, steps=5))
    assert any(symptom == "learning rate too low" for _, symptom in found)


def test_forgetting_optimizer_step_is_noticed():
    model = network(nn.ReLU, "he", layers=2)
    monitor = Monitor(model)
    x, t = dataset()
    for _ in range(3):
        model.zero_grad()
        F.cross_entropy(model(x[:BATCH]), t[:BATCH]).backward()
        monitor.step()  # no optimizer.step()
    found = monitor.report(quiet=True)
    assert [w.symptom for w in found] == ["weights do not change"]
    assert "optimizer.step()" in found[0].fix


def test_report_prints_layer_symptom_and_fix(capsys):
    monitor = train(network(nn.Sigmoid, 1.0), lr=0.1, steps=2)
    found = monitor.report()
    printed = capsys.readouterr().out
    assert f"{len(found)} problem(s) found (2 steps recorded)" in printed
    assert "- layer 1 (Sigmoid): saturated units: " in printed
    assert "usual fix: smaller initial weights: Xavier init" in printed
    assert all(isinstance(w, HealthWarning) and w.fix for w in found)


# --------------------------------------------------------------------- recording


def test_step_records_gradient_norms_and_the_actual_weight_change():
    model = network(nn.ReLU, "he", layers=1)
    monitor = Monitor(model)
    before = model[0].weight.data.copy()
    x, t = dataset()
    loss = F.cross_entropy(model(x[:BATCH]), t[:BATCH])
    loss.backward()
    optim.SGD(model.parameters(), lr=0.5).step()
    record = monitor.step(loss)
    assert isinstance(record, StepRecord) and monitor.steps == [record]
    assert record.loss == pytest.approx(loss.item())
    grad = model[0].weight.grad.data.astype(np.float64)
    assert record.grad_norms["0.weight"] == pytest.approx(np.linalg.norm(grad), rel=1e-6)
    change = np.linalg.norm(model[0].weight.data - before) / np.linalg.norm(before)
    assert record.update_ratios["0.weight"] == pytest.approx(change, rel=1e-6)
    assert record.update_ratios["0.weight"] == pytest.approx(
        0.5 * np.linalg.norm(grad) / np.linalg.norm(before), rel=1e-5
    )
    assert "0.bias" not in record.update_ratios  # zeros at the start: no ratio
    layer = record.activations["1"]
    out = np.maximum(x[:BATCH] @ before + 0, 0)
    assert layer.mean == pytest.approx(out.mean(), rel=1e-5)
    assert layer.std == pytest.approx(out.std(), rel=1e-5)


def test_detach_removes_every_hook_and_keeps_the_records():
    model = network(nn.ReLU, "he", layers=2)
    with Monitor(model) as monitor:
        model(dataset()[0][:BATCH])
        assert all(len(m._forward_hooks) == 1 for m in model.modules() if not m.children())
    assert all(not m._forward_hooks for m in model.modules())
    assert "1" in monitor.layers and monitor.layers["1"].stats is not None


def test_the_monitor_watches_only_modules():
    with pytest.raises(TypeError, match=r"Monitor: expected an nn\.Module"):
        Monitor(lambda x: x)


# ------------------------------------------------------------------------ plot


def test_plot_writes_a_png_dashboard(tmp_path):
    require_matplotlib()
    monitor = train(network(nn.Sigmoid, 1.0), lr=0.1, steps=3)
    path = monitor.plot(tmp_path / "dash" / "health.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plot_without_steps_draws_the_histograms(tmp_path):
    require_matplotlib()
    monitor = Monitor(network(nn.ReLU, "he", bias=-100.0, layers=2))
    monitor.model(dataset()[0][:BATCH])
    assert monitor.plot(tmp_path / "h.png").read_bytes()[:8] == PNG_MAGIC


def test_plot_without_matplotlib_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    monitor = Monitor(nn.ReLU())
    with pytest.raises(ImportError, match=r"pip install 'tinygrad_edu\[plot\]'"):
        monitor.plot(tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()


def test_nan_loss_alone_is_reported_with_its_step():
    monitor = Monitor(nn.ReLU())
    monitor.step(1.0)
    monitor.step(math.inf)
    (warning,) = monitor.report(quiet=True)
    assert warning.symptom == "loss is inf" and "step 2 of 2" in warning.detail


# ------------------------------------------- examples/weight_init_activations.py


@pytest.fixture(scope="module")
def weight_init_run(run_example):
    return run_example("weight_init_activations")


def test_weight_init_example_reproduces_the_books_histograms(weight_init_run):
    """Figures 6-10 to 6-14 (--quick draws the same histograms; only training is shorter)."""
    result, printed, out = weight_init_run
    runs = result["histograms"]
    assert all(s > 0.4 for s in runs["sigmoid, std 1"]["saturated"])  # piled at 0 and 1
    assert "saturated units" in runs["sigmoid, std 1"]["symptoms"]
    assert all(s < 0.05 for s in runs["sigmoid, std 0.01"]["std"])  # all near 0.5
    assert "collapsed activations" in runs["sigmoid, std 0.01"]["symptoms"]
    assert runs["sigmoid, Xavier"]["symptoms"] == []
    assert runs["relu, std 0.01"]["std"][-1] < 1e-3 * runs["relu, std 0.01"]["std"][0]
    assert "vanishing activations" in runs["relu, std 0.01"]["symptoms"]
    he = runs["relu, He"]["std"]
    assert runs["relu, He"]["symptoms"] == [] and max(he) < 1.5 * min(he)  # same spread
    assert "sigmoid, std 1" in printed and "usual fix" in printed
    require_matplotlib()
    assert len(result["figures"]) == 6 + 1 + 3
    for path in result["figures"]:
        assert path.parent == out and path.read_bytes()[:8] == PNG_MAGIC


def test_weight_init_example_std_001_does_not_learn_and_he_does(weight_init_run):
    """Figure 6-15, in --quick's 200 steps: std 0.01 stays at ln 10, He learns fastest."""
    result, _, _ = weight_init_run
    last = {init: np.mean(losses[-50:]) for init, losses in result["losses"].items()}
    assert last["std 0.01"] > 2.25
    assert last["He"] < 1.5
    assert last["He"] < last["Xavier"] < last["std 0.01"]
