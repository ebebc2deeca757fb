"""Run files: contents, schedule, resume truncation, the XDMF sidecar through VTK,
`tissue summary`, and the golden file every later version must read."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import busy_scenario
from tissue.cli import main
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.io.runfile import RunReader
from tissue.runner import Runner, RunSettings
from tissue.simulation import Simulation, load_checkpoint

GOLDEN = Path(__file__).parent / "data" / "run-v1.h5"


def small_run(out: Path, minutes: float = 30.0, **settings: float) -> Simulation:
    """The busy scenario for ``minutes`` with outputs every 6 min, snapshots every 12."""
    sim = Simulation(scenario_from_dict(busy_scenario(), "busy"), backend="cpu", seed=2)
    options = {"snapshot_every_min": 12.0, **settings}
    Runner(sim, out, RunSettings(target_days=minutes / 1440, **options)).run()
    return sim


def test_run_file_holds_series_snapshots_and_geometry(tmp_path: Path) -> None:
    sim = small_run(tmp_path)
    reader = RunReader(tmp_path / "run.h5")
    assert reader.status == "complete"
    assert reader.scenario().model_dump() == sim.scenario.model_dump()
    assert reader.seed == 2
    assert reader.backend == "cpu"
    assert reader.cell_types == ["tumour", "scout"]
    series = reader.timeseries()
    assert series["time_min"].tolist() == [0.0, 6.0, 12.0, 18.0, 24.0, 30.0]
    assert series["tick"].tolist() == [0, 60, 120, 180, 240, 300]
    final = reader.final()
    assert final == pytest.approx(sim.observables(), rel=0, abs=0)
    # snapshots on schedule, and one at the end (30 min is not a multiple of 12)
    assert [s.time_min for s in reader.snapshots] == [0.0, 12.0, 24.0, 30.0]
    organ = reader.organs["box"]
    assert organ.grid == sim.organs["box"].grid
    assert organ.label_codes == sim.organs["box"].label_codes
    assert organ.fields == ["oxygen", "signal"]
    assert np.array_equal(reader.labels("box"), sim.organs["box"].labels)
    last = sim.state().arrays
    assert np.array_equal(reader.field(-1, "box", "oxygen"), last["organs/box/fields/oxygen"])
    cells = reader.cells(-1, "box")
    for column, values in cells.items():
        assert np.array_equal(values, last[f"organs/box/cells/{column}"]), column
    # a slab is read without the rest
    slab = reader.field(-1, "box", "signal", (slice(3, 5), slice(None), slice(None)))
    assert slab.shape == (2, 16, 16)
    with h5py.File(tmp_path / "run.h5") as handle:
        dataset = handle["snapshots/000001/box/fields/oxygen"]
        assert dataset.compression == "gzip"
        assert dataset.chunks is not None
        assert dataset.attrs["units"] == sim.scenario.fields["oxygen"].units
        assert handle["timeseries/box.cells"].maxshape == (None,)


def test_reader_errors_name_what_exists(tmp_path: Path) -> None:
    small_run(tmp_path, minutes=6.0)
    reader = RunReader(tmp_path / "run.h5")
    with pytest.raises(InputError, match="organs: box"):
        reader.labels("lung")
    with pytest.raises(InputError, match="fields: oxygen, signal"):
        reader.field(0, "box", "s100a8a9")
    with pytest.raises(InputError, match=r"allowed: 0\.\.1 or -1"):
        reader.field(7, "box", "oxygen")
    with pytest.raises(InputError, match="expected a 'tissue-run' file"):
        RunReader(tmp_path / "checkpoint.h5")


def test_resume_truncates_what_came_after_the_checkpoint(tmp_path: Path) -> None:
    """Rows and snapshots written after the checkpoint are dropped, so a resumed run file
    equals one that never stopped."""
    straight = tmp_path / "straight"
    small_run(straight, minutes=30.0)
    resumed = tmp_path / "resumed"
    small_run(resumed, minutes=14.0)  # rows at 0, 6, 12, 14 (the end); snapshots at 0, 12, 14
    kept = (resumed / "checkpoint.h5").read_bytes()
    assert list(RunReader(resumed / "run.h5").timeseries()["time_min"]) == [0, 6, 12, 14]
    # go on to 20 min (rows at 18 and 20, a snapshot and a checkpoint at 20): the row at
    # 14 goes (off the 6-min grid), then lose the last checkpoint as if the machine died
    # before writing it
    settings = RunSettings(target_days=20 / 1440, snapshot_every_min=12.0)
    sim = load_checkpoint(resumed / "checkpoint.h5", backend="cpu").simulation
    Runner(sim, resumed, settings, resume=True).run()
    assert list(RunReader(resumed / "run.h5").timeseries()["time_min"]) == [0, 6, 12, 18, 20]
    (resumed / "checkpoint.h5").write_bytes(kept)
    sim = load_checkpoint(resumed / "checkpoint.h5", backend="cpu").simulation
    assert sim.time_min == pytest.approx(14.0)
    settings = RunSettings(target_days=30 / 1440, snapshot_every_min=12.0)
    Runner(sim, resumed, settings, resume=True).run()
    a, b = RunReader(straight / "run.h5"), RunReader(resumed / "run.h5")
    for key, values in a.timeseries().items():
        assert np.array_equal(values, b.timeseries()[key]), key
    # the extra snapshot at 14 min (the end of the first part) stays: it is a real state
    assert [s.time_min for s in b.snapshots] == [0.0, 12.0, 14.0, 24.0, 30.0]
    assert np.array_equal(a.field(-1, "box", "oxygen"), b.field(-1, "box", "oxygen"))


@pytest.mark.parametrize("failing", [2, 3])
def test_a_failing_periodic_checkpoint_is_reported_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    """The first ``failing`` checkpoint writes fail (disk full): periodic ones are reported
    and the run goes on; when the final one fails too the run ends ``incomplete``."""
    import tissue.io.checkpoint as checkpoint

    calls: list[int] = []

    def fail(raw: object) -> None:
        calls.append(1)
        if len(calls) <= failing:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "_fsync", fail)
    reports: list[str] = []
    sim = Simulation(scenario_from_dict(busy_scenario(), "busy"), backend="cpu", seed=2)
    settings = RunSettings(12 / 1440, snapshot_every_min=12.0, checkpoint_every_min=6.0)
    status = Runner(sim, tmp_path, settings, report=reports.append).run()
    expected = "complete" if failing < 3 else "incomplete"
    assert status == expected
    assert len(reports) == failing  # at 6 and 12 min, and the final one
    assert all("No space left on device" in r for r in reports)
    assert "there is no earlier checkpoint" in reports[0]
    assert RunReader(tmp_path / "run.h5").status == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["run.h5", "run.xmf", "scenario.toml", "timeseries.csv"]
        + (["checkpoint.h5"] if failing < 3 else [])
    )


def test_xdmf_sidecar_opens_in_vtk(tmp_path: Path) -> None:
    """What ParaView and VisIt read: the grid in place, x fastest, and the cells."""
    xdmf = pytest.importorskip("vtkmodules.vtkIOXdmf2")
    from vtkmodules.util.numpy_support import vtk_to_numpy

    data = busy_scenario()
    data["organs"]["box"].update({"shape": [16, 12, 10], "spacing_um": [10.0, 8.0, 6.0],
                                  "origin_um": [100.0, -50.0, 20.0]})  # fmt: skip
    data["organs"]["box"]["regions"][0].update({"min_um": [100, -50, 62], "max_um": [260, 30, 74]})
    data["initial_cells"][0]["center_um"] = [180.0, -10.0, 40.0]
    sim = Simulation(scenario_from_dict(data, "anisotropic"), backend="cpu", seed=2)
    Runner(sim, tmp_path, RunSettings(12 / 1440, snapshot_every_min=6.0)).run()

    reader = xdmf.vtkXdmfReader()
    reader.SetFileName(str(tmp_path / "run.xmf"))
    reader.UpdateInformation()
    info = reader.GetOutputInformation(0)
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline as pipe

    times = [info.Get(pipe.TIME_STEPS(), i) for i in range(info.Length(pipe.TIME_STEPS()))]
    assert times == [0.0, 6.0, 12.0]
    reader.UpdateTimeStep(12.0)
    blocks = reader.GetOutputDataObject(0)
    image = blocks.GetBlock(0)
    assert image.GetDimensions() == (17, 13, 11)
    assert image.GetBounds() == pytest.approx((100, 260, -50, 46, 20, 80))
    oxygen = vtk_to_numpy(image.GetCellData().GetArray("oxygen"))
    expected = sim.state().arrays["organs/box/fields/oxygen"]
    assert np.array_equal(oxygen, expected.reshape(-1))  # C order (z, y, x) is x fastest
    labels = vtk_to_numpy(image.GetCellData().GetArray("labels"))
    assert np.array_equal(labels, sim.state().arrays["organs/box/labels"].reshape(-1))
    cells = blocks.GetBlock(1)
    positions = vtk_to_numpy(cells.GetPoints().GetData())
    assert np.array_equal(positions, sim.state().arrays["organs/box/cells/position_um"])
    ids = vtk_to_numpy(cells.GetPointData().GetArray("id"))
    assert np.array_equal(ids, sim.state().arrays["organs/box/cells/id"])


def test_summary_prints_final_observables(tmp_path: Path) -> None:
    sim = small_run(tmp_path, minutes=12.0)
    result = CliRunner().invoke(main, ["summary", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["status"] == "complete"
    assert record["snapshots"] == 2
    # the commit of the code that ran (this checkout's; "" outside a git checkout)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parents[1],
                          capture_output=True, text=True)  # fmt: skip
    expected = head.stdout.strip() if head.returncode == 0 else ""
    assert record["tissue_commit"].removesuffix("+dirty") == expected
    assert record["observables"] == sim.observables()
    table = CliRunner().invoke(main, ["summary", str(tmp_path / "run.h5")])
    assert table.exit_code == 0
    assert "complete at day 0.00833333" in " ".join(table.output.split())
    assert "box.tumour" in table.output  # the cells table: organ.type by state


def test_summary_of_a_bad_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "run.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    result = CliRunner().invoke(main, ["summary", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "truncated or damaged" in result.output


def test_golden_run_file_still_reads() -> None:
    """tests/data/run-v1.h5 was written by tissue 0.1.0 (tests/data/make_golden_run.py);
    every later version must read it with the same values."""
    reader = RunReader(GOLDEN)
    assert reader.format_version == 1
    assert reader.status == "complete"
    assert reader.scenario_name == "golden"
    assert reader.tissue_commit == ""  # written before files recorded it
    scenario = reader.scenario()
    assert scenario.run.days == pytest.approx(20 / 1440)
    series = reader.timeseries()
    assert series["time_min"].tolist() == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert series["box.tumour.live"].tolist() == [39, 40, 41, 46, 48]
    assert [s.time_min for s in reader.snapshots] == [0.0, 10.0, 20.0]
    oxygen = reader.field(-1, "box", "oxygen")
    assert oxygen.shape == (8, 8, 8)
    assert oxygen.dtype == np.float32
    assert float(oxygen.astype(np.float64).mean()) == pytest.approx(
        reader.final()["box.oxygen.mean"], rel=1e-12
    )
    cells = reader.cells(-1, "box")
    assert cells["position_um"].shape == (int(reader.final()["box.cells"]), 3)
    assert np.array_equal(np.sort(cells["id"]), cells["id"])
    assert reader.labels("box").sum() == 0
    result = CliRunner().invoke(main, ["summary", str(GOLDEN), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["observables"]["box.cells"] == reader.final()["box.cells"]


def test_a_failing_run_file_stops_the_run_after_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tissue.io.runfile import RunFileError, RunWriter

    sim = Simulation(scenario_from_dict(busy_scenario(), "busy"), backend="cpu", seed=2)
    runner = Runner(sim, tmp_path, RunSettings(30 / 1440, snapshot_every_min=12.0))

    def full(self: RunWriter, mode: str = "a") -> None:
        raise RunFileError(f"{self.path}: cannot write the run file (No space left on device)")

    monkeypatch.setattr(RunWriter, "_open", full)
    with pytest.raises(RunFileError, match="No space left on device"):
        runner.run()
    # the first output after the start (6 min) failed; the state there is checkpointed
    assert load_checkpoint(tmp_path / "checkpoint.h5", backend="cpu").simulation.tick == 60
    monkeypatch.undo()
    real_open = RunWriter._open
    calls = []

    def fail_later(self: RunWriter, mode: str = "a") -> object:
        calls.append(mode)
        if len(calls) > 3:
            full(self)
        return real_open(self, mode)

    monkeypatch.setattr(RunWriter, "_open", fail_later)
    result = CliRunner().invoke(
        main, ["run", "spheroid", "-o", str(tmp_path / "cli"), "--days", "0.1", "--quiet"]
    )
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "cannot write the run file (No space left on device)" in result.output
    assert (tmp_path / "cli" / "checkpoint.h5").is_file()
