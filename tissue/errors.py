"""Errors a user can fix: bad scenario files, overrides and command-line values."""

from __future__ import annotations


class InputError(Exception):
    """Bad input, reported as one line naming where, which key, and what is allowed.

    The command line prints ``str(error)`` and exits with code 2, without a traceback.
    """

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        line = f"{source}: {key}: {message}" if key else f"{source}: {message}"
        super().__init__(_one_line(line))


def _one_line(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped (a key may hold
    them), so that the message stays one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
