"""Fast Griffin-Lim on the tensor engine: :func:`msft_cli.phase.reconstruct` on a device.

The problem is :mod:`msft_cli.phase`'s own: the target magnitudes on the frames
of a periodic twin of the transform (a zero-mode signal gets a period that
holds it and the frames within reach of its edges), started from the same PGHI
phases (computed on the CPU, once). Only the iterations move to the tensor
engine: each is one synthesis and one analysis of the twin, then the
projection onto the target magnitudes, all on the device. With the same
parameters the result matches ``msft_cli.phase.reconstruct``'s to float32
rounding of the iterations (the spectral convergences agree to a fraction of
a dB; ``tests/test_torch_phase.py`` checks it side by side).
"""

import numpy as np
import torch

from . import _numpy_engine as ne
from .coefficients import TensorCoefficients
from .engine import MSFT

_phase = ne.phase_module


def _project(groups, targets, real, retrieve):
    out = []
    for c, s, r in zip(groups, targets, real):
        if r:
            out.append(torch.copysign(s, c) if retrieve else s)
            continue
        mag = c.abs()
        lost = mag <= 1e-30  # no phase to keep: phase 0
        unit = torch.where(lost, torch.ones_like(c), c / torch.where(lost, 1.0, mag))
        out.append(unit * s)
    return out


def griffin_lim(magnitudes, iterations=_phase.DEFAULT_ITERATIONS, init="pghi",
                momentum=_phase.DEFAULT_MOMENTUM, real_bands="keep", seed=0,
                tol_db=_phase.DEFAULT_TOL_DB, device=None, dtype=torch.float32):
    """Coefficients with the given magnitudes whose phases make them (nearly) consistent.

    The parameters and the result are those of :func:`msft_cli.phase.reconstruct`;
    the iterations run on ``device``.

    Parameters
    ----------
    magnitudes : msft_cli.Coefficients or TensorCoefficients
        The magnitudes to reach (octaves real non-negative or complex, real bands
        signed). TensorCoefficients must have leading shape ``()`` or ``(channels,)``.
    iterations : int
        Fast Griffin-Lim iterations. Default 100.
    init : {"pghi", "random", "zero"} or msft_cli.Coefficients
        Initial phases (see :func:`msft_cli.phase.reconstruct`).
    momentum : float
        Fast Griffin-Lim's inertia. Default 0.9.
    real_bands : {"keep", "retrieve"}
    seed : int or None
    tol_db : float
        PGHI's tolerance.
    device : torch.device or str, optional
        Where the iterations run. Default: the CPU.
    dtype : {torch.float32, torch.float64}

    Returns
    -------
    msft_cli.Coefficients
        complex64 octaves with the target magnitudes (real bands float32):
        ``.inverse()`` is the signal, :func:`msft_cli.save` stores it.
    """
    if isinstance(magnitudes, TensorCoefficients):
        magnitudes = magnitudes.to_numpy()
    iterations = _phase._check_iterations(iterations)
    momentum = _phase._check_momentum(momentum)
    tol_db = _phase._check_tol(tol_db)
    _phase._check_coefficients(magnitudes, "magnitudes")
    _phase._check_init(init, magnitudes)
    parts, twin, module = [], None, None
    for ch in range(magnitudes.n_channels):
        problem = _phase._Problem(_phase._channel(magnitudes, ch), real_bands, twin)
        if module is None:
            twin = problem.twin
            module = MSFT(twin, device=device, dtype=dtype)
        start = _phase._channel(init, ch) if isinstance(init, ne.Coefficients) else init
        c = _phase._initial(problem, start, None if seed is None else [seed, ch], tol_db)
        period, n = problem.period, problem.n
        cdt = torch.complex64 if dtype == torch.float32 else torch.complex128
        as_t = (lambda a, r: torch.from_numpy(np.ascontiguousarray(a[0])).to(
            device=module.device, dtype=dtype if r else cdt))
        targets = [as_t(s, r) for s, r in zip(problem.targets, problem.real)]
        c = [as_t(a, r) for a, r in zip(c, problem.real)]
        previous = None
        with torch.no_grad():
            for _ in range(iterations):
                y = module.inverse(TensorCoefficients(twin, period, c))
                y[..., n:] = 0
                consistent = module(y).groups
                if previous is None:
                    mixed = consistent
                else:
                    mixed = [x + momentum * (x - p) for x, p in zip(consistent, previous)]
                previous = consistent
                c = _project(mixed, targets, problem.real, problem.retrieve)
        arrays = [a.cpu().numpy()[None].astype(np.float32 if r else np.complex64)
                  for a, r in zip(c, problem.real)]
        parts.append(problem.to_coefficients(arrays).groups)
    groups = [np.concatenate([p[g] for p in parts]) for g in range(len(parts[0]))]
    return ne.Coefficients(magnitudes.transform, magnitudes.n_samples, groups,
                           mono=magnitudes.mono, firsts=magnitudes.firsts)
