"""numpy implementations of the ``fpq`` ops, following :mod:`fpqc.numerics` exactly.

Quantized ops are bit-exact with the HLS C++ library: quantization, exact
group accumulation and the fp32 combination of scales are the numerics
functions themselves, computed with BLAS on exactly representable values.
Float-level ``fpq.linear`` is an ordinary fp32 matmul (it is not part of the
bit-exact contract; it is what the quantized model is measured against).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls

from fpqc.dialects import fpq
from fpqc.numerics import compute_scales, dequantize, gelu_tanh_f32, qlinear, quantize
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
