"""Run a module's ``@main`` in xDSL's interpreter on numpy arrays.

Inputs and outputs are keyed by the ``onnx.name`` attributes of ``@main``'s
arguments and results (the names of the ONNX model's inputs and outputs)::

    func.func @main(%arg0: tensor<8x64xf32> {onnx.name = "x"})
        -> (tensor<8x64xf32> {onnx.name = "y"})

    outputs = run_module(module, {"x": x}, store)   # {"y": array}

Each dialect contributes one ``InterpreterFunctions`` class; adding a dialect
to the interpreter is one entry in :data:`INTERPRETER_FUNCTIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr, TensorType
from xdsl.dialects.func import FuncOp
from xdsl.interpreter import Interpreter, InterpreterFunctions
from xdsl.interpreters.func import FuncFunctions

from fpqc.backends.interp.fpq_ops import FpqFunctions
from fpqc.backends.interp.hls_ops import HlsFunctions
from fpqc.backends.interp.onnx_ops import OnnxFunctions
from fpqc.errors import FpqcError
from fpqc.dialects.tensor_types import element_type_to_dtype
from fpqc.weights import WeightStore

INTERPRETER_FUNCTIONS: tuple[type[InterpreterFunctions], ...] = (
    FuncFunctions,
    OnnxFunctions,
    FpqFunctions,
    HlsFunctions,
)
"""The implementations the interpreter registers, one class per dialect."""


def _names(attrs: ArrayAttr[DictionaryAttr] | None, count: int, default: str) -> list[str]:
    """The ``onnx.name`` of each argument or result (``{default}{i}`` when absent)."""
    names = []
    for i in range(count):
        name = attrs.data[i].data.get("onnx.name") if attrs is not None else None
        names.append(name.data if isinstance(name, StringAttr) else f"{default}{i}")
    return names


def _main(module: ModuleOp) -> FuncOp:
    for op in module.ops:
        if isinstance(op, FuncOp) and op.sym_name.data == "main":
            return op
    raise FpqcError("the module has no func.func @main to run")


def model_input_names(module: ModuleOp) -> list[str]:
    """The ``onnx.name`` of each argument of ``@main``, in order."""
    main = _main(module)
    return _names(main.arg_attrs, len(main.function_type.inputs.data), "arg")


def _check_input(name: str, value: np.ndarray, expected: TensorType) -> np.ndarray:
    shape = expected.get_shape()
    dtype = element_type_to_dtype(expected.get_element_type())
    value = np.asarray(value)
    if value.shape != shape or value.dtype != dtype:
        raise FpqcError(
            f"input '{name}' has shape {list(value.shape)} and dtype {value.dtype}; "
            f"the model expects shape {list(shape)} and dtype {dtype}"
        )
    return value


def run_module(
    module: ModuleOp,
    inputs: Mapping[str, np.ndarray],
    store: WeightStore | None = None,
    listeners: tuple[Interpreter.Listener, ...] = (),
) -> dict[str, np.ndarray]:
    """Run ``@main`` on ``inputs``; return its results by name (see module docstring).

    ``listeners`` observe every op the interpreter runs (e.g. to record intermediates).
    """
    main = _main(module)
    arg_types = main.function_type.inputs.data
    arg_names = _names(main.arg_attrs, len(arg_types), "arg")
    result_names = _names(main.res_attrs, len(main.function_type.outputs.data), "result")
    args = []
    for name, arg_type in zip(arg_names, arg_types, strict=True):
        assert isinstance(arg_type, TensorType)
        if name not in inputs:
            raise FpqcError(
                f"missing input '{name}' (shape {list(arg_type.get_shape())}); "
                f"the model's inputs are {', '.join(arg_names)}"
            )
        args.append(_check_input(name, inputs[name], arg_type))
    unknown = sorted(set(inputs) - set(arg_names))
    if unknown:
        raise FpqcError(f"unknown input {', '.join(map(repr, unknown))}; the model's inputs are {', '.join(arg_names)}")

    interpreter = Interpreter(module, listeners=listeners)
    for functions in INTERPRETER_FUNCTIONS:
        interpreter.register_implementations(functions())
    store = store if store is not None else WeightStore()
    with store.activate():
        results = interpreter.call_op("main", tuple(args))
    return {name: np.asarray(value) for name, value in zip(result_names, results, strict=True)}
