"""Group-wise Hadamard transformation (FPQVAR's GHT): offline matrices, online FWHT.

The transform is ``x -> x @ Q`` with ``Q = blockdiag(Q_0, Q_1, ...)``, one
``block x block`` matrix per block of consecutive channels::

    Q_b = D_b @ H / sqrt(block)

``H`` is the Sylvester Hadamard matrix (``H_1 = [1]``, ``H_2n = [[H, H], [H,
-H]]``, so ``H[i, j] = (-1)^popcount(i & j)``, symmetric, ``H @ H.T = n I``)
and ``D_b`` the diagonal of the random signs of block ``b``.  ``Q`` is
orthogonal, so folding it into a weight, ``W' = W @ Q`` (``fold_weight``,
float64, offline, by the FWHT's butterflies), keeps the layer's function: ``(x Q) (W Q)^T = x W^T``.

Random signs (``random_signs``)
-------------------------------
``random_signs(n, seed)`` = ``1 - 2 * numpy.random.default_rng(seed).integers(0,
2, size=n)`` as float64: bit 0 -> +1, bit 1 -> -1 (numpy's PCG64 Generator;
the draw is reproducible for a given numpy).  ``ght_matrix(dim, block, seed)``
draws ``dim`` signs once and gives block ``b`` the signs ``[b*block,
(b+1)*block)``.  ``dim`` must be a multiple of ``block`` and ``block`` a power
of two (else NumericsError).

Online transform in float32 (``fwht_f32``): the fixed order
------------------------------------------------------------
For each block of ``block`` consecutive elements of the last axis (in place,
every operation one float32 add or subtract, no fused multiply-add)::

    for h in 1, 2, 4, ..., block/2:                # stages, ascending
        for each pair (i, i + h) with (i & h) == 0:
            a, b = x[i], x[i + h]
            x[i], x[i + h] = a + b, a - b
    for every i: x[i] = x[i] * c                   # one float32 multiply

The pairs of one stage are independent, so their order is free (numpy does
all rows, blocks and pairs of a stage at once; the C++ loops); the stage order
is not.  The stages compute ``x @ H``.

The constant ``c`` is the float32 nearest to ``1/sqrt(block) = 2^(-k/2)``
(``block = 2^k``).  For even ``k`` (block 1, 4, 16, 64, 256, ...) it is an exact
power of two and the scaling is exact.  For odd ``k`` (block 2, 8, 32, 128,
...) it is ``float32(1/sqrt(2)) * 2^(-(k-1)/2)`` with ``float32(1/sqrt(2)) =
0x1.6a09e6p-1`` (0.70710677, 1.7e-8 relative below 1/sqrt(2)), and each
multiply rounds once to nearest even.  Block 128 (FPQVAR's) is odd: ``c =
0x1.6a09e6p-4``.

``ght_f32(x, signs, block)`` = ``fwht_f32(x * signs, block)``: the sign flips
(exact float32 multiplies by +-1) then the FWHT.  Use it when the signs are
not folded into the preceding AdaLN modulation; when they are, the online
part is ``fwht_f32`` alone.

C++ twin: ``fwht_f32<BLOCK>`` / ``ght_f32<DIM, BLOCK>`` in
``fpqc/backends/hls/include/fpqc_fpqvar.h``.
"""

from __future__ import annotations

import numpy as np

from fpqc.numerics.errors import NumericsError
from fpqc.numerics.c_arrays import c_array, c_float

INV_SQRT2_F32 = np.float32(0.70710677)  # 0x3f3504f3, float32 nearest 1/sqrt(2)


def _log2_block(block: int, what: str = "block") -> int:
    block = int(block)
    if block < 1 or block & (block - 1):
        raise NumericsError(f"Hadamard {what} must be a power of two (1, 2, 4, ..., 128), got {block}")
    return block.bit_length() - 1


def _check_dim(dim: int, block: int) -> None:
    _log2_block(block)
    if dim <= 0 or dim % block:
        raise NumericsError(
            f"group-wise Hadamard needs a dimension that is a multiple of the block size; "
            f"got dimension {dim} with block {block} (pad the channels or pick a block "
            f"dividing {dim})"
        )


def hadamard_matrix(n: int) -> np.ndarray:
    """float64 [n, n] Sylvester Hadamard matrix (entries +-1, unnormalized)."""
    _log2_block(n, "size")
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def random_signs(n: int, seed: int) -> np.ndarray:
    """float64 [n] of +-1 from ``numpy.random.default_rng(seed)`` (module docstring)."""
    bits = np.random.default_rng(seed).integers(0, 2, size=int(n))
    return (1 - 2 * bits).astype(np.float64)


def ght_blocks(dim: int, block: int = 128, seed: int = 0) -> list[np.ndarray]:
    """float64 diagonal blocks ``D_b @ H / sqrt(block)`` of ``ght_matrix(dim, block, seed)``, in order."""
    _check_dim(dim, block)
    signs = random_signs(dim, seed)
    hb = hadamard_matrix(block) / np.sqrt(block)
    return [signs[b : b + block, None] * hb for b in range(0, dim, block)]


