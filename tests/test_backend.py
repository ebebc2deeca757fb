"""Backend selection: auto, cpu, gpu; the CPU path never imports CuPy."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tissue.backend import cupy_device_count, get_backend, to_numpy
from tissue.errors import InputError


def test_cpu_backend() -> None:
    backend = get_backend("cpu")
    assert backend.xp is np
    assert backend.name == "cpu"
    assert not backend.is_gpu
    assert backend.device_name == "cpu"
    assert backend.memory_bytes() is None
    assert get_backend(backend) is backend
    assert to_numpy(backend.asarray([1, 2])).tolist() == [1, 2]


def test_auto_matches_what_cupy_sees() -> None:
    assert get_backend("auto").is_gpu == (cupy_device_count() > 0)


@pytest.mark.skipif(cupy_device_count() > 0, reason="a GPU is present")
def test_gpu_without_a_device_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="--backend: gpu: ") as info:
        get_backend("gpu")
    assert "use cpu" in str(info.value)


def test_unknown_backend() -> None:
    with pytest.raises(InputError, match="allowed: auto, cpu, gpu"):
        get_backend("tpu")  # type: ignore[arg-type]


def test_cpu_runs_never_import_cupy(tmp_path: Path) -> None:
    """A whole CPU run with a poisoned 'cupy' first on the path: importing it would fail."""
    poison = tmp_path / "cupy"
    poison.mkdir()
    (poison / "__init__.py").write_text("raise ImportError('the CPU path imported cupy')\n")
    code = textwrap.dedent(
        """
        import sys
        from tissue import Simulation, load_scenario
        sim = Simulation(load_scenario("spheroid"), backend="cpu")
        sim.step(20)
        sim.observables()
        assert "cupy" not in sys.modules, "cupy was imported"
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120,
        env={"PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parents[1]}", "PATH": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
