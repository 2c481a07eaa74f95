"""ONNX's messages and values read without the onnx package, against the onnx package itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from fpqc.dialects.onnx.data_types import NUMPY_DTYPES, numpy_dtype
from fpqc.frontend.onnx_import import onnx_messages

PLAIN_TYPES = sorted(code for code in NUMPY_DTYPES if code not in (onnx.TensorProto.COMPLEX64,
                                                                      onnx.TensorProto.COMPLEX128))


def _printed_by_a_fresh_interpreter(script: str) -> str:
    """What ``script`` prints, run by a new Python (nothing of this process's imports)."""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_messages_are_onnxs_own_classes_whether_onnx_comes_first_or_later() -> None:
    script = (
        "import sys\n"
        "from fpqc.frontend.onnx_import import onnx_messages as m\n"
        "assert 'onnx' not in sys.modules and 'ml_dtypes' not in sys.modules\n"
        "import onnx\n"
        "assert m.ModelProto is onnx.ModelProto and m.TensorProto is onnx.TensorProto\n"
        "assert m.AttributeProto.TENSOR == onnx.AttributeProto.TENSOR\n"
        "print('ok')\n"
    )
    assert _printed_by_a_fresh_interpreter(script) == "ok"
    assert onnx_messages.ModelProto is onnx.ModelProto  # this process imported onnx first


def test_an_onnx_laid_out_otherwise_gives_its_own_module(tmp_path: Path) -> None:
    script = (
        "import importlib.machinery, importlib.util, sys\n"
        "from fpqc.frontend.onnx_import import onnx_messages as m\n"
        "elsewhere = importlib.machinery.ModuleSpec('onnx', None, is_package=True)\n"
        f"elsewhere.submodule_search_locations = [{str(tmp_path)!r}]  # no onnx_ml_pb2.py there\n"
        "importlib.util.find_spec = lambda name: elsewhere\n"
        "module = m._generated_module()\n"
        "import onnx\n"
        "assert module is onnx.onnx_ml_pb2 and module.ModelProto is m.ModelProto\n"
        "print('ok')\n"
    )
    assert _printed_by_a_fresh_interpreter(script) == "ok"


def test_every_onnx_data_type_has_the_dtype_onnx_gives_it() -> None:
    for name, code in onnx.TensorProto.DataType.items():
        if code == onnx.TensorProto.UNDEFINED:
            continue
        assert numpy_dtype(code) == np.dtype(helper.tensor_dtype_to_np_dtype(code)), name


def _tensors(code: int, values: np.ndarray) -> list[onnx.TensorProto]:
    typed = helper.make_tensor("t", code, values.shape, values.reshape(-1).tolist() if code != onnx.TensorProto.FLOAT16
                               else values.reshape(-1), raw=False)
    raw = helper.make_tensor("t", code, values.shape, values.tobytes(), raw=True)
    return [typed, raw]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PLAIN_TYPES), st.lists(st.integers(0, 3), min_size=0, max_size=3),
       st.integers(0, 2**32 - 1))
def test_to_array_is_numpy_helpers_for_in_file_tensors(code: int, shape: list[int], seed: int) -> None:
    dtype = NUMPY_DTYPES[code]
    rng = np.random.default_rng(seed)
    raw_bits = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    values = raw_bits.view(dtype) if dtype != np.bool_ else raw_bits.astype(bool)
    values = values.reshape(shape)
    for tensor in _tensors(code, values):
        ours, theirs = onnx_messages.to_array(tensor), numpy_helper.to_array(tensor)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert ours.tobytes() == theirs.tobytes()  # bits: NaNs of float types compare too


def test_types_numpy_lacks_are_read_by_onnx() -> None:
    bf16 = helper.make_tensor("t", onnx.TensorProto.BFLOAT16, [2], [1.0, -2.5])
    assert np.array_equal(onnx_messages.to_array(bf16).astype(np.float32), [1.0, -2.5])


def test_a_tensor_whose_values_do_not_fill_its_shape_is_refused() -> None:
    tensor = helper.make_tensor("t", onnx.TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    tensor.dims[0] = 4
    with pytest.raises(ValueError):
        onnx_messages.to_array(tensor)


@pytest.mark.parametrize("value", [3, 2.5, "text", [1, 2], [0.5, 1.5], ["a", "b"],
                                   helper.make_tensor("t", onnx.TensorProto.INT64, [2], [4, 5])])
def test_attribute_value_is_onnx_helpers(value) -> None:
    attr = helper.make_attribute("a", value)
    assert onnx_messages.attribute_value(attr) == helper.get_attribute_value(attr)


def test_load_model_proto_reads_what_onnx_load_reads(tmp_path: Path) -> None:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])])
    model = helper.make_model(graph)
    binary, text = tmp_path / "m.onnx", tmp_path / "m.txtpb"
    onnx.save(model, str(binary))
    onnx.save(model, str(text), format="textproto")
    for path in (binary, text):
        assert onnx_messages.load_model_proto(path) == onnx.load(str(path), load_external_data=False)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(binary.read_bytes()[:-3])
    with pytest.raises(DecodeError):
        onnx_messages.load_model_proto(broken)


def test_a_generation_imports_neither_onnx_nor_ml_dtypes() -> None:
    """The VQVAE decoder of ``fpqc generate`` and ``fpqc eval`` shares the VAR export's modules (its weight
    names, the external-data writer): they read and write ONNX through these messages."""
    script = (
        "import sys\n"
        "import fpqc.runtime.host_vqvae, fpqc.frontend.var.export\n"
        "print([name for name in ('onnx', 'ml_dtypes') if name in sys.modules])\n"
    )
    assert _printed_by_a_fresh_interpreter(script) == "[]"
