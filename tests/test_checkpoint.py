"""Checkpoints: exact restart, any backend, refusal of bad files, and failing writes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import box_scenario, busy_scenario, requires_gpu
from tissue.backend import Backend
from tissue.cells import LIVE
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.io.checkpoint import CheckpointError, reseal
from tissue.simulation import Simulation, load_checkpoint, save_checkpoint
from tissue.state import SimulationState

STEPS = 240  # 24 min: 240 diffusion and mechanics steps, 4 phenotype steps (division, death)


def busy(backend: str | Backend = "cpu") -> Simulation:
    """Every rule at work, with fast division and death so that both happen in 24 min."""
    scenario = scenario_from_dict(busy_scenario(), "busy").with_overrides(
        {"cell_types.tumour.cycle_rate_per_min": 0.02,
         "cell_types.tumour.apoptosis_rate_per_min": 0.01}
    )  # fmt: skip
    return Simulation(scenario, backend=backend, seed=5)


def assert_same_state(a: SimulationState, b: SimulationState) -> None:
    """Tolerance 0: every array bit for bit, and every counter."""
    assert a.tick == b.tick
    assert a.seed == b.seed
    assert a.counters == b.counters
    assert a.arrays.keys() == b.arrays.keys()
    for key, value in a.arrays.items():
        assert value.dtype == b.arrays[key].dtype, key
        assert value.shape == b.arrays[key].shape, key
        assert value.tobytes() == b.arrays[key].tobytes(), key  # bit for bit, NaN included


def test_restart_is_bit_identical(backend: Backend, tmp_path: Path) -> None:
    straight = busy(backend)
    first_ids = straight.organs["box"].cells.next_id
    straight.step(STEPS)

    first = busy(backend)
    first.step(STEPS // 2 + 3)  # stop between phenotype steps, mid-interval
    path = tmp_path / "checkpoint.h5"
    first.save_checkpoint(path, target_days=1.0)
    restored = Simulation.from_checkpoint(path, backend=backend)
    assert_same_state(first.state(), restored.state())
    restored.step(STEPS - (STEPS // 2 + 3))

    state = straight.state()
    assert_same_state(state, restored.state())
    assert state.counters["organs/box/cells"]["next_id"] > first_ids  # divisions
    assert (state.arrays["organs/box/cells/state"] != LIVE).any()  # and deaths
    assert restored.organs["box"].cells.capacity == straight.organs["box"].cells.capacity


def test_checkpoint_keeps_settings_backend_and_label_volume(tmp_path: Path) -> None:
    sim = busy()
    sim.step(7)
    path = tmp_path / "checkpoint.h5"
    save_checkpoint(sim, path, {"target_days": 2.5, "snapshot_every_min": 60.0})
    loaded = load_checkpoint(path, backend="cpu")
    assert loaded.settings == {"target_days": 2.5, "snapshot_every_min": 60.0}
    assert loaded.written_on == "cpu"
    assert loaded.simulation.tick == 7
    assert loaded.simulation.scenario == sim.scenario
    assert np.array_equal(loaded.simulation.organs["box"].labels, sim.organs["box"].labels)
    with h5py.File(path) as handle:
        assert handle["state/organs/box/fields/oxygen"].fletcher32
        assert handle.attrs["format"] == "tissue-checkpoint"


def test_label_image_is_taken_from_the_checkpoint(tmp_path: Path) -> None:
    """A label file that changes or moves after the run started cannot alter the resume."""
    volume = np.zeros((6, 6, 6), dtype=np.uint8)
    volume[:, :, 3:] = 1
    image = tmp_path / "labels.npy"
    np.save(image, volume)
    data = busy_scenario(
        organs={"box": {"spacing_um": 10.0, "barrier_labels": ["wall"],
                        "geometry": {"kind": "file", "path": str(image),
                                     "labels": {"tissue": 0, "wall": 1}}}},
        initial_cells=[{"kind": "random", "organ": "box", "type": "scout", "count": 10,
                        "label": "tissue"}],
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "file scenario"), backend="cpu", seed=1)
    sim.step(5)
    save_checkpoint(sim, tmp_path / "checkpoint.h5")
    image.unlink()
    restored = load_checkpoint(tmp_path / "checkpoint.h5", backend="cpu").simulation
    assert np.array_equal(restored.organs["box"].labels, volume)
    sim.step(20)
    restored.step(20)
    assert_same_state(sim.state(), restored.state())


@pytest.mark.gpu
@requires_gpu
def test_checkpoints_move_between_gpu_and_cpu(tmp_path: Path) -> None:
    """Written on one backend, resumed on the other: the state arrives bit for bit, and
    the runs go on equal to float32 rounding with the same cell population."""
    for writer, reader in [("gpu", "cpu"), ("cpu", "gpu")]:
        sim = busy(writer)
        sim.step(50)
        path = tmp_path / f"{writer}.h5"
        sim.save_checkpoint(path)
        moved = Simulation.from_checkpoint(path, backend=reader)
        assert moved.backend.name == reader
        assert_same_state(sim.state(), moved.state())
        sim.step(30)
        moved.step(30)
        a, b = sim.state(), moved.state()
        assert a.counters == b.counters
        for key, value in a.arrays.items():
            if value.dtype.kind == "f":
                np.testing.assert_allclose(b.arrays[key], value, rtol=1e-4, atol=1e-4)
            else:
                assert np.array_equal(b.arrays[key], value), key


# --- bad files ------------------------------------------------------------------------


@pytest.fixture
def good_checkpoint(tmp_path: Path) -> Path:
    sim = busy()
    sim.step(3)
    path = tmp_path / "checkpoint.h5"
    sim.save_checkpoint(path)
    return path


def refused(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_checkpoint(path, backend="cpu")
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert "no such file" in refused(tmp_path / "nothing.h5")


def test_truncated_file_is_refused(good_checkpoint: Path) -> None:
    data = good_checkpoint.read_bytes()
    good_checkpoint.write_bytes(data[: len(data) // 2])
    assert "truncated, changed or damaged" in refused(good_checkpoint)


def test_not_hdf5_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.h5"
    path.write_text("[organs]\n")
    assert "not a tissue checkpoint" in refused(path)


def test_damaged_data_fails_its_checksum(good_checkpoint: Path) -> None:
    with h5py.File(good_checkpoint) as handle:
        offset = handle["state/organs/box/fields/oxygen"].id.get_chunk_info(0).byte_offset
    with good_checkpoint.open("r+b") as raw:
        raw.seek(offset + 100)
        byte = raw.read(1)
        raw.seek(offset + 100)
        raw.write(bytes([byte[0] ^ 0xFF]))
    assert "does not match its checksum" in refused(good_checkpoint)
    reseal(good_checkpoint)  # HDF5's own chunk checksums still name the dataset
    message = refused(good_checkpoint)
    assert "state/organs/box/fields/oxygen" in message
    assert "damaged data" in message


def test_foreign_hdf5_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["data"] = np.arange(3)
    assert "no 'format' attribute; expected a 'tissue-checkpoint' file" in refused(path)
    with h5py.File(path, "a") as handle:
        handle.attrs["format"] = "tissue-run"
        handle.attrs["format_version"] = 1
    assert "format 'tissue-run'" in refused(path)


def test_newer_version_is_refused(good_checkpoint: Path) -> None:
    with h5py.File(good_checkpoint, "a") as handle:
        handle.attrs["format_version"] = np.int64(99)
    reseal(good_checkpoint)
    assert "99 is newer than this tissue" in refused(good_checkpoint)


def test_state_that_does_not_fit_its_scenario_is_refused(good_checkpoint: Path) -> None:
    with h5py.File(good_checkpoint, "a") as handle:
        del handle["state/organs/box/fields/signal"]
    assert "sha256: the content does not match its checksum" in refused(good_checkpoint)
    reseal(good_checkpoint)
    assert "missing 'organs/box/fields/signal'" in refused(good_checkpoint)


def edit(path: Path, dataset: str, change: Callable[[np.ndarray], np.ndarray]) -> None:
    """Replace ``dataset`` by ``change(its data)`` and reseal the file (a deliberate edit
    that the checksum no longer catches)."""
    with h5py.File(path, "a") as handle:
        data = change(handle[dataset][()])
        del handle[dataset]
        handle.create_dataset(dataset, data=data)
    reseal(path)


def set_attr(path: Path, group: str, name: str, value: object) -> None:
    with h5py.File(path, "a") as handle:
        handle[group].attrs[name] = value
    reseal(path)


CELLS = "state/organs/box/cells"


def _duplicate_first_id(ids: np.ndarray) -> np.ndarray:
    ids = ids.copy()
    ids[1] = ids[0]
    return ids


def _nan_first(values: np.ndarray) -> np.ndarray:
    values = values.copy()
    values.flat[0] = np.nan
    return values


def _far_first(positions: np.ndarray) -> np.ndarray:
    positions = positions.copy()
    positions[0] = 1e6
    return positions


@pytest.mark.parametrize(
    ("dataset", "change", "expected"),
    [
        (f"{CELLS}/id", _duplicate_first_id, "ids are not unique and increasing"),
        (f"{CELLS}/type", lambda t: np.full_like(t, 9), "type codes 9..9; allowed: 0..1"),
        (f"{CELLS}/state", lambda s: np.full_like(s, 7), "unknown state codes"),
        (f"{CELLS}/position_um", _far_first, "1 cells outside the grid"),
        ("state/organs/box/fields/oxygen", _nan_first, "holds NaN or infinite values"),
        ("state/organs/box/labels", lambda x: np.full_like(x, 200), "unknown label codes [200]"),
    ],
)
def test_resealed_nonsense_is_refused(
    good_checkpoint: Path,
    dataset: str,
    change: Callable[[np.ndarray], np.ndarray],
    expected: str,
) -> None:
    """A state edited and resealed (so that the checksum holds) is checked for sense."""
    edit(good_checkpoint, dataset, change)
    assert expected in refused(good_checkpoint)


@pytest.mark.parametrize(
    ("group", "name", "value", "expected"),
    [
        ("/", "tick", np.int64(-4), "tick: -4; allowed: >= 0"),
        ("/", "time_min", np.float64(1e9), "does not match tick"),
        (CELLS, "next_id", np.int64(1), "allowed: 0 <= id < next_id = 1"),
        (CELLS, "n", np.int64(10**6), "rows; the counter n says 1000000"),
    ],
)
def test_resealed_bad_counters_are_refused(
    good_checkpoint: Path, group: str, name: str, value: object, expected: str
) -> None:
    set_attr(good_checkpoint, group, name, value)
    assert expected in refused(good_checkpoint)


def test_resealed_cell_off_a_2d_organs_plane_is_refused(tmp_path: Path) -> None:
    """In a 2-D organ every cell lies on the plane z = origin_z + dz/2; one that does not
    (a hair above it) is refused, and the untouched checkpoint loads."""
    data = box_scenario(
        organs={"box": {"shape": [12, 12, 1], "spacing_um": 10.0, "two_d": True}},
        cell_types={"t": {}},
        initial_cells=[{"kind": "random", "organ": "box", "type": "t", "count": 5}],
    )
    path = tmp_path / "checkpoint.h5"
    Simulation(scenario_from_dict(data, "flat"), backend="cpu").save_checkpoint(path)
    assert load_checkpoint(path, backend="cpu").simulation.organs["box"].cells.n == 5

    def lift(positions: np.ndarray) -> np.ndarray:
        positions = positions.copy()
        positions[2, 2] = np.nextafter(positions[2, 2], np.float32(np.inf))
        return positions

    edit(path, f"{CELLS}/position_um", lift)
    assert "1 cells off the 2-D organ's plane z = 5.0 um" in refused(path)


def test_resealed_scenario_that_no_longer_fits_is_refused(good_checkpoint: Path) -> None:
    with h5py.File(good_checkpoint, "a") as handle:
        text = handle.attrs["scenario"]
        handle.attrs["scenario"] = text.replace("shape = [\n    16,", "shape = [\n    24,", 1)
    reseal(good_checkpoint)
    assert "does not fit the scenario's shape" in refused(good_checkpoint)


def test_each_changed_attribute_fails_the_checksum(good_checkpoint: Path) -> None:
    """Attributes are covered too (Fletcher-32 covers only chunk data): a scenario value,
    a counter and a run setting, each changed by one digit."""
    with h5py.File(good_checkpoint) as handle:
        scenario = handle.attrs["scenario"]
        next_id = int(handle[CELLS].attrs["next_id"])
    for group, name, value in [
        ("/", "scenario", scenario.replace("= 1", "= 2", 1)),
        (CELLS, "next_id", np.int64(next_id + 1)),
        ("run", "target_days", np.float64(2.0)),
    ]:
        original = good_checkpoint.read_bytes()
        with h5py.File(good_checkpoint, "a") as handle:
            handle[group].attrs[name] = value
        assert "does not match its checksum" in refused(good_checkpoint), name
        good_checkpoint.write_bytes(original)
    assert load_checkpoint(good_checkpoint, backend="cpu").simulation.tick == 3


def test_no_pickle_anywhere() -> None:
    """Files never hold or load Python objects."""
    root = Path(__file__).resolve().parents[1] / "tissue"
    for source in root.rglob("*.py"):
        text = source.read_text()
        assert "import pickle" not in text, source
        assert "pickle." not in text, source
        assert "allow_pickle=True" not in text, source


# --- failing writes -------------------------------------------------------------------


def test_failed_write_leaves_the_previous_checkpoint(good_checkpoint: Path) -> None:
    """A file-size limit makes every write past it fail with EFBIG, as a full disk fails
    with ENOSPC: the new checkpoint fails, the old one stays loadable and no temporary is
    left behind."""
    script = textwrap.dedent(
        f"""
        import resource, signal
        from tests.test_checkpoint import busy
        from tissue.io.checkpoint import CheckpointError, reseal
        sim = busy()
        sim.step(20)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        try:
            sim.save_checkpoint({str(good_checkpoint)!r})
        except CheckpointError as error:
            print(error)
        else:
            print("written")
        """
    )
    before = good_checkpoint.read_bytes()
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "could not write the checkpoint" in result.stdout
    assert "the previous checkpoint is intact" in result.stdout
    assert good_checkpoint.read_bytes() == before
    assert load_checkpoint(good_checkpoint, backend="cpu").simulation.tick == 3
    assert os.listdir(good_checkpoint.parent) == [good_checkpoint.name]


def test_unwritable_folder_says_there_is_no_earlier_checkpoint(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CheckpointError, match="there is no earlier checkpoint"):
        save_checkpoint(busy(), blocker / "checkpoint.h5")


def test_interrupted_write_leaves_the_previous_checkpoint(
    good_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure between the temporary file and the rename (here, at the flush to disk)."""
    import tissue.io.checkpoint as checkpoint

    def fail(raw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "_fsync", fail)
    before = good_checkpoint.read_bytes()
    with pytest.raises(CheckpointError, match="No space left on device"):
        save_checkpoint(busy(), good_checkpoint)
    assert good_checkpoint.read_bytes() == before
    assert os.listdir(good_checkpoint.parent) == [good_checkpoint.name]
