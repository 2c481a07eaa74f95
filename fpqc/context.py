"""The xDSL context with every dialect fpqc uses, and IR text helpers."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from xdsl.context import Context
from xdsl.dialect_interfaces.op_asm import OpAsmDialectInterface
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.dialects.func import Func
from xdsl.ir import Dialect
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError

from fpqc.errors import FpqcError


def _fresh_builtin() -> Dialect:
    """The builtin dialect with a resource table of its own.

    xDSL's ``Builtin`` shares one table of ``dense_resource`` keys across the
    process, and its parser renames a key it has seen before (``w`` becomes
    ``w_0``); a context per parse keeps weight names stable.
    """
    return Dialect(
        "builtin", list(Builtin.operations), list(Builtin.attributes), [OpAsmDialectInterface()]
    )


def fpqc_dialects() -> list[Dialect]:
    from fpqc.dialects.fpq import Fpq
    from fpqc.dialects.hls import Hls
    from fpqc.dialects.onnx import Onnx

    return [_fresh_builtin(), Func, Onnx, Fpq, Hls]


def make_context() -> Context:
    ctx = Context()
    for dialect in fpqc_dialects():
        ctx.load_dialect(dialect)
    return ctx


def print_module(module: ModuleOp) -> str:
    out = StringIO()
    Printer(stream=out).print_op(module)
    out.write("\n")
    return out.getvalue()


def parse_module_file(path: Path) -> ModuleOp:
    try:
        text = path.read_text()
    except OSError as e:
        raise FpqcError(f"{path}: cannot read IR ({e.strerror})") from None
    try:
        module = Parser(make_context(), text, str(path)).parse_module()
    except ParseError as e:
        first = str(e).strip().splitlines()
        raise FpqcError(f"{path}: invalid IR: {first[-1] if first else e}") from None
    return module
