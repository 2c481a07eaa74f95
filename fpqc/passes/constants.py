"""Reading and creating constant tensors in passes.

A value is a compile-time constant when it is produced by ``onnx.Constant`` or
``fpq.constant``; its numpy value comes from the inline attribute or from the
active :class:`~fpqc.weights.WeightStore`.  A pass that derives a weight from
another (a transpose, a fold) makes it a :func:`derived_constant`: computed
when it is read, so that a compile never holds every weight at once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.dialects.builtin import DenseResourceAttr, TensorType
from xdsl.ir import Attribute, SSAValue

from fpqc.dialects import fpq, onnx
from fpqc.dialects.tensor_types import element_type_to_dtype
from fpqc.weights import INLINE_LIMIT, Entry, LazyWeight, materialize, read_entry, resolve, resolve_entry

CONSTANT_OPS = (onnx.ConstantOp, fpq.ConstantOp)


def constant_value(value: SSAValue) -> np.ndarray | None:
    """The numpy value of ``value`` if a constant op produces it, else None."""
    op = value.owner
    if not isinstance(op, CONSTANT_OPS):
        return None
    return resolve(op.value)


def is_constant(value: SSAValue) -> bool:
    """Whether a constant op produces ``value`` (its values are not read)."""
    return isinstance(value.owner, CONSTANT_OPS)


def constant_view(value: SSAValue) -> np.ndarray | None:
    """Like :func:`constant_value`, in any memory order and not kept by the store: for reading a weight once."""
    entry = constant_entry(value)
    return None if entry is None else read_entry(entry)


def constant_entry(value: SSAValue) -> Entry | None:
    """The array or lazy weight behind the constant ``value`` (nothing is computed), else None: for
    a lazy weight derived from it (read it with ``read_entry``)."""
    op = value.owner
    if not isinstance(op, CONSTANT_OPS):
        return None
    return resolve_entry(op.value)


def derived_constant(
    hint: str, source: SSAValue, compute: Callable[[np.ndarray], np.ndarray], shape: tuple[int, ...] | None = None
) -> fpq.ConstantOp:
    """An ``fpq.constant`` of ``compute(values of the constant source)``, computed when it is read.

    ``compute`` gets the source's values in any memory order and may return any
    memory order; the result has ``shape`` (default: the source's) and the
    source's dtype.  Without an active store, or when small, it is computed now
    and inline (:func:`new_constant`).
    """
    op = source.owner
    assert isinstance(op, CONSTANT_OPS), "derived_constant needs a constant source"
    entry = resolve_entry(op.value)
    source_type = source.type
    assert isinstance(source_type, TensorType)
    dtype = element_type_to_dtype(source_type.get_element_type())
    lazy = LazyWeight(shape or source_type.get_shape(), dtype, lambda: compute(read_entry(entry)))
    return new_constant(hint, lazy)


def constant_key(value: SSAValue) -> str | None:
    """The weight-store key behind ``value``, when it is a ``dense_resource`` constant."""
    op = value.owner
    if not isinstance(op, CONSTANT_OPS):
        return None
    attr = op.value
    return attr.resource_handle.data if isinstance(attr, DenseResourceAttr) else None


def new_constant(hint: str, array: Entry, result_type: Attribute | None = None) -> fpq.ConstantOp:
    """An ``fpq.constant`` holding ``array`` or a lazy weight (inline if small or no store is active).

    ``result_type`` overrides the result type, e.g. a tensor of
    ``!fpq.float<e2m1>`` for uint8 codes.
    """
    if isinstance(array, np.ndarray):
        array = np.ascontiguousarray(array)
    attr = materialize(hint, array, inline_limit=INLINE_LIMIT)
    if result_type is not None:
        assert isinstance(result_type, TensorType)
    return fpq.ConstantOp(attr, result_type)


def as_fpq_constant(value: SSAValue) -> fpq.ConstantOp:
    """A new ``fpq.constant`` with the same value attribute as the constant ``value``.

    The weight store entry, if any, is shared rather than copied.
    """
    op = value.owner
    assert isinstance(op, CONSTANT_OPS), "as_fpq_constant needs a constant"
    return fpq.ConstantOp(op.value, value.type)
