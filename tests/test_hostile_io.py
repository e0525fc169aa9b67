"""Hostile use of the file and input handling: what learners (and damaged disks) really do.

One test per class of failure, each over many cases:

- numerical_gradient at a point given as a list, tuple or number (not an ndarray);
- temporary files that a killed ``atomic_write`` leaves behind (a real SIGKILL), and which
  leftovers the next write may remove;
- damaged ``.npz`` files: reported as damaged, naming the file and the member, never as
  "pickled" (unless they are) and never as a MemoryError;
- IDX headers with impossible dimensions, and gzip bombs;
- an explicit ``data_dir`` that does not hold the data.
"""

import io
import itertools
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import checksums, fake_mnist, float_arrays, idx_bytes, write_dataset
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from tinygrad_edu import Tensor, _io, datasets
from tinygrad_edu._io import STALE_TEMP_AGE, atomic_write, read_npz
from tinygrad_edu.datasets import DatasetError, load_fashion_mnist, load_mnist, read_idx
from tinygrad_edu.numerical import numerical_gradient

MB = 1 << 20


def peak_memory(fn, *args):
    """Call ``fn(*args)``; return (what it returned or the exception it raised, the peak
    memory in bytes that Python and numpy allocated meanwhile)."""
    tracemalloc.start()
    try:
        try:
            outcome = fn(*args)
        except Exception as err:
            outcome = err
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------------------------------
# 1. numerical_gradient of array-likes
# ------------------------------------------------------------------------------------------

FORMS = {
    "list": lambda a: a.tolist(),  # a 0-d array gives a plain float
    "tuple": lambda a: tuple(a.tolist()) if a.ndim == 1 else a.tolist(),
    "int list": lambda a: np.round(a).astype(int).tolist(),
}


@given(
    values=float_arrays(array_shapes(min_dims=0, max_dims=2, max_side=3), -10.0, 10.0),
    form=st.sampled_from(sorted(FORMS)),
)
def test_numerical_gradient_of_an_array_like_sees_the_perturbed_values(values, form):
    x = FORMS[form](values)
    before = repr(x)
    point = np.asarray(x, dtype=np.float64)
    seen = []

    def f(a):
        seen.append(a)
        return np.sum(np.asarray(a) ** 2)

    grad = numerical_gradient(f, x)
    assert grad.shape == point.shape and grad.dtype == np.float64
    np.testing.assert_allclose(grad, 2 * point, atol=1e-6)
    assert repr(x) == before  # the caller's list is left alone
    assert all(isinstance(a, np.ndarray) for a in seen)


def read_only(array):
    array.flags.writeable = False
    return array


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (np.array([3, 4]), TypeError, r"dtype int64.*np\.array\(\[3\.0, 4\.0\]\)"),
        (np.array(["a", "b"]), TypeError, r"dtype <U1"),
        (["a", "b"], TypeError, r"real numbers.*shape \(2,\)"),
        ([1 + 2j, 3.0], TypeError, r"real numbers.*complex128"),
        ([[1.0], [2.0, 3.0]], ValueError, r"not a rectangular array"),
        (read_only(np.zeros((2, 2))), ValueError, r"shape \(2, 2\)\) is read-only.*x\.copy\(\)"),
    ],
)
def test_numerical_gradient_refuses_points_it_cannot_perturb(x, error, message):
    with pytest.raises(error, match=message) as info:
        numerical_gradient(lambda a: 0.0, x)
    assert str(info.value).startswith("numerical_gradient: ")


@pytest.mark.parametrize("make", [np.array, Tensor], ids=["ndarray", "Tensor"])
def test_numerical_gradient_of_ndarray_or_tensor_still_changes_x_in_place(make):
    x = make(np.array([3.0, 4.0]))
    values = x.data if isinstance(x, Tensor) else x
    seen = []

    def f(a):
        seen.append(a is x)
        return values @ values  # reads x's values elsewhere, as the notes' TwoLayerNet does

    np.testing.assert_allclose(numerical_gradient(f, x), [6.0, 8.0], atol=1e-6)
    assert seen == [True] * 4
    assert values.tolist() == [3.0, 4.0]


# ------------------------------------------------------------------------------------------
# 2. temporary files left by killed writers
# ------------------------------------------------------------------------------------------

