"""``msft resynth``: containers back into audio."""


import click

from msft_cli import convert, phase
from msft_cli.cli.common import defaults, fail_cleanly
from msft_cli.cli.options import _batch_or_one, _Number, batch_options
from msft_cli.io.resample import QUALITIES
from msft_cli.cli.progress import _iterations_progress, _progress

_RESYNTH = defaults(convert.resynth)


@click.command()
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
@click.option("--sr", type=_Number(), default=_RESYNTH["sr"], metavar="HZ",
              help="Write at this rate, resampled with soxr (e.g. the source's, for a "
                   "container analysed with --sr) [default: the container's].")
@click.option("--resample-quality", type=click.Choice(QUALITIES),
              default=_RESYNTH["resample_quality"], show_default=True,
              help="soxr's resampling quality with --sr.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bar, and no summary unless --reference asks for the SNR.")
@batch_options
@fail_cleanly
def resynth(input, output, subtype, reference, iterations, phase_init, sr, resample_quality,
            quiet, **settings):
    """Resynthesize audio from a container, at its rate (or --sr) and channels.

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
      msft resynth house22k.h5 -o house.wav --sr 44100
    """
    phase_options = {k: v for k, v in (("iterations", iterations), ("phase_init", phase_init),
                                       ("sr", sr), ("resample_quality", resample_quality))
                     if v != _RESYNTH[k]}
    input = _batch_or_one("resynth", input, output, quiet, settings, subtype=subtype,
                          reference=reference, **phase_options)
    update, close = _progress("resynth", quiet)
    steps, close_steps = _iterations_progress("phase", quiet)
    try:
        report = convert.resynth(input, output, subtype=subtype, reference=reference,
                                 progress=update, iterations=iterations, phase_init=phase_init,
                                 phase_progress=steps, sr=sr,
                                 resample_quality=resample_quality)
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
