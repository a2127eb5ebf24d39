"""Fast Griffin-Lim on the frame: iterate projections from an initial phase."""

import numpy as np

from msft_cli._checks import integer, unknown
from msft_cli._compat import renamed_keyword
from msft_cli.engine.coefficients import Coefficients
from msft_cli.errors import ParameterError
from msft_cli.phase.measures import _aligned
from msft_cli.phase.pghi import _pghi_phases
from msft_cli.phase.problem import (
    DEFAULT_ITERATIONS,
    DEFAULT_MOMENTUM,
    DEFAULT_TOL_DB,
    INITS,
    _channel,
    _check_coefficients,
    _check_tol,
    _Problem,
)


def _check_init(init, magnitudes):
    if isinstance(init, Coefficients) and (
            init.transform.to_params() != magnitudes.transform.to_params()
            or (init.n_samples, init.n_channels) != (magnitudes.n_samples,
                                                     magnitudes.n_channels)):
        raise ParameterError(f"phase_init holds {init.n_channels} channel(s) x {init.n_samples} "
                             f"samples by {init.transform!r}: must match the magnitudes "
                             f"({magnitudes.n_channels} x {magnitudes.n_samples} by "
                             f"{magnitudes.transform!r})")


def _initial(problem, init, seed, tol_db):
    """The starting coefficients (twin layout): target magnitudes with the initial phases,
    and the fixed coefficients in place."""
    rng = np.random.default_rng(seed)
    if isinstance(init, Coefficients):
        _check_init(init, problem.source)
        phases = []
        for g, (index, pos) in enumerate(problem.places):
            if problem.real[g]:
                phases.append(None)
                continue
            a = _aligned(init, g, problem.source.firsts[g], problem.source.groups[g].shape[2])
            p = np.zeros(problem.targets[g].shape)
            p[:, :, pos] = np.angle(a[:, :, index])
            phases.append(p)
    elif init == "pghi":
        phases = _pghi_phases(problem, tol_db, rng)
    elif init == "random":
        phases = [None if r else rng.uniform(-np.pi, np.pi, s.shape)
                  for r, s in zip(problem.real, problem.targets)]
    elif init == "zero":
        phases = [None if r else np.zeros(s.shape) for r, s in zip(problem.real, problem.targets)]
    else:
        raise unknown("phase_init", init, INITS, more=" or complex Coefficients")
    return problem.pin(problem.with_phases(phases))


def _check_iterations(iterations):
    return integer("iterations", iterations, minimum=0)


def _check_momentum(momentum):
    momentum = float(momentum)
    if not 0 <= momentum <= 1.5:
        raise ParameterError(f"momentum={momentum:g} is out of range: must be between 0 and "
                             "1.5 (0: plain Griffin-Lim)")
    return momentum


def _iterate(problem, c, momentum):
    """Fast Griffin-Lim in the twin layout: yields the magnitude-true iterate after each step.

    ``t_n = P1(c_{n-1})`` (synthesis then analysis: the consistent part),
    ``c_n = P2(t_n + momentum (t_n - t_{n-1}))`` (the target magnitudes).
    Three coefficient arrays are alive at a time; a yielded one is never
    written to again.
    """
    previous = None
    while True:
        consistent = problem.analysis(problem.synthesis(c))
        if previous is None:
            c = [x.copy() for x in consistent]
        else:
            for p, x in zip(previous, consistent):  # p <- x + momentum (x - p), in p
                p -= x
                p *= -momentum
                p += x
            c = previous
        previous = consistent
        yield problem.project(c)


@renamed_keyword("init", "phase_init", since="0.2.0")
def iter_reconstruct(magnitudes, phase_init="pghi", momentum=DEFAULT_MOMENTUM, real_bands="keep",
                     seed=0, tol_db=DEFAULT_TOL_DB):
    """Fast Griffin-Lim step by step: yields the estimate after 0, 1, 2, ... iterations.

    Same parameters as :func:`reconstruct` (without ``iterations``). Each
    item is complex :class:`Coefficients` with the target magnitudes; its
    ``.inverse()`` is the signal after that many iterations. The generator
    never ends: stop when you like.
    """
    problem = _Problem(magnitudes, real_bands)
    momentum = _check_momentum(momentum)
    c = _initial(problem, phase_init, seed, _check_tol(tol_db))
    yield problem.to_coefficients(c)
    for c in _iterate(problem, c, momentum):
        yield problem.to_coefficients(c)


