"""Memory benchmark: bytes per voxel (fields) and per cell, as the engine holds them.

Cases, each a fresh :class:`tissue.simulation.Simulation` built and stepped (two diffusion
steps, and for cells a few mechanics and phenotype steps), measured on its backend:

- ``fields``: the diffusion benchmark's box (N^3 voxels of 20 um) with 1 and with 3 fields;
  bytes per voxel of the whole simulation, and per voxel for each field after the first;
- ``cells``: the cell benchmark's random motile cells (N cells, 3000 um^3 each), minus the
  same box without cells; bytes per cell.

Measured: on the CPU ``tracemalloc`` (NumPy reports its array buffers to it) from before the
build: ``live`` = traced bytes after the steps, ``peak`` = the most traced at any moment. On
the GPU CuPy's memory pool after freeing its cached blocks: ``live`` = bytes in use after the
steps, ``peak`` = bytes the pool holds (it keeps every block it allocated, so this is the
high-water mark). Python objects are counted on the CPU too; they are small next to arrays.
"""

from __future__ import annotations

import copy
import sys
import tracemalloc
from collections.abc import Sequence
from typing import Any

from benchmarks.bench_cells import cells_scenario
from benchmarks.bench_diffusion import diffusion_scenario
from benchmarks.common import (
    Column,
    Table,
    Timer,
    finish,
    free_device_memory,
    make_parser,
    open_backend,
    result_header,
)
from tissue.backend import Backend
from tissue.config import scenario_from_dict
from tissue.simulation import Simulation

DEFAULT_SIZES = {
    "cpu": {"voxels_n": 64, "cells": 100_000},
    "gpu": {"voxels_n": 256, "cells": 10**7},
}
CELL_TICKS = 12  # mechanics and phenotype steps of the cells case (dt 0.1 min)
BIOFVM_BYTES_PER_VOXEL = 630  # the figure (5.1 GB at 200^3), not measured here


def fields_scenario(n: int, fields: int) -> dict[str, Any]:
    """The diffusion benchmark's n^3 box with ``fields`` copies of its field."""
    data = diffusion_scenario(n)
    ((name, config),) = data["fields"].items()
    data["fields"] = {f"{name}{i}" if i else name: copy.deepcopy(config) for i in range(fields)}
    return data


