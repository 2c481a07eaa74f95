"""ReportDrawer: the helper process draws report_page's page, byte for byte; its failures are one error."""

from __future__ import annotations

import pytest

from fpqc.backends.html.report_drawer import ReportDrawer
from fpqc.backends.html.report_page import report_page
from fpqc.errors import FpqcError

REPORT = {"model": "var.onnx", "target": "vck190", "recipe": "fp4 ×", "kernels": ["kernel_0"],
          "packed_weight_bytes": 1234, "float_weight_bytes": 5678}


def test_the_helper_draws_report_pages_page() -> None:
    """(A whole compile's report, charts and all: tests/unit/cli/test_report_html.py.)"""
    with ReportDrawer() as drawer:
        page = drawer.draw(REPORT)
        assert page.result() == report_page(REPORT)


def test_a_failing_helper_is_one_error() -> None:
    with ReportDrawer() as drawer:
        page = drawer.draw({"model": "var.onnx", "cost": {"scales": "not a list"}})
        with pytest.raises(FpqcError, match=r"^report.html: the report drawer failed \(.+\)$"):
            page.result()


def test_a_compile_that_fails_before_drawing_stops_the_helper() -> None:
    with pytest.raises(KeyError):
        with ReportDrawer() as drawer:
            process = drawer._process
            raise KeyError("the compile failed")
    assert process.returncode is not None
