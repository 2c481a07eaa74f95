"""Import-time simplification: constant folding.

``Shape`` becomes the constant of its operand's static shape.  A node whose
inputs are all constants and whose results are small (at most
:data:`FOLD_LIMIT` elements) or not float -- shape arithmetic such as
``Shape → Gather → Unsqueeze → Concat → Reshape`` -- is evaluated with the
ops' numpy semantics (:mod:`fpqc.dialects.onnx.semantics`, which the
interpreter runs too) and becomes a constant.  Ops that compute nothing (a
``Cast`` to the operand's own type, an ``Expand`` that broadcasts nothing)
are imported as they are; ``canonicalize-onnx`` removes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from xdsl.dialects.builtin import TensorType

from fpqc.dialects.onnx import shape_range
from fpqc.dialects.onnx.semantics import evaluate
from fpqc.dialects.tensor_types import element_type_to_dtype

FOLD_LIMIT = 64
"""Float results of all-constant nodes with at most this many elements are folded."""

def fold(
    op_type: str,
    operand_types: Sequence[TensorType | None],
    constants: Sequence[np.ndarray | None],
    attrs: Mapping[str, Any],
    result_types: Sequence[TensorType],
) -> tuple[np.ndarray, ...] | None:
    """The node's results, each of its result type's dtype, when it folds; else None.

    ``constants`` holds the values of the constant operands (None for the others),
    positionally as ``operand_types`` (None for an absent optional operand).
    """
    if op_type == "Shape":
        shape = operand_types[0].get_shape()
        start, end = shape_range(len(shape), attrs["start"], attrs["end"])
        arrays: tuple[np.ndarray, ...] = (np.array(shape[start:end], np.int64),)
    elif all(c is not None for c, t in zip(constants, operand_types) if t is not None) and _folds(result_types):
        arrays = evaluate(op_type, constants, attrs)
    else:
        return None
    return tuple(
        array.astype(element_type_to_dtype(result_type.get_element_type()), copy=False)
        for array, result_type in zip(arrays, result_types)
    )


def _folds(result_types: Sequence[TensorType]) -> bool:
    """Whether an all-constant node with these results is evaluated at import time."""
    for result_type in result_types:
        small = result_type.element_count() <= FOLD_LIMIT
        if not small and np.issubdtype(element_type_to_dtype(result_type.get_element_type()), np.floating):
            return False
    return True
