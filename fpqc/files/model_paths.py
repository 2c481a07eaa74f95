"""Files a model names beside itself (ONNX external data): only ever inside the model's directory.

An ONNX initializer stored as external data names its file with a ``location``
relative to the model.  ``onnx.load`` refuses absolute locations and ones that
climb out with ``..``; fpqc memory-maps the data itself, so it checks the same
and more: the file, with every symbolic link followed, must lie inside the
model's directory.  Nothing outside it is ever read.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath


def file_beside(model: Path, location: str) -> Path | None:
    """The file ``location`` names relative to ``model``'s directory, or None if it would leave it.

    None for an empty, absolute or drive-qualified location, one with a ``..``
    part, or one whose real path (symbolic links followed) is outside the
    directory.
    """
    if not location or "\x00" in location:
        return None
    for pure in (PurePosixPath(location), PureWindowsPath(location)):
        if pure.is_absolute() or pure.drive or pure.root or ".." in pure.parts:
            return None
    directory = model.parent.resolve()
    file = (model.parent / location).resolve()
    return file if file.is_relative_to(directory) else None
