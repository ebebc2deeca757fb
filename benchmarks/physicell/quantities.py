"""What the side-by-side compares at each output, computed the same way for both codes.

For the cells of one output (positions in um, a tumour and an immune mask, a dead mask and,
where the code has it, each cell's oncoprotein):

- ``tumour_live``: tumour cells not dead; ``tumour_dead``: tumour cells dead (apoptotic or
  necrotic, not yet removed);
- ``immune``: live immune cells;
- ``tumour_radius_um``: the 95th percentile of the live tumour cells' distances from the
  domain's centre (None without live tumour cells);
- ``low_onco_fraction``: the fraction of live tumour cells with oncoprotein below
  ``LOW_ONCOPROTEIN`` (PhysiCell's ``oncoprotein_threshold``: immune cells neither attach to
  nor kill such cells), and ``mean_onco_live`` their mean oncoprotein (None where the code
  records no oncoprotein or there is no live tumour cell).
"""

from __future__ import annotations

import numpy as np

QUANTITIES = (
    "tumour_live",
    "tumour_dead",
    "immune",
    "tumour_radius_um",
    "low_onco_fraction",
    "mean_onco_live",
)
LOW_ONCOPROTEIN = 0.5
RADIUS_PERCENTILE = 95.0


def compute_quantities(
    position_um: np.ndarray,
    is_tumour: np.ndarray,
    is_immune: np.ndarray,
    dead: np.ndarray,
    centre_um: tuple[float, float, float] | np.ndarray,
    oncoprotein: np.ndarray | None = None,
) -> dict[str, float | int | None]:
    """The quantities of one output (see the module docstring).

    Args:
        position_um: (n, 3) cell centres, x y z, um.
        is_tumour, is_immune, dead: (n,) bool masks.
        centre_um: the domain's centre (x, y, z), um.
        oncoprotein: (n,) float, or None where the code has no such column.
    """
    position = np.asarray(position_um, dtype=np.float64).reshape(-1, 3)
    tumour = np.asarray(is_tumour, dtype=bool)
    immune = np.asarray(is_immune, dtype=bool)
    dead = np.asarray(dead, dtype=bool)
    live_tumour = tumour & ~dead
    out: dict[str, float | int | None] = {
        "tumour_live": int(live_tumour.sum()),
        "tumour_dead": int((tumour & dead).sum()),
        "immune": int((immune & ~dead).sum()),
        "tumour_radius_um": None,
        "low_onco_fraction": None,
        "mean_onco_live": None,
    }
    if not live_tumour.any():
        return out
    distance = np.linalg.norm(position[live_tumour] - np.asarray(centre_um, np.float64), axis=1)
    out["tumour_radius_um"] = float(np.percentile(distance, RADIUS_PERCENTILE))
    if oncoprotein is not None:
        levels = np.asarray(oncoprotein, dtype=np.float64)[live_tumour]
        out["low_onco_fraction"] = float(np.mean(levels < LOW_ONCOPROTEIN))
        out["mean_onco_live"] = float(levels.mean())
    return out


def curves(rows: list[dict[str, float | int | None]]) -> dict[str, list[float | int | None]]:
    """Per-output quantity dicts -> one list per quantity, in output order."""
    return {name: [row[name] for row in rows] for name in QUANTITIES}
