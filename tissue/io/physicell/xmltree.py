"""A small read-only XML tree that remembers the line of each element, for reports that
point into PhysiCell's settings file (the standard library's ElementTree does not keep
lines)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from tissue.errors import InputError


@dataclass
class Node:
    """An element: its tag, attributes, stripped text, children and 1-based line."""

    tag: str
    attrib: dict[str, str]
    line: int
    text: str = ""
    children: list[Node] = field(default_factory=list)

    def child(self, tag: str) -> Node | None:
        """The first child named ``tag``, or None."""
        return next((c for c in self.children if c.tag == tag), None)

    def all(self, tag: str) -> list[Node]:
        """Every child named ``tag``, in order."""
        return [c for c in self.children if c.tag == tag]

    def find(self, path: str) -> Node | None:
        """The first element down a ``/``-separated path of tags, or None."""
        node: Node | None = self
        for tag in path.split("/"):
            node = node.child(tag) if node is not None else None
        return node

    def enabled(self, default: bool = True) -> bool:
        """The ``enabled`` attribute as PhysiCell reads it (true/1/yes, any case)."""
        value = self.attrib.get("enabled")
        return default if value is None else truthy(value)


def truthy(text: str) -> bool:
    """A boolean as pugixml's ``as_bool`` reads it: true when it starts with 1, t, T, y, Y."""
    return text.strip()[:1] in ("1", "t", "T", "y", "Y")


def parse(path: Path, shown: str) -> Node:
    """The root element of the XML file ``path`` (``shown`` names it in errors)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(shown, "", f"cannot read: {error.strerror or error}") from None
    parser = expat.ParserCreate()
    stack: list[Node] = []
    root: list[Node] = []
    texts: list[list[str]] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        node = Node(tag, dict(attrib), parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)
        texts.append([])

    def end(_tag: str) -> None:
        stack.pop().text = "".join(texts.pop()).strip()

    def chars(text: str) -> None:
        if texts:
            texts[-1].append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise InputError(shown, f"line {error.lineno}", f"not well-formed XML: {error}") from None
    return root[0]
