"""Low-bit codes in memory: a tensor's code format and codes packed into 32-bit words.

A tensor of ``bits``-bit codes is stored as little-endian ``uint32`` words of
floor(32/bits) codes each, code i of a word in bits [i*bits, (i+1)*bits).
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import Float32Type, TensorType
from xdsl.ir import Attribute

from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.numerics import Format
from fpqc.numerics.scales import COMPILED_WEIGHTS_FROM

WORD_LAYOUT = "uint32 little-endian, code i of a word in bits [i*bits, (i+1)*bits)"
"""How codes sit in a word, as ``weights.json`` states it."""


def code_format(t: Attribute) -> Format | None:
    """The low-bit format of a code tensor type, None for an f32 tensor."""
    if not isinstance(t, TensorType):
        raise FpqcError(f"the HLS backend handles ranked tensors only, got {t}")
    element = t.get_element_type()
    if isinstance(element, fpq.FloatFormatType | fpq.IntFormatType):
        return element.format
    if isinstance(element, Float32Type):
        return None
    raise FpqcError(f"the HLS backend handles f32 and low-bit code tensors, got {t}")


def words_for(n_codes: int, bits: int) -> int:
    """How many 32-bit words hold ``n_codes`` codes of ``bits`` bits."""
    per = 32 // bits
    return (n_codes + per - 1) // per


def pack_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """uint32 words holding ``codes`` (flattened), floor(32/bits) per word, little-endian.

    A large weight's codes narrower than a byte are packed by a compiled loop: numpy takes one pass
    per code of a word (a VAR-d16's fp6 weights: 1.3 s, against 0.5 s), or for codes that fill
    whole bytes, two per code of a byte (50M fp4 codes: 0.11 s, against 0.07 s)."""
    per = 32 // bits
    flat = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1)
    n_words = words_for(flat.size, bits)
    if bits < 8 and flat.size >= COMPILED_WEIGHTS_FROM:  # one compiled pass (numba) over its whole words
        from fpqc.numerics import ordered_loops

        words = np.empty(n_words, dtype="<u4")
        whole = flat.size // per
        ordered_loops.pack_words(flat[: whole * per], bits, words[:whole])
        words[whole:] = pack_codes(flat[whole * per :], bits)
        return words
    if flat.size != n_words * per:  # the last word's unused codes are zeros
        flat = np.concatenate([flat, np.zeros(n_words * per - flat.size, np.uint8)])
    mask = np.uint8((1 << bits) - 1)
    if 8 % bits == 0:  # whole bytes of codes: a word is its four bytes, little-endian
        per_byte = flat.reshape(-1, 8 // bits)
        packed = per_byte[:, 0] & mask
        for i in range(1, per_byte.shape[1]):
            packed |= (per_byte[:, i] & mask) << np.uint8(i * bits)
        return packed.view("<u4")
    lanes = flat.reshape(n_words, per) & mask
    words = np.zeros(n_words, dtype="<u4")
    for i in range(per):  # code i of every word at once
        words |= lanes[:, i].astype("<u4") << np.uint32(i * bits)
    return words


def unpack_codes(words: np.ndarray, bits: int, n_codes: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`: uint8 codes."""
    per = 32 // bits
    shifts = (np.arange(per, dtype=np.uint32) * bits)[None, :]
    codes = (words.astype(np.uint32)[:, None] >> shifts) & np.uint32((1 << bits) - 1)
    return codes.reshape(-1)[:n_codes].astype(np.uint8)