class Meter:
    """Live and peak bytes of arrays allocated on one backend while it is open."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __enter__(self) -> Meter:
        free_device_memory(self.backend)
        if not self.backend.is_gpu:
            tracemalloc.start()
        return self

    def read(self) -> dict[str, int]:
        """``live`` and ``peak`` bytes so far."""
        if self.backend.is_gpu:
            self.backend.synchronize()
            pool = self.backend.xp.get_default_memory_pool()
            return {"live": int(pool.used_bytes()), "peak": int(pool.total_bytes())}
        live, peak = tracemalloc.get_traced_memory()
        return {"live": int(live), "peak": int(peak)}

    def __exit__(self, *exc: object) -> None:
        if not self.backend.is_gpu:
            tracemalloc.stop()


def measure(backend: Backend, scenario: dict[str, Any], ticks: int) -> dict[str, int]:
    """Bytes of a simulation of ``scenario`` built and advanced ``ticks`` ticks."""
    with Meter(backend) as meter:
        sim = Simulation(scenario_from_dict(scenario, "benchmarks/bench_memory.py"), backend)
        sim.step(ticks)
        out = meter.read()
        del sim
    free_device_memory(backend)
    return out


def fields_case(backend: Backend, n: int) -> dict[str, Any]:
    """Bytes per voxel with 1 and 3 fields, and per voxel per extra field."""
    voxels = n**3
    measure(backend, fields_scenario(n, 1), 2)  # one-time imports and caches stay out
    one, three = (measure(backend, fields_scenario(n, k), 2) for k in (1, 3))
    return {
        "n": n,
        "voxels": voxels,
        "bytes": {"1_field": one, "3_fields": three},
        "bytes_per_voxel": {
            "1_field": {k: v / voxels for k, v in one.items()},
            "3_fields": {k: v / voxels for k, v in three.items()},
            "per_extra_field": {k: (three[k] - one[k]) / 2 / voxels for k in one},
        },
    }


def cells_case(backend: Backend, cells: int) -> dict[str, Any]:
    """Bytes per cell: N cells minus the same box without cells."""
    with_cells = cells_scenario(cells)
    without = copy.deepcopy(with_cells)
    without["initial_cells"][0]["count"] = 0
    measure(backend, without, CELL_TICKS)  # one-time imports and caches stay out
    full, empty = (measure(backend, s, CELL_TICKS) for s in (with_cells, without))
    return {
        "cells": cells,
        "bytes": {"with_cells": full, "without_cells": empty},
        "bytes_per_cell": {k: (full[k] - empty[k]) / cells for k in full},
    }


def summary_tables(result: dict[str, Any]) -> list[Table]:
    """Bytes per voxel (fields) and per cell, held and at peak."""
    rows: list[dict[str, Any]] = []
    f = result.get("fields", {})
    if "bytes_per_voxel" in f:
        per = f["bytes_per_voxel"]
        for key, label in (("1_field", "1 field"), ("3_fields", "3 fields"),
                           ("per_extra_field", "each field after the first")):  # fmt: skip
            rows.append({"case": f"{f['n']}^3 box, {label}", "per": "voxel", **per[key]})
    c = result.get("cells", {})
    if "bytes_per_cell" in c:
        rows.append({"case": f"{c['cells']:,} cells", "per": "cell", **c["bytes_per_cell"]})
    for name in ("fields", "cells"):
        if "error" in result.get(name, {}):
            rows.append({"case": name, "error": result[name]["error"]})
    columns = [
        Column("case", "case"),
        Column("per", "per"),
        Column("bytes held", "live", "{:.0f}"),
        Column("bytes at peak", "peak", "{:.0f}"),
    ]
    return [Table("Memory", columns, rows)]


def summary_notes(result: dict[str, Any]) -> list[str]:
    """Lines under the table: method and the BioFVM reference."""
    how = "CuPy memory pool" if result["backend"] == "gpu" else "tracemalloc"
    return [
        f"Measured with {how} (see bench_memory.py); held = after the steps, peak = the most "
        "at any moment.",
        f"Reference (not measured here): BioFVM ~{BIOFVM_BYTES_PER_VOXEL} bytes per voxel with "
        "one substrate (5.1 GB at 200^3; the issue's figure).",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON; returns the exit code."""
    parser = make_parser(__doc__.splitlines()[0], "N of the N^3 box and the cell count: N,CELLS")
    args = parser.parse_args(argv)
    backend = open_backend(args.backend)
    sizes = DEFAULT_SIZES[backend.name]
    if args.sizes:
        if len(args.sizes) != 2:
            print("error: --sizes: give N,CELLS (e.g. 64,1e5)", file=sys.stderr)
            return 2
        sizes = {"voxels_n": args.sizes[0], "cells": args.sizes[1]}
    result = result_header("memory", backend, Timer(backend, 0, 1))
    result["timing"] = {"method": "not timed: bytes only"}
    result["settings"] = {**sizes, "cell_ticks": CELL_TICKS}
    result["reference_biofvm_bytes_per_voxel"] = BIOFVM_BYTES_PER_VOXEL
    ok = True
    for name, run in (("fields", lambda: fields_case(backend, sizes["voxels_n"])),
                      ("cells", lambda: cells_case(backend, sizes["cells"]))):  # fmt: skip
        print(f"{name} ...", flush=True)
        try:
            result[name] = run()
        except Exception as error:
            result[name] = {"error": f"{type(error).__name__}: {error}"}
            ok = False
        free_device_memory(backend)
    return finish(result, args, ok)


if __name__ == "__main__":
    sys.exit(main())
