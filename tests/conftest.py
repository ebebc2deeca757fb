"""Shared fixtures: the backends available here, and small scenarios."""

from __future__ import annotations

from typing import Any

import pytest

from tissue.backend import Backend, cupy_device_count, get_backend

HAS_GPU = cupy_device_count() > 0
requires_gpu = pytest.mark.skipif(not HAS_GPU, reason="needs CuPy and a CUDA device")


# the files with the longest tests, run first: `make test` spreads files over two pytest-xdist
# workers (--dist loadfile), so the longest starts at once and the others fill the second worker
LONGEST_FIRST = (
    "tests/test_metastasis.py",
    "tests/validation/test_solver.py",
    "tests/test_sweep.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST_FIRST))


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


def busy_scenario(**changes: Any) -> dict[str, Any]:
    """Every rule at work: motile chemotactic cells in a walled box, division, death,
    secretion and uptake, oxygen-dependent cycle and necrosis."""
    data = box_scenario(
        organs={"box": {"shape": [16, 16, 16], "spacing_um": 10.0, "barrier_labels": ["wall"],
                        "regions": [{"shape": "box", "label": "wall", "min_um": [0, 0, 70],
                                     "max_um": [160, 100, 90]}]}},
        fields={
            "oxygen": {"diffusion_um2_per_min": 1e5, "decay_per_min": 0.1, "initial": 38.0,
                       "boundary": "dirichlet", "boundary_value": 38.0},
            "signal": {"diffusion_um2_per_min": 1000.0, "decay_per_min": 0.05},
        },
        cell_types={
            "tumour": {"cycle_rate_per_min": 3e-3, "oxygen_field": "oxygen",
                       "apoptosis_rate_per_min": 5e-4, "apoptotic_clearance_min": 30.0,
                       "necrosis_rate_per_min": 0.003,
                       "secretion": {"oxygen": {"uptake_rate_per_min": 10.0},
                                     "signal": {"export_rate": 50.0}}},
            "scout": {"speed_um_per_min": 2.0, "persistence_min": 2.0, "chemotaxis_bias": 0.6,
                      "chemotaxis_field": "signal", "radius_um": 5.0},
        },
        initial_cells=[
            {"kind": "sphere", "organ": "box", "type": "tumour", "center_um": [80, 80, 40],
             "radius_um": 25.0},
            {"kind": "random", "organ": "box", "type": "scout", "count": 60, "label": "tissue"},
        ],
    )  # fmt: skip
    data.update(changes)
    return data
