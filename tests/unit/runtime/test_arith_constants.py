"""The interpreter's ``arith.constant``: scalars read off their attribute, as xDSL's own implementation reads them."""

from __future__ import annotations

from xdsl.interpreter import Interpreter
from xdsl.interpreters.arith import ArithFunctions
from xdsl.interpreters.func import FuncFunctions
from xdsl.parser import Parser

from fpqc.backends.interp.runner import run_function
from fpqc.context import make_context

MODULE = """
func.func @constants() -> (i64, index, index, f32, i1) {
  %a = arith.constant 66 : i64
  %b = arith.constant -1 : index
  %c = arith.constant 7 : index
  %d = arith.constant 0.5 : f32
  %e = arith.constant true
  func.return %a, %b, %c, %d, %e : i64, index, index, f32, i1
}
"""


def test_scalar_constants_are_xdsls_values() -> None:
    module = Parser(make_context(), MODULE).parse_module()
    got = run_function(module, "constants", ())
    reference = Interpreter(module)
    reference.register_implementations(FuncFunctions())
    reference.register_implementations(ArithFunctions())
    assert [v.item() for v in got] == list(reference.call_op("constants", ())) == [66, -1, 7, 0.5, -1]