_WRITER = """
import sys, time
from tinygrad_edu._io import atomic_write
with atomic_write(sys.argv[1]) as f:
    for i in range(100_000):
        f.write(bytes(65536)); f.flush()
        if i == 16:
            print("writing", flush=True)
        time.sleep(0.001)
"""


def temp_files(folder, target):
    """The names of the files in ``folder`` that look like temporary files of ``target``."""
    return sorted(
        p.name
        for p in Path(folder).iterdir()
        if p.name.startswith(f".{target}.") and p.name.endswith(".tmp")
    )


def test_temp_file_of_a_writer_killed_by_sigkill_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "weights.npz"
    target.write_bytes(b"old")
    unrelated = tmp_path / ".notes.npz.tmp"
    unrelated.write_bytes(b"not ours")
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline() == "writing\n"
        [temp] = temp_files(tmp_path, "weights.npz")
        assert temp.startswith(".weights.npz.") and f"-{writer.pid}-" in temp

        with atomic_write(target) as f:  # a write while the other is still writing
            f.write(b"new")
        assert temp in temp_files(tmp_path, "weights.npz")  # a live writer's file is not touched
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    assert (tmp_path / temp).stat().st_size >= 16 * 65536  # killed mid-write, left behind
    assert target.read_bytes() == b"new"  # the target is intact

    with atomic_write(target) as f:
        f.write(b"newer")
    assert sorted(os.listdir(tmp_path)) == [".notes.npz.tmp", "weights.npz"]
    assert target.read_bytes() == b"newer" and unrelated.read_bytes() == b"not ours"


