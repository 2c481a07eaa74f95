"""The Vitis system of a build's ``vitis/`` folder: compile, link and package the kernels for a board.

    hls_config.cfg   v++ -c --mode hls options shared by every kernel (part, clock, C++ flags)
    <kernel>.cfg     per kernel: its source, top function and .xo
    link.cfg         v++ -l: [connectivity] one compute unit per kernel (nk=) and the memory of each of
                     its ports (sp=: weights, KV caches, activations, each from the target file);
                     [clock] the target's clock on every compute unit
    package.cfg      v++ -p on Versal: an SD-card boot image (a VAR's: with the files its host program reads)
    Makefile         make sw_emu | hw_emu | hw with the target's platform (templates/vitis_Makefile)
    check_vitis.sh   stops with a clear message unless v++ is the Vitis release these files were written for
    run_tool.sh      runs one step with its output in a log; on failure its exit status and last lines

The files follow the Vitis unified flow of AMD's documentation for Vitis 2024.2 (UG1702,
UG1393): HLS components compiled with ``v++ -c --mode hls``, software emulation with the
``v++ -c -k`` form, and the Versal ``v++ --package`` step that turns the link's .xsa into the
.xclbin.  Nothing here runs Vitis; without it the files are checked by content and ``make -n``.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from fpqc.targets import Target

VITIS_VERSION = "2024.2"
"""The Vitis release the templates were written for (the VCK190 platform ``xilinx_vck190_base_202420_1``)."""

HOST_DATA = ("manifest.json", "host_schedule.json", "weights.bin", "var_config.json", "vae.npz")
"""The build's files the host program (and its host library) read, put on the SD card."""

EXECUTABLES = ("check_vitis.sh", "run_tool.sh")
TEMPLATES = Path(__file__).parent / "templates"


class _Template(Template):
    delimiter = "@@"  # Makefiles and shell scripts use $


def compute_unit(kernel: str) -> str:
    """The name of a kernel's compute unit (link.cfg's ``nk=``)."""
    return f"{kernel}_1"


def port_memories(schedule: dict, target: Target) -> dict[str, list[tuple[str, str]]]:
    """For each kernel of ``schedule`` (host_schedule.json), its port parameters and their memories.

    A port reading weights (a launch passes it a weight of weights.bin) goes to the target's
    ``weights_memory``, a port a result updates in place (a KV cache) to ``kv_cache_memory``,
    any other to ``activations_memory``; scalar registers have no memory.
    """
    weight_ports = {
        (step["kernel"], arg["port"])
        for function in [schedule, *schedule.get("step_program", [])]
        for step in function["steps"]
        if step["kind"] == "kernel"
        for arg in step["args"]
        if "weight" in arg
    }
    memories: dict[str, list[tuple[str, str]]] = {}
    for kernel in schedule["kernels"]:
        updated = {port["updates"] for port in kernel["ports"] if "updates" in port}
        ports = []
        for port in kernel["ports"]:
            if port.get("scalar") or "updates" in port:
                continue
            if (kernel["name"], port["name"]) in weight_ports:
                memory = target.weights_memory
            elif port["name"] in updated:
                memory = target.kv_cache_memory
            else:
                memory = target.activations_memory
            ports.append((port["name"], memory))
        memories[kernel["name"]] = ports
    return memories


def _link_cfg(memories: dict[str, list[tuple[str, str]]], target: Target) -> str:
    lines = [
        f"# v++ link of the fpqc kernels for {target.name}: one compute unit per kernel, the memory of each",
        "# port (weights, KV caches, activations: the target file's [vitis] memories), the target's clock.",
        "[connectivity]",
    ]
    lines += [f"nk={kernel}:1:{compute_unit(kernel)}" for kernel in memories]
    lines += [f"sp={compute_unit(kernel)}.{port}:{memory}" for kernel, ports in memories.items() for port, memory in ports]
    lines += ["", "[clock]"]
    lines += [f"freqhz={round(target.clock_mhz * 1e6)}:{compute_unit(kernel)}" for kernel in memories]
    return "\n".join(lines) + "\n"


def _package_cfg(target: Target, host_program: bool) -> str:
    lines = [
        f"# v++ --package for hw_emu and hw on {target.name} (Versal): an SD card that boots Linux with the",
        "# .xclbin" + (", the host program (the Makefile adds it) and the build's files it reads." if host_program else "."),
        "[package]",
        "boot_mode=sd",
        "image_format=ext4",
    ]
    lines += [f"sd_file=../{name}" for name in HOST_DATA] if host_program else []
    return "\n".join(lines) + "\n"


def vitis_files(schedule: dict, target: Target) -> dict[str, str]:
    """The files of ``vitis/`` by name, for the kernels of ``schedule`` (host_schedule.json) on ``target``."""
    kernels = [kernel["name"] for kernel in schedule["kernels"]]
    host_program = "step_program" in schedule  # a VAR: the C++ host program of host/ runs it
    files = {
        "hls_config.cfg": "\n".join(
            [
                f"# v++ HLS options shared by every kernel of this build (target {target.name}).",
                f"part={target.part}",
                "",
                "[hls]",
                "flow_target=vitis",
                f"clock={target.clock_mhz:g}MHz",
                "syn.cflags=-std=gnu++14 -ffp-contract=off -I../kernels",
                "package.output.format=xo",
                "",
            ]
        ),
        "link.cfg": _link_cfg(port_memories(schedule, target), target),
        "package.cfg": _package_cfg(target, host_program),
    }
    for k in kernels:
        files[f"{k}.cfg"] = "\n".join(
            [
                f"# v++ -c --mode hls options of {k}.",
                "[hls]",
                f"syn.file=../kernels/{k}.cpp",
                f"syn.top={k}",
                f"package.output.file={k}.xo",
                "",
            ]
        )
    values = {
        "target": target.name, "part": target.part, "platform": target.platform, "vitis_version": VITIS_VERSION,
        "kernels": " ".join(kernels), "host_program": "../host/fpqc_host_xrt" if host_program else "",
    }
    for name, template in (("Makefile", "vitis_Makefile"), ("check_vitis.sh", "vitis_check.sh"),
                           ("run_tool.sh", "vitis_run_tool.sh")):
        files[name] = _Template((TEMPLATES / template).read_text()).substitute(values)
    return files
