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

from dataclasses import replace
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
from fpqc.quant.galt import (
    MIN_GAIN, S_MIN, GaltSettings, SmoothedInput, fake_quantize, learn_from_calibration, learn_smoothing, split_rows,
)
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


@pytest.mark.parametrize("name", ["e2m3", "e2m1"])
def test_fake_quantize_group_zero_is_per_row(name):
    """``group_size`` 0 -- W6A6's per token activations and per channel weights -- is one scale per row."""
    fmt = Format.parse(name)
    rng = np.random.default_rng(1)
    z = (rng.standard_normal((8, 96)) * np.exp(2 * rng.standard_normal(96))).astype(np.float32)
    z[2] = 0  # an all-zero row
    scales = compute_scales(z, fmt, axis=-1)
    want = dequantize(quantize(z, fmt, scales, axis=-1), fmt, scales, axis=-1)
    assert np.array_equal(fake_quantize(torch.from_numpy(z), fmt, 0).numpy(), want)


def test_fake_quantize_is_straight_through():
    z = torch.tensor([[0.3, -1.2, 2.0, 0.7]], requires_grad=True)
    fake_quantize(z, Format.parse("e2m1"), 4).sum().backward()
    assert torch.all(torch.isfinite(z.grad)) and float(z.grad.abs().sum()) > 0


def _settings(**changes) -> GaltSettings:
    return replace(GaltSettings("e2m1", 128, 50, 0.01, 128, 0), **changes)


def _stressed_rows(rng, k: int, scales: int, tokens: int, factors: dict[int, float]):
    """Rows ``z·d`` per scale (z Gaussian) and the factor vector ``d`` (outlier channels get theirs)."""
    d = np.ones(k)
    d[list(factors)] = list(factors.values())
    return [(rng.standard_normal((tokens, k)) * d).astype(np.float32) for _ in range(scales)], d


def _e2m1_ties_up(z: np.ndarray, group: int) -> np.ndarray:
    """Plain reference of the authors' quantizer: nearest E2M1 grid value per group, ties to the larger."""
    grid = np.array([-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 6], np.float32)
    groups = z.reshape(*z.shape[:-1], -1, group).astype(np.float32)
    absmax = np.abs(groups).max(-1, keepdims=True)
    scale = np.where(absmax == 0, np.float32(1), absmax / np.float32(6))
    v = groups / scale
    index = np.searchsorted((grid[1:] + grid[:-1]) / 2, v, side="right")
    return (grid[index] * scale).reshape(z.shape)


def _loss64(rows, w: np.ndarray, q: np.ndarray, s: np.ndarray) -> float:
    """GALT's loss in float64 numpy around the reference quantizer."""
    wq = _e2m1_ties_up((w / s) @ q, 128).astype(np.float64)
    return float(sum(
        np.mean((_e2m1_ties_up((x * s) @ q, 128).astype(np.float64) @ wq.T - x.astype(np.float64) @ w.T) ** 2)
        for x in rows if len(x)
    ))


def test_fake_quantize_ties_up_is_the_authors_nearest_grid():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((8, 256)).astype(np.float32)
    z[0, :128] = np.array([6, 2.5, -2.5, 0.25, -0.25, 1.25, -5, 3.5] * 16, np.float32)  # exact ties, scale 1
    got = fake_quantize(torch.from_numpy(z), Format.parse("e2m1"), 128, "ties-up").numpy()
    assert np.array_equal(got, _e2m1_ties_up(z, 128))
    assert got[0, 1] == 3 and got[0, 2] == -2 and got[0, 3] == 0.5 and got[0, 4] == 0


def test_learned_smoothing_beats_none_on_outlier_channels(capsys):
    rng = np.random.default_rng(0)
    k, o = 256, 128
    rows = []
    for scale, tokens in enumerate((4, 16, 36, 64)):
        x = rng.standard_normal((tokens, k))
        x[:, rng.choice(k, 3, replace=False)] *= 20 * (scale + 1)  # outliers that move between scales
        x[:, :2] *= 40  # and two that stay
        rows.append(x.astype(np.float32))
    w = (rng.standard_normal((o, k)) / 16).astype(np.float32)
    result = learn_smoothing(rows, [w], ght_matrix(k, 128, 0), _settings())
    with capsys.disabled():
        print(f"\nGALT on synthetic outliers: held-out loss with s = 1 {result.loss_before:.4g}, "
              f"learned s {result.loss_after:.4g}")
    assert result.kept and result.loss_after < 0.5 * result.loss_before
    assert np.all(result.s >= S_MIN)
    again = learn_smoothing(rows, [w], ght_matrix(k, 128, 0), _settings())
    assert np.array_equal(again.s, result.s)  # deterministic


