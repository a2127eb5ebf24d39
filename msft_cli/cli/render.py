"""``msft render``: pictures of containers, audio files and learn-dft models."""

import sys

import click

from msft_cli.cli.common import defaults, fail_cleanly
from msft_cli.cli.options import (
    _batch_or_one,
    _Channel,
    batch_options,
    reading_options,
    transform_options_except,
)
from msft_cli.cli.progress import _progress
from msft_cli.errors import MsftError
from msft_cli.render.figure import Y_AXES
from msft_cli.render.inputs import FORMATS, targets
from msft_cli.render.picture import DEFAULT_HEIGHT, DEFAULT_WIDTH, check_options
from msft_cli.render.picture import render as render_image

#: ``analyze``'s transform options for audio inputs, except --fmin/--fmax (render's own).
_audio_transform_options = transform_options_except("fmin", "fmax")

_RENDER = defaults(render_image)


@click.command("render")
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@click.option("-o", "--output", type=click.Path(),
              help="Image to write (.png, .svg or .pdf); for several inputs or a folder, the "
                   "folder to write into [default: beside each input].")
@click.option("--format", "format_", type=click.Choice(FORMATS),
              help="Format of image names made from the inputs [default: png].")
@click.option("--start", type=float, default=_RENDER["start"],
              help="Start of the time range in seconds [default: 0].")
@click.option("--end", type=float, default=_RENDER["end"],
              help="End of the time range in seconds [default: the end].")
@click.option("--channel", type=_Channel(), default=_RENDER["channel"], show_default=True,
              metavar="N|mix",
              help="A channel number (0 is the first), or mix: the loudest of all.")
@click.option("--fmin", type=float, default=_RENDER["fmin"],
              help="Lowest frequency shown in Hz; audio is analysed from the note at or "
                   "above it [default: all].")
@click.option("--fmax", type=float, default=_RENDER["fmax"],
              help="Highest frequency shown in Hz [default: all].")
@click.option("--top-db", type=float, default=_RENDER["top_db"], show_default=True,
              help="Dynamic range shown, in dB below the brightest colour.")
@click.option("--max-db", type=float, default=_RENDER["max_db"],
              help="dBFS of the brightest colour [default: the loudest pixel].")
@click.option("--cmap", default=_RENDER["cmap"], show_default=True,
              help="A matplotlib colormap, e.g. magma, viridis, inferno, gray.")
@click.option("--y-axis", type=click.Choice(Y_AXES), default=_RENDER["y_axis"],
              show_default=True, help="Frequencies in Hz or as note names (A4 = the tuning).")
@click.option("--raw", is_flag=True, default=_RENDER["raw"],
              help="An unadorned image, one pixel row per bin, for datasets and models.")
@click.option("--width", type=int, default=_RENDER["width"],
              help=f"Width in pixels [default: {DEFAULT_WIDTH}].")
@click.option("--height", type=int, default=_RENDER["height"],
              help=f"Height in pixels [default: {DEFAULT_HEIGHT}; with --raw, one "
                   "row per bin].")
@click.option("--dpi", type=float, default=_RENDER["dpi"], show_default=True,
              help="Resolution written into the image; text is sized for it.")
@click.option("--title", default=_RENDER["title"],
              help="Title [default: the input's file name].")
@reading_options(excerpt=False)
@_audio_transform_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@batch_options
@fail_cleanly
def render(inputs, output, format_, quiet, **options):
    """Draw containers or audio files IN as images, each octave at its own time resolution.

    Columns pool the loudest frame of each octave (a 1 ms click stays
    visible); octaves with fewer frames than columns are held. Audio files are
    analysed on the fly with the transform options below. Several inputs or a
    folder give one image each, the folder's tree mirrored under -o, made by -j
    workers; a bad input is reported and the others go on.

    \b
    Example:
      msft render sample_audio/house_beat.wav -o house.png
      msft render house.h5 -o hats.svg --start 2 --end 4 --fmin 2000
      msft render sample_audio -o pictures --y-axis note
    """
    inputs = [_batch_or_one("render", inputs, output, quiet, options, format=format_)]
    check_options(**options)  # once, not once per input
    failed = False
    for source, image in targets(inputs, output, format_):
        update, close = _progress("analyze", quiet)
        try:
            report = render_image(source, image, progress=update, **options)
        except MsftError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed = True
            continue
        finally:
            close()
        if not quiet:
            x = report.extra
            click.echo(f"{report.input} -> {report.output}: {x['width']}x{x['height']} "
                       f"{x['format'].upper()} in {report.seconds:.2f} s")
    if failed:
        sys.exit(1)
