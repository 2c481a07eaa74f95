"""The ops VAR exports need, one small graph each, against onnxruntime.

Each case is a single node at opset 18 (where reductions take ``axes`` as an
input and ``Split`` has ``num_outputs``) whose inputs are graph inputs or
initializers; the importer folds all-constant nodes, so cases that should
run in the interpreter keep at least one graph input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpqc.backends.interp.runner import run_module
from fpqc.context import make_context, print_module
from fpqc.errors import FpqcError
from fpqc.frontend.onnx_import import import_onnx
from fpqc.passes.canonicalize_onnx import CanonicalizeOnnxPass

RNG = np.random.default_rng(2)


def f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def i64(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def node(op: str, inputs: list[str], outputs: int = 1, **attrs) -> onnx.NodeProto:
    return helper.make_node(op, inputs, [f"y{i}" for i in range(outputs)], name=f"the_{op.lower()}", **attrs)


# name -> (node, graph inputs, initializers[, opset])
CASES = {
    "Exp": (node("Exp", ["a"]), {"a": f32(3, 4)}, {}),
    "Log": (node("Log", ["a"]), {"a": np.abs(f32(3, 4)) + 0.1}, {}),
    "Neg": (node("Neg", ["a"]), {"a": f32(3, 4)}, {}),
    "Not": (node("Not", ["a"]), {"a": f32(3, 4) > 0}, {}),
    "IsNaN": (node("IsNaN", ["a"]), {"a": np.where(f32(3, 4) > 0, np.float32(np.nan), f32(3, 4))}, {}),
    "Equal": (node("Equal", ["a", "b"]), {"a": i64(1, 2, 3, 4)}, {"b": i64(1, 0, 3, 0)}),
    "Less": (node("Less", ["a", "b"]), {"a": f32(2, 3)}, {"b": f32(3)}),
    "Greater": (node("Greater", ["a", "b"]), {"a": f32(2, 3)}, {"b": f32(2, 1)}),
    "Where": (node("Where", ["c", "a", "b"]), {"c": f32(2, 3) > 0, "a": f32(2, 3)}, {"b": f32(3)}),
    "Clip-both": (node("Clip", ["a", "lo", "hi"]), {"a": f32(3, 4)}, {"lo": np.float32(-0.5), "hi": np.float32(0.5)}),
    "Clip-min": (node("Clip", ["a", "lo"]), {"a": f32(3, 4)}, {"lo": np.float32(0.1)}),
    "Clip-max": (node("Clip", ["a", "", "hi"]), {"a": f32(3, 4)}, {"hi": np.float32(0.2)}),
    "Max": (node("Max", ["a", "b", "c"]), {"a": f32(2, 3), "b": f32(3)}, {"c": f32(2, 1)}),
    "Min": (node("Min", ["a", "b"]), {"a": f32(2, 3)}, {"b": f32(1)}),
    "ReduceL2": (node("ReduceL2", ["a", "ax"]), {"a": f32(2, 3, 4)}, {"ax": i64(-1)}),
    "ReduceMean": (node("ReduceMean", ["a", "ax"], keepdims=0), {"a": f32(2, 3, 4)}, {"ax": i64(0, 2)}),
    "ReduceSum-all": (node("ReduceSum", ["a"]), {"a": f32(2, 3, 4)}, {}),
    "ReduceSum-noop": (node("ReduceSum", ["a"], noop_with_empty_axes=1), {"a": f32(2, 3)}, {}),
    "LayerNormalization": (
        node("LayerNormalization", ["a", "s", "b"], epsilon=1e-6),
        {"a": 3 * f32(2, 5, 16) + 1},
        {"s": f32(16), "b": f32(16)},
    ),
    "LayerNormalization-axis1": (node("LayerNormalization", ["a", "s"], axis=1), {"a": f32(2, 3, 4)}, {"s": f32(3, 4)}),
    "Softmax": (node("Softmax", ["a"]), {"a": 4 * f32(2, 3, 7)}, {}),
    "Softmax-axis0": (node("Softmax", ["a"], axis=0), {"a": f32(3, 4)}, {}),
    "Squeeze": (node("Squeeze", ["a", "ax"]), {"a": f32(2, 1, 3, 1)}, {"ax": i64(-1)}),
    "Squeeze-all": (node("Squeeze", ["a"]), {"a": f32(2, 1, 3, 1)}, {}),
    "Unsqueeze": (node("Unsqueeze", ["a", "ax"]), {"a": f32(2, 3)}, {"ax": i64(0, -1)}),
    "Split-sizes": (node("Split", ["a", "s"], 3, axis=1), {"a": f32(2, 6)}, {"s": i64(1, 2, 3)}),
    "Split-num-outputs": (node("Split", ["a"], 3, axis=-1, num_outputs=3), {"a": f32(2, 7)}, {}),
    "Shape": (node("Shape", ["a"], start=1, end=-1), {"a": f32(2, 3, 4, 5)}, {}),
    "Expand": (node("Expand", ["a", "s"]), {"a": f32(3, 1)}, {"s": i64(2, 1, 4)}),
    "Concat": (node("Concat", ["a", "b", "c"], axis=-2), {"a": f32(2, 1, 3), "b": f32(2, 4, 3)}, {"c": f32(2, 2, 3)}),
    "Gather": (node("Gather", ["t", "i"]), {"i": i64(2, 0, -1)}, {"t": f32(5, 4)}),
    "Gather-axis1": (node("Gather", ["a", "i"], axis=1), {"a": f32(2, 5, 3)}, {"i": np.array([[1, 4], [0, -2]], np.int64)}),
    "Slice": (node("Slice", ["a", "s", "e", "ax", "st"]), {"a": f32(4, 10)}, {"s": i64(1, -2), "e": i64(100, 0), "ax": i64(1, 0), "st": i64(2, -1)}),
    "Slice-no-axes": (node("Slice", ["a", "s", "e", "", "st"]), {"a": f32(4, 10)}, {"s": i64(3, 9), "e": i64(-100, 1), "st": i64(-2, -3)}),
    "Slice-short": (node("Slice", ["a", "s", "e"]), {"a": f32(4, 10)}, {"s": i64(1), "e": i64(3)}),
    "ConstantOfShape": (node("ConstantOfShape", ["s"], value=numpy_helper.from_array(np.array([2], np.int64))), {}, {"s": i64(2, 3)}),
    "ConstantOfShape-large": (
        node("ConstantOfShape", ["s"], value=numpy_helper.from_array(np.array([0.5], np.float32))),
        {},
        {"s": i64(4, 40)},
    ),
    "Range": (node("Range", ["s", "l", "d"]), {}, {"s": np.float32(1.0), "l": np.float32(-30.5), "d": np.float32(-0.5)}),
    "Cast-bool": (node("Cast", ["a"], to=TensorProto.FLOAT), {"a": f32(3) > 0}, {}),
    "Transpose": (node("Transpose", ["a"], perm=[2, 0, 1, 3]), {"a": f32(2, 3, 4, 5)}, {}),
    "MatMul-batched": (node("MatMul", ["a", "b"]), {"a": f32(2, 3, 5, 8), "b": f32(1, 3, 8, 4)}, {}),
    "Pow-Sqrt": (node("Pow", ["a", "p"]), {"a": np.abs(f32(3, 4))}, {"p": np.float32(0.5)}),
}


def save(path: Path, the_node: onnx.NodeProto, inputs: dict, initializers: dict, opset: int = 18) -> Path:
    graph = helper.make_graph(
        [the_node],
        "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in inputs.items()],
        [onnx.ValueInfoProto(name=name) for name in the_node.output],
        initializer=[numpy_helper.from_array(np.asarray(a), n) for n, a in initializers.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def check(path: Path, inputs: dict) -> str:
    """Import, verify and run ``path``; compare every output with onnxruntime; return the IR."""
    module, store = import_onnx(path)
    module.verify()
    actual = run_module(module, inputs, store)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs), strict=True))
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        assert actual[name].shape == value.shape and actual[name].dtype == value.dtype, name
        np.testing.assert_allclose(actual[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    return print_module(module)


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_onnxruntime(tmp_path: Path, case: str) -> None:
    the_node, inputs, initializers = CASES[case]
    text = check(save(tmp_path / "op.onnx", the_node, inputs, initializers), inputs)
    if inputs:
        assert f"onnx.{the_node.op_type} " in text or the_node.op_type == "Shape"
    assert "onnx.Shape" not in text  # always a constant after import


def test_split_results_are_one_op(tmp_path: Path) -> None:
    the_node, inputs, initializers = CASES["Split-sizes"]
    module, _ = import_onnx(save(tmp_path / "op.onnx", the_node, inputs, initializers))
    assert "= onnx.Split %arg0, %" in print_module(module)
    split = next(op for op in module.walk() if op.name == "onnx.Split")
    assert [r.type.get_shape() for r in split.results] == [(2, 1), (2, 2), (2, 3)]


def test_split_of_old_opset_gets_num_outputs(tmp_path: Path) -> None:
    """Opset 13 Split without sizes: equal pieces, one per output."""
    the_node = node("Split", ["a"], 2, axis=0)
    inputs = {"a": f32(4, 3)}
    text = check(save(tmp_path / "op.onnx", the_node, inputs, {}, opset=13), inputs)
    assert "num_outputs = 2 : i64" in text


@pytest.mark.parametrize(
    ("the_node", "opset"),
    [
        (node("Squeeze", ["a"], axes=[1]), 11),
        (node("Unsqueeze", ["a"], axes=[0]), 11),
        (node("ReduceMean", ["a"], axes=[-1]), 17),
        (node("Split", ["a"], 2, axis=1, split=[1, 2]), 11),
    ],
    ids=["Squeeze", "Unsqueeze", "ReduceMean", "Split"],
)
def test_older_opset_attributes_become_inputs(tmp_path: Path, the_node: onnx.NodeProto, opset: int) -> None:
    inputs = {"a": f32(2, 1, 3) if the_node.op_type == "Squeeze" else f32(2, 3)}
    check(save(tmp_path / "op.onnx", the_node, inputs, {}, opset=opset), inputs)


def test_softmax_of_old_opset(tmp_path: Path) -> None:
    inputs = {"a": f32(2, 5)}
    check(save(tmp_path / "ok.onnx", node("Softmax", ["a"]), inputs, {}, opset=11), inputs)
    inputs = {"a": f32(2, 3, 5)}
    with pytest.raises(FpqcError, match=r"the_softmax.*opset 11 over the axes 1\.\. .*only over the last axis"):
        import_onnx(save(tmp_path / "bad.onnx", node("Softmax", ["a"]), inputs, {}, opset=11))


def test_layernorm_extra_outputs(tmp_path: Path) -> None:
    """Unused Mean/InvStdDev outputs are dropped; a used one is an error naming it."""
    inputs, initializers = {"a": f32(2, 8)}, {"s": f32(8)}
    unused = helper.make_node("LayerNormalization", ["a", "s"], ["y0", "mean"], name="ln")
    graph = helper.make_graph(
        [unused], "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 8])], [onnx.ValueInfoProto(name="y0")],
        initializer=[numpy_helper.from_array(initializers["s"], "s")],
    )
    path = tmp_path / "ln.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    check(path, inputs)
    graph.output.append(onnx.ValueInfoProto(name="mean"))
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    with pytest.raises(FpqcError, match=r"node 'ln' \(LayerNormalization\): its Mean output 'mean' is used"):
        import_onnx(path)


def test_shape_arithmetic_folds_to_static_shapes(tmp_path: Path) -> None:
    """Shape → Gather → Unsqueeze → Concat → Reshape, and Shape → Expand, leave only constants."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "zero_v"], ["batch_v"]),
        helper.make_node("Concat", ["batch_v", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("Shape", ["flat"], ["flat_shape"]),
        helper.make_node("Expand", ["bias", "flat_shape"], ["bias_full"]),
        helper.make_node("Add", ["flat", "bias_full"], ["y"]),
    ]
    initializers = {"zero": np.array(0, np.int64), "zero_v": i64(0), "minus_one": i64(-1), "bias": f32(1)}
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])], [onnx.ValueInfoProto(name="y")],
        initializer=[numpy_helper.from_array(np.asarray(a), n) for n, a in initializers.items()],
    )
    path = tmp_path / "shape.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    text = check(path, {"x": f32(2, 3, 4)})
    ops = [line.split("=")[1].split()[0] for line in text.splitlines() if " = onnx." in line]
    assert ops == ["onnx.Constant", "onnx.Reshape", "onnx.Constant", "onnx.Add"], text
    assert "onnx.Constant dense<[2, -1]> : tensor<2xi64>" in text
    assert "tensor<2x12xf32>" in text


