"""VAR's PyTorch idioms through both torch exporters: import, then match onnxruntime.

One small module uses every spelling the released VAR code produces -- class
dropout ``torch.where(torch.rand(B) < p, null, label)``, ``nn.SiLU``,
``view(...).unbind``, ``LayerNorm(elementwise_affine=False)``, ``permute`` and
``transpose``, ``F.normalize``, an additive mask buffer, ``softmax``,
``nn.GELU(approximate="tanh")``, ``split``/``chunk``/``cat`` and an
``arange``-indexed embedding -- and is exported with the TorchScript exporter
(opset 18) and the dynamo exporter.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from fpqc.backends.interp.runner import run_module
from fpqc.frontend.onnx_import import import_onnx

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

B, L, C, HEADS = 2, 6, 32, 2
NULL_CLASS = 10


class Spellings(nn.Module):
    def __init__(self, drop_rate: float) -> None:
        super().__init__()
        self.drop_rate = drop_rate
        self.class_emb = nn.Embedding(NULL_CLASS + 1, C)
        self.pos_emb = nn.Embedding(L, C)
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(C, 3 * C))
        self.ln = nn.LayerNorm(C, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(C, 3 * C)
        self.act = nn.GELU(approximate="tanh")
        self.fc = nn.Linear(C, C)
        self.register_buffer("mask", torch.triu(torch.full((L, L), -torch.inf), 1).view(1, 1, L, L))

    def forward(self, label: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        label = torch.where(torch.rand(label.shape[0]) < self.drop_rate, NULL_CLASS, label)
        gate, scale, shift = self.ada_lin(self.class_emb(label)).view(-1, 1, 3, C).unbind(2)
        h = self.ln(x + self.pos_emb(torch.arange(L))) * (1 + scale) + shift
        q, k, v = self.qkv(h).view(B, L, 3, HEADS, C // HEADS).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1) * 4.0 + self.mask).softmax(dim=-1)
        o = (attn @ v).transpose(1, 2).reshape(B, L, C)
        left, right = o.split([C // 2, C // 2], dim=-1)
        y = x + gate * self.fc(self.act(torch.cat([right, left], dim=-1)))
        first, second = y.chunk(2, dim=1)
        return torch.cat([second, first * 2], dim=1)


def export(path: Path, exporter: str, drop_rate: float = 0.0) -> Path:
    torch.manual_seed(0)
    model = Spellings(drop_rate).eval()
    args = (torch.tensor([3, 7]), torch.randn(B, L, C))
    names = {"input_names": ["label", "x"], "output_names": ["y"]}
    if exporter == "torchscript":
        torch.onnx.export(model, args, str(path), dynamo=False, opset_version=18, **names)
    else:
        torch.onnx.export(model, args, str(path), dynamo=True, opset_version=18, **names).save(str(path))
    return path


@pytest.fixture(scope="module", params=["torchscript", "dynamo"])
def exported(request, tmp_path_factory) -> tuple[str, Path]:
    return request.param, export(tmp_path_factory.mktemp(request.param) / "m.onnx", request.param)


def test_matches_onnxruntime(exported) -> None:
    _, path = exported
    module, store = import_onnx(path)
    module.verify()
    inputs = {"label": np.array([3, 7], np.int64), "x": np.random.default_rng(0).standard_normal((B, L, C)).astype(np.float32)}
    actual = run_module(module, inputs, store)["y"]
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)[0]
    assert np.max(np.abs(actual - expected)) / np.max(np.abs(expected)) <= 1e-4


def test_only_compute_is_left(exported) -> None:
    """No shape arithmetic, identities or randomness survive; the structure VAR's raise needs does."""
    exporter, path = exported
    module, _ = import_onnx(path)
    ops = collections.Counter(op.name for op in module.walk())
    for gone in ("Shape", "Identity", "RandomUniformLike", "Less", "Where", "Equal", "ConstantOfShape", "Range"):
        assert f"onnx.{gone}" not in ops, (gone, ops)
    for kept in ("LayerNormalization", "Softmax", "ReduceL2", "Tanh", "Sigmoid", "Gather", "Transpose", "Concat"):
        assert f"onnx.{kept}" in ops, (kept, ops)
    assert ops["onnx.Squeeze"] >= 6  # the two unbinds
    assert "onnx.Split" in ops  # split/chunk; dynamo spells unbind as Slice + Squeeze
    assert ops["onnx.Slice"] >= (6 if exporter == "dynamo" else 0)


def test_dropout_fold_is_inference_semantics(tmp_path: Path) -> None:
    """With p = 1 the training graph always picks the null class; the import keeps the label."""
    path = export(tmp_path / "p1.onnx", "torchscript", drop_rate=1.0)
    module, store = import_onnx(path)
    inputs = {"label": np.array([3, 7], np.int64), "x": np.zeros((B, L, C), np.float32)}
    folded = run_module(module, inputs, store)["y"]
    reference = export(tmp_path / "p0.onnx", "torchscript", drop_rate=0.0)
    expected = ort.InferenceSession(str(reference), providers=["CPUExecutionProvider"]).run(None, inputs)[0]
    np.testing.assert_allclose(folded, expected, rtol=1e-5, atol=1e-6)
