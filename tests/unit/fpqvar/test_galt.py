"""galt: fpqc's fake quantization in torch, the learned smoothing, and its exact fold.

Tolerances.  GALT folds ``s`` into the AdaLN linear (scale rows ``s·W``,
``s·b + (s − 1)``; shift rows ``s·W``, ``s·b``) and into the reader's weight
(``W / s``), in float64, each stored once as fp32.  The folded block computed
in float64 from those fp32 arrays therefore differs from the original block
only by those single roundings (2^-24 ≈ 6e-8 relative per stored element),
spread over sums of K = 256 terms: well inside 1e-6 of the largest output.
In the fp32 interpreter the folded model meets the 1e-5-of-the-largest-output
bound the unfolded fp32 model meets against float64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from xdsl.parser import Parser

from fpqc import compiler
from fpqc.backends.interp.runner import run_module
from fpqc.context import make_context
from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.numerics import Format, compute_scales, dequantize, quantize
from fpqc.numerics.hadamard import ght_matrix
from fpqc.passes.constants import constant_value
from fpqc.quant.galt import fake_quantize, learn_smoothing
from fpqc.weights import WeightStore

from adaln_block import C, K_COND, block_ir, block_weights

TOKENS = 6
SCALE_TOKENS = (1, 4, 9, 16)
OUTLIERS = (3, 70, 200)  # channels whose AdaLN scale is large: outliers after modulation
BLOCK = block_ir(TOKENS)
# fpq.linear in program order: 0 ada_lin, 1 mat_qkv, 2 fc1.


def _modulated(x: np.ndarray, c: np.ndarray, w: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """float64 (gamma1, the mat_qkv input, the fc1 input) of the block."""
    x, c = x.astype(np.float64), c.astype(np.float64)
    w = {k: v.astype(np.float64) for k, v in w.items()}
    s = c / (1 + np.exp(-c))
    a = s @ w["ada.weight"].T + w["ada.bias"]
    g1, _, sc1, sc2, sh1, sh2 = (chunk[:, None, :] for chunk in np.split(a, 6, axis=-1))
    d = x - x.mean(-1, keepdims=True)
    n = d / np.sqrt((d * d).mean(-1, keepdims=True) + 1e-6)
    return g1, n * (1 + sc1) + sh1, n * (1 + sc2) + sh2


def _reference64(x: np.ndarray, c: np.ndarray, w: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The block in plain float64 numpy."""
    g1, m1, m2 = _modulated(x, c, w)
    q = m1 @ w["qkv.weight"].astype(np.float64).T + w["qkv.bias"]
    h = m2 @ w["fc1.weight"].astype(np.float64).T + w["fc1.bias"]
    return q, h, g1


def _write_calibration(path: Path, weights: dict[str, np.ndarray]) -> Path:
    """Inputs of mat_qkv (linear 1) and fc1 (linear 2) at each of a few 'scales'."""
    rng = np.random.default_rng(7)
    arrays = {}
    for k, tokens in enumerate(SCALE_TOKENS):
        x = rng.standard_normal((1, tokens, C))
        c = rng.standard_normal((1, K_COND))
        _, m1, m2 = _modulated(x, c, weights)
        arrays[f"linear1/scale{k}"] = m1[0].astype(np.float32)
        arrays[f"linear2/scale{k}"] = m2[0].astype(np.float32)
    np.savez(path, **arrays)
    return path


def _run_block(passes: str | None, inputs: dict[str, np.ndarray], weights: dict[str, np.ndarray]):
    store = WeightStore()
    for key, array in weights.items():
        store.add(key, array)
    with store.activate():
        module = Parser(make_context(), BLOCK).parse_module()
        if passes:
            compiler.run_pipeline(module, passes, "test")
        folded = {
            op.attributes["fpq.role"].data: (constant_value(op.weight), constant_value(op.bias))
            for op in module.walk()
            if isinstance(op, fpq.LinearOp)
        }
    return module, list(run_module(module, inputs, store).values()), folded


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got.astype(np.float64) - want)) / np.max(np.abs(want)))


@pytest.fixture(scope="module")
def block(tmp_path_factory):
    weights = block_weights(OUTLIERS)
    calib = _write_calibration(tmp_path_factory.mktemp("galt") / "calib.npz", weights)
    rng = np.random.default_rng(5)
    inputs = {
        "arg0": rng.standard_normal((1, TOKENS, C)).astype(np.float32),
        "arg1": rng.standard_normal((1, K_COND)).astype(np.float32),
    }
    return weights, calib, inputs


@pytest.mark.parametrize("name", ["e2m1", "e2m3", "e4m3"])
def test_fake_quantize_is_fpqc_quantize_dequantize(name):
    fmt = Format.parse(name)
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((16, 256)) * np.exp(2 * rng.standard_normal(256))).astype(np.float32)
    z[3, :128] = 0  # an all-zero group
    scales = compute_scales(z, fmt, axis=-1, group_size=128)
    want = dequantize(quantize(z, fmt, scales, axis=-1, group_size=128), fmt, scales, axis=-1, group_size=128)
    assert np.array_equal(fake_quantize(torch.from_numpy(z), fmt, 128).numpy(), want)


def test_fake_quantize_is_straight_through():
    z = torch.tensor([[0.3, -1.2, 2.0, 0.7]], requires_grad=True)
    fake_quantize(z, Format.parse("e2m1"), 4).sum().backward()
    assert torch.all(torch.isfinite(z.grad)) and float(z.grad.abs().sum()) > 0


