"""The class-dropout fold and how the importer reads weights (views, never copies)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpqc.context import print_module
from fpqc.errors import FpqcError
from fpqc.frontend.onnx_import import class_dropout_aliases, import_onnx
from fpqc.weights import LazyWeight


def tensor(name: str, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def dropout_graph(condition: str = "less", null_class_constant: bool = True) -> onnx.GraphProto:
    """``emb[Where(cond, null, label)]`` with the released VAR's dropout condition or a variant.

    ``condition``: ``"less"`` (Less(rand, p)), ``"greater"`` (Greater(p, rand)),
    ``"label"`` (Less(label, p): not random) or ``"random-rhs"`` (Less(p, rand)).
    """
    nodes = [
        helper.make_node("ConstantOfShape", ["batch"], ["zeros"], name="zeros"),
        helper.make_node("RandomUniformLike", ["zeros"], ["rand"], name="rand", dtype=TensorProto.FLOAT),
    ]
    if condition == "less":
        nodes.append(helper.make_node("Less", ["rand", "p"], ["drop"], name="cmp"))
    elif condition == "greater":
        nodes.append(helper.make_node("Greater", ["p", "rand"], ["drop"], name="cmp"))
    elif condition == "random-rhs":
        nodes.append(helper.make_node("Less", ["p", "rand"], ["drop"], name="cmp"))
    else:
        nodes.append(helper.make_node("Less", ["label", "three"], ["drop"], name="cmp"))
    initializers = [
        numpy_helper.from_array(np.array([2], np.int64), "batch"),
        numpy_helper.from_array(np.array(0.1, np.float32), "p"),
        numpy_helper.from_array(np.array(3, np.int64), "three"),
        numpy_helper.from_array(np.arange(55, dtype=np.float32).reshape(11, 5), "emb"),
    ]
    if null_class_constant:
        initializers.append(numpy_helper.from_array(np.array(10, np.int64), "null"))
        inputs = [tensor("label", [2], TensorProto.INT64)]
    else:
        inputs = [tensor("label", [2], TensorProto.INT64), tensor("null", [], TensorProto.INT64)]
    nodes += [
        helper.make_node("Where", ["drop", "null", "label"], ["chosen"], name="pick"),
        helper.make_node("Gather", ["emb", "chosen"], ["y"], name="lookup"),
    ]
    return helper.make_graph(nodes, "g", inputs, [tensor("y", [2, 5])], initializer=initializers)


def save(path: Path, graph: onnx.GraphProto) -> Path:
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


@pytest.mark.parametrize("condition", ["less", "greater"])
def test_dropout_folds_to_the_label(tmp_path: Path, condition: str) -> None:
    graph = dropout_graph(condition)
    assert class_dropout_aliases(graph) == {"chosen": "label"}
    text = print_module(import_onnx(save(tmp_path / "m.onnx", graph))[0])
    assert "onnx.Gather %0, %arg0" in text
    for gone in ("Where", "Less", "Greater", "RandomUniformLike", "ConstantOfShape"):
        assert f"onnx.{gone}" not in text


def test_where_on_a_real_condition_stays(tmp_path: Path) -> None:
    graph = dropout_graph("label")
    assert class_dropout_aliases(graph) == {}
    text = print_module(import_onnx(save(tmp_path / "m.onnx", graph))[0])
    assert "onnx.Less %arg0" in text and "onnx.Where" in text
    assert "RandomUniformLike" not in text  # dead: nothing reads it


@pytest.mark.parametrize(("condition", "constant_null"), [("random-rhs", True), ("less", False)],
                         ids=["rand-not-below-p", "null-not-constant"])
def test_other_random_structures_are_errors(tmp_path: Path, condition: str, constant_null: bool) -> None:
    graph = dropout_graph(condition, constant_null)
    assert class_dropout_aliases(graph) == {}
    with pytest.raises(FpqcError, match=r"node 'rand' \(RandomUniformLike\): random numbers are nondeterministic"):
        import_onnx(save(tmp_path / "m.onnx", graph))


def big_linear(path: Path, rows: int = 256, cols: int = 512, external: bool = True) -> tuple[Path, np.ndarray]:
    w = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [tensor("x", [2, rows])], [tensor("y", [2, cols])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    if external:
        onnx.save_model(model, path, save_as_external_data=True, location="w.bin", size_threshold=0)
    else:
        onnx.save_model(model, path)
    return path, w


def test_external_data_is_memory_mapped(tmp_path: Path) -> None:
    path, w = big_linear(tmp_path / "m.onnx")
    _, store = import_onnx(path)
    array = store.get("w")
    np.testing.assert_array_equal(array, w)
    assert not array.flags.owndata and not array.flags.writeable
    assert isinstance(array.base, np.memmap) or isinstance(array.base.base, np.memmap)


def test_weight_subset_shares_the_entries(tmp_path: Path) -> None:
    path, w = big_linear(tmp_path / "m.onnx")
    _, store = import_onnx(path)
    pruned = store.subset(["w"])
    assert pruned.keys() == ["w"] and pruned.entry("w") is store.entry("w")
    np.testing.assert_array_equal(pruned.get("w"), w)
    with pytest.raises(FpqcError, match=r"weight 'v' is referenced by the IR but not in the weight store"):
        store.subset(["v"])


@pytest.mark.parametrize("streaming", [False, True])
def test_external_data_is_mapped_when_read(tmp_path: Path, streaming: bool) -> None:
    """External data is a lazy weight: mapped on each read, kept after a read only by a non-streaming store."""
    path, w = big_linear(tmp_path / "m.onnx")
    _, store = import_onnx(path, streaming=streaming)
    assert isinstance(store.entry("w"), LazyWeight) and store.nbytes("w") == w.nbytes
    first, second = store.view("w"), store.view("w")
    np.testing.assert_array_equal(first, w)
    assert first is not second and not np.shares_memory(first, second)
    kept = store.get("w")
    assert (store.entry("w") is kept) is not streaming
    np.testing.assert_array_equal(kept, w)


def test_in_file_weights_are_views(tmp_path: Path) -> None:
    path, w = big_linear(tmp_path / "m.onnx", external=False)
    _, store = import_onnx(path)
    array = store.get("w")
    np.testing.assert_array_equal(array, w)
    assert not array.flags.owndata and not array.flags.writeable


def test_missing_external_data_names_the_file(tmp_path: Path) -> None:
    path, _ = big_linear(tmp_path / "m.onnx")
    (tmp_path / "w.bin").unlink()
    with pytest.raises(FpqcError, match=r"m\.onnx: cannot read the model's external data: initializer 'w' is stored "
                                        r"in 'w\.bin', which is not a file next to the model"):
        import_onnx(path)


def test_external_data_removed_after_import_is_one_clear_error(tmp_path: Path) -> None:
    path, _ = big_linear(tmp_path / "m.onnx")
    _, store = import_onnx(path, streaming=True)
    (tmp_path / "w.bin").unlink()
    with pytest.raises(FpqcError, match=r"m\.onnx: cannot read the model's external data: initializer 'w' in "
                                        r"'w\.bin' \(No such file or directory\)"):
        store.view("w")


def test_truncated_external_data(tmp_path: Path) -> None:
    path, _ = big_linear(tmp_path / "m.onnx")
    data = tmp_path / "w.bin"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(FpqcError, match=r"initializer 'w' ends at byte 524288 of 'w\.bin', which has 1000"):
        import_onnx(path)


_MEASURE = r"""
import resource, sys, time
from fpqc.frontend.onnx_import import import_onnx
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
module, store = import_onnx(sys.argv[1])
seconds = time.perf_counter() - start
print(seconds, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024, len(store))
"""


def synthetic_transformer(path: Path, blocks: int, width: int) -> int:
    """A VAR-like stack (LayerNorm, 4 MatMuls, GELU by Mul/Tanh, residual) with external weights."""
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for b in range(blocks):
        p = f"blocks.{b}."
        ln = helper.make_node("LayerNormalization", [x, "ones"], [p + "ln"], axis=-1, epsilon=1e-6)
        nodes.append(ln)
        h = p + "ln"
        for name, (k, n) in (("qkv", (width, 3 * width)), ("proj", (3 * width, width)), ("fc1", (width, 4 * width)),
                             ("fc2", (4 * width, width))):
            inits.append(numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32) * 0.01, p + name))
            nodes.append(helper.make_node("MatMul", [h, p + name], [p + name + ".out"]))
            h = p + name + ".out"
            if name == "fc1":
                nodes += [
                    helper.make_node("Tanh", [h], [h + ".tanh"]),
                    helper.make_node("Mul", [h, h + ".tanh"], [h + ".act"]),
                ]
                h = h + ".act"
        nodes.append(helper.make_node("Add", [x, h], [p + "out"]))
        x = p + "out"
    nodes.append(helper.make_node("Identity", [x], ["y"]))
    inits.append(numpy_helper.from_array(np.ones(width, np.float32), "ones"))
    graph = helper.make_graph(nodes, "g", [tensor("x", [1, 8, width])], [tensor("y", [1, 8, width])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save_model(model, path, save_as_external_data=True, location="weights.bin", size_threshold=1024)
    return (path.parent / "weights.bin").stat().st_size


def test_import_does_not_read_the_weights(tmp_path: Path) -> None:
    """~200 MB of weights: import is fast and its memory growth is a small part of the file."""
    path = tmp_path / "big.onnx"
    size = synthetic_transformer(path, blocks=12, width=512)
    result = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True)
    seconds, grown, weights = result.stdout.split()
    assert int(weights) == 12 * 4 + 1
    assert float(seconds) < 5.0
    assert int(grown) < 0.25 * size, f"import grew RSS by {int(grown) / 1e6:.0f} MB for {size / 1e6:.0f} MB of weights"
