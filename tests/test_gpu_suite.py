"""The GPU suite's plan, run dry on the CPU: every file, in order, within its deadline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [
    "01-env.json",
    "02-ceiling.json",
    "03-parity.xml",
    "04-diffusion-512.json",
    "05-cells.json",
    "06-cancer-immune.json",
    "07-rest.json",
    "08-summary.json",
]


def test_a_dry_run_writes_every_file_and_a_hung_stage_is_killed(tmp_path: Path) -> None:
    """The ``cells`` stage hangs: it is killed and marked timeout, the stages before it have
    written their files already, the later ones still run, and the whole stays inside the
    deadline."""
    out = tmp_path / "suite"
    deadline = 240.0
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_suite", "--dry-run", "--out", str(out),
         "--deadline-s", str(deadline)],
        cwd=ROOT, capture_output=True, text=True, timeout=deadline + 60,
        env=dict(os.environ, TISSUE_SUITE_HANG="cells"),
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert elapsed < deadline
    assert done.returncode == 1, done.stdout + done.stderr  # one stage timed out
    summary = json.loads((out / "08-summary.json").read_text())
    stages = {s["stage"]: s for s in summary["stages"]}
    order = ["env", "ceiling", "parity", "diffusion-512", "cells", "cancer-immune", "graph",
             "memory", "diffusion-kernels", "scenarios"]  # fmt: skip
    assert list(stages) == order
    assert stages["cells"]["status"] == "timeout"
    assert stages["cells"]["seconds"] < 30
    assert all(s["status"] == "ok" for name, s in stages.items() if name != "cells"), stages
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(set(FILES) - {"05-cells.json"})
    assert len(written) <= 8
    env = json.loads((out / "01-env.json").read_text())
    assert env["dry_run"] is True
    assert env["result"]["backend"] == "cpu"
    ceiling = json.loads((out / "02-ceiling.json").read_text())["result"]
    assert ceiling["bytes_per_s"] > 0
    diffusion = json.loads((out / "04-diffusion-512.json").read_text())["result"]
    assert diffusion["benchmark"] == "diffusion"
    assert diffusion["git"]["commit"]
    rest = json.loads((out / "07-rest.json").read_text())["results"]
    assert sorted(rest) == ["diffusion-kernels", "graph", "memory", "scenarios"]
    assert rest["graph"]["cases"][0]["graph"]["status"].startswith("not run")
