"""The two-rate split of zero mode: its decimation filter, the cheapest split, and
the bounded stream of the decimated low band that passes between the stages.

Zero mode at two rates: the margins are set by the lowest octave's filter
(seconds long), but only the lowest octaves need them. When it is cheaper
(:func:`plan_split`), the groups are split in two stages. The
high stage (upper octaves and the high-pass band) runs in blocks with short
margins at the full rate; besides its bands, each of its blocks low-passes
the spectrum with a smooth filter (1 wherever a low-stage window is not 0, 0
from ``sr / (2 D)``) and returns it decimated by ``D``. The low stage (low-pass
band and lowest octaves) runs on that decimated stream, passed through a
bounded buffer, in blocks of ``1 / D`` of the samples, its hops divided by
``D``. Synthesis mirrors it: the low stage's decimated output, interpolated
by the same filter, is added to each high-stage block's spectrum. Exact in
exact arithmetic: the frames, their indices and their values are the same as
at one rate.
"""

from dataclasses import dataclass

import numpy as np

from msft_cli.engine.bands import EXTENT_TOLERANCE, MAX_EXTENT_SECONDS, _smooth_step
from msft_cli.engine.blocks import SEAM_FACTOR, margins


def passband(f, f1, f2):
    """The decimation filter: 1 on ``|f| <= f1``, 0 on ``|f| >= f2``, C-infinity between."""
    return 1.0 - _smooth_step((np.abs(np.asarray(f, dtype=float)) - f1) / (f2 - f1))


def passband_extent(f1, f2, sr):
    """Samples after which :func:`passband`'s impulse response stays below tolerance.

    Computed numerically like :meth:`BandLayout._extent <msft_cli.engine.bands.BandLayout>`:
    the response sampled on a fine frequency grid, inverse-transformed.
    """
    span = 64.0 / (f2 - f1)
    while span <= MAX_EXTENT_SECONDS * 4:
        f = -f2 + np.arange(1, int(np.ceil(2 * f2 * span))) / span
        n = 1 << int(np.ceil(np.log2(4 * len(f))))
        env = np.abs(np.fft.ifft(passband(f, f1, f2), n))
        env /= env.max()
        t = np.arange(n) * (span / n)
        loud = np.minimum(t, span - t)[env >= EXTENT_TOLERANCE].max()
        if loud < 0.3 * span:
            return int(np.ceil(loud * sr))
        span *= 2
    raise AssertionError(f"decimation filter {f1:g}..{f2:g} Hz does not decay")


@dataclass(frozen=True)
class Split:
    """The two-rate split of zero mode.

    The low stage holds groups ``0 .. octaves`` (the low-pass band and octaves
    ``0 .. octaves - 1``) and runs on the signal filtered by :func:`passband`
    (1 up to ``f1``, the top of every low-stage window, 0 from ``f2 = sr / (2 *
    decimation)``) and decimated by ``decimation``: no aliasing, and the filter
    is 1 wherever a low-stage window is not 0, so the low-stage coefficients are
    those of the full-rate signal. The high stage holds the other groups and
    makes (forward) or takes (inverse) the decimated low band.
    """

    octaves: int          # low stage: low-pass band and octaves 0 .. octaves - 1
    decimation: int       # D, a power of two dividing every low-stage hop
    f1: float             # Hz: top of the low-stage supports; the filter is 1 below
    f2: float             # Hz: sr / (2 D); the filter is 0 above
    extent: int           # samples: the filter's impulse response reach
    high_margin: int      # full-rate samples, a multiple of high_granule
    high_granule: int     # max(D, high-stage hops)
    low_margin: int       # full-rate samples, a multiple of the coarsest hop
    high_seam: int        # the margins where a stage's blocks meet (SEAM_FACTOR)
    low_seam: int


#: A split is used when it costs at most this fraction of the single-rate blocks.
SPLIT_GAIN = 0.8


