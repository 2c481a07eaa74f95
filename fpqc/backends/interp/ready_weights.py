"""Quantized weights readied once for every run of a model that uses them.

``fpq.qlinear`` multiplies activation codes by a constant weight's codes.  Before
the product, the weight's codes become exact units laid out group by group and
its scales are put group-major (:func:`fpqc.numerics.products.qlinear_weight`);
for a small layer that readying costs as much as the product itself.  A
generation runs every layer once per scale, each time in a fresh interpreter,
so a model keeps one :class:`ReadyWeights` and hands it to every run::

    ready = ReadyWeights()
    run_function(module, "step_0", args, store, ready=ready)   # readies each weight
    run_function(module, "step_1", args, store, ready=ready)   # reuses them

A weight is found by the identity of its code and scale arrays.  An entry keeps
both arrays, so an identity cannot be taken over by a new array while the entry
lives; the arrays must not be changed in place (a weight store's never are, and
the interpreter's values are immutable).  Only weights of at most
:data:`READY_UP_TO` values are kept -- in a large layer the product outweighs the
readying, and keeping its units would cost memory -- and at most
:data:`READY_BYTES` in all; a weight the compiled layer reads from its codes
(:data:`~fpqc.numerics.products.COMPILED_FROM`) counts as large.  A larger weight met
a second time (a generation's next scale) is kept packed for int8 products where those are exact
(:func:`~fpqc.numerics.products.int8_weight`: a byte a weight, products up to four
times faster, packing as long as one product, so not on a first use), up to
:data:`READY_PACKED_BYTES`.  A kept weight's units are copied into the order its
products read them (``[G, gs, O]``, C order: those products are up to twice as fast
as on :func:`~fpqc.numerics.products.qlinear_weight`'s transposed view, and the copy
is made once); a weight readied at each use stays a view, since copying it would cost
more than the product gains.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fpqc.numerics.formats import Format
from fpqc.numerics.products import QLinearWeight, int8_weight, qlinear_weight

READY_UP_TO = 1 << 20
"""Values of a weight up to which its readied form is kept."""

READY_BYTES = 256 << 20
"""Bytes of readied units and scales a :class:`ReadyWeights` keeps at most; later weights are readied at each use."""

READY_PACKED_BYTES = 1 << 30
"""Bytes of larger weights a :class:`ReadyWeights` keeps packed for int8 products (a byte a weight, and the
scales) at most; later ones are readied at each use."""


class ReadyWeights:
    """Readied weights by the identity of their code and scale arrays (see module docstring)."""

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[np.ndarray, np.ndarray, QLinearWeight]] = {}
        self._bytes = 0
        self._packed_bytes = 0
        self._used_before: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        """large weights met once, not packed yet (their arrays held, so that their ids stay theirs)"""

    def get(self, fa: Format, w_codes: np.ndarray, fb: Format, w_scales: np.ndarray, group_size: int) -> QLinearWeight:
        """:func:`qlinear_weight` of these arguments (``w_scales`` ``[O, g]`` or with more leading axes, as
        ``fpq.qlinear`` takes them), readied now or found from an earlier call."""
        key = (id(w_codes), id(w_scales), fa, fb, group_size)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is w_codes and entry[1] is w_scales:
            return entry[2]
        weight = qlinear_weight(fa, w_codes, fb, np.reshape(w_scales, (-1, np.shape(w_scales)[-1])), group_size)
        large = np.size(w_codes) > READY_UP_TO or weight.units is None  # the latter read from its codes
        if not large and self._bytes + weight.units.nbytes + weight.scales.nbytes <= READY_BYTES:
            weight = replace(weight, units=np.ascontiguousarray(weight.units))
            self._entries[key] = (w_codes, w_scales, weight)
            self._bytes += weight.units.nbytes + weight.scales.nbytes
        elif large:
            if self._used_before.pop(key, None) is None:  # a first use: readied for it alone
                self._used_before[key] = (w_codes, w_scales)
            elif self._packed_bytes + np.size(w_codes) <= READY_PACKED_BYTES and (packed := int8_weight(weight)):
                weight = packed
                self._entries[key] = (w_codes, w_scales, weight)
                self._packed_bytes += np.size(w_codes) + weight.scales.nbytes
        return weight
