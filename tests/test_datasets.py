"""Tests for tinygrad_edu.datasets: the IDX reader, the loaders, downloads and the sample.

Most tests build tiny MNIST-like files in ``tmp_path`` and register their checksums by
monkeypatching ``MNIST_SHA256``. Downloads are tested against a local HTTP server. The tests
marked "real data" need ``TINYGRAD_EDU_DATA`` (e.g. ``../shared/datasets``); they are skipped
without it, except on CI (``CI=true``), where they must run.
"""

import gzip
import socket
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    MNIST_FILE_NAMES,
    checksums,
    fake_mnist,
    files_under,
    idx_bytes,
    sha256,
    write_dataset,
    write_file,
)

from tinygrad_edu import datasets
from tinygrad_edu.datasets import (
    DatasetError,
    SampleDataWarning,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)

# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Keep every test away from ~/.cache, the real data, system folders and the internet."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TINYGRAD_EDU_CACHE", str(cache))
    monkeypatch.delenv("TINYGRAD_EDU_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", [])
    monkeypatch.setattr(datasets, "FASHION_MNIST_MIRRORS", [])
    monkeypatch.setattr(datasets, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-system-dir")
    return cache


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files`` (``{url path: bytes}``); 404 for anything else.

    If ``server.truncate`` is set it announces the full length but sends only half the bytes,
    then drops the connection, like a server dying mid-download.
    """

    def do_GET(self):
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.truncate:
            body = body[: len(body) // 2]
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # keep the test output quiet


@pytest.fixture
def serve():
    """Start local HTTP servers: ``serve(files, truncate=False)`` returns the base URL."""
    servers = []

    def start(files, truncate=False):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.files, server.truncate = files, truncate
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def refused_url():
    """A URL on a local port nobody listens on (the connection is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def mirror_files(files, prefix="/mnist/"):
    """The four files as a mirror serves them: gzipped, under ``prefix``."""
    return {f"{prefix}{name}.gz": gzip.compress(payload) for name, payload in files.items()}


# --------------------------------------------------------------------------------------------
# read_idx
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, gz):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_file(tmp_path / "x-idx3-ubyte", idx_bytes(images), gz)
    array = read_idx(path)
    assert array.dtype == np.uint8 and array.shape == (2, 3, 4)
    np.testing.assert_array_equal(array, images)
    array[0, 0, 0] = 7  # learners may modify what they get


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_other_element_types(tmp_path, dtype):
    values = (np.arange(12).reshape(3, 4) - 5).astype(dtype)
    array = read_idx(write_file(tmp_path / "x.idx", idx_bytes(values), gz=False))
    assert array.dtype == dtype and array.dtype.isnative
    np.testing.assert_array_equal(array, values)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    labels = np.array([3, 1, 4], dtype=np.uint8)
    gz_without_suffix = write_file(tmp_path / "labels", idx_bytes(labels), gz=True)
    raw_with_suffix = write_file(tmp_path / "labels.gz", idx_bytes(labels), gz=False)
    np.testing.assert_array_equal(read_idx(gz_without_suffix), labels)
    np.testing.assert_array_equal(read_idx(raw_with_suffix), labels)


def test_read_idx_checks_sha256(tmp_path):
    payload = idx_bytes(np.array([1, 2, 3], dtype=np.uint8))
    path = write_file(tmp_path / "labels.gz", payload, gz=True)
    np.testing.assert_array_equal(read_idx(path, sha256=sha256(payload)), [1, 2, 3])
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        read_idx(path, sha256="0" * 64)
    assert str(path) in str(info.value)
    assert "re-download" in str(info.value)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"\x12\x34\x56\x78" + bytes(10), "corrupt"),  # not an IDX magic number
        (b"\x00\x00\x07\x01" + bytes(10), "corrupt"),  # unknown element type 0x07
        (b"\x00\x00\x08", "truncated"),  # header cut short
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated"),  # dimensions missing
        (b"\x00\x00\x08\x01\x00\x00\x00\x05" + bytes(3), "truncated"),  # 5 promised, 3 given
        (b"\x00\x00\x08\x01\x00\x00\x00\x02" + bytes(3), "corrupt"),  # 2 promised, 3 given
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_rejects_bad_headers(tmp_path, payload, problem, gz):
    path = write_file(tmp_path / "bad-idx1-ubyte", payload, gz)
    with pytest.raises(DatasetError, match=problem) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_truncated_gzip(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8)))
    path = tmp_path / "labels.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DatasetError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_damaged_gzip(tmp_path):
    compressed = bytearray(gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8) % 7)))
    compressed[-6] ^= 0xFF  # damage the CRC-32 stored at the end
    path = tmp_path / "labels.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(DatasetError, match="corrupt") as info:
        read_idx(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------------------------
# load_mnist on local folders
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_data_dir(tmp_path, monkeypatch, gz):
    files = fake_mnist(n_train=30, n_test=10)
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(files))
    folder = write_dataset(tmp_path / "data", files, gz=gz)
    (x_train, t_train), (x_test, t_test) = load_mnist(data_dir=folder, download=False)
    assert x_train.shape == (30, 784) and t_train.shape == (30,)
    assert x_test.shape == (10, 784) and t_test.shape == (10,)
    np.testing.assert_array_equal(t_train, np.arange(30) % 10)
    expected = np.frombuffer(files[MNIST_FILE_NAMES[0]], np.uint8, offset=16).reshape(30, 784)
    np.testing.assert_allclose(x_train, expected / 255.0, rtol=1e-6)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("one_hot_label", [True, False])
