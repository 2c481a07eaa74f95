"""The host library of the C++ host program: the VQVAE steps it calls back, served over a pipe.

The C++ host program (``host/`` of a build) runs the step program, guidance and sampling
itself; the multi-scale VQVAE stays here, so that its float arithmetic (PyTorch's bicubic and
area resampling and φ convolutions, the decoder) is the one ``fpqc generate`` runs.  The host
program starts ``python -m fpqc.runtime.host_library BUILD`` and speaks this protocol over its
stdin and stdout (little-endian; ``host/host_library.h`` is the other side)::

    hello    library → host   b"FPQH", u32 version 1, u32 K, u32 Cvae, K × u32 patch_nums
    advance  host → library   b"ADVN", u32 scale k, u32 rows N, u32 tokens per row T, N·T × i64
             reply            u32 0, u64 bytes, f32 [N, pn_(k+1)², Cvae] (no bytes after the last scale)
    finish   host → library   b"DONE", u32 N, N × i64 labels, u32 bytes, the output path (UTF-8)
             reply            u32 0, u64 0 once OUTPUT.npz (images, labels, tokens.scale<k>) and OUTPUT.png exist
    error    any reply        u32 1, u64 bytes, the message (UTF-8)

Scale 0 starts a new generation (an empty f_hat).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fpqc.errors import FpqcError
from fpqc.files.npz import write_npz
from fpqc.runtime.host_vqvae import HostVQVAE
from fpqc.runtime.images import save_image_grid
from fpqc.runtime.model import build_sources

PROTOCOL_VERSION = 1


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise FpqcError("the host program closed the pipe in the middle of a request")
    return data


def _reply(stream: BinaryIO, status: int, payload: bytes) -> None:
    stream.write(struct.pack("<IQ", status, len(payload)) + payload)
    stream.flush()


class _Generation:
    """f_hat and the tokens of the generation being served."""

    def __init__(self, vqvae: HostVQVAE) -> None:
        self.vqvae = vqvae
        self.f_hat = None
        self.tokens: list[np.ndarray] = []

    def advance(self, scale: int, tokens: np.ndarray) -> bytes:
        patch_nums = self.vqvae.cfg.patch_nums
        if scale == 0:
            self.f_hat, self.tokens = self.vqvae.zero_fhat(tokens.shape[0]), []
        if scale != len(self.tokens) or scale >= len(patch_nums) or tokens.shape[1] != patch_nums[scale] ** 2:
            raise FpqcError(
                f"scale {scale} with {tokens.shape[1]} tokens per image does not follow the {len(self.tokens)} "
                f"scales served so far (patch_nums {list(patch_nums)})"
            )
        self.tokens.append(tokens)
        self.f_hat, next_input = self.vqvae.advance(scale, self.f_hat, self.vqvae.code_map(tokens))
        return b"" if next_input is None else np.ascontiguousarray(next_input, dtype="<f4").tobytes()

    def finish(self, labels: np.ndarray, output: Path) -> None:
        if len(self.tokens) != len(self.vqvae.cfg.patch_nums):
            raise FpqcError(f"the images were asked for after {len(self.tokens)} of {len(self.vqvae.cfg.patch_nums)} scales")
        images = self.vqvae.decode(self.f_hat)
        arrays = {"images": images, "labels": labels}
        arrays.update({f"tokens.scale{k}": t for k, t in enumerate(self.tokens)})
        write_npz(output, arrays, "images")
        save_image_grid(images, output.with_suffix(".png"))


def serve(build: Path, requests: BinaryIO, replies: BinaryIO) -> None:
    """Serve the host program of ``build`` until it closes ``requests``."""
    config, vae = build_sources(build)
    if vae is None:
        raise FpqcError(f"{build}: no vae.npz in the build; recompile the VAR with its VQVAE")
    vqvae = HostVQVAE.load(vae, config.patch_nums)
    patch_nums = list(config.patch_nums)
    replies.write(b"FPQH" + struct.pack(f"<III{len(patch_nums)}I", PROTOCOL_VERSION, len(patch_nums), config.Cvae,
                                        *patch_nums))
    replies.flush()
    generation = _Generation(vqvae)
    while True:
        op = requests.read(4)
        if not op:
            return
        try:
            if op == b"ADVN":
                scale, rows, per_row = struct.unpack("<III", _read(requests, 12))
                tokens = np.frombuffer(_read(requests, 8 * rows * per_row), "<i8").reshape(rows, per_row)
                _reply(replies, 0, generation.advance(scale, tokens.astype(np.int64)))
            elif op == b"DONE":
                (count,) = struct.unpack("<I", _read(requests, 4))
                labels = np.frombuffer(_read(requests, 8 * count), "<i8").astype(np.int64)
                (length,) = struct.unpack("<I", _read(requests, 4))
                generation.finish(labels, Path(_read(requests, length).decode()))
                _reply(replies, 0, b"")
            else:
                raise FpqcError(f"unknown request {op!r}")
        except FpqcError as e:
            _reply(replies, 1, str(e).encode())


def main(argv: list[str]) -> int:
    """``python -m fpqc.runtime.host_library BUILD``: serve on stdin and stdout."""
    if len(argv) != 1:
        print("usage: python -m fpqc.runtime.host_library BUILD", file=sys.stderr)
        return 2
    try:
        serve(Path(argv[0]), sys.stdin.buffer, sys.stdout.buffer)
    except FpqcError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
