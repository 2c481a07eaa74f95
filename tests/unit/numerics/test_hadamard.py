"""Group-wise Hadamard transform: matrices, signs, weight folding and the fp32 FWHT."""

from decimal import Decimal, getcontext

import numpy as np
import pytest

from fpqc.numerics import NumericsError
from fpqc.numerics import (
    fold_weight,
    fwht_f32,
    fwht_scale,
    ght_f32,
    ght_matrix,
    hadamard_matrix,
    random_signs,
)


@pytest.mark.parametrize("n", [1, 2, 8, 64, 128])
def test_hadamard_matrix_is_sylvester_and_orthogonal(n):
    h = hadamard_matrix(n)
    assert h.dtype == np.float64 and h.shape == (n, n)
    i = np.arange(n)
    popcount = np.vectorize(lambda v: bin(v).count("1"))(i[:, None] & i[None, :])
    assert np.array_equal(h, (-1.0) ** popcount)
    assert np.array_equal(h @ h.T, n * np.eye(n))


def test_random_signs_are_seeded_plus_minus_one():
    s = random_signs(4096, seed=7)
    assert s.dtype == np.float64 and set(np.unique(s)) == {-1.0, 1.0}
    assert np.array_equal(s, random_signs(4096, seed=7))
    assert not np.array_equal(s, random_signs(4096, seed=8))
    bits = np.random.default_rng(7).integers(0, 2, size=4096)
    assert np.array_equal(s, 1.0 - 2.0 * bits)
    assert abs(s.mean()) < 0.1


def test_ght_matrix_is_blockdiag_and_orthogonal():
    q = ght_matrix(256, block=64, seed=3)
    assert q.shape == (256, 256) and q.dtype == np.float64
    np.testing.assert_allclose(q @ q.T, np.eye(256), atol=1e-14)
    signs = random_signs(256, 3)
    h = hadamard_matrix(64) / 8
    for b in range(4):
        blk = slice(64 * b, 64 * (b + 1))
        assert np.array_equal(q[blk, blk], signs[blk, None] * h)
        off = np.delete(q[blk], np.arange(64 * b, 64 * (b + 1)), axis=1)
        assert not off.any()


def test_bad_sizes_raise():
    with pytest.raises(NumericsError, match="power of two"):
        hadamard_matrix(12)
    with pytest.raises(NumericsError, match="multiple of the block"):
        ght_matrix(200, block=128)
    with pytest.raises(NumericsError, match="power of two"):
        ght_matrix(96, block=48)
    with pytest.raises(NumericsError, match="multiple of the block"):
        fwht_f32(np.zeros((2, 100), np.float32), 64)
    with pytest.raises(NumericsError, match="one \\+-1 sign per channel"):
        ght_f32(np.zeros((2, 128), np.float32), np.full(128, 0.5), 128)
    with pytest.raises(NumericsError, match="fold_weight"):
        fold_weight(np.zeros(8), 8)
    with pytest.raises(NumericsError, match="multiple of the block"):
        fold_weight(np.zeros((4, 200)), 128)


def test_fold_weight_keeps_the_layer():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 512))
    w = rng.standard_normal((48, 512)).astype(np.float32)
    q = ght_matrix(512, 128, seed=1)
    wq = fold_weight(w, 128, seed=1)
    assert wq.dtype == np.float32 and wq.flags.c_contiguous
    np.testing.assert_allclose((x @ q) @ wq.T, x @ w.T, rtol=0, atol=1e-4)


