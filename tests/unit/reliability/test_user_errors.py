"""Every user error is one line, exit status 1, no traceback, nothing written: a table, one row per fault.

Rows are ``(case, command, key words)``: ``command`` builds the argument list of
``fpqc`` or ``fpqc-opt`` from a directory of prepared files (see :func:`prepared`);
each case asserts the exit status, that stderr is a single ``error:`` line holding
the key words, and that no output file appeared.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from fpqc.cli import main as fpqc_main
from fpqc.tools.opt import main as opt_main

MAKE_MLP = Path(__file__).parents[3] / "examples" / "mlp" / "make_mlp.py"
GELU = Path(__file__).parents[2] / "filecheck" / "transforms" / "raise-onnx-to-fpq" / "gelu.mlir"


def tiny_onnx(path: Path, weight: np.ndarray | None = None, opset: int = 17, outputs: bool = True,
              x_shape: tuple[int, ...] = (2, 4)) -> Path:
    """``y = x @ w`` (w [4, 3]), with the given weight values, opset and input shape."""
    w = np.ones((4, 3), np.float32) if weight is None else weight
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])] if outputs else [],
        initializer=[onnx.numpy_helper.from_array(w, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A directory with the good and bad files the rows refer to."""
    d = tmp_path_factory.mktemp("faults")
    subprocess.run([sys.executable, str(MAKE_MLP), "-o", str(d / "mlp.onnx")], check=True, capture_output=True)
    np.savez(d / "inputs.npz", x=np.zeros((8, 128), np.float32))
    np.save(d / "array.npy", np.zeros(3))
    with open(d / "pickled.npz", "wb") as f:
        pickle.dump({"x": np.zeros(3)}, f)
    (d / "corrupt.npz").write_bytes(b"PK\x03\x04 this is no zip archive")
    (d / "inputs_dir").mkdir()
    nan = np.ones((4, 3), np.float32)
    nan[1, 2] = np.nan
    tiny_onnx(d / "nan.onnx", nan)
    inf = np.ones((4, 3), np.float32)
    inf[0, 0] = np.inf
    tiny_onnx(d / "inf.onnx", inf)
    tiny_onnx(d / "opset99.onnx", opset=99)
    tiny_onnx(d / "no_outputs.onnx", outputs=False)
    tiny_onnx(d / "zero_dim.onnx", x_shape=(0, 4))
    (d / "deep.mlir").write_text("builtin.module {" * 3000 + "}" * 3000)
    (d / "big_int.mlir").write_text(
        "func.func @f() -> tensor<2xi8> {\n  %0 = onnx.Constant dense<[1, 99999999999999999999999]> : tensor<2xi8>\n"
        "  func.return %0 : tensor<2xi8>\n}\n"
    )
    (d / "binary.mlir").write_bytes(bytes(range(256)))
    assert fpqc_main(["compile", str(d / "mlp.onnx"), "-o", str(d / "build")]) == 0
    return d


def corrupted_build(d: Path, name: str, change) -> Path:
    """A copy of the good build with one change applied."""
    import shutil

    build = d / f"build_{name}"
    if not build.exists():
        shutil.copytree(d / "build", build)
        change(build)
    return build


def garbage_manifest(build: Path) -> None:
    (build / "manifest.json").write_text("not json {")


def other_version(build: Path) -> None:
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["fpqc"] = "0.0.1"
    (build / "manifest.json").write_text(json.dumps(manifest))


def missing_kernel(build: Path) -> None:
    next((build / "kernels").glob("kernel_*.cpp")).unlink()


