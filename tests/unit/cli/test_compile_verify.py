"""End-to-end: the `fpqc` CLI the way a user runs it, on MLPs exported by torch.onnx.export."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
FPQC = str(BIN / "fpqc")


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([FPQC, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"fpqc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def values_compared(report: str) -> tuple[int, int]:
    """(values compared, values differing) from the totals line of `fpqc verify`."""
    match = re.search(r"^  values\s+([\d,]+) compared, ([\d,]+) differing", report, re.MULTILINE)
    assert match, report
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


def make_mlp(path: Path, *extra: str) -> Path:
    subprocess.run(
        [sys.executable, str(REPO / "examples/mlp/make_mlp.py"), "-o", str(path), *extra],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Linear(128, 256) -> GELU(tanh) -> Linear(256, 128), batch 8, TorchScript exporter."""
    return make_mlp(
        tmp_path_factory.mktemp("mlp") / "mlp.onnx",
        "--in", "128", "--hidden", "256", "--out", "128", "--batch", "8", "--exporter", "torchscript",
    )


@pytest.mark.parametrize("fmt", ["fp4", "fp6", "fp8"])
def test_compile_and_verify_bit_exact(mlp: Path, tmp_path: Path, fmt: str) -> None:
    build = tmp_path / "build"
    compiled = run("compile", str(mlp), "--target", "vck190", "--format", fmt, "-o", str(build))
    assert "2 quantized, 0 left in float" in compiled.stdout
    for name in ("manifest.json", "report.json", "report.txt", "model.hls.mlir", "weights.npz"):
        assert (build / name).is_file(), name
    for stage in ("0-onnx", "1-raised", "2-quantized", "3-step", "4-hls"):
        assert (build / "ir" / f"{stage}.mlir").is_file(), stage
    manifest = json.loads((build / "manifest.json").read_text())
    # Without calibration data fp4 and fp6 compile without GALT (it needs calibration).
    expected = {"fp4": "fp4-baseline", "fp6": "fp6-ght-dfq", "fp8": "fp8-rtn"}[fmt]
    assert manifest["target"] == "vck190" and manifest["recipe"] == expected

    verified = run("verify", str(build), "--samples", "2")
    assert "bit-identical" in verified.stdout
    # At least the model's 2 samples x 8 rows x 128 outputs, all bit-identical.
    compared, differing = values_compared(verified.stdout)
    assert compared >= 2048 and differing == 0


