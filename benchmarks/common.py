"""The benchmark harness: command line, timing, environment record and JSON results.

Timing: every case is warmed up first (kernel compilation, caches, memory pools stay out of
the numbers), then run ``repeats`` times; each sample is one call. On the GPU a sample is the
time between two CUDA events recorded on the current stream around the call (the host
synchronizes on the end event only after recording it); on the CPU it is
``time.perf_counter`` around the call. A ``setup`` callable runs before each sample, outside
the timed region (on the GPU its work is queued before the start event).

Results: one JSON file per benchmark, backend and device,
``benchmarks/results/<bench>-<backend>-<device-slug>.json`` (overwritten), holding the
device, git commit, date, library versions, settings, cases, timings (seconds) and derived
rates. ``python -m benchmarks.common --table`` prints every result file as markdown.

Tables: each ``bench_<name>`` module declares its tables as data (``summary_tables``: a list
of :class:`Table`, each a title, :class:`Column` specs and result rows) and its notes
(``summary_notes``); :func:`render` writes them, with the formatters here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tissue.backend import Backend, get_backend
from tissue.errors import InputError

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCHEMA_VERSION = 1
# module benchmarks.bench_<name> renders each result
BENCHMARKS = ("diffusion", "cells", "scenarios", "memory", "pypde")


# --- timing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Samples (seconds per call) of one timed region and their summary statistics."""

    samples_s: tuple[float, ...]
    host_usage: dict[str, float] | None = None

    @property
    def median_s(self) -> float:
        """Median seconds per call."""
        return statistics.median(self.samples_s)

    def to_dict(self) -> dict[str, Any]:
        """Median, min, max, quartiles (s) and the raw samples (s)."""
        samples = np.asarray(self.samples_s, dtype=np.float64)
        q1, q3 = np.percentile(samples, [25.0, 75.0])
        return {
            "median_s": float(np.median(samples)),
            "min_s": float(samples.min()),
            "max_s": float(samples.max()),
            "q1_s": float(q1),
            "q3_s": float(q3),
            "repeats": len(self.samples_s),
            "samples_s": [float(s) for s in self.samples_s],
            **({"host_usage_per_call": self.host_usage} if self.host_usage else {}),
        }


class Timer:
    """Times callables on one backend: CUDA events on the GPU, ``perf_counter`` on the CPU.

    Args:
        backend: the backend whose work is timed.
        warmup: untimed calls before the samples.
        repeats: timed samples (one call each).
    """

    def __init__(self, backend: Backend, warmup: int, repeats: int) -> None:
        if warmup < 0 or repeats < 1:
            raise ValueError(f"need warmup >= 0 and repeats >= 1, got {warmup}, {repeats}")
        self.backend = backend
        self.warmup = warmup
        self.repeats = repeats

    @property
    def method(self) -> str:
        """How a sample is taken, for the JSON record."""
        if self.backend.is_gpu:
            return (
                "cupy.cuda.Event record before and after one call on the current stream, "
                "end.synchronize(), cupy.cuda.get_elapsed_time (device time, launch gaps "
                "included); setup queued before the start event"
            )
        return "time.perf_counter around one call; setup outside the timed region"

    def time(
        self,
        fn: Callable[[], Any],
        setup: Callable[[], Any] | None = None,
        repeats: int | None = None,
        warmup: int | None = None,
    ) -> Timing:
        """Warm up, then time ``repeats`` calls of ``fn`` (``setup`` before each, untimed)."""
        repeats = self.repeats if repeats is None else repeats
        warmup = self.warmup if warmup is None else warmup
        for _ in range(warmup):
            if setup is not None:
                setup()
            fn()
        if self.backend.is_gpu:
            return Timing(tuple(self._gpu_samples(fn, setup, repeats)))
        before = resource.getrusage(resource.RUSAGE_SELF)
        samples = self._cpu_samples(fn, setup, repeats)
        after = resource.getrusage(resource.RUSAGE_SELF)
        usage = {  # per call, setup included: where a CPU call spends its time
            "user_s": (after.ru_utime - before.ru_utime) / repeats,
            "system_s": (after.ru_stime - before.ru_stime) / repeats,
            "minor_page_faults": (after.ru_minflt - before.ru_minflt) / repeats,
        }
        return Timing(tuple(samples), usage)

    @staticmethod
    def _cpu_samples(
        fn: Callable[[], Any], setup: Callable[[], Any] | None, repeats: int
    ) -> list[float]:
        samples = []
        for _ in range(repeats):
            if setup is not None:
                setup()
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return samples

    def _gpu_samples(
        self, fn: Callable[[], Any], setup: Callable[[], Any] | None, repeats: int
    ) -> list[float]:
        cupy = self.backend.xp
        cupy.cuda.get_current_stream().synchronize()
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        samples = []
        for _ in range(repeats):
            if setup is not None:
                setup()
            start.record()
            fn()
            end.record()
            end.synchronize()
            samples.append(cupy.cuda.get_elapsed_time(start, end) / 1e3)
        return samples


