"""numpy implementations of the ``fpq`` ops, following :mod:`fpqc.numerics` exactly.

Quantized ops are bit-exact with the HLS C++ library: quantization, exact
group accumulation and the fp32 combination of scales are the numerics
functions themselves, computed with BLAS on exactly representable values.
Float-level ``fpq.linear`` sums its exact float64 products left to right and
rounds once to fp32 (:mod:`fpqc.numerics.float_linear`, fast through BLAS),
so a row's result never depends on the rows computed with it.  The
other float-level ops compute in fp32 with the nonlinear functions of
:mod:`fpqc.numerics` and the reduction order their op docstrings state: every
sum along an axis runs left to right (:func:`~fpqc.numerics.attention.sum_last_f32`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls

from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.numerics.dual_format import DualFormat, compute_dual_scales, dual_qlinear, dual_quantize
from fpqc.numerics.attention import attend, attention_heads, block_causal_attend
from fpqc.numerics.block import layernorm_f32, modulate_f32, residual_f32
from fpqc.numerics.float_linear import linear_f32
from fpqc.numerics.hadamard import fwht_f32, ght_f32
from fpqc.numerics import (
    compute_scales,
    dequantize,
    gelu_tanh_f32,
    qlinear_ready,
    quantize,
    quantize_groups,
    silu_f32,
)
from fpqc.backends.interp.ready_weights import ReadyWeights
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


def _quantize(x: np.ndarray, quant: fpq.QuantAttr) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, scales)`` of ``x`` with scales computed from ``x`` along its last axis (``fpq.quantize``)."""
    axis, group = _grouping(quant, x.shape[-1])
    if axis is not None and quant.scale_kind.data == "fp32":
        return quantize_groups(x, quant.format, group, quant.rounding.data)
    scales = compute_scales(x, quant.format, axis=axis, group_size=group, scale_kind=quant.scale_kind.data)
    return quantize(x, quant.format, scales, axis=axis, group_size=group, rounding=quant.rounding.data), scales


def _dequantize(codes: np.ndarray, scales: np.ndarray, quant: fpq.QuantAttr) -> np.ndarray:
    """``decode(codes) * scales`` along the last axis (``fpq.dequantize``)."""
    axis, group = _grouping(quant, codes.shape[-1])
    return dequantize(codes, quant.format, scales, axis=axis, group_size=group)


def _fake_quantize(x: np.ndarray, quant: fpq.QuantAttr) -> np.ndarray:
    """``dequantize(quantize(x))`` with scales computed from ``x`` along its last axis."""
    return _dequantize(*_quantize(x, quant), quant)


