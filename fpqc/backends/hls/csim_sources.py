"""The C simulation drivers of a build, from the C++ templates in ``templates/``.

``csim/csim_main.cpp`` runs the whole host schedule (only when every step is a
kernel launch): it loads weights and inputs, launches the kernels in order and
writes the outputs.

``csim/csim_kernels.cpp`` runs any kernel of the build on buffers read from
files: ``csim_kernels JOBS`` reads one launch per line of the file JOBS, fields
separated by tabs: ``KERNEL  OUT_DIR  DUMP_DIR  ARG...``.  An ARG is a file
holding exactly the port's bytes, or ``PATH@OFFSET`` (the port's bytes at a
byte offset, e.g. in weights.bin).  Result port j is written to
``OUT_DIR/j.bin``.  DUMP_DIR (``-`` for none) becomes ``$FPQC_DUMP_DIR`` for
that launch (builds with ``-DFPQC_DUMP``).
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
        body.append(f"    std::vector<{buffer.c_type}> {buffer.name}({max(buffer.words, 1)});")
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
        args = ", ".join(f"{name}.data()" for name in step.args + step.results)
        body.append(f"    {step.name}({args});")
    for onnx_name, buffer in schedule.outputs:
        body.append(
            f'    if (!write_file(out + "/{raw_file_name(onnx_name)}", {buffer.name}.data(), '
            f"{4 * buffer.words})) return 1;"
        )
    return Template(_template("csim_main.cpp")).substitute(
        declarations=_declarations(kernels), io_helpers=_template("csim_io.cpp"), body=_lines(body)
    )


def _runner(name: str, kernel: KernelEmitter) -> list[str]:
    """``run_<name>``: read the input ports from files, launch the kernel, write the output ports."""
    ins = [p for p in kernel.ports if p.kind == "in"]
    outs = [p for p in kernel.ports if p.kind == "out"]
    lines = [
        f"static bool run_{name}(const std::vector<std::string>& a, const std::string& out) {{",
        f"    if (a.size() != {len(ins)}) {{",
        f'        fprintf(stderr, "error: {name} takes {len(ins)} arguments, got %zu\\n", a.size());',
        "        return false;",
        "    }",
    ]
    for i, p in enumerate(ins):
        lines.append(f"    std::vector<{p.c_type}> p{i}({max(p.words, 1)});")
        lines.append(f"    if (!read_arg(a[{i}], p{i}.data(), {p.nbytes})) return false;")
    for j, p in enumerate(outs):
        lines.append(f"    std::vector<{p.c_type}> r{j}({max(p.words, 1)});")
    call_args = [f"p{i}.data()" for i in range(len(ins))] + [f"r{j}.data()" for j in range(len(outs))]
    lines.append(f"    {name}({', '.join(call_args)});")
    for j, p in enumerate(outs):
        lines.append(f'    if (!write_file(out + "/{j}.bin", r{j}.data(), {p.nbytes})) return false;')
    return [*lines, "    return true;", "}", ""]


def kernel_driver(kernels: dict[str, KernelEmitter]) -> str:
    """csim_kernels.cpp: run any kernel of the build on buffers read from files (module docstring)."""
    dispatch = [
        f'        {"if" if i == 0 else "else if"} (f[0] == "{name}") ok = run_{name}(args, f[1]);'
        for i, name in enumerate(kernels)
    ]
    return Template(_template("csim_kernels.cpp")).substitute(
        declarations=_declarations(kernels),
        io_helpers=_template("csim_io.cpp"),
        runners=_lines([line for name, k in kernels.items() for line in _runner(name, k)]),
        dispatch=_lines(dispatch),
        otherwise="else " if kernels else "",
    )
