"""numpy implementations of the ``fpq`` ops, following :mod:`fpqc.numerics` exactly.

Quantized ops are bit-exact with the HLS C++ library: quantization, exact
group accumulation and the fp32 combination of scales are the numerics
functions themselves, computed with BLAS on exactly representable values.
Float-level ``fpq.linear`` is an ordinary fp32 matmul (it is not part of the
bit-exact contract; it is what the quantized model is measured against).  The
other float-level ops compute in fp32 with the nonlinear functions of
:mod:`fpqc.numerics` and the reduction order their op docstrings state: every
sum along an axis runs left to right (:func:`_sum_last`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls

from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.numerics.dual_format import DualFormat, compute_dual_scales, dual_qlinear, dual_quantize
from fpqc.numerics.hadamard import fwht_f32, ght_f32
from fpqc.numerics import (
    compute_scales,
    dequantize,
    exp_f32,
    gelu_tanh_f32,
    qlinear,
    quantize,
    rsqrt_f32,
    silu_f32,
)
from fpqc.weights import resolve


def _rows(array: np.ndarray) -> np.ndarray:
    """View ``[..., K]`` as ``[rows, K]``."""
    return array.reshape(-1, array.shape[-1])


def _grouping(quant: fpq.QuantAttr, row_length: int) -> tuple[int | None, int | None]:
    """(axis, group_size) arguments of the numerics functions for ``quant``."""
    group = quant.group_size_for(row_length)
    return (None, None) if group is None else (-1, group)


def _scales_per_group(scales: np.ndarray, rows: int, groups: int) -> np.ndarray:
    """Broadcast ``[rows or 1, g]`` scales to ``[rows, groups]`` (groups a multiple of g)."""
    scales = scales.reshape(-1, scales.shape[-1])
    repeat = groups // scales.shape[-1]
    return np.broadcast_to(np.repeat(scales, repeat, axis=-1), (rows, groups))


def _sum_last(x: np.ndarray) -> np.ndarray:
    """fp32 sum over the last axis, left to right: ``((x0 + x1) + x2) + ...``."""
    columns = np.moveaxis(np.asarray(x, np.float32), -1, 0)
    acc = columns[0].copy()
    for column in columns[1:]:
        acc += column
    return acc[..., None]


def _layernorm(x: np.ndarray, eps: float) -> np.ndarray:
    """Affine-free layer normalisation over the last axis (order: ``fpq.layernorm``)."""
    n = np.float32(x.shape[-1])
    d = x - _sum_last(x) / n
    var = _sum_last(d * d) / n
    return d * rsqrt_f32(var + np.float32(eps))


def _l2_normalize(x: np.ndarray, eps: float) -> np.ndarray:
    """``x / max(‖x‖, eps)`` over the last axis as ``x · rsqrt(max(Σx², eps²))``."""
    eps2 = np.float32(eps) * np.float32(eps)
    return x * rsqrt_f32(np.maximum(_sum_last(x * x), eps2))


def _block_causal(boundaries: tuple[int, ...]) -> np.ndarray:
    """``[L, L]`` bool: query i sees key j when j is below the end of i's scale."""
    ends = np.repeat(np.asarray(boundaries[1:]), np.diff(boundaries))
    return np.arange(boundaries[-1])[None, :] < ends[:, None]


def _fake_quantize(x: np.ndarray, quant: fpq.QuantAttr) -> np.ndarray:
    """``dequantize(quantize(x))`` with scales computed from ``x`` along its last axis."""
    axis, group = _grouping(quant, x.shape[-1])
    fmt = quant.format
    scales = compute_scales(x, fmt, axis=axis, group_size=group, scale_kind=quant.scale_kind.data)
    codes = quantize(x, fmt, scales, axis=axis, group_size=group, rounding=quant.rounding.data)
    return dequantize(codes, fmt, scales, axis=axis, group_size=group)


