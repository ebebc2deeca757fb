"""An instrumented array module that counts device-to-host synchronisations on the CPU.

:class:`SyncGuard` is a stand-in for ``xp``: NumPy underneath, but its arrays are
:class:`GuardArray` views that record every operation which, on a GPU, would wait for the
device and copy data back to the host:

- conversions of values to Python: ``__bool__``, ``__int__``, ``__float__``, ``__index__``,
  ``.item()``, ``.tolist()``, ``.get()`` (the host copy :func:`tissue.backend.to_numpy`
  takes);
- reads of a copy started earlier (:func:`tissue.backend.read_later`), as ``lagged``;
- operations whose output size depends on the data: ``nonzero``, ``flatnonzero``,
  ``argwhere``, ``unique``, ``compress``, ``extract``, one-argument ``where``, ``repeat``
  with per-element counts, ``bincount`` (CuPy checks the minimum and maximum on the host),
  and boolean-mask indexing ``a[mask]`` and assignment ``a[mask] = value``.

It also counts array operations (``launches``), each one kernel launch on a GPU (or a copy to
the device): a ufunc call or reduction, a module function (``zeros``, ``where``, ``stack``,
..., one whatever NumPy calls inside it), ``astype``, ``copy``, ``take``, ``argsort``,
``cumsum``, indexing with index arrays, any assignment into an array, and the NumPy reference
of a CUDA kernel. Allocations without a fill (``empty``), views and reshapes count none. The
count is an estimate of a device's launches: CuPy's sorts and scans are a few launches each,
counted as one.

Each event is recorded as ``(phase, kind, site)``: ``site`` is ``file:function`` of the
innermost frame in the ``tissue`` package (outside ``tissue/backend.py``, whose
``to_numpy`` is the door every read goes through), ``phase`` a label the caller sets with
:meth:`SyncGuard.phase`. Code inside :meth:`SyncGuard.kernel` (NumPy references of CUDA
kernels, which run on the device without host round trips) is not counted.
"""

from __future__ import annotations

import functools
import sys
import types
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

import tissue

PACKAGE = Path(tissue.__file__).resolve().parent
ROOT = PACKAGE.parent
DOOR = PACKAGE / "backend.py"  # to_numpy: a read is its caller's
ALLOCATES = {"empty", "empty_like"}  # no launch: memory only
SIZED_BY_DATA = {"nonzero", "flatnonzero", "argwhere", "unique", "compress", "extract"}


