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

from fpqc.numerics.block import layernorm_f32, modulate_f32, residual_f32
from fpqc.numerics.dual_format import (
    DualFormat,
    compute_dual_scales,
    dual_dequantize,
    dual_qlinear,
    dual_quantize,
    emit_dual_product_tables,
    emit_dual_tables,
)
from fpqc.numerics.c_arrays import emit_decode_table, emit_product_table, emit_quantizer_tables
from fpqc.numerics.errors import NumericsError
from fpqc.numerics.float_linear import linear_f32
from fpqc.numerics.formats import Format
from fpqc.numerics.hadamard import (
    emit_ght_signs,
    fold_weight,
    fwht_f32,
    fwht_scale,
    ght_f32,
    ght_matrix,
    hadamard_matrix,
    random_signs,
)
from fpqc.numerics.products import (
    accumulator_bits,
    combine_groups,
    group_partial_sums,
    product_table,
    product_unit,
    qlinear,
)
from fpqc.numerics.rounding import ROUNDING_MODES, QuantizerTable
from fpqc.numerics.scales import compute_scales, dequantize, expand_scales, quantize
from fpqc.numerics.transcendental import (
    ERROR_BOUNDS,
    exp_f32,
    gelu_tanh_f32,
    rsqrt_f32,
    sigmoid_f32,
    silu_f32,
    tanh_f32,
)

__all__ = [
    "DualFormat",
    "ERROR_BOUNDS",
    "Format",
    "NumericsError",
    "QuantizerTable",
    "ROUNDING_MODES",
    "accumulator_bits",
    "combine_groups",
    "compute_dual_scales",
    "compute_scales",
    "dequantize",
    "dual_dequantize",
    "dual_qlinear",
    "dual_quantize",
    "emit_decode_table",
    "emit_dual_product_tables",
    "emit_dual_tables",
    "emit_ght_signs",
    "emit_product_table",
    "emit_quantizer_tables",
    "exp_f32",
    "expand_scales",
    "fold_weight",
    "fwht_f32",
    "fwht_scale",
    "gelu_tanh_f32",
    "ght_f32",
    "ght_matrix",
    "group_partial_sums",
    "hadamard_matrix",
    "linear_f32",
    "layernorm_f32",
    "modulate_f32",
    "product_table",
    "product_unit",
    "qlinear",
    "quantize",
    "random_signs",
    "residual_f32",
    "rsqrt_f32",
    "sigmoid_f32",
    "silu_f32",
    "tanh_f32",
]
