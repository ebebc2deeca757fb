"""Does CUDA graph capture pay for the solver's W-cycle, and does it keep the bits?

The preconditioner (one W-cycle of :class:`tissue.solver.Hierarchy`) is a fixed sequence of
kernels on fixed buffers: about 7 launches a level visit, 2^k visits of level k, so at small
sizes its time is launch latency. Here it runs both ways on the oxygen box of
:mod:`benchmarks.bench_diffusion` (n^3 voxels):

- eager: ``Hierarchy.precondition`` as the solver calls it;
- graph: the right-hand side copied into the cycle's input buffer, then one launch of a CUDA
  graph captured from the same cycle (CuPy stream capture, its temporaries in a memory pool
  of the graph's own, so no later array can take their addresses).

Each size records both times, their ratio and whether the two outputs are the same bits. On
the CPU there is no graph: the eager time is recorded and the graph is marked as not run.
This is a measurement for the first GPU window; the solver does not use graphs yet.

    python -m benchmarks.bench_graph --backend gpu --sizes 32,64,128,256
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.bench_diffusion import ORGAN, build, diffusion_scenario
from benchmarks.common import (
    Column,
    Table,
    failure_of,
    finish,
    make_parser,
    make_timer,
    ms,
    open_backend,
    result_header,
)
from tissue.backend import Backend

SIZES = {"cpu": [16, 32], "gpu": [32, 64, 128, 256]}
WARMUP = {"cpu": 1, "gpu": 5}
REPEATS = {"cpu": 3, "gpu": 30}
DT = np.float32(1.0)  # min: the scenario's diffusion step


def case(backend: Backend, timer: Any, n: int) -> dict[str, Any]:
    """Eager and graph W-cycles on the n^3 box (see the module docstring)."""
    xp = backend.xp
    sim = build(backend, diffusion_scenario(n))
    fields = sim.organs[ORGAN].fields
    hierarchy = fields._hierarchy
    hierarchy.set_step(DT, xp.float32(1) + DT * fields._decay)
    rng = np.random.default_rng(n)
    r = xp.asarray(rng.normal(size=hierarchy.levels[0].shape).astype(np.float32))
    r = xp.where(hierarchy.levels[0].free, r, np.float32(0))
    row: dict[str, Any] = {"side": n, "voxels": n**3, "levels": len(hierarchy.levels)}
    want = hierarchy.precondition(r, DT).copy()
    row["eager"] = timer.time(lambda: hierarchy.precondition(r, DT)).to_dict()
    if not backend.is_gpu:
        row["graph"] = {"status": "not run: CUDA graphs need the GPU backend"}
        return row
    try:
        graph, out, pool = capture(xp, hierarchy)
    except Exception as error:  # a capture CuPy or the driver refuses is a result here
        status, message = failure_of(error)
        row["graph"] = {"status": status, "error": message}
        return row
    entry = hierarchy._buffers[0].rhs

    def replay() -> None:
        entry[...] = r
        graph.launch()

    replay()
    xp.cuda.get_current_stream().synchronize()
    same = bool(xp.array_equal(out, want))
    timing = timer.time(replay).to_dict()
    row["graph"] = {"status": "ok", "same_bits": same, **timing}
    row["speedup"] = row["eager"]["median_s"] / timing["median_s"]
    del pool  # the graph's memory lives as long as the graph is replayed
    return row


def capture(cupy: Any, hierarchy: Any) -> tuple[Any, Any, Any]:
    """A CUDA graph of one W-cycle from the finest input buffer, its output array and the
    memory pool its temporaries live in (keep it while the graph is replayed)."""
    pool = cupy.cuda.MemoryPool()  # the graph's temporaries: nothing else allocates here
    stream = cupy.cuda.Stream(non_blocking=True)
    with cupy.cuda.using_allocator(pool.malloc), stream:
        stream.begin_capture()
        try:
            out = hierarchy._cycle(0, DT)
        finally:
            graph = stream.end_capture()
    return graph, out, pool


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(__doc__.split("\n\n")[0], "box sides n (n^3 voxels)")
    args = parser.parse_args(argv)
    backend = open_backend(args.backend)
    timer = make_timer(backend, args, WARMUP, REPEATS)
    result = result_header("graph", backend, timer)
    rows = []
    for n in args.sizes or SIZES[backend.name]:
        try:
            rows.append(case(backend, timer, n))
        except Exception as error:
            status, message = failure_of(error)
            rows.append({"side": n, "status": status, "error": message})
    result["cases"] = rows
    return finish(result, args, ok=all("status" not in row for row in rows))


def summary_tables(result: dict[str, Any]) -> list[Table]:
    columns = [
        Column("n^3", "side", "{}^3"),
        Column("levels", "levels"),
        Column("eager W-cycle", "eager.median_s", ms),
        Column("graph", lambda row: row.get("graph", {}).get("median_s"), ms),
        Column("speedup", "speedup", "{:.1f}x"),
        Column("same bits", lambda row: row.get("graph", {}).get("same_bits")),
        Column("graph status", lambda row: row.get("graph", {}).get("status")),
    ]
    return [Table("One W-cycle of the solver's preconditioner", columns, result["cases"])]


def summary_notes(result: dict[str, Any]) -> list[str]:
    return ["Eager: Hierarchy.precondition; graph: the input copy and one graph launch."]


if __name__ == "__main__":
    sys.exit(main())
