"""fpqc's passes, one ModulePass per file, registered by name for ``fpqc-opt``."""

from collections.abc import Callable

from xdsl.passes import ModulePass


def _canonicalize_onnx() -> type[ModulePass]:
    from fpqc.passes.canonicalize_onnx import CanonicalizeOnnxPass

    return CanonicalizeOnnxPass


def _raise_onnx_to_fpq() -> type[ModulePass]:
    from fpqc.passes.raise_onnx_to_fpq import RaiseOnnxToFpqPass

    return RaiseOnnxToFpqPass


def _quantize() -> type[ModulePass]:
    from fpqc.passes.quantize import QuantizeLinearPass

    return QuantizeLinearPass


def _kv_quantize() -> type[ModulePass]:
    from fpqc.passes.kv_quantize import KvQuantizePass

    return KvQuantizePass


def _dual_format() -> type[ModulePass]:
    from fpqc.passes.dual_format import DualFormatPass

    return DualFormatPass


def _group_hadamard() -> type[ModulePass]:
    from fpqc.passes.group_hadamard import GroupHadamardPass

    return GroupHadamardPass


def _galt() -> type[ModulePass]:
    from fpqc.passes.galt import GaltPass

    return GaltPass


def _input_hessians() -> type[ModulePass]:
    from fpqc.passes.input_hessians import InputHessiansPass

    return InputHessiansPass


def _choose_formats() -> type[ModulePass]:
    from fpqc.passes.choose_formats import ChooseFormatsPass

    return ChooseFormatsPass


def _step_program() -> type[ModulePass]:
    from fpqc.passes.step_program import StepProgramPass

    return StepProgramPass


def _outline_kernels() -> type[ModulePass]:
    from fpqc.passes.outline_kernels import OutlineKernelsPass

    return OutlineKernelsPass


def _tile() -> type[ModulePass]:
    from fpqc.passes.tile import TilePass

    return TilePass


def _dce() -> type[ModulePass]:
    from xdsl.transforms.dead_code_elimination import DeadCodeElimination

    return DeadCodeElimination


def _cse() -> type[ModulePass]:
    from xdsl.transforms.common_subexpression_elimination import (
        CommonSubexpressionElimination,
    )

    return CommonSubexpressionElimination


ALL_PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "canonicalize-onnx": _canonicalize_onnx,
    "raise-onnx-to-fpq": _raise_onnx_to_fpq,
    "quantize": _quantize,
    "kv-quantize": _kv_quantize,
    "dual-format": _dual_format,
    "group-hadamard": _group_hadamard,
    "galt": _galt,
    "input-hessians": _input_hessians,
    "choose-formats": _choose_formats,
    "step-program": _step_program,
    "outline-kernels": _outline_kernels,
    "tile": _tile,
    "dce": _dce,
    "cse": _cse,
}
