"""Weights live outside the IR.

Large tensors are referenced from the IR by name with MLIR's
``dense_resource<key> : tensor<...>`` attribute; the numpy arrays behind the
names are held by a :class:`WeightStore`.  Printing, verifying and rewriting
IR therefore costs the same whatever the weight count.  Small constants may
also be inline ``dense<...>`` attributes; :func:`resolve` reads both kinds.

The store that passes and the interpreter use is the *active* one, set with
``with store.activate(): ...`` (``fpqc compile`` and ``fpqc-opt --weights``
do this).

Example::

    store = WeightStore()
    attr = store.add("fc1.weight", np.zeros((4, 8), np.float32))
    # attr prints as: dense_resource<fc1.weight> : tensor<4x8xf32>
    with store.activate():
        array = resolve(attr)
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    TensorType,
)
from xdsl.ir import Attribute

from fpqc.dialects.onnx import dense_array
from fpqc.dialects.tensor_types import tensor_type_of
from fpqc.errors import FpqcError
from fpqc.files.npz import read_npz

INLINE_LIMIT = 16
"""Constants with at most this many elements are inline ``dense<...>`` in the IR."""

_ACTIVE: contextvars.ContextVar[WeightStore | None] = contextvars.ContextVar(
    "fpqc_active_weight_store", default=None
)
_INVALID_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.$]")


class WeightStore:
    """Named numpy arrays that IR refers to with ``dense_resource<key>``."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._arrays

    def __len__(self) -> int:
        return len(self._arrays)

    def keys(self) -> list[str]:
        """The keys, in the order the arrays were added."""
        return list(self._arrays)

    def get(self, key: str) -> np.ndarray:
        """The array under ``key``; an :class:`FpqcError` when there is none."""
        try:
            return self._arrays[key]
        except KeyError:
            raise FpqcError(
                f"weight '{key}' is referenced by the IR but not in the weight store"
            ) from None

    def unique_key(self, hint: str) -> str:
        """A key valid as an MLIR identifier, derived from ``hint``, not yet used."""
        key = _INVALID_KEY_CHARS.sub("_", hint.strip("/")) or "w"
        if not (key[0].isalpha() or key[0] == "_"):
            key = "_" + key
        candidate, n = key, 1
        while candidate in self._arrays:
            candidate = f"{key}_{n}"
            n += 1
        return candidate

    def add(self, hint: str, array: np.ndarray) -> DenseResourceAttr:
        """Store ``array`` under a fresh key derived from ``hint``; return its IR reference."""
        key = self.unique_key(hint)
        self._arrays[key] = array
        return DenseResourceAttr.from_params(key, tensor_type_of(array))

    def subset(self, keys: Iterable[str]) -> WeightStore:
        """A store of the arrays under ``keys``, in that order (shared, not copied)."""
        store = WeightStore()
        for key in keys:
            store._arrays[key] = self.get(key)
        return store

    def save(self, path: Path) -> None:
        """Write every array to an ``.npz`` file (keys are the resource names)."""
        with open(path, "wb") as f:
            np.savez(f, **self._arrays)

    @staticmethod
    def load(path: Path) -> WeightStore:
        """The store saved in the ``.npz`` file ``path`` (see :meth:`save`)."""
        store = WeightStore()
        store._arrays = read_npz(path, "weights")
        return store

    @contextlib.contextmanager
    def activate(self) -> Iterator[WeightStore]:
        """Make this the active store for the ``with`` block."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)


def active_store() -> WeightStore:
    """The active store; an :class:`FpqcError` telling how to load one when none is."""
    store = _ACTIVE.get()
    if store is None:
        raise FpqcError(
            "the IR refers to external weights (dense_resource) but no weight store "
            "is loaded; pass --weights FILE.npz"
        )
    return store


def resolve(attr: Attribute) -> np.ndarray:
    """The numpy value of an inline ``dense<...>`` or a ``dense_resource<...>`` attribute."""
    if isinstance(attr, DenseResourceAttr):
        array = active_store().get(attr.resource_handle.data)
        expected = attr.get_type()
        assert isinstance(expected, TensorType)
        if tuple(array.shape) != expected.get_shape():
            raise FpqcError(
                f"weight '{attr.resource_handle.data}' has shape {array.shape}, "
                f"the IR expects {expected.get_shape()}"
            )
        return array
    if isinstance(attr, DenseIntOrFPElementsAttr):
        return dense_array(attr)
    raise FpqcError(f"expected a dense or dense_resource attribute, got {attr}")


def materialize(hint: str, array: np.ndarray, inline_limit: int = 0) -> Attribute:
    """An attribute holding ``array``: inline when small, else a reference in the active store.

    Arrays with at most ``inline_limit`` elements, or any array when no store is
    active (as in ``fpqc-opt`` on a self-contained test file), become ``dense<...>``.
    """
    store = _ACTIVE.get()
    if store is None or array.size <= inline_limit:
        return dense_attr(array)
    return store.add(hint, array)


def dense_attr(array: np.ndarray) -> DenseIntOrFPElementsAttr:
    """``array`` as an inline ``dense<...>`` attribute."""
    tensor_type = tensor_type_of(array)
    return DenseIntOrFPElementsAttr.from_list(tensor_type, array.ravel().tolist())
