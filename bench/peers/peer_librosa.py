"""librosa: ``cqt`` with ``icqt`` (hop 512), an approximate inverse."""

import librosa
import numpy as np

LIBRARY = "librosa"
HOP = 512


def version():
    return f"librosa {librosa.__version__}"


class Transform:
    """``librosa.cqt(x, sr, hop_length=512, fmin, n_bins, bins_per_octave)``, ``n_bins``
    the bins from ``fmin`` up to ``fmax``; ``librosa.icqt(C, ..., length=n)``. Takes
    (channels, samples) as it is."""

    multichannel = True

    def __init__(self, sr, n_samples, channels, bins, fmin, fmax, **_):
        self.sr, self.n, self.bins, self.fmin = sr, n_samples, bins, fmin
        self.bands = int(np.floor(bins * np.log2(fmax / fmin) + 1e-9)) + 1
        self.top = float(fmin * 2 ** ((self.bands - 1) / bins))

    def adapt(self, x):
        return x

    def forward(self, x):
        return librosa.cqt(x, sr=self.sr, hop_length=HOP, fmin=self.fmin, n_bins=self.bands,
                           bins_per_octave=self.bins)

    def inverse(self, c):
        return librosa.icqt(c, sr=self.sr, hop_length=HOP, fmin=self.fmin,
                            bins_per_octave=self.bins, length=self.n)

    def count(self, c):
        return float(c.size)

    def info(self):
        return {"hop_length": HOP}


def make(variant, **kw):
    return Transform(**kw)