def plan_split(layout, groups, margin, hop_max):
    """The cheapest :class:`Split` of a layout, or None when one rate is as good.

    For each number of low-stage octaves ``s``, the decimation is the largest
    power of two ``D`` with ``sr / (2 D) >= 2 f1`` (a transition band of at least
    an octave) that divides every low-stage hop. The cost of a block advancing
    ``2 * margin`` samples (the default step's scale) is its FFT length, with
    seam margins on both sides (long files, where the cost matters, have seams):
    at one rate ``(2 + 2 * SEAM_FACTOR) * margin``; split, the high stage's block
    plus the low stage's block, at ``1 / D`` of the samples.
    """
    sr, B = layout.sr, layout.bins_per_octave
    step = 2 * margin
    best, best_cost = None, SPLIT_GAIN * (step + 2 * SEAM_FACTOR * margin)
    for s in range(1, layout.n_octaves):
        f1 = float(layout.support(s * B - 1)[1])  # the top low-stage band's support
        low, high = groups[:s + 1], groups[s + 1:]
        d = min(min(g.hop for g in low), 1 << max(0, int(np.floor(np.log2(sr / (4 * f1))))))
        if d < 2:
            continue
        f2 = sr / (2 * d)
        extent = passband_extent(f1, f2, sr)
        granule = max(d, max(g.hop for g in high))
        high_margin, high_seam = margins(max(extent, max(g.extent for g in high)), granule)
        low_margin, low_seam = margins(max(g.extent for g in low), hop_max)
        cost = step + 2 * high_seam + (step + 2 * low_seam) / d
        if cost < best_cost:
            best, best_cost = Split(s, d, f1, f2, extent, high_margin, granule, low_margin,
                                    high_seam, low_seam), cost
    return best


class Stream:
    """A bounded window on a stream of samples (channels, ...), appended in order.

    Samples before ``origin`` are 0, and so are those from :attr:`hi` on once
    the producer is done. :meth:`drop` forgets samples no longer needed; the
    window never holds more than ``capacity`` samples (:attr:`peak` records
    the most it held).
    """

    def __init__(self, channels, capacity, origin):
        self._buf = np.zeros((channels, capacity))
        self.capacity = capacity
        self.origin = self.lo = self.hi = origin  # held: lo .. hi; appended up to hi
        self._at = 0  # buffer column of lo
        self.peak = 0

    def drop(self, upto):
        """Forget the samples before ``upto``."""
        if upto > self.lo:
            self._at = self._at + upto - self.lo if upto < self.hi else 0
            self.lo = upto

    def append(self, chunk, at):
        """Add samples ``at .. at + chunk.shape[1]``: ``at`` must be :attr:`hi`."""
        if at != self.hi:
            raise AssertionError(f"stream gap: appended up to {self.hi}, then at {at}")
        end = at + chunk.shape[1]
        held = max(0, at - self.lo)
        chunk = chunk[:, max(0, self.lo - at):]  # the part not already dropped
        n = chunk.shape[1]
        if held + n > self.capacity:
            raise AssertionError(f"stream of {self.capacity} samples overflows: {held} + {n}")
        self.hi = end
        if not n:
            return
        if self._at + held + n > self.capacity:
            self._buf[:, :held] = self._buf[:, self._at:self._at + held]
            self._at = 0
        self._buf[:, self._at + held:self._at + held + n] = chunk
        self.peak = max(self.peak, held + n)

    def read(self, start, out):
        """Copy samples ``start .. start + out.shape[1]`` into ``out`` (0 where none)."""
        stop = start + out.shape[1]
        if max(start, self.origin) < min(stop, self.lo):
            raise AssertionError(f"stream read from {start}: dropped before {self.lo}")
        a, b = max(start, self.lo), min(stop, self.hi)
        if b <= a:
            out[...] = 0
            return
        out[:, :a - start] = 0
        out[:, a - start:b - start] = self._buf[:, self._at + a - self.lo:self._at + b - self.lo]
        out[:, b - start:] = 0
