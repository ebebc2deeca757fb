"""The one command a GPU window runs: the most important numbers first, each written as soon
as it is measured, all within one deadline.

    make gpu-wheels                                   # here: wheels the device lacks
    TISSUE_GIT_COMMIT=<sha> python benchmarks/gpu_suite.py --out $OUT   # on the device
    python -m benchmarks.gpu_suite --dry-run --out /tmp/suite           # here: the same plan, CPU

Stages, in order, each a subprocess in its own process group given only the time left before
the deadline (default 540 s after start, under the device tool's 600 s per command): a stage
that runs over is killed and marked ``timeout`` and the next one starts. Files under ``--out``
(at most 8, each written atomically the moment its stage ends):

    01-env.json            versions, device, commit (and the wheels installed from .wheels/)
    02-ceiling.json        the copy-bandwidth ceiling
    03-parity.xml          junit XML of ``pytest -m gpu`` (CPU/GPU parity, kernels on device)
    04-diffusion-512.json  diffusion at 512^3 (% of the ceiling)
    05-cells.json          cells at 1e6 and 1e7 (cell-steps/s)
    06-cancer-immune.json  cancer_immune at PhysiCell's size (s per simulated minute)
    07-rest.json           the other benchmarks while time remains (diffusion sizes, memory,
                           the solver's W-cycle eager and as a CUDA graph, the other
                           scenario cases), merged after each
    08-summary.json        every stage: status (ok, failed, timeout, skipped), seconds, exit
                           code; rewritten after each stage, so it is valid at any moment

``--dry-run`` runs the same plan on the CPU at tiny sizes (``"dry_run": true`` in every file),
so CI checks that the suite works where CuPy is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARGIN_S = 10.0  # kept back from every stage for killing it and writing the summary
WHEELS = ("pydantic", "tomli-w", "tifffile")


@dataclass(frozen=True)
class Stage:
    """One step of the suite: a command whose JSON result (or junit XML) becomes ``file``."""

    name: str
    file: str
    command: list[str]
    cap_s: float  # the most this stage may take even when more time is left
    result: str | None = None  # the benchmark JSON the command writes (copied to ``file``)


def bench(module: str, backend: str, out_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", f"benchmarks.bench_{module}", "--backend", backend,
            "--out-dir", str(out_dir), *args]  # fmt: skip


def plan(dry_run: bool, work: Path) -> list[Stage]:
    """The stages in order; ``dry_run``: the CPU backend and tiny sizes."""
    backend = "cpu" if dry_run else "gpu"
    py = sys.executable
    env_probe = (
        "import json, platform, numpy, tissue; from tissue.backend import get_backend; "
        f"b = get_backend({backend!r}); "
        "info = {'python': platform.python_version(), 'numpy': numpy.__version__, "
        "'tissue': tissue.__version__, 'backend': b.name}; "
        "cp = __import__('cupy') if b.is_gpu else None; "
        "info.update({} if cp is None else {'cupy': cp.__version__, "
        "'device': b.device_name, 'memory_bytes': b.memory_bytes(), "
        "'cuda_driver': cp.cuda.runtime.driverGetVersion(), "
        "'cuda_runtime': cp.cuda.runtime.runtimeGetVersion()}); print(json.dumps(info))"
    )
    ceiling_probe = (
        "import json; from benchmarks.common import Timer, copy_ceiling, open_backend; "
        f"b = open_backend({backend!r}); "
        f"print(json.dumps(copy_ceiling(b, Timer(b, 1, 3), {1 << 22 if dry_run else 1 << 31})))"
    )
    tiny = dry_run
    parity = [py, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests",
              f"--junitxml={work / 'parity.xml'}"]  # fmt: skip
    if tiny:  # no device: collect the parity tests only (they would all skip)
        parity.append("--collect-only")
    small = ["--warmup", "0", "--repeats", "1"] if tiny else []
    return [
        Stage("env", "01-env.json", [py, "-c", env_probe], 60),
        Stage("ceiling", "02-ceiling.json", [py, "-c", ceiling_probe], 45),
        Stage("parity", "03-parity.xml", parity, 150),
        Stage(
            "diffusion-512",
            "04-diffusion-512.json",
            bench(
                "diffusion",
                backend,
                work / "diffusion",
                "--sections",
                "gpu_box",
                "--gpu-box-sizes",
                "16" if tiny else "512",
                *small,
            ),
            90,
            "diffusion",
        ),
        Stage(
            "cells",
            "05-cells.json",
            bench(
                "cells",
                backend,
                work / "cells",
                "--sizes",
                "1e3,2e3" if tiny else "1e6,1e7",
                *small,
            ),
            90,
            "cells",
        ),
        Stage(
            "cancer-immune",
            "06-cancer-immune.json",
            bench(
                "scenarios",
                backend,
                work / "cancer",
                "--cases",
                "cancer-immune-tumour" if tiny else "cancer-immune",
                *(["--window-scale", "0.05", "--repeats", "2"] if tiny else []),
            ),
            120,
            "scenarios",
        ),
    ]


def rest(dry_run: bool, work: Path) -> list[Stage]:
    """What runs while time remains, each merged into ``07-rest.json`` as it ends."""
    backend = "cpu" if dry_run else "gpu"
    small = ["--warmup", "0", "--repeats", "1"] if dry_run else []
    return [
        Stage(
            "graph",
            "07-rest.json",
            bench(
                "graph",
                backend,
                work / "graph",
                "--sizes",
                "8" if dry_run else "32,64,128,256",
                *small,
            ),
            60,
            "graph",
        ),
        Stage(
            "memory",
            "07-rest.json",
            bench("memory", backend, work / "memory", *small),
            60,
            "memory",
        ),
        Stage(
            "diffusion-kernels",
            "07-rest.json",
            bench(
                "diffusion",
                backend,
                work / "kernels",
                "--sections",
                "kernels",
                "--sizes",
                "16" if dry_run else "128,256",
                *small,
            ),
            90,
            "diffusion",
        ),
        Stage(
            "scenarios",
            "07-rest.json",
            bench(
                "scenarios",
                backend,
                work / "scenarios",
                "--cases",
                "metastasis-small"
                if dry_run
                else "metastasis-small,metastasis-medium,metastasis-large,whole-lung",
                *(["--window-scale", "0.05", "--repeats", "2"] if dry_run else []),
            ),
            150,
            "scenarios",
        ),
    ]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def run_stage(stage: Stage, limit_s: float, env: dict[str, str]) -> tuple[str, int | None, str]:
    """Run ``stage`` for at most ``limit_s``; (status, exit code, the output's tail)."""
    if limit_s < 5:
        return "skipped", None, "no time left"
    command = stage.command
    hang = os.environ.get("TISSUE_SUITE_HANG")  # tests: this stage hangs, killed after 5 s
    if hang == stage.name:
        command = [sys.executable, "-c", "import time; time.sleep(3600)"]
        limit_s = min(limit_s, 5.0)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # fmt: skip
    try:
        output, _ = process.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return "timeout", None, (output or "")[-2000:]
    status = "ok" if process.returncode == 0 else "failed"
    return status, process.returncode, output[-2000:]


def newest_json(folder: Path) -> dict[str, Any] | None:
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(files[-1].read_text()) if files else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "suite-out")))
    parser.add_argument("--deadline-s", type=float, default=540.0)
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes (no CuPy)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tissue-gpu-suite."))
    path = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join(filter(None, path)))  # fmt: skip
    installed = install_wheels(env, min(60.0, args.deadline_s / 5))
    summary: dict[str, Any] = {"dry_run": args.dry_run, "deadline_s": args.deadline_s,
                               "wheels": installed, "stages": []}  # fmt: skip
    rest_results: dict[str, Any] = {"dry_run": args.dry_run, "results": {}}

    def left() -> float:
        return args.deadline_s - (time.monotonic() - started) - MARGIN_S

    for stage in [*plan(args.dry_run, work), *rest(args.dry_run, work)]:
        t0 = time.monotonic()
        status, code, tail = run_stage(stage, min(stage.cap_s, left()), env)
        record: dict[str, Any] = {
            "stage": stage.name,
            "file": stage.file,
            "status": status,
            "exit_code": code,
            "seconds": round(time.monotonic() - t0, 1),
        }
        if status != "ok":
            record["output_tail"] = tail
        if status == "ok":
            write_result(stage, out, work, tail, args.dry_run, rest_results)
        summary["stages"].append(record)
        summary["elapsed_s"] = round(time.monotonic() - started, 1)
        write_atomic(out / "08-summary.json", json.dumps(summary, indent=1) + "\n")
        print(f"{stage.name}: {status} in {record['seconds']} s", flush=True)
    return 0 if all(s["status"] == "ok" for s in summary["stages"]) else 1


