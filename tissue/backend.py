"""One code path for CPU and GPU: a `Backend` carries the array module.

Rule logic is written once against ``backend.xp`` (NumPy or CuPy). Only the GPU
backend imports CuPy, so the CPU path works on machines without CUDA.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
from dataclasses import dataclass, field
from functools import cache, cached_property
from types import ModuleType
from typing import Any, Literal

import numpy as np

from tissue.errors import InputError

BackendName = Literal["auto", "cpu", "gpu"]


@dataclass(frozen=True)
class Backend:
    """An array module and the device it runs on.

    Attributes:
        name: ``"cpu"`` (NumPy) or ``"gpu"`` (CuPy).
        xp: the array module; rule code calls ``backend.xp.<function>``.
    """

    name: Literal["cpu", "gpu"]
    xp: ModuleType = field(repr=False)

    @property
    def is_gpu(self) -> bool:
        return self.name == "gpu"

    def asarray(self, array: Any, dtype: Any = None) -> Any:
        """Copy or move ``array`` onto this backend (the one door host -> device)."""
        return self.xp.asarray(array, dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        """Bring a backend array to the host as a NumPy array (the one door back)."""
        return to_numpy(array)

    def synchronize(self) -> None:
        """Wait for queued device work (no-op on the CPU)."""
        if self.is_gpu:
            self.xp.cuda.get_current_stream().synchronize()

    @cached_property
    def device_name(self) -> str:
        if not self.is_gpu:
            return "cpu"
        props = self.xp.cuda.runtime.getDeviceProperties(self.xp.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def memory_bytes(self) -> int | None:
        """Total device memory in bytes, or None on the CPU."""
        if not self.is_gpu:
            return None
        return int(self.xp.cuda.Device().mem_info[1])


def to_numpy(array: Any) -> np.ndarray:
    """Host copy of a NumPy or CuPy array (NumPy arrays pass through; an array type with
    ``get``, such as CuPy's, is copied by it)."""
    if type(array) is np.ndarray:
        return array
    if hasattr(array, "get"):
        return array.get()
    return np.asarray(array)


class Pending:
    """A host copy of a backend array that may still be on its way (see :func:`read_later`)."""

    def __init__(self, host: np.ndarray, event: Any = None) -> None:
        self._host = host
        self._event = event

    def value(self) -> np.ndarray:
        """The copy (waits for it only if the device has not yet reached it)."""
        if self._event is not None:
            self._event.synchronize()
            self._event = None
        return self._host


def read_later(xp: Any, array: Any) -> Pending:
    """Start copying ``array`` to the host without waiting: on CuPy an asynchronous copy
    into pinned memory on the current stream, with an event recorded after it; elsewhere
    a copy now. An array module with its own ``read_later`` (the test suite's sync guard)
    is asked instead."""
    hook = getattr(xp, "read_later", None)
    if hook is not None:
        return hook(array)
    if type(array).__module__.startswith("cupy"):
        import cupy
        import cupyx

        host = cupyx.empty_pinned(array.shape, dtype=array.dtype)
        cupy.asnumpy(array, out=host, blocking=False)
        event = cupy.cuda.Event(block=False, disable_timing=True)
        event.record()
        return Pending(host, event)
    return Pending(np.array(array, copy=True))


def cupy_device_count() -> int:
    """Number of CUDA devices CuPy sees; 0 when CuPy is absent or sees none.

    Imports CuPy only if it is installed, so a CPU-only machine never loads it.
    """
    if importlib.util.find_spec("cupy") is None:
        return 0
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


@cache
def tune_host_allocator() -> bool:
    """Keep large NumPy temporaries in the heap instead of fresh mmaps (glibc only).

    The CPU path makes many short-lived arrays of a few hundred kB to MBs per step; above
    glibc's default mmap threshold each one is mapped, zero-filled by page faults and
    unmapped again, which cost a third of the demo's time as system time. Raising the mmap
    threshold to its maximum (32 MiB) and the trim threshold lets the heap reuse the memory.
    Returns whether the settings were applied.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, 32 * 2**20) == 1
    return ok and mallopt(m_trim_threshold, 512 * 2**20) == 1


def get_backend(name: BackendName | Backend = "auto") -> Backend:
    """Build the backend named ``auto`` (GPU if CuPy sees a device), ``cpu`` or ``gpu``."""
    if isinstance(name, Backend):
        return name
    if name == "cpu" or (name == "auto" and cupy_device_count() == 0):
        tune_host_allocator()
        return Backend("cpu", np)
    if name == "auto":
        return get_backend("gpu")
    if name == "gpu":
        if importlib.util.find_spec("cupy") is None:
            raise InputError(
                "--backend", "gpu", "CuPy is not installed (pip install 'tissue[gpu]'); use cpu"
            )
        if cupy_device_count() == 0:
            raise InputError("--backend", "gpu", "CuPy sees no CUDA device; use cpu or auto")
        import cupy

        return Backend("gpu", cupy)
    raise InputError("--backend", str(name), "allowed: auto, cpu, gpu")