def _heads(x: np.ndarray, heads: int) -> np.ndarray:
    """``[B, L, C]`` as ``[B, H, L, D]``."""
    b, length, c = x.shape
    return x.reshape(b, length, heads, c // heads).transpose(0, 2, 1, 3)


def _merge_heads(x: np.ndarray) -> np.ndarray:
    """``[B, H, L, D]`` as ``[B, L, H·D]``."""
    b, heads, length, d = x.shape
    return np.ascontiguousarray(x.transpose(0, 2, 1, 3)).reshape(b, length, heads * d)


def attention_keys_values(
    op: fpq.AttentionOp | fpq.CachedAttentionOp, qkv: np.ndarray, q_scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised, scaled queries and normalised keys and values, ``[B, H, L, D]`` each, in fp32."""
    return attention_heads(qkv, op.num_heads.value.data, q_scale, op.eps.value.data)


def _kv_rows(op: fpq.CachedAttentionOp, x: np.ndarray) -> list[np.ndarray]:
    """How the cache stores the head rows ``x`` ``[B, H, n, D]``: ``[x]``, or with ``kv_quant``
    ``[codes, scales]`` (the scales ``[B, H, n, D/G]``)."""
    return [x] if op.kv_quant is None else list(_quantize(x, op.kv_quant))


def _kv_values(op: fpq.CachedAttentionOp, rows: list[np.ndarray]) -> np.ndarray:
    """The fp32 head rows a cache's ``rows`` (:func:`_kv_rows`) stand for."""
    if op.kv_quant is None:
        return np.asarray(rows[0], np.float32)
    return _dequantize(*rows, op.kv_quant)


def _kv_quantized(op: fpq.AttentionOp, k: np.ndarray, v: np.ndarray):
    """Keys and values as the op's low-bit KV cache holds them (unchanged without ``kv_quant``)."""
    if op.kv_quant is None:
        return k, v
    return _fake_quantize(k, op.kv_quant), _fake_quantize(v, op.kv_quant)


def _attention(op: fpq.AttentionOp, qkv: np.ndarray, q_scale: np.ndarray, mask: np.ndarray | None):
    q, k, v = attention_keys_values(op, qkv, q_scale)
    bounds = op.boundaries()
    if op.scope() is fpq.KvScope.CACHED:
        assert bounds is not None  # the verifier's
        return _merge_heads(block_causal_attend(q, k, v, bounds, cached=_kv_quantized(op, k, v)))
    k, v = _kv_quantized(op, k, v)
    if bounds is not None:
        out = block_causal_attend(q, k, v, bounds)
    else:
        out = attend(q, k, v, mask)
    return _merge_heads(out)


@register_impls
class FpqFunctions(InterpreterFunctions):
    def __init__(self, ready: ReadyWeights | None = None) -> None:
        super().__init__()
        self.ready = ready if ready is not None else ReadyWeights()

    @impl(fpq.ConstantOp)
    def run_constant(self, interpreter: Interpreter, op: fpq.ConstantOp, args: tuple[Any, ...]):
        return (resolve(op.value),)

    @impl(fpq.LinearOp)
    def run_linear(self, interpreter: Interpreter, op: fpq.LinearOp, args: tuple[Any, ...]):
        x, w, *bias = args
        return (linear_f32(x, w, bias[0] if bias else None),)

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
        return (layernorm_f32(args[0], op.eps.value.data),)

    @impl(fpq.SplitOp)
    def run_split(self, interpreter: Interpreter, op: fpq.SplitOp, args: tuple[Any, ...]):
        chunks = np.split(np.asarray(args[0], np.float32), len(op.outputs), axis=-1)
        return tuple(
            chunk.reshape(out.type.get_shape()) for chunk, out in zip(chunks, op.outputs, strict=True)
        )

    @impl(fpq.ModulateOp)
    def run_modulate(self, interpreter: Interpreter, op: fpq.ModulateOp, args: tuple[Any, ...]):
        x, scale, shift = args
        return (modulate_f32(x, scale, shift),)

    @impl(fpq.ResidualOp)
    def run_residual(self, interpreter: Interpreter, op: fpq.ResidualOp, args: tuple[Any, ...]):
        x, branch, gamma = args
        return (residual_f32(x, branch, gamma),)

    @impl(fpq.AttentionOp)
    def run_attention(self, interpreter: Interpreter, op: fpq.AttentionOp, args: tuple[Any, ...]):
        qkv, q_scale, *mask = args
        return (_attention(op, np.asarray(qkv), np.asarray(q_scale), mask[0] if mask else None),)

    @impl(fpq.CachedAttentionOp)
    def run_cached_attention(self, interpreter: Interpreter, op: fpq.CachedAttentionOp, args: tuple[Any, ...]):
        qkv, q_scale, *caches, offset = args
        q, k, v = attention_keys_values(op, qkv, q_scale)
        begin = int(offset)
        end = begin + qkv.shape[1]
        if begin < 0 or end > caches[0].shape[1]:
            raise FpqcError(f"fpq.cached_attention: rows [{begin}, {end}) do not fit a cache of {caches[0].shape[1]} rows")
        heads = op.num_heads.value.data
        half = len(caches) // 2
        new_rows = [_kv_rows(op, k), _kv_rows(op, v)]  # per cache: what its rows [begin, end) become
        if op.scope() is not fpq.KvScope.CACHED:
            k, v = (_kv_values(op, rows) for rows in new_rows)
        earlier = [_kv_values(op, [_heads(np.asarray(c)[:, :begin], heads) for c in cache])
                   for cache in (caches[:half], caches[half:])]
        out = attend(q, np.concatenate([earlier[0], k], axis=2), np.concatenate([earlier[1], v], axis=2))
        new_caches = []
        for cache, rows in zip((caches[:half], caches[half:]), new_rows):
            for old, new in zip(cache, rows):
                updated = np.array(old, copy=True)
                updated[:, begin:end] = _merge_heads(new)
                new_caches.append(updated)
        return (_merge_heads(out), *new_caches)

    @impl(fpq.QuantizeOp)
    def run_quantize(self, interpreter: Interpreter, op: fpq.QuantizeOp, args: tuple[Any, ...]):
        (x,) = args
        return _quantize(x, op.quant)

    @impl(fpq.DequantizeOp)
    def run_dequantize(self, interpreter: Interpreter, op: fpq.DequantizeOp, args: tuple[Any, ...]):
        codes, scales = args
        return (_dequantize(codes, scales, op.quant),)

    @impl(fpq.QLinearOp)
    def run_qlinear(self, interpreter: Interpreter, op: fpq.QLinearOp, args: tuple[Any, ...]):
        x_codes, x_scales, w_codes, w_scales, *bias = args
        out_shape = (*x_codes.shape[:-1], w_codes.shape[0])
        k = w_codes.shape[1]
        group = op.combine_group_size()
        groups = k // group
        xc = _rows(x_codes)
        weight = self.ready.get(op.x_quant.format, w_codes, op.w_quant.format, w_scales, group)
        y = qlinear_ready(xc, _scales_per_group(x_scales, xc.shape[0], groups), weight, bias[0] if bias else None)
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
        # Scales keep the input's leading axes (a kernel may run on fewer rows than its types say).
        scales_shape = (*x.shape[:-1], op.neg_scales.type.get_shape()[-1])
        return neg_codes, pos_codes, s_neg.reshape(scales_shape), s_pos.reshape(scales_shape)

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
