"""Dead-code elimination of the ONNX graph: the nodes the graph outputs depend on."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from fpqc.frontend.onnx_import import onnx_messages as onnx


def live_nodes_in_order(graph: onnx.GraphProto, resolve: Callable[[str], str]) -> tuple[list[int], set[str]]:
    """Indices of the nodes the outputs depend on, in a deterministic topological order,
    and every name those nodes and the outputs read.

    ``resolve`` maps a value name to the one it stands for (see
    :func:`.class_dropout_aliases`).  Raises ``ValueError`` when the graph has a cycle.
    """
    producers: dict[str, int] = {}
    dataflow = nx.DiGraph()
    for index, node in enumerate(graph.node):
        dataflow.add_node(index)
        for name in node.output:
            if name:
                producers[name] = index
    for index, node in enumerate(graph.node):
        for name in node.input:
            if resolve(name) in producers:
                dataflow.add_edge(producers[resolve(name)], index)
    live: set[int] = set()
    used: set[str] = set()
    for output in graph.output:
        name = resolve(output.name)
        used.add(name)
        if name in producers:
            live |= nx.ancestors(dataflow, producers[name]) | {producers[name]}
    for index in live:
        used.update(resolve(name) for name in graph.node[index].input)
    try:
        return list(nx.lexicographical_topological_sort(dataflow.subgraph(live))), used
    except nx.NetworkXUnfeasible:
        raise ValueError("the graph has a cycle") from None
