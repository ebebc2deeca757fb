"""What field a sample's cells of one type sit in, and the type changes it predicts: for
PhysiCell output folders and tissue runs (``run.h5``, exported as :mod:`eating` does), hour
by hour, the cells of the type, the field at each one's voxel and the rate of the
sample's rule on it, summed over the hour as the changes it predicts, beside the changes
counted (the cells of the type at the hour's start that are of the target type at its end,
by ID).

```sh
python -m benchmarks.physicell.exposure rules_sample 48 72 \
    benchmarks/physicell/build/samples/rules_sample/runs/2d/physicell-seed1-dt0.001-4320min/output \
    benchmarks/physicell/build/samples/rules_sample/runs/2d/tissue-seed1-dt0.1-4320min/run/run.h5
```

rules_sample's M1 macrophages turn M2 at 1e-3/min below 5 mmHg of oxygen and 1e-4/min
above (its rule: decreasing with oxygen, half-max 5, Hill 8): where tissue makes fewer M2
macrophages per M1-hour than PhysiCell, this says whether its M1 macrophages see more
oxygen (the predicted changes differ as the counted ones do) or turn less in the same
oxygen (they do not). ``rules_sample_m0``: its M0 macrophages turn M1 at up to 0.05/min
by necrotic debris (increasing, half-max 0.005, Hill 4), a change fast enough (up to 95% in
an hour) that the hour's start predicts it poorly. A cell's voxel is the one whose centre
is nearest (PhysiCell's ``nearest_density_vector``); the field's values are the output's
``_microenvironment0.mat``, its row by the XML's variable list.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.physicell.eating import command, hour
from tissue.io.multicellds import Output, read_mat4


@dataclass(frozen=True)
class Exposure:
    """A cell type, the field it reads, the rule's rate of it (1/min) and the type the
    rule changes it to."""

    cell_type: str
    field: str
    rate: Callable[[np.ndarray], np.ndarray]
    target: str
    below: float  # report the share of cell-hours with the field below this


SAMPLES = {
    "rules_sample": Exposure(
        "M1 macrophage",
        "oxygen",
        lambda o2: 1e-3 + (1e-4 - 1e-3) * o2**8 / (5.0**8 + o2**8),
        "M2 macrophage",
        5.0,
    ),
    "rules_sample_m0": Exposure(
        "M0 macrophage",
        "necrotic debris",
        lambda debris: 0.05 * debris**4 / (0.005**4 + debris**4),
        "M1 macrophage",
        0.005,
    ),
}


def field_at(folder: Path, h: int, field: str, positions: np.ndarray) -> np.ndarray:
    """(n,) values of ``field`` at the voxels nearest ``positions`` (n, 3) um in the output
    of hour ``h``."""
    root = ET.parse(folder / f"output{h:08d}.xml").getroot()
    names = [v.attrib["name"] for v in root.iter("variable")]
    if field not in names:
        raise ValueError(f"{folder}: hour {h} has no field {field!r}; fields: {names}")
    _, table = read_mat4(folder / f"output{h:08d}_microenvironment0.mat")
    centres, values = table[:3], table[4 + names.index(field)]
    index = np.zeros(len(positions), dtype=np.int64)
    stride = 1
    for axis in range(3):  # a regular grid, x fastest (BioFVM's order)
        ticks = np.unique(centres[axis])
        step = ticks[1] - ticks[0] if ticks.size > 1 else 1.0
        i = np.clip(np.rint((positions[:, axis] - ticks[0]) / step), 0, ticks.size - 1)
        index += i.astype(np.int64) * stride
        stride *= ticks.size
    return values[index]


def live_of(out: Output, name: str) -> np.ndarray:
    """(n,) bool: the output's live cells of type ``name``."""
    kind = np.array([out.cell_types.get(int(t), "") for t in out.columns["cell_type"]])
    return (kind == name) & (out.columns["dead"] == 0)


def hourly(sample: str, folder: Path, first: int, last: int) -> dict[str, float]:
    """Totals over hours [first, last): cell-hours of the type, their mean field value and
    share below ``below``, the changes the rule predicts and those counted."""
    spec = SAMPLES[sample]
    hours = predicted = gained = below = total = 0.0
    now = hour(folder, first)
    for h in range(first, last):
        nxt = hour(folder, h + 1)
        mine = live_of(now, spec.cell_type)
        values = field_at(folder, h, spec.field, now.columns["position"][mine])
        hours += float(mine.sum())
        total += float(values.sum())
        below += float((values < spec.below).sum())
        predicted += float((-np.expm1(-spec.rate(values) * 60.0)).sum())
        became = nxt.columns["ID"][live_of(nxt, spec.target)]
        gained += float(np.isin(now.columns["ID"][mine], became).sum())
        now = nxt
    return {
        "cell_hours": hours,
        "mean_field": total / hours if hours else math.nan,
        "share_below": below / hours if hours else math.nan,
        "predicted_changes": predicted,
        "changes_counted": gained,
    }


def main() -> None:
    command(__doc__.split("\n\n")[0], SAMPLES, hourly)


if __name__ == "__main__":
    main()
