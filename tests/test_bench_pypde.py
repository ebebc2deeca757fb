"""The py-pde comparison benchmark: the tolerance rule, tissue and py-pde runs converging to
the steady state within the derived floors, its table and command line. The exact solutions
themselves are checked in tests/validation/test_steady_state.py."""

from __future__ import annotations

import sys

import pytest

from benchmarks import bench_pypde as bench
from benchmarks.common import Timer, render, result_header
from benchmarks.steady_state import discretisation_floor
from tissue.backend import Backend, get_backend


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
    run = bench.run_tissue(backend, n, 1.0, budget_s=30.0)
    final = run["final"]
    assert final["stopped"] == "steady"
    floor = discretisation_floor(n)["tissue"]["max_rel_error"]  # 3.7e-7
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
    floor = discretisation_floor(n)["py-pde"]["max_rel_error"]  # 5.0e-5
    assert final["max_rel_error"] == pytest.approx(floor, rel=1e-3)
    assert run["to_tolerance"][1]["steps"] is not None


@pytest.mark.usefixtures("short_steady_window")
def test_case_result_renders_as_a_table() -> None:
    pytest.importorskip("pde")
    cpu = get_backend("cpu")
    result = result_header("pypde", cpu, Timer(cpu, 0, 1))
    result["method"] = bench.method_record(5.0)
    result["cases"] = [bench.run_case(cpu, 6, [1.0, 6.0], 5.0, pypde_operators="scipy")]
    text = render(result)
    rows = [line for line in text.splitlines() if line.startswith("| 6 |")]
    assert len(rows) == 3 + 2  # three runs, two floors
    assert "| tissue | default (multigrid CG) | 6 |" in text
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
    assert len(rows) == 3 + 1 + 2  # default solver at three dt, py-pde; two floors
    pypde = next(row for row in rows if "| py-pde | explicit Euler |" in row)
    assert "| steady at" in pypde
