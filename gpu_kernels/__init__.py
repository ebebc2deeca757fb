"""CUDA C sources of tissue's hot paths and their loader.

Layout: pointwise device helpers in ``.cuh`` headers, thin ``__global__`` kernels in
``.cu`` files; each kernel has one typed Python launcher in ``tissue.kernels`` beside its
NumPy reference. Nothing here imports CuPy until a kernel is first used.
"""

from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent
