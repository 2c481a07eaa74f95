"""Compiled loops for the fp32 reductions whose order the numerics contract fixes.

A sum in the contract runs left to right from its first term, each product
rounded to fp32 before it is added (:mod:`fpqc.numerics.attention`).  numpy can
only follow that order one term at a time (a Python loop of whole-array
operations); these loops, compiled by numba, follow it element by element::

    sum_rows       out[r]    = ((x[r,0] + x[r,1]) + x[r,2]) + ...
    dot_rows       out[b,i,j] = ((q[b,i,0]·kt[b,0,j] + q[b,i,1]·kt[b,1,j]) + ...)
    weighted_rows  out[b,i,d] = ((p[b,i,0]·v[b,0,d] + p[b,i,1]·v[b,1,d]) + ...)
    f64_dot_rows   out[t,o]  = float32(((+0.0 + x[t,0]·w[o,0]) + x[t,1]·w[o,1]) + ...)  in float64
    combine_group  acc[t,o]  = acc[t,o] + (xs[t]·ws[o])·(float32(partial[t,o])·unit)   (one group)
    softmax_rows   e[r,j] = exp_f32(x[r,j] − max_j x[r,j]);  out[r,j] = e[r,j] / ((e[r,0] + e[r,1]) + ...)

and loops that have no order to keep but are on the same path: ``lookup``
(``table[codes]`` without numpy's conversion of every code to a 64-bit index),
``encode_keys`` (the fast form of the LUT quantizer, :mod:`fpqc.numerics.rounding`,
in one pass over the float32 bit patterns instead of numpy's four), and
``quantize_groups`` / ``quantize_columns`` (a group's scale and codes in one pass; the
latter for a weight stored transposed, groups down its columns), ``fold_hadamard_columns``
(the offline Hadamard fold of a weight, :mod:`fpqc.numerics.hadamard`) and ``pack_words``
(codes of 3, 5, 6 or 7 bits into 32-bit words, where numpy takes a pass per code of a word).

Every ``+`` and ``·`` is one float32 operation rounded to nearest even: numba
compiles without fast-math, so LLVM neither reassociates the sums nor fuses a
multiply and an add.  The innermost loop of ``dot_rows``, ``weighted_rows`` and
``f64_dot_rows`` runs over independent outputs (``j``, ``d``, ``o``), which the compiler vectorises
without changing any single output's order; ``dot_rows`` and ``weighted_rows`` add four terms to
an output per pass (``((acc + t0) + t1) + ...``, still one rounding each), which saves three of
every four loads and stores of it.  The results are those of the
contract's definition bit for bit (``tests/unit/numerics/test_ordered_loops.py``
compares them with it, NaN, infinities and subnormals included).

The callers pass C-contiguous float32 arrays and a preallocated ``out``.  A call
from the main thread with at least ``PARALLEL_WORK`` multiply-adds splits its heads
or rows into one contiguous share per core, computed by a pool of Python threads
(the loops release the GIL); which thread computes an output never changes how.
A call from another thread runs on that thread alone: ``fpqc compile`` quantizes its
weights in a background thread and leaves the other core to its main thread.  Threads
that wait block rather than spin, so they leave the cores to numpy's BLAS
between calls.  The compiled code is cached beside this file (numba's
``cache=True``).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from fpqc.numerics.transcendental import _exp, _from_bits, _rsqrt

# Every loop takes the range [lo, hi) of its units of work (rows, heads, row blocks) to compute.  A flat loop
# walks slices ``x[lo:hi]`` from 0: indexing with ``range(lo, hi)`` would keep numba's check for negative
# indices in the loop, which stops LLVM from vectorising it (a table lookup ran 2.5x slower).


@numba.njit(cache=True, nogil=True)
def _sum_rows(x, out, lo, hi):
    columns = x.shape[1]
    for r in range(lo, hi):
        acc = x[r, 0]
        for c in range(1, columns):
            acc = acc + x[r, c]
        out[r] = acc


@numba.njit(cache=True, nogil=True)
def _combined_rows(a, rows, out, lo, hi):
    """``out[b, i, :]`` = Σ_r ``a[b, i, r]·rows[b, r, :]`` left to right: dot_rows and weighted_rows."""
    n, terms = a.shape[1], a.shape[2]
    width = rows.shape[2]
    for b in range(lo, hi):
        for i in range(n):
            acc = out[b, i]
            ai = a[b, i]
            first = rows[b, 0]
            for c in range(width):
                acc[c] = ai[0] * first[c]
            r = 1
            while r + 4 <= terms:  # four terms per pass over acc, added one after another as below
                a0, a1, a2, a3 = ai[r], ai[r + 1], ai[r + 2], ai[r + 3]
                r0, r1, r2, r3 = rows[b, r], rows[b, r + 1], rows[b, r + 2], rows[b, r + 3]
                for c in range(width):
                    acc[c] = (((acc[c] + a0 * r0[c]) + a1 * r1[c]) + a2 * r2[c]) + a3 * r3[c]
                r += 4
            for r in range(r, terms):
                ar = ai[r]
                row = rows[b, r]
                for c in range(width):
                    acc[c] = acc[c] + ar * row[c]


_ROW_BLOCK = 8  # rows of x sharing one pass over a tile of wt
_OUTPUT_TILE = 256  # outputs whose float64 sums stay in L1 (8 x 256 x 8 bytes)


@numba.njit(cache=True, nogil=True)
def _f64_dot_rows(x, wt, out, lo, hi):
    rows, depth = x.shape
    outputs = wt.shape[1]
    acc = np.empty((_ROW_BLOCK, _OUTPUT_TILE), np.float64)
    for block in range(lo, hi):
        t0 = block * _ROW_BLOCK
        nt = min(_ROW_BLOCK, rows - t0)
        for o0 in range(0, outputs, _OUTPUT_TILE):
            no = min(_OUTPUT_TILE, outputs - o0)
            acc[:nt, :no] = 0.0
            for k in range(depth):
                wk = wt[k, o0:o0 + no]
                for r in range(nt):
                    xk = np.float64(x[t0 + r, k])
                    ar = acc[r]
                    for o in range(no):
                        ar[o] = ar[o] + xk * np.float64(wk[o])
            for r in range(nt):
                for o in range(no):
                    out[t0 + r, o0 + o] = np.float32(acc[r, o])


@numba.njit(cache=True, nogil=True)
def _f64_dot_outputs(x, w, out, lo, hi):
    """As ``_f64_dot_rows`` on the untransposed ``w`` [O, K], four outputs at a time (for few rows)."""
    rows, depth = x.shape
    last = w.shape[0] - 1
    for block in range(lo, hi):
        o0 = 4 * block
        o1, o2, o3 = min(o0 + 1, last), min(o0 + 2, last), min(o0 + 3, last)
        for t in range(rows):
            a0 = a1 = a2 = a3 = 0.0
            for k in range(depth):
                xk = np.float64(x[t, k])
                a0 = a0 + xk * np.float64(w[o0, k])
                a1 = a1 + xk * np.float64(w[o1, k])
                a2 = a2 + xk * np.float64(w[o2, k])
                a3 = a3 + xk * np.float64(w[o3, k])
            out[t, o0] = np.float32(a0)
            out[t, o1] = np.float32(a1)
            out[t, o2] = np.float32(a2)
            out[t, o3] = np.float32(a3)


@numba.njit(cache=True, nogil=True)
def _combine_group(acc, partial, xs, ws, unit, lo, hi):
    for t in range(lo, hi):
        scale = xs[t]
        row, sums = acc[t], partial[t]
        for o in range(row.shape[0]):
            row[o] = row[o] + (scale * ws[o]) * (np.float32(sums[o]) * unit)


@numba.njit(cache=True, nogil=True)
def _combine_groups(out, partials, xs, ws, unit, bias, lo, hi):
    for t in range(lo, hi):
        row = out[t]
        row[:] = np.float32(0.0)
        for i in range(partials.shape[0]):  # each element's groups in order: _combine_group's sums
            scale, sums, scales = xs[i, t], partials[i, t], ws[i]
            for o in range(row.shape[0]):
                row[o] = row[o] + (scale * scales[o]) * (np.float32(sums[o]) * unit)
        if bias.shape[0]:
            for o in range(row.shape[0]):
                row[o] = row[o] + bias[o]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _attention_heads(qkv, q_scale, eps2, q, k, v, lo, hi):
    depth = q.shape[3]
    for b in range(lo, hi):
        for h in range(q.shape[1]):
            for row in range(q.shape[2]):
                x = qkv[b, row]
                for part, out in ((0, q), (1, k)):
                    first = (part * q.shape[1] + h) * depth
                    total = x[first] * x[first]
                    for d in range(1, depth):
                        total = total + x[first + d] * x[first + d]
                    r = _rsqrt(total if total >= eps2 or total != total else eps2)  # np.maximum: NaN wins
                    dst = out[b, h, row]
                    for d in range(depth):
                        dst[d] = x[first + d] * r
                    if part == 0:
                        for d in range(depth):
                            dst[d] = dst[d] * q_scale[h]
                first = (2 * q.shape[1] + h) * depth
                dst = v[b, h, row]
                for d in range(depth):
                    dst[d] = x[first + d]


_NEG_INF = np.float32(-np.inf)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _softmax_rows(x, out, lo, hi):
    columns = x.shape[1]
    for r in range(lo, hi):
        row, e = x[r], out[r]
        top = _NEG_INF  # the row's maximum; NaN when the row holds one (as numpy's max)
        for j in range(columns):
            v = row[j]
            top = v if (v > top or v != v) and top == top else top
        for j in range(columns):
            e[j] = _exp(row[j] - top)
        total = e[0]
        for j in range(1, columns):
            total = total + e[j]
        for j in range(columns):
            e[j] = e[j] / total


@numba.njit(cache=True, nogil=True)
def _lookup(table, codes, out, lo, hi):
    part, out_part = codes[lo:hi], out[lo:hi]
    for i in range(part.size):
        out_part[i] = table[part[i]]


@numba.njit(cache=True, nogil=True, inline="always")
def _code_of_bits(table, s, low, b):
    """The LUT quantizer's code of float32 bits ``b`` (uint32; ``s`` its key shift, ``low`` 2^s − 1)."""
    return table[(b >> s) + (np.uint32(b + low) >> s)]  # 2·key + (not the interval's first value)


