"""Reading ``.npz`` archives a user hands to fpqc: plain arrays only, one clear error otherwise.

``numpy.load`` accepts ``.npy`` files and pickles too and explains failures with
advice about ``allow_pickle``; fpqc's inputs, weights and calibration files are
``.npz`` archives of plain arrays, so anything else is refused with one line
naming the file and what it is instead.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fpqc.errors import FpqcError

_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_PROTOCOL = b"\x80"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def open_npz(path: Path, what: str) -> np.lib.npyio.NpzFile:
    """The ``.npz`` archive ``path``, opened lazily (``what`` names it in errors: "inputs", ...).

    Use it as a context manager; :func:`read_npz` reads every array at once.
    """
    if not path.exists():
        raise FpqcError(f"{path}: no such file (the {what})")
    if not path.is_file():
        raise FpqcError(f"{path}: is a directory, not an .npz file (the {what})")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_NPY_MAGIC):
        raise FpqcError(f"{path}: a .npy array, not an .npz archive (the {what}); save it with numpy.savez(path, name=array)")
    if head.startswith(_PICKLE_PROTOCOL):
        raise FpqcError(f"{path}: pickled Python data, not an .npz archive (the {what}); fpqc reads only plain arrays")
    if not head.startswith(_ZIP_MAGIC):
        raise FpqcError(f"{path}: not an .npz archive (the {what}); save the arrays with numpy.savez(path, name=array)")
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise FpqcError(f"{path}: not a readable .npz archive (the {what}: {_first_line(e)})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise FpqcError(f"{path}: not an .npz archive (the {what}); save it with numpy.savez")
    return data


def read_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive ``path`` (see :func:`open_npz`)."""
    with open_npz(path, what) as data:
        try:
            return {name: data[name] for name in data.files}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
            if "pickle" in str(e):
                raise FpqcError(f"{path}: holds pickled Python objects (the {what}); fpqc reads only plain arrays") from None
            raise FpqcError(f"{path}: not a readable .npz archive (the {what}: {_first_line(e)})") from None


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else "truncated"


def write_npz(path: Path, arrays: dict[str, np.ndarray], what: str) -> None:
    """Write ``arrays`` as the ``.npz`` archive ``path``, whole or not at all (temporary file, then rename)."""
    if path.is_dir():
        raise FpqcError(f"{path}: is a directory; give the {what} file's name")
    if not path.parent.is_dir():
        raise FpqcError(f"{path}: the directory {path.parent} does not exist; create it or choose another path")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as f:
            np.savez(f, **arrays)
        os.replace(temporary, path)
    except OSError as e:
        raise FpqcError(f"{path}: cannot write the {what} ({e.strerror})") from None
    finally:
        temporary.unlink(missing_ok=True)


def write_npz_members(file: BinaryIO, members: Iterable[tuple[str, Callable[[], np.ndarray]]]) -> None:
    """Write ``(name, produce)`` pairs into ``file`` as an uncompressed ``.npz``, one array in memory at a time.

    Each array is produced only when its turn comes and written in C order; the archive's
    bytes are those ``numpy.savez`` writes for the same C-ordered arrays.  An array's values
    go to the archive as one buffer (numpy's ``write_array`` copies them into 16 MB ``bytes``
    first): one checksum and one write, each without the GIL.
    """
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, produce in members:
            array = np.ascontiguousarray(produce())
            if array.dtype.hasobject:
                raise ValueError(f"{name}: an array of Python objects cannot be saved")
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                header = np.lib.format.header_data_from_array_1_0(array)
                try:  # numpy's choice of header version for plain dtypes
                    np.lib.format.write_array_header_1_0(member, header)
                except ValueError:
                    np.lib.format.write_array_header_2_0(member, header)
                member.write(array.reshape(-1).view(np.uint8))
