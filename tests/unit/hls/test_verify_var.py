"""``fpqc verify`` of a VAR build's whole generation, its launches C-simulated in this process or in workers.

With ``jobs`` 2 the launches run side by side in worker processes (the run goes on with the interpreter's
results, so none waits for another) and are compared in launch order: the same comparisons as in one process,
the same first difference when the C++ is wrong.  The C-simulation-only generation runs by default in one job
and on request in more.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from conftest import corrupt_stage, seal
from fpqc.backends.hls.csim_device import CsimDevice
from fpqc.backends.hls.csim_pool import CsimPool
from fpqc.compiler import compile_model
from fpqc.errors import FpqcError
from fpqc.frontend.var import VAR, VARConfig
from fpqc.frontend.var.export import export_var
from fpqc.tools.verify import verify_build


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny VAR's fp4 build, and a copy whose block kernel's GELU copies its input."""
    folder = tmp_path_factory.mktemp("var")
    cfg = VARConfig.tiny(embed_dim=128, num_heads=2)
    var = VAR(cfg, seed=0)
    var.init_weights(seed=1, init_adaln_gamma=0.5, init_head=1.0)
    onnx = export_var(cfg, folder / "var", var_state=var.eval().state_dict(), route="fpqc")
    good = folder / "good"
    compile_model(onnx, good, format_name="fp4")
    broken = folder / "broken"
    shutil.copytree(good, broken)
    corrupt_stage(broken / "kernels" / "kernel_0.cpp", "gelu_stage",
                  ("gelu_tanh_f32(get(in, ci, i, c))", "get(in, ci, i, c)"))
    seal(broken)  # a build whose C++ disagrees with its IR, as fpqc wrote it
    return good, broken


def test_a_generation_verified_in_workers_compares_every_launch(builds: tuple[Path, Path]) -> None:
    good, _ = builds
    alone = verify_build(good, samples=1, jobs=1)
    in_workers = verify_build(good, samples=1, jobs=2)
    assert alone.differing == in_workers.differing == 0
    assert in_workers.kernels == alone.kernels and sum(k.launches for k in alone.kernels.values()) > 4
    assert alone.generation == {"scales": 4, "tokens": "identical", "images": "identical"}
    assert in_workers.generation == {"scales": 4}
    assert "csim alone: not run (every launch compared; --csim-generation runs it)" in in_workers.summary()
    both = verify_build(good, samples=1, jobs=2, csim_generation=True)
    assert both.generation == alone.generation and both.compared == alone.compared


def test_workers_find_the_first_difference_of_one_process(builds: tuple[Path, Path]) -> None:
    _, broken = builds
    alone = verify_build(broken, samples=1, jobs=1, csim_generation=False)
    in_workers = verify_build(broken, samples=1, jobs=2)
    assert alone.differing > 0 and in_workers.kernels == alone.kernels
    first = in_workers.first_difference
    assert first == alone.first_difference and (first.kernel, first.op) == ("kernel_0", "fpq.gelu")
    assert first.where.startswith("launch 0 (step_0")


def test_default_jobs_spread_a_large_build_within_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fpqc.tools import verify

    (tmp_path / "weights.bin").write_bytes(b"\0" * 1024)
    assert verify.default_jobs(tmp_path) == 1  # a small build: one process
    os.truncate(tmp_path / "weights.bin", verify.PARALLEL_WEIGHT_BYTES)
    (tmp_path / "weights.npz").touch()
    os.truncate(tmp_path / "weights.npz", 1 << 30)
    monkeypatch.setattr(verify.os, "cpu_count", lambda: 8)
    page = 4096
    memory = {"SC_PAGE_SIZE": page, "SC_AVPHYS_PAGES": (10 << 30) // page}
    monkeypatch.setattr(verify.os, "sysconf", lambda name: memory[name])
    assert verify.default_jobs(tmp_path) == 5  # half of 10 GB holds five copies of 1 GB of weights
    memory["SC_AVPHYS_PAGES"] = (64 << 30) // page
    assert verify.default_jobs(tmp_path) == 8  # every core


def test_a_worker_that_dies_is_one_error(builds: tuple[Path, Path]) -> None:
    good, _ = builds
    CsimDevice(good)  # the kernels, compiled for the workers to load
    pool = CsimPool(good, 1)
    try:
        os.kill(pool.executor.submit(os.getpid).result(), signal.SIGKILL)  # as the OOM killer would
        with pytest.raises(FpqcError, match="a C-simulation worker process died"):
            CsimPool.result(pool.submit("kernel_0", (), ()))
    finally:
        pool.close()
