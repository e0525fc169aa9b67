"""The way out (tinygrad_edu.export), judged by the other ecosystems' own tools.

ONNX files are checked by ``onnx.checker`` and run by onnxruntime; PyTorch modules are
run by PyTorch; both must give this library's outputs (float32: ONNX to 1e-4, PyTorch to
1e-5) for batches of 1 and 64, whatever batch the export saw, for MLPs and a CNN with
both BatchNorms. State dicts travel both
ways, with every mismatch reported at once. Without onnx, onnxruntime or torch these tests
skip, except in CI (CI=true), where they fail (.ci/run installs the extras).
"""

import contextlib
import itertools
import sys

import numpy as np
import pytest
from helpers import call_main, load_example, run_python
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import export, nn, no_grad
from tinygrad_edu._io import atomic_write
from tinygrad_edu.apps import cli
from tinygrad_edu.models import TwoLayerNet

ONNX_TOL = 1e-4
TORCH_TOL = 1e-5
BATCHES = (1, 64)


# ---------------------------------------------------------------------------- models


def flagship(hidden=32):
    """The flagship's shape: 784 -> hidden -> 10, ReLU."""
    return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def every_layer():
    """Every supported layer once, with a nested Sequential: input (N, 2, 3, 4)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(24, 16),
        nn.Sigmoid(),
        nn.Sequential(nn.Dropout(0.3), nn.Linear(16, 8, bias=False), nn.Tanh()),
        nn.Linear(8, 5),
        nn.Softmax(dim=1),
    )


def keeps_leading_axes():
    """Flatten(start_dim=2), a Linear and a BatchNorm1d (without beta, its statistics
    moved by a training batch) on 3-D inputs: (N, 3, 4, 5) -> (N, 3, 2)."""
    model = nn.Sequential(
        nn.Flatten(start_dim=2),  # (N, 3, 20)
        nn.Linear(20, 6),
        nn.BatchNorm1d(3, bias=False),  # per channel: axis 1
        nn.ReLU(),
        nn.Linear(6, 2),
    )
    with no_grad():
        model(inputs((3, 4, 5), 8) + 1)
    return model


def cnn():
    """Chapter 7's layers with padding, pairs and both BatchNorms, their running
    statistics moved away from 0 and 1 by a few training batches: input (N, 1, 12, 12)."""
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),  # (N, 4, 12, 12)
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 4, 6, 6)
        nn.Conv2d(4, 6, (3, 2), stride=(2, 1), bias=False),  # (N, 6, 2, 5)
        nn.AvgPool2d(2, padding=1),  # (N, 6, 2, 3): the zero padding counts
        nn.Flatten(),
        nn.Linear(36, 16),
        nn.BatchNorm1d(16, affine=False),
        nn.Tanh(),
        nn.Linear(16, 10),
    )
    with no_grad():
        for seed in range(3):
            model(inputs((1, 12, 12), 8, seed=seed) * 2 + 1)
    return model


# (name, builder, the shape of one input)
MODELS = [
    ("flagship", flagship, (784,)),
    ("every_layer", every_layer, (2, 3, 4)),
    ("keeps_leading_axes", keeps_leading_axes, (3, 4, 5)),
    ("cnn", cnn, (1, 12, 12)),
]
MODEL_IDS = [name for name, _, _ in MODELS]


def build(builder, seed=0):
    np.random.seed(seed)
    return builder()


def inputs(shape, batch, seed=1):
    return np.random.default_rng(seed).standard_normal((batch, *shape)).astype(np.float32)


def ours(model, x):
    """The model's output in eval mode (Dropout off), as a numpy array."""
    model.eval()
    with no_grad():
        return model(x).data


def run_onnx(onnxruntime, path, x):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = session.run(["output"], {"input": x})
    return y


