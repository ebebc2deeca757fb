"""A dashboard of a run's time series: matplotlib panels read from the run file.

Panels, each drawn from the observables it finds (by name) and saying so when a run has none:

- populations: ``<organ>.<type>.<state>`` counts, one line each (states as the file names
  them: live, apoptotic, necrotic, and any the model adds);
- circulation: ``circulation.*`` observables;
- niche: ``<organ>.s100a8a9.mean`` and the live ``myeloid`` count of each organ;
- cascade ledger: ``ledger.<category>`` at the last output, as bars;
- the primary's front: ``<organ>.<type>.radius_um`` and ``*.front_radius_um`` (um).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tissue.io.runfile import RunReader
from viz.headless import matplotlib_pyplot

PANELS = ("populations", "circulation", "niche", "ledger", "front")


def panel_series(reader: RunReader) -> dict[str, dict[str, np.ndarray]]:
    """Panel -> {observable: values} for every panel (time is ``time_days``); the ledger
    holds the last value of each category."""
    series = reader.timeseries()
    keys = [k for k in series if k not in ("tick", "time_min", "time_days")]
    states = set(reader.cell_states)
    types = set(reader.cell_types)
    out: dict[str, dict[str, np.ndarray]] = {panel: {} for panel in PANELS}
    for key in keys:
        parts = key.split(".")
        if parts[0] == "ledger":
            out["ledger"][".".join(parts[1:])] = series[key][-1:]
        elif parts[0] == "circulation":
            out["circulation"][key] = series[key]
        elif len(parts) == 3 and parts[1] in types and parts[2] in states:
            out["populations"][key] = series[key]
        elif key.endswith(".s100a8a9.mean") or (
            len(parts) == 3 and "myeloid" in parts[1] and parts[2] == "live"
        ):
            out["niche"][key] = series[key]
        elif key.endswith(".radius_um") or key.endswith(".front_radius_um"):
            out["front"][key] = series[key]
    return out


def dashboard(reader: RunReader, size_px: tuple[int, int] = (1600, 1000)) -> Any:
    """The dashboard figure (matplotlib Figure) of ``reader``'s time series."""
    plt = matplotlib_pyplot()
    data = panel_series(reader)
    days = reader.timeseries()["time_days"]
    dpi = 100
    figure, axes = plt.subplots(2, 3, figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi)
    figure.suptitle(
        f"{reader.scenario_name}, seed {reader.seed} ({reader.status}, day "
        f"{days[-1] if days.size else 0:.2f})"
    )
    grid = {
        "populations": axes[0, 0],
        "circulation": axes[0, 1],
        "niche": axes[0, 2],
        "ledger": axes[1, 0],
        "front": axes[1, 1],
    }
    titles = {
        "populations": ("cells by organ, type and state", "cells"),
        "circulation": ("circulation", "value"),
        "niche": ("lung niche", "value"),
        "ledger": ("cascade ledger (last output)", "cells"),
        "front": ("primary tumour front", "radius (um)"),
    }
    for panel, ax in grid.items():
        title, ylabel = titles[panel]
        ax.set_title(title)
        found = data[panel]
        if not found:
            ax.text(0.5, 0.5, f"no {panel} observables\nin this run", ha="center",
                    va="center", transform=ax.transAxes, color="0.4")  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        if panel == "ledger":
            names = list(found)
            ax.bar(names, [float(v[0]) for v in found.values()], color="#1f77b4")
            ax.tick_params(axis="x", labelrotation=45)
        else:
            for key, values in found.items():
                ax.plot(days, values, label=key)
            ax.set_xlabel("day")
            ax.legend(fontsize=7, loc="best")
        ax.set_ylabel(ylabel)
    axes[1, 2].axis("off")
    final = reader.final()
    lines = [f"{k} = {v:.4g}" for k, v in final.items() if not k.startswith("time_")][:24]
    axes[1, 2].text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=7)
    axes[1, 2].set_title("final observables")
    figure.tight_layout()
    return figure


def write_dashboard(reader: RunReader, path: str, size_px: tuple[int, int] = (1600, 1000)) -> Any:
    """Write the dashboard PNG to ``path``; returns the figure (closed)."""
    plt = matplotlib_pyplot()
    figure = dashboard(reader, size_px)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return figure