def test_a_compile_starts_neither_numba_nor_the_onnx_package(mlp: Path, tmp_path: Path) -> None:
    """A model without large weights compiles in numpy: only the interpreter's compiled loops and a
    large model's weights need numba (seconds to import and start); no compile needs the onnx package,
    whose import of ml_dtypes takes 1.5-2 s (its protobuf messages are loaded alone)."""
    script = (
        "import sys\n"
        "from fpqc.cli import main\n"
        f"assert main(['compile', {str(mlp)!r}, '--target', 'vck190', '--format', 'fp4', "
        f"'-o', {str(tmp_path / 'build')!r}]) == 0\n"
        "print([name for name in ('numba', 'onnx', 'ml_dtypes') if name in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


@pytest.mark.parametrize("own", [None, "20"])
def test_fpqc_lets_numpys_blas_threads_sleep_unless_the_user_says(own: str | None) -> None:
    """Imported before numpy (as by the commands), fpqc sets OpenBLAS's spin timeout low; a user's value wins."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if own is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = own
    script = "import os, fpqc, numpy; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == (own or "4")


def test_compile_3d_dynamo_export(tmp_path: Path) -> None:
    model = make_mlp(
        tmp_path / "mlp3d.onnx",
        "--in", "128", "--hidden", "128", "--out", "256", "--batch", "2", "--tokens", "4",
        "--exporter", "dynamo",
    )
    build = tmp_path / "build"
    compiled = run("compile", str(model), "--format", "fp4", "-o", str(build))
    assert "2 quantized" in compiled.stdout
    verified = run("verify", str(build), "--samples", "1")
    compared, differing = values_compared(verified.stdout)
    assert compared >= 2048 and differing == 0


def test_run_build_matches_float_model_closely(mlp: Path, tmp_path: Path) -> None:
    build = tmp_path / "build"
    run("compile", str(mlp), "--format", "fp8", "-o", str(build))
    x = np.random.default_rng(0).standard_normal((8, 128)).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    run("run", str(mlp), "--inputs", str(tmp_path / "in.npz"), "-o", str(tmp_path / "float.npz"))
    run("run", str(build), "--inputs", str(tmp_path / "in.npz"), "-o", str(tmp_path / "quant.npz"))
    reference = np.load(tmp_path / "float.npz")["y"]
    quantized = np.load(tmp_path / "quant.npz")["y"]
    assert quantized.shape == reference.shape == (8, 128)
    # FP8 (E4M3) weights and activations: a few percent of the output's scale.
    error = np.abs(quantized - reference).max() / np.abs(reference).max()
    assert 0 < error < 0.1


def test_same_input_gives_identical_build(mlp: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    run("compile", str(mlp), "-o", str(first))
    run("compile", str(mlp), "-o", str(second))
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


# ---------------------------------------------------------------------------
# Bad input: one clear line, non-zero exit, no traceback, no partial build.
# ---------------------------------------------------------------------------


def assert_clean_failure(result: subprocess.CompletedProcess[str], build: Path, *needles: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not build.exists()
    assert not [p for p in build.parent.iterdir() if p.name.startswith(f".{build.name}.")]


def test_missing_file(tmp_path: Path) -> None:
    build = tmp_path / "build"
    result = run("compile", str(tmp_path / "nope.onnx"), "-o", str(build), check=False)
    assert_clean_failure(result, build, "nope.onnx")


def test_not_an_onnx_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"\x00\x01 this is not a protobuf \xff" * 10)
    build = tmp_path / "build"
    assert_clean_failure(run("compile", str(bogus), "-o", str(build), check=False), build, "bogus.onnx")


def test_unsupported_op_names_node_and_op(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Softsign", ["x"], ["y"], name="my_softsign")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])],
    )
    path = tmp_path / "softsign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    build = tmp_path / "build"
    result = run("compile", str(path), "-o", str(build), check=False)
    assert_clean_failure(result, build, "my_softsign", "Softsign")


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [("--format", "fp5", "fp5"), ("--target", "zcu999", "zcu999"), ("--recipe", "magic", "magic")],
)
def test_unknown_option_values(mlp: Path, tmp_path: Path, option: str, value: str, needle: str) -> None:
    build = tmp_path / "build"
    result = run("compile", str(mlp), option, value, "-o", str(build), check=False)
    assert_clean_failure(result, build, needle)


def test_group_size_not_dividing(tmp_path: Path) -> None:
    model = make_mlp(tmp_path / "odd.onnx", "--in", "96", "--hidden", "128", "--out", "64")
    build = tmp_path / "build"
    result = run("compile", str(model), "-o", str(build), check=False)
    assert_clean_failure(result, build, "group size 128", "96")


def test_verify_on_given_inputs(mlp: Path, tmp_path: Path) -> None:
    build = tmp_path / "build"
    run("compile", str(mlp), "--format", "fp4", "-o", str(build))
    (name,) = [i.name for i in onnx.load(str(mlp)).graph.input]
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "in.npz", **{name: rng.standard_normal((8, 128), np.float32)})
    verified = run("verify", str(build), "--inputs", str(tmp_path / "in.npz"))
    assert "samples   1" in verified.stdout
    compared, differing = values_compared(verified.stdout)
    assert compared >= 8 * 128 and differing == 0

    np.savez(tmp_path / "wrong.npz", y=np.zeros((8, 128), np.float32))
    wrong = run("verify", str(build), "--inputs", str(tmp_path / "wrong.npz"), check=False)
    assert wrong.returncode == 1 and wrong.stderr.startswith(f"error: {tmp_path / 'wrong.npz'}: missing input '{name}'")
    both = run("verify", str(build), "--inputs", str(tmp_path / "in.npz"), "--samples", "2", check=False)
    assert both.returncode == 1 and "give --samples (seeded runs) or --inputs" in both.stderr
    missing = run("verify", str(build), "--inputs", str(tmp_path / "none.npz"), check=False)
    assert missing.returncode == 1 and "none.npz: no such file" in missing.stderr


def test_verify_rejects_non_build(tmp_path: Path) -> None:
    result = run("verify", str(tmp_path), check=False)
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
