"""What an import could not express, and where it is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tissue.errors import InputError
from tissue.io.physicell.xmltree import Node


@dataclass(frozen=True)
class Finding:
    """A part of the PhysiCell model that tissue cannot express: the file and 1-based line
    where it is written, what it is, and why it cannot be imported (and, for ``--lenient``,
    what is done instead)."""

    file: str
    line: int
    item: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.item}: {self.reason}"


class UnsupportedModel(InputError):
    """A strict import found parts it cannot express (``findings``, one per part)."""

    def __init__(self, source: str, findings: list[Finding]) -> None:
        self.findings = findings
        count = len(findings)
        super().__init__(
            source,
            "",
            f"{count} part{'s' if count > 1 else ''} of the model cannot be imported "
            f"(each listed as FILE:LINE; --lenient drops them with a warning)",
        )


@dataclass
class Report:
    """Findings and TOML comments gathered while importing one project.

    Attributes:
        project: the project folder. settings: the settings file, as shown in messages.
        findings: what cannot be expressed. comments: dotted scenario key -> where its
            value came from (a comment beside it in the TOML). remarks: header lines.
    """

    project: Path
    settings: str
    findings: list[Finding] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)
    remarks: list[str] = field(default_factory=list)

    def remark(self, text: str) -> None:
        """A line for the TOML's header: something left out because it changes nothing."""
        self.remarks.append(text)

    def cannot(self, where: Node | int, item: str, reason: str, file: str | None = None) -> None:
        """Record that ``item`` (written at ``where``: an element or a line) cannot be
        expressed, and why."""
        line = where if isinstance(where, int) else where.line
        self.findings.append(Finding(file or self.settings, line, item, reason))

    def note(
        self, key: str, where: Node | int | None, text: str = "", file: str | None = None
    ) -> None:
        """Comment the scenario key ``key``: its source line and ``text``."""
        parts = []
        if where is not None:
            line = where if isinstance(where, int) else where.line
            parts.append(f"{self.short(file or self.settings)}:{line}")
        if text:
            parts.append(text)
        self.comments[key] = "; ".join(parts)

    def short(self, file: str) -> str:
        """``file`` relative to the project folder where it is inside it."""
        try:
            return str(Path(file).resolve().relative_to(self.project.resolve()))
        except ValueError:
            return file
