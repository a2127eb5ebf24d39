"""msft_cli.torch.SpectralLoss: values, gradients, weights and errors."""

import numpy as np
import pytest
import torch

import msft_cli
from msft_cli import ParameterError
from msft_cli.torch import MSFT, SpectralLoss

PARAMS = msft_cli.MSFT(8000, fmin=110.0, n_octaves=4).to_params()


def test_zero_for_equal_signals_and_positive_otherwise(rng):
    loss = SpectralLoss(PARAMS)
    x = torch.from_numpy(rng.standard_normal((2, 4000)).astype(np.float32))
    assert float(loss(x, x)) < 1e-6
    assert float(loss(0.5 * x, x)) > 0.1
    # a sign flip keeps every magnitude
    assert float(loss(-x, x)) < 1e-5


def test_terms_match_their_definition(rng):
    tm = MSFT(PARAMS, dtype=torch.float64)
    loss = SpectralLoss(tm, weights=[1, 2, 3, 4], sc_weight=0.5, log_weight=2.0, eps=1e-3)
    x = torch.from_numpy(rng.standard_normal((3, 2000)))
    x_hat = x + 0.1 * torch.from_numpy(rng.standard_normal((3, 2000)))
    expected = 0.0
    for j, (a, b) in enumerate(zip(tm(x_hat).octaves, tm(x).octaves)):
        s_hat, s = a.abs(), b.abs()
        sc = (torch.linalg.norm(s_hat - s, dim=(-2, -1)) / torch.linalg.norm(s, dim=(-2, -1)))
        log = (torch.log(s_hat + 1e-3) - torch.log(s + 1e-3)).abs().mean()
        expected += (j + 1) * (0.5 * sc.mean() + 2.0 * log)
    torch.testing.assert_close(loss(x_hat, x), expected / 10, rtol=1e-9, atol=0)


def test_gradient(rng):
    """The loss's gradient: finite, checked by gradcheck (float64), and a descent step lowers
    the loss."""
    tm = MSFT(msft_cli.MSFT(1000, bins_per_octave=4, fmin=100, n_octaves=2, mode="periodic"),
              dtype=torch.float64)
    loss = SpectralLoss(tm)
    x = torch.from_numpy(rng.standard_normal(32))
    x_hat = torch.from_numpy(rng.standard_normal(32)).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: loss(v, x), (x_hat,))
    value = loss(x_hat, x)
    value.backward()
    assert torch.isfinite(x_hat.grad).all()
    with torch.no_grad():
        assert float(loss(x_hat - 1e-3 * x_hat.grad, x)) < float(value)


def test_gradient_at_zero_magnitudes():
    loss = SpectralLoss(PARAMS)
    x = torch.zeros(1000, requires_grad=True)
    loss(x, torch.ones(1000)).backward()
    assert torch.isfinite(x.grad).all()


def test_errors():
    with pytest.raises(ParameterError, match="weights has 2 values: must be one per octave"):
        SpectralLoss(PARAMS, weights=[1, 2])
    with pytest.raises(ParameterError, match="must be non-negative, not all 0"):
        SpectralLoss(PARAMS, weights=[0, 0, 0, 0])
    with pytest.raises(ParameterError, match="eps=0 must be positive"):
        SpectralLoss(PARAMS, eps=0)
    with pytest.raises(ParameterError, match="sc_weight=-1 must be non-negative"):
        SpectralLoss(PARAMS, sc_weight=-1)
    with pytest.raises(ParameterError, match=r"estimate has shape \(10,\), target \(11,\)"):
        SpectralLoss(PARAMS)(torch.zeros(10), torch.zeros(11))