def run_torch(torch, module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


class Doubler(nn.Module):
    """A custom Module: its forward is Python code the exporter cannot read."""

    def forward(self, x):
        return x * 2


# ------------------------------------------------------------------------------- ONNX


@pytest.mark.parametrize(("name", "builder", "shape"), MODELS, ids=MODEL_IDS)
def test_onnx_runs_in_onnxruntime_like_here(onnx, onnxruntime, tmp_path, name, builder, shape):
    model = build(builder)
    path = tmp_path / f"{name}.onnx"
    export.to_onnx(model, inputs(shape, 3), path)  # exported with a batch of 3
    onnx.checker.check_model(onnx.load(path), full_check=True)
    for batch in BATCHES:
        x = inputs(shape, batch)
        y = run_onnx(onnxruntime, path, x)
        expected = ours(model, x)
        assert y.dtype == np.float32 and y.shape == expected.shape
        np.testing.assert_allclose(y, expected, rtol=0, atol=ONNX_TOL)


def test_onnx_batch_axis_is_dynamic_and_everything_is_float32(onnx, tmp_path):
    path = tmp_path / "m.onnx"
    export.to_onnx(build(flagship), inputs((784,), 2), path)
    graph = onnx.load(path).graph
    (x,), (y,) = graph.input, graph.output
    for value, size in ((x, 784), (y, 10)):
        first, second = value.type.tensor_type.shape.dim
        assert first.dim_param == export.BATCH and not first.HasField("dim_value")
        assert second.dim_value == size
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert {t.data_type for t in graph.initializer} == {onnx.TensorProto.FLOAT}


def test_onnx_keeps_the_weights_names_and_layout(onnx, tmp_path):
    """MatMul takes our (in, out) weight as it is, under its state_dict name."""
    model = build(flagship)
    proto = export.to_onnx(model, inputs((784,), 2), tmp_path / "m.onnx")
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    state = model.state_dict()
    assert weights.keys() == state.keys()
    for name, array in state.items():
        np.testing.assert_array_equal(weights[name], array)


def test_onnx_of_float64_weights_is_float32(onnxruntime, tmp_path):
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(5, 4, dtype=np.float64), nn.Tanh())
    path = tmp_path / "m.onnx"
    export.to_onnx(model, inputs((5,), 2), path)
    x = inputs((5,), 7)
    y = run_onnx(onnxruntime, path, x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ours(model, x), rtol=0, atol=ONNX_TOL)


def test_dropout_leaves_as_identity_and_training_modes_are_restored(onnxruntime, tmp_path):
    model = build(every_layer).train()
    path = tmp_path / "m.onnx"
    export.to_onnx(model, inputs((2, 3, 4), 2), path)
    assert model.training and all(m.training for m in model[3])
    x = inputs((2, 3, 4), 64)
    np.testing.assert_allclose(run_onnx(onnxruntime, path, x), ours(model, x), atol=ONNX_TOL)


def test_a_model_of_identities_still_has_an_output(onnxruntime, tmp_path):
    path = tmp_path / "m.onnx"
    export.to_onnx(nn.Sequential(nn.Dropout(0.5)), inputs((3,), 2), path)
    x = inputs((3,), 4)
    np.testing.assert_array_equal(run_onnx(onnxruntime, path, x), x)


@settings(max_examples=10)
@given(
    widths=st.lists(st.integers(1, 12), min_size=2, max_size=4),
    activation=st.sampled_from([nn.ReLU, nn.Sigmoid, nn.Tanh]),
    batch=st.integers(1, 9),
)
def test_onnx_matches_any_mlp(onnx, onnxruntime, tmp_path_factory, widths, activation, batch):
    np.random.seed(0)
    layers = []
    for n_in, n_out in itertools.pairwise(widths):
        layers += [nn.Linear(n_in, n_out), activation()]
    model = nn.Sequential(*layers)
    path = tmp_path_factory.mktemp("mlp") / "m.onnx"
    export.to_onnx(model, inputs((widths[0],), 2), path)
    x = inputs((widths[0],), batch)
    np.testing.assert_allclose(run_onnx(onnxruntime, path, x), ours(model, x), atol=ONNX_TOL)


