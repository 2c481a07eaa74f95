"""The ``fpq`` ops of the per-scale step program: attention against a KV cache.

Generation runs VAR one scale at a time.  Step k computes only the ``n`` new
tokens of scale k; their attention reads the keys and values of the earlier
scales from a cache, which is state carried from step to step (on the FPGA, a
buffer in device memory).  ``fpq.cached_attention`` is ``fpq.attention`` for
those ``n`` rows: it writes the new normalised keys and values into the cache
at rows ``[offset, offset + n)`` and attends to the cache's rows
``[0, offset + n)``.  The offset is a run-time ``i64`` operand (on the FPGA, a
control register), so one kernel serves every scale::

    %offset = arith.constant 5 : i64
    %o, %k1, %v1 = fpq.cached_attention %qkv, %q_scale, cache(%k0, %v0), %offset
        {num_heads = 2 : i64, eps = 9.999999960e-13 : f32}
        : (tensor<2x9x384xf32>, tensor<2xf32>, tensor<2x30x128xf32>, tensor<2x30x128xf32>, i64)
        -> (tensor<2x9x128xf32>, tensor<2x30x128xf32>, tensor<2x30x128xf32>)

The cache holds ``[B, L, C]`` like the ``k`` and ``v`` thirds of ``qkv``,
heads side by side; the keys are stored normalised, so a cached key is never
normalised again.  With ``kv_quant`` (FPQVAR's 6-bit KV cache) the cache is
stored as what the quantizer makes of each head row: low-bit codes
``[B, L, C]`` and their fp32 scales ``[B, L, H·D/G]`` (G channels a scale:
the head dim D for ``token``), four cache operands ``cache(%k_codes,
%k_scales, %v_codes, %v_scales)``; a cached row is read back as
``decode(code) * scale``::

    %o, %kc1, %ks1, %vc1, %vs1 = fpq.cached_attention %qkv, %q_scale, cache(%kc, %ks, %vc, %vs), %offset
        {num_heads = 2 : i64, eps = 9.999999960e-13 : f32, kv_quant = #fpq.quant<e2m3, token>}
        : (tensor<2x9x384xf32>, tensor<2xf32>, tensor<2x30x128x!fpq.float<e2m3>>, tensor<2x30x2xf32>,
           tensor<2x30x128x!fpq.float<e2m3>>, tensor<2x30x2xf32>, i64) -> (...)

With ``kv_scope = "cached"`` (the default) the new rows attend to their own
keys and values in fp32 and to the cache's earlier rows as stored
(:mod:`fpqc.dialects.fpq.kv_scope`).  The
arithmetic is :func:`fpqc.numerics.attention.attend` on exactly the keys the
block-causal mask of ``fpq.attention`` admits, so a generation step agrees bit
for bit with the same rows of teacher forcing.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.arith import ConstantOp as ArithConstantOp
from xdsl.dialects.builtin import Float32Type, FloatAttr, IntegerAttr, StringAttr, TensorType, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.fpq.attributes import QuantAttr
from fpqc.dialects.fpq.kv_scope import KvScope, check_kv_scope, kv_scope
from fpqc.dialects.fpq.shapes import expect_attention, expect_shape, tensor_shape
from fpqc.dialects.fpq.types import F32Tensor


def kv_cache_types(kv_quant: QuantAttr | None, heads: int, shape: Sequence[int]) -> list[TensorType] | None:
    """The types one cache (the keys, or the values) ``[B, L, C]`` of ``heads`` heads is stored in: fp32
    values, or with ``kv_quant`` its codes and a scale per group of a head row ``[B, L, C/G]``.  None for a
    per-tensor ``kv_quant``: a cache holds the rows of several steps, each quantized with its own scales."""
    if kv_quant is None:
        return [TensorType(Float32Type(), shape)]
    group = kv_quant.group_size_for(shape[2] // heads)
    if group is None:
        return None
    return [TensorType(kv_quant.element, shape), TensorType(Float32Type(), (shape[0], shape[1], shape[2] // group))]


@irdl_op_definition
class CachedAttentionOp(IRDLOperation):
    """VAR attention of ``n`` new tokens against a KV cache (see module docstring)."""

    name = "fpq.cached_attention"

    qkv = operand_def(F32Tensor)
    q_scale = operand_def(F32Tensor)
    caches = var_operand_def(TensorType)
    offset = operand_def(i64)
    num_heads = prop_def(IntegerAttr)
    eps = prop_def(FloatAttr)
    kv_quant = opt_prop_def(QuantAttr)
    kv_scope = opt_prop_def(StringAttr)
    result = result_def(F32Tensor)
    new_caches = var_result_def(TensorType)

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    assembly_format = (
        "$qkv `,` $q_scale `,` `cache` `(` $caches `)` `,` $offset attr-dict `:` functional-type(operands, results)"
    )

    def __init__(
        self,
        qkv: SSAValue,
        q_scale: SSAValue,
        caches: Sequence[SSAValue],
        offset: SSAValue,
        num_heads: int,
        eps: float,
        kv_quant: QuantAttr | None = None,
        kv_scope: StringAttr | None = None,
    ):
        b, n, c3 = tensor_shape(qkv, "qkv", self.name)
        properties = {
            "num_heads": IntegerAttr(num_heads, i64),
            "eps": FloatAttr(eps, Float32Type()),
        }
        if kv_quant is not None:
            properties["kv_quant"] = kv_quant
        if kv_scope is not None:
            properties["kv_scope"] = kv_scope
        super().__init__(
            operands=[qkv, q_scale, caches, offset],
            properties=properties,
            result_types=[TensorType(Float32Type(), (b, n, c3 // 3)), [c.type for c in caches]],
        )

    @property
    def stores_codes(self) -> bool:
        """Whether the cache is low-bit codes with scales (``kv_quant``) rather than fp32 values."""
        return len(self.caches) == 4

    @property
    def k_cache(self) -> SSAValue:
        """The keys: fp32 values, or their codes."""
        return self.caches[0]

    @property
    def v_cache(self) -> SSAValue:
        """The values: fp32 values, or their codes."""
        return self.caches[len(self.caches) // 2]

    @property
    def k_scales(self) -> SSAValue | None:
        return self.caches[1] if self.stores_codes else None

    @property
    def v_scales(self) -> SSAValue | None:
        return self.caches[3] if self.stores_codes else None

    def caches_names(self) -> list[str]:
        """The role of each cache operand (:mod:`fpqc.dialects.operand_names`)."""
        if self.stores_codes:
            return ["k_cache", "k_scales", "v_cache", "v_scales"]
        return ["k_cache", "v_cache"]

    def updated_cache(self, result: SSAValue) -> SSAValue | None:
        """The cache operand that ``result`` is the new state of; None for the attention's output."""
        for new, old in zip(self.new_caches, self.caches):
            if new == result:
                return old
        return None

    def scope(self) -> KvScope | None:
        """Which keys and values ``kv_quant`` quantizes; None without it."""
        return kv_scope(self.kv_quant, self.kv_scope)

    def constant_offset(self) -> int | None:
        """The offset when an ``arith.constant`` defines it (in a step function), else None (in a kernel)."""
        owner = self.offset.owner
        if isinstance(owner, ArithConstantOp) and isinstance(owner.value, IntegerAttr):
            return owner.value.value.data
        return None

    def verify_(self) -> None:
        op = self.name
        b, n, c = expect_attention(
            op, self.qkv.type.get_shape(), self.q_scale.type.get_shape(), self.num_heads.value.data,
            self.eps.value.data, self.kv_quant, "n",
        )
        check_kv_scope(op, self.kv_quant, self.kv_scope, has_scales=True)
        cache = self.k_cache.type.get_shape()
        if len(cache) != 3 or cache[0] != b or cache[2] != c:
            raise VerifyException(f"{op}: the key cache must be [B, L, C] = [{b}, L, {c}], got {list(cache)}")
        stored = kv_cache_types(self.kv_quant, self.num_heads.value.data, cache)
        if stored is None:
            raise VerifyException(
                f"{op}: a KV cache stores rows of different steps, each with its own scales; kv_quant needs "
                "scales per token or group, not per tensor"
            )
        if self.kv_quant is None:
            if len(self.caches) != 2 or self.k_cache.type != stored[0]:
                raise VerifyException(f"{op}: without kv_quant the cache is cache(%keys, %values), fp32 [B, L, C] each")
        elif len(self.caches) != 4:
            raise VerifyException(f"{op}: with kv_quant the cache is cache(%k_codes, %k_scales, %v_codes, %v_scales)")
        elif [self.caches[0].type, self.caches[1].type] != stored:
            raise VerifyException(
                f"{op}: with kv_quant = {self.kv_quant} the cache is codes {stored[0]} and scales {stored[1]}, got "
                f"{self.caches[0].type} and {self.caches[1].type}"
            )
        if [c.type for c in self.caches] != stored * 2:
            raise VerifyException(f"{op}: the key and value caches must have the same types")
        offset = self.constant_offset()
        if offset is not None and (offset < 0 or offset + n > cache[1]):
            raise VerifyException(
                f"{op}: rows [{offset}, {offset + n}) do not fit a cache of {cache[1]} rows"
            )
        expect_shape(self.result.type.get_shape(), (b, n, c), "result", op)
        if [r.type for r in self.new_caches] != [c.type for c in self.caches]:
            raise VerifyException(f"{op}: the new cache state must have the cache's types")
