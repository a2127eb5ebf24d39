"""``msft info``: a container's summary."""


import click

from msft_cli.cli.common import fail_cleanly
from msft_cli.io import container


@click.command()
@click.argument("input", metavar="IN.h5")
@fail_cleanly
def info(input):
    """Print a summary of a container: source, duration, parameters, octaves.

    \b
    Example:
      msft info techno.h5
    """
    click.echo(str(container.info(input)))
