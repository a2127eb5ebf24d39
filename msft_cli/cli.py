"""The ``msft`` command line: each command is a thin call into the library."""

import functools
import inspect
import os
import sys
import time

import click
from click.core import ParameterSource

from . import batch, container, convert, learn_dft, phase
from .render import DEFAULT_HEIGHT, DEFAULT_WIDTH, FORMATS, Y_AXES, check_options, targets
from .render import render as render_image
from ._version import __version__
from .errors import MsftError
from .fftw import PLANNERS, wisdom_path
from .scales import WINDOWS
from .transform import MODES, MSFT, plan_wisdom

_DEFAULTS = {k: p.default for k, p in inspect.signature(MSFT.__init__).parameters.items()
             if p.default is not inspect.Parameter.empty}
_ANALYZE = {k: p.default for k, p in inspect.signature(convert.analyze).parameters.items()
            if p.default is not inspect.Parameter.empty}
_RESYNTH = {k: p.default for k, p in inspect.signature(convert.resynth).parameters.items()
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


_BATCH = {k: p.default for k, p in inspect.signature(batch.run).parameters.items()
          if p.default is not inspect.Parameter.empty}
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
        report = batch.run(command, inputs, output, progress=batch.ConsoleProgress(quiet),
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


def _iterations_progress(label, quiet):
    """A progress callback drawing click's bar on stderr, however short the task, and its
    closer (for iterations rather than samples)."""
    if quiet:
        return None, lambda: None
    state = {}

    def update(done, total):
        if "bar" not in state:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr,
                                             show_eta=True)
            state["bar"].__enter__()
        state["bar"].update(done - state["bar"].pos)

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


def transform_options_except(*names):
    """A decorator adding :func:`transform_options` but the options named ``names``."""
    def decorate(func):
        for param in transform_options(lambda: None).__click_params__:
            if param.name not in names:
                func.__dict__.setdefault("__click_params__", []).append(param)
        return func
    return decorate


#: ``analyze``'s transform options for audio inputs, except --fmin/--fmax (render's own).
_audio_transform_options = transform_options_except("fmin", "fmax")


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
@click.argument("input", nargs=-1, required=True, metavar="IN...")
@click.option("-o", "--output", type=click.Path(),
              help="Container to write [default: IN with .h5]; for folders or several "
                   "inputs, the folder to mirror them into [default: beside each input].")
@transform_options
@click.option("--store", type=click.Choice(container.STORES), default=_ANALYZE["store"],
              show_default=True,
              help="Complex coefficients, or magnitudes only (4x smaller in float16; resynth "
                   "reconstructs the phases).")
@click.option("--dtype", type=click.Choice(container.DTYPES + container.MAGNITUDE_DTYPES),
              default=_ANALYZE["dtype"],
              help="Type stored: complex64 or complex128; with --store magnitude, float16 or "
                   "float32 [default: complex64; float16 with --store magnitude].")
@click.option("--compression", type=click.Choice(container.COMPRESSIONS),
              default=_ANALYZE["compression"], show_default=True, help="HDF5 compression.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@batch_options
@_fail_cleanly
def analyze(input, output, store, dtype, compression, quiet, **params):
    """Transform an audio file IN (or - for standard input) into an HDF5 container.

    Every channel is kept. IN is any file libsndfile reads: WAV, FLAC, OGG,
    AIFF, MP3 and more.

    IN may also be folders (their audio files, in all subfolders) or several
    files: their tree is mirrored under -o, -j workers convert them, outputs
    already made from the same source with the same options are skipped, a
    bad file is reported and the others go on, and a manifest is kept.

    \b
    Example:
      msft analyze sample_audio/techno_bassline.wav -o techno.h5 -b 24
      msft analyze sample_audio -o containers -j 2
      msft analyze sample_audio/bach_additive.wav -o bach.h5 --store magnitude
    """
    dtype = dtype or container.DEFAULT_DTYPES.get(store)
    input = _batch_or_one("analyze", input, output, quiet, params, dtype=dtype,
                          compression=compression, store=store)
    update, close = _progress("analyze", quiet)
    try:
        report = convert.analyze(input, output, dtype=dtype, compression=compression,
                                 store=store, progress=update, **params)
    finally:
        close()
    if not quiet:
        speed = convert.format_realtime(report.realtime_factor)
        click.echo(f"{report.input} -> {report.output}: {report.duration:.2f} s in "
                   f"{report.seconds:.2f} s ({speed} realtime), "
                   f"{container._human(report.extra['size'])}")


@main.command()
@click.argument("input", nargs=-1, required=True, metavar="IN.h5...")
@click.option("-o", "--output", type=click.Path(),
              help="Audio file to write; the extension picks the format "
                   "[default: IN with .resynth.wav]; for folders or several inputs, the "
                   "folder to mirror them into (as NAME.resynth.wav) [default: beside each].")
@click.option("--subtype", help="Sample format, e.g. PCM_16, PCM_24, FLOAT "
                                "[default: the source's].")
@click.option("--reference", type=click.Path(),
              help="The original audio: print the SNR of the resynthesis against it.")
@click.option("--iterations", type=click.IntRange(min=0), default=_RESYNTH["iterations"],
              show_default=True,
              help="Magnitude containers: fast Griffin-Lim iterations (one synthesis and one "
                   "analysis each).")
@click.option("--phase-init", type=click.Choice(phase.INITS), default=_RESYNTH["phase_init"],
              show_default=True,
              help="Magnitude containers: initial phases, by phase-gradient integration "
                   "(pghi), random or zero.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bar, and no summary unless --reference asks for the SNR.")
@batch_options
@_fail_cleanly
def resynth(input, output, subtype, reference, iterations, phase_init, quiet, **settings):
    """Resynthesize audio from a container, at the source's rate and channels.

    IN.h5 may also be folders (their containers, in all subfolders) or several
    containers, converted as a batch like analyze's.

    A magnitude-only container (analyze --store magnitude, or a model's output)
    gets its phases reconstructed: a phase-gradient estimate, then fast
    Griffin-Lim on the exact transform pair; the spectral convergence reached is
    printed.

    \b
    Example:
      msft resynth techno.h5 -o techno.flac --reference sample_audio/techno_bassline.wav
      msft resynth containers -o resynthesized -j 2
      msft resynth bach.h5 -o bach.wav --iterations 300
    """
    phase_options = {k: v for k, v in (("iterations", iterations), ("phase_init", phase_init))
                     if v != _RESYNTH[k]}
    input = _batch_or_one("resynth", input, output, quiet, settings, subtype=subtype,
                          reference=reference, **phase_options)
    update, close = _progress("resynth", quiet)
    steps, close_steps = _iterations_progress("phase", quiet)
    try:
        report = convert.resynth(input, output, subtype=subtype, reference=reference,
                                 progress=update, iterations=iterations, phase_init=phase_init,
                                 phase_progress=steps)
    finally:
        close_steps()
        close()
    if not quiet or reference is not None:
        speed = convert.format_realtime(report.realtime_factor)
        line = (f"{report.input} -> {report.output}: {report.duration:.2f} s in "
                f"{report.seconds:.2f} s ({speed} realtime)")
        if "spectral_convergence_db" in report.extra:
            line += (f", spectral convergence {report.extra['spectral_convergence_db']:.1f} dB "
                     f"after {iterations} iterations from {phase_init}")
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


@main.command()
@click.option("--sr", type=int, default=44100, show_default=True, help="Sample rate in Hz.")
@click.option("--seconds", type=float, multiple=True, default=[600.0], show_default=True,
              help="Signal length to plan for (repeatable). In zero mode every file longer "
                   "than 24 s at the defaults (96 s at 48 bins) uses the high-stage blocks of "
                   "a long one, and from 6.5 min (26 min) its low-stage blocks too.")
@click.option("--channels", type=int, multiple=True, default=[2], show_default=True,
              help="Channel count to plan for (repeatable).")
@click.option("--threads", type=int, multiple=True,
              help="FFTW threads to plan for (repeatable) [default: all cores, and 1 for "
                   "the workers of a batch].")
@click.option("--planner", type=click.Choice(["measure", "patient"]), default="measure",
              show_default=True, help="FFTW planner effort: patient plans take far longer to make.")
@transform_options_except("threads", "planner")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing.")
@_fail_cleanly
def wisdom(sr, seconds, channels, threads, planner, quiet, **options):
    """Measure the fastest FFTW plans once, for every later run on this machine.

    msft plans its FFTs with FFTW_ESTIMATE: instant, but the transforms run
    slower than FFTW's measured plans. This command measures the plans of the
    given settings (minutes: plan once per machine) and keeps them as wisdom
    in msft's cache folder (MSFT_CACHE_DIR, else ~/.cache/msft); analyze,
    resynth and the library then use them (with their default planner, or
    one no more patient than this command's).

    \b
    Example:
      msft wisdom
      msft wisdom --seconds 30 --seconds 600 --channels 1 --channels 2 -b 24
    """
    def progress(n, c, t):
        if not quiet:
            click.echo(f"planning {n / sr:g} s, {c} channel(s), {t} thread(s) ...", err=True)

    began = time.perf_counter()
    done = plan_wisdom(sr, seconds, channels, threads or (None, 1), planner, progress,
                       **options)
    if not quiet:
        made = sum(d[3] for d in done)
        click.echo(f"{made} FFTW plans measured in {time.perf_counter() - began:.0f} s; "
                   f"wisdom kept in {wisdom_path()}")


_MERGE = {k: p.default for k, p in inspect.signature(batch.merge_manifests).parameters.items()
          if p.default is not inspect.Parameter.empty}


@main.command("merge-manifests")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help=f"Manifest to write [default: {batch.MERGED_MANIFEST} in the first folder].")
@click.option("--all", "history", is_flag=True, default=_MERGE["history"],
              help="Every record of every run, by time, not the latest of each file.")
@_fail_cleanly
def merge_manifests(paths, output, history):
    """Merge the manifests of batch runs and shards into one JSON-lines file.

    PATH is an output folder (its manifest.jsonl and manifest-I-of-N.jsonl)
    or a manifest file. The result holds the latest record of each output,
    sorted by path.

    \b
    Example:
      msft analyze sample_audio -o containers --shard 0/2
      msft analyze sample_audio -o containers --shard 1/2
      msft merge-manifests containers
    """
    click.echo(str(batch.merge_manifests(paths, output, history=history)))


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
@batch_options
@_fail_cleanly
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


_LEARN = {k: p.default for k, p in inspect.signature(learn_dft.learn_dft).parameters.items()
          if p.default is not inspect.Parameter.empty}


@main.command("learn-dft")
@click.option("--target", type=click.Choice(learn_dft.TARGETS), default=_LEARN["target"],
              show_default=True, help="Transform to learn.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Model file to write (HDF5) [default: TARGET.model.h5].")
@click.option("--size", type=int, default=_LEARN["size"], show_default=True,
              help="dft: points (the input length).")
@click.option("--n-fft", type=int, default=_LEARN["n_fft"], show_default=True,
              help="stft: FFT length.")
@click.option("--win-length", type=int, default=_LEARN["win_length"],
              help="stft: window length [default: --n-fft].")
@click.option("--hop-length", type=int, default=_LEARN["hop_length"], show_default=True,
              help="stft: samples between frames (56 gives the published 33 frames).")
@click.option("--window", type=click.Choice(learn_dft.STFT_WINDOWS), default=_LEARN["window"],
              show_default=True, help="stft: periodic window.")
@click.option("--input-length", type=int, default=_LEARN["input_length"],
              help="Samples per signal [default: 2048 for stft, 256 for msft].")
@click.option("--sr", type=int, default=_LEARN["sr"], show_default=True,
              help="Sample rate in Hz (test tones, figure axes; msft's rate).")
@click.option("--fmin", type=float, default=_LEARN["fmin"], show_default=True,
              help="msft: centre of the lowest band in Hz.")
@click.option("--n-octaves", type=int, default=_LEARN["n_octaves"], show_default=True,
              help="msft: octaves.")
@click.option("--bins-per-octave", type=int, default=_LEARN["bins_per_octave"],
              show_default=True, help="msft: bands per octave.")
@click.option("--solver", type=click.Choice(learn_dft.SOLVERS), default=_LEARN["solver"],
              show_default=True, help="Minibatch SGD, Adam, or the closed form.")
@click.option("--epochs", type=int, default=_LEARN["epochs"], show_default=True,
              help="Passes over the training set.")
@click.option("--batch-size", type=int, default=_LEARN["batch_size"],
              help="Examples per step [default: input length / 8, at least 256].")
@click.option("--lr", type=float, default=_LEARN["lr"],
              help="Step size [default: sgd: the best step for white noise; adam: that "
                   "step times the gradient's RMS]. A given --lr is fixed (Keras's, for adam).")
@click.option("--beta1", type=float, default=_LEARN["beta1"], show_default=True,
              help="adam: first moment decay.")
@click.option("--beta2", type=float, default=_LEARN["beta2"], show_default=True,
              help="adam: second moment decay.")
@click.option("--eps", type=float, default=_LEARN["eps"], show_default=True,
              help="adam: epsilon.")
@click.option("--examples", type=int, default=_LEARN["examples"], show_default=True,
              help="Training signals (white noise, uniform in [-1, 1)).")
@click.option("--precision", type=click.Choice(learn_dft.PRECISIONS),
              default=_LEARN["precision"], show_default=True,
              help="Gradient steps in float32 then float64 (mixed), or one type throughout.")
@click.option("--seed", type=int, default=_LEARN["seed"], show_default=True,
              help="Seed of the data, the shuffling and the test signals.")
@click.option("--tol", type=float, default=_LEARN["tol"], show_default=True,
              help="Stop once the validation MSE is at most this (0: run every epoch).")
@click.option("--backend", type=click.Choice(["numpy", "torch"]), default="numpy",
              show_default=True, help="numpy, or torch.nn.Linear with torch.optim (adam, sgd; "
                                      "CUDA if available; needs the torch extra).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@_fail_cleanly
def learn_dft_command(output, quiet, backend, **params):
    """Train one dense layer (no bias, no activation) to do a DFT, an STFT or msft.

    The training signals are white noise and the targets their transform (real
    and imaginary parts stacked, unscaled); the learned weights are compared
    with the analytic matrix, and the layer is tested on four tones and fresh
    noise. The model, its settings, the loss per epoch and the test outputs go
    to an HDF5 model file, which msft render MODEL.h5 draws. The defaults are
    the published STFT: Hann 256, n_fft 256, 2048 samples, 33 frames x 129
    bins, 15,000 examples.

    \b
    Example:
      msft learn-dft --target dft --size 128 -o dft128.h5
      msft learn-dft -o stft.h5
      msft learn-dft --solver lstsq -o stft_lstsq.h5
      msft learn-dft --target dft --size 32 --backend torch -o dft32.h5
    """
    output = output or f"{params['target']}.model.h5"
    state = {}

    def progress(epoch, epochs, record):  # the bar starts once the parameters are checked
        if quiet:
            return
        if "bar" not in state:
            state["bar"] = click.progressbar(
                length=epochs, label=f"learn-dft {params['target']} ({params['solver']})",
                file=sys.stderr, item_show_func=lambda r: (
                    f"val MSE {r['val_loss']:.2e}" if r else None))
            state["bar"].__enter__()
        if epoch:
            state["bar"].update(1, record)

    try:
        if backend == "torch":  # torch is imported only here
            from .torch.learn_dft import learn_dft as train
        else:
            train = learn_dft.learn_dft
        result = train(progress=progress, **params)
        result.save(output)
    finally:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)
    if not quiet:
        click.echo(result.summary())
        click.echo(f"-> {output}")
