"""How close coefficients are to target magnitudes: the frame's own measures."""

import numpy as np

from msft_cli.engine.coefficients import Coefficients
from msft_cli.errors import ParameterError
from msft_cli.phase.problem import _check_coefficients


def group_weights(transform):
    """Energy weight of one coefficient of each group: ``hop / 2`` (octaves), ``hop`` (real).

    With them ``sum_g w_g * sum |c_g|**2 == ||x||**2`` for the default tight
    frame: the norm in which synthesis and analysis are adjoint.
    """
    return [g.hop / 2 if g.kind == "octave" else float(g.hop) for g in transform.groups]


def _aligned(coefficients, g, first, count):
    """Frames ``first .. first + count`` (global) of group ``g``; zeros where not stored."""
    a = coefficients.groups[g]
    have = coefficients.firsts[g]
    out = np.zeros(a.shape[:2] + (count,), a.dtype)
    lo, hi = max(first, have), min(first + count, have + a.shape[2])
    if hi > lo:
        out[:, :, lo - first:hi - first] = a[:, :, lo - have:hi - have]
    return out


def spectral_convergence(target, estimate):
    """Spectral convergence in dB of an estimate against target magnitudes.

    ``20 log10(|| |c(x_hat)| - |c| || / || |c| ||)`` over every stored
    coefficient (octaves and real bands), each weighted by its group's
    :func:`group_weights` so that the norm is the signal's energy norm.

    Parameters
    ----------
    target : Coefficients
        The magnitudes to reach (complex coefficients count by their absolute
        values; so do the real bands).
    estimate : Coefficients or array_like
        Coefficients of the same transform, or a signal ``([channels,]
        samples)`` of the target's length, which is analysed first.

    Returns
    -------
    float
        In dB; ``-inf`` for a perfect match.

    Examples
    --------
    >>> import numpy as np
    >>> from msft_cli import MSFT
    >>> from msft_cli.phase import spectral_convergence
    >>> t = MSFT(16000, fmin=220.0)
    >>> y = np.random.default_rng(0).standard_normal(8000)
    >>> spectral_convergence(t.forward(y), -y)   # a sign flip keeps every magnitude
    -inf
    """
    _check_coefficients(target, "target")
    if not isinstance(estimate, Coefficients):
        y = np.asarray(estimate)
        shape = (target.n_channels, target.n_samples)
        if y.shape != shape and not (target.n_channels == 1 and y.shape == shape[1:]):
            shape = shape[1:] if target.mono else shape
            raise ParameterError(f"estimate has shape {y.shape}: must be {shape}, the target's "
                                 "signal")
        estimate = target.transform.forward(y.astype(np.float64, copy=False))
    elif estimate.transform.to_params() != target.transform.to_params():
        raise ParameterError(f"estimate was made by {estimate.transform!r}, the target by "
                             f"{target.transform!r}")
    elif (estimate.n_samples, estimate.n_channels) != (target.n_samples, target.n_channels):
        raise ParameterError(
            f"estimate holds {estimate.n_channels} channel(s) x {estimate.n_samples} samples, "
            f"the target {target.n_channels} x {target.n_samples}")
    err = ref = 0.0
    for g, w in enumerate(group_weights(target.transform)):
        s = np.abs(target.groups[g])
        e = np.abs(_aligned(estimate, g, target.firsts[g], s.shape[2]))
        err += w * float(np.sum((e - s) ** 2))
        ref += w * float(np.sum(s * s))
    if err == 0:
        return float("-inf")
    if ref == 0:
        return float("inf")
    return float(10 * np.log10(err / ref))