def test_learned_smoothing_beats_none_on_outlier_channels(capsys):
    rng = np.random.default_rng(0)
    k, o = 256, 128
    rows = []
    for scale, tokens in enumerate((2, 8, 18, 32)):
        x = rng.standard_normal((tokens, k))
        x[:, rng.choice(k, 3, replace=False)] *= 20 * (scale + 1)  # outliers that move between scales
        x[:, :2] *= 40  # and two that stay
        rows.append(x.astype(np.float32))
    w = (rng.standard_normal((o, k)) / 16).astype(np.float32)
    fmt = Format.parse("e2m1")
    result = learn_smoothing(rows, [w], ght_matrix(k, 128, 0), fmt, 128, 50, 0.01)
    with capsys.disabled():
        print(f"\nGALT on synthetic outliers: loss with s = 1 {result.loss_before:.4g}, "
              f"learned s {result.loss_after:.4g}")
    assert result.loss_after < 0.5 * result.loss_before
    assert np.all(result.s > 0) and not np.allclose(result.s, 1)
    again = learn_smoothing(rows, [w], ght_matrix(k, 128, 0), fmt, 128, 50, 0.01)
    assert np.array_equal(again.s, result.s)  # deterministic


def test_fold_keeps_the_block_function(block):
    weights, calib, inputs = block
    reference = _reference64(inputs["arg0"], inputs["arg1"], weights)
    _, plain, _ = _run_block(None, inputs, weights)
    _, got, folded = _run_block(f'galt{{calib="{calib}" epochs=8}}', inputs, weights)

    # The smoothing is not the identity: every folded array changed.
    assert not np.array_equal(folded["mat_qkv"][0], weights["qkv.weight"])
    assert not np.array_equal(folded["fc1"][0], weights["fc1.weight"])
    assert not np.array_equal(folded["ada_lin"][0], weights["ada.weight"])
    assert np.array_equal(folded["mat_qkv"][1], weights["qkv.bias"])  # the readers' biases stay
    # The folded fp32 arrays, evaluated in float64, give the original block to fp32 storage precision.
    folded64 = {
        "ada.weight": folded["ada_lin"][0], "ada.bias": folded["ada_lin"][1],
        "qkv.weight": folded["mat_qkv"][0], "qkv.bias": folded["mat_qkv"][1],
        "fc1.weight": folded["fc1"][0], "fc1.bias": folded["fc1"][1],
    }
    for got64, want in zip(_reference64(inputs["arg0"], inputs["arg1"], folded64), reference):
        assert _relative(got64, want) < 1e-6
    # The gamma rows are untouched; the fp32 interpreter meets the plain model's bound.
    assert np.array_equal(got[2], plain[2])
    for out, base, want in zip(got, plain, reference):
        assert _relative(base, want) < 1e-5
        assert _relative(out, want) < 1e-5, (_relative(out, want), _relative(base, want))


def test_galt_then_group_hadamard_keeps_the_function_and_helps_w4a4(block, capsys):
    weights, calib, inputs = block
    reference = _reference64(inputs["arg0"], inputs["arg1"], weights)
    _, got, _ = _run_block(f'galt{{calib="{calib}" epochs=8}},group-hadamard', inputs, weights)
    for out, want in zip(got, reference):
        assert _relative(out, want) < 1e-5
    w4a4 = "quantize{weight-format=e2m1 act-format=e2m1 group-size=128}"
    _, ght, _ = _run_block(f"group-hadamard,{w4a4}", inputs, weights)
    _, galt, _ = _run_block(f'galt{{calib="{calib}" epochs=8}},group-hadamard,{w4a4}', inputs, weights)
    ght_error, galt_error = _relative(ght[0], reference[0]), _relative(galt[0], reference[0])
    with capsys.disabled():
        print(f"\nW4A4 mat_qkv max error / max |y|: GHT {ght_error:.4g}, GALT + GHT {galt_error:.4g}")
    assert galt_error < ght_error


def test_unfoldable_input_is_left_unchanged_and_reported(tmp_path, capsys):
    ir = """
    func.func @arg(%x: tensor<4x128xf32>) -> tensor<4x8xf32> {
      %w = fpq.constant dense<0.25> : tensor<8x128xf32>
      %y = fpq.linear %x, %w {fpq.role = "fc1"} : (tensor<4x128xf32>, tensor<8x128xf32>) -> tensor<4x8xf32>
      func.return %y : tensor<4x8xf32>
    }
    """
    calib = tmp_path / "calib.npz"
    np.savez(calib, **{"linear0/scale0": np.ones((4, 128), np.float32)})
    module = Parser(make_context(), ir).parse_module()
    compiler.run_pipeline(module, f'galt{{calib="{calib}" group-size=64 block=64}}', "test")
    (linear,) = [op for op in module.walk() if isinstance(op, fpq.LinearOp)]
    assert np.all(constant_value(linear.weight) == 0.25)
    assert "not an AdaLN modulation" in capsys.readouterr().err


def test_without_calibration_says_to_calibrate(block):
    weights, _, inputs = block
    with pytest.raises(FpqcError, match="fpqc calibrate"):
        _run_block("galt", inputs, weights)
    with pytest.raises(FpqcError, match="no such calibration file"):
        _run_block('galt{calib="/nonexistent/calib.npz"}', inputs, weights)
