"""A VAR exported as a user of the released code exports it, taken through fpqc from ONNX to images.

fpqc's reference VAR (:mod:`fpqc.frontend.var.transformer`) is written operation
for operation like the released ``models/var.py`` and ``models/basic_var.py``:
``scaled_dot_product_attention(..., scale=1)``, the ``main_type`` probe and its
casts, the ``[:, :ed]`` slices, the class dropout applied whenever
``cond_drop_rate > 0``.  Here it is exported with a bare ``torch.onnx.export``
call — no input names, no fpqc metadata, no ``vae.npz`` — and its VQVAE is saved
as a released-style ``.pth`` state dict, so every configuration fpqc needs is
read off the graph and the checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from fpqc.backends.interp.runner import run_module
from fpqc.cli import main
from fpqc.compiler import load_onnx
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var.export import build_models, example_inputs, torch_onnx_export

ort = pytest.importorskip("onnxruntime")

EXPORTS = [("torchscript", 17, 2), ("torchscript", 18, 3), ("dynamo", 18, 4)]
"""(exporter, opset, depth).  The dynamo exporter writes opset 18 even when asked for 17."""


def released_style_config(depth: int) -> VARConfig:
    """A small VAR whose VQVAE has the released GroupNorm(32), so its checkpoint alone describes it."""
    return VARConfig(
        depth=depth, patch_nums=(1, 2, 3), vocab_size=32, Cvae=8, embed_dim=128, num_heads=2, num_classes=10,
        vae_ch=32, vae_ch_mult=(1, 2), vae_num_res_blocks=1,
    )


def export_like_a_user(directory: Path, exporter: str, opset: int, depth: int) -> tuple[Path, Path, tuple]:
    """``torch.onnx.export(var, (label_B, x))`` and ``torch.save(vae.state_dict())``, nothing else."""
    cfg = released_style_config(depth)
    var, vae = build_models(cfg)
    var.init_weights(seed=0, init_adaln_gamma=0.3)  # blocks that matter, so quantization shows
    inputs = example_inputs(cfg, batch=2)
    model = directory / f"var_{exporter}{opset}.onnx"
    torch_onnx_export(var, inputs, model, exporter, opset)
    checkpoint = directory / "vae_ch32v32z8.pth"
    torch.save(vae.state_dict(), checkpoint)
    return model, checkpoint, inputs


@pytest.fixture(scope="module", params=EXPORTS, ids=[f"{e}{o}-d{d}" for e, o, d in EXPORTS])
def released_export(request, tmp_path_factory):
    exporter, opset, depth = request.param
    directory = tmp_path_factory.mktemp(f"{exporter}{opset}")
    model, checkpoint, inputs = export_like_a_user(directory, exporter, opset, depth)
    return model, checkpoint, inputs, depth


def test_every_block_is_raised_and_float_matches_onnxruntime(released_export, tmp_path: Path, capsys):
    model, _, inputs, depth = released_export
    proto = onnx.load(str(model))
    assert not any(p.key.startswith("fpqc.") for p in proto.metadata_props)
    assert {"Softmax", "RandomUniformLike"} <= {n.op_type for n in proto.graph.node}  # SDPA, class dropout

    assert main(["compile", str(model), "--format", "fp6", "-o", str(tmp_path / "build")]) == 0
    report = json.loads((tmp_path / "build" / "report.json").read_text())
    summary = capsys.readouterr().out
    assert report["transformer_blocks"] == report["expected_transformer_blocks"] == depth, summary
    assert report["raising_gaps"] == [] and report["class_dropout_removed"]
    assert "class dropout" in summary
    quantized = report["ops_per_stage"]["quantized"]
    assert quantized.get("fpq.qlinear", 0) + quantized.get("fpq.dual_qlinear", 0) == 4 * depth, summary
    assert quantized["fpq.attention"] == depth

    names = [i.name for i in proto.graph.input]
    feeds = dict(zip(names, (inputs[0].numpy(), inputs[1].numpy()), strict=True))
    module, store = load_onnx(model)
    (ours,) = run_module(module, feeds, store).values()
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    # onnxruntime draws the class dropout (each label becomes the null class with p = 0.1); fpqc keeps
    # the label, the inference semantics.  Of 20 runs some keep both labels (all fail with p ≈ 4e-15).
    errors = [float(np.abs(session.run(None, feeds)[0] - ours).max()) for _ in range(20)]
    assert min(errors) <= 1e-4, errors


def test_fpqvar_w4a4_from_calibration_to_images(released_export, tmp_path: Path, capsys):
    model, checkpoint, inputs, depth = released_export
    calib, build = tmp_path / "calib.npz", tmp_path / "w4a4"
    assert main(["calibrate", str(model), "--vae", str(checkpoint), "--classes", "0-3", "-o", str(calib)]) == 0
    assert main(["compile", str(model), "--recipe", "fpqvar-w4a4", "--calib", str(calib),
                 "--vae", str(checkpoint), "-o", str(build)]) == 0
    config = json.loads((build / "var_config.json").read_text())
    assert (config["depth"], config["embed_dim"], config["num_heads"], config["patch_nums"]) == (depth, 128, 2, [1, 2, 3])
    assert (config["vocab_size"], config["Cvae"], config["num_classes"], config["vae_ch"]) == (32, 8, 10, 32)

    names = [i.name for i in onnx.load(str(model), load_external_data=False).graph.input]
    np.savez(tmp_path / "inputs.npz", **dict(zip(names, (inputs[0].numpy(), inputs[1].numpy()), strict=True)))
    assert main(["run", str(build), "--inputs", str(tmp_path / "inputs.npz"), "-o", str(tmp_path / "out.npz")]) == 0
    assert main(["verify", str(build), "--samples", "1"]) == 0
    assert " 0 differing" in capsys.readouterr().out

    assert main(["generate", str(build), "--classes", "1,2", "-o", str(tmp_path / "images.npz")]) == 0
    with np.load(tmp_path / "images.npz") as images:
        assert images["images"].shape == (2, 6, 6, 3) and list(images["labels"]) == [1, 2]


def attention_without_key_norm(self, x, attn_bias):
    """The released attention with ``F.normalize(k)`` left out: an attention fpqc does not know."""
    B, L, C = x.shape
    bias = torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
    qkv = torch.nn.functional.linear(x, self.mat_qkv.weight, bias).view(B, L, 3, self.num_heads, self.head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(dim=0)
    q = torch.nn.functional.normalize(q, dim=-1).mul(self.scale_mul_1H11.clamp_max(self.max_scale_mul).exp())
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=self.scale, attn_mask=attn_bias)
    return self.proj(out.transpose(1, 2).reshape(B, L, C))


def test_a_partially_recognised_var_stops_with_the_block_and_node(tmp_path: Path, capsys):
    cfg = released_style_config(2)
    var, _ = build_models(cfg)
    var.blocks[1].attn.forward = attention_without_key_norm.__get__(var.blocks[1].attn)
    model = tmp_path / "var.onnx"
    torch_onnx_export(var, example_inputs(cfg, batch=2), model, "torchscript", 17)

    build = tmp_path / "build"
    assert main(["compile", str(model), "-o", str(build)]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"error: {model}: block 1 of 2: the attention around ONNX node '/blocks.1/attn/Softmax'")
    assert "--allow-partial-raise" in line and "Traceback" not in captured.err
    assert not build.exists()

    assert main(["compile", str(model), "-o", str(build), "--allow-partial-raise"]) == 0
    report = json.loads((build / "report.json").read_text())
    assert (report["transformer_blocks"], report["expected_transformer_blocks"]) == (1, 2)
    assert report["raising_gaps"] and report["raising_gaps"][0].startswith("block 1 of 2:")
    assert "partial     block 1 of 2" in capsys.readouterr().out
