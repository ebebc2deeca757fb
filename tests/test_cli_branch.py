"""`tissue branch RUN SCENARIO -o OUT`: a stopped run continued as a treated scenario, whose
folder equals that scenario's own run from day 0 (time series, CSV, snapshots), RUN left as
it was; what cannot be a branch is refused in one line with exit code 2."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from tests.test_branch import BASE, TREATED
from tissue.cli import main
from tissue.io.runfile import RunReader

OUTPUTS = {"run.output_interval_min": 36.0}
TRUNK_DAYS = 0.1625  # tick 78 of 3 min: between outputs (36 min) and snapshots (72 min)
DAYS = 0.3  # the treatments start at day 0.2


def sets(overrides: dict) -> list[str]:
    return [arg for k, v in overrides.items() for arg in ("--set", f"{k}={json.dumps(v)}")]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--backend", "cpu", "--quiet"])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def trunk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("branch") / "trunk"
    code, output = invoke("run", "metastasis", "-o", str(out), "--seed", "3",
                          "--days", str(TRUNK_DAYS), "--snapshot-every", "72",
                          *sets({**BASE, **OUTPUTS}))  # fmt: skip
    assert code == 0, output
    return out


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def snapshots(path: Path) -> dict[int, dict[str, np.ndarray]]:
    """Snapshot tick -> every dataset under it."""
    out: dict[int, dict[str, np.ndarray]] = {}
    with h5py.File(path, "r") as handle:
        for group in handle["snapshots"].values():
            arrays: dict[str, np.ndarray] = {}
            group.visititems(
                lambda name, item, a=arrays: (
                    a.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
                )
            )
            out[int(group.attrs["tick"])] = arrays
    return out


def csv_rows(folder: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader((folder / "timeseries.csv").open()))
    return [{k: v for k, v in row.items() if k != "run_id"} for row in rows]


def test_a_branch_folder_is_the_treated_runs_own(trunk: Path, tmp_path: Path) -> None:
    """The busy model stopped at tick 78 and branched into resection and IL-1R blockade at
    day 0.2: run.h5's time series and snapshots and the CSV equal those of the treated
    scenario run from day 0 with the same seed (the trunk's final row and snapshot, between
    outputs, are not copied), the branch records its origin and its own run id, and the
    trunk's files are untouched."""
    before = digests(trunk)
    branched, own = tmp_path / "branched", tmp_path / "own"
    code, output = invoke("branch", str(trunk), "metastasis", "-o", str(branched),
                          "--days", str(DAYS), *sets({**TREATED, **OUTPUTS}))  # fmt: skip
    assert code == 0, output
    code, output = invoke("run", "metastasis", "-o", str(own), "--seed", "3", "--days", str(DAYS),
                          "--snapshot-every", "72", *sets({**TREATED, **OUTPUTS}))  # fmt: skip
    assert code == 0, output
    assert digests(trunk) == before

    mine, theirs = RunReader(branched / "run.h5"), RunReader(own / "run.h5")
    series, expected = mine.timeseries(), theirs.timeseries()
    assert list(series) == list(expected)
    for key, values in expected.items():
        np.testing.assert_array_equal(series[key], values, err_msg=key)
    assert series["tick"].tolist() == list(range(0, 145, 12))  # 0.3 days: tick 144
    assert theirs.final()["breast.whole_tumour.cells"] == 0, "the resection must have acted"
    assert csv_rows(branched) == csv_rows(own)
    got, want = snapshots(branched / "run.h5"), snapshots(own / "run.h5")
    assert sorted(got) == sorted(want) == list(range(0, 145, 24))
    for tick, arrays in want.items():
        assert got[tick].keys() == arrays.keys()
        for name, values in arrays.items():
            np.testing.assert_array_equal(got[tick][name], values, err_msg=f"{tick} {name}")
    assert mine.status == "complete"
    assert mine.run_id not in ("", RunReader(trunk / "run.h5").run_id)
    assert mine.scenario().interventions["resection"].start_day == 0.2
    with h5py.File(branched / "run.h5", "r") as handle:
        assert handle.attrs["branched_from"] == RunReader(trunk / "run.h5").run_id
        assert int(handle.attrs["branched_at_tick"]) == 78
    assert {row["run_id"] for row in csv.DictReader((branched / "timeseries.csv").open())} == {
        mine.run_id
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (sets({**BASE, **OUTPUTS, "fields.il1b.decay_per_min": 0.06}), "fields.il1b.decay_per_min"),
        (sets({**BASE, **OUTPUTS, "interventions.anti_s100.efficacy": 0.5}),
         "interventions.anti_s100.efficacy"),
        ([*sets({**BASE, **OUTPUTS}), "--days", "0.1"], "--days"),
    ],
)  # fmt: skip
def test_what_would_change_the_past_is_refused(
    trunk: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    """A model parameter or an intervention that has started cannot change, and a branch
    cannot end before it starts: one line naming the key, exit code 2, no folder left
    behind."""
    out = tmp_path / "refused"
    code, output = invoke("branch", str(trunk), "metastasis", "-o", str(out), *args)
    assert code == 2, output
    assert expected in output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output
    assert not (out / "run.h5").exists()


def test_a_branch_needs_another_folder_and_a_checkpoint(trunk: Path, tmp_path: Path) -> None:
    code, output = invoke("branch", str(trunk), "metastasis", "-o", str(trunk))
    assert code == 2, output
    assert "is RUN itself" in output
    empty = tmp_path / "empty"
    empty.mkdir()
    code, output = invoke("branch", str(empty), "metastasis", "-o", str(tmp_path / "out"))
    assert code == 2, output
    assert "no checkpoint to branch from" in output


def test_a_trunk_folder_mixing_two_runs_is_refused(trunk: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(trunk, mixed)
    with h5py.File(mixed / "run.h5", "a") as handle:
        handle.attrs["run_id"] = "someone-else"
    code, output = invoke("branch", str(mixed), "metastasis", "-o", str(tmp_path / "out"))
    assert code == 2, output
    assert "the folder mixes two runs" in output