def ght_matrix(dim: int, block: int = 128, seed: int = 0) -> np.ndarray:
    """float64 [dim, dim] ``blockdiag(D_b @ H / sqrt(block))``."""
    q = np.zeros((dim, dim))
    for i, qb in enumerate(ght_blocks(dim, block, seed)):
        q[i * block : (i + 1) * block, i * block : (i + 1) * block] = qb
    return q


def fold_weight(w, block: int = 128, seed: int = 0) -> np.ndarray:
    """float32 ``W @ ght_matrix(K, block, seed)`` of a weight ``W [O, K]``, in float64 (offline).

    Each output is ``float32(c · Σ_i (W[o, b+i]·s[b+i])·H[i, j])`` with ``c = float64(1/sqrt(block))``,
    the sum computed by the butterflies of the fast Walsh-Hadamard transform in float64, stages
    ascending (the module docstring's order; a large weight in one compiled pass,
    :func:`~fpqc.numerics.ordered_loops.fold_hadamard_columns`): a fixed order on every machine, where
    a BLAS product's depends on the library.  A Fortran-ordered ``W`` (a transposed view of a
    ``[K, O]`` array) is folded as stored and returned as the transposed view of a ``[K, O]`` array.
    """
    from fpqc.numerics.scales import COMPILED_WEIGHTS_FROM

    w = np.asarray(w)
    if w.ndim != 2:
        raise NumericsError(f"fold_weight needs a weight [O, K]; got shape {w.shape}")
    _check_dim(w.shape[1], block)
    signs = random_signs(w.shape[1], seed)
    if w.size >= COMPILED_WEIGHTS_FROM:
        from fpqc.numerics import ordered_loops

        stored = np.ascontiguousarray(w.T)  # [K, O]: blocks run down the columns (a copy only for a C-ordered W)
        out = np.empty(stored.shape, dtype=np.float32)
        ordered_loops.fold_hadamard_columns(stored, signs, block, out)
        folded = out.T
    else:
        sums = _butterfly_stages(w.astype(np.float64) * signs, block)
        folded = (sums * (1 / np.sqrt(np.float64(block)))).astype(np.float32)
    transposed = w.flags.f_contiguous and not w.flags.c_contiguous
    return np.asfortranarray(folded) if transposed else np.ascontiguousarray(folded)


def ght_congruence(h, block: int = 128, seed: int = 0) -> np.ndarray:
    """float64 ``Qᵀ H Q`` for ``Q = ght_matrix(K, block, seed)`` and a ``[K, K]`` matrix ``H``.

    The second moment ``Xᵀ X`` of a layer's input rows becomes that of the
    transformed rows ``X Q``.  Computed block by block of Q's diagonal.
    """
    h = np.asarray(h, dtype=np.float64)
    k = h.shape[0]
    if h.shape != (k, k):
        raise NumericsError(f"ght_congruence needs a square matrix; got shape {h.shape}")
    blocks = ght_blocks(k, block, seed)
    out = np.empty((k, k))
    for i, qi in enumerate(blocks):
        for j, qj in enumerate(blocks):
            rows, cols = slice(i * block, (i + 1) * block), slice(j * block, (j + 1) * block)
            out[rows, cols] = qi.T @ h[rows, cols] @ qj
    return out


def fwht_scale(block: int) -> np.float32:
    """The float32 constant ``c`` ~ 1/sqrt(block) of ``fwht_f32`` (module docstring)."""
    k = _log2_block(block)
    pow2 = np.float32(2.0 ** -(k // 2))
    return INV_SQRT2_F32 * pow2 if k % 2 else pow2


def fwht_f32(x, block: int) -> np.ndarray:
    """float32 normalized Walsh-Hadamard transform of each block of the last axis."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 0:
        raise NumericsError("fwht_f32 needs at least one axis (blocks run along the last)")
    _check_dim(x.shape[-1], block)
    return _butterfly_stages(x, block) * fwht_scale(block)


def _butterfly_stages(x: np.ndarray, block: int) -> np.ndarray:
    """``x @ H`` on each block of the last axis by the butterflies, stages ascending, in ``x``'s dtype."""
    y = x.reshape(-1, block)
    h = 1
    while h < block:
        v = y.reshape(y.shape[0], block // (2 * h), 2, h)
        a, b = v[:, :, 0, :], v[:, :, 1, :]
        y = np.stack((a + b, a - b), axis=2).reshape(-1, block)
        h *= 2
    return y.reshape(x.shape)


def ght_f32(x, signs, block: int) -> np.ndarray:
    """float32 ``fwht_f32(x * signs, block)``: random signs, then the FWHT."""
    x = np.asarray(x, dtype=np.float32)
    signs = np.asarray(signs, dtype=np.float32)
    if x.ndim == 0 or signs.shape != (x.shape[-1],) or not np.all(np.abs(signs) == 1):
        raise NumericsError(
            f"ght_f32 needs one +-1 sign per channel: x {x.shape}, signs {signs.shape}")
    return fwht_f32(x * signs, block)


def emit_ght_signs(signs, prefix: str) -> str:
    """``static const float {prefix}_signs[dim]`` (+-1 literals) for ``fpqc::ght_f32``."""
    signs = np.asarray(signs, dtype=np.float32)
    return f"// fpqc GHT random signs ({signs.size})\n" + c_array(
        "float", f"{prefix}_signs", [c_float(s) for s in signs], 16)
