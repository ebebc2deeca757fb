"""Loading scenarios: built-in names and files, ``extends`` chains, ``--set`` overrides,
validation, and the translation of pydantic's errors into one-line InputErrors (see
:class:`tissue.errors.InputError`) naming the file, the dotted key and what is allowed."""

from __future__ import annotations

import tomllib
import types
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError

from tissue.config.base import CHECK_ERROR
from tissue.config.checks import check_references
from tissue.config.scenario import Scenario
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


def _read_scenario_text(name_or_path: str) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
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


def scenario_from_dict(
    data: Mapping[str, Any],
    source: str,
    overridden: Mapping[str, Any] | None = None,
    override_source: str = "--set",
) -> Scenario:
    """Validate ``data`` into a Scenario; errors name ``source`` (or the override)."""

    def where(key: str) -> str:
        for okey in overridden or {}:
            if key == okey or key.startswith(okey + ".") or okey.startswith(key + "."):
                return override_source
        return source

    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = _error_key(first, data)
        raise InputError(where(key), key or "<top>", _describe(first)) from None
    scenario._source = source
    try:
        check_references(scenario)
    except InputError as error:
        raise InputError(where(error.key), error.key, error.message) from None
    return scenario


def _error_key(error: Mapping[str, Any], data: Any) -> str:
    """Dotted key of a pydantic error; a model's own check (:func:`tissue.config.base.require`)
    adds the field it names."""
    key = _dotted_loc(error["loc"], data)
    field = error["ctx"]["field"] if error["type"] == CHECK_ERROR else ""
    return ".".join(part for part in (key, field) if part)


def _dotted_loc(loc: tuple[Any, ...], data: Any) -> str:
    """Readable key path of a pydantic error, without discriminator tags."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(node, list) and isinstance(item, int):
            parts.append(str(item))
            node = node[item] if item < len(node) else None
        elif isinstance(node, Mapping) and item in node:
            parts.append(str(item))
            node = node[item]
        elif isinstance(node, Mapping) and node.get("kind") == item:
            continue  # discriminated-union tag, not a key the user wrote
        else:
            parts.append(str(item))
            node = None
    return ".".join(parts)


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == CHECK_ERROR:
        return str(error["ctx"]["message"])
    if kind == "extra_forbidden":
        allowed = _allowed_keys(error["loc"][:-1])
        return "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    message = str(error["msg"])
    if kind == "missing":
        return "required key is missing"
    given = error.get("input")
    if not isinstance(given, Mapping | list):
        message += f" (got {given!r})"
    return message


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``loc`` inside a Scenario."""
    annotation: Any = Scenario
    for item in loc:
        annotation = _step_into(annotation, item)
        if annotation is None:
            return []
    annotation = _unwrap(annotation, None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any, tag: Any) -> Any:
    """Strip Annotated/Optional; pick a union member by its ``kind`` tag."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin is Union or origin is types.UnionType:
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            chosen = [
                m
                for m in models
                if m.model_fields.get("kind") and m.model_fields["kind"].default == tag
            ]
            annotation = chosen[0] if chosen else (models[0] if models else members[0])
        else:
            return annotation


def _step_into(annotation: Any, item: Any) -> Any:
    annotation = _unwrap(annotation, item)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if item in annotation.model_fields:
            return annotation.model_fields[item].annotation
        return annotation  # a discriminator tag: stay on the chosen model
    if origin in (dict, Mapping):
        return typing.get_args(annotation)[1]
    if origin is list:
        return typing.get_args(annotation)[0]
    return None


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


def _set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
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
