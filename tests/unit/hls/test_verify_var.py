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

import numpy as np
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


@pytest.fixture(scope="module")
def inputs(builds: tuple[Path, Path], tmp_path_factory) -> Path:
    """Three rows of teacher-forcing inputs (labels 0 .. 10, the null class included) for the tiny VAR."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("inputs") / "in.npz"
    np.savez(path, label_B=np.array([3, 10, 0]), x_BLCv_wo_first_l=rng.standard_normal((3, 29, 8), np.float32))
    return path


def test_teacher_forcing_checks_every_launch_and_the_step_programs_logits(
    builds: tuple[Path, Path], inputs: Path
) -> None:
    good, _ = builds
    alone = verify_build(good, jobs=1, inputs=inputs)
    in_workers = verify_build(good, jobs=2, inputs=inputs)
    assert alone.kernels == in_workers.kernels and alone.generation is None
    # 3 rows, one batch each (static batch 1), 4 scales: each scale launches the block kernel twice and the head once
    assert {k.name: k.launches for k in alone.kernels.values()} == {"kernel_0": 24, "kernel_1": 12}
    assert alone.samples == 3 and alone.teacher_forcing == in_workers.teacher_forcing == (4, 3 * 30 * 64, 0)
    assert alone.differing == in_workers.differing == 0
    assert "its logits against @main's: 5,760 compared, 0 differing" in alone.summary()


def test_teacher_forcing_logits_that_differ_from_main_are_counted(
    builds: tuple[Path, Path], inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fpqc.runtime.model import VarModel

    good, _ = builds
    forward = VarModel.forward
    monkeypatch.setattr(VarModel, "forward", lambda self, labels, tokens: np.nextafter(
        forward(self, labels, tokens), np.inf, dtype=np.float32))  # @main one ulp up, as a wrong step program would be
    report = verify_build(good, jobs=1, inputs=inputs)
    assert report.teacher_forcing == (4, 5760, 5760) and report.differing == 5760
    assert "the step program's logits differ from @main's" in report.summary()


def test_teacher_forcing_finds_the_broken_kernel(builds: tuple[Path, Path], inputs: Path) -> None:
    _, broken = builds
    report = verify_build(broken, jobs=2, inputs=inputs)
    first = report.first_difference
    assert report.differing > 0 and (first.kernel, first.op) == ("kernel_0", "fpq.gelu")
    assert first.where.startswith("launch 0 (step_0")


@pytest.mark.parametrize("arrays, message", [
    ({"label_B": np.array([1])}, "missing input arrays x_BLCv_wo_first_l"),
    ({"label_B": np.array([1, 2]), "x_BLCv_wo_first_l": np.zeros((1, 29, 8), np.float32)},
     "must be float32 \\[2, 29, 8\\] \\(a row per label\\), got \\[1, 29, 8\\] float32"),
    ({"label_B": np.array([11]), "x_BLCv_wo_first_l": np.zeros((1, 29, 8), np.float32)}, "labels must be 0 .. 10"),
    ({"label_B": np.array([0.5]), "x_BLCv_wo_first_l": np.zeros((1, 29, 8), np.float32)}, "integer class labels"),
])
def test_teacher_forcing_inputs_that_do_not_fit_are_one_error(
    builds: tuple[Path, Path], tmp_path: Path, arrays: dict, message: str
) -> None:
    good, _ = builds
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(FpqcError, match=f"^{path}: .*{message}"):
        verify_build(good, jobs=1, inputs=path)


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


def test_only_weights_are_laid_out_once(builds: tuple[Path, Path]) -> None:
    """Workers lay out each weight once (every jobs-2 test above runs that way); the activations' port (sized by
    the launch's rows) and a KV cache (updated in place) cannot be shared between launches."""
    good, _ = builds
    device = CsimDevice(good)
    with pytest.raises(FpqcError, match="port .* changes from launch to launch"):
        device.lay_out("kernel_0", 0, np.zeros((1, 1, 128), np.float32))
    all_ports = device.kernels["kernel_0"]["ports"]
    ports = [p for p in all_ports if p["direction"] == "in"]
    cache = next(i for i, p in enumerate(ports) if any(q.get("updates") == p["name"] for q in all_ports))
    with pytest.raises(FpqcError, match="changes from launch to launch"):
        device.lay_out("kernel_0", cache, np.zeros(ports[cache]["shape"], np.float32))


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
