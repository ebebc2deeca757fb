"""2-D organs (``two_d``, PhysiCell's ``use_2D``): one voxel layer whose fields have no flux
through the z faces, and cells that live and move in its mid-plane."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pcdl
import pytest
from click.testing import CliRunner

from tests.conftest import box_scenario
from tissue.backend import Backend, to_numpy
from tissue.cli import main
from tissue.config import load_scenario, scenario_from_dict
from tissue.errors import InputError
from tissue.geometry import build_labels
from tissue.grid import Grid
from tissue.io.multicellds import read_output
from tissue.io.runfile import RunReader
from tissue.organ import Contacts
from tissue.placement import _physicell_disc
from tissue.rules import move_cells, phenotype_step, update_motility
from tissue.simulation import Simulation, load_checkpoint

FLAT = {"organs.tissue.shape": "[30, 30, 1]", "organs.tissue.two_d": "true",
        "initial_cells.0.center_um": "[300.0, 300.0, 10.0]"}  # fmt: skip  # --set: 2-D spheroid


def flat_box(shape: tuple[int, int], spacing: float = 10.0, **extra: Any) -> dict[str, Any]:
    """A scenario dict with one 2-D box organ ``box`` of ``shape`` (nx, ny) voxels."""
    organ = {"shape": [*shape, 1], "spacing_um": spacing, "two_d": True}
    return box_scenario(organs={"box": organ}, **extra)


# --- fields ---------------------------------------------------------------------------


def layered(two_d: bool) -> dict[str, Any]:
    """A field with decay, Dirichlet x faces at 10 and 2 and y faces at 1, a source in a
    z-invariant cylinder and six consuming cells: one layer (2-D, every face listed, so the
    z faces are left out), or three with the same cells in each and no flux in z."""
    faces = ["x-", "x+", "y-", "y+", "z-", "z+"] if two_d else ["x-", "x+", "y-", "y+"]
    layers = [5.0] if two_d else [5.0, 15.0, 25.0]
    positions = [[x, y, z] for z in layers for x in (65.0, 125.0, 185.0) for y in (45.0, 115.0)]
    return box_scenario(
        organs={"box": {"shape": [24, 16, 1 if two_d else 3], "spacing_um": 10.0,
                        "two_d": two_d,
                        "regions": [{"shape": "cylinder", "label": "core", "axis": "z",
                                     "center_um": [150.0, 80.0, 0.0], "radius_um": 35.0}]}},
        time_steps={"diffusion_min": 2.0, "mechanics_min": 2.0, "phenotype_min": 2.0},
        fields={"o": {"diffusion_um2_per_min": 2000.0, "decay_per_min": 0.05, "initial": 5.0,
                      "boundary": "dirichlet", "boundary_value": 1.0, "boundary_faces": faces,
                      "boundary_values": {"x-": 10.0, "x+": 2.0}, "solver_tolerance": 1e-7,
                      "sources": [{"kind": "label", "label": "core", "rate_per_min": 0.5}]}},
        cell_types={"sink": {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0,
                             "secretion": {"o": {"uptake_rate_per_min": 20.0}}}},
        initial_cells=[{"kind": "list", "organ": "box", "type": "sink",
                        "positions_um": positions}],
    )  # fmt: skip


def test_one_layer_solves_as_a_z_invariant_box(backend: Backend) -> None:
    """The same box, sources, boundaries and cells' uptake on one layer (2-D) and on three
    layers with no flux in z, 20 steps of 2 min from a uniform start: every layer of the
    3-D field equals the 2-D field to 1e-5 of its largest value (each step is solved to an
    error bound of 1e-7; the two multigrid hierarchies differ, so the iterates do too)."""
    fields = {}
    for two_d in (True, False):
        sim = Simulation(scenario_from_dict(layered(two_d), "layered"), backend=backend)
        sim.step(20)
        fields[two_d] = to_numpy(sim.organs["box"].fields["o"]).astype(np.float64)
    flat, thick = fields[True], fields[False]
    assert flat.shape == (1, 16, 24)
    assert flat.min() < 1.0 < 2.0 < flat.max() == 10.0  # the cells' sinks and the source
    np.testing.assert_allclose(thick, np.repeat(flat, 3, axis=0), rtol=0, atol=1e-5 * 10.0)


def test_steady_state_between_two_dirichlet_faces_is_the_analytic_one() -> None:
    """Decay between x- held at 10 and x+ at 2 (y faces no-flux): the steady state of
    D u'' = k u is u = (10 sinh(a (L - x)) + 2 sinh(a x)) / sinh(a L), a = sqrt(k / D),
    between the two fixed layers' centres. The solver's field is the discrete solution
    (cosh(a' dx) = 1 + (a dx)^2 / 2) to 1e-5 of 10, and the analytic one to 4e-4 of 10 (its
    discretisation error, of order (a dx)^2 / 12 relative, is 1.6e-4 here)."""
    scenario = flat_box(
        (41, 3),
        fields={"u": {"diffusion_um2_per_min": 1000.0, "decay_per_min": 0.1,
                      "boundary": "dirichlet", "boundary_faces": ["x-", "x+"],
                      "boundary_values": {"x-": 10.0, "x+": 2.0}, "solver_tolerance": 1e-7}},
    )  # fmt: skip
    fields = Simulation(scenario_from_dict(scenario, "steady"), backend="cpu").organs["box"].fields
    for _ in range(10):  # each step leaves 1/(1 + 50) of the distance to the steady state
        fields.step(500.0)
    u = fields["u"].astype(np.float64)
    np.testing.assert_allclose(u, np.broadcast_to(u[0, 1], u.shape), rtol=1e-6)  # no y part
    n, a, dx = 41, math.sqrt(0.1 / 1000.0), 10.0
    i = np.arange(n)
    discrete = np.arccosh(1.0 + (a * dx) ** 2 / 2.0) / dx
    for rate, tolerance in ((discrete, 1e-5), (a, 4e-4)):
        length = (n - 1) * dx
        x = i * dx
        exact = (10.0 * np.sinh(rate * (length - x)) + 2.0 * np.sinh(rate * x)) / np.sinh(
            rate * length
        )
        np.testing.assert_allclose(u[0, 1], exact, rtol=0, atol=tolerance * 10.0)


def test_an_in_plane_eigenmode_decays_at_its_discrete_rate(backend: Backend) -> None:
    """u = 1 + cos(pi x / Lx) cos(pi y / Ly) / 2 in a closed 2-D box is an eigenvector of the
    discrete operator with eigenvalue D ((2/dx)^2 sin^2(pi dx / 2Lx) + (2/dy)^2
    sin^2(pi dy / 2Ly)): each backward-Euler step divides the mode by 1 + dt lambda, and the
    field stays 1 + that mode to 1e-6 (float32 and the solver's 1e-7 bound)."""
    scenario = flat_box(
        (32, 24),
        fields={"u": {"diffusion_um2_per_min": 1000.0, "solver_tolerance": 1e-7}},
    )
    fields = Simulation(scenario_from_dict(scenario, "mode"), backend=backend).organs["box"].fields
    lx, ly, d = 320.0, 240.0, 10.0
    x = (np.arange(32) + 0.5) * d
    y = (np.arange(24) + 0.5) * d
    mode = (np.cos(np.pi * y / ly)[:, None] * np.cos(np.pi * x / lx)[None, :])[None]
    xp = fields.xp
    fields["u"][...] = xp.asarray(1.0 + 0.5 * mode, dtype=xp.float32)
    rate = 1000.0 * sum((2 / d) ** 2 * math.sin(math.pi * d / (2 * n)) ** 2 for n in (lx, ly))
    for _ in range(10):
        fields.step(1.0)
    amplitude = 0.5 / (1.0 + rate) ** 10
    assert amplitude > 0.04
    np.testing.assert_allclose(
        to_numpy(fields["u"]).astype(np.float64), 1.0 + amplitude * mode, rtol=0, atol=1e-6
    )


def test_gradients_lie_in_the_plane() -> None:
    """The chemotactic gradient of a 2-D field has a zero z component and central
    differences in x and y."""
    scenario = flat_box((8, 6), fields={"s": {"diffusion_um2_per_min": 10.0}})
    fields = Simulation(scenario_from_dict(scenario, "grad"), backend="cpu").organs["box"].fields
    y, x = np.mgrid[0:6, 0:8].astype(np.float32)
    fields["s"][...] = (3.0 * x + 0.5 * y * y)[None]
    ijk = np.array([[3, 2, 0], [0, 0, 0], [7, 5, 0]])
    gradient = fields.gradient("s", ijk)
    np.testing.assert_array_equal(gradient[:, 2], 0.0)
    np.testing.assert_allclose(gradient[:, :2], [[0.3, 0.2], [0.3, 0.05], [0.3, 0.45]], rtol=1e-6)


# --- cells ----------------------------------------------------------------------------


def movers(count: int, **cell_type: Any) -> Simulation:
    """``count`` cells of one type at random in a 2-D box of 40 x 40 voxels of 20 um."""
    scenario = flat_box(
        (40, 40), 20.0,
        fields={"s": {"diffusion_um2_per_min": 100.0}},
        cell_types={"mover": {"repulsion_um_per_min": 1.0, **cell_type}},
        initial_cells=[{"kind": "random", "organ": "box", "type": "mover", "count": count}],
    )  # fmt: skip
    return Simulation(scenario_from_dict(scenario, "movers"), backend="cpu", seed=4)


def test_random_directions_are_uniform_in_angle_in_the_plane() -> None:
    """20,000 cells all turning at once: unit directions with z exactly 0, their angles
    uniform on the circle by a Kolmogorov-Smirnov statistic below 1.95 / sqrt(n) (the
    0.1% critical value)."""
    sim = movers(20_000, speed_um_per_min=1.0, persistence_min=1e-3)
    organ = sim.organs["box"]
    update_motility(organ, sim.types, sim.rng, 0, 1.0)
    direction = organ.cells.direction.astype(np.float64)
    assert np.all(direction[:, 2] == 0.0)
    np.testing.assert_allclose(np.hypot(direction[:, 0], direction[:, 1]), 1.0, atol=1e-6)
    angle = np.sort((np.arctan2(direction[:, 1], direction[:, 0]) + np.pi) / (2 * np.pi))
    n = angle.size
    steps = np.arange(1, n + 1) / n
    ks = max(np.max(steps - angle), np.max(angle - (steps - 1 / n)))
    assert ks < 1.95 / math.sqrt(n)


def test_chemotaxis_follows_the_in_plane_gradient() -> None:
    """Fully biased cells (bias 1) turn up the field's gradient, which has no z part."""
    sim = movers(200, speed_um_per_min=1.0, persistence_min=1e-3, chemotaxis_field="s",
                 chemotaxis_bias=1.0)  # fmt: skip
    organ = sim.organs["box"]
    y, x = np.mgrid[0:40, 0:40].astype(np.float32)
    organ.fields["s"][...] = (x + 2.0 * y)[None]
    update_motility(organ, sim.types, sim.rng, 0, 1.0)
    direction = organ.cells.direction
    assert np.all(direction[:, 2] == 0.0)
    np.testing.assert_allclose(direction, np.broadcast_to([1, 2, 0] / np.sqrt(5.0), (200, 3)),
                               atol=1e-6)  # fmt: skip


def test_motion_has_no_z_component() -> None:
    """A direction with a z part (as one set from outside could have) moves a cell only in
    the plane."""
    sim = movers(50, speed_um_per_min=1.0, repulsion_um_per_min=0.0, adhesion_um_per_min=0.0)
    organ = sim.organs["box"]
    before = organ.cells.position_um.copy()
    organ.cells.direction[...] = [0.6, 0.0, 0.8]
    move_cells(organ, sim.types, 2.0)
    after = organ.cells.position_um
    assert np.all(after[:, 2] == organ.grid.plane_z_um)
    inner = before[:, 0] < 790.0  # not stopped by the box's x+ face
    np.testing.assert_allclose(after[inner, 0] - before[inner, 0], 1.2, rtol=1e-4)


def test_division_axes_lie_in_the_plane() -> None:
    """Every cell divides in one phenotype step: parent and daughter end a radius apart
    (half a radius either side) in the plane, along axes of every direction, z unchanged
    to the bit."""
    sim = movers(500, cycle_rate_per_min=1.0)
    organ = sim.organs["box"]
    before = organ.cells.position_um.copy()
    phenotype_step(organ, sim.types, sim.rng, 0, 6.0, Contacts(organ, sim.types))
    cells = organ.cells
    assert cells.n == 1000
    assert np.all(cells.position_um[:, 2] == organ.grid.plane_z_um)
    inner = np.all((before[:, :2] > 5.0) & (before[:, :2] < 795.0), axis=1)  # room either side
    parents, daughters = cells.position_um[:500][inner], cells.position_um[500:][inner]
    np.testing.assert_allclose(np.linalg.norm(daughters - parents, axis=1), 8.4, rtol=1e-5)
    np.testing.assert_allclose((parents + daughters) / 2, before[inner], atol=1e-4)
    axes = np.arctan2(*(daughters - parents)[:, 1::-1].T)
    assert np.histogram(axes, bins=4, range=(-np.pi, np.pi))[0].min() > 90


def test_cells_stay_on_the_plane_through_a_run(backend: Backend) -> None:
    """The cancer-immune model in 2-D for 0.1 day: tumour cells on PhysiCell's disc divide,
    immune cells added in a ring chemotax, attach (held by springs) and kill, all cells
    push each other; every position keeps z = origin_z + dz/2 exactly at every output."""
    arrival = "interventions.immune_arrival"
    scenario = load_scenario("cancer_immune", {
        "organs.tissue.shape": [18, 18, 1], "organs.tissue.two_d": True,
        "initial_cells.0.center_um": [180.0, 180.0, 10.0], f"{arrival}.start_day": 0.02,
        f"{arrival}.cells.0.center_um": [180.0, 180.0, 10.0],
        f"{arrival}.cells.0.inner_radius_um": 62.0, f"{arrival}.cells.0.radius_um": 75.0,
        "cell_types.tumour.cycle_rate_per_min": 0.01,
    })  # fmt: skip
    sim = Simulation(scenario, backend=backend, seed=1)
    organ = sim.organs["tissue"]
    plane = organ.grid.plane_z_um
    assert plane == np.float32(10.0)
    start = organ.cells.to_numpy()
    assert start["id"].size == _physicell_disc(60.0, 8.41271).shape[0] == 53
    attached = 0
    for _ in range(15):
        sim.step(96)
        cells = organ.cells.to_numpy()
        assert np.all(cells["position_um"][:, 2] == plane)
        attached = max(attached, int((cells["partner"] >= 0).sum()))
    immune = cells["type"] == 1
    radius = np.linalg.norm(cells["position_um"][immune, :2] - 180.0, axis=1)
    assert immune.sum() == 100
    assert radius.min() < 62.0
    assert cells["id"].size > 200
    assert attached > 5
    assert (cells["state"] != 0).any()


def test_placements_put_cells_on_the_plane() -> None:
    """Spheres meet the plane in a disc (a ring for a shell; hexagonal, PhysiCell's or
    random), random and listed cells take the plane's z; a list outside the layer is
    refused."""
    entries = [
        {"kind": "sphere", "organ": "box", "type": "t", "center_um": [200.0, 200.0, 40.0],
         "radius_um": 50.0},  # meets the plane (z = 10) in a disc of radius 40
        {"kind": "sphere", "organ": "box", "type": "t", "center_um": [100.0, 300.0, 10.0],
         "radius_um": 60.0, "packing": "physicell"},
        {"kind": "sphere", "organ": "box", "type": "t", "center_um": [300.0, 100.0, 10.0],
         "radius_um": 80.0, "inner_radius_um": 50.0, "count": 300},
        {"kind": "random", "organ": "box", "type": "t", "count": 40},
        {"kind": "list", "organ": "box", "type": "t", "positions_um": [[50.0, 50.0, 19.0]]},
    ]  # fmt: skip
    scenario = flat_box((20, 20), 20.0, cell_types={"t": {}}, initial_cells=entries)
    sim = Simulation(scenario_from_dict(scenario, "placed"), backend="cpu", seed=2)
    cells = sim.organs["box"].cells.to_numpy()
    assert np.all(cells["position_um"][:, 2] == np.float32(10.0))
    position = cells["position_um"][:, :2].astype(np.float64)
    physicell = _physicell_disc(60.0, 8.4)[:, :2] + [100.0, 300.0]
    counts = [19, len(physicell), 300, 40, 1]  # the disc of radius 40: 1 + 3 rings of 6
    assert len(position) == sum(counts)
    disc, pc, ring, scattered, listed = np.split(position, np.cumsum(counts)[:-1])
    assert np.hypot(*(disc - 200.0).T).max() <= 40.0 + 1e-4
    np.testing.assert_allclose(pc, physicell, atol=1e-4)
    ring_radius = np.hypot(*(ring - [300.0, 100.0]).T)
    assert ring_radius.min() >= 50.0 - 1e-4
    assert ring_radius.max() <= 80.0 + 1e-4
    assert np.all((scattered >= 0.0) & (scattered < 400.0))
    np.testing.assert_array_equal(listed, [[50.0, 50.0]])
    outside = [{"kind": "list", "organ": "box", "type": "t", "positions_um": [[5.0, 5.0, 25.0]]}]
    scenario = flat_box((20, 20), 20.0, cell_types={"t": {}}, initial_cells=outside)
    with pytest.raises(InputError, match=r"initial_cells\.0\.positions_um: .* is outside"):
        Simulation(scenario_from_dict(scenario, "s"), backend="cpu")


def test_grid_places_arrivals_on_the_plane() -> None:
    """Cells entering through voxels (arrest, recruitment) sit on the plane."""
    grid = Grid((1, 4, 5), (10.0, 10.0, 7.0), (0.0, 0.0, -3.0), two_d=True)
    u = np.random.default_rng(0).random((20, 3)).astype(np.float32)
    positions = grid.in_voxels(np, np.arange(20), u)
    assert np.all(positions[:, 2] == np.float32(0.5))
    np.testing.assert_array_equal(grid.flat_index(np, positions), np.arange(20))


# --- validation -------------------------------------------------------------------------


def test_a_label_image_must_match_two_d(tmp_path: Path) -> None:
    """A one-layer label file is a 2-D organ, and a 2-D organ's file has one layer."""
    flat, thick = tmp_path / "flat.npy", tmp_path / "thick.npy"
    np.save(flat, np.zeros((1, 5, 6), dtype=np.uint8))
    np.save(thick, np.zeros((3, 5, 6), dtype=np.uint8))
    geometry = {"kind": "file", "labels": {"tissue": 0}}
    for path, two_d, grid_shape in ((flat, True, (1, 5, 6)), (thick, False, (3, 5, 6))):
        data = {"organs": {"o": {"geometry": {**geometry, "path": str(path)}, "two_d": two_d}}}
        organ = scenario_from_dict(data, "s").organs["o"]
        grid, _ = build_labels(np, "o", organ, "s")
        assert (grid.shape_zyx, grid.two_d) == (grid_shape, two_d)
    for path, two_d, layers in ((flat, False, 1), (thick, True, 3)):
        data = {"organs": {"o": {"geometry": {**geometry, "path": str(path)}, "two_d": two_d}}}
        with pytest.raises(InputError) as info:
            build_labels(np, "o", scenario_from_dict(data, "s").organs["o"], "s")
        assert info.value.key == "organs.o.two_d"
        assert f"the image has {layers} z-layer(s)" in info.value.message
        assert "\n" not in str(info.value)


# --- end to end -----------------------------------------------------------------------


def cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output


@pytest.mark.filterwarnings("ignore:::pcdl")  # pandas deprecations in pcdl
def test_a_2d_spheroid_runs_and_resumes_bit_for_bit(tmp_path: Path) -> None:
    """``tissue run spheroid`` made 2-D with --set, for 0.1 day straight and as 0.05 day then
    ``tissue resume``: the final checkpoints hold the same state to the bit; the run file
    holds one-layer fields, its XDMF a one-layer mesh, and the PhysiCell export a mesh of
    one z layer that pcdl reads."""
    flat = [part for key, value in FLAT.items() for part in ("--set", f"{key}={value}")]
    common = ["--seed", "3", "--backend", "cpu", "--quiet", *flat]
    cli("run", "spheroid", "-o", str(tmp_path / "straight"), "--days", "0.1", *common)
    cli("run", "spheroid", "-o", str(tmp_path / "split"), "--days", "0.05", *common)
    cli("resume", str(tmp_path / "split"), "--days", "0.1", "--quiet")
    states = [
        load_checkpoint(tmp_path / name / "checkpoint.h5", backend="cpu").simulation.state()
        for name in ("straight", "split")
    ]
    assert states[0].tick == states[1].tick == 1440
    assert states[0].arrays.keys() == states[1].arrays.keys()
    for key, value in states[0].arrays.items():
        assert value.tobytes() == states[1].arrays[key].tobytes(), key
    cells = states[0].arrays["organs/tissue/cells/position_um"]
    assert cells.shape[0] > 43
    assert np.all(cells[:, 2] == np.float32(10.0))

    out = tmp_path / "straight"
    reader = RunReader(out / "run.h5")
    assert reader.field(-1, "tissue", "oxygen").shape == (1, 30, 30)
    assert 'Dimensions="2 31 31"' in (out / "run.xmf").read_text()
    cli("export-physicell", str(out), "-o", str(tmp_path / "physicell"))
    last = sorted((tmp_path / "physicell").glob("output*.xml"))[-1]
    exported = read_output(last)
    np.testing.assert_array_equal(exported.columns["position"][:, 2], 10.0)
    mcds = pcdl.TimeSeries(str(tmp_path / "physicell"), verbose=False).get_mcds_list()[-1]
    concentration = mcds.get_conc_df()
    assert len(concentration) == 900
    assert concentration["mesh_center_p"].unique().tolist() == [10.0]