@numba.njit(cache=True, nogil=True)
def _encode_keys(table, shift, bits, out, lo, hi):
    low = np.uint32((1 << shift) - 1)
    s = np.uint32(shift)
    part, out_part = bits[lo:hi], out[lo:hi]
    for i in range(part.size):
        out_part[i] = _code_of_bits(table, s, low, part[i])


_MAGNITUDE = np.uint32(0x7FFFFFFF)  # a float32's bits without the sign
_INF_BITS = np.uint32(0x7F800000)  # +inf: a magnitude's bits above it are a NaN's


@numba.njit(cache=True, nogil=True, inline="always")
def _scale_of_top(top, max_value):
    """The fp32 scale of a group whose largest magnitude has the bits ``top`` (uint32, sign cleared):
    NaN when the group holds a NaN or an infinity, 1 for a group of zeros, else absmax / ``max_value``.
    Magnitudes order as their bits do, so a group's absmax is an integer maximum (one the compiler
    vectorises), a NaN's bits above every other."""
    if top >= _INF_BITS:
        return np.float32(np.nan)
    if top == 0:
        return np.float32(1)
    return np.float32(_from_bits(np.int32(top)) / max_value)


@numba.njit(cache=True, nogil=True, error_model="numpy")  # a scale that underflowed to 0 divides as IEEE does
def _quantize_groups(x, max_value, table, shift, codes, scales, lo, hi):
    groups = scales.shape[1]
    size = x.shape[1] // groups
    low = np.uint32((1 << shift) - 1)
    s = np.uint32(shift)
    ratios = np.empty(size, np.float32)
    bits = ratios.view(np.uint32)
    x_bits = x.view(np.uint32)
    for r in range(lo, hi):
        row, row_bits, row_codes = x[r], x_bits[r], codes[r]
        for g in range(groups):
            first = g * size
            top = np.uint32(0)
            for c in range(first, first + size):
                top = max(top, row_bits[c] & _MAGNITUDE)
            scale = _scale_of_top(top, max_value)
            scales[r, g] = scale
            for c in range(size):
                ratios[c] = row[first + c] / scale
            for c in range(size):
                row_codes[first + c] = _code_of_bits(table, s, low, bits[c])


