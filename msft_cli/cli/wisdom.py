"""``msft wisdom``: FFTW plans measured once, kept for every later run."""

import time

import click

from msft_cli.cli.common import fail_cleanly
from msft_cli.cli.options import transform_options_except
from msft_cli.engine.fftw import wisdom_path
from msft_cli.engine.wisdom import plan_wisdom


@click.command()
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
@fail_cleanly
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
