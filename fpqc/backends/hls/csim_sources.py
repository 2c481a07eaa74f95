"""The whole-model C simulation driver of a build, from the C++ templates in ``templates/``.

``csim/csim_main.cpp`` runs the whole host schedule (only when every step is a
kernel launch): it loads weights and inputs, launches the kernels in order and
writes the outputs.  Single launches run through
:class:`~fpqc.backends.hls.csim_device.CsimDevice` instead.
"""

from __future__ import annotations

from importlib.resources import files
from string import Template

from fpqc.backends.hls.host_schedule import HostSchedule
from fpqc.backends.hls.identifiers import raw_file_name
from fpqc.backends.hls.kernel_cpp import KernelEmitter


def _template(name: str) -> str:
    return (files(__package__) / "templates" / name).read_text()


def _lines(lines: list[str]) -> str:
    """``lines``, each ended by a newline."""
    return "".join(f"{line}\n" for line in lines)


def _declarations(kernels: dict[str, KernelEmitter]) -> str:
    return _lines([f'extern "C" void {name}({", ".join(k.params)});' for name, k in kernels.items()])


def csim_main(schedule: HostSchedule, kernels: dict[str, KernelEmitter], manifest: dict) -> str:
    """csim_main.cpp: load weights and inputs, launch the kernels in order, write outputs."""
    entries = {e["name"]: e for e in manifest["entries"]}
    body = []
    for buffer in schedule.buffers.values():
        # Whole 512-bit words: a weight port reads whole words of its width.
        words = -(-max(buffer.words, 1) // 16) * 16
        body.append(f"    std::vector<{buffer.c_type}> {buffer.name}({words});")
        if buffer.kind == "weight":
            entry = entries[buffer.weight]
            body.append(
                f"    if (!read_file(weights, {buffer.name}.data(), {entry['bytes']}, {entry['offset']}, false)) return 1;"
            )
        elif buffer.kind == "input":
            body.append(
                f'    if (!read_file(in + "/{buffer.file}", {buffer.name}.data(), {4 * buffer.words}, 0, true)) return 1;'
            )
    for step in schedule.steps:
        params = kernels[step.name].params
        args = ", ".join(
            f"({param.rsplit(' ', 1)[0]}){name}.data()" for name, param in zip(step.args + step.results, params)
        )
        body.append(f"    {step.name}({args});")
    for onnx_name, buffer in schedule.outputs:
        body.append(
            f'    if (!write_file(out + "/{raw_file_name(onnx_name)}", {buffer.name}.data(), '
            f"{4 * buffer.words})) return 1;"
        )
    return Template(_template("csim_main.cpp")).substitute(
        declarations=_declarations(kernels), io_helpers=_template("csim_io.cpp"), body=_lines(body)
    )
