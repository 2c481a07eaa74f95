"""A kernel's dataflow pipeline drawn as SVG: stages as boxes, streams as arrows.

Input: :func:`fpqc.analysis.pipeline_graph.pipeline_graph`'s dict.  Stages are
laid out in their plan order, left to right in rows of ``per_row`` (the order
a token row flows through them); each stage's colour is its kind.  A stream
between neighbours is a straight arrow; a stream that skips stages (a
residual's input, a KV-cache write) is an arc above the boxes, labelled with
its width in bits and FIFO depth.
"""

from __future__ import annotations

from html import escape

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 128, 38, 34, 58, 16

KIND_COLOURS = {
    "load": "#d6eaf8", "write": "#d6eaf8", "quantize": "#fdebd0", "lut_multiply": "#f9e79f",
    "combine": "#f9e79f", "attention": "#e8daef", "normalize": "#d5f5e3",
    "elementwise": "#d5f5e3", "transform": "#fadbd8",
}


def pipeline_svg(graph: dict, per_row: int = 6) -> str:
    """The SVG of one kernel's pipeline (see module docstring)."""
    stages = graph["stages"]
    position = {}
    for i, stage in enumerate(stages):
        row, col = divmod(i, per_row)
        position[stage["name"]] = (MARGIN + col * (BOX_W + GAP_X), MARGIN + 24 + row * (BOX_H + GAP_Y))
    rows = (len(stages) + per_row - 1) // per_row
    width = MARGIN * 2 + per_row * BOX_W + (per_row - 1) * GAP_X
    height = MARGIN * 2 + 24 + rows * (BOX_H + GAP_Y)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10" role="img">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
    ]
    order = {s["name"]: i for i, s in enumerate(stages)}
    for stream in graph["streams"]:
        if stream["from"] not in position or stream["to"] not in position:
            continue
        parts.append(_arrow(stream, position, order))
    for stage in stages:
        x, y = position[stage["name"]]
        colour = KIND_COLOURS.get(stage["kind"], "#eeeeee")
        parts.append(
            f'<g><title>{escape(stage["name"])}: {escape(stage["kind"])}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5" fill="{colour}" stroke="#555"/>'
            f'<text x="{x + BOX_W / 2}" y="{y + 15}" text-anchor="middle">{escape(_short(stage["name"]))}</text>'
            f'<text x="{x + BOX_W / 2}" y="{y + 29}" text-anchor="middle" fill="#555">'
            f'{stage["index"]}: {escape(stage["kind"])}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _short(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _arrow(stream: dict, position: dict, order: dict) -> str:
    (x0, y0), (x1, y1) = position[stream["from"]], position[stream["to"]]
    label = f'{escape(stream["name"])}: {stream["width"]} bits, depth {stream["depth"]}'
    adjacent = order[stream["to"]] == order[stream["from"]] + 1
    if adjacent and y0 == y1:
        path = f"M{x0 + BOX_W},{y0 + BOX_H / 2} L{x1},{y1 + BOX_H / 2}"
    elif adjacent:  # wraps to the next row
        path = f"M{x0 + BOX_W / 2},{y0 + BOX_H} C{x0 + BOX_W / 2},{y0 + BOX_H + GAP_Y / 2} " \
               f"{x1 + BOX_W / 2},{y1 - GAP_Y / 2} {x1 + BOX_W / 2},{y1}"
    else:  # skips stages: an arc above the boxes
        lift = 18 + 4 * min(order[stream["to"]] - order[stream["from"]], 6)
        path = f"M{x0 + BOX_W / 2},{y0} C{x0 + BOX_W / 2},{y0 - lift} {x1 + BOX_W / 2},{y1 - lift} " \
               f"{x1 + BOX_W / 2},{y1}"
    dash = "" if adjacent else ' stroke-dasharray="4 3"'
    return (
        f'<path d="{path}" fill="none" stroke="#555" stroke-width="1.2"{dash} marker-end="url(#arrow)">'
        f"<title>{label}</title></path>"
    )


__all__ = ["pipeline_svg"]
