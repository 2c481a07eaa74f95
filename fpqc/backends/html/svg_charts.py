"""Charts of the build report as inline SVG (matplotlib, no JavaScript).

Every function takes plain numbers and returns an ``<svg>`` element as text,
ready to paste into the page.
"""

from __future__ import annotations

import io
from collections.abc import Sequence


def _figure(figsize: tuple[float, float]):
    """A matplotlib figure and its axes, outside pyplot: nothing global to close, and no pyplot
    import (most of a second; matplotlib is imported on the first chart, not with this module).
    Its layout is constrained: the labels fit as the figure is drawn, once (a tight bounding box
    when saving draws it twice: a VAR-d16 report's charts took a third longer)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots()


def _svg(fig) -> str:
    """The figure as an ``<svg>`` element; the same chart gives the same bytes."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "fpqc", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def utilization_bars(names: Sequence[str], used: Sequence[float], available: Sequence[float], title: str) -> str:
    """Horizontal bars: each resource's use as a share of the device, with the counts written beside."""
    fig, ax = _figure((7, 0.45 * len(names) + 1.0))
    shares = [100.0 * u / a if a else 0.0 for u, a in zip(used, available)]
    colors = ["#c0392b" if s > 100 else "#2e86c1" for s in shares]
    ax.barh(list(names), shares, color=colors)
    ax.axvline(100, color="#444", linewidth=1, linestyle="--")
    for y, (share, u, a) in enumerate(zip(shares, used, available)):
        ax.text(min(share, 100) + 1, y, f"{share:.1f}%  ({u:,.0f} / {a:,.0f})", va="center", fontsize=8)
    ax.set_xlim(0, max(130, max(shares, default=0) * 1.1))
    ax.invert_yaxis()
    ax.set_xlabel("% of the device")
    ax.set_title(title)
    return _svg(fig)


def share_bars(categories: Sequence[str], shares: dict[str, Sequence[float]], title: str) -> str:
    """Stacked horizontal bars of shares (0..1) per category, one colour per key of ``shares``."""
    fig, ax = _figure((7, 0.5 * len(categories) + 1.2))
    left = [0.0] * len(categories)
    for label, values in shares.items():
        ax.barh(list(categories), [100 * v for v in values], left=left, label=label)
        left = [lft + 100 * v for lft, v in zip(left, values)]
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    return _svg(fig)


def layer_lines(labels: Sequence[str], series: dict[str, Sequence[float]], ylabel: str, title: str) -> str:
    """One line per series over the layers (x: layer labels in program order)."""
    fig, ax = _figure((max(7.0, 0.18 * len(labels)), 3.6))
    for name, values in series.items():
        ax.plot(range(len(values)), values, marker="o", markersize=3, label=name)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=90, fontsize=6)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _svg(fig)


def scale_bars(names: Sequence[str], series: dict[str, Sequence[float]], unit: str, title: str) -> str:
    """Grouped vertical bars, one group per name (a step of the program), one bar per series."""
    fig, ax = _figure((max(7.0, 0.7 * len(names)), 3.4))
    width = 0.8 / max(len(series), 1)
    for i, (label, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(names))], list(values), width, label=label)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(names))])
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _svg(fig)


def roofline_chart(peak: float, bytes_per_cycle: float, points: dict[str, tuple[float, float]], title: str) -> str:
    """Log-log roofline: attainable MACs/cycle = min(peak, intensity · bytes/cycle), with labelled points
    ``name: (MACs per byte, MACs per cycle)``."""
    from matplotlib.ticker import LogFormatter

    fig, ax = _figure((7, 4))
    intensities = [p[0] for p in points.values() if p[0] > 0] or [1.0]
    low, high = min(intensities + [peak / bytes_per_cycle]) / 4, max(intensities + [peak / bytes_per_cycle]) * 4
    xs = [low * (high / low) ** (i / 100) for i in range(101)]
    ax.plot(xs, [min(peak, x * bytes_per_cycle) for x in xs], color="#444", label="roof")
    shown = {name: p for name, p in points.items() if p[0] > 0 and p[1] > 0}
    # one collection for all points (a collection per point made the chart half the report's drawing)
    ax.scatter([p[0] for p in shown.values()], [p[1] for p in shown.values()], s=18,
               c=[f"C{i % 10}" for i in range(len(shown))])
    for name, (intensity, reached) in shown.items():
        ax.annotate(name, (intensity, reached), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # "1000" rather than mathtext's 10^3: parsing TeX takes a second
        axis.set_major_formatter(LogFormatter())
        axis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    ax.set_xlabel("MACs per DDR byte")
    ax.set_ylabel("MACs per cycle")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _svg(fig)


__all__ = ["layer_lines", "roofline_chart", "scale_bars", "share_bars", "utilization_bars"]