def test_direct_s_undoes_strong_outliers():
    """Channels scaled 20-50x (folded into W) need s near 1/factor, which training s directly reaches."""
    rng = np.random.default_rng(1)
    k = 128
    factors = {5: 20.0, 40: 30.0, 77: 40.0, 120: 50.0}
    rows, d = _stressed_rows(rng, k, 6, 32, factors)
    w = (rng.standard_normal((64, k)) / np.sqrt(k) / d).astype(np.float32)
    q = ght_matrix(k, 128, 0)
    result = learn_smoothing(rows, [w], q, _settings(rounding="ties-up", select="last"))
    outliers = list(factors)
    assert np.all(result.s[outliers] * d[outliers] < 2.5), result.s[outliers] * d[outliers]
    # In float64 around the authors' quantizer, the learned s is as good as undoing the stress exactly.
    learned, ideal, none = (_loss64(rows, w, q, s) for s in (result.s, 1 / d, np.ones(k)))
    assert learned < 1.5 * ideal and learned < 0.05 * none, (learned, ideal, none)


def test_last_is_the_authors_training_loop():
    """select=last: s trained directly with AdamW, one step per scale, the last s kept (plain torch reference)."""
    rng = np.random.default_rng(2)
    k, epochs = 128, 12
    rows, d = _stressed_rows(rng, k, 4, 16, {3: 25.0, 90: 40.0})
    w = (rng.standard_normal((32, k)) / np.sqrt(k)).astype(np.float32)
    q = ght_matrix(k, 128, 0)
    got = learn_smoothing(rows, [w], q, _settings(rounding="ties-up", select="last", epochs=epochs))

    class Quant(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            return torch.from_numpy(_e2m1_ties_up(z.detach().numpy(), 128))

        @staticmethod
        def backward(ctx, grad):
            return grad

    def fq(z):  # quantize-dequantize with gradients through the scale, as the authors' FPQuant
        groups = z.reshape(z.shape[0], -1, 128)
        scale = groups.abs().amax(-1, keepdim=True) / 6
        return (Quant.apply((groups / scale).reshape(z.shape)).reshape(groups.shape) * scale).reshape(z.shape)

    torch.set_num_threads(1)
    s = torch.nn.Parameter(torch.ones(k))
    optimizer = torch.optim.AdamW([s], lr=0.01)
    qt, wt = torch.from_numpy(q.astype(np.float32)), torch.from_numpy(w)
    for _ in range(epochs):
        for x in map(torch.from_numpy, rows):
            loss = torch.mean((fq((x * s) @ qt) @ fq((wt / s) @ qt).T - x @ wt.T) ** 2)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    np.testing.assert_allclose(got.s, s.detach().numpy(), rtol=1e-5)
    assert not np.allclose(got.s, 1)


def test_heldout_keeps_one_where_learning_does_not_help():
    rng = np.random.default_rng(4)
    k = 128
    rows = [rng.standard_normal((64, k)).astype(np.float32) for _ in range(4)]  # no outliers
    w = (rng.standard_normal((64, k)) / np.sqrt(k)).astype(np.float32)
    q = ght_matrix(k, 128, 0)
    result = learn_smoothing(rows, [w], q, _settings(rounding="ties-up", epochs=20))
    assert not result.kept and np.all(result.s == 1)
    assert result.loss_after > (1 - MIN_GAIN) * result.loss_before
    # The losses are the held-out rows' (odd positions of each scale), in float64 within float32 noise.
    _, held = split_rows(rows)
    assert result.loss_before == pytest.approx(_loss64(held, w, q, np.ones(k)), rel=1e-3)


def test_heldout_keeps_the_best_held_out_s_where_it_helps():
    rng = np.random.default_rng(5)
    rows, d = _stressed_rows(rng, 128, 4, 64, {7: 30.0, 64: 45.0})
    w = (rng.standard_normal((64, 128)) / np.sqrt(128) / d).astype(np.float32)
    q = ght_matrix(128, 128, 0)
    result = learn_smoothing(rows, [w], q, _settings(rounding="ties-up", epochs=30))
    _, held = split_rows(rows)
    assert result.kept and result.loss_after < (1 - MIN_GAIN) * result.loss_before
    assert result.loss_after == pytest.approx(_loss64(held, w, q, result.s), rel=1e-3)
    assert result.loss_before == pytest.approx(_loss64(held, w, q, np.ones(128)), rel=1e-3)


def test_unknown_select_or_rounding_is_refused():
    rows = [np.ones((2, 128), np.float32)]
    w = np.ones((4, 128), np.float32)
    for bad in (dict(select="best"), dict(rounding="up")):
        with pytest.raises(FpqcError, match="galt: unknown"):
            learn_smoothing(rows, [w], ght_matrix(128, 128, 0), _settings(**bad))


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


def test_shared_signs_learn_every_input_against_one_transform(tmp_path):
    rng = np.random.default_rng(6)
    rows, d = _stressed_rows(rng, 128, 2, 16, {9: 30.0})
    calib = tmp_path / "calib.npz"
    np.savez(calib, **{f"linear{i}/scale{k}": x for i in (0, 1) for k, x in enumerate(rows)})
    w = (rng.standard_normal((16, 128)) / np.sqrt(128)).astype(np.float32)
    inputs = [SmoothedInput(f"input {i}", i, [w], True) for i in (0, 1)]
    quiet = lambda message: None  # noqa: E731
    shared = learn_from_calibration(calib, inputs, _settings(epochs=5, select="last", shared_signs=True), quiet)
    apart = learn_from_calibration(calib, inputs, _settings(epochs=5, select="last"), quiet)
    assert np.array_equal(shared[0], shared[1]) and np.array_equal(shared[0], apart[0])
    assert not np.array_equal(apart[0], apart[1])  # the second input learned against seed 1's transform


def test_the_input_hessian_follows_galt_and_group_hadamard(block):
    """After input-hessians, galt and group-hadamard, a linear's fpq.input_hessian is XᵀX of its *new*
    inputs on the calibration data: the folded modulation's output, Walsh-Hadamard transformed."""
    from fpqc.numerics.hadamard import hadamard_matrix
    from fpqc.passes.input_hessians import input_hessian_entry
    from fpqc.weights import read_entry

    weights, calib, _ = block
    store = WeightStore()
    for key, array in weights.items():
        store.add(key, array)
    with store.activate():
        module = Parser(make_context(), BLOCK).parse_module()
        compiler.run_pipeline(module, f'input-hessians{{calib="{calib}"}},galt{{calib="{calib}" epochs=8}},group-hadamard', "test")
        linears = {op.attributes["fpq.role"].data: op for op in module.walk() if isinstance(op, fpq.LinearOp)}
        folded = {role: constant_value(op.weight) for role, op in linears.items()} | {"ada.bias": constant_value(linears["ada_lin"].bias)}
        attached = {role: read_entry(input_hessian_entry(linears[role])) for role in ("mat_qkv", "fc1")}
    assert input_hessian_entry(linears["ada_lin"]) is None
    assert not np.allclose(np.abs(folded["ada_lin"]), np.abs(weights["ada.weight"])), "galt kept s = 1 everywhere"
    new_weights = dict(weights, **{"ada.weight": folded["ada_lin"], "ada.bias": folded["ada.bias"]})
    rng = np.random.default_rng(7)  # the calibration's inputs, drawn as _write_calibration draws them
    hadamard = np.kron(np.eye(C // 128), hadamard_matrix(128) / np.sqrt(128))
    rows = {"mat_qkv": [], "fc1": []}
    for tokens in SCALE_TOKENS:
        x, c = rng.standard_normal((1, tokens, C)), rng.standard_normal((1, K_COND))
        _, m1, m2 = _modulated(x, c, new_weights)
        rows["mat_qkv"].append(m1[0] @ hadamard)
        rows["fc1"].append(m2[0] @ hadamard)
    for role, blocks in rows.items():
        x = np.concatenate(blocks)
        np.testing.assert_allclose(attached[role], x.T @ x, rtol=2e-5, atol=2e-5 * np.abs(x.T @ x).max())
