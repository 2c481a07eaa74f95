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
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.interpreter import Interpreter, InterpreterFunctions
from xdsl.interpreters.func import FuncFunctions

from fpqc.backends.interp.arith_ops import FpqcArithFunctions
from fpqc.backends.interp.fpq_ops import FpqFunctions
from fpqc.backends.interp.hls_ops import HlsFunctions, Launcher
from fpqc.backends.interp.liveness import DropDeadValues
from fpqc.backends.interp.ready_weights import ReadyWeights
from fpqc.backends.interp.onnx_ops import OnnxFunctions
from fpqc.backends.model_signature import input_names, main_function, output_names
from fpqc.dialects.tensor_types import element_type_to_dtype
from fpqc.errors import FpqcError
from fpqc.weights import WeightStore

INTERPRETER_FUNCTIONS: tuple[type[InterpreterFunctions], ...] = (
    FuncFunctions,
    FpqcArithFunctions,
    OnnxFunctions,
    FpqFunctions,
    HlsFunctions,
)
"""The implementations the interpreter registers, one class per dialect."""


def make_interpreter(
    module: ModuleOp,
    listeners: tuple[Interpreter.Listener, ...] = (),
    launcher: Launcher | None = None,
    ready: ReadyWeights | None = None,
) -> Interpreter:
    """xDSL's interpreter on ``module`` with every dialect of :data:`INTERPRETER_FUNCTIONS`.

    With ``launcher``, kernel launches run on that device instead of in the interpreter.  Every
    intermediate is dropped once no later op reads it (:mod:`fpqc.backends.interp.liveness`).
    ``ready`` keeps quantized weights readied by earlier runs (:mod:`fpqc.backends.interp.ready_weights`).
    """
    drop = DropDeadValues()
    interpreter = Interpreter(module, listeners=(*listeners, drop))
    drop.attach(interpreter)
    for functions in INTERPRETER_FUNCTIONS:
        if functions is HlsFunctions:
            interpreter.register_implementations(HlsFunctions(launcher))
        elif functions is FpqFunctions:
            interpreter.register_implementations(FpqFunctions(ready))
        else:
            interpreter.register_implementations(functions())
    return interpreter


def model_input_names(module: ModuleOp) -> list[str]:
    """The ``onnx.name`` of each argument of ``@main``, in order."""
    return input_names(main_function(module))


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


def main_arguments(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """``inputs`` (by ONNX name) as ``@main``'s positional arguments, each checked against its type."""
    main = main_function(module)
    arg_types = main.function_type.inputs.data
    arg_names = input_names(main)
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
    return tuple(args)


def run_function(
    module: ModuleOp,
    name: str,
    args: tuple[np.ndarray, ...],
    store: WeightStore | None = None,
    listeners: tuple[Interpreter.Listener, ...] = (),
    launcher: Launcher | None = None,
    ready: ReadyWeights | None = None,
) -> tuple[np.ndarray, ...]:
    """Run the function ``@name`` of ``module`` on positional ``args``; return its results in order.

    ``launcher`` runs the kernel launches on another device (:mod:`fpqc.backends.interp.hls_ops`); ``ready``
    keeps the quantized weights readied for later runs (:func:`make_interpreter`).
    """
    interpreter = make_interpreter(module, listeners, launcher, ready)
    store = store if store is not None else WeightStore()
    with store.activate():
        results = interpreter.call_op(name, args)
    return tuple(np.asarray(value) for value in results)


def run_module(
    module: ModuleOp,
    inputs: Mapping[str, np.ndarray],
    store: WeightStore | None = None,
    listeners: tuple[Interpreter.Listener, ...] = (),
    launcher: Launcher | None = None,
    ready: ReadyWeights | None = None,
) -> dict[str, np.ndarray]:
    """Run ``@main`` on ``inputs``; return its results by name (see module docstring).

    ``listeners`` observe every op the interpreter runs (e.g. to record intermediates);
    ``launcher`` runs the kernel launches on another device; ``ready`` as in :func:`make_interpreter`.
    """
    main = main_function(module)
    args = main_arguments(module, inputs)
    interpreter = make_interpreter(module, listeners, launcher, ready)
    store = store if store is not None else WeightStore()
    with store.activate():
        results = interpreter.call_op("main", args)
    return {name: np.asarray(value) for name, value in zip(output_names(main), results, strict=True)}