def write_result(
    stage: Stage, out: Path, work: Path, output: str, dry_run: bool, rest_results: dict[str, Any]
) -> None:
    """The stage's result into its file: the benchmark's JSON, the probe's printed JSON or
    the junit XML."""
    if stage.file.endswith(".xml"):
        xml = work / "parity.xml"
        text = xml.read_text() if xml.is_file() else f"<!-- dry run: {output[-500:]} -->\n"
        write_atomic(out / stage.file, text)
        return
    if stage.result is None:
        data: Any = json.loads(output.strip().splitlines()[-1])
    else:
        data = newest_json(Path(stage.command[stage.command.index("--out-dir") + 1]))
    if stage.file == "07-rest.json":
        rest_results["results"][stage.name] = data
        write_atomic(out / stage.file, json.dumps(rest_results, indent=1) + "\n")
        return
    write_atomic(
        out / stage.file, json.dumps({"dry_run": dry_run, "result": data}, indent=1) + "\n"
    )


def install_wheels(env: dict[str, str], limit_s: float) -> str:
    """pydantic, tomli-w and tifffile from ./.wheels when they do not import (the device has
    no network); what happened, in words."""
    probe = [sys.executable, "-c", "import pydantic, tomli_w, tifffile"]
    if subprocess.run(probe, env=env, capture_output=True).returncode == 0:
        return "present"
    wheels = ROOT / ".wheels"
    if not wheels.is_dir():
        return "missing, and no .wheels/ (run make gpu-wheels and carry .wheels)"
    target = Path(tempfile.gettempdir()) / "tissue-site"
    try:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
                        "--find-links", str(wheels), "--target", str(target), *WHEELS],
                       env=env, capture_output=True, timeout=limit_s, check=True)  # fmt: skip
    except (subprocess.SubprocessError, OSError) as error:
        return f"install failed: {error}"
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(target)])
    return "installed from .wheels"


if __name__ == "__main__":
    raise SystemExit(main())
