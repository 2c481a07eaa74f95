"""Property-based fuzzing: no input makes fpqc-opt or the ONNX importer end in a traceback.

Valid inputs are mutated (the IR of the FileCheck tests, as text; the demo MLP and a
small graph of every op kind, as ONNX protobufs) and fed to the tools the way a user
does; every outcome must be success or a user error (exit status 0 or 1, one
``error:`` line).  Anything else escapes as an exception and hypothesis shrinks it.

``make test`` runs a bounded number of examples (about a minute in all); a longer run::

    FPQC_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/unit/reliability/test_fuzz.py   # random, not the fixed seed
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from fpqc.cli import main as fpqc_main
from fpqc.dialects.onnx import ONNX_OPS
from fpqc.tools.opt import main as opt_main

EXAMPLES = int(os.environ.get("FPQC_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="FPQC_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

FILECHECK = Path(__file__).parents[2] / "filecheck"
IR_FILES = sorted(FILECHECK.rglob("*.mlir"))
MAKE_MLP = Path(__file__).parents[3] / "examples" / "mlp" / "make_mlp.py"
PASSES = ["", "canonicalize-onnx", "raise-onnx-to-fpq", "raise-onnx-to-fpq,quantize", "raise-onnx-to-fpq,quantize,outline-kernels"]
NASTY = ["", "}", "{", "%", "@", "dense<", ">", "99999999999999999999999", "-1", "0x", "tensor<0xf32>",
         "tensor<-1xf32>", "\"", "#fpq.quant<", "!fpq.float<e9m9>", "loc(", "^bb0:", "nan", "inf", "1e999"]


def one_line_or_success(status: int, err: str) -> None:
    assert status in (0, 1), err
    assert "Traceback" not in err
    if status == 1:
        assert err.strip().startswith("error: "), err


@st.composite
def mutated_ir(draw) -> str:
    text = draw(st.sampled_from(IR_FILES)).read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    text = "\n".join(lines)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(text) - 1)))
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "swap-number"]))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        elif kind == "insert":
            text = text[:at] + draw(st.sampled_from(NASTY)) + text[at:]
        elif kind == "duplicate":
            end = min(len(text), at + draw(st.integers(1, 80)))
            text = text[:end] + text[at:end] + text[end:]
        else:
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            if digits:
                i = draw(st.sampled_from(digits))
                text = text[:i] + draw(st.sampled_from(["0", "7", "65536", "-3", "1e40"])) + text[i + 1:]
    return text


@FUZZ
@given(text=mutated_ir(), passes=st.sampled_from(PASSES))
def test_fpqc_opt_never_crashes(tmp_path_factory, capsys, text: str, passes: str):
    path = tmp_path_factory.mktemp("ir") / "fuzz.mlir"
    path.write_text(text)
    status = opt_main([str(path), *(["-p", passes] if passes else [])])
    one_line_or_success(status, capsys.readouterr().err)


def every_kind_graph() -> onnx.ModelProto:
    """A small valid graph with many op kinds and attributes for the mutator to work on."""
    w = onnx.numpy_helper.from_array(np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4), "w")
    shape = onnx.numpy_helper.from_array(np.array([2, 2, 4], np.int64), "shape")
    axes = onnx.numpy_helper.from_array(np.array([1], np.int64), "axes")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["a"], name="mm"),
        helper.make_node("Add", ["a", "a"], ["b"], name="add"),
        helper.make_node("Reshape", ["b", "shape"], ["c"], name="reshape"),
        helper.make_node("Transpose", ["c"], ["d"], perm=[0, 2, 1], name="transpose"),
        helper.make_node("Softmax", ["d"], ["e"], axis=-1, name="softmax"),
        helper.make_node("ReduceL2", ["e", "axes"], ["f"], keepdims=1, name="reducel2"),
        helper.make_node("Div", ["e", "f"], ["g"], name="div"),
        helper.make_node("Tanh", ["g"], ["y"], name="tanh"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4, 1])], initializer=[w, shape, axes],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def seed_models(tmp_path_factory) -> list[bytes]:
    mlp = tmp_path_factory.mktemp("mlp") / "mlp.onnx"
    subprocess.run([sys.executable, str(MAKE_MLP), "-o", str(mlp)], check=True, capture_output=True)
    return [mlp.read_bytes(), every_kind_graph().SerializeToString()]


@st.composite
def mutation(draw) -> list[tuple]:
    return draw(st.lists(st.tuples(
        st.sampled_from(["op_type", "attribute", "drop-input", "rename-input", "dims", "initializer-bytes",
                         "opset", "drop-node", "flip-byte"]),
        st.integers(0, 10**6), st.integers(-4, 2**31),
    ), min_size=1, max_size=3))


def mutate(data: bytes, steps: list[tuple]) -> bytes:
    model = onnx.ModelProto()
    model.ParseFromString(data)
    graph = model.graph
    ops = sorted(ONNX_OPS)
    for kind, pick, value in steps:
        node = graph.node[pick % len(graph.node)] if graph.node else None
        if kind == "flip-byte":
            raw = bytearray(model.SerializeToString())
            raw[pick % len(raw)] ^= 1 << (value % 8)
            try:
                model.ParseFromString(bytes(raw))
            except Exception:  # noqa: BLE001 -- a flip that breaks the protobuf: fuzz the bytes as they are
                return bytes(raw)
            graph = model.graph
        elif kind == "op_type" and node is not None:
            node.op_type = ops[value % len(ops)]
        elif kind == "attribute" and node is not None:
            if node.attribute:
                attribute = node.attribute[pick % len(node.attribute)]
                attribute.i = value
                if attribute.ints:
                    attribute.ints[pick % len(attribute.ints)] = value
            else:
                node.attribute.append(helper.make_attribute("axis", value))
        elif kind == "drop-input" and node is not None and node.input:
            del node.input[pick % len(node.input)]
        elif kind == "rename-input" and node is not None and node.input:
            node.input[pick % len(node.input)] = f"v{value}"
        elif kind == "dims":
            tensors = [i.type.tensor_type for i in graph.input] + [o.type.tensor_type for o in graph.output]
            dims = [d for t in tensors for d in t.shape.dim]
            if dims:
                dims[pick % len(dims)].dim_value = value % 1024 - 2
        elif kind == "initializer-bytes" and graph.initializer:
            init = graph.initializer[pick % len(graph.initializer)]
            init.dims[:] = [value % 7] if value % 3 else list(init.dims)
        elif kind == "opset" and model.opset_import:
            model.opset_import[0].version = value % 30
        elif kind == "drop-node" and len(graph.node) > 1:
            del graph.node[pick % len(graph.node)]
    return model.SerializeToString()


@FUZZ
@given(which=st.integers(0, 1), steps=mutation())
def test_importer_never_crashes(seed_models, tmp_path_factory, capsys, which: int, steps: list[tuple]):
    directory = tmp_path_factory.mktemp("onnx")
    model = directory / "fuzz.onnx"
    model.write_bytes(mutate(seed_models[which], steps))
    inputs = directory / "in.npz"
    np.savez(inputs, x=np.ones((8, 128) if which == 0 else (4, 8), np.float32))
    status = fpqc_main(["run", str(model), "--inputs", str(inputs), "-o", str(directory / "out.npz")])
    one_line_or_success(status, capsys.readouterr().err)