_BAND = 64


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _quantize_columns(t, max_value, table, shift, codes, scales, lo, hi):
    """``_quantize_groups`` of ``tᵀ`` for ``t`` [K, O] (groups run down its columns), columns lo..hi:
    ``codes`` [O, K], ``scales`` [G, O]."""
    groups = scales.shape[0]
    size = t.shape[0] // groups
    low = np.uint32((1 << shift) - 1)
    s = np.uint32(shift)
    tops = np.empty(hi - lo, np.uint32)
    ratio = np.empty(1, np.float32)
    bits = ratio.view(np.uint32)
    t_bits = t.view(np.uint32)
    for g in range(groups):
        first = g * size
        tops[:] = 0  # each column's largest magnitude in the group, as bits (_scale_of_top)
        for r in range(first, first + size):
            row_bits = t_bits[r, lo:hi]
            for o in range(hi - lo):
                tops[o] = max(tops[o], row_bits[o] & _MAGNITUDE)
        for o in range(lo, hi):
            scales[g, o] = _scale_of_top(tops[o - lo], max_value)
        # rows a band at a time: the band's rows stay in the caches while each column's codes are written
        for band in range(first, first + size, _BAND):
            end = min(band + _BAND, first + size)
            for o in range(lo, hi):
                scale = scales[g, o]
                for r in range(band, end):
                    ratio[0] = np.float32(t[r, o] / scale)
                    codes[o, r] = _code_of_bits(table, s, low, bits[0])


