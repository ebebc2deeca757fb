"""What every command shares: the stderr console, exit codes, and turning input errors
into one line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from tissue.errors import InputError

console = Console(stderr=True)
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def fail_on_input_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn InputError into one line on stderr and exit code 2; Ctrl-C into 130."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_INPUT)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper
