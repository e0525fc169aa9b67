"""Files: written safely (a temporary name, then an atomic rename), read without pickles.

``atomic_write`` writes into a hidden temporary file beside the target, named
``.{target}.{writer}-{pid}-{random}.tmp``, and renames it over the target only when the
block succeeds. A process killed mid-write (``kill -9``, a power cut) cannot remove its
temporary file, so each later ``atomic_write`` to the same target first removes such
leftovers: see ``_remove_stale_temp_files`` for exactly which ones.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import re
import secrets
import socket
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

# A temporary file is removed once nobody has written to it for this long, even when its
# writer cannot be shown to be gone (it ran on another machine or in another container, the
# file is from an earlier version without the writer in its name, or its process ID has
# been reused). Every write refreshes the file's modification time, and nothing in this
# package leaves a file open without writing for more than seconds (a download gives up
# after 10 s of silence), so a day is far beyond any live writer while still bounding the
# disk space that a killed writer wastes.
STALE_TEMP_AGE = 24 * 60 * 60  # seconds


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success, rename it to ``path``.

    If the block raises, the temporary file is removed and ``path`` is untouched, so an
    interrupted run never leaves a truncated file that a later run would trust. Temporary
    files of ``path`` left behind by writers that were killed are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(path)
    tmp = path.with_name(f".{path.name}.{_writer_tag()}-{os.getpid()}-{secrets.token_hex(4)}.tmp")
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


@functools.cache
def _writer_tag() -> str:
    """8 hex digits naming this machine and its process-ID namespace (a container has its
    own), so that a process ID in a temporary file's name is checked only where it means
    something."""
    namespace = ""
    with contextlib.suppress(OSError):  # Linux only; elsewhere the host name alone
        namespace = os.readlink("/proc/self/ns/pid")
    return hashlib.sha256(f"{socket.gethostname()}\0{namespace}".encode()).hexdigest()[:8]


def _temp_file_pattern(target: str) -> re.Pattern[str]:
    """The names ``atomic_write`` gives the temporary files of ``target``: today's
    ``.{target}.{writer}-{pid}-{random}.tmp``, and ``.{target}.{random}.tmp`` as written
    by earlier versions (writer unknown)."""
    return re.compile(
        rf"\.{re.escape(target)}\.(?:(?P<writer>[0-9a-f]{{8}})-(?P<pid>[0-9]+)-)?[0-9a-f]{{8}}\.tmp"
    )


def _remove_stale_temp_files(path: Path) -> None:
    """Remove the temporary files that earlier ``atomic_write(path)`` calls left behind.

    Only regular files named exactly as ``atomic_write`` names the temporary files of
    ``path`` are candidates (see ``_temp_file_pattern``), and of those only the ones whose
    writing process no longer exists (checked when the file was made on this machine) or
    that nobody has written to for ``STALE_TEMP_AGE`` seconds. Anything else, and any
    error (a file vanishing, no permission), is left alone: cleaning up never makes a
    write fail.
    """
    pattern = _temp_file_pattern(path.name)
    try:
        with os.scandir(path.parent) as scan:
            candidates = [(e, m) for e in scan if (m := pattern.fullmatch(e.name))]
    except OSError:
        return
    now = time.time()
    for entry, match in candidates:
        with contextlib.suppress(OSError):
            if not entry.is_file(follow_symlinks=False):
                continue
            idle = now - entry.stat(follow_symlinks=False).st_mtime
            made_here = match["writer"] == _writer_tag()
            if (made_here and not _process_exists(int(match["pid"]))) or idle > STALE_TEMP_AGE:
                os.unlink(entry.path)


def _process_exists(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine; True when that cannot be told."""
    if os.name != "posix" or pid <= 0:  # on Windows, os.kill would terminate the process
        return True
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only the existence check is made
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # e.g. PermissionError: it exists, owned by another user
        return True
    return True


