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
    %o, %k1, %v1 = fpq.cached_attention %qkv, %q_scale, %k0, %v0, %offset
        {num_heads = 2 : i64, eps = 9.999999960e-13 : f32}
        : (tensor<2x9x384xf32>, tensor<2xf32>, tensor<2x30x128xf32>, tensor<2x30x128xf32>)
        -> (tensor<2x9x128xf32>, tensor<2x30x128xf32>, tensor<2x30x128xf32>)

The cache holds ``[B, L, C]`` like the ``k`` and ``v`` thirds of ``qkv``,
heads side by side; the keys are stored normalised (and, with ``kv_quant``,
both are stored quantized), so a cached key is never normalised again.  With
``kv_scope = "cached"`` (the default) the new rows attend to their own keys
and values in fp32 and to the cache's earlier rows as stored
(:mod:`fpqc.dialects.fpq.kv_scope`).  The
arithmetic is :func:`fpqc.numerics.attention.attend` on exactly the keys the
block-causal mask of ``fpq.attention`` admits, so a generation step agrees bit
for bit with the same rows of teacher forcing.
"""

from __future__ import annotations

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
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.fpq.attributes import QuantAttr
from fpqc.dialects.fpq.kv_scope import KvScope, check_kv_scope, kv_scope
from fpqc.dialects.fpq.shapes import expect_attention, expect_shape, tensor_shape
from fpqc.dialects.fpq.types import F32Tensor


@irdl_op_definition
class CachedAttentionOp(IRDLOperation):
    """VAR attention of ``n`` new tokens against a KV cache (see module docstring)."""

    name = "fpq.cached_attention"

    qkv = operand_def(F32Tensor)
    q_scale = operand_def(F32Tensor)
    k_cache = operand_def(F32Tensor)
    v_cache = operand_def(F32Tensor)
    offset = operand_def(i64)
    num_heads = prop_def(IntegerAttr)
    eps = prop_def(FloatAttr)
    kv_quant = opt_prop_def(QuantAttr)
    kv_scope = opt_prop_def(StringAttr)
    result = result_def(F32Tensor)
    new_k_cache = result_def(F32Tensor)
    new_v_cache = result_def(F32Tensor)

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    assembly_format = (
        "$qkv `,` $q_scale `,` $k_cache `,` $v_cache `,` $offset attr-dict `:` "
        "`(` type($qkv) `,` type($q_scale) `,` type($k_cache) `,` type($v_cache) `)` "
        "`->` `(` type($result) `,` type($new_k_cache) `,` type($new_v_cache) `)`"
    )

    def __init__(
        self,
        qkv: SSAValue,
        q_scale: SSAValue,
        k_cache: SSAValue,
        v_cache: SSAValue,
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
            operands=[qkv, q_scale, k_cache, v_cache, offset],
            properties=properties,
            result_types=[TensorType(Float32Type(), (b, n, c3 // 3)), k_cache.type, v_cache.type],
        )

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
        expect_shape(self.v_cache.type.get_shape(), cache, "the value cache", op)
        offset = self.constant_offset()
        if offset is not None and (offset < 0 or offset + n > cache[1]):
            raise VerifyException(
                f"{op}: rows [{offset}, {offset + n}) do not fit a cache of {cache[1]} rows"
            )
        expect_shape(self.result.type.get_shape(), (b, n, c), "result", op)
        expect_shape(self.new_k_cache.type.get_shape(), cache, "the new key cache", op)
        expect_shape(self.new_v_cache.type.get_shape(), cache, "the new value cache", op)