def _butterflies_f64(w: np.ndarray, signs: np.ndarray, block: int) -> np.ndarray:
    """The fold's definition, stage by stage in numpy: float64 butterflies on each block of W·s, times c."""
    y = (w.astype(np.float64) * signs).reshape(-1, block)
    h = 1
    while h < block:
        v = y.reshape(y.shape[0], block // (2 * h), 2, h)
        y = np.stack((v[:, :, 0, :] + v[:, :, 1, :], v[:, :, 0, :] - v[:, :, 1, :]), axis=2).reshape(-1, block)
        h *= 2
    return (y * (1 / np.sqrt(np.float64(block)))).astype(np.float32).reshape(w.shape)


@pytest.mark.parametrize(("shape", "block"), [((48, 512), 128), ((384, 128), 128), ((5, 1920), 128),
                                              ((300, 64), 8), ((7, 512), 256), ((2, 4), 1)])
@pytest.mark.parametrize("compiled", [False, True])
def test_fold_weight_is_the_butterflies_in_either_memory_order(shape, block, compiled, monkeypatch):
    """In C or Fortran order, in numpy or compiled, the fold is its definition bit for bit (float64
    butterflies, rounded once), and W @ Q's dense product to float32 rounding."""
    from fpqc.numerics import scales

    monkeypatch.setattr(scales, "COMPILED_WEIGHTS_FROM", 0 if compiled else 1 << 62)
    rng = np.random.default_rng(1)
    w = (rng.standard_normal(shape) * np.exp2(rng.integers(-20, 20, shape))).astype(np.float32)
    want = _butterflies_f64(w, random_signs(shape[1], 3), block)
    stored_transposed = np.ascontiguousarray(w.T).T
    folded = fold_weight(stored_transposed, block, seed=3)
    assert folded.flags.f_contiguous and not folded.flags.c_contiguous
    assert np.array_equal(fold_weight(w, block, seed=3).view(np.uint32), want.view(np.uint32))
    assert np.array_equal(np.ascontiguousarray(folded).view(np.uint32), want.view(np.uint32))
    dense = w.astype(np.float64) @ ght_matrix(shape[1], block, seed=3)
    np.testing.assert_allclose(want, dense, rtol=2**-23, atol=0)


@pytest.mark.parametrize("block", [1, 2, 4, 8, 16, 32, 64, 128, 256])
def test_fwht_scale_is_nearest_float32(block):
    getcontext().prec = 50
    exact = 1 / Decimal(block).sqrt()
    c = fwht_scale(block)
    assert c.dtype == np.float32
    lo, hi = np.nextafter(c, np.float32(0)), np.nextafter(c, np.float32(1))
    err = abs(Decimal(float(c)) - exact)
    assert err <= abs(Decimal(float(lo)) - exact) and err <= abs(Decimal(float(hi)) - exact)
    k = block.bit_length() - 1
    assert (err == 0) == (k % 2 == 0)  # exact for even powers of two only


@pytest.mark.parametrize("block", [2, 64, 128])
def test_fwht_matches_float64_hadamard(block):
    rng = np.random.default_rng(block)
    x = (rng.standard_normal((200, 512)) * rng.uniform(0.1, 10, (200, 1))).astype(np.float32)
    y = fwht_f32(x, block)
    assert y.dtype == np.float32 and y.shape == x.shape
    hb = hadamard_matrix(block) / np.sqrt(block)
    want = (x.astype(np.float64).reshape(200, -1, block) @ hb).reshape(x.shape)
    # log2(block) rounded adds plus one rounded multiply, relative to the row's norm
    bound = (np.log2(block) + 2) * 2.0**-24 * np.linalg.norm(x.reshape(200, -1, block), axis=-1)
    err = np.abs(y - want).reshape(200, -1, block).max(axis=-1)
    assert np.all(err <= bound)


def test_fwht_exact_on_integers_and_involution():
    x = np.random.default_rng(5).integers(-1000, 1000, (10, 256)).astype(np.float32)
    h = hadamard_matrix(64)
    # block 64: every sum is a small integer and the scale 1/8 is exact
    assert np.array_equal(fwht_f32(x, 64), (x.reshape(10, 4, 64) @ h / 8).reshape(10, 256))
    assert np.array_equal(fwht_f32(fwht_f32(x, 64), 64), x)
    # leading dimensions are free
    x3 = x.reshape(2, 5, 256)
    assert np.array_equal(fwht_f32(x3, 128), fwht_f32(x, 128).reshape(2, 5, 256))


def test_ght_f32_applies_signs_then_fwht():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 384)).astype(np.float32)
    signs = random_signs(384, seed=11)
    y = ght_f32(x, signs, 128)
    assert np.array_equal(y, fwht_f32(x * signs.astype(np.float32), 128))
    q = ght_matrix(384, 128, seed=11)
    np.testing.assert_allclose(y, x.astype(np.float64) @ q, rtol=0, atol=1e-5)
    # the float32 transform composed with folded weights keeps x W^T
    w = rng.standard_normal((16, 384))
    np.testing.assert_allclose(y.astype(np.float64) @ fold_weight(w, 128, seed=11).T, x @ w.T,
                               rtol=0, atol=2e-4)