def truncated_ir(build: Path) -> None:
    text = (build / "model.hls.mlir").read_text()
    (build / "model.hls.mlir").write_text(text[: len(text) // 3])


def unknown_stage_kind(build: Path) -> None:
    """A stage kind this fpqc does not have, as in a build of an older fpqc (same size: the inventory passes)."""
    text = (build / "model.hls.mlir").read_text()
    (build / "model.hls.mlir").write_text(text.replace(" lut_multiply ", " lut_multiplx "))


def code_out_of_range(build: Path) -> None:
    """A weight code no 4-bit format has, written in place (the archive keeps its size)."""
    with np.load(build / "weights.npz") as data:
        arrays = {k: data[k] for k in data.files}
    name = next(k for k, v in arrays.items() if v.dtype == np.uint8)
    arrays[name].flat[0] = 200
    with open(build / "weights.npz", "wb") as f:
        np.savez(f, **arrays)


def bad_schedule(build: Path) -> None:
    (build / "host_schedule.json").write_text("{")


FPQC_ROWS = [
    ("inputs: corrupt zip", lambda d: ["run", d / "mlp.onnx", "--inputs", d / "corrupt.npz", "-o", d / "o.npz"],
     "not a readable .npz archive"),
    ("inputs: a .npy", lambda d: ["run", d / "mlp.onnx", "--inputs", d / "array.npy", "-o", d / "o.npz"],
     "a .npy array, not an .npz archive"),
    ("inputs: pickled data", lambda d: ["run", d / "mlp.onnx", "--inputs", d / "pickled.npz", "-o", d / "o.npz"],
     "pickled Python data"),
    ("inputs: a directory", lambda d: ["run", d / "mlp.onnx", "--inputs", d / "inputs_dir", "-o", d / "o.npz"],
     "is a directory"),
    ("inputs: an ONNX file", lambda d: ["run", d / "mlp.onnx", "--inputs", d / "mlp.onnx", "-o", d / "o.npz"],
     "not an .npz archive"),
    ("run -o a directory", lambda d: ["run", d / "mlp.onnx", "--inputs", d / "inputs.npz", "-o", d / "inputs_dir"],
     "is a directory"),
    ("run -o in a missing directory",
     lambda d: ["run", d / "mlp.onnx", "--inputs", d / "inputs.npz", "-o", d / "nowhere" / "o.npz"], "does not exist"),
    ("calib: a .npy", lambda d: ["compile", d / "mlp.onnx", "--recipe", "fpqvar-w4a4", "--calib", d / "array.npy",
                                 "-o", d / "out"], "a .npy array"),
    ("NaN weight", lambda d: ["compile", d / "nan.onnx", "-o", d / "out"], "holds 1 NaN value(s)"),
    ("Inf weight", lambda d: ["compile", d / "inf.onnx", "-o", d / "out"], "infinite weight"),
    ("opset newer than supported", lambda d: ["compile", d / "opset99.onnx", "-o", d / "out"],
     "opset 99 of the default domain is not supported"),
    ("no outputs", lambda d: ["compile", d / "no_outputs.onnx", "-o", d / "out"], "has no outputs"),
    ("zero-size input", lambda d: ["compile", d / "zero_dim.onnx", "-o", d / "out"], "a dimension of size 0"),
    ("--input-shape 0", lambda d: ["compile", d / "mlp.onnx", "--input-shape", "x=0x128", "-o", d / "out"],
     "at least 1"),
    ("--input-shape negative", lambda d: ["compile", d / "mlp.onnx", "--input-shape", "x=-8x128", "-o", d / "out"],
     "at least 1"),
    ("build: garbage manifest", lambda d: ["run", corrupted_build(d, "manifest", garbage_manifest), "--inputs",
                                           d / "inputs.npz", "-o", d / "o.npz"], "manifest.json is not readable JSON"),
    ("build: another fpqc version", lambda d: ["run", corrupted_build(d, "version", other_version), "--inputs",
                                               d / "inputs.npz", "-o", d / "o.npz"], "built by fpqc 0.0.1"),
    ("build: a kernel file missing", lambda d: ["verify", corrupted_build(d, "kernel", missing_kernel)],
     "is missing from the build"),
    ("build: truncated IR", lambda d: ["run", corrupted_build(d, "ir", truncated_ir), "--inputs", d / "inputs.npz",
                                       "-o", d / "o.npz"], "model.hls.mlir has changed since fpqc wrote it"),
    ("build: IR of another fpqc", lambda d: ["run", corrupted_build(d, "stage", unknown_stage_kind), "--inputs",
                                             d / "inputs.npz", "-o", d / "o.npz"], "(a stage kind); recompile the model"),
    ("build: a weight code outside its format", lambda d: ["run", corrupted_build(d, "codes", code_out_of_range),
                                                           "--inputs", d / "inputs.npz", "-o", d / "o.npz"],
     "code 200 is not a code of e2m1"),
    ("build: corrupt host schedule", lambda d: ["verify", corrupted_build(d, "schedule", bad_schedule)],
     "host_schedule.json has changed since fpqc wrote it"),
    ("verify --jobs 0", lambda d: ["verify", d / "build", "--jobs", "0"], "--jobs must be at least 1"),
]

OPT_ROWS = [
    ("unknown pass", lambda d: [GELU, "-p", "nosuchpass"], "unknown pass 'nosuchpass'"),
    ("option of the wrong type", lambda d: [GELU, "-p", "quantize{group-size=abc}"], "'abc', where an int is expected"),
    ("keep-float typo", lambda d: [GELU, "-p", "raise-onnx-to-fpq,quantize{keep-float=fc3}"], "'fc3', which is not a role"),
    ("roles typo", lambda d: [GELU, "-p", "group-hadamard{roles=mat_qvk}"], "'mat_qvk', which is not a role"),
    ("missing file", lambda d: [d / "missing.mlir"], "no such file"),
    ("a directory", lambda d: [d / "inputs_dir"], "is a directory"),
    ("a binary file", lambda d: [d / "binary.mlir"], "not an MLIR text file"),
    ("unwritable -o", lambda d: [GELU, "-o", d / "nowhere" / "out.mlir"], "cannot write the output"),
    ("deep nesting", lambda d: [d / "deep.mlir"], "nested too deeply"),
    ("integer out of range", lambda d: [d / "big_int.mlir"], "out of range for type i8"),
    ("weights: an ONNX file", lambda d: [GELU, "--weights", d / "mlp.onnx"], "not an .npz archive"),
]


def check_one_error_line(err: str, words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize(("case", "command", "words"), FPQC_ROWS, ids=[r[0] for r in FPQC_ROWS])
def test_fpqc_user_errors(prepared: Path, capsys, case, command, words):
    assert fpqc_main([str(a) for a in command(prepared)]) == 1
    check_one_error_line(capsys.readouterr().err, words)
    assert not (prepared / "o.npz").exists() and not (prepared / "out").exists()
    assert not list(prepared.glob(".*.tmp")) and not list(prepared.glob(".out.*"))


@pytest.mark.parametrize(("case", "command", "words"), OPT_ROWS, ids=[r[0] for r in OPT_ROWS])
def test_fpqc_opt_user_errors(prepared: Path, capsys, case, command, words):
    assert opt_main([str(a) for a in command(prepared)]) == 1
    check_one_error_line(capsys.readouterr().err, words)


def test_fpqc_opt_parse_errors_keep_the_caret(tmp_path: Path, capsys):
    (tmp_path / "bad.mlir").write_text("func.func @f() {\n  %0 = onnx.Constant dense<1.0> : tensor<2xf3\n}\n")
    assert opt_main([str(tmp_path / "bad.mlir")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "^" in err and "Traceback" not in err


def test_fpqc_opt_offers_only_the_mlir_target(capsys):
    with pytest.raises(SystemExit):
        opt_main([str(GELU), "-t", "llvm"])
    assert "choose from mlir)" in capsys.readouterr().err
