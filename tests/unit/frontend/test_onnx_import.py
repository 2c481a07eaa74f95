"""The ONNX importer: IR it produces, folding and DCE, determinism, and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from xdsl.dialects.builtin import DenseResourceAttr, IntegerAttr, StringAttr

from fpqc.context import print_module
from fpqc.dialects.onnx import ConstantOp
from fpqc.errors import FpqcError
from fpqc.frontend.onnx_import import import_onnx

RNG = np.random.default_rng(0)


def save(path: Path, nodes, inputs, outputs, initializers=(), opset: int = 17) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="fpqc-tests")
    onnx.save(model, path)
    return path


def tensor(name: str, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def linear_relu(path: Path) -> Path:
    return save(
        path,
        [
            helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["h"], name="fc", transB=1),
            helper.make_node("Relu", ["h"], ["y"], name="relu"),
        ],
        [tensor("x", [8, 64])],
        [tensor("y", [8, 32])],
        [weight("fc.weight", 32, 64), weight("fc.bias", 32)],
    )


def test_printed_form(tmp_path: Path) -> None:
    module, store = import_onnx(linear_relu(tmp_path / "m.onnx"))
    assert print_module(module) == (
        'builtin.module attributes {onnx.opset = 17 : i64, onnx.producer = "fpqc-tests"} {\n'
        '  func.func @main(%arg0: tensor<8x64xf32> {onnx.name = "x"}) -> (tensor<8x32xf32> {onnx.name = "y"}) {\n'
        "    %0 = onnx.Constant dense_resource<fc.weight> : tensor<32x64xf32>\n"
        "    %1 = onnx.Constant dense_resource<fc.bias> : tensor<32xf32>\n"
        "    %2 = onnx.Gemm %arg0, %0, %1 {transB = 1 : i64} : "
        "(tensor<8x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<8x32xf32>\n"
        "    %3 = onnx.Relu %2 : (tensor<8x32xf32>) -> tensor<8x32xf32>\n"
        "    func.return %3 : tensor<8x32xf32>\n"
        "  }\n"
        "}\n"
    )
    assert sorted(store.keys()) == ["fc.bias", "fc.weight"]
    assert store.get("fc.weight").shape == (32, 64)


def test_deterministic(tmp_path: Path) -> None:
    path = linear_relu(tmp_path / "m.onnx")
    first, store1 = import_onnx(path)
    second, store2 = import_onnx(path)
    assert print_module(first) == print_module(second)
    assert store1.keys() == store2.keys()


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
@pytest.mark.parametrize("shape", [(8, 64), (2, 4, 64)], ids=["2d", "3d"])
def test_torch_mlp(tmp_path: Path, exporter: str, shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.GELU(approximate="tanh"), torch.nn.Linear(128, 64)
    ).eval()
    path = tmp_path / "mlp.onnx"
    kwargs = {"dynamo": False, "opset_version": 17} if exporter == "torchscript" else {"dynamo": True}
    torch.onnx.export(mlp, (torch.randn(shape),), str(path), input_names=["x"], output_names=["y"], **kwargs)

    module, store = import_onnx(path)
    module.verify()
    names = {op.name for op in module.walk()}
    assert module.attributes["onnx.opset"] == IntegerAttr(17 if exporter == "torchscript" else 20, 64)
    assert ("onnx.Gelu" in names) == (exporter == "dynamo")
    assert ("onnx.Gemm" in names) == (len(shape) == 2)
    assert len(store) == 4
    text = print_module(module)
    assert f"tensor<{'x'.join(map(str, shape))}xf32> {{onnx.name = \"x\"}}" in text


def test_constant_folding_of_shape_arithmetic(tmp_path: Path) -> None:
    """Reshape's target shape computed from constants folds into one inline constant."""
    path = save(
        tmp_path / "m.onnx",
        [
            helper.make_node("Constant", [], ["two"], value_ints=[2, 2]),
            helper.make_node("Constant", [], ["half"], value=numpy_helper.from_array(np.array([4, 16], np.int64))),
            helper.make_node("Mul", ["two", "half"], ["shape"], name="shape_mul"),
            helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape"),
        ],
        [tensor("x", [16, 16])],
        [tensor("y", [8, 32])],
    )
    module, store = import_onnx(path)
    assert [op.name for op in module.walk()][2:] == ["onnx.Constant", "onnx.Reshape", "func.return"]
    assert "onnx.Constant dense<[8, 32]> : tensor<2xi64>" in print_module(module)
    assert len(store) == 0


def test_small_float_arithmetic_folds_large_does_not(tmp_path: Path) -> None:
    path = save(
        tmp_path / "m.onnx",
        [
            helper.make_node("Sqrt", ["four"], ["two"], name="sqrt"),
            helper.make_node("Mul", ["w", "two"], ["w2"], name="scale_w"),
            helper.make_node("MatMul", ["x", "w2"], ["y"], name="mm"),
        ],
        [tensor("x", [4, 16])],
        [tensor("y", [4, 8])],
        [numpy_helper.from_array(np.array([4.0], np.float32), "four"), weight("w", 16, 8)],
    )
    module, _ = import_onnx(path)
    text = print_module(module)
    assert "onnx.Sqrt" not in text
    assert "onnx.Constant dense<2.000000e+00> : tensor<1xf32>" in text
    assert "onnx.Mul" in text  # 128 float elements: left to run time


