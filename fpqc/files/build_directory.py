"""Writing a build directory so that no interruption loses or mixes a user's files.

A compile writes everything into a staging directory beside the output and
only then puts it in place::

    out/.build.fpqc-staging.<pid>.<random>/   the new build, being written
    out/build/                                 the old build, untouched until the swap
    out/.build.fpqc-lock                       held (flock) by the one compile writing out/build

Guarantees:

* **Only fpqc's own builds are replaced.**  A build's ``manifest.json`` lists
  every file fpqc wrote and its size (``"files"``); an existing ``-o`` directory
  is replaced only when it holds exactly those files (plus the C-simulation
  objects ``fpqc verify`` caches in ``csim/``).  Anything else — a
  directory of the user's, a build with a file added — is refused, never deleted.
* **The swap is atomic.**  Linux's ``renameat2(RENAME_EXCHANGE)`` exchanges the
  staging and the output directory in one step; the old build is then removed.
  Where that call is missing, the old build is renamed aside, the new one into
  place, then the old one removed: an interruption between the two renames leaves
  the old build whole under ``.build.fpqc-old.<pid>.<random>``, where the next
  compile to the same ``-o`` restores it before it begins.
* **Nothing is left behind.**  A failed or interrupted compile removes its staging
  directory; one killed outright (SIGKILL) leaves it, and the next compile to the
  same ``-o`` removes every staging directory whose process is gone.
* **One writer at a time.**  A second compile to the same ``-o`` while one is
  running stops at once with an error naming the other process.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fpqc.errors import FpqcError
from fpqc.files.scratch import pid_alive

MANIFEST = "manifest.json"
BUILD_IR = "model.hls.mlir"
"""The build's IR: the compiled module, what ``fpqc run`` and ``verify`` execute."""
BUILD_WEIGHTS = "weights.npz"
"""The build's weight store (its ``dense_resource`` arrays), beside the accelerator's packed ``weights.bin``."""
INVENTORY_KEY = "files"
DERIVED = re.compile(
    r"csim/obj/[\w.-]+\.o|csim/csim(_kernels)?(_dump)?|csim/libkernels(_dump)?\.so|csim/fpqc_host|host/fpqc_host_(csim|xrt)"
)
"""Files fpqc's own tools add to a build later (``fpqc verify``'s C-simulation objects and executables,
the C++ host programs that ``fpqc generate --host cpp`` and ``make -C host`` build)."""
_STAGING, _OLD = "fpqc-staging", "fpqc-old"


def inventory(directory: Path) -> dict[str, int]:
    """Every regular file under ``directory`` (relative POSIX path → size in bytes), sorted."""
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            files[path.relative_to(directory).as_posix()] = -1  # never one of fpqc's: refuses the directory
        elif path.is_file():
            files[path.relative_to(directory).as_posix()] = path.stat().st_size
    return files


