"""A dashboard of a run's time series: matplotlib panels read from the run file.

Panels, each drawn from the observables it finds (by name) and saying so when a run has none:

- populations: live counts ``<organ>.<type>.live`` of the types that ever had cells;
- circulation: systemic concentrations ``circulation.<species>`` and, on a second axis, the
  circulating tumour cells ``circulation.ctc``;
- niche: ``<organ>.s100a8a9.mean`` and, on a second axis, live ``myeloid`` and ``innate``
  counts;
- cascade ledger: the categories of cells that arrested in the simulated block
  (``ledger.<category>``) at the last output, as bars; the whole-body counts (shed, injected,
  died in the blood, lodged elsewhere) are written above them;
- the primary's front: ``*.front_radius_um`` (or each type's ``radius_um`` when a run has no
  front) in um.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tissue.io.runfile import RunReader
from viz.headless import matplotlib_pyplot

PANELS = ("populations", "circulation", "niche", "ledger", "front")
BLOCK_LEDGER = (
    "arrested", "extravasated", "in_vessel", "died_in_organ", "solitary", "solitary_dormant",
    "micrometastases", "macrometastases",
)  # fmt: skip
BODY_LEDGER = ("shed", "injected", "in_blood", "died_in_blood", "lodged_elsewhere")
SECOND_AXIS = ("circulation.ctc", ".myeloid.live", ".innate.live")


def panel_series(reader: RunReader) -> dict[str, dict[str, np.ndarray]]:
    """Panel -> {observable: values} for every panel (time is ``time_days``); the ledger
    holds the last value of each block category (whole-body ones under ``body:<name>``)."""
    series = reader.timeseries()
    keys = [k for k in series if k not in ("tick", "time_min", "time_days")]
    types = set(reader.cell_types)
    out: dict[str, dict[str, np.ndarray]] = {panel: {} for panel in PANELS}
    radii: dict[str, np.ndarray] = {}
    for key in keys:
        parts = key.split(".")
        if parts[0] == "ledger":
            name = ".".join(parts[1:])
            if name in BLOCK_LEDGER:
                out["ledger"][name] = series[key][-1:]
            elif name in BODY_LEDGER:
                out["ledger"][f"body:{name}"] = series[key][-1:]
        elif parts[0] == "circulation":
            out["circulation"][key] = series[key]
        elif key.endswith(".s100a8a9.mean") or (
            len(parts) == 3
            and parts[1] in ("myeloid", "innate")
            and parts[2] == "live"
            and bool(np.any(series[key] > 0))
        ):
            out["niche"][key] = series[key]
        elif len(parts) == 3 and parts[1] in types and parts[2] == "live":
            if bool(np.any(series[key] > 0)):
                out["populations"][key] = series[key]
        elif key.endswith(".front_radius_um"):
            out["front"][key] = series[key]
        elif (
            key.endswith(".radius_um")
            and len(parts) == 3
            and parts[1] in types
            and bool(np.any(series[key] > 0))
        ):
            radii[key] = series[key]
    if not out["front"]:
        out["front"] = radii
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
        "populations": ("live cells by organ and type", "cells"),
        "circulation": ("circulation", "value"),
        "niche": ("lung niche", "value"),
        "ledger": ("cascade ledger in the block (last output)", "cells"),
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
            block = {k: float(v[0]) for k, v in found.items() if not k.startswith("body:")}
            ax.bar(list(block), list(block.values()), color="#1f77b4")
            ax.tick_params(axis="x", labelrotation=45)
            body = [f"{k[5:]} {float(v[0]):.3g}" for k, v in found.items() if k.startswith("body:")]
            if body:
                ax.set_title(f"{title}\nwhole body: " + ", ".join(body), fontsize=8)
        else:
            twin = None
            for key, values in found.items():
                target = ax
                if key.endswith(SECOND_AXIS) and len(found) > 1:
                    twin = twin or ax.twinx()
                    target = twin
                target.plot(days, values, label=key, linestyle="--" if target is twin else "-")
            ax.set_xlabel("day")
            handles = [h for a in (ax, twin) if a is not None for h in a.get_lines()]
            ax.legend(handles=handles, fontsize=7, loc="best", ncol=2 if len(handles) > 6 else 1)
            if twin is not None:
                twin.set_ylabel("cells")
        ax.set_ylabel(ylabel)
    axes[1, 2].axis("off")
    final = reader.final()
    lines = [
        f"{k} = {v:.4g}"
        for k, v in final.items()
        if not k.startswith("time_") and v != 0 and not k.endswith("radius_um")
    ][:32]
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