def copy_ceiling(backend: Backend, timer: Timer, nbytes: int) -> dict[str, Any]:
    """Measured memory-bandwidth ceiling: a large copy, counting bytes read + written.

    GPU: a device-to-device ``cudaMemcpyAsync`` and CuPy's elementwise ``copyto`` of
    ``nbytes`` (well above the L2 cache); the faster is the ceiling. CPU: ``np.copyto`` on one
    thread (NumPy's elementwise kernels are single-threaded too).

    Returns:
        dict with ``bytes_per_s`` (the ceiling, B/s), the copy size and each variant's timing.
    """
    out = _time_copies(backend, timer, nbytes)
    free_device_memory(backend)  # the buffers died with _time_copies
    out["bytes_per_s"] = max(v["bytes_per_s"] for v in out["variants"].values())
    out["counted"] = "bytes read + bytes written (2 x bytes_copied) per copy"
    return out


def _time_copies(backend: Backend, timer: Timer, nbytes: int) -> dict[str, Any]:
    xp = backend.xp
    source = xp.arange(nbytes // 4, dtype=xp.float32)
    source += xp.float32(1)  # never time on zeros
    target = xp.empty_like(source)
    variants: dict[str, Callable[[], Any]] = {"copyto": lambda: xp.copyto(target, source)}
    if backend.is_gpu:
        variants["memcpy_d2d"] = lambda: target.data.copy_from_device_async(
            source.data, source.nbytes
        )
    out: dict[str, Any] = {"bytes_copied": int(source.nbytes), "variants": {}}
    for name, fn in variants.items():
        target.fill(xp.float32(-1))
        timing = timer.time(fn)
        if not bool((target == source).all()):
            raise RuntimeError(f"copy ceiling: {name} did not reproduce its source")
        out["variants"][name] = {
            **timing.to_dict(),
            "bytes_per_s": 2 * source.nbytes / timing.median_s,
        }
    return out


def free_device_memory(backend: Backend) -> None:
    """Return CuPy's pooled blocks to the device (no-op on the CPU)."""
    if backend.is_gpu:
        backend.synchronize()
        backend.xp.get_default_memory_pool().free_all_blocks()


def device_memory_free(backend: Backend) -> int | None:
    """Free device memory in bytes (after releasing the pool), or None on the CPU."""
    if not backend.is_gpu:
        return None
    free_device_memory(backend)
    return int(backend.xp.cuda.Device().mem_info[0])


def is_out_of_memory(error: BaseException) -> bool:
    """True for a host MemoryError or CuPy's OutOfMemoryError (checked by name: CuPy is
    not imported on the CPU)."""
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"


def failure_of(error: Exception) -> tuple[str, str]:
    """A failed case's (kind, why): ("skipped", ...) when it ran out of memory, else
    ("error", ...) with the traceback printed to stderr."""
    if is_out_of_memory(error):
        return "skipped", f"out of memory ({type(error).__name__})"
    traceback.print_exc()
    return "error", f"{type(error).__name__}: {error}"


def run_cases(
    backend: Backend,
    sizes: Sequence[int],
    run_one: Callable[[int], dict[str, Any]],
    device_bytes: Callable[[int], int],
    size_key: str = "n",
) -> tuple[list[dict[str, Any]], bool]:
    """Run ``run_one(size)`` for each size and collect the case dicts.

    A size whose estimated device memory ``device_bytes(size)`` (bytes) exceeds 80% of the
    free memory, or that runs out of memory, is recorded as skipped; any other error is
    recorded (traceback on stderr) and the remaining sizes still run.

    Returns:
        the cases and whether none failed (skips are not failures).
    """
    cases: list[dict[str, Any]] = []
    all_ok = True
    for size in sizes:
        free = device_memory_free(backend)
        need = device_bytes(size)
        if free is not None and need > 0.8 * free:
            why = f"needs ~{need / 1e9:.1f} GB, {free / 1e9:.1f} GB free"
            print(f"{size_key}={size:,}: skipped ({why})", flush=True)
            cases.append({size_key: size, "skipped": why})
            continue
        print(f"{size_key}={size:,}: timing ...", flush=True)
        failure: tuple[str, str] | None = None
        try:
            cases.append(run_one(size))  # the case's arrays die when run_one returns
        except Exception as error:
            failure = failure_of(error)
        free_device_memory(backend)  # outside the except block: a traceback holds arrays
        if failure is not None:
            print(f"{size_key}={size:,}: {failure[0]}: {failure[1]}", flush=True)
            cases.append({size_key: size, failure[0]: failure[1]})
            all_ok = all_ok and failure[0] == "skipped"
    return cases, all_ok


# --- environment ----------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform.processor() as a fallback)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def device_info(backend: Backend) -> dict[str, Any]:
    """What the benchmark ran on: the CPU model and cores, or the GPU's name and memory."""
    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "host": platform.node(),
    }
    if not backend.is_gpu:
        info["kind"] = "cpu"
        info["name"] = info["cpu_model"]
        return info
    cupy = backend.xp
    device = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(device.id)
    info.update(
        kind="gpu",
        name=backend.device_name,
        device_index=int(device.id),
        total_memory_bytes=int(device.mem_info[1]),
        multiprocessors=props.get("multiProcessorCount"),
        compute_capability=f"{props.get('major')}.{props.get('minor')}",
        l2_cache_bytes=props.get("l2CacheSize"),
        cuda_driver_version=int(cupy.cuda.runtime.driverGetVersion()),
        cuda_runtime_version=int(cupy.cuda.runtime.runtimeGetVersion()),
    )
    return info