def test_onnx_refuses_a_bad_opset_or_example_input(onnx, tmp_path):
    model = build(flagship)
    with pytest.raises(ValueError, match="opset must be in 13"):
        export.to_onnx(model, inputs((784,), 2), tmp_path / "m.onnx", opset=12)
    with pytest.raises(ValueError, match=r"must be a batch \(N, \.\.\.\), got shape \(784,\)"):
        export.to_onnx(model, np.zeros(784, np.float32), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="does not fit layer '0'"):
        export.to_onnx(model, np.zeros((2, 783), np.float32), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


@contextlib.contextmanager
def disk_full_midway(path, mode="wb"):
    """atomic_write, whose file takes half of what is written and then fails."""

    class HalfFull:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    with atomic_write(path, mode) as f:
        yield HalfFull(f)


def test_a_failed_onnx_write_leaves_the_old_file_and_no_temporary(onnx, tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"the previous export")
    monkeypatch.setattr(export, "atomic_write", disk_full_midway)
    with pytest.raises(OSError, match="No space left"):
        export.to_onnx(build(flagship), inputs((784,), 2), path)
    assert path.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file
    path.unlink()
    with pytest.raises(OSError, match="No space left"):
        export.to_onnx(build(flagship), inputs((784,), 2), path)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------- PyTorch


@pytest.mark.parametrize(("name", "builder", "shape"), MODELS, ids=MODEL_IDS)
def test_to_torch_gives_the_same_outputs(torch, name, builder, shape):
    model = build(builder).eval()
    module = export.to_torch(model)
    assert not module.training
    assert sorted(module.state_dict()) == sorted(model.state_dict())  # "0.weight", ...
    for batch in BATCHES:
        x = inputs(shape, batch)
        y = run_torch(torch, module, x)
        expected = ours(model, x)
        assert y.dtype == np.float32 and y.shape == expected.shape
        np.testing.assert_allclose(y, expected, rtol=0, atol=TORCH_TOL)


def test_to_torch_builds_torch_nn_layers_with_transposed_linear_weights(torch):
    model = build(every_layer)
    module = export.to_torch(model)
    assert [type(m).__name__ for m in module] == [
        *("Flatten", "Linear", "Sigmoid", "Sequential", "Linear", "Softmax")
    ]
    assert [type(m).__name__ for m in module[3]] == ["Dropout", "Linear", "Tanh"]
    assert module[3][0].p == 0.3 and module[3][1].bias is None and module[5].dim == 1
    np.testing.assert_array_equal(module[1].weight.detach().numpy(), model[1].weight.data.T)
    assert module.training  # our layers start in training mode, as PyTorch's do


def test_to_torch_keeps_float64(torch):
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(4, 3, dtype=np.float64))
    module = export.to_torch(model)
    assert module[0].weight.dtype == torch.float64
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_allclose(run_torch(torch, module, x), ours(model, x), rtol=1e-12)


def test_a_torch_state_dict_runs_here_as_in_torch(torch, tmp_path):
    """A network trained (here: initialized) by PyTorch, saved by torch.save, read back
    with weights_only=True, and run here."""
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(24, 16),
        torch.nn.Sigmoid(),
        torch.nn.Sequential(torch.nn.Dropout(0.3), torch.nn.Linear(16, 8, bias=False)),
        torch.nn.Tanh(),
    ).eval()
    torch.save(theirs.state_dict(), tmp_path / "theirs.pt")
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(24, 16),
        nn.Sigmoid(),
        nn.Sequential(nn.Dropout(0.3), nn.Linear(16, 8, bias=False)),
        nn.Tanh(),
    )
    loaded = torch.load(tmp_path / "theirs.pt", weights_only=True)
    assert export.load_torch_state_dict(model, loaded) is model
    assert model[1].weight.dtype == np.float32
    for batch in BATCHES:
        x = inputs((2, 3, 4), batch)
        np.testing.assert_allclose(
            ours(model, x), run_torch(torch, theirs, x), rtol=0, atol=TORCH_TOL
        )


@pytest.mark.parametrize(("name", "builder", "shape"), MODELS, ids=MODEL_IDS)
def test_state_dicts_travel_both_ways_exactly(torch, name, builder, shape):
    model = build(builder)
    copy = build(builder, seed=1)
    export.load_torch_state_dict(copy, export.to_torch(model).state_dict())
    for key, array in model.state_dict().items():
        np.testing.assert_array_equal(copy.state_dict()[key], array)
        assert copy.state_dict()[key].dtype == array.dtype


def test_a_torch_trained_cnn_runs_here(torch):
    """PyTorch's own layers, their BatchNorm statistics moved by training-mode batches."""
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), bias=False),
        torch.nn.AvgPool2d(2, padding=1),
        torch.nn.Flatten(),
        torch.nn.Linear(36, 16),
        torch.nn.BatchNorm1d(16, affine=False),
        torch.nn.Tanh(),
        torch.nn.Linear(16, 10),
    )
    with torch.no_grad():
        for seed in range(3):
            theirs(torch.from_numpy(inputs((1, 12, 12), 8, seed=seed) * 2 + 1))
    theirs.eval()
    model = export.load_torch_state_dict(build(cnn), theirs.state_dict())
    assert model[1].num_batches_tracked.item() == 3
    for batch in BATCHES:
        x = inputs((1, 12, 12), batch)
        np.testing.assert_allclose(
            ours(model, x), run_torch(torch, theirs, x), rtol=0, atol=TORCH_TOL
        )