@renamed_keyword("init", "phase_init", since="0.2.0")
def reconstruct(magnitudes, iterations=DEFAULT_ITERATIONS, phase_init="pghi",
                momentum=DEFAULT_MOMENTUM, real_bands="keep", seed=0, tol_db=DEFAULT_TOL_DB,
                progress=None):
    """Coefficients with the given magnitudes and phases that make them (nearly) consistent.

    Parameters
    ----------
    magnitudes : Coefficients
        The magnitudes to reach: octave arrays real and non-negative (or
        complex: their absolute values are used), the real bands signed (see
        ``real_bands``). For example ``Container.to_coefficients()`` of a
        magnitude container, or a model's output (:func:`msft_cli.save_arrays`).
    iterations : int
        Fast Griffin-Lim iterations (each one synthesis and one analysis);
        0 returns the initial estimate.
    phase_init : {"pghi", "random", "zero"} or Coefficients
        Initial phases: phase-gradient integration (:func:`pghi`), uniform
        random, zero, or the phases of complex coefficients of the same
        transform and signal length (to continue an earlier run).
    momentum : float
        Fast Griffin-Lim's inertia ``alpha`` (0: plain Griffin-Lim). Default 0.9
        (:data:`DEFAULT_MOMENTUM`).
    real_bands : {"keep", "retrieve"}
        Keep the low-/high-pass bands as given (default; a magnitude container
        stores them signed), or trust only their absolute values and retrieve
        the signs.
    seed : int or None
        Seed of the random phases.
    tol_db : float
        :func:`pghi`'s tolerance.
    progress : callable, optional
        ``progress(done, total)`` after each iteration; channels are
        reconstructed one after the other, ``total = iterations * channels``.

    Returns
    -------
    Coefficients
        complex64 octaves with the target magnitudes (the real bands float32):
        ``.inverse()`` is the signal.

    Examples
    --------
    >>> import numpy as np
    >>> from msft_cli import MSFT
    >>> from msft_cli.phase import reconstruct, spectral_convergence
    >>> t = MSFT(16000, fmin=220.0, mode="periodic")
    >>> time = np.arange(16000) / 16000
    >>> y = np.sin(2 * np.pi * (300 * time + 400 * time ** 2))   # a chirp
    >>> c = t.forward(y)
    >>> y_hat = reconstruct(c, iterations=20).inverse()
    >>> spectral_convergence(c, y_hat) < -20
    True
    """
    iterations = _check_iterations(iterations)
    momentum = _check_momentum(momentum)
    tol_db = _check_tol(tol_db)
    _check_coefficients(magnitudes, "magnitudes")
    _check_init(phase_init, magnitudes)
    return _reconstruct(magnitudes, iterations, phase_init, momentum, real_bands, seed, tol_db,
                        progress)


def _reconstruct(magnitudes, iterations, init, momentum, real_bands, seed, tol_db, progress,
                 fixed=None, twin=None, signal=False):
    """:func:`reconstruct` without the checks; ``fixed`` = (complex coefficients in the
    magnitudes' layout, until): frames before sample ``until`` keep those values.

    With ``signal``, returns ``(coefficients, y, analysed)``: also the signal
    (float64, channels first) and its coefficients, both by the periodic twin.
    """
    channels, parts, ys, analysed = magnitudes.n_channels, [], [], []
    total = iterations * channels
    for ch in range(channels):  # channels are independent: one at a time, in less memory
        keep = None if fixed is None else (_channel(fixed[0], ch), fixed[1])
        problem = _Problem(_channel(magnitudes, ch), real_bands, twin, keep)
        twin = problem.twin
        start = _channel(init, ch) if isinstance(init, Coefficients) else init
        c = _initial(problem, start, None if seed is None else [seed, ch], tol_db)
        if iterations:
            steps = _iterate(problem, c, momentum)
            for done in range(1, iterations + 1):
                c = next(steps)
                if progress is not None:
                    progress(ch * iterations + done, total)
        parts.append(problem.to_coefficients(c).groups)
        if signal:
            y = problem.synthesis(c)
            ys.append(y.astype(np.float64))
            analysed.append(problem.to_coefficients(problem.analysis(y)).groups)
        del problem, c
    groups = [np.concatenate([p[g] for p in parts]) for g in range(len(parts[0]))]
    result = Coefficients(magnitudes.transform, magnitudes.n_samples, groups,
                          mono=magnitudes.mono, firsts=magnitudes.firsts)
    if not signal:
        return result
    again = [np.concatenate([p[g] for p in analysed]) for g in range(len(groups))]
    return result, np.concatenate(ys), Coefficients(magnitudes.transform, magnitudes.n_samples,
                                                    again, firsts=magnitudes.firsts)
