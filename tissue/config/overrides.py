"""Overrides: ``--set dotted.key=value`` parsed, and applied to a scenario's data (existing
keys only, so that a misspelt name is an error rather than a new entry)."""

from __future__ import annotations

import tomllib
from typing import Any

from tissue.errors import InputError


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=0.5"`` -> ("a.b", 0.5); values are TOML, bare words become strings."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError("--set", text, "expected dotted.key=value")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Replace the existing value at dotted ``key`` of ``data`` (tables and arrays); an
    InputError naming ``source`` and what is allowed where the key leads nowhere."""
    node: Any = data
    parts = key.split(".")
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[:depth]) or "<top>"
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise InputError(
                    source,
                    key,
                    f"'{part}' is not an index of {prefix} (allowed: 0 to {len(node) - 1})",
                )
            index: Any = int(part)
        elif isinstance(node, dict):
            if part not in node:
                allowed = ", ".join(map(str, node)) or "(none)"
                raise InputError(source, key, f"no key '{part}' in {prefix}; allowed: {allowed}")
            index = part
        else:
            raise InputError(source, key, f"'{prefix}' is a value, not a table")
        if depth == len(parts) - 1:
            node[index] = value
        else:
            node = node[index]


def drop_none(data: Any) -> Any:
    """``data`` without the None values of its tables (TOML has no null)."""
    if isinstance(data, dict):
        return {k: drop_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [drop_none(v) for v in data]
    return data
