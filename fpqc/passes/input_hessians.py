"""Attach to each selected linear layer the second moment of its input, for GPTQ weight rounding.

``quantize{weight-rounding=gptq}`` (:mod:`fpqc.quant.gptq`) rounds a weight so
that the layer's *output* error on calibration data stays small, which needs
``H = Xᵀ X`` of the layer's input rows ``X``.  This pass computes ``H`` from
the calibration file's rows of the i-th ``fpq.linear`` (run it on the raised
float model, before any pass that adds or removes linears, like ``galt``) and
attaches it as the attribute ``fpq.input_hessian`` (float64 ``[K, K]``, in the
weight store when one is active).

A pass that changes the basis of a linear's input keeps the attribute true:
``galt`` (``x' = x·s``: ``H' = diag(s) H diag(s)``) and ``group-hadamard``
(``x' = x·Q``: ``H' = Qᵀ H Q``) transform it as they fold the weight
(:func:`transform_input_hessian`).  ``quantize`` drops it.

Options: ``calib`` (required: an ``.npz`` of ``fpqc calibrate``) and ``roles``
(default ``mat_qkv,proj,fc1,fc2``: the linears FPQVAR quantizes).

Before::

    %y = fpq.linear %x, %w, %b {fpq.role = "fc2"} : (...) -> tensor<1x30x128xf32>

After (``input-hessians{calib="calib.npz"}``)::

    %y = fpq.linear %x, %w, %b {fpq.role = "fc2",
        fpq.input_hessian = dense_resource<fc2.input_hessian> : tensor<512x512xf64>} : (...) -> tensor<1x30x128xf32>
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import DenseResourceAttr, ModuleOp
from xdsl.passes import ModulePass

from fpqc.dialects import fpq
from fpqc.files.npz import open_npz
from fpqc.passes.constants import constant_key, is_constant
from fpqc.passes.role_options import check_roles
from fpqc.quant.calibration import checked_rows, open_calibration
from fpqc.quant.gptq import input_hessian
from fpqc.weights import Entry, LazyWeight, materialize, read_entry, resolve_entry

INPUT_HESSIAN_ATTR = "fpq.input_hessian"


def input_hessian_entry(linear: fpq.LinearOp) -> Entry | None:
    """The store entry (array or lazy weight) of ``linear``'s input Hessian, or None when it has none."""
    attr = linear.attributes.get(INPUT_HESSIAN_ATTR)
    return None if attr is None else resolve_entry(attr)


def _attach(linear: fpq.LinearOp, hint: str, k: int, compute: Callable[[], np.ndarray]) -> None:
    linear.attributes[INPUT_HESSIAN_ATTR] = materialize(hint, LazyWeight((k, k), np.float64, compute))


def transform_input_hessian(
    linear: fpq.LinearOp, congruence: Callable[[np.ndarray], np.ndarray], suffix: str
) -> None:
    """Replace ``linear``'s input Hessian ``H`` by ``congruence(H)`` (computed when read), if it has one."""
    entry = input_hessian_entry(linear)
    if entry is None:
        return
    attr = linear.attributes[INPUT_HESSIAN_ATTR]
    hint = attr.resource_handle.data if isinstance(attr, DenseResourceAttr) else "input_hessian"
    _attach(linear, hint + suffix, entry.shape[0], lambda: congruence(read_entry(entry)))


@dataclass(frozen=True)
class InputHessiansPass(ModulePass):
    """Attach ``fpq.input_hessian`` from calibration rows to selected linears (see module docstring)."""

    name = "input-hessians"

    calib: str = ""
    roles: tuple[str, ...] = ("mat_qkv", "proj", "fc1", "fc2")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        check_roles(self.name, "roles", self.roles)
        data, path = open_calibration(self.calib, self.name, "input-hessians reads")
        with data:
            linears = [o for o in op.walk() if isinstance(o, fpq.LinearOp)]
            for index, linear in enumerate(linears):
                if fpq.role_of(linear) not in self.roles or not is_constant(linear.weight):
                    continue
                k = linear.weight.type.get_shape()[1]
                label = f"{fpq.role_of(linear)} ({constant_key(linear.weight) or 'inline weight'})"
                checked_rows(data, index, path, k, label)  # a clear error now, not when the weight is quantized
                hint = (constant_key(linear.weight) or fpq.role_of(linear) or "linear") + ".input_hessian"
                _attach(linear, hint, k, lambda i=index, k=k, label=label: _hessian(path, i, k, label))


def _hessian(path: Path, index: int, k: int, label: str) -> np.ndarray:
    with open_npz(path, "calibration file") as data:
        return input_hessian(checked_rows(data, index, path, k, label))
