"""``report.html``: the build's ``report.json`` as a page with tables and inline SVG charts.

:func:`report_page` takes the report dict (and optionally the ``eval.json`` of
``fpqc eval``) and returns one self-contained HTML file: no scripts, no
external files, the same bytes for the same report.  Sections appear when the
report has their data:

- the build: model, recipe, target, kernels, weights;
- resources against the device (``resources``, ``on_chip``);
- the cost model's estimate: cycles per scale and the roofline (``cost``);
- each kernel's dataflow pipeline (``pipeline``);
- where each op runs and its share of the MACs and bytes (``placement``);
- quantization error per layer (from ``eval.json``).
"""

from __future__ import annotations

from html import escape

from fpqc.backends.html.pipeline_svg import pipeline_svg
from fpqc.backends.html.svg_charts import layer_lines, roofline_chart, scale_bars, share_bars, utilization_bars

RESOURCE_NAMES = {"luts": "LUTs", "ffs": "FFs", "dsps": "DSPs", "brams": "BRAM36", "urams": "URAM"}

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.fits { color: #1e8449; font-weight: bold; } .overflows { color: #c0392b; font-weight: bold; }
figure { margin: 0.5em 0; overflow-x: auto; } figcaption { font-size: 0.85em; color: #555; }
"""


def report_page(report: dict, evaluation: list[dict] | None = None) -> str:
    """The HTML page of a build report (see module docstring)."""
    sections = [
        _build_section(report),
        _resources_section(report.get("resources"), report.get("on_chip")),
        _cost_section(report.get("cost")),
        _pipeline_section(report.get("pipeline") or {}),
        _placement_section(report.get("placement")),
        _quantization_section(report.get("recipe"), evaluation),
    ]
    title = f"fpqc build: {report.get('model', '?')} for {report.get('target', '?')}"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        *(s for s in sections if s),
        "</body></html>",
        "",
    ])


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{escape(str(c))}</td>' if i in numeric else f"<td>{escape(str(c))}</td>"
            for i, c in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _build_section(report: dict) -> str:
    on_chip = report.get("on_chip")
    rows = [
        ["model", report.get("model", "")],
        ["recipe", f"{report.get('recipe', '')}: {report.get('recipe_description', '')}"],
        ["target", f"{report.get('target', '')} ({report.get('platform', '')})"],
        ["kernels", ", ".join(report.get("kernels", [])) or "none"],
        ["transformer blocks", report.get("transformer_blocks", 0)],
        ["weights", f"{report.get('packed_weight_bytes', 0):,} bytes packed "
                    f"({report.get('float_weight_bytes', 0):,} in float)"],
    ]
    fits = ""
    if on_chip is not None:
        fits = ('<p class="fits">The hardware plan fits the device.</p>' if on_chip["fits"]
                else '<p class="overflows">The hardware plan does not fit the device.</p>')
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.get("notes", []))
    return "<h2>Build</h2>" + _table(["", ""], rows) + fits + (f"<ul>{notes}</ul>" if notes else "")


def _resources_section(resources: dict | None, on_chip: dict | None) -> str:
    if resources is None or on_chip is None:
        return ""
    total = resources["total"]
    names = [n for n in RESOURCE_NAMES if n in total]
    chart = utilization_bars([RESOURCE_NAMES[n] for n in names], [total[n]["used"] for n in names],
                             [total[n]["available"] for n in names], "Resources of the hardware plan")
    kernels = _table(["kernel", "resources"], [[k, s] for k, s in on_chip["kernels"].items()])
    return (
        "<h2>Resources against the device</h2>"
        + _figure(chart, "Buffers in BRAM36/URAM/LUTRAM counted in physical blocks from the plan the tile pass "
                         "chose (fpqc/analysis/plan_fit.py); LUTs, FFs and DSPs of the units from the cost "
                         "model's unit table (fpqc/analysis/cost_model.py).")
        + kernels
    )


def _cost_section(cost: dict | None) -> str:
    if cost is None:
        return ""
    unit = "images" if cost.get("batch_rows") else "runs"
    roofline = cost["roofline"]
    scales = cost["scales"]
    names = [s["function"] for s in scales]
    per_scale = scale_bars(names, {"estimate": [s["ms"] for s in scales],
                                   "compute bound": [s["compute_bound_ms"] for s in scales],
                                   "DDR bound": [s["memory_bound_ms"] for s in scales]},
                           "ms", "Time per step of the step program, one batch")
    peak = roofline["peak_macs_per_cycle"]
    bandwidth = roofline["ddr_bytes_per_cycle"]
    points = {s["function"]: (s["macs"] / s["ddr_bytes"] if s["ddr_bytes"] else 0.0,
                              s["macs"] / (s["ms"] * cost["clock_mhz"] * 1e3) if s["ms"] else 0.0)
              for s in scales if s["macs"]}
    roof = roofline_chart(peak, bandwidth, points, "Roofline at the plan's clock (MACs per cycle)")
    summary = [
        [f"{unit}/s estimated", f"{cost[f'{unit}_per_second']:.3g}"],
        [f"{unit}/s roofline bound", f"{roofline[f'bound_{unit}_per_second']:.3g}"],
        ["per batch", f"{cost['ms_per_batch']:.2f} ms for {cost[f'{unit}_per_batch']:g} {unit}"],
        ["compute bound / DDR bound", f"{roofline['compute_bound_ms']:.2f} ms / {roofline['memory_bound_ms']:.2f} ms"],
        ["clock, DDR", f"{cost['clock_mhz']:g} MHz, {cost['ddr_bandwidth_gbs']:g} GB/s"],
    ]
    if cost.get("paper_images_per_second"):
        summary.append(["the paper (VAR-d30 on the VCK190)", f"{cost['paper_images_per_second']:g} images/s"])
    rows = [[s["function"], s["rows"], s["launches"], f"{s['ms']:.3f}", s["bound"], s["busiest_op"]]
            for s in scales]
    return (
        "<h2>Estimated speed</h2>"
        + _table(["", ""], summary)
        + _figure(per_scale, "The cost model's time of every step against its compute and DDR bounds.")
        + _figure(roof, "Each step as a point: MACs per DDR byte against the MACs per cycle it reaches; the roof is "
                        "the PE arrays' peak and the DDR bandwidth.")
        + _table(["step", "rows", "launches", "ms", "bound", "busiest op"], rows, numeric={1, 2, 3})
    )


def _pipeline_section(pipelines: dict) -> str:
    if not pipelines:
        return ""
    parts = ["<h2>Dataflow pipelines</h2>",
             "<p>Each kernel's stages in plan order; solid arrows are streams between neighbouring stages, "
             "dashed arcs streams that skip stages. Hover for widths and FIFO depths.</p>"]
    for kernel, graph in pipelines.items():
        parts.append(f"<h3>{escape(kernel)}</h3>")
        parts.append(_figure(pipeline_svg(graph), f"{kernel}: {len(graph['stages'])} stages, "
                                                  f"{len(graph['streams'])} streams"))
    return "\n".join(parts)


def _placement_section(placement: dict | None) -> str:
    if placement is None:
        return ""
    share = placement["device_share"]
    chart = share_bars(["MACs", "bytes"], {"device": [share["macs"], share["bytes"]],
                                           "host": [1 - share["macs"], 1 - share["bytes"]]},
                       "Share of one generation's work")
    rows = [[o["op"], o["where"], o["count"], f"{o['macs']:,}", f"{o['bytes']:,}"] for o in placement["ops"]]
    return (
        "<h2>Where each op runs</h2>"
        + _figure(chart, "Multiply-accumulates and bytes read and written, device against host, over one "
                         "generation of one batch (fpqc/analysis/placement.py).")
        + _table(["op", "where", "executions", "MACs", "bytes"], rows, numeric={2, 3, 4})
    )


def _quantization_section(recipe: str | None, evaluation: list[dict] | None) -> str:
    """The build's recipe's rows of ``eval.json`` (every quantized recipe's when it has none)."""
    if not evaluation:
        return ""
    chosen = [r for r in evaluation if r["recipe"] == recipe] or [r for r in evaluation if r["layer_sqnr_db"]]
    if not chosen:
        return ""
    labels = list(chosen[0]["layer_sqnr_db"])
    series = {r["recipe"]: [r["layer_sqnr_db"].get(label, float("nan")) for label in labels] for r in chosen}
    rows = [[r["recipe"], f"{r['kl']:.4f}", f"{r['mean_sqnr_db']:.2f}"] for r in chosen]
    return (
        "<h2>Quantization error per layer</h2>"
        + _figure(layer_lines(labels, series, "SQNR (dB)", "Per-layer SQNR against the float model"),
                  "Teacher-forced, from fpqc eval (higher is better).")
        + _table(["recipe", "KL (nats)", "mean SQNR (dB)"], rows, numeric={1, 2})
    )


__all__ = ["report_page"]
