"""A tiny VAR compiled with FPQVAR's GHT and dual format, verified bit for bit by C simulation.

Two builds of one exported depth-2 VAR:

* ``fpqc compile --recipe fp6-ght-dfq`` (the paper's W6A6: GHT with the signs folded into AdaLN,
  E2M3 per token / per channel, INT6/E2M3 dual format on fc2's input), then
  ``fpqc verify``;
* W4A4 through ``fpqc.compiler.run_pipeline`` with the signs left on the
  Hadamard ops (``group-hadamard{fold-signs=false}``), E2M1 per group of 128
  and the E1M2/E2M1 dual format, emitted and verified with ``verify_build``.

The W6A6 build runs its per-scale step program: each transformer block is one
kernel (layer norms, modulation, Hadamard transforms, quantizers, the four
linear layers, attention against the KV cache, GELU, dual format, residuals)
shared by the blocks and every scale, and ``fpqc verify`` checks a whole
generation.  The W4A4 build outlines the teacher-forcing graph, where
attention runs on the host: each block is the kernel up to ``mat_qkv`` and the
kernel from ``proj`` to the block's end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_build
from fpqc import compiler
from fpqc.tools.verify import verify_build
from fpqc.dialects import hls
from fpqc.frontend.var import VAR, VARConfig
from fpqc.frontend.var.export import export_var

FPQC = str(Path(sys.executable).parent / "fpqc")

W4A4 = (
    "raise-onnx-to-fpq,group-hadamard{fold-signs=false},"
    "quantize{weight-format=e2m1 act-format=e2m1 weight-granularity=group act-granularity=group "
    "group-size=128},dual-format{format=dfq-w4a4},outline-kernels{target=vck190},tile{target=vck190}"
)
FFN = ["fpq.hadamard", "fpq.quantize", "fpq.qlinear", "fpq.gelu", "fpq.dual_quantize", "fpq.dual_qlinear"]
NORM = ["fpq.layernorm", "fpq.modulate"]
BLOCK_KERNEL = [
    *NORM, "fpq.hadamard", "fpq.quantize", "fpq.qlinear", "fpq.cached_attention", "fpq.quantize", "fpq.qlinear",
    "fpq.residual", *NORM, *FFN, "fpq.residual",
]


@pytest.fixture(scope="module")
def tiny_var(tmp_path_factory) -> Path:
    cfg = VARConfig.tiny(embed_dim=128, num_heads=2)
    var = VAR(cfg, seed=0)
    var.init_weights(seed=1, init_adaln_gamma=0.5, init_head=1.0)
    return export_var(cfg, tmp_path_factory.mktemp("var"), var_state=var.eval().state_dict(), route="fpqc")


def _kernel_bodies(module) -> list[list[str]]:
    return [
        [op.name for op in k.body.block.ops if not isinstance(op, hls.ReturnOp | hls.PlanOp)]
        for k in module.ops
        if isinstance(k, hls.KernelOp)
    ]


def test_fpqvar_w6a6_build_verifies(tiny_var: Path, tmp_path: Path) -> None:
    build = tmp_path / "build"
    for args in (
        ("compile", str(tiny_var), "--recipe", "fp6-ght-dfq", "-o", str(build)),
        ("verify", str(build), "--samples", "1"),
    ):
        result = subprocess.run([FPQC, *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    assert "bit-identical" in result.stdout and "tokens identical, images identical" in result.stdout
    module, _ = compiler.load_build(build)
    assert _kernel_bodies(module) == [BLOCK_KERNEL, NORM]  # the blocks, and the head's norm
    source = "".join(p.read_text() for p in (build / "kernels").glob("kernel_*.cpp"))
    assert "fpqc::hadamard_stage<128, 128, false, " in source  # signs folded into AdaLN
    assert "fpqc_dual_int6_e2m3_rne" in source


def test_fpqvar_w4a4_with_signs_verifies(tiny_var: Path, tmp_path: Path) -> None:
    module, store = compiler.load_onnx(tiny_var)
    with store.activate():
        compiler.run_pipeline(module, W4A4, "test")
    assert _kernel_bodies(module) == [
        [*NORM, "fpq.hadamard", "fpq.quantize", "fpq.qlinear"],  # up to mat_qkv
        ["fpq.quantize", "fpq.qlinear", "fpq.residual", *NORM, *FFN, "fpq.residual"],  # proj to the block's end
        NORM,  # the head's norm
    ]
    write_build(tmp_path, module, store)
    source = "".join(p.read_text() for p in (tmp_path / "kernels").glob("kernel_*.cpp"))
    assert "fpqc::hadamard_stage<128, 128, true, " in source
    assert "fpqc_dual_e1m2_e2m1_rne" in source
    report = verify_build(tmp_path, samples=1)
    assert report.differing == 0 and report.compared > 0, report.summary()
    assert [check.launches for check in report.kernels.values()] == [2, 2, 1]  # one launch per block
