"""msft on PyTorch: the same transform as torch modules (optional extra ``msft[torch]``).

The only part of msft that imports torch; ``import msft_cli`` never does.

- :class:`MSFT`: the transform as a :class:`torch.nn.Module`, batched, on any
  device, differentiable, with the numpy engine's coefficients;
- :class:`TensorCoefficients`: its result, to and from :class:`msft_cli.Coefficients`;
- :class:`SpectralLoss`: per-octave log-magnitude L1 plus spectral convergence;
- :func:`griffin_lim`: fast Griffin-Lim on the tensor engine, started from PGHI;
- :class:`AudioCrops`: audio crops for on-the-fly features; :func:`crop_to_tensors`,
  :func:`crop_coefficients`: stored crops as tensors;
- :func:`msft_cli.torch.learn_dft.learn_dft`: the linear-layer experiment with
  ``torch.nn.Linear`` and Adam (``msft learn-dft --backend torch``).
"""

from .coefficients import TensorCoefficients
from .data import AudioCrops, crop_coefficients, crop_to_tensors
from .engine import MSFT
from .loss import SpectralLoss
from .phase import griffin_lim

__all__ = ["MSFT", "TensorCoefficients", "SpectralLoss", "griffin_lim", "AudioCrops",
           "crop_to_tensors", "crop_coefficients"]
