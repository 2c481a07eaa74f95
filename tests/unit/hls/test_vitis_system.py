"""The Vitis system of a build (vitis/): link and package configs, and the Makefile's steps for sw_emu,
hw_emu and hw as `make -n` prints them, with a fake v++ on PATH (Vitis is not installed here)."""

import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fpqc.backends.hls.vitis import VITIS_VERSION, port_memories, vitis_files
from fpqc.compiler import compile_model
from fpqc.targets import load_target

from conftest import lower, residual_blocks, write_build

REPO = Path(__file__).resolve().parents[3]
PLATFORM = load_target("vck190").platform


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vitis") / "build"
    compile_model(REPO / "examples/digits/var.onnx", out, format_name="fp4")
    return out


def _fake_vitis(directory: Path, version: str, compile_status: int = 0) -> dict[str, str]:
    """An environment whose PATH starts with a `v++` reporting ``version`` (and failing compiles with
    ``compile_status``) and an `emconfigutil`."""
    directory.mkdir(parents=True, exist_ok=True)
    vpp = directory / "v++"
    vpp.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "****** v++ v{version} (64-bit)"; echo "  **** SW Build 1"; exit 0; fi\n'
        f'echo "ERROR: [v++ 60-602] cannot synthesize $*"; exit {compile_status}\n'
    )
    vpp.chmod(0o755)
    return {**os.environ, "PATH": f"{directory}:{os.environ['PATH']}"}


