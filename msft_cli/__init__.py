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

The names below are imported on first use, so that ``import msft_cli`` (and
``msft --version``) does not load numpy, h5py or pyfftw.
"""

import importlib
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import AudioError, ContainerError, MsftError, ParameterError

#: Where each lazily imported public name is defined.
_LAZY = {
    "MSFT": "msft_cli.engine.transform",
    "Coefficients": "msft_cli.engine.coefficients",
    "default_fmin": "msft_cli.engine.bands",
    "Container": "msft_cli.io.container.reader",
    "Crop": "msft_cli.io.container.reader",
    "load": "msft_cli.io.container.reader",
    "save": "msft_cli.io.container.writer",
    "save_arrays": "msft_cli.io.container.writer",
    "info": "msft_cli.io.container.info",
    "Report": "msft_cli.convert",
    "analyze": "msft_cli.convert",
    "resynth": "msft_cli.convert",
    "read_audio": "msft_cli.io.resample",
    "stream_audio": "msft_cli.io.resample",
}

__all__ = [
    "MSFT", "Coefficients", "Container", "Crop", "Report",
    "analyze", "resynth", "load", "save", "save_arrays", "info", "default_fmin", "phase",
    "read_audio", "stream_audio",
    "MsftError", "ParameterError", "AudioError", "ContainerError", "__version__",
]

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from . import phase
    from .convert import Report, analyze, resynth
    from .engine.bands import default_fmin
    from .engine.coefficients import Coefficients
    from .engine.transform import MSFT
    from .io.container.info import info
    from .io.container.reader import Container, Crop, load
    from .io.container.writer import save, save_arrays
    from .io.resample import read_audio, stream_audio


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name == "phase":
        value = importlib.import_module("msft_cli.phase")
    else:
        raise AttributeError(f"module 'msft_cli' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