@pytest.fixture(scope="module")
def dead_pid():
    """The process ID of a process that has ended (and been waited for)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(done.stdout)
    assert not _io._process_exists(pid)
    return pid


OLD = STALE_TEMP_AGE + 3600  # seconds: idle for longer than the safe age


def _name(kind, pid):
    """A file name of the given ``kind`` next to the target ``w.npz``."""
    me, other = _io._writer_tag(), "0123abcd" if _io._writer_tag() != "0123abcd" else "abcd0123"
    return {
        "here, dead writer": f".w.npz.{me}-{pid}-0badc0de.tmp",
        "here, live writer": f".w.npz.{me}-{os.getpid()}-0badc0de.tmp",
        "other machine": f".w.npz.{other}-{pid}-0badc0de.tmp",
        "earlier version": ".w.npz.0badc0de.tmp",
        "other target": f".x.npz.{me}-{pid}-0badc0de.tmp",
        "prefix target": f".w.npz.{me}-{pid}-0badc0de.tmp".replace(".w.npz", ".w.np"),
        "no dot": f"w.npz.{me}-{pid}-0badc0de.tmp",
        "suffix": f".w.npz.{me}-{pid}-0badc0de.tmp.bak",
        "upper case": f".w.npz.{me.upper()}-{pid}-0BADC0DE.tmp",
        "short random": f".w.npz.{me}-{pid}-0badc0d.tmp",
    }[kind]


@pytest.mark.parametrize(
    ("kind", "idle", "removed"),
    [
        ("here, dead writer", 0, True),
        ("here, live writer", 0, False),
        ("here, live writer", OLD, True),  # alive but silent for a day: a hung writer
        ("other machine", 0, False),  # its process ID means nothing here
        ("other machine", OLD, True),
        ("earlier version", 0, False),
        ("earlier version", OLD, True),
        ("other target", OLD, False),
        ("prefix target", OLD, False),
        ("no dot", OLD, False),
        ("suffix", OLD, False),
        ("upper case", OLD, False),
        ("short random", OLD, False),
        ("symlink", OLD, False),
        ("folder", OLD, False),
    ],
)
def test_only_stale_temp_files_of_the_same_target_are_removed(
    tmp_path, dead_pid, kind, idle, removed
):
    target = tmp_path / "w.npz"
    if kind in ("symlink", "folder"):
        entry = tmp_path / _name("here, dead writer", dead_pid)
        if kind == "symlink":
            (tmp_path / "elsewhere").write_bytes(b"keep")
            entry.symlink_to(tmp_path / "elsewhere")
        else:
            entry.mkdir()
    else:
        entry = tmp_path / _name(kind, dead_pid)
        entry.write_bytes(b"left over")
    then = time.time() - idle
    os.utime(entry, (then, then), follow_symlinks=False)

    with atomic_write(target) as f:
        f.write(b"saved")
    assert target.read_bytes() == b"saved"
    assert os.path.lexists(entry) is not removed
    if kind == "symlink":
        assert (tmp_path / "elsewhere").read_bytes() == b"keep"


# ------------------------------------------------------------------------------------------
# 3. damaged .npz files
# ------------------------------------------------------------------------------------------

W = np.arange(12.0).reshape(3, 4)


def npy(array=W, **header):
    """The bytes of a .npy file of ``array``, its header fields replaced by ``header``."""
    fields = np.lib.format.header_data_from_array_1_0(array)
    fields.update(header)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, fields)
    return buffer.getvalue() + array.tobytes(order="F" if fields["fortran_order"] else "C")


def write_npz(path, members, compression=zipfile.ZIP_STORED):
    """An .npz (zip) at ``path`` with ``members`` ({name: bytes}) as they are."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def claim_member_size(path, size):
    """Make the (single, stored) member of the zip at ``path`` claim ``size`` bytes."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 18), (b"PK\x01\x02", 20)):
        at = data.index(signature) + offset
        data[at : at + 8] = size.to_bytes(4, "little") * 2  # compressed, uncompressed
    path.write_bytes(bytes(data))


def flip_last_data_byte(path):
    data = bytearray(path.read_bytes())
    data[data.index(b"PK\x01\x02") - 1] ^= 0xFF  # the member's last byte
    path.write_bytes(bytes(data))


def cut_in_half(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


header = npy()[:10]  # magic, version and header length of a normal .npy file
DAMAGE = {
    "data cut short": ({"W.npy": npy()[:-8]}, None),
    "data too long": ({"W.npy": npy() + bytes(8)}, None),
    "header unparsable": ({"W.npy": header + b"{'garbage" + npy()[19:]}, None),
    "header keys wrong": ({"W.npy": npy(shape="(3, 4)")}, None),
    "header truncated": ({"W.npy": npy()[:30]}, None),
    "not .npy magic": ({"W.npy": b"\x93NUMPX" + npy()[6:]}, None),
    "unknown version": ({"W.npy": npy()[:6] + b"\x07\x00" + npy()[8:]}, None),
    "claims 10**12 elements": ({"W.npy": npy(shape=(10**12,))}, None),
    "claims negative shape": ({"W.npy": npy(shape=(-1, 4))}, None),
    "zip claims 800 MB": (
        {"W.npy": npy(shape=(10**8,))},
        lambda p: claim_member_size(p, 8 * 10**8 + 128),
    ),
    "bad CRC": ({"W.npy": npy()}, flip_last_data_byte),
    "second member damaged": ({"b.npy": npy(), "W.npy": npy()[:-1]}, None),
    "same member twice": ({"W.npy": npy(), "W": npy()}, None),
}


@pytest.mark.parametrize(
    ("damage", "compression"),
    [
        pytest.param(damage, compression, id=f"{damage}, {method}")
        for damage, (_, afterwards) in sorted(DAMAGE.items())
        for method, compression in (
            ("stored", zipfile.ZIP_STORED),
            ("deflated", zipfile.ZIP_DEFLATED),
        )
        if afterwards is None or method == "stored"  # the byte-level damage: stored only
    ],
)
def test_damaged_npz_is_reported_as_damaged_naming_file_and_member(tmp_path, damage, compression):
    members, afterwards = DAMAGE[damage]
    path = write_npz(tmp_path / "weights.npz", members, compression)
    if afterwards is not None:
        afterwards(path)

    error, peak = peak_memory(read_npz, path)
    assert isinstance(error, ValueError), error  # not MemoryError, not a half-read dict
    message = str(error)
    assert message.startswith(f"read_npz: {path} is a damaged .npz file")
    assert "'W" in message  # the member at fault
    assert "pickle" not in message and "save it again" in message
    assert peak < 4 * MB  # nothing allocated by the claims: only 1 MB reads


@pytest.mark.parametrize("cut", ["half", "end record"])
def test_damaged_npz_archive_is_reported_as_damaged(tmp_path, cut):
    path = tmp_path / "weights.npz"
    np.savez(path, W=np.zeros(1000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if cut == "half" else data[:-10])
    with pytest.raises(ValueError, match=r"^read_npz: .* is a damaged \.npz file") as info:
        read_npz(path)
    assert str(path) in str(info.value) and "pickle" not in str(info.value)


def test_pickled_is_said_only_of_object_arrays(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, ok=W, bad=np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match=r"pickled \(object\) arrays \(member 'bad\.npy'\)"):
        read_npz(path)
    np.savez(path, bad=np.zeros(2, dtype=[("a", "f8"), ("b", "O")]))
    with pytest.raises(ValueError, match=r"pickled \(object\) arrays \(member 'bad\.npy'\)"):
        read_npz(path)


def test_good_npz_reads_exactly_as_numpy_does(tmp_path):
    arrays = {
        "float32": np.arange(6, dtype=np.float32).reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "int64": np.arange(-3, 3),
        "bool": np.array([True, False]),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3)),
        "big-endian": np.arange(4, dtype=">i4"),
        "record": np.zeros(2, dtype=[("a", "<f4"), ("b", "<i2")]),
    }
    for save in (np.savez, np.savez_compressed):
        save(tmp_path / "w.npz", **arrays)
        loaded = read_npz(tmp_path / "w.npz")
        assert list(loaded) == list(arrays)
        for name, array in arrays.items():
            assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
            np.testing.assert_array_equal(loaded[name], array)
            assert loaded[name].flags.writeable
        assert loaded["fortran"].flags.f_contiguous


# ------------------------------------------------------------------------------------------
# 4. IDX files: impossible dimensions, gzip bombs
# ------------------------------------------------------------------------------------------

sizes = st.one_of(st.integers(0, 4), st.integers(2**16, 2**16 + 2), st.integers(2**31, 2**32 - 1))


@given(
    dims=st.lists(sizes, min_size=1, max_size=6),
    tail=st.binary(max_size=40),
    gz=st.booleans(),
)
@example(dims=[2**16] * 4, tail=b"", gz=False)  # 2**64 bytes: wraps to 0 in int64
@example(dims=[2**32 - 1] * 3, tail=bytes(10), gz=True)
@example(dims=[2**16 + 1] * 4, tail=b"", gz=True)  # wraps to a small number in int64
def test_idx_header_with_impossible_dimensions_is_a_dataset_error(tmp_path_factory, dims, tail, gz):
    header = bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    path = tmp_path_factory.mktemp("idx") / "x-idx-ubyte"
    path.write_bytes(zlib.compress(header + tail, wbits=31) if gz else header + tail)
    try:
        array = read_idx(path)
    except DatasetError as err:
        assert str(path) in str(err)
    else:  # only if the header fits the data
        assert array.shape == tuple(dims) and array.size == len(tail)


def gzip_bomb(head, zeros_mb):
    """A gzip file of ``head`` followed by ``zeros_mb`` MB of zero bytes, built quickly.

    After a full flush, deflate compresses each 1 MB of zeros to the same bytes, so one
    compressed block is repeated instead of compressing gigabytes.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    start = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(bytes(MB)) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush()
    crc = zlib.crc32(head)
    for _ in range(zeros_mb):
        crc = zlib.crc32(bytes(MB), crc)
    size = (len(head) + zeros_mb * MB) % 2**32
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = crc.to_bytes(4, "little") + size.to_bytes(4, "little")
    return gzip_header + start + block * zeros_mb + end + trailer


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """An IDX file of 10 images 28 x 28 whose gzip stream goes on with 1 GB of zeros."""
    images = np.arange(10 * 28 * 28, dtype=np.uint8).reshape(10, 28, 28)
    path = tmp_path_factory.mktemp("bomb") / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip_bomb(idx_bytes(images), 1024))
    return path