# Everything reading a damaged zip member or .npy header can raise. numpy and zipfile raise
# ValueError for bad headers, EOFError for early ends, BadZipFile for bad CRCs and
# structures, zlib.error for bad compressed data, NotImplementedError for unknown
# compression methods and RuntimeError for encrypted members.
_DAMAGE_ERRORS = (
    ValueError,
    EOFError,
    OSError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    RuntimeError,
)

_READ_CHUNK = 1 << 20  # bytes read from an archive member at a time


class _PickledMember(Exception):
    """Raised inside ``_read_member`` for an object array (stored as a pickle)."""


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """{name: array} from an ``.npz`` file, refusing pickles (unpickling can run code).

    Raises FileNotFoundError for a missing file and ValueError, naming the file (and the
    archive member at fault), for anything that is not a plain ``.npz`` of arrays: a
    pickle, an archive holding object arrays (pickles inside), or a damaged archive. No
    array is allocated before its size is checked against the data actually present, so
    a damaged header claiming a huge array is reported as damage, not as a MemoryError.
    """
    path = Path(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:1] == b"\x80":  # how a pickle starts (protocol 2 and later)
        raise ValueError(
            f"read_npz: {path} is a Python pickle, refused because unpickling can run "
            f"arbitrary code; if you trust it (e.g. the book's sample_weight.pkl), convert it "
            f"once: np.savez('weights.npz', **pickle.load(open('sample_weight.pkl', 'rb')))"
        )
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # an .npz is a zip archive
        raise ValueError(
            f"read_npz: {path} is not an .npz file (a zip of arrays, made by np.savez)"
        )
    try:
        archive = zipfile.ZipFile(path)
    except _DAMAGE_ERRORS as err:
        raise ValueError(
            f"read_npz: {path} is a damaged .npz file ({err}); save it again or get a good copy"
        ) from None
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")  # the key np.load would give it
            if name in arrays:
                raise ValueError(
                    f"read_npz: {path} is a damaged .npz file: it holds two members named "
                    f"{info.filename!r}; save it again or get a good copy"
                )
            arrays[name] = _read_member(archive, info, path)
    return arrays


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """The array stored in one ``.npy`` member of an ``.npz`` archive (a new, writable
    array), or ValueError naming the file and the member."""
    try:
        with archive.open(info) as member:
            return _read_npy(member, info.file_size)
    except _PickledMember:
        raise ValueError(
            f"read_npz: {path} holds pickled (object) arrays (member {info.filename!r}), "
            f"refused because unpickling can run arbitrary code; save plain numeric arrays"
        ) from None
    except _DAMAGE_ERRORS as err:
        raise ValueError(
            f"read_npz: {path} is a damaged .npz file: member {info.filename!r} cannot be "
            f"read ({err}); save it again or get a good copy"
        ) from None


def _read_npy(member: IO[bytes], member_size: int) -> np.ndarray:
    """Read one ``.npy`` stream of ``member_size`` bytes; ValueError if it is damaged."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if dtype.hasobject:
        raise _PickledMember
    if any(size < 0 for size in shape):
        raise ValueError(f"its header gives the negative shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    data_size = member_size - member.tell()
    if nbytes != data_size:
        raise ValueError(
            f"its header claims shape {shape} of {dtype} ({nbytes:,} bytes) but the member "
            f"holds {data_size:,} bytes of data"
        )
    # Read what is really there, chunk by chunk: the sizes above are the archive's claims,
    # and allocating by them could ask for terabytes.
    data = bytearray()
    while len(data) < nbytes:
        chunk = member.read(min(_READ_CHUNK, nbytes - len(data)))
        if not chunk:
            raise ValueError(f"its data ends after {len(data):,} of {nbytes:,} bytes")
        data += chunk
    if member.read(1):  # also makes zipfile check the CRC at the end of the member
        raise ValueError(f"it holds more than the {nbytes:,} bytes its header describes")
    if nbytes == 0:
        return np.empty(shape, dtype=dtype, order="F" if fortran_order else "C")
    flat = np.frombuffer(data, dtype=dtype)  # writable: it shares the bytearray
    return flat.reshape(shape, order="F" if fortran_order else "C")
