"""Drop each intermediate from the interpreter as soon as no later op reads it.

xDSL's interpreter keeps every value of a function until the function returns,
so a VAR forward would hold every block's activations, attention scores and
weights at once.  :class:`DropDeadValues` is an interpreter listener: after
an op has run it forgets each operand this op was the last reader of (in
the op's block), so a value's memory goes back as soon as it is dead::

    %h = fpq.linear %x, %w, %b ...      # after this op: %w dropped (no later reader)
    %y = fpq.gelu %h                     # after this op: %h dropped
    func.return %y

Only the interpreter's own reference is dropped: a function's caller keeps
its arguments, and a listener that records values (calibration, verify)
keeps its own references.
"""

from __future__ import annotations

from xdsl.interpreter import Interpreter, PythonValues
from xdsl.ir import Block, Operation, SSAValue


def last_readers(block: Block) -> dict[Operation, list[SSAValue]]:
    """For each op of ``block``, the values it is the last op of the block to read."""
    last: dict[SSAValue, Operation] = {}
    for op in block.ops:
        for operand in op.operands:
            last[operand] = op
    dead: dict[Operation, list[SSAValue]] = {}
    for value, op in last.items():
        dead.setdefault(op, []).append(value)
    return dead


class DropDeadValues(Interpreter.Listener):
    """Forget an op's dead operands once it has run (see module docstring)."""

    def __init__(self) -> None:
        self.interpreter: Interpreter | None = None
        self._dead: dict[Block, dict[Operation, list[SSAValue]]] = {}

    def attach(self, interpreter: Interpreter) -> None:
        self.interpreter = interpreter

    def did_interpret_op(self, op: Operation, results: PythonValues) -> None:
        block = op.parent_block()
        if block is None or self.interpreter is None:
            return
        dead = self._dead.get(block)
        if dead is None:
            dead = self._dead[block] = last_readers(block)
        values = self.interpreter._ctx._local_scope  # noqa: SLF001 -- the running block's values (xdsl pinned)
        for value in dead.get(op, ()):
            values.pop(value, None)
