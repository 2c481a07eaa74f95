"""Check fpqc against the released VAR code itself: export, compile, compare with onnxruntime.

Needs a checkout of FoundationVision/VAR (and its import of ``huggingface_hub``); the
weights are the released initialisation, random, unless ``--checkpoint`` names
``var_d{depth}.pth``.  For each exporter (TorchScript at opset 17, dynamo at 18)::

    python scripts/check_released_var.py --var-repo ~/VAR --depth 2 -o /tmp/released

exports the teacher-forcing forward with a bare ``torch.onnx.export``, compiles it
with ``fpqc compile --format fp6`` and prints the blocks recognised and the largest
difference between fpqc's float interpreter and onnxruntime over 20 onnxruntime runs
(onnxruntime draws the released class dropout; fpqc keeps the label, so about 8 runs
in 10 agree to float rounding).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch

from fpqc.backends.interp.runner import run_module
from fpqc.cli import main as fpqc
from fpqc.compiler import load_onnx
from fpqc.frontend.var.export import torch_onnx_export

EXPORTERS = (("torchscript", 17), ("dynamo", 18))


def export(var: torch.nn.Module, path: Path, exporter: str, opset: int, batch: int) -> None:
    inputs = (torch.zeros(batch, dtype=torch.long), torch.zeros(batch, var.L - var.first_l, var.Cvae))
    torch_onnx_export(var, inputs, path, exporter, opset)


def float_differences(path: Path, runs: int = 20) -> list[float]:
    names = [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]
    module, store = load_onnx(path)
    shape = [d.dim_value for d in onnx.load(str(path), load_external_data=False).graph.input[1].type.tensor_type.shape.dim]
    rng = np.random.default_rng(0)
    feeds = {names[0]: np.arange(shape[0], dtype=np.int64) + 3, names[1]: rng.standard_normal(shape).astype(np.float32)}
    (ours,) = run_module(module, feeds, store).values()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [float(np.abs(session.run(None, feeds)[0] - ours).max()) for _ in range(runs)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var-repo", required=True, type=Path, help="a checkout of FoundationVision/VAR")
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--checkpoint", type=Path, default=None, help="var_d{depth}.pth (default: random)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    sys.path.insert(0, str(args.var_repo))
    from models import build_vae_var  # the released code

    vae, var = build_vae_var(V=4096, Cvae=32, ch=160, share_quant_resi=4, device="cpu", depth=args.depth,
                             shared_aln=False, attn_l2_norm=True, flash_if_available=False, fused_if_available=False)
    if args.checkpoint is not None:
        var.load_state_dict(torch.load(args.checkpoint, map_location="cpu"))
    args.output.mkdir(parents=True, exist_ok=True)
    vae_path = args.output / "vae.pth"
    torch.save(vae.state_dict(), vae_path)
    for exporter, opset in EXPORTERS:
        model = args.output / f"var_d{args.depth}_{exporter}{opset}.onnx"
        export(var.eval(), model, exporter, opset, args.batch)
        build = args.output / f"build_{exporter}{opset}"
        if fpqc(["compile", str(model), "--format", "fp6", "--vae", str(vae_path), "-o", str(build)]) != 0:
            return 1
        report = json.loads((build / "report.json").read_text())
        errors = float_differences(model)
        agreeing = sum(e <= 1e-4 for e in errors)
        print(f"{model.name}: {report['transformer_blocks']} of {report['expected_transformer_blocks']} blocks, "
              f"float vs onnxruntime: min {min(errors):.2e}, {agreeing}/{len(errors)} runs within 1e-4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
