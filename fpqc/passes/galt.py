"""Fold FPQVAR's GALT smoothing into selected linear layers' inputs.

Runs at float level, after ``raise-onnx-to-fpq`` and before ``group-hadamard``.
For each input ``x [.., K]`` of the selected ``fpq.linear``\\ s (by ``fpq.role``,
default ``mat_qkv,fc1``; linears reading one value share it), a per-channel
``s`` is learned from calibration activations by :mod:`fpqc.quant.galt`
against the n-th transform of ``group-hadamard{roles=R block=B seed=S}`` (n in
the order of :func:`~fpqc.passes.group_hadamard.transformed_inputs`), and
folded away in float64, each result stored once as fp32:

* the reader's weight: ``W' = W / s`` (per input column);
* the AdaLN linear behind ``x = LN(h)·(1 + scale) + shift``
  (:func:`~fpqc.passes.group_hadamard.modulation_chunks`)::

      scale'' = s·scale + (s − 1)  →  W_scale'' = s·W_scale,  b_scale'' = s·b_scale + (s − 1)
      shift'' = s·shift            →  W_shift'' = s·W_shift,  b_shift'' = s·b_shift

An input that is not such a modulation (or that another op reads too) cannot
take ``s``; its readers are left unchanged, and the learning module says so.

Options: ``calib`` (required: an ``.npz`` of ``fpqc calibrate``, whose
``linear{i}/scale{k}`` rows belong to the i-th ``fpq.linear`` of the raised
float model: run ``galt`` before any pass that adds or removes linears),
``roles``, and :class:`~fpqc.quant.galt.GaltSettings`' ``format`` (``e2m1``),
``group-size`` (128), ``epochs`` (50), ``lr`` (0.01), ``block`` (128),
``seed`` (0), ``shared-signs`` (false; as ``group-hadamard``'s), ``rounding`` (``rne``; the quantizer's, e.g. ``ties-up``) and
``select`` (``heldout``: the ``s`` with the lowest loss on held-out calibration
rows, ``s = 1`` where learning does not lower it; ``last``: the authors' last
``s`` of training on every row).

Before::

    %sc, %sh = ... fpq.split %ada ...          (%ada = fpq.linear %c, %wa, %ba {fpq.role = "ada_lin"})
    %m = fpq.modulate %n, %sc, %sh : (...) -> tensor<1x30x256xf32>
    %y = fpq.linear %m, %w, %b {fpq.role = "fc1"} : (...) -> tensor<1x30x1024xf32>

After (``galt{calib="calib.npz"}``; ``%wa_galt``/``%ba_galt`` carry ``s`` in the
rows of ``%sc`` and ``%sh``, ``%w_galt = W / s``)::

    %ada = fpq.linear %c, %wa_galt, %ba_galt {fpq.role = "ada_lin"}
    %sc, %sh = ... fpq.split %ada ...
    %m = fpq.modulate %n, %sc, %sh : (...) -> tensor<1x30x256xf32>
    %y = fpq.linear %m, %w_galt, %b {fpq.role = "fc1"} : (...) -> tensor<1x30x1024xf32>
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter
from xdsl.rewriter import InsertPoint
from xdsl.transforms.dead_code_elimination import region_dce

from fpqc.dialects import fpq
from fpqc.passes.constants import constant_key, constant_value
from fpqc.passes.group_hadamard import (
    AdaLNFold,
    fold_modulation,
    fold_weights,
    modulation_chunks,
    transformed_inputs,
)
from fpqc.quant.calibration import calibration_option
from fpqc.quant.galt import GaltSettings, SmoothedInput, learn_from_calibration
from fpqc.passes.role_options import check_roles


def _label(linear: fpq.LinearOp) -> str:
    name = constant_key(linear.weight) or "inline weight"
    return f"{fpq.role_of(linear) or 'linear'} ({name})"


@dataclass(frozen=True)
class GaltPass(ModulePass):
    """Fold FPQVAR's GALT smoothing, learned from ``calib``, into selected linear inputs."""

    name = "galt"

    calib: str = ""
    roles: tuple[str, ...] = ("mat_qkv", "fc1")
    format: str = "e2m1"
    group_size: int = 128
    epochs: int = 50
    lr: float = 0.01
    block: int = 128
    seed: int = 0
    shared_signs: bool = False
    rounding: str = "rne"
    select: str = "heldout"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        check_roles(self.name, "roles", self.roles)
        path = calibration_option(self.calib, self.name, "galt learns its smoothing from")
        index = {linear: i for i, linear in enumerate(o for o in op.walk() if isinstance(o, fpq.LinearOp))}
        inputs = [(linears, modulation_chunks(x, linears)) for x, linears in transformed_inputs(op, self.roles).items()]
        smoothings = learn_from_calibration(
            path,
            [
                SmoothedInput(
                    " + ".join(_label(linear) for linear in linears),
                    index[linears[0]],
                    [constant_value(linear.weight) for linear in linears],
                    chunks is not None,
                )
                for linears, chunks in inputs
            ],
            GaltSettings(
                self.format, self.group_size, self.epochs, self.lr, self.block, self.seed, self.rounding,
                self.select, self.shared_signs,
            ),
        )
        rewriter = PatternRewriter(InsertPoint.at_start(op.body.block))
        adaln: dict[fpq.LinearOp, AdaLNFold] = {}
        for (linears, chunks), s in zip(inputs, smoothings):
            if s is None or np.all(s == 1):
                continue
            fold_weights(
                rewriter,
                linears,
                lambda weight, s=s: np.asarray(weight, dtype=np.float64) / s,
                lambda hessian, s=s: s[:, None] * hessian * s[None, :],
                ".galt",
            )
            fold_modulation(adaln, chunks, s)
        for fold in adaln.values():
            fold.rewrite(rewriter, "galt")
        region_dce(op.body)
