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
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")