def test_load_mnist_output_forms(tmp_path, monkeypatch, normalize, flatten, one_hot_label):
    files = fake_mnist(n_train=20, n_test=10)
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(files))
    folder = write_dataset(tmp_path / "data", files)
    (x, t), (x_test, t_test) = load_mnist(normalize, flatten, one_hot_label, data_dir=folder)

    assert x.shape == ((20, 784) if flatten else (20, 1, 28, 28))
    assert x_test.shape == ((10, 784) if flatten else (10, 1, 28, 28))
    if normalize:
        assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 1.0
        assert x.max() > 0.9  # scaled to fill [0, 1], not merely clipped
    else:
        assert x.dtype == np.uint8 and x.max() > 1
    if one_hot_label:
        assert t.shape == (20, 10) and t.dtype == np.float32
        np.testing.assert_array_equal(t.sum(axis=1), 1.0)
        np.testing.assert_array_equal(t.argmax(axis=1), np.arange(20) % 10)
        assert t_test.shape == (10, 10)
    else:
        assert t.shape == (20,) and t.dtype == np.int64
        np.testing.assert_array_equal(t, np.arange(20) % 10)
        assert t_test.shape == (10,)


def test_load_mnist_rejects_wrong_checksum(tmp_path):
    folder = write_dataset(tmp_path / "data", fake_mnist())  # real MNIST checksums expected
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        load_mnist(data_dir=folder, download=False, fallback=False)
    assert str(folder / f"{MNIST_FILE_NAMES[0]}.gz") in str(info.value)


def test_load_mnist_rejects_label_count_mismatch(tmp_path, monkeypatch):
    files = fake_mnist(n_train=30)
    files[MNIST_FILE_NAMES[1]] = idx_bytes(np.zeros(29, dtype=np.uint8))
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(files))
    folder = write_dataset(tmp_path / "data", files)
    with pytest.raises(DatasetError, match="29 labels") as info:
        load_mnist(data_dir=folder)
    assert MNIST_FILE_NAMES[1] in str(info.value)


def test_load_mnist_rejects_swapped_files(tmp_path, monkeypatch):
    files = fake_mnist()
    images, labels = MNIST_FILE_NAMES[:2]
    files[images], files[labels] = files[labels], files[images]
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(files))
    folder = write_dataset(tmp_path / "data", files)
    with pytest.raises(DatasetError, match="0x00000803 was expected") as info:
        load_mnist(data_dir=folder)
    assert str(folder / f"{MNIST_FILE_NAMES[0]}.gz") in str(info.value)


