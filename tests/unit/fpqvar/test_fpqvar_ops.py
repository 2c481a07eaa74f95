"""Interpreter semantics of fpq.hadamard, fpq.dual_quantize and fpq.dual_qlinear.

The ops must compute exactly what the numerics functions define (the C++ is
checked against the same functions), with leading axes flattened into rows.
"""

from __future__ import annotations

import numpy as np
from xdsl.parser import Parser

from fpqc.backends.interp.runner import run_module
from fpqc.context import make_context
from fpqc.numerics import Format, compute_scales, quantize
from fpqc.numerics.dual_format import (
    DualFormat,
    compute_dual_scales,
    dual_dequantize,
    dual_qlinear,
    dual_quantize,
)
from fpqc.numerics.hadamard import fwht_f32, ght_f32, hadamard_matrix, random_signs

PROGRAM = """
func.func @main(%x: tensor<2x3x256xf32>, %s: tensor<256xf32>, %wc: tensor<4x256x!fpq.float<e2m1>>,
                %ws: tensor<4x2xf32>, %b: tensor<4xf32>)
    -> (tensor<2x3x256xf32>, tensor<2x3x256xf32>, tensor<2x3x256x!fpq.float<e1m2>>,
        tensor<2x3x256x!fpq.float<e2m1>>, tensor<2x3x2xf32>, tensor<2x3x2xf32>, tensor<2x3x4xf32>) {
  %h = fpq.hadamard %x {block = 128 : i64} : tensor<2x3x256xf32>
  %g = fpq.hadamard %x, %s {block = 128 : i64} : tensor<2x3x256xf32>, tensor<256xf32>
  %nc, %pc, %sn, %sp = fpq.dual_quantize %x {neg_quant = #fpq.quant<e1m2, group 128>, pos_quant = #fpq.quant<e2m1, group 128>} : tensor<2x3x256xf32> -> (tensor<2x3x256x!fpq.float<e1m2>>, tensor<2x3x256x!fpq.float<e2m1>>, tensor<2x3x2xf32>, tensor<2x3x2xf32>)
  %y = fpq.dual_qlinear %nc, %pc, %sn, %sp, %wc, %ws, %b {neg_quant = #fpq.quant<e1m2, group 128>, pos_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>} : (tensor<2x3x256x!fpq.float<e1m2>>, tensor<2x3x256x!fpq.float<e2m1>>, tensor<2x3x2xf32>, tensor<2x3x2xf32>, tensor<4x256x!fpq.float<e2m1>>, tensor<4x2xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  func.return %h, %g, %nc, %pc, %sn, %sp, %y : tensor<2x3x256xf32>, tensor<2x3x256xf32>, tensor<2x3x256x!fpq.float<e1m2>>, tensor<2x3x256x!fpq.float<e2m1>>, tensor<2x3x2xf32>, tensor<2x3x2xf32>, tensor<2x3x4xf32>
}
"""

DFQ = DualFormat.parse("dfq-w4a4")
E2M1 = Format.parse("e2m1")


def _run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    module = Parser(make_context(), PROGRAM).parse_module()
    module.verify()
    return run_module(module, inputs)


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    # GELU-like: mostly small negatives, a few large positives.
    x = np.where(rng.random((2, 3, 256)) < 0.85, -0.17 * rng.random((2, 3, 256)),
                 3 * rng.random((2, 3, 256))).astype(np.float32)
    w = rng.standard_normal((4, 256)).astype(np.float32)
    ws = compute_scales(w, E2M1, axis=-1, group_size=128)
    return {
        "arg0": x,
        "arg1": random_signs(256, 3).astype(np.float32),
        "arg2": quantize(w, E2M1, ws, axis=-1, group_size=128),
        "arg3": ws,
        "arg4": rng.standard_normal(4).astype(np.float32),
    }


def test_ops_compute_the_numerics_functions_bit_exactly():
    inputs = _inputs()
    out = list(_run(inputs).values())
    x, signs, wc, ws, b = inputs.values()
    assert np.array_equal(out[0], fwht_f32(x, 128))
    assert np.array_equal(out[1], ght_f32(x, signs, 128))
    rows = x.reshape(6, 256)
    sn, sp = compute_dual_scales(rows, DFQ, 128)
    nc, pc = dual_quantize(rows, DFQ, sn, sp, 128)
    assert np.array_equal(out[2].reshape(6, 256), nc)
    assert np.array_equal(out[3].reshape(6, 256), pc)
    assert np.array_equal(out[4].reshape(6, 2), sn)
    assert np.array_equal(out[5].reshape(6, 2), sp)
    y = dual_qlinear(nc, pc, DFQ, sn, sp, wc, E2M1, ws, 128, b)
    assert np.array_equal(out[6].reshape(6, 4), y)
    # It is the float64 product of the dequantized operands up to fp32 rounding
    # of the scale combination.
    w = E2M1.decode(wc).astype(np.float64) * np.repeat(ws, 128, axis=1)
    xd = dual_dequantize(nc, pc, DFQ, sn, sp, 128).astype(np.float64)
    reference = xd @ w.T + b
    assert np.max(np.abs(y - reference)) < 1e-5 * np.max(np.abs(reference))


def test_hadamard_matrix_is_orthogonal_up_to_n():
    for n in (1, 2, 8, 128):
        h = hadamard_matrix(n)
        assert np.array_equal(h @ h.T, n * np.eye(n))


def test_dfq_round_trip_lands_on_the_reference_grids():
    x = _inputs()["arg0"].reshape(6, 256)
    sn, sp = compute_dual_scales(x, DFQ, 128)
    nc, pc = dual_quantize(x, DFQ, sn, sp, 128)
    back = dual_dequantize(nc, pc, DFQ, sn, sp, 128)
    sn_e = np.repeat(sn, 128, axis=1)
    sp_e = np.repeat(sp, 128, axis=1)
    neg = np.signbit(x)
    # REFERENCE §1: negatives on E1M2 {0, -0.25, ..., -1.75}·s_neg, positives on E2M1 ·s_pos.
    neg_grid = -0.25 * np.arange(8)
    pos_grid = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6])
    neg_values, pos_values = DFQ.neg.decode(nc), DFQ.pos.decode(pc)
    assert np.all(np.isin(neg_values[neg], neg_grid)) and np.all(neg_values[~neg] == 0)
    assert np.all(np.isin(pos_values[~neg], pos_grid)) and np.all(pos_values[neg] == 0)
    assert set(neg_values[neg]) == set(neg_grid)  # the data reaches every negative grid point
    assert np.array_equal(back, np.where(neg, neg_values * sn_e, pos_values * sp_e))
    # Scales are the side maxima over 1.75 and 6; each side hits its extreme.
    groups = x.reshape(6, 2, 128)
    assert np.array_equal(sn, np.max(np.where(np.signbit(groups), -groups, 0), -1) / np.float32(1.75))
    assert np.array_equal(sp, np.max(np.where(np.signbit(groups), 0, groups), -1) / np.float32(6))
    # Nearest grid point: at most half a step (0.125·s_neg, 1·s_pos for E2M1's top step).
    assert np.all(np.abs(np.where(neg, back - x, 0)) <= 0.125 * sn_e * (1 + 1e-6))
    assert np.all(np.abs(np.where(neg, 0, back - x)) <= 1.0 * sp_e * (1 + 1e-6))
