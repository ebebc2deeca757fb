"""The metastasis model's parameter table: every value of ``metastasis.toml`` with where it
comes from, as the file's own comments say.

    python -m benchmarks.calibration.parameters     # print the table

Each assignment (``key = value  # comment``) and each reaction of a field (a one-line table
after its comment line) is a row: the dotted key, the value as written and its source, the
comment. A comment holding "fitted" is a fit (the calibration scripts'), "estimate" or
"prior" a value chosen, not measured (a calibration prior), none "unmarked"; any other names
its source. The README's
``model-results:parameters`` block is this table (``benchmarks.model_results tables``
writes it and a test checks it).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files

SKIP_SECTIONS = ("run", "observables", "time_steps")  # how a run is laid out, not the model
SKIP_KEYS = ("name", "description", "kind", "units", "organs", "geometry", "barrier_labels",
             "allowed_labels", "cell_type", "behaviour", "signal", "as_signal", "organ",
             "type", "label", "cell_types", "oxygen_field", "chemotaxis_field",
             "intravasation_label", "arrest_organ", "arrest_label", "arrest_type",
             "spacing_um", "shape", "start_day", "center_um")  # fmt: skip
ASSIGNMENT = re.compile(r"^([A-Za-z0-9_.]+)\s*=\s*(.+?)\s*(?:#\s*(.*))?$")
SECTION = re.compile(r"^\[+([^\]]+)\]+\s*(?:#\s*(.*))?$")


@dataclass(frozen=True)
class Parameter:
    key: str
    value: str
    source: str

    @property
    def kind(self) -> str:
        """fitted, estimate, cited or unmarked (no comment: the file's header says PhysiCell
        defaults unless noted, which not every such value is)."""
        text = self.source.lower()
        if not text:
            return "unmarked"
        if "fitted" in text:
            return "fitted"
        if "estimate" in text or "prior" in text:
            return "estimate"
        return "cited"


def parameters(name: str = "metastasis") -> list[Parameter]:
    """The rows of built-in scenario ``name``'s file, in its order."""
    text = (files("tissue.scenarios") / f"{name}.toml").read_text()
    section, rows, last_comment = "", [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            last_comment = line.lstrip("# ").strip()
            continue
        header = SECTION.match(line)
        if header:
            section = header.group(1).strip()
            continue
        if line.startswith("{"):  # a reaction in a field's list
            value = line.rstrip(",").strip()
            rows.append(Parameter(f"{section}.reactions", value, last_comment))
            continue
        match = ASSIGNMENT.match(line)
        if not match or section.split(".")[0] in SKIP_SECTIONS:
            continue
        key, value, comment = match.group(1), match.group(2), match.group(3) or ""
        if key.split(".")[-1] in SKIP_KEYS or value.endswith("["):
            continue
        rows.append(Parameter(f"{section}.{key}" if section else key, value, comment))
    return rows


def parameter_table(name: str = "metastasis") -> str:
    """Markdown: a count by kind, then every row."""
    rows = parameters(name)
    kinds = {k: sum(r.kind == k for r in rows) for k in ("fitted", "cited", "estimate", "unmarked")}
    lines = [
        f"{len(rows)} values in `{name}.toml`: {kinds['fitted']} fitted, {kinds['cited']} "
        f"from a cited source, {kinds['estimate']} estimates (calibration priors), "
        f"{kinds['unmarked']} without a comment (PhysiCell defaults or unmarked).",
        "",
        "<details><summary>every value and its source</summary>",
        "",
        "| key | value | kind | source (the file's comment) |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        value = r.value.replace("|", "\\|")
        source = r.source.replace("|", "\\|")
        lines.append(f"| `{r.key}` | `{value}` | {r.kind} | {source} |")
    lines += ["", "</details>"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    print(parameter_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
