"""The ``fpq`` dialect: float-level model ops and their low-bit quantized forms.

- :mod:`~fpqc.dialects.fpq.types`: ``!fpq.float<e2m1>`` and ``!fpq.int<4>``,
  the element types of low-bit codes (one uint8 code per element), and the
  fp32 tensor type of float values;
- :mod:`~fpqc.dialects.fpq.attributes`: ``#fpq.quant<e2m1, group 128>``, how a
  tensor is quantized;
- :mod:`~fpqc.dialects.fpq.float_ops`: a VAR transformer's layers in fp32
  (``fpq.linear``, ``fpq.attention``, ...);
- :mod:`~fpqc.dialects.fpq.quantized_ops`: ``fpq.quantize``, ``fpq.dequantize``
  and ``fpq.qlinear`` on codes and scales;
- :mod:`~fpqc.dialects.fpq.fpqvar_ops`: FPQVAR's ``fpq.hadamard``,
  ``fpq.dual_quantize`` and ``fpq.dual_qlinear``;
- :mod:`~fpqc.dialects.fpq.step_ops`: ``fpq.cached_attention``, attention of one
  generation step against a KV cache;
- :mod:`~fpqc.dialects.fpq.role`: the ``fpq.role`` of a linear layer.

A VAR block raised (AdaLN is ``fpq.silu`` → ``fpq.linear {fpq.role = "ada_lin"}``
→ ``fpq.split``: the linear stays an ordinary linear layer for the quantizer)::

    %s = fpq.silu %cond : tensor<1x64xf32>
    %a = fpq.linear %s, %w_ada, %b_ada {fpq.role = "ada_lin"} : ... -> tensor<1x384xf32>
    %g1, %g2, %sc1, %sc2, %sh1, %sh2 = fpq.split %a : tensor<1x384xf32> -> (tensor<1x1x64xf32>, ...)
    %n1 = fpq.layernorm %x {eps = 1.000000e-06 : f32} : tensor<1x30x64xf32>
    %m1 = fpq.modulate %n1, %sc1, %sh1 : (...) -> tensor<1x30x64xf32>
    %qkv = fpq.linear %m1, %w_qkv, %b_qkv {fpq.role = "mat_qkv"} : ... -> tensor<1x30x192xf32>
    %o = fpq.attention %qkv, %q_scale {num_heads = 4 : i64, eps = 9.999999960e-13 : f32,
        block_causal = array<i64: 0, 1, 5, 14, 30>} : (...) -> tensor<1x30x64xf32>
    %p = fpq.linear %o, %w_proj, %b_proj {fpq.role = "proj"} : ...
    %x1 = fpq.residual %x, %p, %g1 : (...) -> tensor<1x30x64xf32>
    ... layernorm, modulate, fc1, gelu, fc2, residual with %g2

Quantized::

    %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, group 128>}
        : tensor<8x256xf32> -> (tensor<8x256x!fpq.float<e2m1>>, tensor<8x2xf32>)
    %y = fpq.qlinear %c, %s, %wc, %ws, %b
        {x_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>}
        : (...) -> tensor<8x64xf32>
"""

from xdsl.ir import Dialect

from fpqc.dialects.fpq.attributes import (
    Granularity,
    GranularityAttr,
    QuantAttr,
    RoundingMode,
    RoundingModeAttr,
    ScaleKind,
    ScaleKindAttr,
)
from fpqc.dialects.fpq.float_ops import (
    AttentionOp,
    ConstantOp,
    EmbeddingOp,
    GeluOp,
    LayerNormOp,
    LinearOp,
    ModulateOp,
    ResidualOp,
    SiluOp,
    SplitOp,
)
from fpqc.dialects.fpq.kv_scope import KvScope
from fpqc.dialects.fpq.fpqvar_ops import DualQLinearOp, DualQuantizeOp, HadamardOp
from fpqc.dialects.fpq.quantized_ops import DequantizeOp, QLinearOp, QuantizeOp
from fpqc.dialects.fpq.role import ROLE_ATTR, ROLES, role_of
from fpqc.dialects.fpq.shapes import drop_unit_axes
from fpqc.dialects.fpq.step_ops import CachedAttentionOp, kv_cache_types
from fpqc.dialects.fpq.types import (
    F32Tensor,
    FloatFormatType,
    IntFormatType,
    LowBitType,
    format_type,
)

Fpq = Dialect(
    "fpq",
    [
        ConstantOp,
        LinearOp,
        GeluOp,
        EmbeddingOp,
        SiluOp,
        LayerNormOp,
        SplitOp,
        ModulateOp,
        ResidualOp,
        AttentionOp,
        CachedAttentionOp,
        QuantizeOp,
        DequantizeOp,
        QLinearOp,
        HadamardOp,
        DualQuantizeOp,
        DualQLinearOp,
    ],
    [FloatFormatType, IntFormatType, QuantAttr, GranularityAttr, ScaleKindAttr, RoundingModeAttr],
)

__all__ = [
    "ROLE_ATTR",
    "AttentionOp",
    "CachedAttentionOp",
    "kv_cache_types",
    "ConstantOp",
    "DequantizeOp",
    "DualQLinearOp",
    "DualQuantizeOp",
    "EmbeddingOp",
    "F32Tensor",
    "FloatFormatType",
    "Fpq",
    "GeluOp",
    "Granularity",
    "GranularityAttr",
    "HadamardOp",
    "IntFormatType",
    "KvScope",
    "LayerNormOp",
    "LinearOp",
    "LowBitType",
    "ModulateOp",
    "QLinearOp",
    "QuantAttr",
    "QuantizeOp",
    "ResidualOp",
    "RoundingMode",
    "RoundingModeAttr",
    "ScaleKind",
    "ScaleKindAttr",
    "SiluOp",
    "SplitOp",
    "drop_unit_axes",
    "format_type",
    "role_of",
    "ROLES",
]
