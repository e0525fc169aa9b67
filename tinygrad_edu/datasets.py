"""MNIST and Fashion-MNIST, read straight from their original IDX files.

Both data sets come as four files::

    train-images-idx3-ubyte   60,000 images, 28 x 28 bytes each
    train-labels-idx1-ubyte   60,000 labels, one byte each (0..9)
    t10k-images-idx3-ubyte    10,000 test images
    t10k-labels-idx1-ubyte    10,000 test labels

usually gzip-compressed (``*.gz``). They use the IDX format: a big-endian header, then the raw
numbers. The header is a 4-byte "magic number" ``00 00 TT DD`` (``TT`` is the element type,
``0x08`` = unsigned byte; ``DD`` is the number of dimensions), then one 4-byte size per
dimension. So labels start with ``0x00000801`` (bytes, 1 dimension) and images with
``0x00000803`` (bytes, 3 dimensions: count, rows, columns). :func:`read_idx` reads any IDX file.

:func:`load_mnist` reads the files from the ``data_dir`` argument if it is given: that folder
must hold them, or it is an error (nothing else is tried, as a typo must not silently give other
data). Without ``data_dir`` it looks, in this order, in:

1. ``$TINYGRAD_EDU_DATA/mnist``, if that environment variable is set;
2. the cache folder ``$TINYGRAD_EDU_CACHE/mnist`` (default ``$XDG_CACHE_HOME/tinygrad_edu`` or
   ``~/.cache/tinygrad_edu`` instead of ``$TINYGRAD_EDU_CACHE``);
3. if ``download=True``: the public mirrors in :data:`MNIST_MIRRORS`, saving into the cache;
4. if ``fallback=True``: a 10,000-image sample of MNIST shipped with this package, with a
   :class:`SampleDataWarning`, so that the examples also work offline.

A folder counts only if it holds all four files (each either plain or ``.gz``). Every file is
checked against its known SHA-256 (of the decompressed data), so a damaged file is reported,
never silently used, and nothing unverified is ever saved into the cache. A gzipped file is
decompressed only as far as its IDX header says the data goes (plus one byte, to notice
extra data, which is refused), so a small file that would decompress to gigabytes (a "gzip
bomb") costs no more memory than the data it claims to hold.

Example::

    (x_train, t_train), (x_test, t_test) = load_mnist()
    x_train.shape  # (60000, 784), float32 in [0, 1]
    t_train.shape  # (60000,), int64 in 0..9
"""

from __future__ import annotations

import hashlib
import http.client
import math
import os
import sys
import urllib.request
import warnings
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from tinygrad_edu._io import atomic_write

__all__ = [
    "CLASS_NAMES_FASHION",
    "DatasetError",
    "SampleDataWarning",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
]


class DatasetError(ValueError):
    """A data file is missing, truncated, corrupt or fails its checksum."""


class SampleDataWarning(UserWarning):
    """Issued when :func:`load_mnist` falls back to the small bundled MNIST sample."""


# --------------------------------------------------------------------------------------------
# The known files
# --------------------------------------------------------------------------------------------

# The four files, in the order (train images, train labels, test images, test labels).
FILE_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# SHA-256 of each file's *decompressed* bytes, so a file may be stored plain or gzipped.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

# The bundled sample: 10,000 training and 2,000 test images picked from real MNIST by
# scripts/make_mnist_sample.py (same file names with a "mnist-sample-" prefix, gzipped).
SAMPLE_DIR = Path(__file__).with_name("sample")
SAMPLE_PREFIX = "mnist-sample-"
MNIST_SAMPLE_SHA256 = {
    "train-images-idx3-ubyte": "992da52dfaf9ab9ae3bba665e5a8aae30c8ca74f9f403ad6c85454751d01314b",
    "train-labels-idx1-ubyte": "d2389850597074345950e43561347398da8aed7ed898ba992439691d1754153b",
    "t10k-images-idx3-ubyte": "f7d0998683d1f28ced83774b8f707c9208618ffa529e52b32a7c7756653d2196",
    "t10k-labels-idx1-ubyte": "9df9deb979aa7022499b7681dcecac639cab80d24a747da20ba527bfc33ac059",
}

# Download mirrors, tried in turn. Each is a folder URL holding the four ``*.gz`` files.
MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
FASHION_MNIST_MIRRORS = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
]