def test_dead_code_and_unsorted_nodes(tmp_path: Path) -> None:
    path = save(
        tmp_path / "m.onnx",
        [
            helper.make_node("Tanh", ["h"], ["y"], name="tanh"),
            helper.make_node("MatMul", ["x", "unused.weight"], ["dead"], name="dead_matmul"),
            helper.make_node("Relu", ["x"], ["h"], name="relu"),
        ],
        [tensor("x", [4, 16])],
        [tensor("y", [4, 16])],
        [weight("unused.weight", 16, 16)],
    )
    module, store = import_onnx(path)
    assert [op.name for op in module.walk()][2:] == ["onnx.Relu", "onnx.Tanh", "func.return"]
    assert len(store) == 0


def test_external_data(tmp_path: Path) -> None:
    model = onnx.load(linear_relu(tmp_path / "m.onnx"))
    expected = numpy_helper.to_array(model.graph.initializer[0])
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="ext.data", size_threshold=0)
    assert (tmp_path / "ext.data").is_file()
    _, store = import_onnx(path)
    np.testing.assert_array_equal(store.get("fc.weight"), expected)
    (tmp_path / "ext.data").unlink()
    with pytest.raises(FpqcError, match=r"ext\.onnx: cannot read the model's external data"):
        import_onnx(path)


def test_input_shapes_for_dynamic_dims(tmp_path: Path) -> None:
    path = save(
        tmp_path / "m.onnx",
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [tensor("x", ["batch", 16])],
        [tensor("y", ["batch", 16])],
    )
    with pytest.raises(FpqcError, match=r"input 'x' has dynamic dimension 0 \('batch'\).*--input-shape x=Dx16"):
        import_onnx(path)
    module, _ = import_onnx(path, {"x": (3, 16)})
    assert "tensor<3x16xf32>" in print_module(module)
    with pytest.raises(FpqcError, match="dimension 1 of input 'x' is 16, not 8"):
        import_onnx(path, {"x": (3, 8)})
    with pytest.raises(FpqcError, match="'z', which is not an input"):
        import_onnx(path, {"z": (3, 16)})


def test_constant_weights_are_resources(tmp_path: Path) -> None:
    module, _ = import_onnx(linear_relu(tmp_path / "m.onnx"))
    constants = [op for op in module.walk() if isinstance(op, ConstantOp)]
    assert all(isinstance(c.value, DenseResourceAttr) for c in constants)
    assert module.body.block.first_op.arg_attrs.data[0].data["onnx.name"] == StringAttr("x")


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FpqcError, match=r"nope\.onnx: no such file"):
        import_onnx(tmp_path / "nope.onnx")


def test_garbage_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"\x00\x01 this is not a protobuf \xff" * 10)
    with pytest.raises(FpqcError, match=r"bogus\.onnx: not an ONNX model \("):
        import_onnx(bogus)


def test_unsupported_op(tmp_path: Path) -> None:
    path = save(
        tmp_path / "m.onnx",
        [helper.make_node("Softsign", ["x"], ["y"], name="my_softsign")],
        [tensor("x", [4, 8])],
        [tensor("y", [4, 8])],
    )
    with pytest.raises(FpqcError) as error:
        import_onnx(path)
    message = str(error.value)
    for needle in ("my_softsign", "Softsign", "opset 17", "supported ops: Add, Cast"):
        assert needle in message
    assert "\n" not in message


def test_non_default_domain(tmp_path: Path) -> None:
    node = helper.make_node("Gelu", ["x"], ["y"], name="ms_gelu", domain="com.microsoft")
    path = save(tmp_path / "m.onnx", [node], [tensor("x", [4, 8])], [tensor("y", [4, 8])])
    with pytest.raises(FpqcError, match=r"node 'ms_gelu' \(com\.microsoft\.Gelu\)"):
        import_onnx(path)


@pytest.mark.parametrize(
    ("node", "needle"),
    [
        (helper.make_node("Add", ["x", "b"], ["y"], name="bad_add"), r"node 'bad_add' \(Add\): shapes \[4, 8\] and \[5\] do not broadcast"),
        (helper.make_node("Cast", ["x"], ["y"], name="cast"), r"node 'cast' \(Cast\): required attribute 'to' is missing"),
        (helper.make_node("Relu", ["x"], ["y"], name="relu", alpha=0.1), r"node 'relu' \(Relu\): attribute 'alpha' is not supported"),
        (helper.make_node("Gelu", ["x"], ["y"], name="gelu", approximate=3), r"node 'gelu' \(Gelu\): attribute 'approximate'"),
        (helper.make_node("Relu", ["nowhere"], ["y"], name="relu"), r"uses value 'nowhere'"),
    ],
)
def test_bad_nodes(tmp_path: Path, node: onnx.NodeProto, needle: str) -> None:
    b = numpy_helper.from_array(np.zeros(5, np.float32), "b")
    path = save(tmp_path / "m.onnx", [node], [tensor("x", [4, 8])], [tensor("y", [4, 8])], [b])
    with pytest.raises(FpqcError, match=needle):
        import_onnx(path)


def test_declared_output_shape_mismatch(tmp_path: Path) -> None:
    path = save(tmp_path / "m.onnx", [helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [4, 8])], [tensor("y", [4, 9])])
    with pytest.raises(FpqcError, match=r"output 'y' is declared with shape \[4, 9\] but computes to \[4, 8\]"):
        import_onnx(path)
