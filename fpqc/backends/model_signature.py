"""The signature of a compiled model: its ``@main`` function and the ONNX names of its arguments and results.

``@main`` carries the names of the ONNX model's inputs and outputs as ``onnx.name``
argument and result attributes; an unnamed argument ``i`` is ``arg{i}``, an
unnamed result ``result{i}``::

    func.func @main(%arg0: tensor<8x64xf32> {onnx.name = "x"})
        -> (tensor<8x64xf32> {onnx.name = "y"})
"""

from __future__ import annotations

from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp

from fpqc.errors import FpqcError


def main_function(module: ModuleOp) -> FuncOp:
    """The ``func.func @main`` of ``module``."""
    for op in module.ops:
        if isinstance(op, FuncOp) and op.sym_name.data == "main":
            return op
    raise FpqcError("the module has no func.func @main (the model's entry); run fpqc compile")


def _onnx_names(attrs: ArrayAttr[DictionaryAttr] | None, count: int, default: str) -> list[str]:
    names = []
    for i in range(count):
        name = attrs.data[i].data.get("onnx.name") if attrs is not None else None
        names.append(name.data if isinstance(name, StringAttr) else f"{default}{i}")
    return names


def input_names(main: FuncOp) -> list[str]:
    """The ONNX name of each argument of ``main``, in order."""
    return _onnx_names(main.arg_attrs, len(main.function_type.inputs.data), "arg")


def output_names(main: FuncOp) -> list[str]:
    """The ONNX name of each result of ``main``, in order."""
    return _onnx_names(main.res_attrs, len(main.function_type.outputs.data), "result")
