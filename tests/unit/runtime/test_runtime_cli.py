"""fpqc generate / fpqc calibrate from the command line: outputs and one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fpqc.cli import _parse_classes, main
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var.export import export_var

CONFIG = VARConfig.tiny()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return export_var(CONFIG, tmp_path_factory.mktemp("tiny"), route="fpqc", batch=2)


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_generate_writes_images_tokens_and_a_grid(tiny: Path, tmp_path: Path, capsys):
    out = tmp_path / "samples.npz"
    assert main(["generate", str(tiny), "--classes", "2,5", "--samples", "2", "--seed", "3", "-o", str(out)]) == 0
    with np.load(out) as z:
        assert z["images"].shape == (4, CONFIG.image_size, CONFIG.image_size, 3)
        np.testing.assert_array_equal(z["labels"], [2, 2, 5, 5])
        assert [z[f"tokens.scale{k}"].shape for k in range(len(CONFIG.patch_nums))] == [
            (4, pn * pn) for pn in CONFIG.patch_nums
        ]
    assert out.with_suffix(".png").is_file()
    assert "generated 4 images" in capsys.readouterr().out


@pytest.mark.parametrize("spec", ["0-x", "5-2", "", "-3", "1,,2"])
def test_bad_classes_spec(tiny: Path, tmp_path: Path, capsys, spec: str):
    assert main(["calibrate", str(tiny), "--classes", spec, "-o", str(tmp_path / "c.npz")]) == 1
    assert f"--classes '{spec}'" in error_line(capsys)
    assert not (tmp_path / "c.npz").exists()


def test_classes_out_of_range(tiny: Path, tmp_path: Path, capsys):
    assert main(["calibrate", str(tiny), "--classes", "8-12", "-o", str(tmp_path / "c.npz")]) == 1
    assert "class labels must be in 0..9; got 10" in error_line(capsys)


def test_classes_spec_forms():
    assert _parse_classes("0-3") == [0, 1, 2, 3]
    assert _parse_classes("3,5,7") == [3, 5, 7]
    assert _parse_classes("0-1,9") == [0, 1, 9]


def test_missing_vae_npz(tiny: Path, tmp_path: Path, capsys):
    shutil.copyfile(tiny, tmp_path / "var.onnx")
    for command in ("calibrate", "generate"):
        assert main([command, str(tmp_path / "var.onnx"), "-o", str(tmp_path / "out.npz")]) == 1
        assert f"{tmp_path / 'var.onnx'}: no VQVAE (vae.npz beside the model); pass" in error_line(capsys)


def test_model_without_var_config(tmp_path: Path, capsys):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "relu.onnx")
    assert main(["calibrate", str(tmp_path / "relu.onnx"), "-o", str(tmp_path / "c.npz")]) == 1
    assert "relu.onnx: no VAR attention was recognised" in error_line(capsys)


def test_calibrate_refuses_a_build_directory(tmp_path: Path, capsys):
    assert main(["calibrate", str(tmp_path), "-o", str(tmp_path / "c.npz")]) == 1
    assert "calibration runs the float model" in error_line(capsys)