def _attention(op: fpq.AttentionOp, qkv: np.ndarray, q_scale: np.ndarray, mask: np.ndarray | None):
    b, length, c3 = qkv.shape
    heads = op.num_heads.value.data
    eps = op.eps.value.data
    q, k, v = qkv.astype(np.float32).reshape(b, length, 3, heads, -1).transpose(2, 0, 3, 1, 4)
    q = _l2_normalize(q, eps) * q_scale.astype(np.float32).reshape(1, heads, 1, 1)
    k = _l2_normalize(k, eps)
    if op.kv_quant is not None:
        k, v = _fake_quantize(k, op.kv_quant), _fake_quantize(v, op.kv_quant)
    scores = np.matmul(q, k.transpose(0, 1, 3, 2))
    if mask is not None:
        scores = scores + mask.astype(np.float32)
    bounds = op.boundaries()
    allowed = _block_causal(bounds) if bounds is not None else np.ones(scores.shape[-2:], bool)
    top = np.max(np.where(allowed, scores, np.float32(-np.inf)), axis=-1, keepdims=True)
    e = np.where(allowed, exp_f32(scores - top), np.float32(0))
    p = e / _sum_last(e)
    out = np.matmul(p, v)
    return out.transpose(0, 2, 1, 3).reshape(b, length, c3 // 3).astype(np.float32)


@register_impls
class FpqFunctions(InterpreterFunctions):
    @impl(fpq.ConstantOp)
    def run_constant(self, interpreter: Interpreter, op: fpq.ConstantOp, args: tuple[Any, ...]):
        return (resolve(op.value),)

    @impl(fpq.LinearOp)
    def run_linear(self, interpreter: Interpreter, op: fpq.LinearOp, args: tuple[Any, ...]):
        x, w, *bias = args
        y = np.matmul(x.astype(np.float32), w.T.astype(np.float32))
        if bias:
            y = y + bias[0]
        return (y.astype(np.float32),)

    @impl(fpq.GeluOp)
    def run_gelu(self, interpreter: Interpreter, op: fpq.GeluOp, args: tuple[Any, ...]):
        return (gelu_tanh_f32(np.asarray(args[0], np.float32)),)

    @impl(fpq.EmbeddingOp)
    def run_embedding(self, interpreter: Interpreter, op: fpq.EmbeddingOp, args: tuple[Any, ...]):
        table, indices = args
        rows = table.shape[0]
        if indices.size and (indices.min() < -rows or indices.max() >= rows):
            raise FpqcError(
                f"fpq.embedding: index out of range for a table of {rows} rows "
                f"(indices {indices.min()}..{indices.max()})"
            )
        return (np.take(table, np.where(indices < 0, indices + rows, indices), axis=0).astype(np.float32),)

    @impl(fpq.SiluOp)
    def run_silu(self, interpreter: Interpreter, op: fpq.SiluOp, args: tuple[Any, ...]):
        return (silu_f32(np.asarray(args[0], np.float32)),)

    @impl(fpq.LayerNormOp)
    def run_layernorm(self, interpreter: Interpreter, op: fpq.LayerNormOp, args: tuple[Any, ...]):
        return (_layernorm(np.asarray(args[0], np.float32), op.eps.value.data),)

    @impl(fpq.SplitOp)
    def run_split(self, interpreter: Interpreter, op: fpq.SplitOp, args: tuple[Any, ...]):
        chunks = np.split(np.asarray(args[0], np.float32), len(op.outputs), axis=-1)
        return tuple(
            chunk.reshape(out.type.get_shape()) for chunk, out in zip(chunks, op.outputs, strict=True)
        )

    @impl(fpq.ModulateOp)
    def run_modulate(self, interpreter: Interpreter, op: fpq.ModulateOp, args: tuple[Any, ...]):
        x, scale, shift = (np.asarray(a, np.float32) for a in args)
        return ((x * (np.float32(1) + scale) + shift).astype(np.float32),)

    @impl(fpq.ResidualOp)
    def run_residual(self, interpreter: Interpreter, op: fpq.ResidualOp, args: tuple[Any, ...]):
        x, branch, gamma = (np.asarray(a, np.float32) for a in args)
        return ((x + branch * gamma).astype(np.float32),)

    @impl(fpq.AttentionOp)
    def run_attention(self, interpreter: Interpreter, op: fpq.AttentionOp, args: tuple[Any, ...]):
        qkv, q_scale, *mask = args
        return (_attention(op, np.asarray(qkv), np.asarray(q_scale), mask[0] if mask else None),)

    @impl(fpq.QuantizeOp)
    def run_quantize(self, interpreter: Interpreter, op: fpq.QuantizeOp, args: tuple[Any, ...]):
        (x,) = args
        quant = op.quant
        axis, group = _grouping(quant, x.shape[-1])
        scales = compute_scales(x, quant.format, axis=axis, group_size=group, scale_kind=quant.scale_kind.data)
        codes = quantize(x, quant.format, scales, axis=axis, group_size=group, rounding=quant.rounding.data)
        return codes, scales

    @impl(fpq.DequantizeOp)
    def run_dequantize(self, interpreter: Interpreter, op: fpq.DequantizeOp, args: tuple[Any, ...]):
        codes, scales = args
        axis, group = _grouping(op.quant, codes.shape[-1])
        return (dequantize(codes, op.quant.format, scales, axis=axis, group_size=group),)

    @impl(fpq.QLinearOp)
    def run_qlinear(self, interpreter: Interpreter, op: fpq.QLinearOp, args: tuple[Any, ...]):
        x_codes, x_scales, w_codes, w_scales, *bias = args
        out_shape = (*x_codes.shape[:-1], w_codes.shape[0])
        k = w_codes.shape[1]
        group = op.combine_group_size()
        groups = k // group
        xc = _rows(x_codes)
        y = qlinear(
            xc,
            op.x_quant.format,
            _scales_per_group(x_scales, xc.shape[0], groups),
            w_codes,
            op.w_quant.format,
            _scales_per_group(w_scales, w_codes.shape[0], groups),
            group,
            bias[0] if bias else None,
        )
        return (y.reshape(out_shape),)

    @impl(fpq.HadamardOp)
    def run_hadamard(self, interpreter: Interpreter, op: fpq.HadamardOp, args: tuple[Any, ...]):
        x, *signs = args
        block = op.block.value.data
        if signs:
            return (ght_f32(x, signs[0], block),)
        return (fwht_f32(x, block),)

    @impl(fpq.DualQuantizeOp)
    def run_dual_quantize(self, interpreter: Interpreter, op: fpq.DualQuantizeOp, args: tuple[Any, ...]):
        (x,) = args
        dual = DualFormat(op.neg_quant.format, op.pos_quant.format)
        group = op.neg_quant.group_size_for(x.shape[-1])
        s_neg, s_pos = compute_dual_scales(x, dual, group)
        neg_codes, pos_codes = dual_quantize(x, dual, s_neg, s_pos, group, op.neg_quant.rounding.data)
        return neg_codes, pos_codes, s_neg.reshape(op.neg_scales.type.get_shape()), s_pos.reshape(
            op.pos_scales.type.get_shape()
        )

    @impl(fpq.DualQLinearOp)
    def run_dual_qlinear(self, interpreter: Interpreter, op: fpq.DualQLinearOp, args: tuple[Any, ...]):
        neg_codes, pos_codes, s_neg, s_pos, w_codes, w_scales, *bias = args
        out_shape = (*neg_codes.shape[:-1], w_codes.shape[0])
        group = op.combine_group_size()
        groups = w_codes.shape[1] // group
        nc, pc = _rows(neg_codes), _rows(pos_codes)
        y = dual_qlinear(
            nc,
            pc,
            DualFormat(op.neg_quant.format, op.pos_quant.format),
            _scales_per_group(s_neg, nc.shape[0], groups),
            _scales_per_group(s_pos, nc.shape[0], groups),
            w_codes,
            op.w_quant.format,
            _scales_per_group(w_scales, w_codes.shape[0], groups),
            group,
            bias[0] if bias else None,
        )
        return (y.reshape(out_shape),)