def _make(build: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-C", str(build / "vitis"), *args], capture_output=True, text=True, env=env)


def test_link_config_maps_every_port_and_clocks_every_compute_unit(build):
    link = (build / "vitis/link.cfg").read_text().splitlines()
    schedule = json.loads((build / "host_schedule.json").read_text())
    assert link[2] == "[connectivity]"
    assert [line for line in link if line.startswith("nk=")] == ["nk=kernel_0:1:kernel_0_1", "nk=kernel_1:1:kernel_1_1"]
    for kernel in schedule["kernels"]:
        memories = [line for line in link if line.startswith(f"sp={kernel['name']}_1.")]
        ports = [p["name"] for p in kernel["ports"] if not p.get("scalar") and "updates" not in p]
        assert memories == [f"sp={kernel['name']}_1.{port}:MC_NOC0" for port in ports]
    assert "sp=kernel_0_1.offset:MC_NOC0" not in link  # the KV-cache offset is a register
    assert link[link.index("[clock]") + 1:] == ["freqhz=300000000:kernel_0_1", "freqhz=300000000:kernel_1_1"]


def test_port_memories_come_from_the_target_file(build):
    target = dataclasses.replace(load_target("vck190"), weights_memory="DDR", kv_cache_memory="LPDDR",
                                 activations_memory="PLRAM")
    memories = dict(port_memories(json.loads((build / "host_schedule.json").read_text()), target)["kernel_0"])
    assert memories["weight_codes"] == memories["weight_scales_3"] == memories["bias"] == "DDR"
    assert memories["k_cache"] == memories["v_cache"] == "LPDDR"
    assert memories["input"] == memories["scale"] == memories["out2"] == "PLRAM"


def test_package_config_puts_the_host_programs_files_on_the_sd_card(build):
    package = (build / "vitis/package.cfg").read_text().splitlines()
    assert "[package]" in package and "boot_mode=sd" in package
    for name in ("manifest.json", "host_schedule.json", "weights.bin", "var_config.json", "vae.npz"):
        assert f"sd_file=../{name}" in package and (build / name).is_file()


def test_a_model_without_step_program_packages_no_host_program(tmp_path):
    module, store = residual_blocks(blocks=1)
    lower(module)
    write_build(tmp_path, module, store)
    assert "sd_file" not in (tmp_path / "vitis/package.cfg").read_text()
    assert "HOST_PROGRAM ?= \n" in (tmp_path / "vitis/Makefile").read_text()


def test_make_dry_runs_of_the_three_targets(build, tmp_path):
    env = _fake_vitis(tmp_path / "bin", VITIS_VERSION)
    sw_emu = _make(build, "-n", "sw_emu", env=env)
    assert sw_emu.returncode == 0, sw_emu.stderr
    steps = [line for line in sw_emu.stdout.splitlines() if "v++" in line or "emconfigutil" in line]
    assert steps == [
        f"./run_tool.sh sw_emu/kernel_0.compile.log v++ -c -t sw_emu --platform {PLATFORM} -k kernel_0 "
        "-I../kernels -o sw_emu/kernel_0.xo ../kernels/kernel_0.cpp",
        f"./run_tool.sh sw_emu/kernel_1.compile.log v++ -c -t sw_emu --platform {PLATFORM} -k kernel_1 "
        "-I../kernels -o sw_emu/kernel_1.xo ../kernels/kernel_1.cpp",
        f"./run_tool.sh sw_emu/link.log v++ -l -t sw_emu --platform {PLATFORM} --config link.cfg --temp_dir sw_emu/_x "
        "-o sw_emu/fpqc.xsa sw_emu/kernel_0.xo sw_emu/kernel_1.xo",
        f"./run_tool.sh sw_emu/package.log v++ -p -t sw_emu --platform {PLATFORM} --temp_dir sw_emu/_x "
        "-o sw_emu/fpqc.xclbin sw_emu/fpqc.xsa",
        f"./run_tool.sh sw_emu/emconfig.log emconfigutil --platform {PLATFORM} --od sw_emu",
    ]
    for target in ("hw_emu", "hw"):
        dry = _make(build, "-n", target, "EDGE_COMMON_SW=/opt/versal", "PLATFORM=my_vck190", env=env)
        assert dry.returncode == 0, dry.stderr
        text = dry.stdout.replace("\\\n", " ")
        for kernel in ("kernel_0", "kernel_1"):  # one HLS synthesis per kernel serves both targets
            assert (f"v++ -c --mode hls --config hls_config.cfg --config {kernel}.cfg --work_dir {kernel}") in text
        assert (f"v++ -l -t {target} --platform my_vck190 --config link.cfg --temp_dir {target}/_x "
                f"-o {target}/fpqc.xsa kernel_0.xo kernel_1.xo") in text
        package = " ".join(text[text.index(f"v++ -p -t {target}"):].split())
        assert package.startswith(f"v++ -p -t {target} --platform my_vck190 --config package.cfg")
        assert ("--package.rootfs /opt/versal/rootfs.ext4 --package.kernel_image /opt/versal/Image "
                f"--package.sd_file ../host/fpqc_host_xrt -o {target}/fpqc.xclbin {target}/fpqc.xsa") in package
    assert not list((build / "vitis").glob("*.log"))  # a dry run writes nothing


def test_another_vitis_release_stops_with_a_clear_message(build, tmp_path):
    result = _make(build, "hw", env=_fake_vitis(tmp_path / "bin", "2023.1"))
    assert result.returncode != 0
    assert (f"is Vitis 2023.1, but these build files (v++ configs, Makefile, platform {PLATFORM}) were written for "
            f"Vitis {VITIS_VERSION}") in result.stderr
    assert "make VITIS_VERSION=2023.1 PLATFORM=<its VCK190 platform>" in result.stderr
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    result = _make(build, "sw_emu", env=env)
    assert result.returncode != 0 and f"no v++ on PATH; these build files need Vitis {VITIS_VERSION}" in result.stderr


def test_a_failing_step_shows_its_exit_status_and_the_end_of_its_log(build, tmp_path):
    copy = tmp_path / "build"
    for folder in ("vitis", "kernels"):
        shutil.copytree(build / folder, copy / folder)
    env = _fake_vitis(tmp_path / "bin", VITIS_VERSION, compile_status=3)
    result = _make(copy, "hw", "EDGE_COMMON_SW=", env=env)
    assert "error: set EDGE_COMMON_SW to the Versal common image" in result.stderr
    result = _make(copy, "kernel_0.xo", env=env)
    assert result.returncode != 0
    assert "error: v++ exited with status 3; the last lines of kernel_0.compile.log:" in result.stderr
    assert "ERROR: [v++ 60-602] cannot synthesize -c --mode hls" in result.stderr


def test_vitis_files_are_deterministic(build):
    schedule = json.loads((build / "host_schedule.json").read_text())
    files = vitis_files(schedule, load_target("vck190"))
    assert files == vitis_files(schedule, load_target("vck190"))
    assert all((build / "vitis" / name).read_text() == text for name, text in files.items())
