"""The py-pde comparison benchmark: its analytic and discrete steady states, the tolerance
rule, and tissue and py-pde runs converging to the steady state within the derived floors."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from benchmarks import bench_pypde as bench
from benchmarks.common import Timer, render, result_header
from tissue.backend import Backend, get_backend

H = bench.SPACING_UM
ELL = bench.DIFFUSION_LENGTH_UM
C0 = bench.BOUNDARY_VALUE


def floor_estimate(code: str, n: int) -> float:
    """Leading-order max |c_discrete - c_analytic| / c0 of each code's scheme.

    Both schemes' interior solutions are cosh(kappa (x - L/2)) with
    kappa = (1 - eps) / ell, eps = (h/ell)^2 / 24. tissue (boundary at x = h/2, half-width
    w = (L - h)/2): the error peaks mid-domain at eps (w/ell) sinh(w/ell) / cosh(w/ell)^2.
    py-pde (ghost cell, face value c0): the amplitude carries 1 / cosh(kappa h/2), an error of
    (h/ell)^2 / 8 next to the faces, where c is about c0.
    """
    if code == "tissue":
        eps = (H / ELL) ** 2 / 24
        w = (n - 1) * H / 2 / ELL
        return eps * w * math.sinh(w) / math.cosh(w) ** 2
    return (H / ELL) ** 2 / 8


@pytest.mark.parametrize("code", ["tissue", "py-pde"])
def test_analytic_steady_state_solves_the_ode_and_holds_c0_at_the_boundary(code: str) -> None:
    n = 64
    low, high = bench.boundary_positions_um(code, n)
    x = np.linspace(low, high, 41)[1:-1]
    step = 1.0  # um: truncation D step^2 c''''/12 ~ 3e-7 per min, rounding ~1e-9
    c = bench.analytic_steady(x, low, high)
    second = (
        bench.analytic_steady(x + step, low, high)
        - 2 * c
        + bench.analytic_steady(x - step, low, high)
    ) / step**2
    residual = bench.DIFFUSION_UM2_PER_MIN * second - bench.DECAY_PER_MIN * c
    assert np.abs(residual).max() < 1e-6 * bench.DECAY_PER_MIN * c.min()
    ends = bench.analytic_steady(np.array([low, high]), low, high)
    np.testing.assert_allclose(ends, C0, rtol=1e-13)
    middle = bench.analytic_steady(np.array([(low + high) / 2]), low, high)[0]
    assert middle == pytest.approx(C0 / math.cosh((high - low) / 2 / ELL), rel=1e-13)


def test_boundary_positions_are_where_each_code_holds_c0() -> None:
    assert bench.boundary_positions_um("tissue", 64) == (10.0, 1270.0)  # outer voxel centres
    assert bench.boundary_positions_um("py-pde", 64) == (0.0, 1280.0)  # domain faces
    assert bench.solved_voxels("tissue", 64) == slice(1, 63)
    assert bench.solved_voxels("py-pde", 64) == slice(0, 64)


@pytest.mark.parametrize("code", ["tissue", "py-pde"])
@pytest.mark.parametrize("n", [8, 16, 64, 128])
def test_discrete_steady_states_match_a_direct_solve_and_the_floor_estimate(
    code: str, n: int
) -> None:
    closed = {"tissue": bench.discrete_steady_tissue, "py-pde": bench.discrete_steady_pypde}[code]
    np.testing.assert_allclose(closed(n), bench.direct_steady(code, n), rtol=1e-11)
    floor = bench.discretisation_floor(n)[code]["max_rel_error"]
    assert floor == pytest.approx(floor_estimate(code, n), rel=0.05)


def check(minutes: float, error: float) -> bench.Check:
    return bench.Check(round(minutes * 10), minutes, minutes / 100, error, error)


def test_time_to_tolerance_is_when_the_error_stays_below() -> None:
    dip = [check(1, 0.5), check(2, 0.005), check(3, 0.02), check(4, 0.008), check(5, 0.003)]
    reached = bench.time_to_tolerance(dip, 0.01)
    assert (reached["steps"], reached["sim_min"], reached["first_below_min"]) == (40, 4, 2)
    settles_above = [check(1, 0.5), check(2, 0.005), check(3, 0.02)]
    missed = bench.time_to_tolerance(settles_above, 0.01)
    assert missed["steps"] is None
    assert missed["sim_min"] is None
    assert missed["first_below_min"] == 2
    never = bench.time_to_tolerance([check(1, float("nan"))], 0.01)
    assert never["steps"] is None
    assert never["first_below_min"] is None


@pytest.fixture
def short_steady_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small boxes settle in a fraction of a minute: compare fields 0.2 min apart."""
    monkeypatch.setattr(bench, "STEADY_WINDOW_MIN", 0.2)


