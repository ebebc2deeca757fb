"""How fast each code clears dead cells, per contact: for PhysiCell output folders and
tissue runs (``run.h5``, read through ``tissue export-physicell``'s writer), hour by hour,
the live eaters touching a dead cell of the target type, the eating their contacts at the
start of the hour predict, and the dead cells actually gone by its end.

```sh
python -m benchmarks.physicell.eating rules_sample 36 72 \
    benchmarks/physicell/build/samples/rules_sample/runs/2d/physicell-seed1/output \
    benchmarks/physicell/build/samples/rules_sample/runs/2d/tissue-seed3-dt0.1/run/run.h5
```

Contact is PhysiCell's neighbour test, closer than the sum of the two cells' adhesion
reaches (``relative_maximum_adhesion_distance`` times the radius of the output's volume; 1.5
where the output has no such column, tissue's export: every rules_sample type's value). The
predicted eating of an eater with n dead neighbours in an hour is 1 - exp(-r 60 n), r its
rate after the sample's volume rule (rules_sample: 0.01/min, halved at 6,000 um^3, Hill 4),
with the contacts held as they are at the hour's start; a ratio of gone to predicted
that agrees between the codes says their eating per contact agrees, and the macrophage-hours
in contact say how often their eaters reach the dead cells.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from tissue.io.multicellds import Output, export_physicell, read_output

SAMPLES = {  # sample -> eater types, the dead cells' type, the eaters' rate (volume um^3)
    "rules_sample": (
        ("M0 macrophage", "M1 macrophage", "M2 macrophage"),
        "malignant epithelial cell",
        lambda volume: 0.01 / (1.0 + (volume / 6000.0) ** 4),
    ),
}


def outputs(source: Path, workdir: Path) -> Path:
    """The folder of PhysiCell output for ``source``: itself, or a tissue run exported."""
    if source.suffix != ".h5":
        return source
    folder = workdir / source.parent.parent.name
    export_physicell(source, folder, overwrite=True)
    return folder


def hour(folder: Path, h: int) -> Output:
    """The output of hour ``h`` (hourly outputs, as the samples write)."""
    return read_output(folder / f"output{h:08d}.xml")


def hourly(sample: str, folder: Path, first: int, last: int) -> dict[str, float]:
    """Totals over hours [first, last): eater-hours in contact, predicted eating, dead
    cells gone."""
    eaters, target, rate = SAMPLES[sample]
    touching = predicted = gone = 0.0
    now = hour(folder, first)
    for h in range(first, last):
        nxt = hour(folder, h + 1)
        c, names = now.columns, now.cell_types
        kind = np.array([names.get(int(t), "") for t in c["cell_type"]])
        dead = c["dead"] > 0
        volume = c["total_volume"]
        reach = c.get("relative_maximum_adhesion_distance", 1.5) * np.cbrt(
            3.0 * volume / (4.0 * math.pi)
        )
        eater = np.isin(kind, eaters) & ~dead
        prey = (kind == target) & dead
        gap = c["position"][eater][:, None, :] - c["position"][prey][None, :, :]
        touch = np.linalg.norm(gap, axis=2) < reach[eater][:, None] + reach[prey][None, :]
        n = touch.sum(axis=1)
        touching += float((n > 0).sum())
        predicted += float((1.0 - np.exp(-rate(volume[eater]) * 60.0 * n)).sum())
        gone += float((~np.isin(c["ID"][prey], nxt.columns["ID"])).sum())
        now = nxt
    return {"eater_hours_touching": touching, "predicted_eaten": predicted, "gone": gone,
            "gone_over_predicted": gone / predicted if predicted else math.nan}  # fmt: skip


def command(
    description: str, samples: Iterable[str], totals: Callable[[str, Path, int, int], dict]
) -> None:
    """The command line of an hourly analysis: SAMPLE FIRST_HOUR LAST_HOUR SOURCES...,
    one JSON line of ``totals(sample, folder, first, last)`` per source."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("sample", choices=sorted(samples))
    parser.add_argument("first_hour", type=int)
    parser.add_argument("last_hour", type=int)
    parser.add_argument("sources", nargs="+", type=Path, help="output folders or run.h5 files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for source in args.sources:
            folder = outputs(source, Path(work))
            found = totals(args.sample, folder, args.first_hour, args.last_hour)
            print(json.dumps({"source": str(source), **found}))


def main() -> None:
    command(__doc__.split("\n\n")[0], SAMPLES, hourly)


if __name__ == "__main__":
    main()
