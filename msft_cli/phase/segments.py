"""Phase reconstruction of a whole container, in overlapping segments of bounded memory."""

import numpy as np

from msft_cli._checks import choice
from msft_cli._compat import renamed_keyword
from msft_cli.engine.coefficients import Coefficients
from msft_cli.engine.transform import MSFT
from msft_cli.errors import ParameterError
from msft_cli.phase.griffin_lim import _check_iterations, _reconstruct, reconstruct
from msft_cli.phase.measures import _aligned, group_weights, spectral_convergence
from msft_cli.phase.problem import (
    DEFAULT_ITERATIONS,
    DEFAULT_MOMENTUM,
    DEFAULT_TOL_DB,
    INITS,
)

#: ``resynthesize`` works on segments of this many seconds (bounded memory), overlapping by
#: ``OVERLAP_SECONDS``.
SEGMENT_SECONDS = 20.0
OVERLAP_SECONDS = 4.0




def _errors(target, estimate, lo=-np.inf, hi=np.inf):
    """Weighted squared error and reference of a spectral convergence (see there), over the
    frames at samples ``lo <= time < hi``."""
    err = ref = 0.0
    for g, (w, spec) in enumerate(zip(group_weights(target.transform), target.transform.groups)):
        s = np.abs(target.groups[g])
        e = np.abs(_aligned(estimate, g, target.firsts[g], s.shape[2]))
        at = (target.firsts[g] + np.arange(s.shape[2])) * spec.hop
        inside = (at >= lo) & (at < hi)
        err += w * float(np.sum((e - s)[:, :, inside] ** 2))
        ref += w * float(np.sum(s[:, :, inside] ** 2))
    return err, ref


@renamed_keyword("init", "phase_init", since="0.2.0")
def resynthesize(container, iterations=DEFAULT_ITERATIONS, phase_init="pghi", progress=None,
                 segment=SEGMENT_SECONDS, overlap=OVERLAP_SECONDS):
    """Audio from a magnitude container (what ``msft resynth`` does with one).

    Signals longer than ``segment + overlap`` seconds are reconstructed a
    segment at a time, so memory stays bounded whatever the
    length: segment ``k`` covers ``[k S, (k + 1) S + O)`` (``S``, ``O`` rounded
    to the coarsest hop) with the frames up to ``O / 4`` beyond it (the
    signal's own tails beyond its first and last sample); its coefficients
    before ``k S + O / 2`` are fixed to the previous segment's result (the
    phase integration starts from them, Griffin-Lim keeps them), so the phases
    carry on, and the two signals are cross-faded (raised cosine) over
    ``[k S + O / 8, k S + 3 O / 8)``, where they agree. On test signals this
    reaches the spectral convergence of one reconstruction of the whole, or
    better. ``"periodic"`` containers are done whole.

    Parameters
    ----------
    container : Container
        An open magnitude container.
    iterations, phase_init : int, str
        As for :func:`reconstruct`.
    progress : callable, optional
        ``progress(done, total)`` in iterations, over every segment and channel.
    segment, overlap : float
        Seconds per segment (at least ``overlap``), and of overlap between two.

    Returns
    -------
    blocks : iterator of (int, ndarray)
        ``(start_sample, float64 (channels, samples))`` in order, as
        :meth:`msft_cli.io.container.Container.iter_audio` yields them.
    measured : dict
        ``iterations``, ``phase_init``, and (once ``blocks`` is exhausted)
        ``spectral_convergence_db`` of the result against the magnitudes
        (accumulated segment by segment: each segment's signal alone against
        the frames of the part of the output it gives, from the middle of one
        overlap to the middle of the next).
    """
    iterations = _check_iterations(iterations)
    choice("phase_init", phase_init, INITS)
    if not float(overlap) > 0 or not float(segment) >= float(overlap):
        raise ParameterError(f"segment={segment:g} s and overlap={overlap:g} s: the overlap "
                             "must be positive and the segment at least as long")
    t, n = container.transform, container.n_samples
    h = t.hop_max
    overlap = max(1, int(round(float(overlap) * t.sr / (8 * h)))) * 8 * h
    step = max(overlap, int(round(float(segment) * t.sr / h)) * h)
    measured = {"iterations": iterations, "phase_init": phase_init}
    if t.mode == "periodic" or n <= step + overlap:
        magnitudes = container.to_coefficients()
        y = reconstruct(magnitudes, iterations, phase_init, progress=progress).inverse()
        measured["spectral_convergence_db"] = spectral_convergence(magnitudes, y)
        return iter([(0, y.astype(np.float64))]), measured
    return _segments(container, iterations, phase_init, progress, step, overlap, measured), measured


