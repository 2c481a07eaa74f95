"""NaN and infinite weights in external data are refused by checks beside the import and the passes,
with the same error, and before any error the model meets later, as when they were checked in line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpqc.background_checks import BackgroundChecks
from fpqc.compiler import compile_model
from fpqc.errors import FpqcError


def two_linears(path: Path, w1: np.ndarray, w2: np.ndarray, last_op: str = "Relu") -> Path:
    """``last_op(relu(x @ w1) @ w2)`` with both weights in external data beside the model."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["m"]),
            helper.make_node(last_op, ["m"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 128])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 128])],
        initializer=[numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save_model(model, path, save_as_external_data=True, location="weights.data", size_threshold=0)
    return path


def weights(bad: float | None = None, which: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    w = [rng.standard_normal(shape).astype(np.float32) for shape in ((128, 256), (256, 128))]
    if bad is not None:
        w[which - 1][3, 5] = bad
    return w[0], w[1]


def test_a_nan_in_external_data_is_refused(tmp_path: Path) -> None:
    model = two_linears(tmp_path / "m.onnx", *weights(np.nan))
    with pytest.raises(FpqcError, match=r"initializer 'w2' holds 1 NaN value\(s\) of 32768"):
        compile_model(model, tmp_path / "out", format_name="fp8")
    assert not (tmp_path / "out").exists()


def test_a_nan_comes_before_a_later_nodes_error(tmp_path: Path) -> None:
    # The unsupported node comes after both weights were read: in line, the NaN was the error
    model = two_linears(tmp_path / "m.onnx", *weights(np.nan, which=1), last_op="Concat")  # Concat without its axis
    with pytest.raises(FpqcError, match="initializer 'w1' holds 1 NaN"):
        compile_model(model, tmp_path / "out", format_name="fp8")


def test_an_infinite_weight_in_external_data_is_refused(tmp_path: Path) -> None:
    model = two_linears(tmp_path / "m.onnx", *weights(-np.inf))
    with pytest.raises(FpqcError, match=r"has 1 infinite weight\(s\) of 32768"):
        compile_model(model, tmp_path / "out", format_name="fp8")
    assert not (tmp_path / "out").exists()


def test_checks_run_in_order_and_the_first_failure_is_the_error() -> None:
    ran: list[int] = []

    def check(i: int) -> None:
        ran.append(i)
        if i in (2, 3):
            raise ValueError(f"check {i}")

    with pytest.raises(ValueError, match="check 2"):
        with BackgroundChecks() as checks:
            for i in range(5):
                checks.submit(lambda i=i: check(i))
    assert ran == [0, 1, 2, 3, 4]


def test_a_failed_check_comes_before_the_blocks_own_later_error() -> None:
    with pytest.raises(ValueError, match="the check"):
        with BackgroundChecks() as checks:
            checks.submit(lambda: (_ for _ in ()).throw(ValueError("the check")))
            raise KeyError("the block's own error")
    with pytest.raises(KeyError, match="the block's own error"):
        with BackgroundChecks() as checks:
            checks.submit(lambda: None)
            raise KeyError("the block's own error")


def test_an_interrupt_is_not_replaced_by_a_checks_error() -> None:
    with pytest.raises(KeyboardInterrupt):
        with BackgroundChecks() as checks:
            checks.submit(lambda: (_ for _ in ()).throw(ValueError("the check")))
            raise KeyboardInterrupt