def test_load_mnist_rejects_wrong_image_size(tmp_path, monkeypatch):
    files = fake_mnist()
    files[MNIST_FILE_NAMES[2]] = idx_bytes(np.zeros((10, 27, 27), dtype=np.uint8))
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(files))
    folder = write_dataset(tmp_path / "data", files)
    with pytest.raises(DatasetError, match="not 28 x 28"):
        load_mnist(data_dir=folder)


def test_load_mnist_search_order(tmp_path, monkeypatch, isolated):
    """data_dir first, and then only there (explicit: no fallback); without data_dir,
    $TINYGRAD_EDU_DATA/mnist, then the cache."""
    given, from_env, cached = (fake_mnist(n_train=n, seed=n) for n in (11, 12, 13))
    write_dataset(tmp_path / "given", given)
    write_dataset(tmp_path / "env" / "mnist", from_env)
    write_dataset(isolated / "mnist", cached)
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "env"))

    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(given))
    assert len(load_mnist(data_dir=tmp_path / "given")[0][0]) == 11
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(from_env))
    with pytest.raises(DatasetError, match="not found in data_dir"):
        load_mnist(data_dir=tmp_path / "nowhere")  # though $TINYGRAD_EDU_DATA has the files
    assert len(load_mnist()[0][0]) == 12
    monkeypatch.delenv("TINYGRAD_EDU_DATA")
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(cached))
    assert len(load_mnist()[0][0]) == 13


def test_incomplete_folder_does_not_count(tmp_path, monkeypatch):
    files = fake_mnist()
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(files))
    folder = write_dataset(tmp_path / "data", files)
    (folder / f"{MNIST_FILE_NAMES[3]}.gz").unlink()
    with pytest.raises(DatasetError, match="MNIST not found") as info:
        load_mnist(data_dir=folder, download=False, fallback=False)
    assert str(folder) in str(info.value)
    assert f"missing {MNIST_FILE_NAMES[3]}" in str(info.value)


def test_cache_folder_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYGRAD_EDU_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets._cache_dir("mnist") == tmp_path / "home" / ".cache" / "tinygrad_edu" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets._cache_dir("mnist") == tmp_path / "xdg" / "tinygrad_edu" / "mnist"
    monkeypatch.setenv("TINYGRAD_EDU_CACHE", str(tmp_path / "mine"))
    assert datasets._cache_dir("mnist") == tmp_path / "mine" / "mnist"


# --------------------------------------------------------------------------------------------
# The bundled sample
# --------------------------------------------------------------------------------------------


def test_fallback_to_bundled_sample():
    with pytest.warns(SampleDataWarning, match="bundled 10,000-image MNIST sample"):
        (x_train, t_train), (x_test, t_test) = load_mnist(download=False)
    assert x_train.shape == (10000, 784) and x_train.dtype == np.float32
    assert x_test.shape == (2000, 784)
    assert t_train.shape == (10000,) and t_test.shape == (2000,)
    # stratified: every digit has roughly its MNIST share (9% to 11.3%)
    shares = np.bincount(t_train, minlength=10) / len(t_train)
    assert shares.min() > 0.085 and shares.max() < 0.12
    assert set(np.unique(t_test)) == set(range(10))


def test_fallback_after_failed_download(monkeypatch):
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", [refused_url()])
    with pytest.warns(SampleDataWarning, match="download failed") as record:
        (x_train, _), _ = load_mnist()
    assert "results will differ from full MNIST" in str(record[0].message)
    assert x_train.shape == (10000, 784)


def test_no_fallback_raises_and_lists_places(isolated):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no sample warning either
        with pytest.raises(DatasetError, match="MNIST not found") as info:
            load_mnist(download=False, fallback=False)
    assert str(isolated / "mnist") in str(info.value)


# --------------------------------------------------------------------------------------------
# Downloading from a local server
# --------------------------------------------------------------------------------------------