def device_slug(info: dict[str, Any]) -> str:
    """File-name form of the device: ``nvidia-h100-80gb-hbm3`` or ``amd-epyc-2cpu``."""
    name = str(info.get("name", "unknown"))
    name = re.sub(r"\((r|tm)\)", "", name, flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown"
    if info.get("kind") == "cpu":
        slug += f"-{info.get('usable_cores') or info.get('logical_cores')}cpu"
    return slug


def git(*args: str, cwd: Path = REPO_ROOT) -> str | None:
    """The output of ``git args`` run in ``cwd``; None where git fails or is absent."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_info() -> dict[str, Any]:
    """Commit of the working tree and whether it differs from it (untracked files count;
    the results, the READMEs and docs/ do not).

    Where there is no git checkout (a copied tree), ``TISSUE_GIT_COMMIT`` names the commit.
    """
    commit = git("rev-parse", "HEAD")
    if commit is not None:
        status = git("status", "--porcelain", "--", ".", ":(exclude)benchmarks/results",
                     ":(exclude)benchmarks/README.md", ":(exclude)README.md",
                     ":(exclude)docs")  # fmt: skip
        return {
            "commit": commit.strip(),
            "dirty": None if status is None else bool(status.strip()),
            "source": "git",
        }
    env = os.environ.get("TISSUE_GIT_COMMIT")
    if env:
        return {"commit": env, "dirty": None, "source": "TISSUE_GIT_COMMIT"}
    return {"commit": "unknown", "dirty": None, "source": "no git checkout"}


def load_average() -> list[float] | None:
    """The host's 1, 5 and 15 minute load averages (other work competing for the cores)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def versions(backend: Backend) -> dict[str, str | None]:
    """Python, NumPy and (on the GPU backend) CuPy versions."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cupy": str(backend.xp.__version__) if backend.is_gpu else None,
    }


def result_header(benchmark: str, backend: Backend, timer: Timer) -> dict[str, Any]:
    """The common part of a result: what ran, where, when and how it was timed."""
    return {
        "benchmark": benchmark,
        "schema_version": SCHEMA_VERSION,
        "backend": backend.name,
        "device": device_info(backend),
        "git": git_info(),
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": versions(backend),
        "host_load_average_at_start": load_average(),
        "command": " ".join(
            [Path(sys.executable).name, "-m", f"benchmarks.bench_{benchmark}", *sys.argv[1:]]
        ),
        "timing": {
            "method": timer.method,
            "warmup": timer.warmup,
            "repeats": timer.repeats,
            "statistic": "median over repeats; spread as min/max and quartiles q1/q3",
        },
    }


def write_result(result: dict[str, Any], out_dir: Path = RESULTS_DIR) -> Path:
    """Write ``result`` to ``<out_dir>/<bench>-<backend>-<device-slug>.json`` (overwrite)."""
    result["host_load_average_at_end"] = load_average()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (
        f"{result['benchmark']}-{result['backend']}-{device_slug(result['device'])}.json"
    )
    path.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    return path


def finish(result: dict[str, Any], args: argparse.Namespace, ok: bool) -> int:
    """Write ``result`` (unless ``--no-write``), print its tables; the exit code (0 if ok)."""
    path = None if args.no_write else write_result(result, args.out_dir)
    print_result(result, path)
    return 0 if ok else 1


# --- command line ---------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    """``"1e4,1e5"`` or ``"64,128"`` -> [10000, 100000] / [64, 128]."""
    try:
        sizes = [int(float(part)) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return sizes


def make_parser(description: str, size_help: str) -> argparse.ArgumentParser:
    """Arguments every benchmark takes: backend, sizes, warm-up, repeats, output folder."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backend", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--sizes", type=parse_sizes, default=None, help=size_help)
    parser.add_argument("--warmup", type=int, default=None, help="untimed calls per case")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per case")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="JSON folder")
    parser.add_argument("--no-write", action="store_true", help="print only, write no JSON")
    return parser


def make_timer(
    backend: Backend, args: argparse.Namespace, warmup: dict[str, int], repeats: dict[str, int]
) -> Timer:
    """The Timer of a run: ``--warmup`` and ``--repeats`` or the backend's defaults."""
    return Timer(
        backend,
        warmup[backend.name] if args.warmup is None else args.warmup,
        repeats[backend.name] if args.repeats is None else args.repeats,
    )


def open_backend(name: str) -> Backend:
    """The backend named ``cpu`` or ``gpu``; exits with code 2 and one line if unavailable."""
    try:
        return get_backend(name)  # type: ignore[arg-type]
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


# --- tables ---------------------------------------------------------------------------


Row = Mapping[str, Any]


def si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """``2.3e7`` -> ``"23.0 M"`` + unit; None -> ``"-"``."""
    if value is None or not np.isfinite(value):
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}".rstrip()
    return f"{value:.{digits}g} {unit}".rstrip()


