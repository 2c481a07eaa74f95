"""The interpreter's ``arith`` ops: xDSL's, with ``arith.constant`` of a scalar read straight off its attribute.

xDSL's ``run_constant`` checks the attribute against ``IntegerAttr[IndexType]`` with its generic
``isa``, about half a millisecond an op; a VAR step function has a few (the KV-cache offsets)::

    %off = arith.constant 66 : i64        ->  66
    %i = arith.constant -1 : index        ->  -1 (signed at the interpreter's index width)
    %f = arith.constant 0.5 : f32         ->  0.5
"""

from __future__ import annotations

from xdsl.dialects import arith
from xdsl.dialects.builtin import FloatAttr, IndexType, IntegerAttr
from xdsl.interpreter import Interpreter, PythonValues, impl, register_impls
from xdsl.interpreters.arith import ArithFunctions
from xdsl.utils.comparisons import to_signed


@register_impls
class FpqcArithFunctions(ArithFunctions):
    """xDSL's ``arith`` implementations; ``arith.constant`` without the generic type check."""

    @impl(arith.ConstantOp)
    def run_constant(self, interpreter: Interpreter, op: arith.ConstantOp, args: PythonValues) -> PythonValues:
        value = op.value
        if isinstance(value, IntegerAttr) and isinstance(value.type, IndexType):
            return (to_signed(value.value.data, interpreter.index_bitwidth),)
        if isinstance(value, IntegerAttr | FloatAttr):
            return (value.value.data,)
        return super().run_constant(interpreter, op, args)  # its error for any other attribute
