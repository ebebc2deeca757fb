"""PhysiCell output written from a run file (``tissue export-physicell``): what pcdl,
PhysiCell's own Python loader, reads back is the run's cells and fields, snapshot by
snapshot."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pcdl
import pytest
from click.testing import CliRunner

from tissue.cells import DOUBLED, REGROWTH
from tissue.cli import main
from tissue.config import load_scenario
from tissue.grid import Grid
from tissue.io.multicellds import read_output
from tissue.io.runfile import RunReader
from tissue.volume import whole

pytestmark = pytest.mark.filterwarnings("ignore:::pcdl")  # pandas deprecations in pcdl


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cancer_immune for 0.1 day, the immune cells arriving at day 0.02 touching the tumour
    (attacks under way at the last snapshots)."""
    out = tmp_path_factory.mktemp("run")
    arrival = "interventions.immune_arrival"
    result = CliRunner().invoke(main, [
        "run", "cancer_immune", "-o", str(out), "--days", "0.1", "--backend", "cpu",
        "--snapshot-every", "60", "--set", f"{arrival}.start_day=0.02",
        "--set", f"{arrival}.cells.0.inner_radius_um=62",
        "--set", f"{arrival}.cells.0.radius_um=75",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def export(run: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(main, ["export-physicell", str(run), "-o", str(out), *extra])
    assert result.exit_code == 0, result.output


def test_pcdl_reads_back_every_snapshots_cells_and_fields(run: Path, tmp_path: Path) -> None:
    export(run, tmp_path)
    reader = RunReader(run / "run.h5")
    info = reader.organ_info("tissue")
    names = load_scenario("cancer_immune").cell_types
    series = pcdl.TimeSeries(str(tmp_path), verbose=False).get_mcds_list()
    assert len(series) == len(reader.snapshots) >= 3
    for snap, step in zip(reader.snapshots, series, strict=True):
        assert step.get_time() == pytest.approx(snap.time_min)
        cells = reader.cells(snap.index, "tissue")
        frame = step.get_cell_df().sort_index()
        ids = cells["id"]
        np.testing.assert_array_equal(frame.index.to_numpy(), ids)
        positions = frame[["position_x", "position_y", "position_z"]].to_numpy()
        np.testing.assert_array_equal(positions, cells["position_um"].astype(np.float64))
        kinds = np.asarray(list(names))[cells["type"]]
        assert frame["cell_type"].tolist() == kinds.tolist()
        assert frame["dead"].tolist() == (cells["state"] != 0).tolist()
        phases = np.asarray(["live", "apoptotic", "necrotic"])[cells["state"]]
        assert frame["current_phase"].tolist() == phases.tolist()
        # every cell reads the field at its own voxel: the mesh's order is the grid's
        oxygen = reader.field(snap.index, "tissue", "oxygen")
        flat = info.grid.flat_index(np, cells["position_um"])
        np.testing.assert_array_equal(frame["oxygen"].to_numpy(), oxygen.reshape(-1)[flat])
        concentrations = step.get_conc_df()
        voxels = concentrations[["voxel_k", "voxel_j", "voxel_i"]].to_numpy().T
        np.testing.assert_array_equal(concentrations["oxygen"].to_numpy(), oxygen[tuple(voxels)])
    assert series[-1].get_cell_df()["cell_type"].value_counts()["immune"] > 0


def test_volumes_graphs_and_our_reader_agree(run: Path, tmp_path: Path) -> None:
    export(run, tmp_path)
    reader = RunReader(run / "run.h5")
    last = reader.snapshots[-1].index
    output = read_output(tmp_path / f"output{last:08d}.xml")
    cells = reader.cells(last, "tissue")
    np.testing.assert_array_equal(output.columns["ID"], cells["id"])
    assert output.cell_types == {0: "tumour", 1: "immune"}
    # volumes: whole for cells placed whole, for live daughters their volume model's (from
    # half their parent's volume: below half for a cell made by one that had not grown
    # back), less for the apoptotic (they shrink)
    scenario = load_scenario("cancer_immune")
    full = np.asarray([4 / 3 * np.pi * t.radius_um**3 for t in scenario.cell_types.values()])
    share = output.columns["total_volume"] / full[cells["type"]]
    live, placed = cells["state"] == 0, cells["age_min"] < 0
    np.testing.assert_allclose(share[live & placed], 1.0, rtol=1e-6)
    daughters = live & ~placed
    model = whole(np, cells[REGROWTH][daughters], cells[DOUBLED][daughters])
    np.testing.assert_allclose(share[daughters], model, rtol=1e-5)
    assert (share[daughters] < 1).all()
    assert (share[daughters] < 0.5).any()
    apoptotic = share[cells["state"] == 1]  # whole (to float32 rounding) at death, then less
    assert (apoptotic <= 1 + 1e-6).all()
    assert (apoptotic < 0.9).any()
    ids = set(cells["id"].tolist())
    lines = (tmp_path / f"output{last:08d}_cell_neighbor_graph.txt").read_text().splitlines()
    graph = {int(k): {int(v) for v in rest.split(",") if v.strip()} for k, rest in
             (line.split(":") for line in lines)}  # fmt: skip
    assert set(graph) == ids
    assert all(a in graph[b] for a, bs in graph.items() for b in bs)  # symmetric
    assert np.mean([len(v) for v in graph.values()]) > 4  # a packed tumour
    attached = (tmp_path / f"output{last:08d}_attached_cells_graph.txt").read_text().splitlines()
    pairs = {(int(k), int(v)) for k, rest in (line.split(":") for line in attached)
             for v in rest.split(",") if v.strip()}  # fmt: skip
    partner = dict(zip(cells["id"].tolist(), cells["partner"].tolist(), strict=True))
    held = {(a, b) for a, b in partner.items() if b in ids}
    assert held
    assert pairs == held | {(b, a) for a, b in held}


def test_several_organs_go_in_subfolders_and_errors_are_one_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "metastasis", "-o", str(run), "--days", "0.01",
                                       "--backend", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "pc"
    export(run, out)
    for organ in ("breast", "lung"):
        step = pcdl.TimeStep(str(out / organ / "output00000000.xml"), verbose=False)
        assert step.get_cell_df().shape[0] == RunReader(run / "run.h5").cells(0, organ)["id"].size
    again = CliRunner().invoke(main, ["export-physicell", str(run), "-o", str(out)])
    assert again.exit_code == 2
    assert "holds PhysiCell output already" in again.output
    export(run, out, "--overwrite")
    wrong = CliRunner().invoke(main, ["export-physicell", str(run), "-o", str(out), "--organ",
                                      "liver"])  # fmt: skip
    assert wrong.exit_code == 2
    assert "'liver' is not in this run; organs: breast, lung" in wrong.output
    missing = CliRunner().invoke(main, ["export-physicell", str(tmp_path / "none"), "-o", "x"])
    assert missing.exit_code == 2
    assert len(missing.output.strip().splitlines()) == 1


def test_the_mesh_lists_exact_voxel_centres(tmp_path: Path) -> None:
    """Spacings like 1/3 um survive the XML (pcdl matches centres to 1e-10)."""
    from tissue.io.multicellds import _coordinates

    grid = Grid((2, 3, 4), (1 / 3, 0.7, 2.0), (-1.1, 0.0, 5.0))
    centres = grid.origin_xyz_um[0] + (np.arange(4) + 0.5) * grid.spacing_xyz_um[0]
    back = np.asarray(_coordinates(centres).split(), dtype=np.float64)
    np.testing.assert_array_equal(back, centres)


def test_a_run_without_the_models_cell_columns_is_refused_on_one_line(
    run: Path, tmp_path: Path
) -> None:
    """A run written before its model kept a column (here cancer_immune's volume state,
    added in 70935cf) is refused naming the column and the commit that wrote it, not
    exported with volumes the model cannot compute."""
    old = tmp_path / "old"
    old.mkdir()
    (old / "run.h5").write_bytes((run / "run.h5").read_bytes())
    with h5py.File(old / "run.h5", "r+") as handle:
        for snap in handle["snapshots"].values():
            for organ in snap.values():
                del organ["cells"][REGROWTH]
        handle.attrs["tissue_commit"] = "0123abc"
    result = CliRunner().invoke(main, ["export-physicell", str(old), "-o", str(tmp_path / "pc")])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert f"cells: has no {REGROWTH}: written by commit 0123abc" in result.output