_FOLD_TILE = 128


@numba.njit(cache=True, nogil=True)
def _fold_hadamard_columns(t, signs, block, scale, out, lo, hi):
    """``out[b + j, o] = float32(scale · Σ_i (t[b + i, o]·signs[b + i])·H[i, j])`` for each block ``b`` of
    ``block`` rows, columns lo..hi: in float64, the sum by the Walsh-Hadamard butterflies, stages ascending,
    a tile of columns at a time (the tile stays in the caches through the stages)."""
    buf = np.empty((block, _FOLD_TILE), np.float64)
    for b in range(0, t.shape[0], block):
        for first in range(lo, hi, _FOLD_TILE):
            n = min(_FOLD_TILE, hi - first)
            for i in range(block):
                sign, source, row = signs[b + i], t[b + i, first : first + n], buf[i]
                for c in range(n):
                    row[c] = np.float64(source[c]) * sign
            h = 1
            while h < block:
                for start in range(0, block, 2 * h):
                    for i in range(start, start + h):
                        upper, lower = buf[i], buf[i + h]
                        for c in range(n):
                            x, y = upper[c], lower[c]
                            upper[c] = x + y
                            lower[c] = x - y
                h *= 2
            for i in range(block):
                row, target = buf[i], out[b + i, first : first + n]
                for c in range(n):
                    target[c] = np.float32(row[c] * scale)


@numba.njit(cache=True, nogil=True)
def _pack_words(codes, bits, words, lo, hi):
    per = 32 // bits
    mask = np.uint32((1 << bits) - 1)
    for w in range(lo, hi):
        word = np.uint32(0)
        first = w * per
        for i in range(per):
            word |= (np.uint32(codes[first + i]) & mask) << np.uint32(i * bits)
        words[w] = word


PARALLEL_WORK = 1 << 22  # operations from which a call is shared among the cores
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_pool: ThreadPoolExecutor | None = None


