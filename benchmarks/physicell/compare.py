"""Compare the two codes' curves output by output, and plot them.

At every output time both codes have (times rounded to the minute; PhysiCell's clock sums
0.01 min steps), for each quantity: PhysiCell's seeds give min, max, mean and sample standard
deviation; tissue's seed mean is *inside the range* when min <= mean <= max and *inside 2 sd*
when |mean - PhysiCell mean| <= 2 sd. Per quantity the result holds the fraction of outputs
inside each, the worst output (the largest |difference| / sd, the sd floored at 5% of
PhysiCell's mean, so that seeds that agree exactly, as at the start, do not make a small
difference the worst) and every output's values. A quantity one code does not record (None
at every output) is reported as not compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.physicell.quantities import QUANTITIES

PLOT_COLOURS = {"physicell": "tab:blue", "tissue": "tab:orange"}
SD_FLOOR_OF_MEAN = 0.05  # the worst output's scale: sd, at least 5% of PhysiCell's mean


def _by_time(result: dict[str, Any], quantity: str) -> dict[int, list[float]]:
    """Rounded time (min) -> the seeds' values of ``quantity`` there (None dropped)."""
    out: dict[int, list[float]] = {}
    for seed in result["seeds"]:
        for time_min, value in zip(seed["time_min"], seed[quantity], strict=True):
            if value is not None:
                out.setdefault(round(time_min), []).append(float(value))
    return out


def compare_quantity(physicell: dict[str, Any], tissue: dict[str, Any], quantity: str) -> dict:
    """The comparison of one quantity (see the module docstring)."""
    reference, candidate = _by_time(physicell, quantity), _by_time(tissue, quantity)
    times = sorted(set(reference) & set(candidate))
    if not times:
        missing = [name for name, d in (("physicell", reference), ("tissue", candidate)) if not d]
        return {"compared": False, "why": f"no values from {' and '.join(missing) or 'both'}"}
    values, scores = [], []
    for time_min in times:
        ref = np.asarray(reference[time_min])
        mean, low, high = float(ref.mean()), float(ref.min()), float(ref.max())
        sd = float(ref.std(ddof=1)) if ref.size > 1 else 0.0
        tissue_mean = float(np.mean(candidate[time_min]))
        difference = tissue_mean - mean
        scale = max(sd, SD_FLOOR_OF_MEAN * abs(mean), 1e-9)
        scores.append(abs(difference) / scale)
        values.append(
            {
                "time_min": time_min,
                "physicell_min": low,
                "physicell_max": high,
                "physicell_mean": mean,
                "physicell_sd": sd,
                "physicell_seeds": ref.size,
                "tissue_mean": tissue_mean,
                "tissue_seeds": len(candidate[time_min]),
                "inside_range": bool(low <= tissue_mean <= high),
                "inside_2sd": bool(abs(difference) <= 2.0 * sd),
            }
        )
    worst = int(np.argmax(scores))
    return {
        "compared": True,
        "outputs": len(times),
        "fraction_inside_range": float(np.mean([v["inside_range"] for v in values])),
        "fraction_inside_2sd": float(np.mean([v["inside_2sd"] for v in values])),
        "worst": {**values[worst], "difference_over_scale": scores[worst]},
        "values": values,
    }


def speed(result: dict[str, Any]) -> dict[str, Any]:
    """Mean, min and max wall seconds per simulated minute over a result's seeds."""
    rates = [seed["wall_s_per_sim_min"] for seed in result["seeds"]]
    return {"mean": float(np.mean(rates)), "min": min(rates), "max": max(rates)}