def _segments(container, iterations, init, progress, step, overlap, measured):
    t, n = container.transform, container.n_samples
    count = -(-(n - overlap) // step)
    names = ["lowpass"] + list(range(t.n_octaves)) + ["highpass"]
    fade = overlap // 4  # cross-fade over [O/8, 3 O/8), where this segment is pinned
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
    err = ref = 0.0
    previous, tail = None, None
    twin = MSFT.from_params({**t.to_params(), "mode": "periodic"}, threads=t.plans.threads,
                            planner=t.plans.planner)  # one for all segments
    for k in range(count):
        start = k * step
        stop = n if k == count - 1 else min(n, start + step + overlap)
        length = stop - start
        # frames beyond an inner edge hold the neighbouring music, which this segment
        # cannot explain: a quarter of an overlap of them; beyond the signal's edges, its
        # tails
        before = t.margin if k == 0 else overlap // 4
        after = t.margin if k == count - 1 else overlap // 4
        firsts, groups = [], []
        for g, spec in enumerate(t.groups):
            lo = -(-(start - before) // spec.hop)
            hi = (stop - 1 + after) // spec.hop + 1
            groups.append(container.read_frames(names[g], lo, hi))
            firsts.append(lo - start // spec.hop)
        magnitudes = Coefficients(t, length, groups, firsts=firsts)
        fixed = None
        if previous is not None:  # the previous result, moved to this segment's frames
            shift = [step // spec.hop for spec in t.groups]
            moved = Coefficients(t, previous.n_samples, previous.groups,
                                 firsts=[f - d for f, d in zip(previous.firsts, shift)])
            known = [_aligned(moved, g, firsts[g], a.shape[2]) for g, a in enumerate(groups)]
            fixed = (Coefficients(t, length, known, firsts=firsts), overlap // 2)

        def report(done, total, k=k):
            if progress is not None:
                progress(k * total + done, count * total)
        result, y, analysed = _reconstruct(magnitudes, iterations, init, DEFAULT_MOMENTUM,
                                           "keep", [0, k], DEFAULT_TOL_DB, report, fixed, twin,
                                           signal=True)
        core = (overlap // 4 if k else -np.inf, step + overlap // 4 if k < count - 1 else np.inf)
        e, r = _errors(magnitudes, analysed, *core)
        err, ref = err + e, ref + r
        # out: the previous tail cross-faded into this segment over [O/8, 3 O/8)
        if tail is None:
            body = y
        else:
            a = overlap // 8
            mixed = tail[:, a:a + fade] * ramp[::-1] + y[:, a:a + fade] * ramp
            yield start, np.concatenate([tail[:, :a], mixed], axis=1)
            start, body = start + a + fade, y[:, a + fade:]
        if k < count - 1:
            keep = step - (start - k * step)  # up to the next segment's start
            yield start, body[:, :keep]
            tail = body[:, keep:]
        else:
            yield start, body
        previous = result
    measured["spectral_convergence_db"] = (float("-inf") if err == 0 else
                                           float(10 * np.log10(err / ref)) if ref else
                                           float("inf"))
