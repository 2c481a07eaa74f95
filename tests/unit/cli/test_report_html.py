"""``report.html`` of a real build, opened in headless Chromium (the system's, driven by Selenium).

CI installs ``chromium`` and ``chromium-driver`` and sets ``FPQC_REQUIRE_BROWSER=1``, so there the
browser tests always run; on a machine without Chromium they are skipped and say why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fpqc.eval.quality import RecipeQuality
from fpqc.eval.report import write_json

from cli_helpers import FPQC

DIGITS = Path(__file__).parents[3] / "examples" / "digits" / "var.onnx"
SECTIONS = ["Build", "Resources against the device", "Estimated speed", "Dataflow pipelines",
            "Where each op runs", "Quantization error per layer"]


def _chromedriver() -> str | None:
    return shutil.which("chromedriver") or next(
        (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if Path(p).exists()), None
    )


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    layers = [(f"b{b}.{role}", 10.0 + b + i) for b in range(4) for i, role in enumerate(("mat_qkv", "fc1"))]
    write_json([RecipeQuality("float", 0.0, 1.0, [(name, float("inf")) for name, _ in layers]),
                RecipeQuality("fp4-baseline", 0.08, 0.82, layers)], root / "eval.json")
    out = root / "build"
    result = subprocess.run([FPQC, "compile", str(DIGITS), "--format", "fp4", "--eval", str(root / "eval.json"),
                             "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out


def test_report_html_sections_and_determinism(build: Path) -> None:
    html = (build / "report.html").read_text()
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in html
    # self-contained: no scripts, nothing loaded from elsewhere (links only to the page's own ids)
    assert "<script" not in html and not re.search(r'(src|href)="(?!#)', html)
    report = json.loads((build / "report.json").read_text())
    for kernel, graph in report["pipeline"].items():
        assert f"<h3>{kernel}</h3>" in html
        for stage in graph["stages"]:
            assert f"{stage['index']}: {stage['kind']}" in html
    # the same report renders to the same bytes
    from fpqc.backends.html.report_page import report_page
    from fpqc.compiler import load_evaluation

    assert report_page(report, load_evaluation(build.parent / "eval.json")) == html


def test_eval_json_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "eval.json"
    bad.write_text('{"recipe": 1}')
    result = subprocess.run([FPQC, "compile", str(DIGITS), "--eval", str(bad), "-o", str(tmp_path / "b")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "not an eval.json of fpqc eval" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "b").exists()


def test_report_renders_in_headless_chromium(build: Path) -> None:
    driver_path = _chromedriver()
    if driver_path is None:
        if os.environ.get("FPQC_REQUIRE_BROWSER"):
            pytest.fail("FPQC_REQUIRE_BROWSER is set but chromedriver is not installed (apt-get install chromium-driver)")
        pytest.skip("no Chromium here: apt-get install chromium chromium-driver to run this test")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.set_window_size(1280, 1000)
        driver.get((build / "report.html").as_uri())
        titles = [h.text for h in driver.find_elements(By.TAG_NAME, "h2")]
        assert titles == SECTIONS
        svgs = driver.find_elements(By.CSS_SELECTOR, "figure svg")
        # resources, time per step, roofline, one pipeline per kernel, placement, per-layer SQNR
        kernels = json.loads((build / "report.json").read_text())["kernels"]
        assert len(svgs) == 5 + len(kernels)
        for svg in svgs:
            assert svg.size["width"] > 200 and svg.size["height"] > 50, svg.size
        assert driver.find_elements(By.CSS_SELECTOR, "p.fits")
        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        assert errors == []
    finally:
        driver.quit()
