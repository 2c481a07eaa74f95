"""The tile pass's choices, its options and errors, and the consumers of hls-level IR that ignore the plan."""

import numpy as np
import pytest
from conftest import lower, quantized_linear, residual_blocks
from tiled_kernels import linear_kernel
from xdsl.dialects.builtin import ModuleOp, StringAttr

from fpqc.analysis.plan_fit import kernel_fit, module_fit
from fpqc.backends.hls.build import emit_build
from fpqc.backends.interp.runner import run_module
from fpqc.context import make_context, print_module
from fpqc.dialects import hls
from fpqc.dialects.hls import Storage
from fpqc.errors import FpqcError
from fpqc.passes.outline_kernels import kernel_signature
from fpqc.analysis.cost_model import Launch, launch_cost
from fpqc.passes.tile import TilePass
from fpqc.targets import load_target

VCK190 = load_target("vck190")


def _tile(module: ModuleOp, **options) -> ModuleOp:
    TilePass(**options).apply(make_context(), module)
    module.verify()
    return module


def _plan(module: ModuleOp, index: int = 0) -> hls.PlanOp:
    kernel = [k for k in module.ops if isinstance(k, hls.KernelOp)][index]
    plan = hls.plan_of(kernel)
    assert plan is not None
    return plan


def test_a_d16_fc1_layer_reads_its_weights_once_per_launch():
    module = _tile(linear_kernel(512, 1024, 4096, "fp4"))
    plan = _plan(module)
    pe = plan.pe_array()
    # the LUT budget's share: half the LUTs over lanes of a measured multiplier (30 LUTs) and adder (16)
    assert (pe.pes.value.data, pe.lanes.value.data) == (512, 16)
    (quantize, linear) = plan.entries_of(hls.TileOp)
    assert [str(loop) for loop in linear.loops.data] == [
        "#hls.loop<rows 512 by 512>",  # one row tile: every weight tile serves all rows
        "#hls.loop<n 4096 by 512 on pes>",
        "#hls.loop<k 1024 by 1024 on lanes>",
    ]
    weights = plan.buffer("pe.w")
    assert weights.kind.data == "tile" and weights.copies.value.data == 2 and weights.shape == (512, 1024)
    assert weights.banks.value.data == 512 and weights.pack.value.data == 16
    codes = plan.buffer("fc1.x")
    assert codes.kind.data == "whole" and codes.shape == (512, 1024) and codes.storage.data == Storage.URAM
    assert [s.kind.data for s in plan.entries_of(hls.StageOp)] == [
        "load", "quantize", "lut_multiply", "combine", "write"
    ]
    cost = launch_cost(next(iter(module.ops)), VCK190, Launch("kernel_0"))
    fc1 = next(o for o in cost.ops if o.op == "fc1")
    assert fc1.compute == 512 * 4096 * 1024 / (pe.pes.value.data * 16) and fc1.ddr_cycles < fc1.compute
    assert cost.weight_bytes == 4096 * 1024 / 2 + 4096 * 8 * 4 + 4096 * 4  # codes, scales, bias: once


def test_fp6_multipliers_cost_more_pes():
    fp4 = _plan(_tile(linear_kernel(512, 1024, 4096, "fp4"))).pe_array().pes.value.data
    fp6 = _plan(_tile(linear_kernel(512, 1024, 4096, "fp6"))).pe_array().pes.value.data
    assert fp6 * 8 == fp4


def test_options_fix_the_choices():
    module = _tile(linear_kernel(256, 512, 1024), pes=8, lanes=8, n_tile=64, row_tile=128, k_tile=256,
                   storage="pe.w=uram,fc1.x*=bram")
    kernel = next(iter(module.ops))
    assert kernel.lanes.value.data == 8
    plan = _plan(module)
    assert (plan.pe_array().pes.value.data, plan.pe_array().lanes.value.data) == (8, 8)
    linear = plan.entries_of(hls.TileOp)[1]
    assert [(lp.dim.data, lp.tile.data) for lp in linear.loops.data] == [("rows", 128), ("n", 64), ("k", 256)]
    assert plan.buffer("pe.w").shape == (64, 256) and plan.buffer("pe.w").storage.data == Storage.URAM
    assert plan.buffer("fc1.x").shape == (128, 512) and plan.buffer("fc1.x").storage.data == Storage.BRAM
    assert plan.buffer("fc1.xs").storage.data == Storage.BRAM
    assert plan.buffer("fc1.acc").storage.data == Storage.REGISTERS  # the rule's
    assert plan.buffer("fc1.partial").shape == (128, 64)  # row tile x n tile, carried over k tiles


