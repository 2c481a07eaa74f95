"""Reading and creating constant tensors in passes.

A value is a compile-time constant when it is produced by ``onnx.Constant`` or
``fpq.constant``; its numpy value comes from the inline attribute or from the
active :class:`~fpqc.weights.WeightStore`.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import DenseResourceAttr, TensorType
from xdsl.ir import Attribute, SSAValue

from fpqc.dialects import fpq, onnx
from fpqc.weights import INLINE_LIMIT, materialize, resolve

CONSTANT_OPS = (onnx.ConstantOp, fpq.ConstantOp)


def constant_value(value: SSAValue) -> np.ndarray | None:
    """The numpy value of ``value`` if a constant op produces it, else None."""
    op = value.owner
    if not isinstance(op, CONSTANT_OPS):
        return None
    return resolve(op.value)


def constant_key(value: SSAValue) -> str | None:
    """The weight-store key behind ``value``, when it is a ``dense_resource`` constant."""
    op = value.owner
    if not isinstance(op, CONSTANT_OPS):
        return None
    attr = op.value
    return attr.resource_handle.data if isinstance(attr, DenseResourceAttr) else None


def new_constant(hint: str, array: np.ndarray, result_type: Attribute | None = None) -> fpq.ConstantOp:
    """An ``fpq.constant`` holding ``array`` (inline if small or no store is active).

    ``result_type`` overrides the result type, e.g. a tensor of
    ``!fpq.float<e2m1>`` for uint8 codes.
    """
    attr = materialize(hint, np.ascontiguousarray(array), inline_limit=INLINE_LIMIT)
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
