"""msft itself, as bench/peers.py runs it: in memory (``MSFT.forward`` / ``inverse``) or
streamed through a container (``msft_cli.analyze`` / ``resynth``)."""

import os
import tempfile

import numpy as np
import pyfftw

import msft_cli
from msft_cli import MSFT

LIBRARY = "msft"


def version():
    return f"msft {msft_cli.__version__} (pyFFTW {pyfftw.__version__}; source sha1 {_source()})"


def _source():
    """A digest of the msft_cli sources this process imported (the tree may be changing)."""
    import hashlib
    from pathlib import Path
    digest = hashlib.sha1()
    for f in sorted(Path(msft_cli.__file__).parent.glob("*.py")):
        digest.update(f.read_bytes())
    return digest.hexdigest()[:10]


def n_octaves(bins, fmin, fmax):
    """Whole octaves holding every band from ``fmin`` up to ``fmax``: 9 for C1 to 16 kHz
    (108 bands up to 15.8 kHz at 12 bins/octave). ``MSFT(fmax=16000)`` itself asks for a
    band at or above ``fmax``, a 10th octave, which does not fit under 22.05 kHz."""
    bands = int(np.floor(bins * np.log2(fmax / fmin) + 1e-9)) + 1
    return -(-bands // bins)


def coefficient_count(coefs):
    """Complex values, real low- and high-pass values counted as half (as bench/transform.py)."""
    return sum(a.size * (0.5 if np.isrealobj(a) else 1.0) for a in coefs.groups)


class Transform:
    """``MSFT(sr, fmin, bins_per_octave, fmax, mode, planner)`` on a signal in memory."""

    multichannel = True

    def __init__(self, sr, n_samples, channels, bins, fmin, fmax, mode="zero",
                 planner="estimate", **_):
        self.t = MSFT(sr, fmin=fmin, bins_per_octave=bins,
                      n_octaves=n_octaves(bins, fmin, fmax), mode=mode, planner=planner)
        self.bands = self.t.n_octaves * bins
        self.top = float(self.t.fmax)

    def adapt(self, x):
        return x

    def forward(self, x):
        return self.t.forward(x)

    def inverse(self, c):
        return self.t.inverse(c)

    def count(self, c):
        return coefficient_count(c)

    def info(self):
        return {"fft_lengths": sorted(getattr(self.t, "_geometries", {}))}


class Streamed:
    """``msft_cli.analyze`` (WAV -> complex64 HDF5, in blocks) then ``resynth`` (-> WAV).

    Works on the file, not on a signal in memory: the runner does not load it.
    """

    multichannel = True
    needs_signal = False

    def __init__(self, sr, n_samples, channels, bins, fmin, fmax, path, planner="estimate",
                 **_):
        self.params = {"fmin": fmin, "bins_per_octave": bins,
                       "n_octaves": n_octaves(bins, fmin, fmax), "planner": planner}
        self.probe = MSFT(sr, **self.params)
        self.bands = self.probe.n_octaves * bins
        self.top = float(self.probe.fmax)
        self.path = path
        self.n_samples, self.channels = n_samples, channels
        self.work = tempfile.mkdtemp(prefix="msft-peers-stream-")
        self.box = os.path.join(self.work, "box.h5")
        self.back = os.path.join(self.work, "back.wav")
        self.snr = None

    def adapt(self, x):
        return x

    def forward(self, _x):
        for p in (self.box, self.back):
            if os.path.exists(p):
                os.unlink(p)
        msft_cli.analyze(self.path, self.box, dtype="complex64", **self.params)
        return self.box

    def inverse(self, box):
        if os.path.exists(self.back):
            os.unlink(self.back)
        report = msft_cli.resynth(box, self.back, reference=self.path)
        self.snr = report.extra["snr_db"]
        return None

    def snr_db(self, _x, _y):
        return self.snr

    def count(self, _c):
        total = 0.0
        for g, spec in enumerate(self.probe.groups):
            frames = self.probe.frame_range(g, self.n_samples)[1]
            total += spec.n_bins * frames * (0.5 if spec.kind != "octave" else 1.0)
        return total * self.channels

    def info(self):
        size = os.path.getsize(self.box) if os.path.exists(self.box) else None
        for p in (self.box, self.back):
            if os.path.exists(p):
                os.unlink(p)
        os.rmdir(self.work)
        return {"container_bytes": size}


def make(variant, **kw):
    if variant == "stream":
        return Streamed(**kw)
    mode, planner = variant.split("/")
    return Transform(mode=mode, planner=planner, **kw)
