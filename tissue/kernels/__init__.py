"""Hot paths: each has a NumPy reference and a CUDA launcher with one signature.

Every module here defines ``<op>_numpy`` (the reference and the CPU path),
``<op>_cuda`` (a typed launcher of a kernel in ``gpu_kernels/``) and ``<op>``,
which picks one by the type of the arrays it is given. Tests hold each pair to
each other (tests/parity).
"""

from __future__ import annotations

from typing import Any


def on_device(array: Any) -> bool:
    """True for a CuPy array (checked without importing CuPy)."""
    return type(array).__module__.startswith("cupy")


def array_module(array: Any) -> Any:
    """numpy or cupy, whichever ``array`` belongs to."""
    if on_device(array):
        import cupy

        return cupy
    import numpy

    return numpy


def stable_argsort(array: Any) -> Any:
    """Indices sorting a 1-D array, ties kept in input order, on its backend.

    CuPy's sort is always stable and older CuPy takes no ``kind`` argument.
    """
    if on_device(array):
        return array.argsort()
    import numpy

    return numpy.argsort(array, kind="stable")
