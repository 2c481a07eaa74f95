"""The fit analysis of tiled designs: memory blocks, LUTs of the PE array, VAR blocks on the VCK190."""

import json

import pytest
from tiled_kernels import D16, D30, STEP, block_kernel

import fpqc.targets as targets
from fpqc.analysis.plan_fit import (
    Multiplier,
    bank_cost,
    kernel_fit,
    lane_luts,
    module_fit,
    multiplier_luts,
)
from fpqc.context import make_context
from fpqc.dialects import fpq, hls
from fpqc.dialects.hls import Storage
from fpqc.errors import FpqcError
from fpqc.numerics import Format
from fpqc.passes.tile import TilePass
from fpqc.targets.units import MEASURED_FILE

VCK190 = targets.load_target("vck190")
SIZES = {"d16": D16, "d30": D30}


def _tiled(size: str, fmt: str, **options) -> hls.KernelOp:
    module = block_kernel(**SIZES[size], fmt=fmt, **STEP)
    TilePass(**options).apply(make_context(), module)
    module.verify()
    return next(iter(module.ops))


@pytest.fixture(scope="module")
def blocks() -> dict[tuple[str, str], hls.KernelOp]:
    return {(size, fmt): _tiled(size, fmt) for size in SIZES for fmt in ("fp4", "fp6")}


@pytest.mark.parametrize(
    "storage, words, width, cost",
    [
        (Storage.BRAM, 512, 64, 1),  # 512 x 72 fits one block
        (Storage.BRAM, 32768, 1, 1),
        (Storage.BRAM, 513, 64, 2),
        (Storage.BRAM, 61440, 96, 165),  # best shape: 4096 x 9, 11 wide and 15 deep
        (Storage.URAM, 4096, 72, 1),
        (Storage.URAM, 32768, 512, 64),  # 8 wide (576 bits), 8 deep
        (Storage.LUTRAM, 64, 64, 64),
        (Storage.LUTRAM, 65, 64, 128),
        (Storage.REGISTERS, 2, 16, 32),
    ],
)
def test_bank_cost_uses_the_target_shapes(storage, words, width, cost):
    assert bank_cost(storage, words, width, VCK190) == cost


def test_lut_multipliers_are_the_measured_product_roms():
    e2m1, e2m3, e1m2 = (Format.parse(f) for f in ("e2m1", "e2m3", "e1m2"))
    measured = {(e["x"], e["w"]): e["luts"] for e in json.loads(MEASURED_FILE.read_text())["product_roms"]}
    for fx, fw in ((e2m1, e2m1), (e1m2, e2m1), (e2m3, e2m3)):
        assert multiplier_luts(fx, fw, VCK190) == measured[(fx.name, fw.name)]
    # an 8-input ROM (fp4) is a few LUT6 per product bit; a 12-input one (fp6) many more
    assert multiplier_luts(e2m3, e2m3, VCK190) > 5 * multiplier_luts(e2m1, e2m1, VCK190)
    # a lane: the multiplier and one adder of the accumulator's width (16 bits for groups of 128, 1 LUT a bit)
    assert lane_luts([Multiplier(e2m1, e2m1, 128)], VCK190) == measured[("e2m1", "e2m1")] + 16


def test_fit_needs_a_plan():
    module = block_kernel(**D16, **STEP)
    with pytest.raises(FpqcError, match="kernel @kernel_0 has no hardware plan; run the tile pass first"):
        kernel_fit(next(iter(module.ops)), VCK190)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fmt", ["fp4", "fp6"])
def test_var_blocks_fit_the_vck190(blocks, size, fmt):
    kernel = blocks[(size, fmt)]
    fit = kernel_fit(kernel, VCK190)
    assert fit.fits(VCK190), fit.summary(VCK190)
    assert fit.brams <= 967 and fit.urams <= 463 and fit.luts <= VCK190.luts
    assert fit.pe_luts <= VCK190.luts * VCK190.pe_lut_fraction
    plan = hls.plan_of(kernel)
    buffers = plan.entries_of(hls.BufferOp)
    assert sum(fit.bits.values()) == sum(b.bits.value.data for b in buffers) == fit.memory_bits
    # the four linear layers share the PE array's double-buffered weight tiles
    weights = plan.buffer("pe.w")
    assert weights.copies.value.data == 2 and len(weights.values) == 4
    fc1 = next(t for t in plan.entries_of(hls.TileOp) if fpq.role_of(t.target.owner) == "fc1")
    k_tile = fc1.loop("k").tile.data
    assert weights.shape[1] == (SIZES[size]["hidden"] if k_tile == SIZES[size]["c"] else k_tile)  # [n_tile, K]
    # attention: per unit a score row of L = 680 entries and K/V tiles of one head from the cache ports
    attention = next(t for t in plan.entries_of(hls.TileOp) if isinstance(t.target.owner, fpq.CachedAttentionOp))
    units = attention.loop("heads").tile.data
    assert SIZES[size]["heads"] % units == 0
    assert plan.buffer("cached_attention0.scores").shape == (units * 680,)
    head = SIZES[size]["c"] // SIZES[size]["heads"]
    for name, port in (("k", "k_cache"), ("v", "v_cache")):
        tile = plan.buffer(f"cached_attention0.{name}")
        assert tile.shape == (units * 680, head) and tile.copies.value.data == 2 and tile.banks.value.data == units
        assert [v.name_hint for v in tile.values] == [port]