def test_gzip_bomb_is_decompressed_only_as_far_as_the_header_declares(bomb):
    assert bomb.stat().st_size < 2 * MB  # a small file...
    d = zlib.decompressobj(31)
    d.decompress(bomb.read_bytes()[: 64 * 1024])
    assert not d.eof  # ...that is a valid gzip stream going on and on

    start = time.perf_counter()
    error, peak = peak_memory(read_idx, bomb)
    assert isinstance(error, DatasetError)
    assert str(bomb) in str(error) and "holds more than the 7,856 bytes" in str(error)
    assert peak < 8 * MB  # the compressed file, and the 7,857 bytes decompressed
    assert time.perf_counter() - start < 5


@given(
    labels=st.lists(st.integers(0, 3), max_size=300),  # few values: long repeats to copy
    members=st.lists(st.integers(0, 300), max_size=3),  # where new gzip members start
    step=st.integers(1, 7),
)
def test_gunzip_in_small_steps_reads_what_gzip_reads(tmp_path_factory, labels, members, step):
    payload = idx_bytes(np.array(labels, dtype=np.uint8))
    cuts = [0, *sorted(members), len(payload)]
    data = b"".join(zlib.compress(payload[a:b], wbits=31) for a, b in itertools.pairwise(cuts))
    path = tmp_path_factory.mktemp("steps") / "labels-idx1-ubyte.gz"
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets._BoundedGunzip, "_STEP", step)
        np.testing.assert_array_equal(read_idx(path), labels)


