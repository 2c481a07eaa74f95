"""The Vitis build files of a build's ``vitis/`` folder.

    hls_config.cfg          v++ HLS options shared by all kernels (part, clock, flow)
    <kernel>.cfg            per-kernel top function, source and .xo
    link.cfg                v++ link connectivity
    build.sh, Makefile      v++ -c per kernel, v++ -l with the platform
"""

from __future__ import annotations

from fpqc.targets import Target


def vitis_files(kernels: list[str], target: Target) -> dict[str, str]:
    """The files of ``vitis/`` by name, for the kernels ``kernels`` on ``target``."""
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
        "link.cfg": "\n".join(
            ["# v++ link: one compute unit per kernel.", "[connectivity]"]
            + [f"nk={k}:1:{k}_1" for k in kernels]
            + [""]
        ),
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
    xos = " ".join(f"{k}.xo" for k in kernels)
    files["build.sh"] = "\n".join(
        [
            "#!/usr/bin/env bash",
            "# Synthesize every kernel with Vitis HLS, then link them with the platform.",
            "# Needs Vitis (source <Vitis>/settings64.sh); PLATFORM overrides the target file's platform.",
            "set -euo pipefail",
            'cd "$(dirname "$0")"',
            f'PLATFORM="${{PLATFORM:-{target.platform}}}"',
            f"for kernel in {' '.join(kernels)}; do",
            '    v++ -c --mode hls --config hls_config.cfg --config "$kernel.cfg" --work_dir "$kernel"',
            "done",
            f'v++ -l -t hw --platform "$PLATFORM" --config link.cfg -o fpqc.xsa {xos}',
            "",
        ]
    )
    files["Makefile"] = "\n".join(
        [
            f"# Vitis build of the fpqc kernels for {target.name} ({target.part}).",
            f"PLATFORM ?= {target.platform}",
            f"KERNELS := {' '.join(kernels)}",
            "",
            "all: fpqc.xsa",
            "",
            "%.xo: %.cfg hls_config.cfg ../kernels/%.cpp",
            "\tv++ -c --mode hls --config hls_config.cfg --config $*.cfg --work_dir $*",
            "",
            "fpqc.xsa: $(KERNELS:=.xo) link.cfg",
            "\tv++ -l -t hw --platform $(PLATFORM) --config link.cfg -o $@ $(KERNELS:=.xo)",
            "",
            "clean:",
            "\trm -rf $(KERNELS) *.xo fpqc.xsa _x .Xil *.log",
            "",
            ".PHONY: all clean",
            "",
        ]
    )
    return files