def test_the_chosen_pe_arrays_and_row_tiles(blocks):
    """(PEs, fc1's row tile, k_tile, attention units).  W6A6's measured LUT multipliers (E2M3 x E2M3 and
    INT6 x E2M3 ROMs) cost about nine times W4A4's: an eighth of the PEs.  The cost model trades the rest:
    at d30 the BRAM and URAM go to attention units (the slowest op of the largest step) before PEs that
    would need smaller row tiles.  Every plan streams whole rows of K (the HLS library's PE array)."""
    chosen = {}
    for key, kernel in blocks.items():
        plan = hls.plan_of(kernel)
        fc1 = next(t for t in plan.entries_of(hls.TileOp) if fpq.role_of(t.target.owner) == "fc1")
        attention = next(t for t in plan.entries_of(hls.TileOp) if isinstance(t.target.owner, fpq.CachedAttentionOp))
        chosen[key] = (plan.pe_array().pes.value.data, fc1.loop("rows").tile.data, fc1.loop("k").tile.data,
                       attention.loop("heads").tile.data)
    assert chosen == {
        ("d16", "fp4"): (256, 512, 1024, 4),
        ("d16", "fp6"): (32, 128, 1024, 8),
        ("d30", "fp4"): (128, 128, 1920, 6),
        ("d30", "fp6"): (32, 64, 1920, 6),
    }


def test_module_fit_adds_the_kernels(blocks):
    from xdsl.dialects.builtin import ModuleOp

    kernel = blocks[("d16", "fp4")]
    one = kernel_fit(kernel, VCK190)
    module = ModuleOp([kernel.clone(), kernel.clone()])
    for i, k in enumerate(module.ops):
        k.sym_name = type(k.sym_name)(f"kernel_{i}")
    fit = module_fit(module, VCK190)
    assert [k.kernel for k in fit.kernels] == ["kernel_0", "kernel_1"]
    assert (fit.total.brams, fit.total.urams, fit.total.pe_luts) == (2 * one.brams, 2 * one.urams, 2 * one.pe_luts)
    assert not fit.fits() and "BRAM36 of 967" in fit.total.overflows(VCK190)[0]
    assert "total:" in fit.describe()


def _board(tmp_path, monkeypatch, name: str, **values) -> None:
    """A test-only target file: the VCK190 with some resources changed."""
    text = (targets.TARGETS_DIR / "vck190.toml").read_text().replace('name = "vck190"', f'name = "{name}"')
    for key, value in values.items():
        line = next(line for line in text.splitlines() if line.startswith(f"{key} ="))
        text = text.replace(line, f"{key} = {value}")
    (tmp_path / f"{name}.toml").write_text(text)
    for path in targets.TARGETS_DIR.glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text())
    monkeypatch.setattr(targets, "TARGETS_DIR", tmp_path)


def test_a_smaller_board_shrinks_the_same_design(tmp_path, monkeypatch, blocks):
    _board(tmp_path, monkeypatch, "half", brams=400, urams=200, luts=300000)
    small = targets.load_target("half")
    kernel = _tiled("d16", "fp4", target="half")
    fit = kernel_fit(kernel, small)
    big = kernel_fit(blocks[("d16", "fp4")], VCK190)
    assert fit.fits(small)
    assert fit.pes < big.pes and fit.brams <= 400 and fit.urams <= 200
    rows = hls.plan_of(kernel).buffer("mat_qkv.x").shape[0]
    assert rows < 512  # the activation codes of a row tile, no longer the whole launch


def test_a_board_too_small_fails_clearly(tmp_path, monkeypatch):
    _board(tmp_path, monkeypatch, "tiny", brams=8, urams=4)
    with pytest.raises(FpqcError) as error:
        _tiled("d16", "fp4", target="tiny")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("tile: kernel @kernel_0 does not fit tiny: with ")
    assert "largest buffers: cached_attention0.q (tensor<512x1024xf32>, 16.0 Mib" in message
    assert "lower n_tile, k_tile, kv_tile, or place buffers with storage=" in message
