"""``msft analyze``: audio files into containers."""


import click

from msft_cli import convert
from msft_cli.cli.common import defaults, fail_cleanly
from msft_cli.cli.options import (
    _batch_or_one,
    batch_options,
    reading_options,
    transform_options,
)
from msft_cli.cli.progress import _progress
from msft_cli.io import container
from msft_cli.io.container.info import _human

_ANALYZE = defaults(convert.analyze)


@click.command()
@click.argument("input", nargs=-1, required=True, metavar="IN...")
@click.option("-o", "--output", type=click.Path(),
              help="Container to write [default: IN with .h5]; for folders or several "
                   "inputs, the folder to mirror them into [default: beside each input].")
@reading_options()
@transform_options
@click.option("--store", type=click.Choice(container.STORES), default=_ANALYZE["store"],
              show_default=True,
              help="Complex coefficients, or magnitudes only (4x smaller in float16; resynth "
                   "reconstructs the phases).")
@click.option("--dtype", type=click.Choice(container.DTYPES + container.MAGNITUDE_DTYPES),
              default=_ANALYZE["dtype"],
              help="Type stored: complex64, complex128 or complex32 (float16 parts, half of "
                   "complex64's size); with --store magnitude, float16 or float32 [default: "
                   "complex64; float16 with --store magnitude].")
@click.option("--compression", type=click.Choice(container.COMPRESSIONS),
              default=_ANALYZE["compression"], show_default=True, help="HDF5 compression.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@batch_options
@fail_cleanly
def analyze(input, output, store, dtype, compression, quiet, **params):
    """Transform an audio file IN (or - for standard input) into an HDF5 container.

    Every channel is kept (unless --mono). IN is any file libsndfile reads: WAV, FLAC, OGG,
    AIFF, MP3 and more.

    --sr resamples while reading (soxr, streamed: bounded memory for any
    length), --mono downmixes, --offset and --duration take an excerpt; the
    container records what was done. A folder of mixed rates and channel
    counts analysed with --sr 44100 --mono gives containers one dataset takes.

    IN may also be folders (their audio files, in all subfolders) or several
    files: their tree is mirrored under -o, -j workers convert them, outputs
    already made from the same source with the same options are skipped, a
    bad file is reported and the others go on, and a manifest is kept.

    \b
    Example:
      msft analyze sample_audio/techno_bassline.wav -o techno.h5 -b 24
      msft analyze sample_audio -o containers -j 2
      msft analyze sample_audio/bach_additive.wav -o bach.h5 --store magnitude
      msft analyze sample_audio -o corpus --sr 22050 --mono --dtype complex32
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
                   f"{_human(report.extra['size'])}")
