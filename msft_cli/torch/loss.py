"""A multi-resolution spectral loss on msft's octaves: per-octave log-magnitude L1 plus
spectral convergence, as vocoder and codec training use on mel STFTs or nnAudio's CQT."""

import torch

from . import _numpy_engine as ne
from .engine import MSFT


class SpectralLoss(torch.nn.Module):
    """Per-octave log-magnitude L1 plus spectral convergence between two batches of signals.

    For each octave ``j`` (``(..., bins, frames)`` magnitudes ``S`` of the target
    and ``S_hat`` of the estimate)::

        sc_j  = || S_hat - S ||_F / || S ||_F            (per leading row, then the mean)
        log_j = mean | log(S_hat + eps) - log(S + eps) |

    and the loss is ``sum_j w_j (sc_weight * sc_j + log_weight * log_j) / sum_j w_j``.
    Every octave has the same weight by default, so the coarse octaves (few
    frames) count as much as the fine ones (many frames): the multi-resolution
    STFT losses' balance between time scales.

    Parameters
    ----------
    transform : msft_cli.torch.MSFT, msft_cli.MSFT or dict
        The transform (a torch module is used as it is; otherwise one is made,
        float32 on ``device``).
    weights : sequence of float, optional
        One non-negative weight per octave, coarse to fine (not all 0).
    sc_weight, log_weight : float
        Weights of the two terms (non-negative). Default 1 and 1.
    eps : float
        Added to the magnitudes before the log. Default 1e-5.
    device : torch.device or str, optional

    Examples
    --------
    >>> import torch
    >>> from msft_cli.torch import SpectralLoss
    >>> loss = SpectralLoss({"sr": 16000, "fmin": 110.0, "bins_per_octave": 12,
    ...                      "n_octaves": 6, "tuning": 440.0, "window": "bump",
    ...                      "mode": "zero"})
    >>> x = torch.randn(4, 16000)
    >>> float(loss(x, x)) < 1e-9
    True
    """

    def __init__(self, transform, weights=None, sc_weight=1.0, log_weight=1.0, eps=1e-5,
                 device=None):
        super().__init__()
        if not isinstance(transform, MSFT):
            transform = MSFT(transform, device=device)
        self.msft = transform
        n = transform.transform.n_octaves
        if weights is None:
            weights = [1.0] * n
        weights = [float(w) for w in weights]
        if len(weights) != n:
            raise ne.ParameterError(f"weights has {len(weights)} values: must be one per octave "
                                    f"({n})")
        if min(weights) < 0 or max(weights) <= 0:
            raise ne.ParameterError(f"weights={weights} must be non-negative, not all 0")
        for name, value in (("sc_weight", sc_weight), ("log_weight", log_weight)):
            if not float(value) >= 0:
                raise ne.ParameterError(f"{name}={value} must be non-negative")
        if not float(eps) > 0:
            raise ne.ParameterError(f"eps={eps} must be positive")
        self.weights = weights
        self.sc_weight, self.log_weight, self.eps = float(sc_weight), float(log_weight), \
            float(eps)

    @staticmethod
    def _magnitude(c):
        # |c| with a finite gradient at 0 (torch.abs's is 0 there too, but not sqrt's)
        return torch.sqrt(c.real * c.real + c.imag * c.imag + 1e-30)

    def terms(self, estimate, target):
        """The per-octave terms: a list of ``(sc_j, log_j)`` scalar tensors."""
        if estimate.shape != target.shape:
            raise ne.ParameterError(f"estimate has shape {tuple(estimate.shape)}, target "
                                    f"{tuple(target.shape)}: they must match")
        c_hat, c = self.msft(estimate).octaves, self.msft(target).octaves
        out = []
        for a, b in zip(c_hat, c):
            s_hat, s = self._magnitude(a), self._magnitude(b)
            diff = torch.sqrt(((s_hat - s) ** 2).sum((-2, -1)) + 1e-30)
            ref = torch.sqrt((s * s).sum((-2, -1)) + 1e-30)
            sc = (diff / ref).mean()
            log = (torch.log(s_hat + self.eps) - torch.log(s + self.eps)).abs().mean()
            out.append((sc, log))
        return out

    def forward(self, estimate, target):
        """The loss (a scalar tensor) of ``estimate`` against ``target``, ``(..., samples)``."""
        total = 0.0
        for w, (sc, log) in zip(self.weights, self.terms(estimate, target)):
            if w:
                total = total + w * (self.sc_weight * sc + self.log_weight * log)
        return total / sum(self.weights)
