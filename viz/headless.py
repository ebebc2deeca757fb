"""Importing PyVista for off-screen rendering on machines with no display or GPU."""

from __future__ import annotations

import os
from typing import Any

from tissue.errors import InputError


def pyvista() -> Any:
    """PyVista, set up for off-screen rendering.

    Without a display, VTK is pointed at its EGL window (Mesa's software EGL where there is
    no GPU) before it loads, instead of trying X first; ``VTK_DEFAULT_OPENGL_WINDOW``, when
    set, wins (``vtkOSOpenGLRenderWindow`` selects OSMesa).

    Raises:
        InputError: PyVista is not installed (the ``viz`` extra).
    """
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    try:
        import pyvista as pv
    except ImportError:
        raise InputError(
            "pyvista", "", "not installed; pictures need the viz extra: pip install 'tissue[viz]'"
        ) from None
    pv.OFF_SCREEN = True
    return pv


def matplotlib_pyplot() -> Any:
    """matplotlib.pyplot on the Agg (file-only) backend."""
    try:
        import matplotlib
    except ImportError:
        raise InputError(
            "matplotlib", "", "not installed; plots need the viz extra: pip install 'tissue[viz]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
