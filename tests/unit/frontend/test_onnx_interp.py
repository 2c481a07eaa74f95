"""The ``onnx`` dialect in the interpreter, against onnxruntime; verifier and round trips."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from xdsl.utils.exceptions import VerifyException

from fpqc.backends.interp.runner import run_module
from fpqc.context import parse_module_file, print_module
from fpqc.errors import FpqcError
from fpqc.frontend.onnx_import import import_onnx

REPO = Path(__file__).resolve().parents[3]
RNG = np.random.default_rng(1)
MAX_RELATIVE_ERROR = 1e-5


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-30))


def check_against_onnxruntime(path: Path, inputs: dict[str, np.ndarray], tolerance: float = MAX_RELATIVE_ERROR) -> None:
    module, store = import_onnx(path)
    module.verify()
    actual = run_module(module, inputs, store)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs), strict=True))
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype and actual[name].shape == value.shape
        if np.issubdtype(value.dtype, np.floating):
            assert relative_error(actual[name], value) <= tolerance, name
        else:
            np.testing.assert_array_equal(actual[name], value)


def make_mlp_module():
    spec = importlib.util.spec_from_file_location("make_mlp", REPO / "examples/mlp/make_mlp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
@pytest.mark.parametrize("shape", [(8, 64), (2, 16, 64)], ids=["2d", "3d"])
def test_mlp_matches_onnxruntime(tmp_path: Path, exporter: str, shape: tuple[int, ...]) -> None:
    """Linear(64, 128) → GELU(tanh) → Linear(128, 64), exported by torch."""
    torch = pytest.importorskip("torch")
    make_mlp = make_mlp_module()
    path = tmp_path / "mlp.onnx"
    make_mlp.export(make_mlp.make_mlp(64, 128, 64), torch.zeros(shape), path, exporter)
    x = RNG.standard_normal(shape).astype(np.float32)
    check_against_onnxruntime(path, {"x": x})


# ---------------------------------------------------------------------------
# Every op, one small graph each
# ---------------------------------------------------------------------------


def f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


# (node, input arrays, initializer arrays, opset)
OP_CASES = {
    "Add": (helper.make_node("Add", ["a", "b"], ["y"]), {"a": f32(2, 3, 4)}, {"b": f32(4)}, 17),
    "Sub": (helper.make_node("Sub", ["a", "b"], ["y"]), {"a": f32(3, 1), "b": f32(1, 5)}, {}, 17),
    "Mul": (helper.make_node("Mul", ["a", "b"], ["y"]), {"a": f32(2, 3, 4), "b": f32(3, 1)}, {}, 17),
    "Div": (helper.make_node("Div", ["a", "b"], ["y"]), {"a": f32(3, 4)}, {"b": f32(4) + 3}, 17),
    "Pow": (helper.make_node("Pow", ["a", "b"], ["y"]), {"a": f32(3, 4)}, {"b": np.array(3.0, np.float32)}, 17),
    "Tanh": (helper.make_node("Tanh", ["a"], ["y"]), {"a": f32(5, 7)}, {}, 17),
    "Relu": (helper.make_node("Relu", ["a"], ["y"]), {"a": f32(5, 7)}, {}, 17),
    "Sigmoid": (helper.make_node("Sigmoid", ["a"], ["y"]), {"a": 10 * f32(5, 7)}, {}, 17),
    "Gelu-none": (helper.make_node("Gelu", ["a"], ["y"]), {"a": f32(5, 7)}, {}, 20),
    "Gelu-tanh": (helper.make_node("Gelu", ["a"], ["y"], approximate="tanh"), {"a": f32(5, 7)}, {}, 20),
    "Erf": (helper.make_node("Erf", ["a"], ["y"]), {"a": f32(5, 7)}, {}, 17),
    "Sqrt": (helper.make_node("Sqrt", ["a"], ["y"]), {"a": np.abs(f32(5, 7))}, {}, 17),
    "MatMul": (helper.make_node("MatMul", ["a", "b"], ["y"]), {"a": f32(2, 1, 3, 8)}, {"b": f32(4, 8, 5)}, 17),
    "MatMul-1d": (helper.make_node("MatMul", ["a", "b"], ["y"]), {"a": f32(8)}, {"b": f32(3, 8, 5)}, 17),
    "Gemm": (
        helper.make_node("Gemm", ["a", "b", "c"], ["y"], alpha=0.5, beta=2.0, transA=1),
        {"a": f32(8, 3)},
        {"b": f32(8, 5), "c": f32(1, 5)},
        17,
    ),
    "Gemm-no-bias": (helper.make_node("Gemm", ["a", "b"], ["y"], transB=1), {"a": f32(3, 8)}, {"b": f32(5, 8)}, 17),
    "Reshape": (
        helper.make_node("Reshape", ["a", "s"], ["y"]),
        {"a": f32(2, 3, 4)},
        {"s": np.array([0, -1, 2], np.int64)},
        17,
    ),
    "Transpose": (helper.make_node("Transpose", ["a"], ["y"], perm=[1, 2, 0]), {"a": f32(2, 3, 4)}, {}, 17),
    "Transpose-default": (helper.make_node("Transpose", ["a"], ["y"]), {"a": f32(2, 3, 4)}, {}, 17),
    "Identity": (helper.make_node("Identity", ["a"], ["y"]), {"a": f32(2, 3)}, {}, 17),
    "Cast": (helper.make_node("Cast", ["a"], ["y"], to=TensorProto.INT32), {"a": 10 * f32(2, 3)}, {}, 17),
}


def save_single_op(path: Path, node, inputs, initializers, opset: int) -> Path:
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in inputs.items()],
        [onnx.ValueInfoProto(name="y")],
        initializer=[numpy_helper.from_array(a, n) for n, a in initializers.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


@pytest.mark.parametrize("case", sorted(OP_CASES))
def test_op_matches_onnxruntime(tmp_path: Path, case: str) -> None:
    node, inputs, initializers, opset = OP_CASES[case]
    check_against_onnxruntime(save_single_op(tmp_path / "op.onnx", node, inputs, initializers, opset), inputs)


# ---------------------------------------------------------------------------
# Runner errors
# ---------------------------------------------------------------------------


@pytest.fixture
def relu_model(tmp_path: Path):
    path = save_single_op(tmp_path / "relu.onnx", helper.make_node("Relu", ["x"], ["y"]), {"x": f32(4, 8)}, {}, 17)
    return import_onnx(path)


def test_missing_input(relu_model) -> None:
    module, store = relu_model
    with pytest.raises(FpqcError, match=r"missing input 'x' \(shape \[4, 8\]\)"):
        run_module(module, {}, store)


@pytest.mark.parametrize("value", [np.zeros((4, 9), np.float32), np.zeros((4, 8), np.float64)], ids=["shape", "dtype"])
def test_wrong_input(relu_model, value: np.ndarray) -> None:
    module, store = relu_model
    with pytest.raises(FpqcError, match=r"input 'x' has shape .* the model expects shape \[4, 8\] and dtype float32"):
        run_module(module, {"x": value}, store)


def test_unknown_input(relu_model) -> None:
    module, store = relu_model
    with pytest.raises(FpqcError, match="unknown input 'z'"):
        run_module(module, {"x": np.zeros((4, 8), np.float32), "z": np.zeros(1)}, store)


# ---------------------------------------------------------------------------
# Verifier (the text round trip of every op is tests/filecheck/dialects/onnx/ops.mlir)
# ---------------------------------------------------------------------------


def test_verifier_names_op_and_both_types(tmp_path: Path) -> None:
    ir = tmp_path / "bad.mlir"
    ir.write_text(
        "func.func @main(%a: tensor<8x64xf32>, %b: tensor<64x32xf32>) -> tensor<8x16xf32> {\n"
        "  %0 = onnx.MatMul %a, %b : (tensor<8x64xf32>, tensor<64x32xf32>) -> tensor<8x16xf32>\n"
        "  func.return %0 : tensor<8x16xf32>\n"
        "}\n"
    )
    module = parse_module_file(ir)
    with pytest.raises(VerifyException, match=r"onnx.MatMul: result type tensor<8x16xf32> does not match "
                                              r"the inferred type tensor<8x32xf32>"):
        module.verify()


ONNX_FILECHECK_FILES = sorted((REPO / "tests/filecheck/dialects/onnx").glob("ops*.mlir"))


def test_onnx_filecheck_files_exist() -> None:
    assert len(ONNX_FILECHECK_FILES) >= 2


@pytest.mark.parametrize("path", ONNX_FILECHECK_FILES, ids=lambda p: p.name)
def test_filecheck_files_round_trip(path: Path, tmp_path: Path) -> None:
    """What the FileCheck tests check with fpqc-opt, in-process: print ∘ parse is stable."""
    module = parse_module_file(path)
    module.verify()
    printed = tmp_path / "printed.mlir"
    printed.write_text(print_module(module))
    assert print_module(parse_module_file(printed)) == printed.read_text()
