"""IR printed (and verified) by forked children beside the compile (fpqc.background_prints): the text of the
module as it was when submitted, a refused check as the compile's error, one clear error for a file not
written, and no child left behind or holding a pipe."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fpqc import background_prints, compiler
from fpqc.background_prints import BackgroundPrints
from fpqc.errors import FpqcError
from fpqc.passes.pipelines import RAISE_PIPELINE
from fpqc.printer import print_module

DIGITS = Path(__file__).resolve().parents[3] / "examples" / "digits" / "var.onnx"


@pytest.fixture()
def module():
    return compiler.load_onnx(DIGITS)


def test_a_child_prints_the_module_as_it_was_when_submitted(module, tmp_path):
    module, store = module
    imported = print_module(module)
    with BackgroundPrints() as prints:
        prints.submit(module, [tmp_path / "a.mlir", tmp_path / "b.mlir"])
        with store.activate():
            compiler.run_pipeline(module, RAISE_PIPELINE, "raised")  # the parent's copy moves on
        prints.submit(module, [tmp_path / "c.mlir"])
        prints.wait()
    assert (tmp_path / "a.mlir").read_text() == (tmp_path / "b.mlir").read_text() == imported
    assert (tmp_path / "c.mlir").read_text() == print_module(module) != imported


def test_a_file_not_written_is_one_error_naming_it(module, tmp_path):
    missing = tmp_path / "no such directory" / "0-onnx.mlir"
    with pytest.raises(FpqcError, match=r"0-onnx\.mlir: not written \(FileNotFoundError: .*No such file"):
        with BackgroundPrints() as prints:
            prints.submit(module[0], [missing])


def _slow_write(module, paths):
    time.sleep(30)


def test_a_failed_compile_leaves_no_child_behind(module, tmp_path, monkeypatch):
    monkeypatch.setattr(background_prints, "_write", _slow_write)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with BackgroundPrints() as prints:
            prints.submit(module[0], [tmp_path / "never.mlir"])
            (pid, *_), = prints._children
            raise KeyboardInterrupt
    assert time.monotonic() - start < 10  # killed, not waited for
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie
    assert not (tmp_path / "never.mlir").exists()


def test_a_child_holds_none_of_the_parents_pipes(module, tmp_path, monkeypatch):
    """The report drawer reads its input to the end: a printing child must not keep that pipe open."""
    monkeypatch.setattr(background_prints, "_write", _slow_write)
    read_end, write_end = os.pipe()
    with pytest.raises(KeyboardInterrupt), BackgroundPrints() as prints:
        prints.submit(module[0], [tmp_path / "never.mlir"])
        os.close(write_end)
        start = time.monotonic()
        with os.fdopen(read_end, "rb") as pipe:
            assert pipe.read() == b""  # the end of the pipe now, not when the child exits
        assert time.monotonic() - start < 10
        raise KeyboardInterrupt  # kills the sleeping child


def _refuse(module):
    raise FpqcError("raised stage produced invalid IR: onnx.Add: the operands do not fit")


def test_a_refused_check_is_the_error_and_nothing_is_written(module, tmp_path):
    with pytest.raises(FpqcError, match="^raised stage produced invalid IR: onnx.Add"):
        with BackgroundPrints() as prints:
            prints.submit(module[0], [tmp_path / "1-raised.mlir"], check=_refuse)
    assert not (tmp_path / "1-raised.mlir").exists()


def test_a_passed_check_prints(module, tmp_path):
    with BackgroundPrints() as prints:
        prints.submit(module[0], [tmp_path / "1-raised.mlir"], check=lambda m: None)
    assert (tmp_path / "1-raised.mlir").read_text() == print_module(module[0])


def test_a_refused_check_comes_before_what_failed_after_it(module, tmp_path):
    """A later stage may fail on the invalid IR (here: any error); the user hears of the invalid stage."""
    with pytest.raises(FpqcError, match="^raised stage produced invalid IR") as caught:
        with BackgroundPrints() as prints:
            prints.submit(module[0], [tmp_path / "0-onnx.mlir"])
            prints.submit(module[0], [tmp_path / "1-raised.mlir"], check=_refuse)
            raise AttributeError("a later pass met the invalid IR")
    assert isinstance(caught.value.__cause__, AttributeError)
