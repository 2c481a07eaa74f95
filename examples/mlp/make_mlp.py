"""Export the demo MLP, ``Linear → GELU(tanh) → Linear``, to ONNX.

    python examples/mlp/make_mlp.py --in 128 --hidden 256 --out 128 --batch 8 -o mlp.onnx
    python examples/mlp/make_mlp.py --tokens 16 --exporter dynamo -o mlp3d.onnx

The input is ``x`` of shape ``[batch, in]``, or ``[batch, tokens, in]`` when
``--tokens`` is positive; the output is ``y``.  The weights are seeded, so the
same arguments give the same model.  ``torchscript`` (opset 17) spells GELU out
as Mul/Add/Pow/Tanh and uses Gemm for 2-D inputs; ``dynamo`` (opset 20) emits
``Gelu`` and, for 3-D inputs, MatMul + Add.  Runs offline.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
from pathlib import Path

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, features_in: int, hidden: int, features_out: int):
        super().__init__()
        self.fc1 = nn.Linear(features_in, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, features_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def make_mlp(features_in: int, hidden: int, features_out: int, seed: int = 0) -> MLP:
    """A seeded MLP with weights like a trained one: roughly unit-gain, a few outlier channels."""
    generator = torch.Generator().manual_seed(seed)
    model = MLP(features_in, hidden, features_out)
    with torch.no_grad():
        for layer in (model.fc1, model.fc2):
            fan_in = layer.in_features
            weight = torch.randn(layer.weight.shape, generator=generator) / math.sqrt(fan_in)
            outliers = torch.randint(0, fan_in, (max(1, fan_in // 32),), generator=generator)
            weight[:, outliers] *= 4.0
            layer.weight.copy_(weight)
            layer.bias.copy_(0.1 * torch.randn(layer.bias.shape, generator=generator))
    return model.eval()


def export(model: MLP, example: torch.Tensor, path: Path, exporter: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = {"input_names": ["x"], "output_names": ["y"]}
    # The exporters chat on stdout/stderr; keep the script's output to its one line.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if exporter == "torchscript":
            torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=17, **names)
        else:
            torch.onnx.export(model, (example,), str(path), dynamo=True, external_data=False, **names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", dest="features_in", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--out", dest="features_out", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=0, help="> 0 gives a [batch, tokens, in] input")
    parser.add_argument("--exporter", choices=("torchscript", "dynamo"), default="torchscript")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    model = make_mlp(args.features_in, args.hidden, args.features_out, args.seed)
    shape = (args.batch, args.tokens, args.features_in) if args.tokens > 0 else (args.batch, args.features_in)
    example = torch.randn(shape, generator=torch.Generator().manual_seed(args.seed + 1))
    export(model, example, args.output, args.exporter)
    print(f"wrote {args.output}: x {list(shape)} -> y, {args.exporter} exporter")


if __name__ == "__main__":
    main()
