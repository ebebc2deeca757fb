"""Compiles the CUDA sources through ``cupy.RawModule`` and launches kernels.

The loader owns the compile options and the cache key: quoted includes of headers in this
folder are inlined before compiling, so the code CuPy hashes (and caches on disk) contains
the headers' text and a header edit recompiles every kernel that uses it.

Kernels are compiled with ``--fmad=false``: no contraction of a * b + c into one rounding,
so float32 results equal the NumPy references bit for bit.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from typing import Any

import numpy as np

from gpu_kernels import KERNEL_DIR

COMPILE_OPTIONS = ("--std=c++17", "--fmad=false")
BLOCK = 256
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.MULTILINE)


def source_text(name: str) -> str:
    """The text of ``name`` with quoted includes of this folder's headers inlined once."""
    seen: set[str] = set()

    def expand(file: str) -> str:
        if file in seen:
            return ""
        seen.add(file)
        text = (KERNEL_DIR / file).read_text()
        text = text.replace("#pragma once", "")
        return _INCLUDE.sub(lambda m: expand(m.group(1)), text)

    return expand(name)


def source_hash(name: str) -> str:
    """SHA-256 of the expanded source and options: the identity of a compiled module."""
    digest = hashlib.sha256(source_text(name).encode())
    digest.update(" ".join(COMPILE_OPTIONS).encode())
    return digest.hexdigest()


@cache
def _module(name: str, digest: str) -> Any:
    import cupy

    return cupy.RawModule(code=source_text(name), options=COMPILE_OPTIONS)


@cache
def get_kernel(file: str, kernel: str) -> Any:
    """The ``cupy.RawKernel`` named ``kernel`` in ``gpu_kernels/<file>``. The sources are
    read and hashed at the first launch of each kernel in a process, not at every launch
    (an edit to a .cu or .cuh file takes effect in the next process)."""
    return _module(file, source_hash(file)).get_function(kernel)


def launch_1d(file: str, kernel: str, n_threads: int, args: tuple[Any, ...]) -> None:
    """Launch ``kernel`` over ``n_threads`` threads in blocks of ``BLOCK``.

    Scalars in ``args`` must already be NumPy scalars of the kernel's C types (CuPy passes
    a Python float as a double and a Python int as a 64-bit integer).
    """
    for value in args:
        if isinstance(value, bool | int | float):
            raise TypeError(f"{kernel}: pass NumPy scalars, not Python {type(value).__name__}")
    if n_threads <= 0:
        return
    blocks = (int(n_threads) + BLOCK - 1) // BLOCK
    get_kernel(file, kernel)((blocks,), (BLOCK,), args)


def check_array(
    name: str,
    array: Any,
    dtype: Any,
    shape: tuple[int, ...] | None = None,
    ndim: int | None = None,
) -> None:
    """Refuse an argument a kernel would misread: not on the device, wrong dtype, wrong
    shape or not C-contiguous."""
    import cupy

    if not isinstance(array, cupy.ndarray):
        raise TypeError(f"{name}: expected a cupy array, got {type(array).__name__}")
    if array.dtype != np.dtype(dtype):
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}, got {array.dtype}")
    if shape is not None and tuple(array.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(array.shape)}")
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got {array.ndim}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name}: must be C-contiguous")
