"""Helpers shared by the test files: plain functions, constants and hypothesis strategies.

Test files import them as ``from helpers import leaf, float_arrays``: tests/ has no
``__init__.py``, so pytest puts the folder on ``sys.path`` before importing the tests (and
conftest.py). Fixtures live in conftest.py; what only one file needs stays in that file.
"""

import contextlib
import gzip
import hashlib
import importlib.util
import io
import operator
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Tensor, datasets
from tinygrad_edu.numerical import gradcheck

REPO = Path(__file__).resolve().parent.parent  # the root of the source checkout
EXAMPLES = REPO / "examples"
FLAGSHIP = EXAMPLES / "mnist_two_layer.py"  # the flagship script: MNIST, two layers
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"  # the first 8 bytes of every PNG file

# Environment variables for a subprocess without network: a proxy that refuses every
# connection. urllib honours them, so a download attempt fails at once (none is made).
OFFLINE_ENV = {
    name: "http://127.0.0.1:1"
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
}

# The four arithmetic operators of two operands, by name (pow, which needs positive bases
# in gradient checks, is added where it applies).
ARITHMETIC = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
}

# --------------------------------------------------------------------------------- tensors


def leaf(data):
    """A float64 leaf Tensor that requires grad, of ``data``'s shape (a number gives a 0-d
    leaf). float64, because gradient checks need it."""
    return Tensor(np.array(data, dtype=np.float64), requires_grad=True)


def check_gradients(fn, *arrays, **tolerances):
    """Assert that backprop through ``fn`` agrees with central differences.

    Each array becomes a float64 leaf (of the array's shape) and ``fn`` is called with
    them in order; ``tolerances`` (``rtol``, ``atol``, ...) go to ``numerical.gradcheck``.
    """
    assert gradcheck(fn, [leaf(a) for a in arrays], **tolerances)


# ---------------------------------------------------------------------- hypothesis strategies


def finite_floats(lo=None, hi=None):
    """Floats in ``[lo, hi]`` without NaN or infinity (None: no bound on that side)."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def float_arrays(shape, lo=-5.0, hi=5.0, *, elements=None):
    """float64 arrays of ``shape`` (an int, a tuple, or a strategy drawing shapes).

    The values are finite floats in ``[lo, hi]``, or drawn from ``elements`` if given.
    """
    if elements is None:
        elements = finite_floats(lo, hi)
    return hnp.arrays(np.float64, shape, elements=elements)


# Shapes of 0 (a 0-d array) to 4 axes, each of 1 to 3: small, but with every broadcasting
# case (size-1 axes, 0-d); the second without the 0-d shape.
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3)
NONSCALAR_SHAPES = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3)

# The layouts of matmul_operands: n, k, m are matrix sizes; B a batch shape, broadcast
# between the two operands ("Bnk,km": a stack of (n, k) matrices times one (k, m) matrix).
MATMUL_LAYOUTS = ["k,k", "nk,k", "k,km", "nk,km", "Bnk,km", "nk,Bkm", "Bnk,Bkm", "Bnk,k", "k,Bkm"]


def any_floats(elements=None, shapes=SHAPES):
    """float64 arrays of a shape drawn from ``shapes`` (by default SHAPES: 0-d to 4 axes of
    1 to 3), with values from ``elements`` (by default finite floats in [-5, 5])."""
    return shapes.flatmap(lambda shape: float_arrays(shape, elements=elements))


@st.composite
def broadcast_pair(draw, elements_a=None, elements_b=None):
    """Two float64 arrays (a, b) whose shapes broadcast together (0-d, size-1 and missing
    axes, up to 4 axes of up to 3), values from ``elements_a`` and ``elements_b`` (by
    default finite floats in [-5, 5])."""
    shapes = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3)
    )
    shape_a, shape_b = shapes.input_shapes
    return draw(float_arrays(shape_a, elements=elements_a)), draw(
        float_arrays(shape_b, elements=elements_b)
    )


@st.composite
def matmul_operands(draw, layout, elements=None):
    """The two float64 operands [a, b] of ``a @ b`` in ``layout`` (one of MATMUL_LAYOUTS),
    sizes 1 to 3, values from ``elements`` (by default finite floats in [-5, 5])."""
    sizes = {c: draw(st.integers(1, 3)) for c in "nkm"}
    batch = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2, max_side=3)
    batches = iter(draw(batch).input_shapes)
    operands = []
    for spec in layout.split(","):
        shape = (*(next(batches) if spec[0] == "B" else ()), *(sizes[c] for c in spec.lstrip("B")))
        operands.append(draw(float_arrays(shape, elements=elements)))
    return operands


@st.composite
def reshape_args(draw, elements=None):
    """(x, shape): x from ``any_floats(elements)``, and a random factorization of x.size
    into 0-4 axes, maybe one of them -1."""
    x = draw(any_floats(elements))
    ndim = draw(st.integers(0 if x.size == 1 else 1, 4))
    shape, remaining = [], x.size
    for _ in range(ndim - 1):
        divisor = draw(st.sampled_from([d for d in range(1, remaining + 1) if remaining % d == 0]))
        shape.append(divisor)
        remaining //= divisor
    if ndim:
        shape.append(remaining)
        if draw(st.booleans()):
            shape[draw(st.integers(0, ndim - 1))] = -1
    return x, tuple(shape)


@st.composite
def concatenate_args(draw, elements=None):
    """(arrays, axis): 1-4 float64 arrays of 1 to 3 axes that agree on every axis but
    ``axis``, values from ``elements`` (by default finite floats in [-5, 5])."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    parts = [
        draw(float_arrays((*shape[:axis], n, *shape[axis:][1:]), elements=elements)) for n in sizes
    ]
    return parts, axis


