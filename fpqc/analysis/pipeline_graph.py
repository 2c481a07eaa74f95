"""Each kernel's dataflow pipeline as plain data: :func:`pipeline_graphs`.

Reads the ``hls.stage`` and ``hls.stream`` entries the ``tile`` pass put in
every kernel's ``hls.plan`` and returns them as JSON-ready dicts, so the
report can draw the pipeline without the IR::

    hls.stage 1 "layernorm0" normalize %0
    hls.stream "layernorm0>modulate0" of %0 from "layernorm0" to "modulate0" width 512 depth 2

becomes::

    {"stages": [{"index": 1, "name": "layernorm0", "kind": "normalize"}, ...],
     "streams": [{"name": "layernorm0>modulate0", "from": "layernorm0", "to": "modulate0",
                  "width": 512, "depth": 2}, ...]}
"""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp

from fpqc.dialects import hls


def pipeline_graph(kernel: hls.KernelOp) -> dict | None:
    """The stages and streams of one kernel's plan; None for a kernel without a plan."""
    plan = hls.plan_of(kernel)
    if plan is None:
        return None
    stages = sorted(plan.entries_of(hls.StageOp), key=lambda s: s.index.value.data)
    return {
        "stages": [{"index": s.index.value.data, "name": s.stage_name.data, "kind": s.kind.data.value}
                   for s in stages],
        "streams": [
            {"name": s.stream_name.data, "from": s.from_stage.data, "to": s.to_stage.data,
             "width": s.width.value.data, "depth": s.depth.value.data}
            for s in plan.entries_of(hls.StreamOp)
        ],
    }


def pipeline_graphs(module: ModuleOp) -> dict[str, dict]:
    """:func:`pipeline_graph` of every planned kernel, by kernel name."""
    graphs = {}
    for kernel in module.ops:
        if isinstance(kernel, hls.KernelOp) and (graph := pipeline_graph(kernel)) is not None:
            graphs[kernel.sym_name.data] = graph
    return graphs


__all__ = ["pipeline_graph", "pipeline_graphs"]