def test_download_tries_mirrors_in_turn(monkeypatch, serve, isolated, capsys):
    files = fake_mnist()
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(files))
    base = serve(mirror_files(files))
    monkeypatch.setattr(
        datasets, "MNIST_MIRRORS", [refused_url(), f"{base}/gone/", f"{base}/mnist/"]
    )

    (x_train, _), (x_test, _) = load_mnist(fallback=False)
    assert x_train.shape == (30, 784) and x_test.shape == (10, 784)
    cached = files_under(isolated)
    assert [p.name for p in cached] == sorted(f"{name}.gz" for name in MNIST_FILE_NAMES)
    assert MNIST_FILE_NAMES[0] in capsys.readouterr().err  # the progress bar names the file

    monkeypatch.setattr(datasets, "MNIST_MIRRORS", [])  # now it must come from the cache
    (x_again, _), _ = load_mnist(fallback=False)
    np.testing.assert_array_equal(x_again, x_train)


def test_interrupted_download_leaves_nothing(monkeypatch, serve, isolated):
    files = fake_mnist(n_train=200)
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(files))
    dying = serve(mirror_files(files), truncate=True)
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", [f"{dying}/mnist/"])

    with pytest.raises(DatasetError, match="truncated"):
        load_mnist(fallback=False)
    assert files_under(isolated) == []  # no half file, no temporary file

    monkeypatch.setattr(datasets, "MNIST_MIRRORS", [f"{serve(mirror_files(files))}/mnist/"])
    (x_train, _), _ = load_mnist(fallback=False)
    assert x_train.shape == (200, 784)


def test_download_with_wrong_checksum_is_not_cached(monkeypatch, serve, isolated):
    files = fake_mnist()
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(fake_mnist(seed=1)))
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", [f"{serve(mirror_files(files))}/mnist/"])
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_mnist(fallback=False)
    assert files_under(isolated) == []


# --------------------------------------------------------------------------------------------
# Fashion-MNIST
# --------------------------------------------------------------------------------------------


def test_fashion_mnist_not_found_says_how_to_get_it():
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist()


def test_fashion_mnist_from_system_dir(tmp_path, monkeypatch):
    files = fake_mnist(n_train=12)
    monkeypatch.setattr(datasets, "FASHION_MNIST_SHA256", checksums(files))
    monkeypatch.setattr(datasets, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "system")
    write_dataset(tmp_path / "system", files)
    (x_train, t_train), _ = load_fashion_mnist(flatten=False, one_hot_label=True)
    assert x_train.shape == (12, 1, 28, 28) and t_train.shape == (12, 10)
    assert len(datasets.CLASS_NAMES_FASHION) == 10


DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_debian_package():
    (x_train, t_train), (x_test, t_test) = load_fashion_mnist(data_dir=DEBIAN_FASHION)
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert np.bincount(t_train).tolist() == [6000] * 10
    assert np.bincount(t_test).tolist() == [1000] * 10


# --------------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------------
# mnist_dir (conftest.py) is session-scoped: it reads TINYGRAD_EDU_DATA before ``isolated``
# removes it for each test.


def test_real_mnist(mnist_dir):
    (x_train, t_train), (x_test, t_test) = load_mnist(
        one_hot_label=True, data_dir=mnist_dir, download=False, fallback=False
    )
    assert x_train.shape == (60000, 784) and x_train.dtype == np.float32
    assert x_test.shape == (10000, 784)
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert t_train.shape == (60000, 10) and t_train.sum() == 60000
    assert t_test.shape == (10000, 10) and t_test.sum() == 10000
    assert (t_train.sum(axis=0) > 5000).all() and (t_test.sum(axis=0) > 800).all()


def test_real_mnist_found_through_environment(mnist_dir, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(mnist_dir.parent))
    (_, t_train), (_, t_test) = load_mnist(normalize=False, download=False, fallback=False)
    assert sorted(set(t_train.tolist())) == list(range(10)) and len(t_test) == 10000


def test_sample_is_a_subset_of_real_mnist(mnist_dir):
    full = load_mnist(normalize=False, data_dir=mnist_dir, download=False, fallback=False)
    with pytest.warns(SampleDataWarning):
        sample = load_mnist(normalize=False, download=False)
    for (x_full, t_full), (x_sample, t_sample) in zip(full, sample, strict=True):
        for i in np.linspace(0, len(x_sample) - 1, 5).astype(int):
            matches = np.flatnonzero((x_full == x_sample[i]).all(axis=1))
            assert len(matches) >= 1, f"sample image {i} is not in MNIST"
            assert t_sample[i] in t_full[matches]