def ms(seconds: float | None) -> str:
    """Seconds as milliseconds with 3 significant digits."""
    return "-" if seconds is None else f"{seconds * 1e3:.3g}"


def spread_ms(timing: Row) -> str:
    """``median [min-max]`` of a timing dict, in ms."""
    return f"{ms(timing['median_s'])} [{ms(timing['min_s'])}-{ms(timing['max_s'])}]"


def spread_s(timing: Row) -> str:
    """``median [min-max]`` of a timing dict, in s."""
    return f"{timing['median_s']:.3g} [{timing['min_s']:.3g}-{timing['max_s']:.3g}]"


def format_value(value: Any, fmt: str | Callable[[Any], str] = "{}", missing: str = "-") -> str:
    """``value`` through a format string (``"{:.3g}"``) or a function; None -> ``missing``."""
    if value is None:
        return missing
    return fmt(value) if callable(fmt) else fmt.format(value)


def lookup(row: Row, path: str) -> Any:
    """The value at a dotted ``path`` of a result dict (``"step.median_s"``, list items by
    index: ``"to_tolerance.0.steps"``); None where a key is absent."""
    value: Any = row
    for key in path.split("."):
        if value is None:
            return None
        value = value[int(key)] if isinstance(value, list) else value.get(key)
    return value


def failure(row: Row) -> str | None:
    """``"skipped: why"`` or ``"error: why"`` for a case that did not run, else None."""
    for key in ("skipped", "error"):
        if key in row:
            return f"{key}: {row[key]}"
    return None


@dataclass(frozen=True)
class Column:
    """One table column: its header, where a row keeps its value (a dotted path, see
    :func:`lookup`, or a function of the row) and how the value reads (see
    :func:`format_value`)."""

    header: str
    value: str | Callable[[Row], Any]
    fmt: str | Callable[[Any], str] = "{}"
    missing: str = "-"

    def cell(self, row: Row) -> str:
        """The text of this column's cell in ``row``."""
        value = self.value(row) if callable(self.value) else lookup(row, self.value)
        return format_value(value, self.fmt, self.missing)


