"""Shape and element-type rules of ONNX ops (opset 20).

Pure functions on shapes and ONNX data-type codes.  The ops' type inference,
the importer and the ops' numpy semantics (:mod:`.semantics`) all use them, so
each rule is written once.  A rule raises :class:`InferenceError` when its
operands do not fit together.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.ir import Attribute

from fpqc.dialects.onnx.data_types import numpy_dtype
from fpqc.dialects.tensor_types import UnsupportedElementType, element_type_of

Shape = tuple[int, ...]


class InferenceError(Exception):
    """The operands of an op do not fit together (e.g. shapes that do not broadcast)."""


def broadcast_shapes(*shapes: Shape) -> Shape:
    """The ONNX multidirectional broadcast of ``shapes`` (numpy's rules)."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise InferenceError(
            f"shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast"
        ) from None


def normalize_axis(axis: int, rank: int) -> int:
    """``axis`` in ``[0, rank)``, counting negative values from the back."""
    if not -rank <= axis < rank:
        raise InferenceError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def matmul_shape(a: Shape, b: Shape) -> Shape:
    """numpy ``matmul`` shape rules (1-D operands promoted, batch dims broadcast)."""
    if not a or not b:
        raise InferenceError("MatMul operands must have rank >= 1")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise InferenceError(f"inner dimensions of {list(a)} and {list(b)} differ")
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    return batch + (a2[-2],) * (len(a) > 1) + (b2[-1],) * (len(b) > 1)


def reshape_shape(data: Shape, shape: Sequence[int], allowzero: int) -> Shape:
    """ONNX ``Reshape``: 0 copies the input dim (unless ``allowzero``), -1 is inferred."""
    dims = [int(d) for d in shape]
    if not allowzero:
        for i, d in enumerate(dims):
            if d == 0:
                if i >= len(data):
                    raise InferenceError(f"shape {dims} copies dim {i} of a rank-{len(data)} tensor")
                dims[i] = data[i]
    size = int(np.prod(data, dtype=np.int64))
    if dims.count(-1) > 1 or any(d < -1 for d in dims):
        raise InferenceError(f"invalid shape {dims}")
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise InferenceError(f"cannot reshape {list(data)} to {dims}")
        dims[dims.index(-1)] = size // known
    if int(np.prod(dims, dtype=np.int64)) != size:
        raise InferenceError(f"cannot reshape {list(data)} ({size} elements) to {dims}")
    return tuple(dims)


def reduced_axes(rank: int, axes: Sequence[int] | None, noop_with_empty_axes: int) -> tuple[int, ...]:
    """The axes a Reduce* op reduces: all when ``axes`` is empty (unless ``noop_with_empty_axes``)."""
    if axes is None or len(axes) == 0:
        return () if noop_with_empty_axes else tuple(range(rank))
    normalized = tuple(sorted(normalize_axis(int(a), rank) for a in axes))
    if len(set(normalized)) != len(normalized):
        raise InferenceError(f"axes {list(axes)} repeat an axis")
    return normalized


def unsqueeze_shape(shape: Shape, axes: Sequence[int]) -> Shape:
    """``shape`` with unit dims inserted at ``axes`` (positions in the result)."""
    rank = len(shape) + len(axes)
    positions = {normalize_axis(a, rank) for a in axes}
    if len(positions) != len(axes):
        raise InferenceError(f"axes {list(axes)} repeat an axis")
    rest = iter(shape)
    return tuple(1 if i in positions else next(rest) for i in range(rank))


def split_sizes(dim: int, split: Sequence[int] | None, num_outputs: int | None) -> list[int]:
    """The piece sizes of ONNX ``Split``: ``split`` if given, else ``num_outputs`` pieces of
    ``ceil(dim / num_outputs)`` (the last ones smaller when ``dim`` does not divide)."""
    if split is not None:
        if any(s < 0 for s in split) or sum(split) != dim:
            raise InferenceError(f"split sizes {list(split)} do not add up to the dimension {dim}")
        return list(split)
    if num_outputs is None or num_outputs < 1:
        raise InferenceError("Split needs the 'split' input or a positive 'num_outputs'")
    chunk = -(-dim // num_outputs)
    return [max(0, min(chunk, dim - i * chunk)) for i in range(num_outputs)]


def shape_range(rank: int, start: int | None, end: int | None) -> tuple[int, int]:
    """The ``[start, end)`` dims that ONNX ``Shape`` returns (negative counts from the back, clamped)."""
    def clamp(v: int) -> int:
        return min(max(v + rank if v < 0 else v, 0), rank)

    return clamp(start or 0), clamp(rank if end is None else end)


def slice_bounds(
    shape: Shape,
    starts: Sequence[int],
    ends: Sequence[int],
    axes: Sequence[int] | None,
    steps: Sequence[int] | None,
) -> list[slice]:
    """One Python ``slice`` per axis of ``shape`` with the ONNX ``Slice`` clamping rules."""
    rank = len(shape)
    axes = list(range(len(starts))) if axes is None else [normalize_axis(a, rank) for a in axes]
    steps = [1] * len(starts) if steps is None else list(steps)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise InferenceError("starts, ends, axes and steps differ in length")
    if len(set(axes)) != len(axes):
        raise InferenceError(f"axes {axes} repeat an axis")
    bounds = [slice(None)] * rank
    for start, end, axis, step in zip(starts, ends, axes, steps):
        dim = shape[axis]
        if step == 0:
            raise InferenceError("a step of Slice is 0")
        start = start + dim if start < 0 else start
        end = end + dim if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
        bounds[axis] = slice(start, None if end < 0 else end, step)
    return bounds


def sliced_length(bound: slice, dim: int) -> int:
    """The number of elements ``bound`` (one of :func:`slice_bounds`) takes from a dim of size ``dim``."""
    if bound == slice(None):
        return dim
    return len(range(bound.start, -1 if bound.stop is None else bound.stop, bound.step))


def range_length(start: float, limit: float, delta: float) -> int:
    """The number of elements of ONNX ``Range``: ``max(ceil((limit - start) / delta), 0)``."""
    if delta == 0:
        raise InferenceError("the delta of Range is 0")
    return max(int(np.ceil((limit - start) / delta)), 0)


def onnx_numpy_dtype(onnx_dtype: int) -> np.dtype:
    """The numpy dtype of the ONNX ``TensorProto.DataType`` code ``onnx_dtype``."""
    try:
        return numpy_dtype(onnx_dtype)
    except KeyError:
        raise InferenceError(f"unknown ONNX data type {onnx_dtype}") from None


def onnx_element_type(onnx_dtype: int) -> Attribute:
    """The element type of the ONNX ``TensorProto.DataType`` code ``onnx_dtype``."""
    dtype = onnx_numpy_dtype(onnx_dtype)
    try:
        return element_type_of(dtype)
    except UnsupportedElementType as e:
        raise InferenceError(str(e)) from None

