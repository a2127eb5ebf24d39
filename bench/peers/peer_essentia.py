"""Essentia: ``NSGConstantQ`` with ``NSGIConstantQ`` (float32, one channel, the whole
signal as one frame)."""

import essentia
import essentia.standard as es
import numpy as np

LIBRARY = "essentia"
essentia.log.infoActive = False


def version():
    from importlib.metadata import version as dist_version
    return f"essentia {dist_version('essentia')}"


class Transform:
    """``NSGConstantQ(inputSize=n, minFrequency=fmin, maxFrequency=fmax, binsPerOctave,
    sampleRate, rasterize)`` and ``NSGIConstantQ`` with the same parameters; the rest
    at Essentia's defaults (window ``hannnsgcq``, phaseMode ``global``)."""

    multichannel = False

    def __init__(self, sr, n_samples, channels, bins, fmin, fmax, variant="full", **_):
        kw = {"inputSize": n_samples, "minFrequency": fmin, "maxFrequency": fmax,
              "binsPerOctave": bins, "sampleRate": sr, "rasterize": variant}
        self.n = n_samples
        self.f = es.NSGConstantQ(**kw)
        self.g = es.NSGIConstantQ(**kw)
        self.bands = None
        self.top = None
        self.fmin, self.bins = fmin, bins

    def adapt(self, x):
        return np.ascontiguousarray(x, dtype=np.float32)

    def forward(self, x):
        return self.f(x)

    def inverse(self, c):
        return self.g(*c)[:self.n]

    def count(self, c):
        cq, dc, nf = c
        self.bands = len(cq)
        self.top = float(self.fmin * 2 ** ((self.bands - 1) / self.bins))
        n = cq.size if isinstance(cq, np.ndarray) else sum(len(b) for b in cq)
        return float(n + len(dc) + len(nf))

    def info(self):
        return {}


def make(variant, **kw):
    return Transform(variant=variant, **kw)
