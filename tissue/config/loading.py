"""Loading scenarios: built-in names and TOML files, and ``extends`` chains merged table by
table, validated by :func:`tissue.config.scenario.scenario_from_dict`."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from tissue.config.scenario import Scenario, scenario_from_dict
from tissue.errors import InputError

BUILTIN_PACKAGE = "tissue.scenarios"


def builtin_scenarios() -> dict[str, str]:
    """Built-in scenario name -> its description."""
    return builtin_descriptions(BUILTIN_PACKAGE)


def builtin_descriptions(package: str) -> dict[str, str]:
    """Name -> ``description`` of each TOML file shipped in ``package``, by name."""
    out = {}
    for entry in sorted(resources.files(package).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text())
            out[entry.name.removesuffix(".toml")] = str(data.get("description", ""))
    return out


def load_scenario(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load a built-in scenario by name or a TOML file by path, then apply overrides.

    A file may start from another with ``extends = "NAME_OR_PATH"`` (a path relative to the
    file): its tables are merged key by key over the other's (values and arrays replace).
    """
    data, source = _scenario_data(str(name_or_path), ())
    scenario = scenario_from_dict(data, source)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    return scenario


def _scenario_data(name_or_path: str, chain: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """The TOML of a scenario with its ``extends`` chain merged in, and its source."""
    text, source = _read_scenario_text(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(source, "", f"not valid TOML ({error})") from None
    base = data.pop("extends", None)
    if base is None:
        return data, source
    if not isinstance(base, str):
        raise InputError(source, "extends", "must be a built-in scenario name or a .toml path")
    path = Path(name_or_path)
    if path.suffix == ".toml" and not Path(base).is_absolute() and base.endswith(".toml"):
        base = str(path.parent / base)
    if base in chain or base == name_or_path:
        raise InputError(source, "extends", f"'{base}' extends itself (through {list(chain)})")
    base_data, _ = _scenario_data(base, (*chain, name_or_path))
    return _merged(base_data, data), source


def _merged(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def names_a_file(path: Path) -> bool:
    """Whether a scenario or sweep argument is a path rather than a built-in's name: it
    ends in .toml or names a file (a folder named like a built-in is not one)."""
    return path.suffix == ".toml" or path.is_file()


def _read_scenario_text(name_or_path: str) -> tuple[str, str]:
    path = Path(name_or_path)
    if names_a_file(path):
        if not path.is_file():
            raise InputError(str(path), "", "no such scenario file")
        try:
            return path.read_text(), str(path)
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(str(path), "", f"cannot read ({error})") from None
    builtins = builtin_scenarios()
    if name_or_path not in builtins:
        allowed = ", ".join(builtins)
        raise InputError(
            name_or_path, "", f"no such built-in scenario or file; built-ins: {allowed}"
        )
    entry = resources.files(BUILTIN_PACKAGE).joinpath(f"{name_or_path}.toml")
    return entry.read_text(), f"{name_or_path} (built-in)"
