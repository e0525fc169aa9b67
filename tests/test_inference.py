"""MNIST inference from saved weights (``examples/mnist_inference.py``, ``load_network``):
the book's pre-trained network scores exactly 0.9352, per-sample and batched predictions
agree, and bad weight files are refused with a one-line reason."""

import pickle

import numpy as np
import pytest
from helpers import PNG_MAGIC, call_main, load_example

from tinygrad_edu import nn, no_grad
from tinygrad_edu.models import ThreeLayerNet, TwoLayerNet, load_network

inference = load_example("mnist_inference")


def test_book_weights_score_0_9352_per_sample_and_batched(mnist_dir, sample_weight, tmp_path):
    args = ["--weights", sample_weight, "--data-dir", mnist_dir, "--out", tmp_path]
    result, printed = call_main(inference, args)  # all 10,000 test images, one by one and batched
    assert result["n_images"] == 10_000
    assert result["accuracy_per_sample"] == result["accuracy_batched"] == 0.9352
    assert result["same_predictions"]
    assert "Accuracy: 0.9352" in printed and result["network"] == "ThreeLayerNet"
    assert (tmp_path / "mnist_inference.png").read_bytes().startswith(PNG_MAGIC)


def test_load_network_rebuilds_the_books_network(sample_weight):
    model = load_network(sample_weight, inference.build_network)
    assert isinstance(model, ThreeLayerNet)
    assert [p.shape for p in model.parameters()] == [
        (784, 50), (50,), (50, 100), (100,), (100, 10), (10,)
    ]  # fmt: skip
    assert model.W1.dtype == np.float32
    with no_grad():
        probs = model(np.random.default_rng(0).random((3, 784), dtype=np.float32))
    np.testing.assert_allclose(probs.data.sum(axis=1), 1, rtol=1e-6)  # softmax rows


@pytest.mark.parametrize("layout", ["flagship", "TwoLayerNet"])
def test_other_layouts_predict_like_the_saved_model(layout, tmp_path):
    np.random.seed(0)
    if layout == "flagship":
        model = nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10))
    else:
        model = TwoLayerNet(784, 8, 10, weight_init_std=0.1)
    model.save(tmp_path / "weights.npz")
    loaded = load_network(tmp_path / "weights.npz", inference.build_network)
    assert type(loaded) is type(model)
    x = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    expected = model(x).data.argmax(axis=1)
    one, _ = inference.per_sample(loaded, x)
    batched, _ = inference.batched(loaded, x, batch_size=16)  # 16, 16, 16, 2
    np.testing.assert_array_equal(one, expected)
    np.testing.assert_array_equal(batched, expected)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file"),
        ("pickle", "is a Python pickle"),
        ("object", "pickled (object) arrays"),
        ("text", "is not an .npz file"),
        ("keys", "match no known network"),
        ("shapes", "'W2' has shape (6, 7) in the state but (5, 7)"),
        ("inputs", "does not take 784-pixel images"),
    ],
)
def test_bad_weights_are_refused_in_one_line(content, message, tmp_path):
    path = tmp_path / "weights.npz"
    if content == "pickle":
        path.write_bytes(pickle.dumps({"W1": np.zeros(2)}))
    elif content == "object":
        np.savez(path, W1=np.array([{"a": 1}], dtype=object))
    elif content == "text":
        path.write_text("not weights")
    elif content == "keys":
        np.savez(path, weights=np.zeros(3))
    elif content == "shapes":
        arrays = {"W1": (784, 5), "b1": (5,), "W2": (6, 7), "b2": (7,), "W3": (7, 10), "b3": (10,)}
        np.savez(path, **{k: np.zeros(s, np.float32) for k, s in arrays.items()})
    elif content == "inputs":
        TwoLayerNet(20, 4, 10).save(path)
    with pytest.raises(SystemExit) as exc:
        call_main(inference, ["--weights", path])
    text = str(exc.value.code)
    assert text.startswith("mnist_inference.py: error: ")
    assert message in text and "\n" not in text
