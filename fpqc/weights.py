"""Weights live outside the IR.

Large tensors are referenced from the IR by name with MLIR's
``dense_resource<key> : tensor<...>`` attribute; the numpy arrays behind the
names are held by a :class:`WeightStore`.  Printing, verifying and rewriting
IR therefore costs the same whatever the weight count.  Small constants may
also be inline ``dense<...>`` attributes; :func:`resolve` reads both kinds.

The store that passes and the interpreter use is the *active* one, set with
``with store.activate(): ...`` (``fpqc compile`` and ``fpqc-opt --weights``
do this).

An entry is a numpy array or a :class:`LazyWeight`: a weight whose shape and
dtype are known now and whose values are computed when read -- ONNX external
data memory-mapped on each read, a transposed or folded weight computed from
another.  A compile thus holds a weight in memory only while a pass or the
build writer reads it, never the whole model at once.  Readers:

* :meth:`WeightStore.get` -- the value in C order.  A computed value is kept
  for the next read, unless the store is *streaming* (``fpqc compile``'s):
  then it is computed again on every read and held by nobody afterwards.
* :meth:`WeightStore.view` -- the value in whatever memory order it is
  computed in (a transposed weight is a transposed view), never kept: for a
  reader that reads the weight once and does not care about its layout.

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
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    TensorType,
)
from xdsl.ir import Attribute

from fpqc.dialects.onnx import dense_array
from fpqc.dialects.tensor_types import tensor_type_of
from fpqc.errors import FpqcError
from fpqc.files.npz import read_npz, write_npz_members

INLINE_LIMIT = 16
"""Constants with at most this many elements are inline ``dense<...>`` in the IR."""

_ACTIVE: contextvars.ContextVar[WeightStore | None] = contextvars.ContextVar(
    "fpqc_active_weight_store", default=None
)
_INVALID_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.$]")


class LazyWeight:
    """A weight whose values are computed when it is read (see the module docstring).

    ``compute()`` returns an array of ``shape`` and ``dtype`` in any memory order.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, compute: Callable[[], np.ndarray]) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self._compute = compute

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def compute(self) -> np.ndarray:
        array = self._compute()
        assert array.shape == self.shape and array.dtype == self.dtype, (array.shape, array.dtype, self.shape)
        return array


Entry = np.ndarray | LazyWeight


def lazy_results(compute: Callable[[], tuple[np.ndarray, ...]],
                 specs: Iterable[tuple[tuple[int, ...], np.dtype]]) -> list[LazyWeight]:
    """Lazy weights of the arrays ``compute()`` returns (a weight's codes and its scales), one per
    ``(shape, dtype)`` of ``specs``: ``compute`` runs on the first read of any of them, once
    whatever the thread, and its arrays are kept for the others' reads (and later ones)."""
    lock = threading.Lock()
    results: list[tuple[np.ndarray, ...]] = []

    def once() -> tuple[np.ndarray, ...]:
        with lock:
            if not results:
                results.append(compute())
            return results[0]

    return [LazyWeight(shape, dtype, lambda i=i: once()[i]) for i, (shape, dtype) in enumerate(specs)]


def read_entry(entry: Entry) -> np.ndarray:
    """The values of a store entry, in any memory order (a lazy weight is computed now)."""
    return entry.compute() if isinstance(entry, LazyWeight) else entry


