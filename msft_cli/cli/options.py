"""Option groups shared by the commands, and the way library errors reach the user."""

import os
import sys

import click
from click.core import ParameterSource

from msft_cli import batch
from msft_cli.cli.common import defaults
from msft_cli.cli.progress import ConsoleProgress
from msft_cli.engine.bands import GAMMAS, WINDOWS
from msft_cli.engine.fftw import PLANNERS
from msft_cli.engine.transform import MODES, MSFT

_DEFAULTS = defaults(MSFT.__init__)


_BATCH = defaults(batch.run)
_BATCH_OPTIONS = ("jobs", "glob", "overwrite", "fail_fast", "shard", "checksum", "manifest")


def batch_options(func):
    """Options for folders or several inputs (:func:`msft_cli.batch.run`), its defaults."""
    options = [
        click.option("-j", "--jobs", type=int, default=_BATCH["jobs"],
                     help="Folders or several inputs: worker processes [default: the "
                          "number of cores]."),
        click.option("--glob", multiple=True, metavar="PATTERN",
                     help="In folders, take the files whose name or relative path matches "
                          "(repeatable) [default: by extension]."),
        click.option("--overwrite", is_flag=True, default=_BATCH["overwrite"],
                     help="Redo outputs that are up to date."),
        click.option("--fail-fast", is_flag=True, default=_BATCH["fail_fast"],
                     help="Stop at the first file that fails."),
        click.option("--shard", metavar="I/N", default=_BATCH["shard"],
                     help="Only share I of N (0 <= I < N) of the files, drawn by path: for "
                          "job arrays."),
        click.option("--checksum", is_flag=True, default=_BATCH["checksum"],
                     help="Know unchanged sources by a SHA-256 of their content, not by "
                          "size and modification time."),
        click.option("--manifest/--no-manifest", default=_BATCH["manifest"],
                     help="Keep a manifest (JSON lines) in the output folder; earlier "
                          "records let render skip images [default: yes; render: no]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _batch_or_one(command, inputs, output, quiet, options, **more):
    """Folders or several inputs: run the batch and exit. One file: return it.

    With one file, the batch options are refused and -o must not be a folder.
    """
    settings = {k: options.pop(k) for k in _BATCH_OPTIONS}
    if len(inputs) > 1 or any(os.path.isdir(i) for i in inputs):
        report = batch.run(command, inputs, output, progress=ConsoleProgress(quiet),
                           **settings, **more, **options)
        sys.exit(report.exit_status)
    ctx = click.get_current_context()
    for param in ctx.command.params:
        if param.name in _BATCH_OPTIONS and \
                ctx.get_parameter_source(param.name) is not ParameterSource.DEFAULT:
            raise click.UsageError(f"{param.opts[-1]} applies to folders or several inputs")
    if command != "render" and output is not None and os.path.isdir(output):
        raise click.BadParameter(f"File {click.format_filename(output)!r} is a directory.",
                                 param_hint="'-o' / '--output'")
    return inputs[0]


class _Gamma(click.ParamType):
    """A bandwidth in Hz, or one of the named ones (:data:`msft_cli.engine.bands.GAMMAS`)."""

    name = "HZ|erb"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) or value in GAMMAS:
            return value
        try:
            return float(value)
        except ValueError:
            self.fail(f"{value!r} is not a number of Hz or one of {', '.join(GAMMAS)}",
                      param, ctx)


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
        click.option("--gamma", type=_Gamma(), default=_DEFAULTS["gamma"], show_default=True,
                     help="Variable-Q: Hz added to every band's bandwidth (f/Q + gamma), or "
                          "'erb' for ERB-like bands; shorter filters and finer hops in the "
                          "bass. 0: constant-Q."),
        click.option("--oversample", type=int, default=_DEFAULTS["oversample"],
                     show_default=True,
                     help="A power of two dividing every octave's hop (finer time grids)."),
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


def transform_options_except(*names):
    """A decorator adding :func:`transform_options` but the options named ``names``."""
    def decorate(func):
        for param in transform_options(lambda: None).__click_params__:
            if param.name not in names:
                func.__dict__.setdefault("__click_params__", []).append(param)
        return func
    return decorate


class _Number(click.ParamType):
    """A number as written: an int when it is one (``44100``), else a float (``44100.5``),
    so that the library's checks see the value given and name it in their messages."""

    name = "NUMBER"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return value
        try:
            return int(value)
        except ValueError:
            pass
        try:
            return float(value)
        except ValueError:
            self.fail(f"{value!r} is not a number", param, ctx)


def reading_options(excerpt=True):
    """Options of reading audio (:class:`msft_cli.io.resample.AudioReader`): ``--sr``,
    ``--mono``, and with ``excerpt`` ``--offset``, ``--duration`` and ``--resample-quality``;
    the library's defaults (:func:`msft_cli.analyze`'s)."""
    from msft_cli.convert import analyze
    from msft_cli.io.resample import QUALITIES
    d = defaults(analyze)
    options = [
        click.option("--sr", type=_Number(), default=d["sr"], metavar="HZ",
                     help="Resample to this rate while reading (soxr, streamed) "
                          "[default: the file's]."),
        click.option("--mono", is_flag=True, default=d["mono"],
                     help="Downmix to one channel: the mean of the channels."),
    ]
    if excerpt:
        options += [
            click.option("--offset", type=_Number(), default=d["offset"], show_default=True,
                         metavar="SECONDS", help="Start reading this far into the file."),
            click.option("--duration", type=_Number(), default=d["duration"],
                         metavar="SECONDS",
                         help="Read this many seconds [default: to the end]."),
            click.option("--resample-quality", type=click.Choice(QUALITIES),
                         default=d["resample_quality"], show_default=True,
                         help="soxr's resampling quality with --sr."),
        ]

    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func
    return decorate


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
