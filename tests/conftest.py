"""Shared fixtures: the backends available here, and small scenarios."""

from __future__ import annotations

from typing import Any

import pytest

from tissue.backend import Backend, cupy_device_count, get_backend

HAS_GPU = cupy_device_count() > 0
requires_gpu = pytest.mark.skipif(not HAS_GPU, reason="needs CuPy and a CUDA device")


def backends() -> list[Any]:
    """cpu always; gpu as a parameter that skips cleanly without a device."""
    return ["cpu", pytest.param("gpu", marks=[pytest.mark.gpu, requires_gpu])]


@pytest.fixture(params=backends())
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each test using this runs on every backend available."""
    return get_backend(request.param)


def box_scenario(**extra: Any) -> dict[str, Any]:
    """A minimal valid scenario dict: one 12^3 box organ of 10 um voxels."""
    data: dict[str, Any] = {
        "organs": {"box": {"shape": [12, 12, 12], "spacing_um": 10.0}},
        "time_steps": {"diffusion_min": 0.1, "mechanics_min": 0.1, "phenotype_min": 6.0},
        "run": {"output_interval_min": 6.0},
    }
    data.update(extra)
    return data
