import pytest

import fpqc.targets as targets
from fpqc.errors import FpqcError


def test_vck190_is_data():
    t = targets.load_target("vck190")
    assert t.part == "xcvc1902-vsva2197-2MP-e-S"
    assert t.platform.startswith("xilinx_vck190_base_")
    assert (t.luts, t.dsps, t.brams, t.urams) == (899840, 1968, 967, 463)
    assert t.clock_mhz > 0 and t.lanes > 0 and t.ddr_bandwidth_gbs == pytest.approx(25.6)


def test_unknown_target_lists_known_ones():
    with pytest.raises(FpqcError, match=r"unknown target 'u280' \(known targets: vck190, zcu104\)"):
        targets.load_target("u280")


def test_zcu104_is_a_smaller_board_of_another_family():
    small, big = targets.load_target("zcu104"), targets.load_target("vck190")
    assert (small.luts, small.ffs, small.dsps, small.brams, small.urams) == (230400, 460800, 1728, 312, 96)
    assert small.family == "ultrascale_plus" and big.family == "versal"
    assert small.ddr_bandwidth_gbs == pytest.approx(19.2) and small.axi_data_width == 128
    # an fp32 multiply: 2 DSP48E2 for the 24 x 24-bit mantissa product; one DSP58 on Versal
    assert (small.units.fmul_dsps, small.units.fadd_dsps) == (2, 0) and (big.units.fmul_dsps, big.units.fadd_dsps) == (1, 1)


def test_a_target_of_an_unknown_family_is_refused(tmp_path, monkeypatch):
    _copy_vck190(tmp_path, monkeypatch, "odd", ('family = "versal"', 'family = "stratix"'))
    with pytest.raises(FpqcError, match="unknown device family 'stratix' \\(unit cost files: ultrascale_plus, versal\\)"):
        targets.load_target("odd")


def test_incomplete_target_file_names_the_key(tmp_path, monkeypatch):
    (tmp_path / "half.toml").write_text('name = "half"\npart = "p"\n')
    monkeypatch.setattr(targets, "TARGETS_DIR", tmp_path)
    with pytest.raises(FpqcError, match="half.toml: missing key 'resources'"):
        targets.load_target("half")


def test_vck190_memory_and_accelerator_fields():
    t = targets.load_target("vck190")
    assert t.ffs == 2 * t.luts
    assert t.bram_bits == 36 * 1024 and t.uram_bits == 288 * 1024
    assert (72, 512) in t.bram_shapes and t.uram_shape == (72, 4096)
    assert t.axi_data_width == 512 and t.burst_beats * t.axi_data_width // 8 == 4096  # a 4 KB burst
    assert 0 < t.pe_lut_fraction <= 1 and t.stream_depth >= 1
    assert t.registers_max_bits <= t.lutram_max_bits <= t.uram_min_bits


def _copy_vck190(tmp_path, monkeypatch, name: str, replace: tuple[str, str]) -> None:
    text = (targets.TARGETS_DIR / "vck190.toml").read_text()
    assert replace[0] in text
    (tmp_path / f"{name}.toml").write_text(text.replace(*replace).replace('name = "vck190"', f'name = "{name}"'))
    monkeypatch.setattr(targets, "TARGETS_DIR", tmp_path)


@pytest.mark.parametrize(
    "replace, message",
    [
        (("axi_data_width = 512", "axi_data_width = 384"), "axi_data_width must be a power of two"),
        (("burst_beats = 64", "burst_beats = 512"), "burst_beats must be at most 256"),
        (("pe_lut_fraction = 0.5", "pe_lut_fraction = 1.5"), r"pe_lut_fraction must be in \(0, 1\]"),
        (("lutram_max_bits = 4096", "lutram_max_bits = 1"), "thresholds must grow"),
        (("uram_shape = [72, 4096]", "uram_shape = [72]"), "a value has the wrong type"),
        (("[storage]", "[storage_thresholds]"), "missing key 'storage'"),
    ],
)
def test_bad_target_values_are_named(tmp_path, monkeypatch, replace, message):
    _copy_vck190(tmp_path, monkeypatch, "bad", replace)
    with pytest.raises(FpqcError, match=message):
        targets.load_target("bad")
