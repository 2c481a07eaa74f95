"""fpqc's numbers: THE bit-level specification of every value fpqc computes.

One concept per module, each docstring the contract for its part:

``formats``         low-bit formats: code layout, values, encode/decode
``rounding``        rounding modes and the LUT quantizer algorithm
``scales``          group scales, quantize / dequantize
``products``        exact products, exact group sums, the group-combination order
``transcendental``  float32 exp, tanh, sigmoid, silu, gelu (tanh), rsqrt without libm
``block``           a block's fp32 layernorm, AdaLN modulation and gated residual, in a fixed order
``float_linear``    the float-level linear layer: exact float64 products summed left to right
``attention``       attention's fp32 scores, softmax and weighted sums, every sum left to right
``ordered_loops``   the fixed-order sums as loops compiled by numba (the contract's order, fast)
``c_arrays``        the same tables as C++ source for the HLS backend
``errors``          NumericsError, the one exception these modules raise

The C++ twin is ``fpqc/backends/hls/include/fpqc_numerics.h``; the tests in
``tests/unit/numerics`` prove the two agree bit for bit, and check both against
independent oracles (``ml_dtypes``, the QONNX FloatQuant formula, float64 math).

Every bit of every result is fixed, except a NaN's sign and payload: IEEE 754
leaves them open and compilers change them by commuting an addition, so a NaN
matches any NaN (``fpqc verify`` compares every NaN as the one quiet NaN).
"""

from __future__ import annotations

import importlib

# Each name and the module that defines it.  A name is imported on first use (PEP 562), so that
# ``from fpqc.numerics import Format`` does not import numba, which only the compiled loops
# (``ordered_loops``, ``transcendental``) need and which takes most of a second to start.
_EXPORTS = {
    "accumulator_bits": "products",
    "combine_groups": "products",
    "compute_dual_scales": "dual_format",
    "compute_scales": "scales",
    "dequantize": "scales",
    "dual_dequantize": "dual_format",
    "dual_qlinear": "dual_format",
    "dual_quantize": "dual_format",
    "DualFormat": "dual_format",
    "emit_decode_table": "c_arrays",
    "emit_dual_product_tables": "dual_format",
    "emit_dual_tables": "dual_format",
    "emit_ght_signs": "hadamard",
    "emit_product_table": "c_arrays",
    "emit_quantizer_tables": "c_arrays",
    "ERROR_BOUNDS": "transcendental",
    "exp_f32": "transcendental",
    "expand_scales": "scales",
    "fold_weight": "hadamard",
    "Format": "formats",
    "fwht_f32": "hadamard",
    "fwht_scale": "hadamard",
    "gelu_tanh_f32": "transcendental",
    "ght_f32": "hadamard",
    "ght_matrix": "hadamard",
    "group_partial_sums": "products",
    "max_abs_units": "products",
    "hadamard_matrix": "hadamard",
    "layernorm_f32": "block",
    "linear_f32": "float_linear",
    "modulate_f32": "block",
    "NumericsError": "errors",
    "product_table": "products",
    "product_unit": "products",
    "qlinear": "products",
    "qlinear_ready": "products",
    "qlinear_weight": "products",
    "QLinearWeight": "products",
    "quantize": "scales",
    "quantize_groups": "scales",
    "QuantizerTable": "rounding",
    "random_signs": "hadamard",
    "residual_f32": "block",
    "ROUNDING_MODES": "rounding",
    "rsqrt_f32": "transcendental",
    "sigmoid_f32": "transcendental",
    "silu_f32": "transcendental",
    "tanh_f32": "transcendental",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fpqc.numerics' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"fpqc.numerics.{module}"), name)
    globals()[name] = value
    return value


__all__ = list(_EXPORTS)
