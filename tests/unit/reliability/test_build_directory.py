"""What a compile may replace, and what any failure, interruption or race leaves on disk.

Each row of the tables is one fault a user can cause; every case checks the exit
status, the key words of the one error line, that no traceback was printed and what
is on disk afterwards (the user's files untouched, no staging directory, a whole build).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fpqc.cli import main
from fpqc.files.build_directory import inventory, is_fpqc_build, recover

FPQC = str(Path(sys.executable).parent / "fpqc")
MAKE_MLP = Path(__file__).parents[3] / "examples" / "mlp" / "make_mlp.py"


@pytest.fixture(scope="module")
def mlp(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mlp") / "mlp.onnx"
    subprocess.run([sys.executable, str(MAKE_MLP), "-o", str(path)], check=True, capture_output=True)
    return path


class Result:
    """Exit status and stderr of one in-process ``fpqc`` command."""

    def __init__(self, returncode: int, stderr: str):
        self.returncode, self.stderr = returncode, stderr


@pytest.fixture
def fpqc(capsys):
    """Run ``fpqc ARGS`` in this process (the CLI's own error handling included)."""

    def run(*args: str | Path) -> Result:
        status = main([str(a) for a in args])
        return Result(status, capsys.readouterr().err)

    return run


def hidden_siblings(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def user_directory(root: Path) -> Path:
    """A directory of the user's that merely has a manifest.json."""
    (root / "w" / "src").mkdir(parents=True)
    (root / "w" / "manifest.json").write_text("{}")
    (root / "w" / "src" / "app.js").write_text("user code")
    return root / "w"


def build_with_extra_file(root: Path, mlp: Path, fpqc) -> Path:
    assert fpqc("compile", mlp, "-o", root / "b").returncode == 0
    (root / "b" / "notes.txt").write_text("the user's notes")
    return root / "b"


def build_holding_the_model(root: Path, mlp: Path, fpqc) -> Path:
    assert fpqc("compile", mlp, "-o", root / "b").returncode == 0
    (root / "b" / "mlp.onnx").write_bytes(mlp.read_bytes())
    return root / "b"


REFUSED = [
    # (case, make the -o directory, key words of the error)
    ("user directory with a manifest", lambda root, mlp, fpqc: user_directory(root), "is not a build fpqc wrote"),
    ("build with a file added", build_with_extra_file, "holds files fpqc did not write"),
    ("build holding the model", build_holding_the_model, "holds files fpqc did not write"),
]


@pytest.mark.parametrize(("case", "make", "words"), REFUSED, ids=[r[0] for r in REFUSED])
def test_only_fpqc_builds_are_replaced(tmp_path: Path, mlp: Path, fpqc, case, make, words):
    output = make(tmp_path, mlp, fpqc)
    before = inventory(output)
    model = output / "mlp.onnx" if (output / "mlp.onnx").exists() else mlp
    result = fpqc("compile", model, "-o", output)
    assert result.returncode == 1 and words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert inventory(output) == before  # nothing deleted, nothing added
    assert hidden_siblings(tmp_path) == []


BAD_OUTPUTS = [
    # (case, -o relative to tmp_path or absolute, key words)
    ("in /proc", "/proc/fpqc-build", "cannot write in /proc"),
    ("parent is a file", "a-file/build", "its parent"),
    ("a symbolic link", "link", "is a symbolic link"),
    ("a file", "a-file", "exists and is not a directory"),
]


@pytest.mark.parametrize(("case", "output", "words"), BAD_OUTPUTS, ids=[r[0] for r in BAD_OUTPUTS])
def test_bad_output_paths_are_one_line(tmp_path: Path, mlp: Path, fpqc, case, output, words):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    result = fpqc("compile", mlp, "-o", tmp_path / output)
    assert result.returncode == 1 and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert (tmp_path / "a-file").read_text() == "x" and list((tmp_path / "real").iterdir()) == []


def test_an_input_inside_the_output_is_refused(tmp_path: Path, mlp: Path, fpqc):
    output = tmp_path / "b"
    output.mkdir()
    (output / "mlp.onnx").write_bytes(mlp.read_bytes())
    result = fpqc("compile", output / "mlp.onnx", "-o", output)
    assert result.returncode == 1 and "is not a build fpqc wrote" in result.stderr
    (output / "mlp.onnx").unlink()
    calib = output / "calib.npz"
    result = fpqc("compile", mlp, "-o", output, "--calib", calib)
    assert result.returncode == 1 and "no such file (the calibration file)" in result.stderr


def test_recompiling_replaces_the_build_and_leaves_nothing_beside_it(tmp_path: Path, mlp: Path, fpqc):
    output = tmp_path / "b"
    for _ in range(2):
        assert fpqc("compile", mlp, "-o", output).returncode == 0
        assert is_fpqc_build(output)
        assert hidden_siblings(tmp_path) == []
    listed = json.loads((output / "manifest.json").read_text())["files"]
    assert "model.hls.mlir" in listed and "manifest.json" not in listed


def start_compile(mlp: Path, output: Path) -> subprocess.Popen:
    return subprocess.Popen([FPQC, "compile", str(mlp), "-o", str(output)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("after", [0.5, 2.0, 3.5])
def test_ctrl_c_leaves_a_whole_build_and_no_staging(tmp_path: Path, mlp: Path, fpqc, after: float):
    output = tmp_path / "b"
    assert fpqc("compile", mlp, "-o", output).returncode == 0
    process = start_compile(mlp, output)
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    # done, refused, interrupted, or (after it finished, during interpreter shutdown) killed by the signal
    assert process.returncode in (0, 1, 130, -signal.SIGINT) and "Traceback" not in err, err
    assert is_fpqc_build(output)  # the old build or the new one, whole
    assert hidden_siblings(tmp_path) == []


def test_sigkill_leftovers_are_cleaned_by_the_next_compile(tmp_path: Path, mlp: Path, fpqc):
    output = tmp_path / "b"
    assert fpqc("compile", mlp, "-o", output).returncode == 0
    old = inventory(output)
    process = start_compile(mlp, output)
    deadline = time.monotonic() + 60
    while not any(".fpqc-staging." in name for name in hidden_siblings(tmp_path)):
        assert process.poll() is None and time.monotonic() < deadline, "the compile never staged"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert inventory(output) == old and is_fpqc_build(output)
    assert fpqc("compile", mlp, "-o", output).returncode == 0
    assert is_fpqc_build(output) and hidden_siblings(tmp_path) == []


def test_an_old_build_left_aside_by_an_interrupted_swap_is_restored(tmp_path: Path, mlp: Path, fpqc):
    output = tmp_path / "b"
    assert fpqc("compile", mlp, "-o", output).returncode == 0
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    aside = tmp_path / f".b.fpqc-old.{int(dead.stdout)}.0badf00d"
    output.rename(aside)  # the state between "old aside" and "new in place"
    recover(output)
    assert is_fpqc_build(output) and hidden_siblings(tmp_path) == []


def test_two_compiles_to_one_output_never_corrupt_it(tmp_path: Path, mlp: Path):
    output = tmp_path / "b"
    processes = [start_compile(mlp, output) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in processes]
    for status, err in results:
        assert status == 0 or (status == 1 and "another fpqc compile" in err), err
        assert "Traceback" not in err
    assert any(status == 0 for status, _ in results)
    assert is_fpqc_build(output) and hidden_siblings(tmp_path) == []


def test_a_user_file_named_like_a_staging_directory_of_a_live_process_is_kept(tmp_path: Path, mlp: Path, fpqc):
    output = tmp_path / "b"
    mine = tmp_path / f".b.fpqc-staging.{os.getpid()}.abcdef12"
    mine.mkdir()
    (mine / "keep.txt").write_text("alive")
    assert fpqc("compile", mlp, "-o", output).returncode == 0
    assert (mine / "keep.txt").read_text() == "alive"
