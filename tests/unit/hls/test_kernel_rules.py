"""The emitted accelerator keeps Vitis HLS's rules: every top-level port has an interface pragma,
neither the kernels nor the library they include allocate memory or call libm, and fpqc's own C++
compiles warning-free with ``-Wall -Wextra``.

g++ does not know HLS pragmas, and loop labels (how Vitis names loops in its reports) read to it as
unused labels: those two warnings are off; warnings located in the vendor's ap_types headers (included
as system headers) are not fpqc's.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from fpqc.backends.hls.build import INCLUDE_DIR, LIBRARY_HEADERS
from fpqc.backends.hls.csim import CXXFLAGS, ap_types_include
from fpqc.compiler import compile_model

REPO = Path(__file__).resolve().parents[3]
FORBIDDEN = (
    r"\bmalloc\b", r"\bcalloc\b", r"\bfree\(", r"\bnew\s", r"\bdelete\b", r"std::vector", r"std::string",
    r"#include\s*<(cmath|math\.h|cstdlib|stdlib\.h)>", r"\b(std::)?(exp|expf|log|logf|sqrt|sqrtf|tanh|tanhf|pow|powf)\(",
)


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rules") / "build"
    compile_model(REPO / "examples/digits/var.onnx", out, format_name="fp6")
    return out


def _parameters(source: str, name: str) -> list[tuple[str, str]]:
    """(type, name) of each parameter of the top function ``name``."""
    signature = re.search(rf'extern "C" void {name}\((.*?)\) {{', source, re.S)
    assert signature is not None
    return [tuple(p.strip().rsplit(" ", 1)) for p in signature.group(1).split(",")]


def test_every_port_has_an_interface_pragma(build):
    kernels = sorted((build / "kernels").glob("kernel_*.cpp"))
    assert kernels
    for path in kernels:
        source = path.read_text()
        parameters = _parameters(source, path.stem)
        assert ("int", "rows") in parameters  # one kernel serves every scale: the rows are a register
        for ctype, name in parameters:
            assert re.search(rf"#pragma HLS INTERFACE mode=s_axilite port={name} bundle=control", source), (path, name)
            if ctype.endswith("*"):  # memory: an AXI master port
                assert re.search(rf"#pragma HLS INTERFACE mode=m_axi port={name} ", source), (path, name)
        assert "#pragma HLS INTERFACE mode=s_axilite port=return bundle=control" in source


def test_no_dynamic_memory_and_no_libm(build):
    sources = {p.name: p.read_text() for p in sorted((build / "kernels").glob("kernel_*.cpp"))}
    sources.update({h: (INCLUDE_DIR / h).read_text() for h in LIBRARY_HEADERS})
    for name, text in sources.items():
        code = re.sub(r"//[^\n]*", "", text)  # comments may name what the code avoids
        # The C-simulation-only dump of intermediates (-DFPQC_DUMP) observes buffers; it is not synthesized.
        code = re.sub(r"#ifdef FPQC_DUMP.*?#else", "", code, flags=re.S)
        for pattern in FORBIDDEN:
            assert not re.search(pattern, code), (name, pattern)


def test_kernels_compile_warning_free(build):
    flags = [*CXXFLAGS, "-Wall", "-Wextra", "-Wno-unknown-pragmas", "-Wno-unused-label",
             f"-isystem{ap_types_include()}", f"-I{build / 'kernels'}"]
    for path in sorted((build / "kernels").glob("kernel_*.cpp")):
        result = subprocess.run(["g++", *flags, "-c", str(path), "-o", "/dev/null"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        ours = [line for line in result.stderr.splitlines()
                if "warning:" in line and str(ap_types_include()) not in line.split(":", 1)[0]]
        assert not ours, "\n".join(ours)
