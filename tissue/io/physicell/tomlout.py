"""A scenario dict as TOML with a comment beside each value that has one."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

BARE = re.compile(r"^[A-Za-z0-9_-]+$")
LONG_LIST = 4  # lists of lists longer than this get one item per line


def _key(text: str) -> str:
    return text if BARE.match(text) else json.dumps(text)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list | tuple):
        if len(v) > LONG_LIST and all(isinstance(x, list | tuple) for x in v):
            return "[\n" + "".join(f"  {_value(x)},\n" for x in v) + "]"
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML for {type(v).__name__}")


def _line(key: str, value: Any, comment: str | None) -> str:
    text = f"{key} = {_value(value)}"
    return f"{text}  # {comment}" if comment else text


def _body(table: Mapping[str, Any], path: str, comments: Mapping[str, str]) -> list[str]:
    """The key = value lines of one table (dicts of dicts as dotted keys)."""
    out = []
    for k, v in table.items():
        where = f"{path}.{k}" if path else k
        if isinstance(v, Mapping) and v and all(isinstance(x, Mapping) for x in v.values()):
            for sub, x in v.items():
                out.append(_line(f"{_key(k)}.{_key(sub)}", x, comments.get(f"{where}.{sub}")))
        else:
            out.append(_line(_key(k), v, comments.get(where)))
    return out


def commented_toml(data: Mapping[str, Any], comments: Mapping[str, str], header: list[str]) -> str:
    """TOML text of ``data`` (a scenario dict) with ``comments`` (dotted key -> text)
    beside values and above tables, after the ``header`` comment lines."""
    lines = [f"# {h}" if h else "#" for h in header]
    scalars = {k: v for k, v in data.items() if not isinstance(v, Mapping) and not _tables(v)}
    lines += ["", *_body(scalars, "", comments)]
    for top, v in data.items():
        if isinstance(v, Mapping) and v and all(isinstance(x, Mapping) for x in v.values()):
            for name, table in v.items():
                where = f"{top}.{name}"
                lines.append("")
                if where in comments:
                    lines.append(f"# {comments[where]}")
                lines.append(f"[{_key(top)}.{_key(name)}]")
                lines += _body(table, where, comments)
        elif isinstance(v, Mapping):
            lines += ["", f"[{_key(top)}]", *_body(v, top, comments)]
        elif _tables(v):
            for i, item in enumerate(v):
                lines += ["", f"[[{_key(top)}]]", *_body(item, f"{top}.{i}", comments)]
    return "\n".join(lines) + "\n"


def _tables(v: Any) -> bool:
    """Whether ``v`` is a non-empty list of tables (an array of tables in TOML)."""
    return isinstance(v, list) and bool(v) and all(isinstance(x, Mapping) for x in v)
