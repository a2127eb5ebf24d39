"""The ``msft`` command line: each command is a thin call into the library."""

import functools
import inspect
import sys

import click

from . import container, convert
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
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
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