def test_identity_chains_vanish(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Identity", ["w"], ["w1"]),
        helper.make_node("Identity", ["w1"], ["w2"]),
        helper.make_node("Identity", ["x"], ["x1"]),
        helper.make_node("MatMul", ["x1", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 32])], [onnx.ValueInfoProto(name="y")],
        initializer=[numpy_helper.from_array(f32(32, 32), "w")],
    )
    path = tmp_path / "id.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    text = check(path, {"x": f32(2, 32)})
    assert "onnx.Identity" not in text
    assert "dense_resource<w>" in text


def test_no_op_cast_and_expand_are_imported_and_canonicalized_away(tmp_path: Path) -> None:
    """The importer keeps one op per node; canonicalize-onnx is where ops that compute nothing go."""
    nodes = [
        helper.make_node("Cast", ["x"], ["x32"], to=TensorProto.FLOAT),
        helper.make_node("Expand", ["x32", "same"], ["xe"]),
        helper.make_node("Add", ["xe", "b"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 32])], [onnx.ValueInfoProto(name="y")],
        initializer=[numpy_helper.from_array(i64(4, 1), "same"), numpy_helper.from_array(f32(1, 32), "b")],
    )
    path = tmp_path / "noop.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    text = check(path, {"x": f32(4, 32)})
    assert "onnx.Cast" in text and "onnx.Expand" in text
    module, store = import_onnx(path)
    with store.activate():
        CanonicalizeOnnxPass().apply(make_context(), module)
    text = print_module(module)
    assert "onnx.Cast" not in text and "onnx.Expand" not in text
    assert "onnx.Add %arg0, %0 : (tensor<4x32xf32>, tensor<1x32xf32>)" in text
