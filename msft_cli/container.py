"""Deprecated: moved to :mod:`msft_cli.io.container`. Its names still work here for one release,
with a DeprecationWarning."""

from msft_cli._compat import moved_module

__getattr__ = moved_module(__name__, "msft_cli.io.container",
                           "msft_cli.io.container.reader",
                           "msft_cli.io.container.writer")
