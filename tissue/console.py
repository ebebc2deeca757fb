"""What every command shares: the stderr console, exit codes, turning input errors into
one line, and the options several commands take."""

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


def out_option(help_text: str) -> Callable[..., Any]:
    """The required ``-o/--out`` folder option (the command's ``out_dir``)."""
    return click.option(
        "-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help=help_text
    )


def set_option(help_text: str) -> Callable[..., Any]:
    """The repeatable ``--set KEY=VALUE`` option (the command's ``overrides``)."""
    return click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=help_text)


DAYS_OPTION = click.option(
    "--days", type=float, default=None, help="Simulated days (default: the scenario's)."
)
