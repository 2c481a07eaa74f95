"""C simulation of emitted kernels vs fpqc.numerics and the interpreter, bit for bit."""


import numpy as np
import pytest

from fpqc.backends.hls.csim import run_csim
from fpqc.backends.hls.build import emit_build
from fpqc.numerics import Format, compute_scales, gelu_tanh_f32, qlinear, quantize
from fpqc.targets import load_target

from conftest import corrupt_stage, lower, quantized_linear, seal, write_build


def _bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


@pytest.mark.parametrize(
    "fmt, x_gran, w_gran, bias",
    [
        ("e2m1", "group 16", "group 32", True),
        ("e2m3", "token", "channel", True),
        ("e4m3", "group 32", "group 16", False),
        ("int4", "tensor", "tensor", True),
    ],
)
def test_qlinear_matches_numerics(tmp_path, fmt, x_gran, w_gran, bias):
    module, store = quantized_linear(fmt, x_gran=x_gran, w_gran=w_gran, bias=bias, gelu=True, seed=3)
    lower(module)
    emit_build(module, store, tmp_path, load_target("vck190"))
    f = Format.parse(fmt)
    rng = np.random.default_rng(7)
    for scale in (1.0, 1e-3, 50.0):
        x = (rng.standard_normal((4, 64)) * scale).astype(np.float32)
        x[0, :16] = 0.0  # an all-zero group
        got = run_csim(tmp_path, {"x": x})["y"]

        def group(spec):
            return None if spec == "tensor" else (64 if spec in ("token", "channel") else int(spec.split()[1]))

        gx, gw = group(x_gran), group(w_gran)
        xs = compute_scales(x, f, axis=None if gx is None else -1, group_size=gx)
        xc = quantize(x, f, xs, axis=None if gx is None else -1, group_size=gx)
        keys = store.keys()
        wc, ws = store.get(keys[0]), store.get(keys[1])
        g = min(gx or 64, gw or 64)
        rep = lambda s, n: np.repeat(s.reshape(s.shape[0], -1), 64 // g // s.reshape(s.shape[0], -1).shape[1], 1)
        want = qlinear(xc, f, rep(xs, 4), wc, f, rep(ws, 8), g, store.get(keys[2]) if bias else None)
        want = gelu_tanh_f32(want)
        assert np.array_equal(_bits(got), _bits(want)), f"{np.count_nonzero(_bits(got) != _bits(want))} differ"


@pytest.mark.parametrize("jobs", [1, 2])
def test_verify_build_is_bit_exact(tmp_path, jobs):
    from fpqc.tools.verify import verify_build

    module, store = quantized_linear("e2m1", gelu=True)
    lower(module)
    write_build(tmp_path, module, store)
    report = verify_build(tmp_path, samples=2, seed=0, jobs=jobs)
    # one kernel, 2 launches of 4x8 outputs; and the whole model (no host ops) on the same samples
    assert report.kernels["kernel_0"].launches == 2
    assert (report.kernels["kernel_0"].compared, report.whole_model) == (64, (64, 0))
    assert (report.compared, report.differing) == (128, 0)
    assert "bit-identical" in report.summary()


def test_verify_names_the_first_differing_op(tmp_path):
    from fpqc.tools.verify import verify_build

    module, store = quantized_linear("e2m1", gelu=True)
    lower(module)
    write_build(tmp_path, module, store)
    # Break the C++ side's GELU (it copies its input): the quantizer and the qlinear still agree.
    corrupt_stage(tmp_path / "kernels" / "kernel_0.cpp", "gelu_stage",
                  ("gelu_tanh_f32(get(in, ci, i, c))", "get(in, ci, i, c)"))
    seal(tmp_path)  # a build whose C++ disagrees with its IR, as fpqc wrote it
    report = verify_build(tmp_path, samples=2)
    assert report.differing > 0
    first = report.first_difference
    assert (first.kernel, first.index, first.op, first.where) == ("kernel_0", 2, "fpq.gelu", "launch 0 (sample 0, main)")
    assert "first differing op: fpq.gelu" in report.summary()
    # the launches C-simulated in worker processes: the same comparisons, the same first difference
    in_workers = verify_build(tmp_path, samples=2, jobs=2)
    assert (in_workers.kernels, in_workers.first_difference) == (report.kernels, report.first_difference)


def test_the_kernel_library_is_linked_aside_and_renamed_into_place(tmp_path, monkeypatch):
    """verify's workers each open csim/libkernels.so while others may link it again: no linker ever writes the
    library's own path (a reader would see it half written), and no temporary is left."""
    import ctypes

    from fpqc.backends.hls import csim

    module, store = quantized_linear("e2m1")
    lower(module)
    write_build(tmp_path, module, store)
    library = csim.compile_kernel_library(tmp_path)
    before = library.stat().st_ino
    outputs = []
    compiler = csim._run_compiler
    monkeypatch.setattr(csim, "_run_compiler", lambda command: (outputs.append(command[-1]), compiler(command))[1])
    assert csim.compile_kernel_library(tmp_path) == library
    assert len(outputs) == 1 and outputs[0] != str(library)  # the objects are cached: only the link runs
    assert library.stat().st_ino != before  # a new file renamed over the old one
    ctypes.CDLL(str(library))
    assert not list((tmp_path / "csim" / "obj").glob("*.tmp.o"))
