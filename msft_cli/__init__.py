"""msft: an exact multi-scale constant-Q transform for music, and its HDF5 container.

Quick start::

    import numpy as np
    import msft_cli as msft

    t = msft.MSFT(sr=44100, bins_per_octave=12)
    c = t.forward(np.random.default_rng(0).standard_normal(44100))
    c.octaves[3].shape          # (12 bins, frames) of the 4th octave
    y = t.inverse(c)            # the signal back, to ~290-310 dB

    msft.analyze("song.wav", "song.h5")      # a file, streamed in blocks
    with msft.load("song.h5") as box:         # lazy: reads what you ask for
        img, times, freqs = box.image(0, 5)   # dBFS image on one time grid
        audio = box.to_audio()
"""

from . import phase
from ._version import __version__
from .container import Container, Crop, info, load, save, save_arrays
from .convert import Report, analyze, resynth
from .errors import AudioError, ContainerError, MsftError, ParameterError
from .scales import default_fmin
from .transform import MSFT, Coefficients

__all__ = [
    "MSFT", "Coefficients", "Container", "Crop", "Report",
    "analyze", "resynth", "load", "save", "save_arrays", "info", "default_fmin", "phase",
    "MsftError", "ParameterError", "AudioError", "ContainerError", "__version__",
]
