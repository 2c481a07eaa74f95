"""Interpreter implementations of the ``hls`` ops: a kernel launch runs the kernel's body.

With these, ``run_module`` executes hls-level IR (``model.hls.mlir``) with the
same fpq op implementations as before lowering, so lowering cannot change a
single bit of the interpreter's results.  A kernel's ``hls.plan`` (its
hardware plan) is a no-op.

A *launcher* replaces the body: ``HlsFunctions(launcher)`` hands every
``hls.call`` to ``launcher(call, args)`` and continues with what it returns --
how the runtime runs the same schedule on another device (the C simulation,
or the board), with the host ops still in the interpreter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xdsl.interpreter import (
    Interpreter,
    InterpreterFunctions,
    PythonValues,
    ReturnedValues,
    TerminatorValue,
    impl,
    impl_callable,
    impl_terminator,
    register_impls,
)

from fpqc.dialects import hls


Launcher = Callable[[hls.CallOp, tuple[Any, ...]], tuple[Any, ...]]
"""Runs one kernel launch on a device: ``launcher(call, args) -> results``."""


def _kernels(interpreter: Interpreter) -> dict[str, hls.KernelOp]:
    """The module's kernels by name, found once per interpreter (a symbol lookup walks the module)."""
    return interpreter.get_data(
        HlsFunctions, "kernels", lambda: {op.sym_name.data: op for op in interpreter.module.ops if isinstance(op, hls.KernelOp)}
    )


@register_impls
class HlsFunctions(InterpreterFunctions):
    def __init__(self, launcher: Launcher | None = None) -> None:
        super().__init__()
        self.launcher = launcher

    @impl(hls.CallOp)
    def run_call(self, interpreter: Interpreter, op: hls.CallOp, args: tuple[Any, ...]) -> PythonValues:
        if self.launcher is not None:
            return self.launcher(op, args)
        name = op.callee.string_value()
        kernel = _kernels(interpreter).get(name)
        return interpreter.call_op(name if kernel is None else kernel, args)  # by name: xDSL's error if none

    @impl_callable(hls.KernelOp)
    def call_kernel(self, interpreter: Interpreter, op: hls.KernelOp, args: tuple[Any, ...]) -> PythonValues:
        return interpreter.run_ssacfg_region(op.body, args, op.sym_name.data)

    @impl(hls.PlanOp)
    def run_plan(self, interpreter: Interpreter, op: hls.PlanOp, args: tuple[Any, ...]) -> PythonValues:
        return ()  # the hardware plan computes nothing

    @impl_terminator(hls.ReturnOp)
    def run_return(
        self, interpreter: Interpreter, op: hls.ReturnOp, args: tuple[Any, ...]
    ) -> tuple[TerminatorValue, PythonValues]:
        return ReturnedValues(args), ()
