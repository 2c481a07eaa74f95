"""The cost model: cycles from the plan's loop nests, DDR bytes, the schedule of a launch, the step
program's scales, images per second and the roofline; the tile pass's design points; a smaller board."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiled_kernels import STEP, block_kernel, linear_kernel
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64

from fpqc.analysis.cost_model import Launch, estimate, kernel_launches, launch_cost, step_launches
from fpqc.analysis.plan_fit import module_fit
from fpqc.compiler import load_onnx, run_pipeline
from fpqc.context import make_context
from fpqc.dialects import hls
from fpqc.passes.pipelines import RAISE_PIPELINE, STEP_PIPELINE, hls_pipeline, recipe_for
from fpqc.passes.tile import TilePass
from fpqc.targets import load_target

REPO = Path(__file__).resolve().parents[3]
VCK190 = load_target("vck190")
SMALL = dict(c=128, heads=2, hidden=512)


def _tiled(module: ModuleOp, **options) -> hls.KernelOp:
    TilePass(**options).apply(make_context(), module)
    module.verify()
    return next(iter(module.ops))


def _op(cost, name: str):
    return next(o for o in cost.ops if o.op == name)


@pytest.fixture(scope="module")
def digits() -> ModuleOp:
    """The shipped digits VAR (4 blocks, 6 scales, batch 10 = 5 images with guidance) planned for the VCK190."""
    module, store = load_onnx(REPO / "examples/digits/var.onnx")
    with store.activate():
        for stage, spec in (("raised", RAISE_PIPELINE), ("quantized", recipe_for("fp4", None).pipeline(None)),
                            ("step", STEP_PIPELINE), ("hls", hls_pipeline("vck190", steps=True))):
            run_pipeline(module, spec, stage)
    return module


def test_a_linear_layer_costs_its_loop_nest_and_its_weights_once():
    kernel = _tiled(linear_kernel(512, 1024, 4096), pes=256)
    cost = launch_cost(kernel, VCK190, Launch("kernel_0"))
    fc1, quantize = _op(cost, "fc1"), _op(cost, "quantize0")
    assert fc1.compute == 512 * (4096 // 256) * (1024 // 16)  # rows x n/pes x k/lanes, ii 1
    assert fc1.macs == 512 * 4096 * 1024
    assert quantize.compute == 512 * 1024 // 16  # a row a lanes-wide beat at a time
    weights = 4096 * 1024 // 2 + 4096 * 8 * 4 + 4096 * 4  # fp4 codes, a scale per group of 128, the bias
    assert cost.weight_bytes == weights and fc1.ddr_bytes == weights + 512 * 4096 * 4  # and its f32 result
    # the quantizer's codes wait in a whole buffer: fc1 starts when they are all there
    assert fc1.start == quantize.finish and cost.cycles == fc1.finish
    assert cost.memory_bound == pytest.approx(cost.ddr_bytes / VCK190.ddr_bytes_per_cycle)


def test_halving_the_row_tile_reads_the_weights_twice():
    whole = launch_cost(_tiled(linear_kernel(512, 1024, 4096), pes=256), VCK190, Launch("kernel_0"))
    halves = launch_cost(_tiled(linear_kernel(512, 1024, 4096), pes=256, row_tile=256), VCK190, Launch("kernel_0"))
    assert halves.weight_bytes == 2 * whole.weight_bytes
    assert _op(halves, "fc1").compute == _op(whole, "fc1").compute


def test_attention_at_a_launch_attends_to_the_keys_of_its_scale():
    module = block_kernel(**SMALL, batch=2, new=16, cache=30)
    kernel = next(iter(module.ops))
    kernel.max_rows = IntegerAttr(16, i64)  # launches of 1, 4, 9 or 16 token rows (the scales 1, 2, 3, 4)
    _tiled(module, attention_units=1)
    big, small = (launch_cost(kernel, VCK190, Launch("kernel_0", rows, offset)) for rows, offset in ((16, 14), (4, 1)))
    for cost, rows, keys in ((big, 16, 30), (small, 4, 5)):
        attention = _op(cost, "cached_attention0")
        # q.k and p.v over the nest (batch x heads x rows x keys x D/lanes), one softmax term per key
        assert attention.compute == 2 * (2 * 2 * rows * keys * 64 // 16) + 2 * 2 * rows * keys
        assert attention.macs == 2 * 2 * rows * keys * 128
        fc1 = _op(cost, "fc1")  # the launch's 2 x rows rows, not the kernel's 2 x 16
        assert fc1.macs == 2 * rows * 512 * 128 and fc1.compute == fc1.macs / (_pes(kernel) * 16)
    # the caches: the rows [0, offset + n) read back, the n new rows written, in f32
    assert small.kv_bytes == 2 * (2 * 5 * 128 * 4) + 2 * (2 * 4 * 128 * 4)
    # two attention units attend to the two heads at once
    two = _tiled(block_kernel(**SMALL, batch=2, new=16, cache=30), attention_units=2)
    assert _op(launch_cost(two, VCK190, Launch("kernel_0")), "cached_attention0").compute * 2 == _op(
        launch_cost(_tiled(block_kernel(**SMALL, batch=2, new=16, cache=30), attention_units=1), VCK190,
                    Launch("kernel_0")), "cached_attention0").compute


def _pes(kernel: hls.KernelOp) -> int:
    return hls.plan_of(kernel).pe_array().pes.value.data


def test_streamed_ops_overlap_and_whole_buffers_wait():
    kernel = _tiled(block_kernel(**SMALL, **STEP))
    cost = launch_cost(kernel, VCK190, Launch("kernel_0"))
    norm, modulate, hadamard = _op(cost, "layernorm0"), _op(cost, "modulate0"), _op(cost, "hadamard0")
    assert norm.start == modulate.start == hadamard.start == 0  # a stream from each to the next
    assert modulate.finish >= norm.finish
    qkv, attention, proj = _op(cost, "mat_qkv"), _op(cost, "cached_attention0"), _op(cost, "proj")
    assert attention.start == qkv.start  # the k and v thirds stream into the cache writer
    assert proj.start >= attention.finish  # its quantizer reads the attention's result from a whole buffer
    linears = [o for o in cost.ops if o.engine == "pe_array"]
    assert all(a.finish <= b.start for a, b in zip(linears, linears[1:]))  # one PE array, one layer at a time
    assert cost.compute_bound == max(attention.compute, sum(o.compute for o in linears))


def test_the_step_program_of_the_digits_model(digits):
    scales = step_launches(digits)
    assert [name for name, _ in scales] == [f"step_{k}" for k in range(6)]
    offsets = [0, 1, 5, 14, 30, 66]  # b_k of the scales 1, 2, 3, 4, 6, 8
    for (name, launches), rows, offset in zip(scales, (1, 4, 9, 16, 36, 64), offsets):
        assert {(x.kernel, x.rows, x.offset, x.count) for x in launches} == {
            ("kernel_0", rows, offset, 4), ("kernel_1", rows, None, 1)}
    assert sum(x.count for x in kernel_launches(digits)["kernel_0"]) == 24
    cost = estimate(digits, VCK190)
    assert cost.batch_rows == 10 and cost.images_per_batch == 5
    assert cost.cycles == pytest.approx(sum(c.cycles * c.launch.count for s in cost.scales for c in s.launches))
    assert cost.images_per_second == pytest.approx(5 / (cost.cycles / 300e6))
    # the roofline is an upper bound of the schedule's estimate
    assert cost.bound_images_per_second >= cost.images_per_second > 0
    assert all(max(s.compute_bound, s.memory_bound) <= s.cycles for s in cost.scales)
    # the first scale (2 x 5 rows) streams every weight for few rows: memory-bound; the last computes
    assert cost.scales[0].bound == "memory" and cost.scales[-1].bound == "compute"
    assert cost.scales[-1].weight_bytes == cost.scales[0].weight_bytes  # weights once per scale and batch
    payload = cost.to_json()
    assert payload["images_per_batch"] == 5 and len(payload["scales"]) == 6
    assert payload["roofline"]["weight_bytes"] == sum(s["weight_bytes"] for s in payload["scales"])


def test_a_deeper_model_launches_the_same_block_kernel_more_often(digits):
    base, deep = estimate(digits, VCK190), estimate(digits, VCK190, depth=8)
    for shallow, deeper in zip(base.scales, deep.scales):
        counts = {c.launch.kernel: c.launch.count for c in deeper.launches}
        assert counts == {"kernel_0": 8, "kernel_1": 1}
        block = next(c for c in shallow.launches if c.launch.kernel == "kernel_0")
        assert deeper.cycles == pytest.approx(shallow.cycles + 4 * block.cycles)


def test_the_tile_pass_keeps_the_best_design_point(digits):
    module = digits.clone()
    points = TilePass().plan_module(module)
    best = points["kernel_0"][0]
    assert [p.cycles for p in points["kernel_0"]] == sorted(p.cycles for p in points["kernel_0"])
    plan = hls.plan_of(next(k for k in module.ops if isinstance(k, hls.KernelOp)))
    assert plan.pe_array().pes.value.data == best.pes and best.units == 2  # both heads at once
    assert best.fit.fits(VCK190) and len(best.bounds()) == 6  # one M or C per scale
    # options fix a choice; the cost model then says what it costs
    fixed = TilePass(pes=16, attention_units=1).plan_module(digits.clone())["kernel_0"]
    assert len(fixed) == 1 and (fixed[0].pes, fixed[0].units) == (16, 1) and fixed[0].cycles > best.cycles


def test_the_same_design_shrinks_to_fit_the_zcu104(digits):
    module = digits.clone()
    TilePass(target="zcu104").apply(make_context(), module)
    module.verify()
    small, big = module_fit(module, load_target("zcu104")), module_fit(digits, VCK190)
    assert small.fits() and big.fits()
    assert small.total.luts <= 230400 and small.total.dsps <= 1728 and small.total.brams <= 312
    # the VCK190's plan keeps more in UltraRAM than the ZCU104 has (96): buffers move to block RAM
    assert big.total.urams > 96 >= small.total.urams and small.total.brams > big.total.brams
    slow, fast = estimate(module, load_target("zcu104")), estimate(digits, VCK190)
    assert slow.images_per_second < fast.images_per_second  # less DDR bandwidth: 19.2 GB/s
    assert slow.scales[0].memory_bound > fast.scales[0].memory_bound