# ------------------------------------------------------------------------------ numerics


@contextlib.contextmanager
def strict_floats():
    """Inside: every warning, overflow, division by zero and invalid operation is an error.

    Underflow stays allowed: results such as sigmoid(-1000) == 0 or exp(-20000) == 0 are
    exactly right and can only be reached by underflowing.
    """
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        yield


def sigmoid(x):
    """The logistic function 1 / (1 + e^-x) in plain numpy, elementwise (x's shape): the
    reference that the engine's sigmoid is compared with."""
    return 1 / (1 + np.exp(-x))


# ------------------------------------------------------------------------ examples/ scripts


def load_example(name):
    """Import examples/<name>.py as a module (examples/ goes on sys.path for _common)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call_main(module, args):
    """Run ``module.main(args)`` in-process (each arg made a str); return the pair
    (what main returned, the text it printed)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = module.main([str(a) for a in args])
    return result, printed.getvalue()


def assert_pngs(result, out, names):
    """An example's ``result["figures"]`` are exactly ``names``, each a real PNG file in the
    folder ``out``, and no temporary file was left behind there."""
    assert sorted(p.name for p in result["figures"]) == sorted(names)
    for name in names:
        path = out / name
        assert path.read_bytes()[:8] == PNG_MAGIC, path
    assert not list(out.glob(".*.tmp")), "a temporary file was left behind"


def run_python(*args, cwd=None, env=None, timeout=60):
    """Run ``python ARGS`` (this interpreter; each arg made a str) in a subprocess in
    ``cwd``; ``env`` adds to the current environment. Returns the CompletedProcess, with
    stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# ------------------------------------------------------------------- small IDX files (MNIST)

MNIST_FILE_NAMES = datasets.FILE_NAMES  # train images, train labels, test images, test labels

# IDX element type codes, by numpy dtype (without the byte-order character)
_TYPE_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array):
    """The bytes of an IDX file holding ``array`` (big-endian header and data); its dtype
    must be one IDX knows: uint8, int8, int16, int32, float32 or float64."""
    array = np.asarray(array)
    code = _TYPE_CODES[array.dtype.str[1:]]
    header = bytes([0, 0, code, array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_file(path, payload, gz):
    """Write the bytes ``payload`` to ``path`` (making its folders), gzip-compressed if
    ``gz``; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def sha256(payload):
    """The SHA-256 of the bytes ``payload``, as 64 hex digits."""
    return hashlib.sha256(payload).hexdigest()


def fake_mnist(n_train=30, n_test=10, seed=0):
    """Random MNIST-like data: ``{file name: IDX bytes}`` for the four MNIST files.

    The images are ``n_train`` and ``n_test`` random 28 x 28 uint8 images (from ``seed``);
    the train labels are 0, 1, ..., 9, 0, 1, ..., the test labels the same counted down.
    """
    rng = np.random.default_rng(seed)
    arrays = [
        rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        np.arange(n_train, dtype=np.uint8) % 10,
        rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        np.arange(n_test, dtype=np.uint8)[::-1] % 10,
    ]
    return {name: idx_bytes(a) for name, a in zip(MNIST_FILE_NAMES, arrays, strict=True)}


def write_dataset(folder, files, gz=True):
    """Write ``files`` (``{file name: bytes}``, as fake_mnist makes) into ``folder``, each
    as ``name.gz`` gzip-compressed if ``gz``, else plain as ``name``; return the folder."""
    for name, payload in files.items():
        write_file(folder / (f"{name}.gz" if gz else name), payload, gz)
    return folder


def checksums(files):
    """``{file name: SHA-256}`` of ``files`` (``{file name: bytes}``): what a test puts in
    ``datasets.MNIST_SHA256`` so that the loaders accept its fake files."""
    return {name: sha256(payload) for name, payload in files.items()}


def files_under(folder):
    """The sorted paths of all files (not folders) at any depth below ``folder``."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file())


# ---------------------------------------------------------------------------- skipping


def skip_or_fail_in_ci(message, why_not_in_ci):
    """Skip the calling test, saying ``message`` (something it needs is missing), except
    in CI (CI=true), where it fails instead, saying ``message; why_not_in_ci``."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; {why_not_in_ci}")
    pytest.skip(message)


def optional_module(name, install, why_in_ci):
    """The module ``name`` of an optional extra: skips the test when it is not installed,
    saying how to ``install`` it, except in CI (CI=true), where that is a failure
    (``why_in_ci`` says why)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        skip_or_fail_in_ci(f"{name} is not installed: {install}", why_in_ci)


def require_matplotlib():
    """matplotlib (the ``plot`` extra), for the tests of pictures: skips without it, except
    in CI, which installs it."""
    return optional_module("matplotlib", "pip install '.[plot]'", "CI installs the plot extra")
