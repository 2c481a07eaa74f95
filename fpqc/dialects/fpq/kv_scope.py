"""Which keys and values a low-bit KV cache quantizes: ``kv_scope`` of the attention ops.

With ``kv_quant`` set, ``fpq.attention`` and ``fpq.cached_attention`` take a
``kv_scope`` property:

- ``"cached"`` (the default, FPQVAR's KV6): only what comes out of the cache is
  quantized.  The queries of scale k attend to the keys and values of scales
  < k as the cache holds them (quantized) and to their own scale's keys and
  values in fp32, as the accelerator still has them on chip; the cache then
  stores scale k's keys and values quantized for the later scales.
- ``"all"``: every key and value is quantized before use, the current scale's
  too -- stricter than the paper (fpqc's earlier semantics).

Per token and head the quantized key is the same whichever step computes it,
so teacher forcing and the step program agree under both scopes.
"""

from __future__ import annotations

from enum import Enum

from xdsl.dialects.builtin import StringAttr
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.fpq.attributes import QuantAttr


class KvScope(Enum):
    """See the module docstring."""

    CACHED = "cached"
    ALL = "all"


def kv_scope(kv_quant: QuantAttr | None, attr: StringAttr | None) -> KvScope | None:
    """The scope of a KV quantization; None without one."""
    if kv_quant is None:
        return None
    return KvScope.CACHED if attr is None else KvScope(attr.data)


def check_kv_scope(op: str, kv_quant: QuantAttr | None, attr: StringAttr | None, has_scales: bool) -> None:
    """``kv_scope`` names a scope and comes with ``kv_quant``; ``cached`` (also the default) needs scales
    to tell the cache from the current scale: ``block_causal``, or the cache of ``fpq.cached_attention``."""
    if attr is not None and kv_quant is None:
        raise VerifyException(f"{op}: kv_scope without kv_quant; give both or neither")
    if attr is not None and attr.data not in [s.value for s in KvScope]:
        raise VerifyException(f"{op}: kv_scope must be one of {[s.value for s in KvScope]}, got '{attr.data}'")
    if kv_scope(kv_quant, attr) is KvScope.CACHED and not has_scales:
        raise VerifyException(
            f"{op}: a KV cache quantized with kv_scope = \"cached\" (the default) quantizes the keys of "
            "earlier scales, but this attention has no block_causal scales; set kv_scope = \"all\""
        )