# Where Debian's ``dataset-fashion-mnist`` package installs the files.
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

DOWNLOAD_TIMEOUT = 10  # seconds to wait for a server before trying the next mirror

CLASS_NAMES_FASHION = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# One split of a data set: (images, labels) as read, or (x, t) as returned to the caller.
Split = tuple[np.ndarray, np.ndarray]
# The bytes of a file, as read (bytes) or as decompressed (bytearray).
Data = bytes | bytearray
# Where to look for the files: (description, folder) pairs, in order.
Places = list[tuple[str, Path]]

_FIX_ADVICE = "Delete the file and load again to re-download it, or replace it with a good copy."


# --------------------------------------------------------------------------------------------
# Reading IDX files
# --------------------------------------------------------------------------------------------

# IDX element type code -> numpy dtype (big-endian, as stored in the file).
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions


def read_idx(path: str | os.PathLike[str], sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a numpy array.

    Args:
        path: the file. Compression is detected from its first bytes, not from its name.
        sha256: optional expected SHA-256 (hex) of the decompressed bytes.

    Returns:
        A new array whose shape is the header's dimensions, e.g. ``(60000, 28, 28)`` uint8
        for MNIST training images or ``(60000,)`` uint8 for its labels.

    Raises:
        DatasetError: if the file is truncated, corrupt, or fails the checksum.
    """
    return _read_idx_file(Path(path), sha256)


def _read_idx_file(path: Path, sha256: str | None = None, magic: int | None = None) -> np.ndarray:
    """Like :func:`read_idx`, optionally also requiring a particular magic number."""
    try:
        payload = _idx_payload(path.read_bytes(), str(path))
        return _decode_idx(payload, str(path), sha256, magic)
    except DatasetError as err:
        raise DatasetError(f"{err} {_FIX_ADVICE}") from None


def _idx_payload(data: bytes, source: str) -> Data:
    """The IDX bytes held in ``data``: ``data`` itself, or, if it starts with the gzip magic
    bytes 1f 8b, as much of its decompressed content as the IDX header inside declares,
    plus one byte if there is more (so that :func:`_decode_idx` can refuse extra data).

    Decompressing stops there, so memory never exceeds what the header declares, however
    much the compressed data would expand to.
    """
    if not data.startswith(_GZIP_MAGIC):
        return data
    gunzip = _BoundedGunzip(data, source)
    gunzip.read_to(4)  # the magic number; its last byte is the number of dimensions
    gunzip.read_to(4 + 4 * gunzip.out[3] if len(gunzip.out) == 4 else 0)
    _, dims, dtype = _parse_idx_header(gunzip.out, source)
    gunzip.read_to(_idx_size(dims, dtype, source) + 1)
    return gunzip.out


class _BoundedGunzip:
    """Decompresses gzip data incrementally, only as far as asked (see :meth:`read_to`).

    Handles files of several gzip members and zero padding after the last, as
    :func:`gzip.decompress` does. The CRC-32 and length stored at the end of each member are
    checked when the end is reached.
    """

    _STEP = 1 << 20  # at most this many decompressed bytes per zlib call

    def __init__(self, data: bytes, source: str):
        self.source = source  # names the file in error messages
        self.out = bytearray()  # what has been decompressed so far
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # 16+: gzip header
        self._pending = data  # compressed bytes not yet given to the inflater
        self.finished = False  # True once the last member's end (and CRC) was read

    def read_to(self, size: int) -> None:
        """Decompress until ``out`` holds ``size`` bytes or the data ends.

        Raises:
            DatasetError: if the data is corrupt, or ends in the middle of a gzip member.
        """
        while len(self.out) < size and not self.finished:
            want = min(size - len(self.out), self._STEP)
            try:
                chunk = self._inflater.decompress(self._pending, want)
            except zlib.error as err:
                raise DatasetError(f"{self.source} is corrupt: bad gzip data ({err}).") from None
            self._pending = self._inflater.unconsumed_tail
            self.out += chunk
            if self._inflater.eof:
                self._next_member()
            elif not chunk and not self._pending:
                raise DatasetError(f"{self.source} is truncated: the gzip stream ends early.")

    def _next_member(self) -> None:
        """After a member's end: start on the next member, or finish at the end of the data
        (zero bytes after the last member are padding, as for :mod:`gzip`)."""
        rest = self._inflater.unused_data.lstrip(b"\0")
        if rest:
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._pending = rest
        else:
            self.finished = True


def _idx_size(dims: tuple[int, ...], dtype: np.dtype, source: str) -> int:
    """The size in bytes of a whole IDX file, header included, with dimensions ``dims``.

    Raises:
        DatasetError: if no array can have these dimensions.
    """
    # numpy refuses shapes whose non-zero dimensions multiply to more bytes than it can
    # address, even when another dimension is 0. Python ints: the products are exact.
    if math.prod(size for size in dims if size) * dtype.itemsize > sys.maxsize:
        raise DatasetError(
            f"{source} is corrupt: its header's dimensions {dims} are too large for any array."
        )
    return 4 + 4 * len(dims) + math.prod(dims) * dtype.itemsize


def _decode_idx(
    payload: Data, source: str, sha256: str | None = None, magic: int | None = None
) -> np.ndarray:
    """Turn the decompressed bytes of an IDX file into an array, checking everything.

    The header is checked first (it gives the most helpful message), then the checksum.
    ``source`` names the file in error messages.
    """
    header_magic, dims, dtype = _parse_idx_header(payload, source)
    if magic is not None and header_magic != magic:
        raise DatasetError(
            f"{source} is corrupt: its IDX magic number is 0x{header_magic:08x} "
            f"but 0x{magic:08x} was expected (is it the wrong file?)."
        )
    header_size = 4 + 4 * len(dims)
    expected_size = _idx_size(dims, dtype, source)
    if len(payload) < expected_size:
        raise DatasetError(
            f"{source} is truncated: its header promises {expected_size:,} bytes "
            f"(dimensions {dims}) but it holds only {len(payload):,}."
        )
    if len(payload) > expected_size:
        raise DatasetError(
            f"{source} is corrupt: it holds more than the {expected_size:,} bytes that its "
            f"header (dimensions {dims}) describes."
        )
    if sha256 is not None:
        _check_sha256(payload, sha256, source)
    flat = np.frombuffer(payload, dtype=dtype, offset=header_size)
    return flat.reshape(dims).astype(dtype.newbyteorder("="))  # a writable, native copy


def _parse_idx_header(payload: Data, source: str) -> tuple[int, tuple[int, ...], np.dtype]:
    """Return ``(magic, dims, dtype)`` from the start of an IDX file."""
    if len(payload) < 4:
        raise DatasetError(f"{source} is truncated: it is too short to hold an IDX header.")
    magic = int.from_bytes(payload[:4], "big")
    type_code, ndim = payload[2], payload[3]
    if payload[:2] != b"\x00\x00" or type_code not in _IDX_TYPES or ndim == 0:
        raise DatasetError(f"{source} is corrupt: 0x{magic:08x} is not an IDX magic number.")
    if len(payload) < 4 + 4 * ndim:
        raise DatasetError(f"{source} is truncated: its IDX header is cut short.")
    dims = tuple(int.from_bytes(payload[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return magic, dims, _IDX_TYPES[type_code]


def _check_sha256(payload: Data, expected: str, source: str) -> None:
    """Raise :class:`DatasetError` unless ``payload`` has the SHA-256 ``expected``."""
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected:
        raise DatasetError(
            f"{source}: checksum mismatch: the SHA-256 of its data is {actual}, "
            f"expected {expected}; the file is corrupt or is not the expected file."
        )


# --------------------------------------------------------------------------------------------
# Finding the files on disk
# --------------------------------------------------------------------------------------------


def _cache_dir(subfolder: str) -> Path:
    """The per-user cache folder for one data set, e.g. ``~/.cache/tinygrad_edu/mnist``."""
    root = os.environ.get("TINYGRAD_EDU_CACHE")
    if root:
        cache = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        cache = (Path(xdg) if xdg else Path.home() / ".cache") / "tinygrad_edu"
    return cache.expanduser() / subfolder


def _search_dirs(subfolder: str, system_dir: Path | None = None) -> Places:
    """The folders to look in when no ``data_dir`` is given, in order, as
    ``(description, path)`` pairs."""
    places: Places = []
    data_root = os.environ.get("TINYGRAD_EDU_DATA")
    if data_root:
        places.append((f"$TINYGRAD_EDU_DATA/{subfolder}", Path(data_root).expanduser() / subfolder))
    if system_dir is not None:
        places.append(("system-wide data", system_dir))
    places.append(("cache", _cache_dir(subfolder)))
    return places


def _file_in(folder: Path, name: str) -> Path | None:
    """The path of ``name`` or ``name.gz`` inside ``folder``, or None if neither exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _missing_files(folder: Path, prefix: str = "") -> list[str]:
    """The names of the four files that ``folder`` lacks (empty if it has them all)."""
    return [name for name in FILE_NAMES if _file_in(folder, prefix + name) is None]


def _find_data(places: Places) -> Path | None:
    """The first folder of ``places`` holding all four files, or None."""
    for _, folder in places:
        if not _missing_files(folder):
            return folder
    return None


def _describe_search(places: Places) -> str:
    """One line per place looked in, saying what was missing there."""
    return "\n".join(
        f"  - {folder} ({description}): {_folder_status(folder)}" for description, folder in places
    )


def _folder_status(folder: Path) -> str:
    """Why ``folder`` does not hold the four files, e.g. ``"no such folder"``."""
    if not folder.exists():
        return "no such folder"
    if not folder.is_dir():
        return "not a folder"
    return "missing " + ", ".join(f"{name}[.gz]" for name in _missing_files(folder))


def _given_folder(data_dir: str | os.PathLike[str], caller: str, dataset: str) -> Path:
    """The folder the caller passed as ``data_dir``, which must hold the four files.

    Raises:
        DatasetError: naming the folder and the missing files, if it does not hold them all.
    """
    folder = Path(data_dir).expanduser()
    if _missing_files(folder):
        raise DatasetError(
            f"{caller}: {dataset} not found in data_dir {folder}: {_folder_status(folder)}. "
            "To fix: pass the folder that holds the four files (train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each "
            "plain or .gz), or leave out data_dir to search $TINYGRAD_EDU_DATA and the cache "
            "and to download them."
        )
    return folder


# --------------------------------------------------------------------------------------------
# Loading a folder of four files
# --------------------------------------------------------------------------------------------


def _load_folder(
    folder: Path, sha256_table: dict[str, str], prefix: str = ""
) -> tuple[Split, Split]:
    """Read and check the four files in ``folder``.

    Returns:
        ``((train_images, train_labels), (test_images, test_labels))``: images are
        ``(N, 28, 28)`` uint8, labels ``(N,)`` uint8.
    """
    train = _load_split(folder, FILE_NAMES[0], FILE_NAMES[1], sha256_table, prefix)
    test = _load_split(folder, FILE_NAMES[2], FILE_NAMES[3], sha256_table, prefix)
    return train, test


def _load_split(
    folder: Path, images_name: str, labels_name: str, sha256_table: dict[str, str], prefix: str
) -> Split:
    """Read one images file and its labels file, and check that they belong together."""
    images_path = _file_in(folder, prefix + images_name)
    labels_path = _file_in(folder, prefix + labels_name)
    if images_path is None or labels_path is None:  # e.g. a damaged install's bundled sample
        missing = ", ".join(f"{name}[.gz]" for name in _missing_files(folder, prefix))
        raise DatasetError(f"{folder} is incomplete: missing {missing}.")
    images = _read_idx_file(images_path, sha256_table[images_name], _IMAGES_MAGIC)
    labels = _read_idx_file(labels_path, sha256_table[labels_name], _LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise DatasetError(
            f"{images_path} is corrupt: images are {images.shape[1:]}, not 28 x 28. {_FIX_ADVICE}"
        )
    if len(labels) != len(images):
        raise DatasetError(
            f"{labels_path} is corrupt: it has {len(labels):,} labels but {images_path} has "
            f"{len(images):,} images. {_FIX_ADVICE}"
        )
    if labels.size and labels.max() > 9:
        raise DatasetError(
            f"{labels_path} is corrupt: label {labels.max()} is not a digit 0..9. {_FIX_ADVICE}"
        )
    return images, labels


def _prepare(
    images: np.ndarray, labels: np.ndarray, normalize: bool, flatten: bool, one_hot_label: bool
) -> Split:
    """Convert raw arrays to the form the caller asked for.

    Args:
        images: ``(N, 28, 28)`` uint8.
        labels: ``(N,)`` uint8.

    Returns:
        ``(x, t)``: ``x`` is ``(N, 784)`` if ``flatten`` else ``(N, 1, 28, 28)``, float32 in
        [0, 1] if ``normalize`` else uint8 in 0..255; ``t`` is ``(N, 10)`` float32 one-hot rows
        if ``one_hot_label`` else ``(N,)`` int64.
    """
    n = len(images)
    x = images.reshape(n, 784) if flatten else images.reshape(n, 1, 28, 28)
    if normalize:
        x = x.astype(np.float32)
        x /= 255.0
    if one_hot_label:
        t = np.zeros((n, 10), dtype=np.float32)
        t[np.arange(n), labels] = 1.0
    else:
        t = labels.astype(np.int64)
    return x, t


def _prepare_all(
    data: tuple[Split, Split], normalize: bool, flatten: bool, one_hot_label: bool
) -> tuple[Split, Split]:
    """Apply :func:`_prepare` to both the training and the test split."""
    (train_images, train_labels), (test_images, test_labels) = data
    train = _prepare(train_images, train_labels, normalize, flatten, one_hot_label)
    test = _prepare(test_images, test_labels, normalize, flatten, one_hot_label)
    return train, test


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------


def _download_missing(folder: Path, mirrors: list[str], sha256_table: dict[str, str]) -> None:
    """Download into ``folder`` each of the four files it does not have yet."""
    for name in _missing_files(folder):
        _download_file(f"{name}.gz", folder, mirrors, sha256_table[name])


def _download_file(filename: str, folder: Path, mirrors: list[str], sha256: str) -> None:
    """Fetch ``filename`` from the first mirror that delivers a good copy.

    Raises:
        DatasetError: listing every URL tried and why it failed.
    """
    failures: list[str] = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            _fetch(url, folder / filename, sha256)
            return
        except (OSError, http.client.HTTPException, DatasetError) as err:
            failures.append(f"    {url}: {err}")
    raise DatasetError(f"could not download {filename}; tried:\n" + "\n".join(failures))


def _fetch(url: str, destination: Path, sha256: str) -> None:
    """Download ``url`` to ``destination``, showing a progress bar.

    The bytes go to a temporary file that is renamed to ``destination`` only after the whole
    file has arrived and its data passed the checks, so a broken download leaves nothing.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_edu"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length else None
        with atomic_write(destination, mode="w+b") as file:
            received = _copy_with_progress(response, file, total, destination.name)
            if total is not None and received != total:
                raise DatasetError(f"download truncated: received {received:,} of {total:,} bytes")
            file.seek(0)
            _decode_idx(_idx_payload(file.read(), url), url, sha256)


def _copy_with_progress(response: IO[bytes], file: IO[bytes], total: int | None, label: str) -> int:
    """Copy the response body into ``file`` chunk by chunk; return the number of bytes.

    The progress bar is tqdm.auto's: a widget in Jupyter, text in a terminal. It is imported
    here, when a download happens, so that ``import tinygrad_edu`` in a Jupyter kernel
    without ipywidgets prints no tqdm warning.
    """
    from tqdm.auto import tqdm

    received = 0
    with tqdm(total=total, unit="B", unit_scale=True, desc=label) as bar:
        while chunk := response.read(1 << 16):
            file.write(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    return received


# --------------------------------------------------------------------------------------------
# The public loaders
# --------------------------------------------------------------------------------------------


def _find_or_download(
    places: Places, subfolder: str, download: bool, mirrors: list[str], sha256_table: dict[str, str]
) -> tuple[Path | None, str | None]:
    """Find the four files in ``places``, or else download them into the cache.

    Returns:
        ``(folder, problem)``: the folder holding the files (None if there is none) and, when
        there is none, a short reason for the messages.
    """
    folder = _find_data(places)
    if folder is not None:
        return folder, None
    if not download:
        return None, "download=False"
    cache = _cache_dir(subfolder)
    try:
        _download_missing(cache, mirrors, sha256_table)
    except DatasetError as err:
        return None, f"download failed: {err}"
    return cache, None


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    fallback: bool = True,
) -> tuple[Split, Split]:
    """Load MNIST handwritten digits: 60,000 training and 10,000 test images.

    Args:
        normalize: if True, pixels are float32 in [0, 1]; otherwise uint8 in 0..255.
        flatten: if True, each image is a row of 784 pixels; otherwise a (1, 28, 28) array.
        one_hot_label: if True, each label is a float32 row of 10 with a single 1.0;
            otherwise an int64 digit 0..9.
        data_dir: the folder holding the four files (plain or ``.gz``). If given, it must
            hold them: it is the only place read, and nothing is downloaded.
        download: without ``data_dir``, if the files are not found, download them into the
            cache folder.
        fallback: without ``data_dir``, if the files can be neither found nor downloaded,
            use the bundled 10,000-image sample (with a :class:`SampleDataWarning`) instead
            of raising.

    Returns:
        ``(x_train, t_train), (x_test, t_test)`` with ``x`` of shape ``(N, 784)`` or
        ``(N, 1, 28, 28)`` and ``t`` of shape ``(N,)`` or ``(N, 10)``.

    Raises:
        DatasetError: if a file is damaged, if ``data_dir`` lacks any of the files, or if
            nothing is found and ``fallback`` is False.
    """
    if data_dir is not None:
        data = _load_folder(_given_folder(data_dir, "load_mnist", "MNIST"), MNIST_SHA256)
        return _prepare_all(data, normalize, flatten, one_hot_label)
    places = _search_dirs("mnist")
    folder, problem = _find_or_download(places, "mnist", download, MNIST_MIRRORS, MNIST_SHA256)
    if folder is not None:
        data = _load_folder(folder, MNIST_SHA256)
    elif fallback:
        warnings.warn(_sample_warning(problem), SampleDataWarning, stacklevel=2)
        data = _load_folder(SAMPLE_DIR, MNIST_SAMPLE_SHA256, prefix=SAMPLE_PREFIX)
    else:
        raise DatasetError(
            f"MNIST not found ({problem}). Looked in:\n{_describe_search(places)}\n"
            "To fix: call load_mnist() with internet access to download it, or put the four "
            "files in a folder and pass data_dir=..., or set TINYGRAD_EDU_DATA "
            "(the files go in its mnist/ subfolder)."
        )
    return _prepare_all(data, normalize, flatten, one_hot_label)


def _sample_warning(problem: str | None) -> str:
    """The message shown when falling back to the bundled sample."""
    why = str(problem).replace("\n", "\n    ")  # a download's failures, one per line
    return (
        "using the bundled 10,000-image MNIST sample (and 2,000 test images): results will "
        "differ from full MNIST.\n"
        f"  Why: MNIST not found ({why}).\n"
        "  For the full data: call load_mnist() with internet access (it is then kept in "
        f"{_cache_dir('mnist')}), or put the four MNIST files in a folder and pass "
        "data_dir=... (or set TINYGRAD_EDU_DATA). fallback=False makes this an error."
    )


def load_fashion_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> tuple[Split, Split]:
    """Load Fashion-MNIST: 60,000 training and 10,000 test images of clothes, 10 classes.

    The arguments and results are as for :func:`load_mnist`; the class names are in
    :data:`CLASS_NAMES_FASHION`. As there, a given ``data_dir`` must hold the files. Without
    it, besides ``$TINYGRAD_EDU_DATA/fashion-mnist`` and the cache, it looks in
    ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist`` package).
    There is no bundled sample.

    Raises:
        DatasetError: if a file is damaged, if ``data_dir`` lacks any of the files, or if
            the data can be neither found nor downloaded.
    """
    if data_dir is not None:
        given = _given_folder(data_dir, "load_fashion_mnist", "Fashion-MNIST")
        data = _load_folder(given, FASHION_MNIST_SHA256)
        return _prepare_all(data, normalize, flatten, one_hot_label)
    places = _search_dirs("fashion-mnist", FASHION_MNIST_SYSTEM_DIR)
    folder, problem = _find_or_download(
        places, "fashion-mnist", download, FASHION_MNIST_MIRRORS, FASHION_MNIST_SHA256
    )
    if folder is None:
        raise DatasetError(
            f"Fashion-MNIST not found ({problem}). Looked in:\n{_describe_search(places)}\n"
            "To get it: `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or call "
            "load_fashion_mnist(download=True) with internet access, or put the four files in "
            "a folder and pass data_dir=... (or set TINYGRAD_EDU_DATA; files in its "
            "fashion-mnist/ subfolder)."
        )
    data = _load_folder(folder, FASHION_MNIST_SHA256)
    return _prepare_all(data, normalize, flatten, one_hot_label)
