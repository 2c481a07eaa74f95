"""End to end through the CLI: a torch model with host ops between quantized linears.

Linear -> ReLU -> Linear inside a residual block on a [B, T, C] input, two
blocks: the ReLU and the residual adds stay on the host, the linears become
two kernels shared by both blocks.
"""

import contextlib
import io
import json

import numpy as np
import pytest

from conftest import corrupt_stage, seal
from fpqc.cli import main

torch = pytest.importorskip("torch")


class _Blocks(torch.nn.Module):
    def __init__(self, depth=2, c=128):
        super().__init__()
        self.fc1 = torch.nn.ModuleList(torch.nn.Linear(c, 2 * c) for _ in range(depth))
        self.fc2 = torch.nn.ModuleList(torch.nn.Linear(2 * c, c) for _ in range(depth))

    def forward(self, x):
        for fc1, fc2 in zip(self.fc1, self.fc2):
            x = x + fc2(torch.relu(fc1(x)))
        return x


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_mixed")
    torch.manual_seed(0)
    model = _Blocks().eval()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        torch.onnx.export(model, (torch.randn(2, 8, 128),), str(tmp / "m.onnx"), dynamo=False,
                          opset_version=17, input_names=["x"], output_names=["y"])
    assert main(["compile", str(tmp / "m.onnx"), "-o", str(tmp / "b")]) == 0
    return tmp / "b"


def test_schedule_and_run(build, tmp_path, capsys):
    schedule = json.loads((build / "host_schedule.json").read_text())
    assert [k["name"] for k in schedule["kernels"]] == ["kernel_0", "kernel_1"]
    kinds = [s["kind"] for s in schedule["steps"]]
    assert kinds.count("kernel") == 4 and kinds.count("host") >= 4
    np.savez(tmp_path / "in.npz", x=np.random.default_rng(0).standard_normal((2, 8, 128)).astype(np.float32))
    assert main(["run", str(build), "--inputs", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as out:
        assert out["y"].shape == (2, 8, 128)


def test_verify_and_a_corrupted_kernel(build, tmp_path, capsys):
    assert main(["verify", str(build), "--samples", "2"]) == 0
    out = capsys.readouterr().out
    assert "bit-identical" in out and "8 launches checked" in out  # 2 samples x 4
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(build, bad)
    # drop the bias of kernel_1's qlinear
    corrupt_stage(bad / "kernels" / "kernel_1.cpp", "linear_combine",
                  ("has_bias ? total[p] + linear_detail::bias_of(pe_b, cur, o) : total[p]", "total[p]"))
    assert main(["verify", str(bad), "--samples", "1"]) == 1
    assert "kernels/kernel_1.cpp has changed since fpqc wrote it" in capsys.readouterr().err
    seal(bad)  # a build whose C++ disagrees with its IR, as fpqc wrote it
    assert main(["verify", str(bad), "--samples", "1"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "first differing op: fpq.qlinear (#1 of @kernel_1" in out