def is_fpqc_build(directory: Path) -> bool:
    """Whether ``directory`` holds exactly the files its ``manifest.json`` says fpqc wrote."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    listed = manifest.get(INVENTORY_KEY) if isinstance(manifest, dict) else None
    if not isinstance(listed, dict) or "fpqc" not in manifest:
        return False
    found = {name: size for name, size in inventory(directory).items() if not DERIVED.fullmatch(name)}
    found.pop(MANIFEST, None)
    return found == listed


def check_build(build: Path, version: str) -> None:
    """Refuse a build to run or verify unless it is whole, unchanged and written by fpqc ``version``."""
    if not build.is_dir():
        raise FpqcError(f"{build}: no such build directory; run fpqc compile first")
    try:
        manifest = json.loads((build / MANIFEST).read_text())
    except FileNotFoundError:
        raise FpqcError(f"{build}: not an fpqc build directory (no {MANIFEST}); run fpqc compile first") from None
    except (OSError, ValueError):
        raise FpqcError(f"{build}: {MANIFEST} is not readable JSON; recompile the model") from None
    listed = manifest.get(INVENTORY_KEY) if isinstance(manifest, dict) else None
    if not isinstance(listed, dict) or "fpqc" not in manifest:
        raise FpqcError(f"{build}: {MANIFEST} is not an fpqc build manifest; recompile the model")
    if manifest["fpqc"] != version:
        raise FpqcError(f"{build}: built by fpqc {manifest['fpqc']}, this is fpqc {version}; recompile the model")
    found = inventory(build)
    found.pop(MANIFEST, None)
    for name, size in listed.items():
        if name not in found:
            raise FpqcError(f"{build}: {name} is missing from the build; recompile the model")
        if found[name] != size:
            raise FpqcError(f"{build}: {name} has changed since fpqc wrote it ({found[name]} bytes, not {size}); "
                            "recompile the model")


def check_output(output: Path) -> None:
    """Refuse an ``-o`` that fpqc may not write or replace (see the module docstring)."""
    if output.is_symlink():
        raise FpqcError(f"{output}: is a symbolic link; give the build directory itself as -o")
    parent = output.parent
    if parent.exists() and not parent.is_dir():
        raise FpqcError(f"{output}: its parent {parent} is not a directory; choose another -o")
    if not output.exists():
        return
    if not output.is_dir():
        raise FpqcError(f"{output}: exists and is not a directory; choose another -o")
    if any(output.iterdir()) and not is_fpqc_build(output):
        raise FpqcError(
            f"{output}: exists and is not a build fpqc wrote (or holds files fpqc did not write); "
            "fpqc replaces only its own builds: choose another -o, or move the directory away yourself"
        )


def check_not_inside(output: Path, inputs: dict[str, Path | None]) -> None:
    """Refuse an input file that lies inside the output directory the compile replaces."""
    root = output.resolve()
    for what, path in inputs.items():
        if path is not None and path.resolve().is_relative_to(root):
            raise FpqcError(
                f"{path}: the {what} is inside the output directory {output}, which the compile replaces; "
                "copy it out first or choose another -o"
            )


def _leftovers(output: Path, kind: str) -> Iterator[Path]:
    """Sibling directories ``.<name>.<kind>.<pid>.<random>`` whose process is gone."""
    pattern = re.compile(rf"\.{re.escape(output.name)}\.{kind}\.(\d+)\.[0-9a-f]+")
    if not output.parent.is_dir():
        return
    for path in output.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match and path.is_dir() and not path.is_symlink() and not pid_alive(int(match.group(1))):
            yield path


def recover(output: Path) -> None:
    """Restore an old build left aside by an interrupted swap; remove dead compiles' staging directories."""
    for old in _leftovers(output, _OLD):
        if not output.exists() and is_fpqc_build(old):
            old.rename(output)
        elif is_fpqc_build(old):
            shutil.rmtree(old)
    for staging in _leftovers(output, _STAGING):
        shutil.rmtree(staging)


def _sibling(output: Path, kind: str) -> Path:
    return output.parent / f".{output.name}.{kind}.{os.getpid()}.{secrets.token_hex(4)}"


def new_staging(output: Path) -> Path:
    """A fresh staging directory beside ``output``."""
    staging = _sibling(output, _STAGING)
    try:
        staging.mkdir()
    except OSError as e:
        raise FpqcError(f"{output}: cannot write beside it in {output.parent} ({e.strerror}); choose another -o") from None
    return staging


def write_manifest(staging: Path, manifest: dict) -> None:
    """``manifest.json`` with the inventory of everything else in ``staging`` (write it last)."""
    files = inventory(staging)
    files.pop(MANIFEST, None)
    manifest = {**manifest, INVENTORY_KEY: files}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))


def put_in_place(staging: Path, output: Path) -> None:
    """Make the finished ``staging`` the build at ``output``, replacing the old build atomically."""
    if not output.exists():
        staging.rename(output)
        return
    if _exchange(staging, output):
        shutil.rmtree(staging)
        return
    aside = _sibling(output, _OLD)
    output.rename(aside)
    staging.rename(output)
    shutil.rmtree(aside)


@contextmanager
def exclusive(output: Path) -> Iterator[None]:
    """Hold the lock of ``output`` (``.<name>.fpqc-lock`` beside it) for one writer at a time."""
    lock = output.parent / f".{output.name}.fpqc-lock"
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise FpqcError(f"{output}: cannot write in {output.parent} ({e.strerror}); choose another -o") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise FpqcError(
                f"{output}: another fpqc compile (pid {holder}) is writing this build; wait for it or choose another -o"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the lock file was removed by the writer before us; lock the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)
