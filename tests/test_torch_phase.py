"""msft_cli.torch.griffin_lim: the same quality as msft_cli.phase.reconstruct, side by side."""

import numpy as np
import pytest
import torch

import msft_cli
from msft_cli import ParameterError
from msft_cli.phase import reconstruct, spectral_convergence
from msft_cli.torch import MSFT, griffin_lim


def chirp(sr, seconds, rng):
    t = np.arange(int(sr * seconds)) / sr
    return np.sin(2 * np.pi * (300 * t + 400 * t * t)) + 0.1 * rng.standard_normal(len(t))


@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_same_quality_as_numpy(mode, rng):
    t = msft_cli.MSFT(8000, fmin=110.0, mode=mode)
    c = t.forward(chirp(8000, 1.0, rng))
    for iterations in (0, 20):
        ours = griffin_lim(c, iterations)
        theirs = reconstruct(c, iterations)
        a, b = spectral_convergence(c, ours.inverse()), spectral_convergence(c, theirs.inverse())
        assert abs(a - b) < 0.1
    assert a < -25
    assert isinstance(ours, msft_cli.Coefficients) and ours.dtype == np.complex64
    for g, h in zip(ours.groups, c.groups):
        np.testing.assert_allclose(np.abs(g), np.abs(h).astype(np.float32), rtol=1e-5,
                                   atol=1e-6 * np.abs(h).max())


def test_channels_and_tensor_input(rng):
    t = msft_cli.MSFT(8000, fmin=110.0, mode="periodic")
    y = np.stack([chirp(8000, 0.5, rng), chirp(8000, 0.5, rng)[::-1].copy()])
    tc = MSFT(t)(torch.from_numpy(y.astype(np.float32)))
    out = griffin_lim(tc, 5, dtype=torch.float64)
    assert out.n_channels == 2
    assert spectral_convergence(t.forward(y), out.inverse()) < -20


def test_errors(rng):
    c = msft_cli.MSFT(8000, fmin=110.0).forward(rng.standard_normal(100))
    with pytest.raises(ParameterError, match="iterations=-1 must be at least 0"):
        griffin_lim(c, -1)
    with pytest.raises(ParameterError, match="init='x' is unknown"):
        griffin_lim(c, 1, init="x")