def test_num_batches_tracked_is_optional_like_in_pytorch(torch):
    """Missing from the state_dict: the model keeps its own count (as torch's BatchNorm
    does); present: it is loaded."""
    model = build(cnn)  # its BatchNorms counted 3 batches
    state = export.to_torch(build(cnn, seed=1)).state_dict()
    without = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    export.load_torch_state_dict(model, without)
    assert model[1].num_batches_tracked.item() == model[8].num_batches_tracked.item() == 3
    np.testing.assert_array_equal(model[1].running_mean.data, state["1.running_mean"].numpy())
    theirs = torch.nn.BatchNorm2d(4)
    theirs.num_batches_tracked.fill_(3)
    theirs.load_state_dict({k[2:]: v for k, v in without.items() if k.startswith("1.")})
    assert theirs.num_batches_tracked.item() == 3  # torch keeps its count too
    state["1.num_batches_tracked"] = torch.tensor(123)
    export.load_torch_state_dict(model, state)
    assert model[1].num_batches_tracked.item() == 123


def test_a_layer_used_twice_is_one_torch_module(torch):
    """Tied weights stay tied: one torch module, one set of parameters, as here."""
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), nn.Sequential(shared, nn.Tanh()))
    module = export.to_torch(model)
    assert module[0] is module[2][0]
    assert len(list(module.parameters())) == len(model.parameters()) == 2
    assert list(module.state_dict()) == list(model.state_dict())
    x = inputs((4,), 3)
    np.testing.assert_allclose(run_torch(torch, module, x), ours(model, x), atol=TORCH_TOL)


