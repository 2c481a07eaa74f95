"""The xDSL context with every dialect fpqc uses, and IR text helpers."""

from __future__ import annotations

from pathlib import Path

from xdsl.context import Context
from xdsl.dialect_interfaces.op_asm import OpAsmDialectInterface
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.dialects.func import Func
from xdsl.ir import Dialect
from xdsl.parser import Parser
from xdsl.utils.exceptions import ParseError

from fpqc.errors import FpqcError
from fpqc.printer import print_module  # noqa: F401 -- the callers' spelling


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
    from xdsl.dialects.arith import Arith

    from fpqc.dialects.fpq import Fpq
    from fpqc.dialects.hls import Hls
    from fpqc.dialects.onnx import Onnx

    return [_fresh_builtin(), Func, Arith, Onnx, Fpq, Hls]


def make_context() -> Context:
    ctx = Context()
    for dialect in fpqc_dialects():
        ctx.load_dialect(dialect)
    return ctx


_ESCAPES = set('"nt\\')
_HEX = set("0123456789abcdefABCDEF")


def string_literal_problem(text: str) -> str | None:
    """``line L: ...`` for a string literal xDSL's lexer cannot end, else None.

    MLIR string literals (outside ``//`` comments) stay on one line and allow the escapes ``\\"``, ``\\n``,
    ``\\t``, ``\\\\`` and two hex digits.  xDSL lexes them with a regular expression
    that backtracks exponentially on an unterminated literal or a bad escape, so
    such text is refused before it reaches the lexer.
    """
    line, i, in_string = 1, 0, False
    while i < len(text):
        c = text[i]
        if c == "\n":
            if in_string:
                return f"line {line}: a string literal is not closed before the end of the line"
            line += 1
        elif in_string and c in "\v\f":
            return f"line {line}: a string literal holds a vertical tab or form feed"
        elif in_string and c == "\\":
            follows = text[i + 1 : i + 3]
            if follows[:1] in _ESCAPES:
                i += 1
            elif len(follows) == 2 and set(follows) <= _HEX:
                i += 2
            else:
                return f"line {line}: a string literal holds an invalid escape '\\{follows[:1]}'"
        elif c == '"':
            in_string = not in_string
        elif c == "/" and text.startswith("//", i):  # a comment runs to the end of the line
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        i += 1
    return f"line {line}: a string literal is not closed before the end of the input" if in_string else None


def parse_error_line(error: ParseError) -> str:
    """``line L:C: message`` of an xDSL parse error (its source line and caret left out)."""
    lines = [line.strip() for line in str(error).splitlines()]
    words = [line for line in lines if any(c.isalpha() for c in line)]
    message = words[-1] if words else "unexpected end of input"
    where = error.span.get_location() if getattr(error, "span", None) is not None else None
    return f"line {where.line}:{where.col}: {message}" if where is not None else message


def parse_module_file(path: Path) -> ModuleOp:
    try:
        text = path.read_text()
    except OSError as e:
        raise FpqcError(f"{path}: cannot read IR ({e.strerror})") from None
    if (problem := string_literal_problem(text)) is not None:
        raise FpqcError(f"{path}: invalid IR: {problem}")
    try:
        module = Parser(make_context(), text, str(path)).parse_module()
    except ParseError as e:
        raise FpqcError(f"{path}: invalid IR: {parse_error_line(e)}") from None
    return module
