"""The dataflow graph of a list of ops, as a networkx multigraph."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
from xdsl.ir import Operation


def dataflow_graph(ops: Sequence[Operation]) -> nx.MultiDiGraph:
    """``ops`` as nodes, an edge ``producer → user`` per use keyed by the operand index.

    Only producers among ``ops`` give edges: uses of block arguments and of
    ops outside ``ops`` are not in the graph.
    """
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(ops)
    for op in ops:
        for index, operand in enumerate(op.operands):
            if isinstance(operand.owner, Operation) and operand.owner in graph:
                graph.add_edge(operand.owner, op, key=index)
    return graph
