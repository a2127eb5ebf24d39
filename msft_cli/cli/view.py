"""``msft view``: look at and listen to containers in the browser."""

import click

from msft_cli.cli.common import fail_cleanly


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port on 127.0.0.1 [default: a free one].")
@click.option("--no-browser", is_flag=True, help="Print the URL without opening a browser.")
@fail_cleanly
def view(inputs, port, no_browser):
    """Look at and listen to containers (or audio files) in the browser.

    Starts a local server on 127.0.0.1, prints the page's URL (with a random
    token every request must carry) and opens it. Audio files are analysed
    into a temporary container first. Ctrl-C stops the server.

    \b
    Example:
      msft view sample_audio/house_beat.wav
      msft view house.h5 --port 8765 --no-browser
    """
    from msft_cli.view import serve
    serve(inputs, port=port, browser=not no_browser, echo=click.echo)