def _forget_pool() -> None:
    """A forked child has none of its parent's threads: it starts a pool of its own when it needs one."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_in_shares(loop, units: int, work: int, *arrays) -> None:
    """``loop(*arrays, lo, hi)`` over ``range(units)``: at once, or one contiguous share per core."""
    global _pool
    alone = work < PARALLEL_WORK or threading.current_thread() is not threading.main_thread()
    shares = 1 if alone else min(_CORES, units)
    if shares <= 1:
        loop(*arrays, 0, units)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(_CORES - 1, thread_name_prefix="fpqc-loops")
    bounds = [units * i // shares for i in range(shares + 1)]
    others = [_pool.submit(loop, *arrays, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    loop(*arrays, bounds[0], bounds[1])  # the first share on this thread, the others in the pool meanwhile
    for future in others:
        future.result()


def sum_rows(x: np.ndarray, out: np.ndarray) -> None:
    """``out[r]`` = the left-to-right fp32 sum of ``x[r, :]`` (``x`` [R, C], C ≥ 1)."""
    run_in_shares(_sum_rows, x.shape[0], x.size, x, out)


def dot_rows(q: np.ndarray, kt: np.ndarray, out: np.ndarray) -> None:
    """``out[b, i, j]`` = Σ_d ``q[b, i, d]·kt[b, d, j]`` left to right (q [B, n, D], kt [B, D, m])."""
    run_in_shares(_combined_rows, q.shape[0], q.size * kt.shape[2], q, kt, out)


def weighted_rows(p: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """``out[b, i, d]`` = Σ_j ``p[b, i, j]·v[b, j, d]`` left to right (p [B, n, m], v [B, m, D])."""
    run_in_shares(_combined_rows, p.shape[0], p.size * v.shape[2], p, v, out)


def f64_dot_rows(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
    """``out[t, o]`` = float32 of Σ_k ``x[t, k]·w[o, k]`` in float64, left to right from +0.0.

    ``x`` [T, K] and ``w`` [O, K] are float32, so every product is exact in float64.  With a few
    rows the loop walks ``w`` as it is; with more, it transposes it once and vectorises across the
    outputs.  Blocks of rows and tiles of outputs change which sums are in flight together, never
    a sum's order.
    """
    work = x.size * w.shape[0]
    if x.shape[0] < _ROW_BLOCK:
        run_in_shares(_f64_dot_outputs, -(-w.shape[0] // 4), work, x, w, out)
    else:
        run_in_shares(_f64_dot_rows, -(-x.shape[0] // _ROW_BLOCK), work, x, np.ascontiguousarray(w.T), out)


def combine_group(acc: np.ndarray, partial: np.ndarray, xs: np.ndarray, ws: np.ndarray, unit: np.float32) -> None:
    """One group of a quantized linear layer, in place: ``acc[t, o] += (xs[t]·ws[o])·(float32(partial[t, o])·unit)``.

    ``acc`` [T, O] float32; ``partial`` [T, O] the group's exact sums (float32 or float64);
    ``xs`` [T] and ``ws`` [O] float32 scales (:mod:`fpqc.numerics.products`).
    """
    run_in_shares(_combine_group, acc.shape[0], 4 * acc.size, acc, partial, xs, ws, unit)


_NO_BIAS = np.empty(0, np.float32)


def combine_groups(out: np.ndarray, partials: np.ndarray, xs: np.ndarray, ws: np.ndarray, unit: np.float32,
                   bias: np.ndarray | None = None) -> None:
    """A whole quantized linear layer into ``out`` [T, O] float32 (its contents ignored): from +0.0,
    :func:`combine_group` of ``partials[i]`` [T, O], ``xs[i]`` [T] and ``ws[i]`` [O] for i = 0, 1, ...,
    then ``+ bias[o]`` when a float32 ``bias`` [O] is given (one pass over ``out``)."""
    bias = _NO_BIAS if bias is None else bias
    run_in_shares(_combine_groups, out.shape[0], 4 * partials.size, out, partials, xs, ws, unit, bias)


def quantize_groups(x: np.ndarray, max_value: np.float32, table: np.ndarray, shift: int, codes: np.ndarray,
                    scales: np.ndarray) -> None:
    """Each group of ``x`` [R, K] (``scales`` [R, G]: K / G values a group): its fp32 scale (absmax /
    ``max_value``; 1 for a group of zeros, NaN for one with a NaN or an infinity) and the codes of
    ``x / scale`` by a quantizer's key table (``QuantizerTable.key_table``)."""
    run_in_shares(_quantize_groups, x.shape[0], 8 * x.size, x, max_value, table, shift, codes, scales)


def quantize_columns(t: np.ndarray, max_value: np.float32, table: np.ndarray, shift: int, codes: np.ndarray,
                     scales: np.ndarray) -> None:
    """:func:`quantize_groups` of ``tᵀ`` for a C-ordered ``t`` [K, O] whose groups run down its columns
    (``codes`` [O, K], ``scales`` [G, O]): a weight stored transposed, quantized without copying it."""
    run_in_shares(_quantize_columns, t.shape[1], 8 * t.size, t, max_value, table, shift, codes, scales)


