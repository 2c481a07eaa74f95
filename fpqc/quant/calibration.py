"""Reading the activation rows of a calibration file (``fpqc calibrate``) that GALT and the format search learn from."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpqc.errors import FpqcError
from fpqc.files.npz import open_npz


def existing_calibration(path: Path) -> Path:
    """``path``, or an FpqcError that says how to make the calibration file it names."""
    if not path.is_file():
        raise FpqcError(f"{path}: no such calibration file; run `fpqc calibrate MODEL -o {path}` first")
    return path


def calibration_option(calib: str, pass_name: str, why: str) -> Path:
    """The existing calibration file a pass's ``calib`` option names.

    ``why`` says what the pass reads it for (``"galt learns its smoothing from"``); an
    empty option or a missing file is an FpqcError that says how to make one.
    """
    if not calib:
        raise FpqcError(
            f"{why} calibration activations: run `fpqc calibrate MODEL -o calib.npz` first and pass "
            f'{pass_name}{{calib="calib.npz"}}'
        )
    return existing_calibration(Path(calib))


def open_calibration(calib: str, pass_name: str, why: str) -> tuple[np.lib.npyio.NpzFile, Path]:
    """:func:`calibration_option`'s file, open, and its path."""
    path = calibration_option(calib, pass_name, why)
    return open_npz(path, "calibration file"), path


def calibration_rows(data: np.lib.npyio.NpzFile, index: int, path: Path) -> list[np.ndarray]:
    """Input rows ``[T_k, K]`` per VAR scale k of the ``index``-th ``fpq.linear`` in program order.

    ``data`` is a calibration file of ``fpqc calibrate`` (:mod:`fpqc.runtime.calibrate`):
    its key ``linear{i}/scale{k}`` holds sampled input rows ``[R, K]``.
    """
    keys = sorted(
        (key for key in data.files if key.startswith(f"linear{index}/scale")),
        key=lambda key: int(key.rsplit("scale", 1)[1]),
    )
    if not keys:
        raise FpqcError(
            f"{path}: no calibration activations for linear layer {index} (keys linear{index}/scale*); "
            f"rerun `fpqc calibrate` on the same model"
        )
    return [data[key].reshape(-1, data[key].shape[-1]) for key in keys]


def checked_rows(data: np.lib.npyio.NpzFile, index: int, path: Path, features: int, label: str) -> list[np.ndarray]:
    """:func:`calibration_rows` of the ``index``-th linear, which must have ``features`` input features."""
    rows = calibration_rows(data, index, path)
    if any(r.shape[-1] != features for r in rows):
        raise FpqcError(
            f"{path}: calibration rows of {label} have {rows[0].shape[-1]} features, the layer "
            f"has {features}; rerun `fpqc calibrate` on the same model"
        )
    return rows