def test_batch_norm_without_running_statistics_cannot_go_to_onnx(onnx, tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False))
    with pytest.raises(NotImplementedError, match=r"BatchNorm1d \(at '1'\) with track_running"):
        export.to_onnx(model, np.zeros((2, 3), np.float32), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_numpy_state_dicts_load_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    model = nn.Sequential(nn.Linear(3, 2))
    weight = np.arange(6, dtype=np.float32).reshape(2, 3)  # PyTorch's (out, in)
    export.load_torch_state_dict(model, {"0.weight": weight, "0.bias": np.ones(2)})
    np.testing.assert_array_equal(model[0].weight.data, weight.T)
    np.testing.assert_array_equal(model[0].bias.data, [1, 1])


def test_every_mismatch_is_reported_at_once_and_nothing_changes():
    model = build(every_layer)
    before = model.state_dict()
    state = {name: array.T for name, array in before.items()}  # PyTorch's layout
    state["1.weight"] = before["1.weight"]  # not transposed: (24, 16), not (16, 24)
    del state["4.bias"]
    state["4.scale"] = np.ones(5)
    state["3.1.weight"] = np.array([["a"] * 16] * 8)
    state["3.1.num_batches_tracked"] = np.array(3)  # BatchNorm's counter: ignored
    with pytest.raises(ValueError) as caught:
        export.load_torch_state_dict(model, state)
    message = str(caught.value)
    assert "4 problem(s)" in message
    assert "missing key '4.bias'" in message
    assert "unexpected key '4.scale'" in message
    assert "'1.weight' has shape (24, 16), the model needs (16, 24)" in message
    assert "'3.1.weight' holds <U1 values, not numbers" in message
    assert "num_batches_tracked" not in message
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


# ------------------------------------------------------------------ what cannot leave


@pytest.mark.parametrize(
    ("model", "where"),
    [
        (nn.Sequential(nn.Linear(3, 3), Doubler()), "Doubler (at '1')"),
        (nn.Sequential(nn.Sequential(nn.ReLU(), Doubler())), "Doubler (at '0.1')"),
        (TwoLayerNet(3, 4, 2), "TwoLayerNet (the model itself)"),
        (nn.Sequential(nn.ModuleList([nn.ReLU()])), "ModuleList (at '0')"),
    ],
    ids=["custom", "nested", "notes_net", "module_list"],
)
def test_unsupported_layers_are_named_with_the_supported_ones(onnx, torch, model, where, tmp_path):
    calls = {
        "to_onnx": lambda: export.to_onnx(model, np.zeros((2, 3), np.float32), tmp_path / "m"),
        "to_torch": lambda: export.to_torch(model),
        "load_torch_state_dict": lambda: export.load_torch_state_dict(model, {}),
    }
    for function, call in calls.items():
        with pytest.raises(NotImplementedError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(f"{function}: cannot export {where}")
        assert "Linear, ReLU, Sigmoid, Tanh, Softmax, Dropout, Flatten" in message
    assert not list(tmp_path.iterdir())


def test_without_the_extras_the_error_names_them(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    model = build(flagship)
    with pytest.raises(ImportError, match=r"to_onnx needs .*pip install 'tinygrad_edu\[onnx\]'"):
        export.to_onnx(model, inputs((784,), 2), tmp_path / "m.onnx")
    with pytest.raises(ImportError, match=r"to_torch needs .*pip install 'tinygrad_edu\[torch\]'"):
        export.to_torch(model)
    assert not list(tmp_path.iterdir())


def test_importing_the_exporter_loads_no_extra():
    code = (
        "import sys, tinygrad_edu.export; "
        "print([m for m in ('onnx', 'onnxruntime', 'torch') if m in sys.modules])"
    )
    done = run_python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------------------- command, example


def test_cli_exports_the_flagship_both_ways(onnxruntime, torch, tmp_path, capsys):
    model = build(flagship)
    model.save(tmp_path / "w.npz")
    x = inputs((784,), 64)

    onnx_path = tmp_path / "out" / "m.onnx"
    args = ["export", "--weights", str(tmp_path / "w.npz"), "--out", str(onnx_path)]
    assert cli.main(args) == 0
    assert f"wrote {onnx_path}" in capsys.readouterr().out
    np.testing.assert_allclose(run_onnx(onnxruntime, onnx_path, x), ours(model, x), atol=ONNX_TOL)

    torch_path = tmp_path / "m.pt"
    args = ["export", "--weights", str(tmp_path / "w.npz"), "--format", "torch"]
    assert cli.main([*args, "--out", str(torch_path)]) == 0
    assert "weights_only=True" in capsys.readouterr().out
    module = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    module.load_state_dict(torch.load(torch_path, weights_only=True))
    np.testing.assert_allclose(run_torch(torch, module, x), ours(model, x), atol=TORCH_TOL)


def test_cli_exports_the_cnn(onnxruntime, tmp_path, capsys):
    np.random.seed(0)
    model = load_example("mnist_cnn").build_model()
    model.save(tmp_path / "cnn.npz")
    path = tmp_path / "cnn.onnx"
    args = ["export", "--model", "cnn", "--weights", str(tmp_path / "cnn.npz")]
    assert cli.main([*args, "--out", str(path)]) == 0
    assert "'input' ('batch', 1, 28, 28) -> 'output' ('batch', 10)" in capsys.readouterr().out
    x = inputs((1, 28, 28), 4)
    np.testing.assert_allclose(run_onnx(onnxruntime, path, x), ours(model, x), atol=ONNX_TOL)


@pytest.mark.parametrize(
    ("weights", "model", "message"),
    [
        ("missing.npz", "mlp", "cannot read --weights"),
        ("notes_net.npz", "mlp", "to_onnx: cannot export TwoLayerNet (the model itself)"),
        ("flagship.npz", "cnn", "load_network: "),
    ],
)
def test_cli_export_errors_are_one_line(onnx, tmp_path, capsys, weights, model, message):
    TwoLayerNet(784, 5, 10).save(tmp_path / "notes_net.npz")
    build(flagship).save(tmp_path / "flagship.npz")
    args = ["export", "--model", model, "--weights", str(tmp_path / weights)]
    assert cli.main([*args, "--out", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"tinygrad-edu export: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "m.onnx").exists()
    if model == "cnn":
        assert err.endswith("(--model cnn; are these weights for --model mlp?)\n")


def test_cli_export_without_onnx_names_the_extra(tmp_path, capsys, monkeypatch):
    build(flagship).save(tmp_path / "w.npz")
    monkeypatch.setitem(sys.modules, "onnx", None)
    args = ["export", "--weights", str(tmp_path / "w.npz"), "--out", str(tmp_path / "m.onnx")]
    with pytest.raises(SystemExit) as stop:
        cli.main(args)
    assert "pip install 'tinygrad_edu[onnx]'" in str(stop.value.code)
    assert not (tmp_path / "m.onnx").exists()


def test_the_example_agrees_three_ways(mnist_dir, onnxruntime, torch, tmp_path):
    example = load_example("export_model")
    args = ["--quick", "--data-dir", mnist_dir, "--out", tmp_path]
    result, printed = call_main(example, args)
    assert result["accuracy"] > 0.85  # one epoch on 10,000 images
    assert result["accuracy_onnx"] == result["accuracy_torch"] == result["accuracy"]
    assert result["max_gap_onnx"] < ONNX_TOL and result["max_gap_torch"] < TORCH_TOL
    assert result["round_trip_identical"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.pt"]
    assert "tinygrad_edu   onnxruntime       PyTorch" in printed


def test_the_example_without_the_runtimes_names_the_extras(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(SystemExit) as stop:
        load_example("export_model").main(["--quick", "--out", str(tmp_path / "out")])
    assert "pip install 'tinygrad_edu[onnx,torch]'" in str(stop.value.code)
    assert not list((tmp_path / "out").iterdir())