def fold_hadamard_columns(t: np.ndarray, signs: np.ndarray, block: int, out: np.ndarray) -> None:
    """``out`` [K, O] float32 = ``Qᵀ t`` for ``t`` [K, O] and ``Q = blockdiag(D_b H / sqrt(block))`` (signs
    ``D`` [K] float64 of ±1): :func:`fpqc.numerics.hadamard.fold_weight`'s definition, in float64."""
    scale = 1.0 / np.sqrt(np.float64(block))
    run_in_shares(_fold_hadamard_columns, t.shape[1], t.size * (block.bit_length() + 1), t, signs, np.int64(block),
         scale, out)


def pack_words(codes: np.ndarray, bits: int, words: np.ndarray) -> None:
    """``words[w]`` = the uint32 of codes ``codes[w·per : (w+1)·per]`` (``per`` = 32 // bits), code i in bits
    [i·bits, (i+1)·bits) (:func:`fpqc.backends.hls.codes.pack_codes`); ``codes`` holds ``per`` per word."""
    run_in_shares(_pack_words, words.size, codes.size, codes, np.int64(bits), words)


def load_weight_loops() -> None:
    """Load (or compile) the loops of a compile's weights -- :func:`quantize_columns`, :func:`quantize_groups`,
    :func:`fold_hadamard_columns` and :func:`pack_words` -- by running each once on a tiny input."""
    table = np.zeros(2, np.uint8)
    table.setflags(write=False)  # as a quantizer's key table: numba compiles read-only arrays apart
    zeros = np.zeros((2, 2), np.float32)  # zeros: scale 1, key 0, whatever the table
    quantize_columns(zeros, np.float32(1), table, 23, np.empty((2, 2), np.uint8), np.empty((1, 2), np.float32))
    quantize_groups(zeros, np.float32(1), table, 23, np.empty((2, 2), np.uint8), np.empty((2, 1), np.float32))
    fold_hadamard_columns(zeros, np.ones(2), 2, np.empty((2, 2), np.float32))
    pack_words(np.zeros(5, np.uint8), 6, np.empty(1, "<u4"))


def attention_heads(qkv: np.ndarray, q_scale: np.ndarray, eps2: np.float32, q: np.ndarray, k: np.ndarray,
                    v: np.ndarray) -> None:
    """Queries, keys and values ``[B, H, L, D]`` from ``qkv`` [B, L, 3·H·D] (float32, C order): each query and key
    head row ``x`` as ``x · rsqrt_f32(max(Σx², eps2))`` (the sum left to right from ``x_0·x_0``), each query's
    then times ``q_scale[h]``; the values copied (:func:`fpqc.numerics.attention.attention_heads`)."""
    run_in_shares(_attention_heads, qkv.shape[0], 4 * qkv.size, qkv, q_scale, eps2, q, k, v)


def softmax_rows(x: np.ndarray, out: np.ndarray) -> None:
    """``out[r]`` = the softmax of ``x[r]`` (``x`` [R, C] float32, C ≥ 1) in the contract's order."""
    run_in_shares(_softmax_rows, x.shape[0], 16 * x.size, x, out)


def lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes]`` for a 1-D ``table`` and integer ``codes`` within it: an array of ``codes``' shape."""
    flat = np.ascontiguousarray(codes).reshape(-1)
    out = np.empty(flat.size, table.dtype)
    run_in_shares(_lookup, flat.size, flat.size, table, flat, out)
    return out.reshape(np.shape(codes))


def encode_keys(table: np.ndarray, shift: int, bits: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = table[(bits[i] >> shift) + ((bits[i] + 2^shift − 1) >> shift)]`` in uint32 arithmetic
    (``bits`` the uint32 patterns of float32 values; :meth:`fpqc.numerics.rounding.QuantizerTable.encode`)."""
    run_in_shares(_encode_keys, bits.size, 4 * bits.size, table, np.int64(shift), bits, out)


__all__ = [
    "PARALLEL_WORK",
    "attention_heads",
    "combine_group",
    "dot_rows",
    "encode_keys",
    "f64_dot_rows",
    "lookup",
    "softmax_rows",
    "sum_rows",
    "weighted_rows",
]
