"""SHA-256 checksums of input files, computed in a background thread while the caller works.

``hashlib`` and file reads release the GIL, so hashing a model's gigabytes of
external data overlaps the compile's own work instead of adding to it.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from fpqc.errors import FpqcError

_BLOCK = 1 << 22


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file ``path``, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class BackgroundChecksums:
    """``{file name: sha256}`` of ``files``, computed by a daemon thread started now (see :meth:`result`)."""

    def __init__(self, files: list[Path]) -> None:
        self._files = files
        self._digests: dict[str, str] = {}
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="fpqc-checksums", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for path in self._files:
                self._digests[path.name] = file_sha256(path)
        except OSError as e:
            self._error = e

    def result(self) -> dict[str, str]:
        """The checksums, waiting for the thread; :class:`FpqcError` if a file could not be read."""
        self._thread.join()
        if self._error is not None:
            raise FpqcError(f"{self._error.filename}: cannot read it to checksum it ({self._error.strerror})")
        return dict(self._digests)