class GuardArray(np.ndarray):
    """A NumPy array whose host conversions are recorded by the active :class:`SyncGuard`."""

    guard: SyncGuard | None = None

    def __array_wrap__(self, obj: Any, context: Any = None, return_scalar: bool = False) -> Any:
        # keep 0-d results as arrays so that a later int()/float()/bool() is seen
        return np.asarray(obj).view(GuardArray)

    def _sync(self, kind: str) -> None:
        if GuardArray.guard is not None:
            GuardArray.guard.record(kind)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        with _launch("ufunc"):
            if out is not None:
                kwargs["out"] = tuple(_plain(o) for o in out)
            result = getattr(ufunc, method)(*(_plain(i) for i in inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return wrap(result)

    def astype(self, *args: Any, **kwargs: Any) -> Any:
        with _launch("astype"):
            return wrap(self.view(np.ndarray).astype(*args, **kwargs))

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        with _launch("copy"):
            return wrap(self.view(np.ndarray).copy(*args, **kwargs))

    def take(self, *args: Any, **kwargs: Any) -> Any:
        with _launch("take"):
            return wrap(self.view(np.ndarray).take(*(_plain(a) for a in args), **kwargs))

    def argsort(self, *args: Any, **kwargs: Any) -> Any:
        with _launch("argsort"):
            return wrap(self.view(np.ndarray).argsort(*args, **kwargs))

    def cumsum(self, *args: Any, **kwargs: Any) -> Any:
        with _launch("cumsum"):
            return wrap(self.view(np.ndarray).cumsum(*args, **kwargs))

    def fill(self, value: Any) -> None:
        with _launch("fill"):
            self.view(np.ndarray).fill(value)

    def __bool__(self) -> bool:
        self._sync("bool")
        return bool(self.view(np.ndarray))

    def __int__(self) -> int:
        self._sync("int")
        return int(self.view(np.ndarray))

    def __float__(self) -> float:
        self._sync("float")
        return float(self.view(np.ndarray))

    def __index__(self) -> int:
        self._sync("index")
        return self.view(np.ndarray).__index__()

    def item(self, *args: Any) -> Any:
        self._sync("item")
        return self.view(np.ndarray).item(*args)

    def tolist(self) -> Any:
        self._sync("tolist")
        return self.view(np.ndarray).tolist()

    def get(self) -> np.ndarray:
        """Host copy, as CuPy's ``get`` (a device-to-host copy)."""
        self._sync("get")
        return self.view(np.ndarray).copy()

    def nonzero(self) -> tuple[Any, ...]:
        self._sync("nonzero")
        return tuple(wrap(a) for a in self.view(np.ndarray).nonzero())

    def __getitem__(self, key: Any) -> Any:
        if _has_mask(key):
            self._sync("mask-index")
        if not _has_index_array(key):
            return wrap(np.ndarray.__getitem__(self, _plain(key)))
        with _launch("gather"):
            return wrap(np.ndarray.__getitem__(self, _plain(key)))

    def __setitem__(self, key: Any, value: Any) -> None:
        if _has_mask(key):  # CuPy counts the mask's True values on the host first
            self._sync("mask-assign")
        with _launch("assign"):
            np.ndarray.__setitem__(self, _plain(key), _plain(value))


@contextmanager
def _launch(kind: str) -> Iterator[None]:
    """One launch of ``kind`` for the active guard, none for the operations inside."""
    guard = GuardArray.guard
    if guard is None:
        yield
        return
    guard.launch(kind)
    guard._inside += 1
    try:
        yield
    finally:
        guard._inside -= 1


def _keys(key: Any) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)


def _has_mask(key: Any) -> bool:
    return any(isinstance(k, np.ndarray) and k.dtype == np.bool_ for k in _keys(key))


@functools.cache
def _in_package(filename: str) -> str | None:
    """A code file's path from the repository root if it is in the package (not the door)."""
    path = Path(filename).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(PACKAGE) and path != DOOR else None


def _launches(name: str, args: tuple[Any, ...]) -> bool:
    """Whether module function ``name`` launches work: not an allocation, nor ``asarray``
    of what is already on the device."""
    if name in ALLOCATES or name.startswith(
        ("is", "result_type", "promote", "can_cast", "ndim", "shape", "dtype", "iinfo", "finfo")
    ):
        return False
    if name in ("asarray", "ascontiguousarray", "asanyarray"):
        return not (args and isinstance(args[0], GuardArray))
    return True


def _has_index_array(key: Any) -> bool:
    return any(isinstance(k, (np.ndarray, list)) for k in _keys(key))


def _plain(key: Any) -> Any:
    """Index arrays as plain ndarrays (NumPy would call ``__index__`` on 0-d ones)."""
    if isinstance(key, tuple):
        return tuple(_plain(k) for k in key)
    return key.view(np.ndarray) if isinstance(key, GuardArray) else key


def wrap(value: Any) -> Any:
    """NumPy arrays and scalars (also in tuples and lists) as :class:`GuardArray`."""
    if isinstance(value, (np.ndarray, np.generic)) and not isinstance(value, GuardArray):
        return np.asarray(value).view(GuardArray)
    if isinstance(value, (tuple, list)):
        return type(value)(wrap(v) for v in value)
    return value


class SyncGuard(types.ModuleType):
    """NumPy as an array module that records host synchronisations (see module doc).

    Attributes:
        events: (phase, kind, site) of every synchronisation recorded.
    """

    def __init__(self) -> None:
        super().__init__("syncguard")
        self.events: list[tuple[str, str, str]] = []
        self.launches: Counter[tuple[str, str, str]] = Counter()  # (phase, kind, site)
        self._phase = "setup"
        self._quiet = 0
        self._inside = 0  # depth inside a counted operation: launches inside are its own

    def __getattr__(self, name: str) -> Any:
        value = getattr(np, name)
        if not callable(value) or isinstance(value, type) or name.startswith("_"):
            return value
        return self._wrapped(name, value)

    def _wrapped(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with _launch(name) if _launches(name, args) else nullcontext():
                if not self._sized_by_data(name, args, kwargs):
                    return wrap(function(*args, **kwargs))
                self.record(name)
                with self.kernel():  # one event, not another for the method NumPy calls
                    return wrap(function(*args, **kwargs))

        return call

    @staticmethod
    def _sized_by_data(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        if name in SIZED_BY_DATA or name == "bincount":
            return True
        if name == "where":
            return len(args) + len(kwargs) == 1
        if name == "repeat":
            counts = args[1] if len(args) > 1 else kwargs.get("repeats")
            return np.ndim(counts) > 0
        return False

    def record(self, kind: str) -> None:
        """Record a synchronisation of ``kind`` at the innermost ``tissue`` frame."""
        if self._quiet:
            return
        self.events.append((self._phase, kind, self._site(sys._getframe(1))))

    @staticmethod
    def _site(frame: Any) -> str:
        """``file:function`` of the innermost frame from ``frame`` out in the package."""
        while frame is not None:
            path = _in_package(frame.f_code.co_filename)
            if path is not None:
                return f"{path}:{frame.f_code.co_name}"
            frame = frame.f_back
        return "?"

    def launch(self, kind: str) -> None:
        """Count one launch of ``kind`` at the innermost ``tissue`` frame (none inside a
        counted operation or a kernel's reference)."""
        if self._quiet or self._inside:
            return
        self.launches[(self._phase, kind, self._site(sys._getframe(1)))] += 1

    def launch_counts(self, phase: str) -> Counter[str]:
        """``site`` -> launches of ``phase``."""
        out: Counter[str] = Counter()
        for (p, _, site), n in self.launches.items():
            if p == phase:
                out[site] += n
        return out

    @contextmanager
    def phase(self, label: str) -> Iterator[None]:
        """Attribute the events inside to ``label`` (nested phases restore the outer one)."""
        outer, self._phase = self._phase, label
        try:
            yield
        finally:
            self._phase = outer

    @contextmanager
    def kernel(self) -> Iterator[None]:
        """Count nothing inside: a NumPy reference of a device kernel runs here."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    @contextmanager
    def active(self) -> Iterator[SyncGuard]:
        """Make this guard the one :class:`GuardArray` reports to."""
        outer, GuardArray.guard = GuardArray.guard, self
        try:
            yield self
        finally:
            GuardArray.guard = outer

    def read_later(self, array: Any) -> Any:
        """:func:`tissue.backend.read_later` on this module: its ``value()`` is recorded
        as a ``lagged`` read (on a GPU, of a copy started earlier that waits for nothing
        when the device has passed it)."""
        guard, host = self, np.array(array.view(np.ndarray), copy=True)

        class Lagged:
            def value(self) -> np.ndarray:
                guard.record("lagged")
                return host

        return Lagged()

    def sites(self, phase: str) -> Counter[str]:
        """``kind@site`` -> count of the events of ``phase``."""
        return Counter(f"{kind}@{site}" for p, kind, site in self.events if p == phase)

    def as_kernel(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` run inside :meth:`kernel`, its array results wrapped."""

        def call(*args: Any, **kwargs: Any) -> Any:
            self.launch("kernel")
            with self.kernel():
                return wrap(function(*args, **kwargs))

        return call
