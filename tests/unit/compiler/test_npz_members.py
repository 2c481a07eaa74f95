"""write_npz_members writes the bytes numpy.savez writes, one array produced at a time."""

from __future__ import annotations

import io

import numpy as np
import pytest

from fpqc.files.npz import write_npz_members

ARRAYS = {
    "w": np.arange(24, dtype=np.float32).reshape(4, 6),
    "codes": np.arange(60, dtype=np.uint8).reshape(3, 4, 5),
    "transposed": np.arange(12, dtype=np.float64).reshape(3, 4).T,  # written in C order, as savez does
    "scalar": np.array(3.5, dtype=np.float32),  # saved as shape (1,), as numpy.ascontiguousarray makes it
    "empty": np.zeros((0, 7), dtype=np.float32),
    "mask": np.array([True, False, True]),
    "big_endian": np.arange(5, dtype=">i8"),
}


def test_same_bytes_as_numpy_savez() -> None:
    expected, written = io.BytesIO(), io.BytesIO()
    np.savez(expected, **{name: np.ascontiguousarray(a) for name, a in ARRAYS.items()})
    write_npz_members(written, ((name, lambda a=a: a) for name, a in ARRAYS.items()))
    assert written.getvalue() == expected.getvalue()
    with np.load(io.BytesIO(written.getvalue())) as loaded:
        for name, array in ARRAYS.items():
            expected_array = np.ascontiguousarray(array)
            assert loaded[name].dtype == array.dtype and loaded[name].shape == expected_array.shape
            assert np.array_equal(loaded[name], expected_array)


def test_arrays_of_objects_are_refused() -> None:
    with pytest.raises(ValueError, match="objects"):
        write_npz_members(io.BytesIO(), [("o", lambda: np.array([object()]))])
