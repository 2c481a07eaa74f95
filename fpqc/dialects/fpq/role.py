"""The ``fpq.role`` attribute: what a linear layer is in a VAR."""

from __future__ import annotations

from xdsl.dialects.builtin import StringAttr
from xdsl.ir import Operation

ROLE_ATTR = "fpq.role"
"""Discardable attribute naming what a linear layer is in a VAR (``{fpq.role = "fc2"}``).

``raise-onnx-to-fpq`` sets it from the graph's structure; the FPQVAR passes
choose their layers by it.  Roles: word_embed, ada_lin, mat_qkv, proj, fc1,
fc2, head_ada_lin, head.
"""


ROLES = ("word_embed", "ada_lin", "mat_qkv", "proj", "fc1", "fc2", "head_ada_lin", "head")
"""Every value ``fpq.role`` takes."""


def role_of(op: Operation) -> str | None:
    """The ``fpq.role`` of ``op``, or None if it has none."""
    role = op.attributes.get(ROLE_ATTR)
    return role.data if isinstance(role, StringAttr) else None
