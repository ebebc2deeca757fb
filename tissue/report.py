"""Observables as readable tables: cells, fields, blood, the cascade ledger, tumour metrics.

Used by ``tissue run`` (at the end) and ``tissue summary``; every observable appears in
exactly one table.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table

from tissue.body import LEDGER_PARTITION
from tissue.cells import STATE_NAMES

LEDGER_LABELS = {
    "in_blood": "in the blood",
    "died_in_blood": "died in the blood",
    "lodged_elsewhere": "lodged outside the block",
    "in_vessel": "arrested, still in a vessel",
    "died_in_organ": "died after arrest",
    "solitary": "solitary (extravasated)",
    "micrometastases": "in micrometastases",
    "macrometastases": "in macrometastases",
}
LEDGER_CUMULATIVE = (
    ("shed", "shed from the primary"),
    ("injected", "injected"),
    ("arrested", "arrested in the block (total)"),
    ("extravasated", "extravasated (total)"),
    ("solitary_dormant", "solitary and dormant (now)"),
)
STATES = tuple(STATE_NAMES.values())
BLOCK_CATEGORIES = {
    "in_vessel", "died_in_organ", "solitary", "micrometastases", "macrometastases",
    "arrested", "extravasated", "solitary_dormant",
}  # fmt: skip


def summary_tables(observables: Mapping[str, float]) -> list[Table]:
    """Tables of one row of observables (``Simulation.observables()`` or a run file's
    final row): cells by organ and type, fields, blood, ledger, then anything else."""
    values = {k: v for k, v in observables.items() if not k.startswith("time_")}
    used: set[str] = set()
    tables = [
        _cells(values, used),
        _attributes(values, used),
        _fields(values, used),
        _blood(values, used),
        _ledger(values, used),
        _tumour(values, used),
    ]
    rest = Table(title="other observables", show_header=True)
    rest.add_column("observable")
    rest.add_column("value", justify="right")
    for key, value in values.items():
        if key not in used:
            rest.add_row(key, f"{value:.4g}")
    tables.append(rest)
    return [t for t in tables if t is not None and t.row_count]


def _cells(values: Mapping[str, float], used: set[str]) -> Table:
    table = Table(title="cells", show_header=True)
    table.add_column("organ.type")
    for state in STATES:
        table.add_column(state, justify="right")
    table.add_column("radius (um)", justify="right")
    prefixes = sorted({k.rsplit(".", 1)[0] for k in values if k.endswith(".live")})
    for prefix in prefixes:
        keys = [f"{prefix}.{s}" for s in STATES]
        if not all(k in values for k in keys):
            continue
        used.update(keys)
        radius_key = f"{prefix}.radius_um"
        used.add(radius_key)
        if sum(values[k] for k in keys) == 0:
            continue
        radius = values.get(radius_key, float("nan"))
        table.add_row(prefix, *(f"{values[k]:.0f}" for k in keys), f"{radius:.1f}")
    for key in values:
        if key.count(".") == 1 and key.endswith(".cells"):
            used.add(key)
    return table


def _attributes(values: Mapping[str, float], used: set[str]) -> Table:
    table = Table(title="per-cell attributes (live cells)", show_header=True)
    table.add_column("organ.type.attribute")
    stats = ("mean", "sd", "min", "max")
    for stat in stats:
        table.add_column(stat, justify="right")
    prefixes = sorted({k.rsplit(".", 1)[0] for k in values if ".attribute." in k})
    for prefix in prefixes:
        keys = [f"{prefix}.{s}" for s in stats]
        if all(k in values for k in keys):
            used.update(keys)
            table.add_row(prefix.replace(".attribute.", "."), *(f"{values[k]:.4g}" for k in keys))
    return table


def _fields(values: Mapping[str, float], used: set[str]) -> Table:
    table = Table(title="fields", show_header=True)
    table.add_column("organ.field")
    for stat in ("mean", "min", "max"):
        table.add_column(stat, justify="right")
    prefixes = sorted(
        {k.rsplit(".", 1)[0] for k in values if k.endswith(".mean") and k not in used}
    )
    for prefix in prefixes:
        keys = [f"{prefix}.{s}" for s in ("mean", "min", "max")]
        if all(k in values for k in keys):
            used.update(keys)
            table.add_row(prefix, *(f"{values[k]:.4g}" for k in keys))
    return table


def _blood(values: Mapping[str, float], used: set[str]) -> Table:
    table = Table(title="blood (whole body)", show_header=True)
    table.add_column("circulating")
    table.add_column("value", justify="right")
    for key, value in values.items():
        if key.startswith("circulation."):
            used.add(key)
            name = key.removeprefix("circulation.")
            table.add_row("tumour cells (CTCs)" if name == "ctc" else name, f"{value:.4g}")
    return table


def _tumour(values: Mapping[str, float], used: set[str]) -> Table:
    """Per organ: clusters of tumour cells by size and the invasion front."""
    table = Table(title="tumour clusters (cells per cluster) and invasion front", show_header=True)
    table.add_column("organ")
    columns = list(
        dict.fromkeys(k.split(".", 1)[1] for k in values if ".census." in k or ".front_" in k)
    )  # in the order the observables come: size classes ascending, then the front
    labels = {
        "front_radius_um": "front radius (um)",
        "front_area_um2": "front area (um^2)",
        "front_speed_um_per_day": "front speed (um/day)",
    }
    for column in columns:
        table.add_column(labels.get(column, column.replace("census.", "")), justify="right")
    organs = dict.fromkeys(k.split(".", 1)[0] for k in values if ".census." in k or ".front_" in k)
    for organ in organs:
        cells = []
        for column in columns:
            key = f"{organ}.{column}"
            used.add(key)
            cells.append(f"{values[key]:.3g}" if key in values else "")
        table.add_row(organ, *cells)
    return table


def _ledger(values: Mapping[str, float], used: set[str]) -> Table:
    """Where every cell that entered the blood is now (each counted once), as counts, as
    fractions of those that entered and, for the block's categories, of those that arrested
    in the block (Luzzi's denominators); then the running totals."""
    table = Table(title="cascade ledger (cells that entered the blood)", show_header=True)
    table.add_column("where")
    table.add_column("cells", justify="right")
    table.add_column("of entered", justify="right")
    table.add_column("of arrested in block", justify="right")
    if "ledger.shed" not in values:
        return table
    entered = values["ledger.shed"] + values.get("ledger.injected", 0.0)
    arrested = values.get("ledger.arrested", 0.0)

    def row(key: str, label: str, style: str | None = None) -> None:
        count = values.get(f"ledger.{key}", 0.0)
        of_entered = f"{count / entered:.3g}" if entered else "-"
        in_block = key in BLOCK_CATEGORIES and arrested > 0
        of_arrested = f"{count / arrested:.3g}" if in_block else ""
        table.add_row(label, f"{count:.0f}", of_entered, of_arrested, style=style)

    for key in LEDGER_PARTITION:
        row(key, LEDGER_LABELS[key])
    for key, label in LEDGER_CUMULATIVE:
        row(key, label, "dim")
    used.update(k for k in values if k.startswith("ledger."))
    return table
