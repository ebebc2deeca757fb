"""Pydantic's validation errors as a user reads them: the dotted key the user wrote (without
discriminator tags; a model's own check adds the field it names) and one line saying what is
wrong and what is allowed."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Union

from pydantic import BaseModel

from tissue.config.base import CHECK_ERROR


def error_key(error: Mapping[str, Any], data: Any) -> str:
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
        if isinstance(item, str) and not isinstance(node, Mapping) and parts:
            continue  # a union member's tag (e.g. 'constrained-float'), not a key
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


def describe(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    """The message of a pydantic error, for a user: what is wrong and, for an unknown key,
    the keys allowed there (looked up from ``root``, the model validated)."""
    kind = error["type"]
    if kind == CHECK_ERROR:
        return str(error["ctx"]["message"])
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, error["loc"][:-1])
        return "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    message = str(error["msg"])
    if kind == "missing":
        return "required key is missing"
    given = error.get("input")
    if not isinstance(given, Mapping | list):
        message += f" (got {given!r})"
    return message


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``loc`` inside ``root``."""
    annotation: Any = root
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
            chosen = [m for m in models if tag in _kind_tags(m)]
            annotation = chosen[0] if chosen else (models[0] if models else members[0])
        else:
            return annotation


def _kind_tags(model: type[BaseModel]) -> tuple[Any, ...]:
    """The values a model's ``kind`` discriminator takes (its Literal's arguments)."""
    field = model.model_fields.get("kind")
    return typing.get_args(field.annotation) if field is not None else ()


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