@pytest.mark.parametrize(
    ("layout", "problem"),
    [
        ("one member", None),
        ("split into members", None),
        ("zero padding after", None),
        ("garbage after", "corrupt: bad gzip data"),
        ("extra member after", "corrupt: it holds more than"),
        ("extra bytes in the member", "corrupt: it holds more than"),
        ("cut short", "truncated: the gzip stream ends early"),
        ("cut in the header", "truncated"),
    ],
)
def test_gzip_layouts(tmp_path, layout, problem):
    """The decompressor reads what gzip itself reads; data past the header's size is
    refused (it is never silently ignored)."""
    labels = np.arange(100, dtype=np.uint8) % 10
    payload = idx_bytes(labels)

    def gz(data):
        return zlib.compress(data, wbits=31)

    data = {
        "one member": gz(payload),
        "split into members": gz(payload[:6]) + gz(payload[6:50]) + gz(payload[50:]),
        "zero padding after": gz(payload) + bytes(100),
        "garbage after": gz(payload) + b"garbage",
        "extra member after": gz(payload) + gz(b"\x00"),
        "extra bytes in the member": gz(payload + b"\x00"),
        "cut short": gz(payload)[:-20],
        "cut in the header": gz(payload[:6]),
    }[layout]
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(data)
    if problem is None:
        np.testing.assert_array_equal(read_idx(path), labels)
    else:
        with pytest.raises(DatasetError, match=problem) as info:
            read_idx(path)
        assert str(path) in str(info.value)


# ------------------------------------------------------------------------------------------
# 5. an explicit data_dir that does not hold the data
# ------------------------------------------------------------------------------------------


@pytest.fixture
def other_data(tmp_path, monkeypatch):
    """Good data wherever load_mnist and load_fashion_mnist would search, so that falling
    back to it would go unnoticed, and downloads that fail the test."""
    files = fake_mnist()
    monkeypatch.setattr(datasets, "MNIST_SHA256", checksums(files))
    monkeypatch.setattr(datasets, "FASHION_MNIST_SHA256", checksums(files))
    write_dataset(tmp_path / "env" / "mnist", files)
    write_dataset(tmp_path / "env" / "fashion-mnist", files)
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("TINYGRAD_EDU_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "env" / "fashion-mnist")

    def no_download(*args):
        raise AssertionError("nothing may be downloaded for an explicit data_dir")

    monkeypatch.setattr(datasets, "_download_missing", no_download)
    return files


@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist])
@pytest.mark.parametrize(
    ("place", "status"),
    [
        ("typo", "no such folder"),
        ("a file", "not a folder"),
        ("empty", "missing train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "),
        ("one file short", "missing t10k-labels-idx1-ubyte[.gz]"),
    ],
)
def test_explicit_data_dir_without_the_files_is_an_error(
    tmp_path, other_data, loader, place, status
):
    folder = tmp_path / place
    if place == "a file":
        folder.write_text("")
    elif place == "empty":
        folder.mkdir()
    elif place == "one file short":
        write_dataset(folder, other_data)
        (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to the bundled sample either
        with pytest.raises(DatasetError) as info:
            loader(data_dir=folder)
    message = str(info.value)
    assert message.startswith(f"{loader.__name__}: ") and "\n" not in message
    assert f"not found in data_dir {folder}: {status}" in message
    assert "leave out data_dir" in message

    if place == "a file":
        folder.unlink()
    write_dataset(folder, other_data)
    (x_train, _), _ = loader(data_dir=str(folder))  # once it holds them, it works
    assert x_train.shape == (30, 784)
