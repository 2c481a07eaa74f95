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
    with pytest.raises(FpqcError, match=r"unknown target 'zcu104' \(known targets: .*vck190"):
        targets.load_target("zcu104")


def test_incomplete_target_file_names_the_key(tmp_path, monkeypatch):
    (tmp_path / "half.toml").write_text('name = "half"\npart = "p"\n')
    monkeypatch.setattr(targets, "TARGETS_DIR", tmp_path)
    with pytest.raises(FpqcError, match="half.toml: missing key 'resources'"):
        targets.load_target("half")
