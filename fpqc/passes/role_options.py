"""Pass options that select linear layers by ``fpq.role``: a typo is an error, not a no-op."""

from __future__ import annotations

from collections.abc import Sequence

from fpqc.dialects import fpq
from fpqc.errors import FpqcError


def check_roles(pass_name: str, option: str, values: Sequence[str], *extra: str) -> None:
    """Every value is a role of :data:`fpq.ROLES` (or one of ``extra``, e.g. ``none``)."""
    unknown = [value for value in values if value not in (*fpq.ROLES, *extra)]
    if unknown:
        allowed = ", ".join((*fpq.ROLES, *extra))
        raise FpqcError(
            f"{pass_name}: {option}={','.join(values)} names {', '.join(repr(u) for u in unknown)}, "
            f"which is not a role; roles: {allowed}"
        )
