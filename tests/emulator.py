"""Run the CUDA kernels on the host: each .cu compiled by a C++ compiler with a shim.

The kernels use no shared memory, barriers or atomics, so one host loop over every thread
of the launch (padding included) runs them exactly as the GPU would, thread by thread.
Built with -ffp-contract=off and without fast-math, float32 arithmetic is IEEE like the
GPU's with --fmad=false, so results must equal the NumPy references bit for bit.

This checks the kernels' logic, indexing and the launchers' argument lists and scalar
types without a GPU; it says nothing about memory behaviour or speed on a device.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from gpu_kernels.loader import BLOCK, source_text

CXX = shutil.which("g++") or shutil.which("c++")

SHIM = r"""
#include <math.h>
struct Dim3 { unsigned int x, y, z; };
static Dim3 blockIdx, threadIdx, blockDim;
#define __global__
#define __device__
#define __forceinline__ inline
static inline unsigned int __umulhi(unsigned int a, unsigned int b) {
  return (unsigned int)(((unsigned long long)a * b) >> 32);
}
"""
_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)


def _launcher(name: str, params: str) -> str:
    names = [p.strip().split()[-1].lstrip("*") for p in params.split(",")]
    return (
        f'extern "C" void launch_{name}(long long n_threads, {params}) {{\n'
        f"  blockDim.x = {BLOCK};\n"
        "  for (long long t = 0; t < n_threads; ++t) {\n"
        f"    blockIdx.x = (unsigned int)(t / {BLOCK});\n"
        f"    threadIdx.x = (unsigned int)(t % {BLOCK});\n"
        f"    {name}({', '.join(names)});\n"
        "  }\n}\n"
    )


@cache
def library(file: str) -> ctypes.CDLL:
    """The host build of gpu_kernels/<file>, with a launch_<kernel> per kernel."""
    if CXX is None:
        raise RuntimeError("no C++ compiler")
    text = source_text(file)
    code = SHIM + text + "".join(_launcher(n, p) for n, p in _KERNEL.findall(text))
    digest = hashlib.sha256(code.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "tissue-kernel-emulator"
    folder.mkdir(exist_ok=True)
    lib = folder / f"{Path(file).stem}-{digest}.so"
    if not lib.exists():  # built under this process's own names, then renamed into place,
        # so that test processes running at once never load a half-written library
        own = f"{Path(file).stem}-{digest}.{os.getpid()}"
        src = folder / f"{own}.cpp"
        src.write_text(code)
        subprocess.run(
            [CXX, "-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math", "-w", "-shared",
             "-fPIC", "-o", str(folder / f"{own}.so"), str(src)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        os.replace(folder / f"{own}.so", lib)
        src.unlink()
    return ctypes.CDLL(str(lib))


_SCALARS = {
    np.dtype(np.float32): ctypes.c_float,
    np.dtype(np.float64): ctypes.c_double,
    np.dtype(np.int32): ctypes.c_int,
    np.dtype(np.int64): ctypes.c_longlong,
    np.dtype(np.uint32): ctypes.c_uint,
}


def launch_1d(file: str, kernel: str, n_threads: int, args: tuple[Any, ...]) -> None:
    """Stand-in for gpu_kernels.loader.launch_1d that runs the host build."""
    if n_threads <= 0:
        return
    padded = (int(n_threads) + BLOCK - 1) // BLOCK * BLOCK
    converted: list[Any] = [ctypes.c_longlong(padded)]
    for value in args:
        if isinstance(value, np.ndarray):
            assert value.flags.c_contiguous
            converted.append(ctypes.c_void_p(value.ctypes.data))
        elif isinstance(value, np.generic) and value.dtype in _SCALARS:
            converted.append(_SCALARS[value.dtype](value.item()))
        else:
            raise TypeError(f"{kernel}: argument of type {type(value).__name__}")
    getattr(library(file), f"launch_{kernel}")(*converted)
