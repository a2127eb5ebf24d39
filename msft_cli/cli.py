"""The ``msft`` command line: each command is a thin call into the library."""

import functools
import inspect
import sys

import click

from . import container, convert
from .render import DEFAULT_HEIGHT, DEFAULT_WIDTH, FORMATS, Y_AXES, check_options, targets
from .render import render as render_image
from ._version import __version__
from .errors import MsftError
from .fftw import PLANNERS
from .scales import WINDOWS
from .transform import MODES, MSFT

_DEFAULTS = {k: p.default for k, p in inspect.signature(MSFT.__init__).parameters.items()
             if p.default is not inspect.Parameter.empty}
_ANALYZE = {k: p.default for k, p in inspect.signature(convert.analyze).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _fail_cleanly(func):
    """Turn msft's errors into ``Error: ...`` and exit status 1."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except MsftError as exc:
            raise click.ClickException(str(exc)) from None
    return wrapper


#: Inputs shorter than this (in samples at 44.1 kHz, about a minute) get no progress bar.
_LONG = 60 * 44100


def _progress(label, quiet):
    """A progress callback drawing click's bar on stderr for long inputs, and its closer."""
    if quiet:
        return None, lambda: None
    state = {}

    def update(done, total):
        bar = state.get("bar")
        if bar is None and total < _LONG:
            return
        if bar is None:
            bar = state["bar"] = click.progressbar(length=total, label=label,
                                                   file=sys.stderr, show_eta=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    def close():
        if "bar" in state:
            state["bar"].__exit__(None, None, None)
    return update, close


def transform_options(func):
    """The transform's parameters as options, with the library's defaults."""
    options = [
        click.option("--fmin", type=float, default=_DEFAULTS["fmin"],
                     help="Centre of the lowest band in Hz [default: the lowest "
                          "equal-tempered note at or above 20 Hz, E0 = 20.60 Hz]."),
        click.option("--bins-per-octave", "-b", type=int,
                     default=_DEFAULTS["bins_per_octave"], show_default=True,
                     help="Bands per octave (1-64)."),
        click.option("--n-octaves", type=int, default=_DEFAULTS["n_octaves"],
                     help="Octaves [default: all whole octaves under Nyquist]."),
        click.option("--fmax", type=float, default=_DEFAULTS["fmax"],
                     help="Highest frequency to cover, instead of --n-octaves."),
        click.option("--tuning", type=float, default=_DEFAULTS["tuning"], show_default=True,
                     help="A4 in Hz, for the default --fmin."),
        click.option("--window", type=click.Choice(WINDOWS), default=_DEFAULTS["window"],
                     show_default=True, help="Window shape on the log-frequency axis."),
        click.option("--mode", type=click.Choice(MODES), default=_DEFAULTS["mode"],
                     show_default=True,
                     help="Edges: zero-extended (blockwise) or one period (exact, in memory)."),
        click.option("--block-size", type=int, default=_DEFAULTS["block_size"],
                     help="Samples advanced per block [default: from the margins]."),
        click.option("--threads", type=int, default=_DEFAULTS["threads"],
                     help="FFTW threads [default: all cores]."),
        click.option("--planner", type=click.Choice(PLANNERS), default=_DEFAULTS["planner"],
                     show_default=True, help="FFTW planner effort (plans are kept as wisdom)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msft")
def main():
    """msft: an exact multi-scale constant-Q transform for music.

    Short windows for high frequencies, long ones for low frequencies, a
    constant number of bins per octave, and resynthesis far below audibility.

    \b
    Example:
      msft analyze sample_audio/house_beat.wav -o house.h5
      msft info house.h5
      msft resynth house.h5 -o house.wav --reference sample_audio/house_beat.wav
    """


@main.command()
@click.argument("input", metavar="IN")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Container to write [default: IN with .h5].")
@transform_options
@click.option("--dtype", type=click.Choice(container.DTYPES), default=_ANALYZE["dtype"],
              show_default=True, help="Coefficient type stored.")
@click.option("--compression", type=click.Choice(container.COMPRESSIONS),
              default=_ANALYZE["compression"], show_default=True, help="HDF5 compression.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@_fail_cleanly
def analyze(input, output, dtype, compression, quiet, **params):
    """Transform an audio file IN (or - for standard input) into an HDF5 container.

    Every channel is kept. IN is any file libsndfile reads: WAV, FLAC, OGG,
    AIFF, MP3 and more.

    \b
    Example:
      msft analyze sample_audio/techno_bassline.wav -o techno.h5 -b 24
    """
    update, close = _progress("analyze", quiet)
    try:
        report = convert.analyze(input, output, dtype=dtype, compression=compression,
                                 progress=update, **params)
    finally:
        close()
    if not quiet:
        click.echo(f"{report.input} -> {report.output}: {report.duration:.2f} s in "
                   f"{report.seconds:.2f} s ({report.realtime_factor:.0f}x realtime), "
                   f"{container._human(report.extra['size'])}")


@main.command()
@click.argument("input", metavar="IN.h5")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Audio file to write; the extension picks the format "
                   "[default: IN with .resynth.wav].")
@click.option("--subtype", help="Sample format, e.g. PCM_16, PCM_24, FLOAT "
                                "[default: the source's].")
@click.option("--reference", type=click.Path(),
              help="The original audio: print the SNR of the resynthesis against it.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bar, and no summary unless --reference asks for the SNR.")
@_fail_cleanly
def resynth(input, output, subtype, reference, quiet):
    """Resynthesize audio from a container, at the source's rate and channels.

    \b
    Example:
      msft resynth techno.h5 -o techno.flac --reference sample_audio/techno_bassline.wav
    """
    update, close = _progress("resynth", quiet)
    try:
        report = convert.resynth(input, output, subtype=subtype, reference=reference,
                                 progress=update)
    finally:
        close()
    if not quiet or reference is not None:
        line = (f"{report.input} -> {report.output}: {report.duration:.2f} s in "
                f"{report.seconds:.2f} s ({report.realtime_factor:.0f}x realtime)")
        if "snr_db" in report.extra:
            line += f", SNR {report.extra['snr_db']:.1f} dB against {reference}"
        click.echo(line)


@main.command()
@click.argument("input", metavar="IN.h5")
@_fail_cleanly
def info(input):
    """Print a summary of a container: source, duration, parameters, octaves.

    \b
    Example:
      msft info techno.h5
    """
    click.echo(str(container.info(input)))


_RENDER = {k: p.default for k, p in inspect.signature(render_image).parameters.items()
           if p.default is not inspect.Parameter.empty}


class _Channel(click.ParamType):
    """A channel number, or ``mix``."""

    name = "N|mix"

    def convert(self, value, param, ctx):
        if value == "mix" or isinstance(value, int):
            return value
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a channel number nor 'mix'", param, ctx)


def _audio_transform_options(func):
    """``analyze``'s transform options for audio inputs, except --fmin/--fmax (render's own)."""
    for param in transform_options(lambda: None).__click_params__:
        if param.name not in ("fmin", "fmax"):
            func.__dict__.setdefault("__click_params__", []).append(param)
    return func


@main.command("render")
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
@_audio_transform_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@_fail_cleanly
def render(inputs, output, format_, quiet, **options):
    """Draw containers or audio files IN as images, each octave at its own time resolution.

    Columns pool the loudest frame of each octave (a 1 ms click stays
    visible); octaves with fewer frames than columns are held. Audio files are
    analysed on the fly with the transform options below. Several inputs or a
    folder give one image each; a bad input is reported and the others go on.

    \b
    Example:
      msft render sample_audio/house_beat.wav -o house.png
      msft render house.h5 -o hats.svg --start 2 --end 4 --fmin 2000
      msft render sample_audio -o pictures --y-axis note
    """
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