def compare(physicell: dict[str, Any], tissue: dict[str, Any]) -> dict[str, Any]:
    """The side-by-side of two result files' contents."""
    physicell_speed, tissue_speed = speed(physicell), speed(tissue)
    return {
        "method": __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
        "physicell": {
            "seeds": [s["seed"] for s in physicell["seeds"]],
            "date_utc": physicell.get("date_utc"),
            "version": physicell.get("provenance", {}).get("physicell_version"),
        },
        "tissue": {
            "seeds": [s["seed"] for s in tissue["seeds"]],
            "date_utc": tissue.get("date_utc"),
            "git": tissue.get("provenance", {}).get("git"),
            "scenario": tissue.get("setup", {}).get("scenario"),
        },
        "quantities": {q: compare_quantity(physicell, tissue, q) for q in QUANTITIES},
        "speed": {
            "physicell_wall_s_per_sim_min": physicell_speed,
            "tissue_wall_s_per_sim_min": tissue_speed,
            "ratio_physicell_over_tissue": physicell_speed["mean"] / tissue_speed["mean"],
            "physicell_time_steps_min": physicell.get("time_steps_min"),
            "tissue_time_steps_min": tissue.get("time_steps_min"),
            "physicell_threads_per_run": physicell["seeds"][0].get("threads"),
            "tissue_threads_per_run": tissue["seeds"][0].get("threads"),
        },
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    """A few lines for the terminal: each quantity's fractions and worst output, the speed."""
    lines = []
    for name, entry in result["quantities"].items():
        if not entry["compared"]:
            lines.append(f"{name:18s} not compared ({entry['why']})")
            continue
        worst = entry["worst"]
        lines.append(
            f"{name:18s} inside range {entry['fraction_inside_range']:5.0%}, inside 2 sd "
            f"{entry['fraction_inside_2sd']:5.0%}; worst t={worst['time_min'] / 1440:.2f} d: "
            f"tissue {worst['tissue_mean']:.4g} vs PhysiCell {worst['physicell_mean']:.4g} "
            f"[{worst['physicell_min']:.4g}, {worst['physicell_max']:.4g}]"
        )
    speed = result["speed"]
    lines.append(
        f"wall s per simulated min: PhysiCell {speed['physicell_wall_s_per_sim_min']['mean']:.3g}"
        f" (steps {speed['physicell_time_steps_min']}), tissue "
        f"{speed['tissue_wall_s_per_sim_min']['mean']:.3g} (steps "
        f"{speed['tissue_time_steps_min']}); ratio {speed['ratio_physicell_over_tissue']:.3g}"
    )
    return lines


def plot(physicell: dict[str, Any], tissue: dict[str, Any], path: Path) -> None:
    """Three panels over days: tumour (solid) and immune (dashed) counts, the tumour radius,
    the low-oncoprotein fraction; each seed thin, the seed mean thick, one colour per code."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("cells", (("tumour_live", "-"), ("immune", "--"))),
        ("tumour radius (um, 95th percentile)", (("tumour_radius_um", "-"),)),
        ("live tumour cells with oncoprotein < 0.5", (("low_onco_fraction", "-"),)),
    )
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    for axis, (ylabel, series) in zip(axes, panels, strict=True):
        for code, result in (("physicell", physicell), ("tissue", tissue)):
            colour = PLOT_COLOURS[code]
            for quantity, style in series:
                for seed in result["seeds"]:
                    days = np.asarray(seed["time_min"]) / 1440.0
                    axis.plot(days, _floats(seed[quantity]), style, color=colour, lw=0.6, alpha=0.5)
                mean = _by_time(result, quantity)
                if mean:
                    times = sorted(mean)
                    axis.plot(
                        np.asarray(times) / 1440.0, [np.mean(mean[t]) for t in times], style,
                        color=colour, lw=2.4, label=f"{code} {quantity}",
                    )  # fmt: skip
        axis.set_xlabel("day")
        axis.set_ylabel(ylabel)
        axis.legend(fontsize=8)
    figure.suptitle(
        "cancer-immune, reduced: PhysiCell (blue, "
        f"{len(physicell['seeds'])} seeds) and tissue (orange, {len(tissue['seeds'])} seeds)"
    )
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _floats(values: list[Any]) -> np.ndarray:
    return np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)
