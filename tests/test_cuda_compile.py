"""Every CUDA source compiles for sm_90 (Hopper) with nvcc; skipped where nvcc is absent."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gpu_kernels import KERNEL_DIR
from gpu_kernels.loader import COMPILE_OPTIONS, source_hash, source_text

NVCC = shutil.which("nvcc")
SOURCES = sorted(p.name for p in KERNEL_DIR.glob("*.cu"))
pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc not found")


def compile_ptx(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NVCC, "-arch=sm_90", "--ptx", *COMPILE_OPTIONS, "-I", str(KERNEL_DIR), "-Werror",
         "all-warnings", "-o", str(out), str(source)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_there_are_kernels() -> None:
    assert {"cells.cu", "diffusion.cu", "multigrid.cu", "random.cu"} <= set(SOURCES)


@pytest.mark.parametrize("name", SOURCES)
def test_source_compiles_for_sm90(name: str, tmp_path: Path) -> None:
    result = compile_ptx(KERNEL_DIR / name, tmp_path / "out.ptx")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", SOURCES)
def test_loader_text_compiles_for_sm90(name: str, tmp_path: Path) -> None:
    """What the loader hands to NVRTC (headers inlined) compiles on its own, and every
    kernel the Python launchers name is in it."""
    expanded = tmp_path / name
    expanded.write_text(source_text(name))
    result = compile_ptx(expanded, tmp_path / "out.ptx")
    assert result.returncode == 0, result.stderr
    ptx = (tmp_path / "out.ptx").read_text()
    launched = {
        "random.cu": ["philox_uniform", "philox_bits"],
        "diffusion.cu": ["finish_step"],
        "multigrid.cu": [
            "defect",
            "apply_operator",
            "residual",
            "jacobi",
            "jacobi_first",
            "restrict_sum",
            "prolong_add",
            "dot_partials",
            "cg_step",
            "cg_direction",
            "error_partials",
        ],
        "cells.cu": ["gather_bin_order", "pair_velocity", "deposit_sorted", "deposit_sorted_f64"],
    }[name]
    for kernel in launched:
        assert f".entry {kernel}(" in ptx


def test_header_edits_change_the_cache_key(tmp_path: Path, monkeypatch) -> None:
    import gpu_kernels.loader as loader

    for file in KERNEL_DIR.iterdir():
        if file.suffix in (".cu", ".cuh"):
            (tmp_path / file.name).write_text(file.read_text())
    monkeypatch.setattr(loader, "KERNEL_DIR", tmp_path)
    before = source_hash("diffusion.cu")
    header = tmp_path / "diffusion.cuh"
    header.write_text(header.read_text() + "\n// edited\n")
    assert source_hash("diffusion.cu") != before
    assert "// edited" in source_text("diffusion.cu")
    assert "#pragma once" not in source_text("diffusion.cu")