def test_rerunning_replaces_the_plan():
    module = _tile(linear_kernel(64, 256, 512), pes=4)
    once = print_module(_tile(module))
    assert once.count("hls.plan") == 1
    assert print_module(_tile(module)) == once


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(pes=-1), "tile: pes must be positive"),
        (dict(k_tile=48), "k_tile=48 splits the accumulation groups of 128 elements"),
        (dict(storage="pe.w"), "storage entry 'pe.w' is not <buffer name or glob>="),
        (dict(target="u280"), "unknown target 'u280'"),
        (dict(row_tile=512, pes=4096), "does not fit vck190: with 4096 PEs and row tile 512 it needs"),
    ],
)
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(FpqcError, match=message) as error:
        _tile(linear_kernel(512, 1024, 4096), **options)
    assert "\n" not in str(error.value)


def test_kernels_share_the_budget_and_fit_together():
    module = linear_kernel(512, 1024, 4096)
    other = next(iter(linear_kernel(512, 1024, 4096).ops))
    other.detach()
    other.sym_name = StringAttr("kernel_1")
    module.body.block.add_op(other)
    _tile(module)
    fit = module_fit(module, VCK190)
    assert fit.fits()
    assert [k.pes for k in fit.kernels] == [256, 256]  # half the budget each
    assert fit.total.pe_luts <= VCK190.luts * VCK190.pe_lut_fraction


def test_kernels_that_fit_alone_shrink_to_fit_together(tmp_path, monkeypatch):
    import fpqc.targets as targets

    text = (targets.TARGETS_DIR / "vck190.toml").read_text()
    (tmp_path / "vck190.toml").write_text(text.replace("urams = 463", "urams = 12"))
    monkeypatch.setattr(targets, "TARGETS_DIR", tmp_path)
    small = targets.load_target("vck190")
    module = linear_kernel(512, 1024, 1024)
    alone = kernel_fit(next(iter(_tile(linear_kernel(512, 1024, 1024)).ops)), small)
    other = next(iter(linear_kernel(512, 1024, 1024).ops))
    other.detach()
    other.sym_name = StringAttr("kernel_1")
    module.body.block.add_op(other)
    _tile(module)
    assert alone.fits(small) and alone.urams * 2 > small.urams  # twice the kernel alone would not fit
    fit = module_fit(module, small)
    assert fit.fits()
    rows = [hls.plan_of(k).buffer("fc1.x").shape[0] for k in module.ops]
    assert rows[0] == 512 and rows[1] < 512  # the second kernel's row tile shrank


def test_consumers_ignore_the_plan(tmp_path):
    module, store = quantized_linear("e2m1", t=8, k=128, o=32, x_gran="group 32", w_gran="group 32", gelu=True)
    lower(module)
    tiled = module.clone()
    _tile(tiled)
    (kernel,), (tiled_kernel,) = ([k for k in m.ops if isinstance(k, hls.KernelOp)] for m in (module, tiled))
    assert hls.plan_of(tiled_kernel) is not None
    # outline-kernels' dedupe signature
    assert kernel_signature(kernel) == kernel_signature(tiled_kernel)
    # the interpreter
    x = np.random.default_rng(0).standard_normal((8, 128)).astype(np.float32)
    want, got = run_module(module, {"x": x}, store), run_module(tiled, {"x": x}, store)
    assert np.array_equal(want["y"].view(np.uint32), got["y"].view(np.uint32))
    # the C++ emitter (it prints no plan yet)
    emit_build(module, store, tmp_path / "a", VCK190)
    emit_build(tiled, store, tmp_path / "b", VCK190)
    for name in ("kernels/kernel_0.cpp", "host_schedule.json"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_blocks_with_host_ops_between_kernels():
    module, _ = residual_blocks(blocks=2, t=4, c=128, hidden=256)
    lower(module)
    _tile(module)
    kernels = [k for k in module.ops if isinstance(k, hls.KernelOp)]
    assert len(kernels) == 2 and all(hls.plan_of(k) is not None for k in kernels)
    assert module_fit(module, VCK190).fits()
