"""Choose each selected linear layer's weight and activation formats on calibration data.

Runs at float level, before ``quantize``: the FPQVAR authors' per-layer
MixedFormat baseline.  For every constant-weight ``fpq.linear`` with a
selected ``fpq.role`` (default ``mat_qkv,fc1``), the (weight format,
activation format) pair of the candidates whose quantized layer output is
closest to the float output on the calibration rows is chosen
(:mod:`fpqc.quant.format_choice`) and recorded on the op as
``fpq.weight_format`` / ``fpq.act_format``; ``quantize`` then uses those
formats for that layer, with its own granularity, scales and rounding.

Options: ``calib`` (required: an ``.npz`` of ``fpqc calibrate``; its
``linear{i}/scale{k}`` rows belong to the i-th ``fpq.linear`` of the raised
float model, so run this pass first), ``roles``, ``weight-formats``
(default ``e2m1``), ``act-formats`` (default ``e2m1,e3m0``), and the
quantization the choice is judged with, which should be the later
``quantize``'s: ``weight-granularity`` (channel | group, default group),
``act-granularity`` (token | group, default group), ``group-size`` (128),
``rounding`` (rne).  Each layer's choice is reported on stderr.

Before::

    %y = fpq.linear %m, %w, %b {fpq.role = "fc1"} : (...) -> tensor<1x30x1024xf32>

After (``choose-formats{calib="calib.npz"}``, when E3M0 activations fit best)::

    %y = fpq.linear %m, %w, %b {fpq.role = "fc1", fpq.weight_format = "e2m1", fpq.act_format = "e3m0"}
        : (...) -> tensor<1x30x1024xf32>
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass

from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.numerics import Format, ROUNDING_MODES
from fpqc.passes.constants import constant_key, constant_value
from fpqc.passes.quantize import ACT_FORMAT_ATTR, WEIGHT_FORMAT_ATTR
from fpqc.passes.role_options import check_roles
from fpqc.quant.format_choice import choose_formats
from fpqc.quant.calibration import checked_rows, open_calibration


def _group(granularity: str, allowed: tuple[str, str], group_size: int, features: int, option: str) -> int:
    if granularity not in allowed:
        raise FpqcError(f"choose-formats: unknown {option} '{granularity}' (use {', '.join(allowed)})")
    group = features if granularity == allowed[0] else group_size
    if group <= 0 or features % group:
        raise FpqcError(f"choose-formats: group size {group} does not divide the {features} input features; "
                        f"choose a group size that divides {features}")
    return group


@dataclass(frozen=True)
class ChooseFormatsPass(ModulePass):
    """Choose per-layer formats from calibration data (see module docstring)."""

    name = "choose-formats"

    calib: str = ""
    roles: tuple[str, ...] = ("mat_qkv", "fc1")
    weight_formats: tuple[str, ...] = ("e2m1",)
    act_formats: tuple[str, ...] = ("e2m1", "e3m0")
    weight_granularity: str = "group"
    act_granularity: str = "group"
    group_size: int = 128
    rounding: str = "rne"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        check_roles(self.name, "roles", self.roles)
        for name in (*self.weight_formats, *self.act_formats):
            Format.parse(name)
        if self.rounding not in ROUNDING_MODES:
            raise FpqcError(f"choose-formats: unknown rounding '{self.rounding}' (use {', '.join(ROUNDING_MODES)})")
        data, path = open_calibration(self.calib, self.name, "choose-formats judges formats on")
        linears = [o for o in op.walk() if isinstance(o, fpq.LinearOp)]
        with data:
            for index, linear in enumerate(linears):
                weight = constant_value(linear.weight)
                if fpq.role_of(linear) not in self.roles or weight is None:
                    continue
                features = weight.shape[1]
                label = f"{fpq.role_of(linear)} ({constant_key(linear.weight) or 'inline weight'})"
                choice = choose_formats(
                    checked_rows(data, index, path, features, label),
                    weight,
                    self.weight_formats,
                    self.act_formats,
                    _group(self.weight_granularity, ("channel", "group"), self.group_size, features,
                           "weight-granularity"),
                    _group(self.act_granularity, ("token", "group"), self.group_size, features, "act-granularity"),
                    self.rounding,
                )
                linear.attributes[WEIGHT_FORMAT_ATTR] = StringAttr(choice.weight_format)
                linear.attributes[ACT_FORMAT_ATTR] = StringAttr(choice.act_format)
                print(f"choose-formats: {label}: weights {choice.weight_format}, activations {choice.act_format}",
                      file=sys.stderr)
