"""Shape helpers shared by the ``fpq`` ops' builders and verifiers.

Element types are declared on the ops' operand and result definitions; these
helpers check how shapes relate.  Messages name the op and the mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.fpq.attributes import QuantAttr


def drop_unit_axes(shape: Sequence[int]) -> tuple[int, ...]:
    """``shape`` without its axes of size 1."""
    return tuple(d for d in shape if d != 1)


def tensor_shape(value: SSAValue, what: str, op: str) -> tuple[int, ...]:
    """The shape of ``value``, which must be a ranked tensor."""
    if not isinstance(value.type, TensorType):
        raise VerifyException(f"{op}: {what} must be a ranked tensor, got {value.type}")
    return value.type.get_shape()


def codes_shape(value: SSAValue[TensorType[Attribute]], quant: QuantAttr, what: str, op: str) -> tuple[int, ...]:
    """The shape of ``value``, whose elements must be codes of ``quant``'s format."""
    element = value.type.get_element_type()
    if element != quant.element:
        raise VerifyException(
            f"{op}: {what} has element type {element} but its quantization "
            f"says {quant.element} (format mismatch)"
        )
    return value.type.get_shape()


def expect_shape(got: Sequence[int], want: Sequence[int], what: str, op: str) -> None:
    """``got`` must be ``want``."""
    if tuple(got) != tuple(want):
        raise VerifyException(f"{op}: {what} has shape {list(got)}, expected {list(want)}")


def expect_broadcast(shapes: Sequence[Sequence[int]], target: Sequence[int], what: str, op: str) -> None:
    """``shapes`` must broadcast to ``target`` (numpy's rules) without growing it."""
    try:
        ok = tuple(np.broadcast_shapes(tuple(target), *map(tuple, shapes))) == tuple(target)
    except ValueError:
        ok = False
    if not ok:
        raise VerifyException(
            f"{op}: {what} of shapes {', '.join(str(list(s)) for s in shapes)} do not broadcast "
            f"to {list(target)}"
        )


def expect_weight(x: Sequence[int], w: Sequence[int], what: str, op: str) -> None:
    """``w`` must be a 2-D ``[out, in]`` weight whose ``in`` is the last dimension of the input ``x``."""
    if len(w) != 2:
        raise VerifyException(f"{op}: {what} must be 2-D [out, in], got {list(w)}")
    if x[-1] != w[1]:
        raise VerifyException(
            f"{op}: input has {x[-1]} features but weight [out, in] = {list(w)} expects {w[1]}"
        )


def expect_linear_output(
    x: Sequence[int],
    w: Sequence[int],
    bias: SSAValue[TensorType[Attribute]] | None,
    result: SSAValue[TensorType[Attribute]],
    op: str,
) -> None:
    """A linear layer's bias, if any, must be ``[O]`` and its result ``[..., O]``.

    ``x`` ``[..., K]`` is the shape of its input, ``w`` ``[O, K]`` that of its weight.
    """
    if bias is not None:
        expect_shape(bias.type.get_shape(), (w[0],), "bias", op)
    expect_shape(result.type.get_shape(), (*x[:-1], w[0]), "result", op)


def expect_attention(
    op: str,
    qkv: Sequence[int],
    q_scale: Sequence[int],
    heads: int,
    eps: float,
    kv_quant: QuantAttr | None,
    rows: str,
) -> tuple[int, int, int]:
    """VAR attention's operands: ``qkv`` ``[B, rows, 3·C]`` with C divisible by ``heads``, ``q_scale``
    ``[heads]``, a positive ``eps`` and a KV quantization that divides a head; returns ``(B, rows, C)``."""
    if len(qkv) != 3 or qkv[2] % 3 or heads <= 0 or (qkv[2] // 3) % heads:
        raise VerifyException(
            f"{op}: qkv must be [B, {rows}, 3·C] with C divisible by num_heads = {heads}, got {list(qkv)}"
        )
    b, n, c = qkv[0], qkv[1], qkv[2] // 3
    expect_shape(q_scale, (heads,), "q_scale", op)
    if not eps > 0:
        raise VerifyException(f"{op}: eps must be positive, got {eps}")
    if kv_quant is not None:
        kv_quant.check_divides((c // heads,), "a head of keys/values")
    return b, n, c

