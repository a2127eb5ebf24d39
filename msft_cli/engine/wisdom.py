"""Measured FFTW plans made ahead of time and kept as wisdom (``msft wisdom``)."""

import numpy as np

from msft_cli._checks import integer
from msft_cli.engine.fftw import Plans
from msft_cli.engine.transform import MSFT
from msft_cli.errors import ParameterError


def plan_wisdom(sr, seconds=(600.0,), channels=(2,), threads=(None, 1), planner="measure",
                progress=None, **options):
    """Measure the FFTW plans of the given signal lengths once, and keep them as wisdom.

    For each length, channel count and thread count, :meth:`MSFT.prepare` makes
    the plans with ``planner`` (slow: a minute or more each at 44.1 kHz); their
    wisdom goes to :func:`msft_cli.engine.fftw.wisdom_path`, where every later run
    finds it (with the same threads and the estimate planner, msft's default,
    or one no more patient than ``planner``). The default thread counts are
    those of one file (all cores) and of a batch's workers (one each at the
    default ``-j``).

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    seconds, channels, threads : sequences
        Signal lengths in seconds, channel counts and FFTW thread counts (None:
        all cores) to plan for; repeated thread counts are planned once.
    planner : {"measure", "patient"}
    progress : callable, optional
        ``progress(n_samples, channels, threads)`` before each preparation.
    **options
        The transform's other parameters (:class:`MSFT`).

    Returns
    -------
    list of tuple
        ``(n_samples, channels, threads, new_plans)`` for each preparation.
    """
    if planner not in ("measure", "patient"):
        raise ParameterError(f"planner={planner!r}: wisdom comes from measure or patient")
    for s in seconds:
        if not 0 < s < np.inf:
            raise ParameterError(f"seconds={s:g} must be positive and finite")
    for c in channels:
        integer("channels", c, minimum=1, rule="a whole number of at least 1")
    counts = []
    for t in threads:
        t = Plans(t).threads  # validated; None becomes the number of cores
        if t not in counts:
            counts.append(t)
    done = []
    for t in counts:
        transform = MSFT(sr, threads=t, planner=planner, **options)
        for c in channels:
            for s in seconds:
                n = max(1, int(round(s * sr)))
                if progress is not None:
                    progress(n, c, t)
                before = len(transform.plans)
                done.append((n, c, t, transform.prepare(n, c) - before))
    return done
