"""``FpqcPrinter``: xDSL's printer, printing each distinct type once.

A module of VAR-d16 prints about 40,000 types (every value's ``tensor<1x680x1024xf32>``),
most of them equal; xDSL's printer builds each one's text anew, a string and a
``print()`` call per dimension.  A type's text depends on nothing but the type (it
names no SSA value, block or resource), so this printer keeps each type's text and
writes it again when the type recurs, and writes text without newlines straight to
the stream.  Its output is xDSL's, byte for byte (``tests/unit/compiler/test_printer.py``
compares the two on every stage of a compile).  :func:`print_module` prints with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import StringIO

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Attribute, TypeAttribute
from xdsl.printer import Printer


@dataclass(eq=False, repr=False)
class FpqcPrinter(Printer):
    """A ``Printer`` that prints each distinct type attribute's text once and reuses it."""

    _type_texts: dict[Attribute, str] = field(default_factory=dict[Attribute, str], init=False)
    """each type printed so far (by value) and its text"""
    _seen_types: dict[int, tuple[Attribute, str]] = field(
        default_factory=dict[int, tuple[Attribute, str]], init=False
    )
    """the same by object identity, holding the type so that its id stays its own: no hashing of
    a type object met before"""

    def print_string(self, text: str, *, indent: int | None = None) -> None:
        if "\n" in text:
            super().print_string(text, indent=indent)
            return
        self._current_column += len(text)
        self.stream.write(text)

    def print_attribute(self, attribute: Attribute) -> None:
        if not isinstance(attribute, TypeAttribute):
            super().print_attribute(attribute)
            return
        seen = self._seen_types.get(id(attribute))
        if seen is None:
            text = self._type_texts.get(attribute)
            if text is None:
                out = StringIO()
                Printer(stream=out).print_attribute(attribute)
                text = self._type_texts[attribute] = out.getvalue()
            seen = self._seen_types[id(attribute)] = (attribute, text)
        self.print_string(seen[1])


def print_module(module: ModuleOp) -> str:
    """``module``'s text as xDSL prints it (by ``FpqcPrinter``, faster), with a final newline."""
    out = StringIO()
    FpqcPrinter(stream=out).print_op(module)
    out.write("\n")
    return out.getvalue()
