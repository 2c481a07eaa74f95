"""Nothing outside the model's directory is read: ONNX external data that points elsewhere is refused.

Each row is one way an external-data ``location`` (or its offset) can point outside
the model or at nonsense; ``fpqc run`` and ``fpqc compile`` both refuse it with one
line, read nothing from the other file, and write nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from fpqc.cli import main

SECRET = np.arange(4, dtype=np.float32) + 1000.0


def model_with_external_data(directory: Path, location: str, offset: str = "0") -> Path:
    """``y = x + w`` with ``w`` [4] float32 stored as external data at ``location``."""
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", "16")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        initializer=[w],
    )
    path = directory / "model" / "m.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def secret_outside(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(SECRET.tobytes())
    return secret


CASES = [
    # (case, location (from tmp_path), offset, key words)
    ("absolute path", lambda t: str(secret_outside(t)), "0", "outside the model's directory"),
    ("climbs out with ..", lambda t: (secret_outside(t), "../secret.bin")[1], "0", "outside the model's directory"),
    ("symlink leaving the directory", lambda t: symlink_out(t), "0", "outside the model's directory"),
    ("offset not a number", lambda t: beside(t), "abc", "offset or length that is not a number"),
    ("negative offset", lambda t: beside(t), "-4", "before the file's start"),
    ("missing file", lambda t: "nothing.bin", "0", "which is not a file next to the model"),
]


def symlink_out(tmp_path: Path) -> str:
    (tmp_path / "model").mkdir(exist_ok=True)
    (tmp_path / "model" / "data.bin").symlink_to(secret_outside(tmp_path))
    return "data.bin"


def beside(tmp_path: Path) -> str:
    (tmp_path / "model").mkdir(exist_ok=True)
    (tmp_path / "model" / "data.bin").write_bytes(np.zeros(4, np.float32).tobytes())
    return "data.bin"


@pytest.mark.parametrize(("case", "location", "offset", "words"), CASES, ids=[c[0] for c in CASES])
def test_external_data_outside_the_model_is_refused(tmp_path: Path, capsys, case, location, offset, words):
    model = model_with_external_data(tmp_path, location(tmp_path), offset)
    np.savez(tmp_path / "in.npz", x=np.zeros(4, np.float32))
    for command in (["run", str(model), "--inputs", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz")],
                    ["compile", str(model), "-o", str(tmp_path / "build")]):
        assert main(command) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err and "initializer 'w'" in err, err
    assert not (tmp_path / "out.npz").exists() and not (tmp_path / "build").exists()


def test_external_data_beside_the_model_is_read(tmp_path: Path, capsys):
    model = model_with_external_data(tmp_path, "sub/data.bin")
    (model.parent / "sub").mkdir()
    (model.parent / "sub" / "data.bin").write_bytes(SECRET.tobytes())
    np.savez(tmp_path / "in.npz", x=np.ones(4, np.float32))
    assert main(["run", str(model), "--inputs", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as out:
        np.testing.assert_array_equal(out["y"], SECRET + 1)
