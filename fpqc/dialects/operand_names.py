"""The name of each operand of an op, in order: what a kernel argument or a plan buffer is named after.

An operand's IRDL name (``input_codes``, ``bias``); the operands of a variadic
operand take the names the op gives them (``<operand>_names()``, as
``fpq.cached_attention``'s ``caches``: ``k_cache, k_scales, v_cache,
v_scales``), or else the operand's name each.
"""

from __future__ import annotations

from xdsl.ir import Operation, SSAValue


def operand_names(op: Operation) -> list[str]:
    names: list[str] = []
    for name, _ in type(op).get_irdl_definition().operands:
        operands = getattr(op, name)
        if isinstance(operands, SSAValue):
            names.append(name)
        elif operands is not None:
            own = getattr(op, f"{name}_names", None)
            names += own() if own is not None else [name] * len(operands)
    return names