class WeightStore:
    """Named weights that IR refers to with ``dense_resource<key>``: arrays or lazy weights.

    ``streaming``: :meth:`get` computes a lazy weight on every read instead of keeping it.
    """

    def __init__(self, streaming: bool = False) -> None:
        self._arrays: dict[str, Entry] = {}
        self.streaming = streaming

    def __contains__(self, key: str) -> bool:
        return key in self._arrays

    def __len__(self) -> int:
        return len(self._arrays)

    def keys(self) -> list[str]:
        """The keys, in the order the arrays were added."""
        return list(self._arrays)

    def entry(self, key: str) -> Entry:
        """The array or lazy weight under ``key`` (nothing is computed); :class:`FpqcError` when there is none."""
        try:
            return self._arrays[key]
        except KeyError:
            raise FpqcError(
                f"weight '{key}' is referenced by the IR but not in the weight store"
            ) from None

    def get(self, key: str) -> np.ndarray:
        """The array under ``key`` in C order, computed now if it is lazy (kept unless streaming)."""
        entry = self.entry(key)
        if not isinstance(entry, LazyWeight):
            return entry
        array = np.ascontiguousarray(entry.compute())
        if not self.streaming:
            self._arrays[key] = array
        return array

    def view(self, key: str) -> np.ndarray:
        """The array under ``key`` in any memory order, computed now if it is lazy and never kept."""
        return read_entry(self.entry(key))

    def nbytes(self, key: str) -> int:
        """Bytes of the weight under ``key``, without computing it."""
        return self.entry(key).nbytes

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

    def add(self, hint: str, array: Entry) -> DenseResourceAttr:
        """Store ``array`` (or a lazy weight) under a fresh key derived from ``hint``; return its IR reference."""
        key = self.unique_key(hint)
        self._arrays[key] = array
        return DenseResourceAttr.from_params(key, tensor_type_of(array))

    def subset(self, keys: Iterable[str]) -> WeightStore:
        """A store of the entries under ``keys``, in that order (shared, not copied or computed)."""
        store = WeightStore(self.streaming)
        for key in keys:
            store._arrays[key] = self.entry(key)
        return store

    def save(self, path: Path) -> None:
        """Write every weight to an ``.npz`` file (keys are the resource names), one in memory at a time."""
        total = sum(entry.nbytes for entry in self._arrays.values())
        with open(path, "wb") as f, tqdm(total=total, desc=path.name, unit="B", unit_scale=True, disable=None,
                                         leave=False) as bar:
            write_npz_members(f, ((key, lambda key=key: self._written(key, bar)) for key in self._arrays))

    def _written(self, key: str, bar: tqdm) -> np.ndarray:
        bar.update(self.nbytes(key))
        return self.view(key)

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
    entry = resolve_entry(attr)
    return active_store().get(attr.resource_handle.data) if isinstance(entry, LazyWeight) else entry


def resolve_entry(attr: Attribute) -> Entry:
    """Like :func:`resolve`, but a lazy weight in the store is returned as it is, not computed."""
    if isinstance(attr, DenseResourceAttr):
        key = attr.resource_handle.data
        entry = active_store().entry(key)
        expected = attr.get_type()
        assert isinstance(expected, TensorType)
        if tuple(entry.shape) != expected.get_shape():
            raise FpqcError(f"weight '{key}' has shape {entry.shape}, the IR expects {expected.get_shape()}")
        return entry
    if isinstance(attr, DenseIntOrFPElementsAttr):
        return dense_array(attr)
    raise FpqcError(f"expected a dense or dense_resource attribute, got {attr}")


def materialize(hint: str, array: Entry, inline_limit: int = 0) -> Attribute:
    """An attribute holding ``array`` (or a lazy weight): inline when small, else a reference in the active store.

    Arrays with at most ``inline_limit`` elements, or any array when no store is
    active (as in ``fpqc-opt`` on a self-contained test file), become ``dense<...>``
    (a lazy weight is computed for it).
    """
    store = _ACTIVE.get()
    if store is None or array.size <= inline_limit:
        return dense_attr(np.ascontiguousarray(read_entry(array)))
    return store.add(hint, array)


def dense_attr(array: np.ndarray) -> DenseIntOrFPElementsAttr:
    """``array`` as an inline ``dense<...>`` attribute."""
    tensor_type = tensor_type_of(array)
    return DenseIntOrFPElementsAttr.from_list(tensor_type, array.ravel().tolist())