@pytest.mark.usefixtures("short_steady_window")
def test_tissue_default_solver_reaches_the_analytic_steady_state(backend: Backend) -> None:
    n = 16
    run = bench.run_tissue(backend, n, 1.0, None, budget_s=30.0)
    final = run["final"]
    assert final["stopped"] == "steady"
    floor = bench.discretisation_floor(n)["tissue"]["max_rel_error"]  # 3.7e-7
    # the floor plus float32 rounding of the solver's fixed point (dt D/h^2 = 250 here)
    assert final["max_rel_error"] < floor + 1e-5
    assert final["l2_rel_error"] < 1e-5
    one, tenth = run["to_tolerance"]
    assert one["steps"] is not None
    assert tenth["steps"] >= one["steps"]
    assert one["sim_min"] == pytest.approx(one["steps"] * 1.0)


@pytest.mark.usefixtures("short_steady_window")
def test_pypde_run_reaches_its_discrete_steady_state() -> None:
    pytest.importorskip("pde")
    n = 4
    run = bench.run_pypde(n, budget_s=30.0, operators="scipy")
    final = run["final"]
    assert final["stopped"] == "steady"
    assert run["steps_counted_by_pypde"] == final["steps"] + 1  # + the scratch warm-up step
    floor = bench.discretisation_floor(n)["py-pde"]["max_rel_error"]  # 5.0e-5
    assert final["max_rel_error"] == pytest.approx(floor, rel=1e-3)
    assert run["to_tolerance"][1]["steps"] is not None


@pytest.mark.usefixtures("short_steady_window")
def test_case_result_renders_as_a_table() -> None:
    pytest.importorskip("pde")
    cpu = get_backend("cpu")
    result = result_header("pypde", cpu, Timer(cpu, 0, 1))
    result["method"] = bench.method_record(5.0)
    result["cases"] = [bench.run_case(cpu, 6, [1.0], [0.1], 5.0, pypde_operators="scipy")]
    text = render(result)
    rows = [line for line in text.splitlines() if line.startswith("| 6 |")]
    assert len(rows) == 3 + 2  # three runs, two floors
    assert "| tissue | LOD split step | 0.1 |" in text
    assert "| py-pde | explicit Euler (SciPy operators) |" in text


def test_main_without_pypde_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pde", None)  # import pde raises ImportError
    assert bench.main(["--no-write"]) == 2
    captured = capsys.readouterr()
    assert captured.err == bench.MISSING_PYPDE + "\n"
    assert captured.out == ""


@pytest.mark.slow
def test_main_runs_a_small_case(capsys: pytest.CaptureFixture[str]) -> None:
    """The whole benchmark at N = 12 (numba compiles py-pde's stepper: tens of seconds)."""
    pytest.importorskip("pde")
    assert bench.main(["--sizes", "12", "--no-write", "--budget-s", "5"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| 12 |")]
    assert len(rows) == 3 + 4 + 1 + 2  # default solver, LOD, py-pde; two floors
    pypde = next(row for row in rows if "| py-pde | explicit Euler |" in row)
    assert "| steady at" in pypde
