"""The interpreter drops each intermediate once no later op reads it (fpqc/backends/interp/liveness.py)."""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import Interpreter
from xdsl.ir import Operation
from xdsl.parser import Parser

from fpqc.backends.interp.liveness import last_readers
from fpqc.backends.interp.runner import make_interpreter
from fpqc.context import make_context
from fpqc.numerics import gelu_tanh_f32

TEXT = """
func.func @main(%x: tensor<2x3xf32> {onnx.name = "x"}) -> (tensor<2x3xf32> {onnx.name = "y"}) {
  %a = fpq.gelu %x : tensor<2x3xf32>
  %b = fpq.gelu %a : tensor<2x3xf32>
  %c = fpq.gelu %b : tensor<2x3xf32>
  %d = fpq.gelu %a : tensor<2x3xf32>
  %y = onnx.Add %c, %d : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
"""


class _Held(Interpreter.Listener):
    """Before each op, which of the block's values the interpreter still holds."""

    def __init__(self) -> None:
        self.interpreter: Interpreter | None = None
        self.held: list[list[str]] = []

    def will_interpret_op(self, op: Operation, inputs) -> None:
        assert self.interpreter is not None
        values = self.interpreter._ctx.local_scope  # noqa: SLF001
        self.held.append(sorted(v.name_hint or "?" for v in values))


def _module():
    module = Parser(make_context(), TEXT).parse_module()
    module.verify()
    return module


def test_a_value_is_dropped_after_its_last_reader():
    module = _module()
    held = _Held()
    interpreter = make_interpreter(module, (held,))
    held.interpreter = interpreter
    x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    (y,) = interpreter.call_op("main", (x,))
    # %x dies at the first gelu, %a at the fourth (its second reader), %b at the third, %c and %d at the add.
    assert held.held == [["x"], ["a"], ["a", "b"], ["a", "c"], ["c", "d"], ["y"]]
    a = gelu_tanh_f32(x)
    assert np.array_equal(y, gelu_tanh_f32(gelu_tanh_f32(a)) + gelu_tanh_f32(a))


def test_last_readers_names_each_values_last_reader():
    module = _module()
    block = next(iter(module.ops)).body.block
    ops = list(block.ops)
    dead = {op.name + str(ops.index(op)): sorted(v.name_hint for v in values) for op, values in last_readers(block).items()}
    assert dead == {"fpq.gelu0": ["x"], "fpq.gelu2": ["b"], "fpq.gelu3": ["a"], "onnx.Add4": ["c", "d"],
                    "func.return5": ["y"]}

