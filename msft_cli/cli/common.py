"""What every command shares, importing nothing heavy: library errors as click errors, and
the library's defaults as the CLI's."""

import functools
import inspect

import click

from msft_cli.errors import MsftError


def defaults(func):
    """The keyword defaults of a library function: the CLI's defaults are the library's."""
    return {k: p.default for k, p in inspect.signature(func).parameters.items()
            if p.default is not inspect.Parameter.empty}


def fail_cleanly(func):
    """Turn msft's errors into ``Error: ...`` and exit status 1."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except MsftError as exc:
            raise click.ClickException(str(exc)) from None
    return wrapper
