"""Files: written safely (a temporary name, then an atomic rename), read without pickles."""

from __future__ import annotations

import contextlib
import os
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success, rename it to ``path``.

    If the block raises, the temporary file is removed and ``path`` is untouched, so an
    interrupted run never leaves a truncated file that a later run would trust.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never reuse an existing file; 0o666 lets the user's umask decide permissions.
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """{name: array} from an ``.npz`` file, refusing pickles (unpickling can run code).

    Raises FileNotFoundError for a missing file and ValueError for anything that is not a
    plain ``.npz`` of numeric arrays, with a message saying what the file is instead.
    """
    path = Path(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:1] == b"\x80":  # how a pickle starts (protocol 2 and later)
        raise ValueError(
            f"{path} is a Python pickle, refused because unpickling can run arbitrary code; "
            f"if you trust it (e.g. the book's sample_weight.pkl), convert it once: "
            f"np.savez('weights.npz', **pickle.load(open('sample_weight.pkl', 'rb')))"
        )
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # an .npz is a zip archive
        raise ValueError(f"{path} is not an .npz file (a zip of arrays, made by np.savez)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as err:  # an object array inside is stored as a pickle
        raise ValueError(
            f"{path} holds pickled (object) arrays, refused because unpickling can run "
            f"arbitrary code ({err})"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is a damaged .npz file ({err})") from None