@dataclass(frozen=True)
class Table:
    """A titled table of result rows (dicts). A row of a case that did not run (see
    :func:`failure`) shows its first ``lead`` cells, then the reason, then blanks."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Row]
    lead: int = 1

    def cells(self, row: Row) -> list[str]:
        """The texts of one row's cells."""
        reason = failure(row)
        if reason is None:
            return [column.cell(row) for column in self.columns]
        blanks = [""] * (len(self.columns) - self.lead - 1)
        return [column.cell(row) for column in self.columns[: self.lead]] + [reason, *blanks]

    def markdown(self) -> str:
        """The title, a blank line and a GitHub markdown table."""
        headers = [column.header for column in self.columns]
        lines = [self.title, "", "| " + " | ".join(headers) + " |"]
        lines.append("|" + "|".join(" --- " for _ in headers) + "|")
        lines += ["| " + " | ".join(self.cells(row)) + " |" for row in self.rows]
        return "\n".join(lines)


def describe(result: dict[str, Any]) -> str:
    """One line: device, backend, commit, date, host load."""
    git = result["git"]
    dirty = {True: " (dirty tree)", False: "", None: ""}[git.get("dirty")]
    load = result.get("host_load_average_at_start")
    cores = result["device"].get("usable_cores")
    return (
        f"{result['device']['name']} ({result['backend']}"
        + (f", {cores} cores" if cores and result["backend"] == "cpu" else "")
        + f"), commit {git['commit'][:10]}{dirty}, {result['date_utc']}"
        + (f", host load {load[0]:.2g} at start" if load else "")
    )


def render(result: dict[str, Any]) -> str:
    """Markdown heading, description, tables and notes of one result (the bench module's
    ``summary_tables`` and ``summary_notes``)."""
    module = importlib.import_module(f"benchmarks.bench_{result['benchmark']}")
    parts = [f"### {result['benchmark']} - {describe(result)}", ""]
    for table in module.summary_tables(result):
        parts += [table.markdown(), ""]
    notes = module.summary_notes(result)
    if notes:
        parts += [*notes, ""]
    return "\n".join(parts)


def print_result(result: dict[str, Any], path: Path | None) -> None:
    """Print the short table of a finished benchmark and where its JSON went."""
    print()
    print(render(result))
    if path is not None:
        print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")


def tables(results_dir: Path = RESULTS_DIR, backend: str | None = None) -> str:
    """Markdown of every ``*.json`` result in ``results_dir`` (optionally one backend)."""
    out = []
    for path in sorted(results_dir.glob("*.json")):
        result = json.loads(path.read_text())
        if result.get("benchmark") not in BENCHMARKS:
            continue
        if backend is not None and result.get("backend") != backend:
            continue
        out.append(f"<!-- {path.name} -->\n" + render(result))
    return "\n".join(out) if out else f"(no results in {results_dir})\n"


README = Path(__file__).resolve().parent / "README.md"
TABLES_BEGIN = "<!-- results:begin (generated by python -m benchmarks.common --update-readme) -->"
TABLES_END = "<!-- results:end -->"


def update_readme(readme: Path = README, results_dir: Path = RESULTS_DIR) -> None:
    """Replace the text between the results markers of ``readme`` with :func:`tables`."""
    text = readme.read_text()
    begin, end = text.find(TABLES_BEGIN), text.find(TABLES_END)
    if begin < 0 or end < begin:
        raise SystemExit(f"{readme}: results markers not found")
    generated = tables(results_dir)
    readme.write_text(text[: begin + len(TABLES_BEGIN)] + "\n" + generated + "\n" + text[end:])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.common --table [--backend cpu|gpu] [--results DIR]`` prints the
    result tables; ``--update-readme`` writes them into benchmarks/README.md."""
    parser = argparse.ArgumentParser(description="Benchmark result tables")
    parser.add_argument("--table", action="store_true", help="print markdown tables")
    parser.add_argument("--update-readme", action="store_true",
                        help="write the tables into benchmarks/README.md")  # fmt: skip
    parser.add_argument("--backend", choices=("cpu", "gpu"), default=None)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.update_readme:
        update_readme(README, args.results)
        return 0
    if not args.table:
        parser.print_help()
        return 2
    print(tables(args.results, args.backend), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
