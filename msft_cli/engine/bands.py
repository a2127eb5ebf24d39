"""Bands of the transform: centre frequencies, windows, hops and time extents.

The frequency axis is split into ``n_octaves * bins_per_octave`` constant-Q
bands with centres ``fmin * 2**(j + b / bins_per_octave)``, plus a low-pass band
below the lowest centre and a high-pass band above the highest one. Each band
has a smooth window on a log-frequency axis that reaches its neighbours'
centres. Bands are gathered in *groups* that share one hop: the low-pass band,
one group per octave, and the high-pass band, ordered coarse to fine.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from msft_cli._checks import integer, unknown
from msft_cli.errors import ParameterError

#: Names of the available window shapes.
WINDOWS = ("bump", "hann")

#: Largest number of bins per octave accepted (a margin grows with it).
MAX_BINS_PER_OCTAVE = 64

#: Relative impulse-response envelope below which a band's filter counts as ended.
EXTENT_TOLERANCE = 1e-8

#: Longest filter ring (seconds) accepted: it sets the block margins, and so memory.
MAX_EXTENT_SECONDS = 100.0

#: Veltkamp's splitter for float64, ``2**27 + 1``: ``c * s - (c * s - c)`` keeps the high 26
#: bits of ``c``, whose products with FFT sizes are exact (docs/DESIGN.md, "Window placement").
_VELTKAMP_SPLITTER = 134217729.0


def _smooth_step(x):
    """C-infinity step from 0 at ``x <= 0`` to 1 at ``x >= 1``, odd about 1/2."""
    x = np.clip(x, 0.0, 1.0)
    # exp(-2/x) / (exp(-2/x) + exp(-2/(1-x))), with one exponential (0 -> 0, 1 -> 1)
    with np.errstate(divide="ignore", over="ignore"):
        return 1.0 / (1.0 + np.exp(2.0 / x - 2.0 / (1.0 - x)))


def window_shape(name, x):
    """Window value at distance ``x`` (in bands, ``0 <= x <= 1``) from a centre.

    ``"bump"`` is ``cos(pi/2 * s(x))`` with a C-infinity smooth step ``s``: the
    squares of neighbouring windows add up to exactly 1 (a tight frame, so the
    dual window is the window itself), and its impulse response decays fastest
    of the shapes we measured. ``"hann"`` is ``cos(pi/2 * x)**2``: the windows
    themselves add up to 1, the duals are ``g / sum(g**2)``, and the impulse
    response decays slowly (long block margins).
    """
    x = np.asarray(x, dtype=float)
    if name == "bump":
        return np.cos(0.5 * np.pi * _smooth_step(x))
    if name == "hann":
        return np.cos(0.5 * np.pi * np.clip(x, 0.0, 1.0)) ** 2
    raise unknown("window", name, WINDOWS)


def default_fmin(bins_per_octave=12, tuning=440.0, floor=20.0):
    """Lowest equal-tempered bin frequency at or above ``floor`` Hz.

    Bins lie on the grid ``tuning * 2**(k / bins_per_octave)`` (A4 = ``tuning``).
    """
    k = np.ceil(bins_per_octave * np.log2(floor / tuning) - 1e-9)
    return float(tuning * 2.0 ** (k / bins_per_octave))


@dataclass(frozen=True)
class Group:
    """Bands that share one hop: the low-pass band, an octave, or the high-pass band.

    Attributes
    ----------
    name : str
        ``"lowpass"``, ``"octave_<j>"`` or ``"highpass"``.
    kind : str
        ``"lowpass"``, ``"octave"`` or ``"highpass"``.
    frequencies : ndarray
        Centre frequency of each band in Hz (the low-pass band reports 0 Hz, the
        high-pass band the Nyquist frequency).
    hop : int
        Hop in samples, a power of two.
    extent : int
        Samples after which every band's filter (and dual) envelope stays below
        :data:`EXTENT_TOLERANCE` of its peak: frames this far beyond the signal
        are kept so the edges reconstruct.
    """

    name: str
    kind: str
    frequencies: np.ndarray
    hop: int
    extent: int

    @property
    def n_bins(self):
        return len(self.frequencies)


class BandLayout:
    """Centre frequencies, windows and hops of every band; validated on creation.

    Parameters
    ----------
    sr : int
        Sample rate in Hz, at least 1000.
    fmin : float
        Centre of the lowest constant-Q band, ``0 < fmin``, with at least one
        whole octave between ``fmin`` and the Nyquist frequency.
    bins_per_octave : int
        Bands per octave, ``1 .. MAX_BINS_PER_OCTAVE``.
    n_octaves : int or None
        Number of octaves; ``None`` takes as many whole octaves as fit under
        the Nyquist frequency.
    window : str
        One of :data:`WINDOWS`.
    """

    def __init__(self, sr, fmin, bins_per_octave, n_octaves=None, window="bump"):
        integer("sr", sr)
        if sr < 1000:
            raise ParameterError(f"sr={sr} is too low: must be at least 1000 Hz")
        integer("bins_per_octave", bins_per_octave)
        if not 1 <= bins_per_octave <= MAX_BINS_PER_OCTAVE:
            raise ParameterError(
                f"bins_per_octave={bins_per_octave} is out of range: must be between 1 and "
                f"{MAX_BINS_PER_OCTAVE}")
        fmin = float(fmin)
        nyquist = sr / 2
        if not np.isfinite(fmin) or fmin <= 0:
            raise ParameterError(f"fmin={fmin:g} must be a positive frequency in Hz")
        if fmin * 2 > nyquist:
            raise ParameterError(
                f"fmin={fmin:g} Hz leaves no whole octave below the Nyquist frequency "
                f"({nyquist:g} Hz at sr={sr}): must be at most {nyquist / 2:g} Hz")
        fitting = int(np.floor(np.log2(nyquist / fmin) + 1e-12))
        if n_octaves is None:
            n_octaves = fitting
        integer("n_octaves", n_octaves)
        if not 1 <= n_octaves <= fitting:
            raise ParameterError(
                f"n_octaves={n_octaves} does not fit: must be between 1 and {fitting} for "
                f"fmin={fmin:g} Hz at sr={sr}")
        window_shape(window, 0.0)  # validates the name
        self.sr = int(sr)
        self.fmin = fmin
        self.bins_per_octave = int(bins_per_octave)
        self.n_octaves = int(n_octaves)
        self.window = window

    # -- frequencies ---------------------------------------------------------
    def centre(self, k):
        """Centre frequency of constant-Q band ``k`` (may be outside 0..n_bands-1)."""
        return self.fmin * 2.0 ** (np.asarray(k, dtype=float) / self.bins_per_octave)

    @property
    def n_bands(self):
        return self.n_octaves * self.bins_per_octave

    @property
    def fmax(self):
        """Centre of the highest constant-Q band, in Hz."""
        return float(self.centre(self.n_bands - 1))

    # -- windows -------------------------------------------------------------
    def band_window(self, k, f):
        """Window of constant-Q band ``k`` at frequencies ``f`` (Hz)."""
        f = np.asarray(f, dtype=float)
        with np.errstate(divide="ignore"):
            u = self.bins_per_octave * np.log2(np.maximum(f, 1e-300) / self.centre(k))
        return np.where(np.abs(u) < 1, window_shape(self.window, np.abs(u)), 0.0)

    def lowpass_window(self, f):
        """Low-pass window: 1 up to the centre below fmin, falling to 0 at fmin."""
        f = np.asarray(f, dtype=float)
        with np.errstate(divide="ignore"):
            u = self.bins_per_octave * np.log2(np.maximum(f, 1e-300) / self.fmin)
        return np.where(u <= -1, 1.0, np.where(u < 0, window_shape(self.window, 1 + u), 0.0))

    def highpass_window(self, f):
        """High-pass window: 0 up to the top centre, rising to 1 one band above it."""
        f = np.asarray(f, dtype=float)
        with np.errstate(divide="ignore"):
            u = self.bins_per_octave * np.log2(np.maximum(f, 1e-300) / self.fmax)
        return np.where(u >= 1, 1.0, np.where(u > 0, window_shape(self.window, 1 - u), 0.0))

    def support(self, band):
        """Frequencies ``(lo, hi)`` in Hz between which a window is non-zero.

        ``band`` is a constant-Q band index, ``"lowpass"`` or ``"highpass"``.
        The low- and high-pass bands are real, two-sided bands: the low-pass
        one spans ``(-fmin, fmin)`` around 0 Hz, the high-pass one spans
        ``(top, sr - top)`` around the Nyquist frequency.
        """
        if band == "lowpass":
            return -self.fmin, self.fmin
        if band == "highpass":
            return self.fmax, self.sr - self.fmax
        return float(self.centre(band - 1)), float(self.centre(band + 1))

    def fold(self, f):
        """Map frequencies onto ``0 .. sr/2`` (a real signal's spectrum is symmetric)."""
        f = np.abs(np.asarray(f, dtype=float)) % self.sr
        return np.minimum(f, self.sr - f)

    def window_values(self, band, f):
        """Window of ``band`` (index, ``"lowpass"`` or ``"highpass"``) at ``f`` Hz."""
        if band == "lowpass":
            return self.lowpass_window(self.fold(f))
        if band == "highpass":
            return self.highpass_window(self.fold(f))
        return self.band_window(band, f)

    def window_pairs(self, f, n=None):
        """Every window at once, on frequencies ``0 <= f <= sr / 2``.

        At most two windows overlap any frequency: those of bands ``k`` and
        ``k + 1``, where ``k`` (from -1, the low-pass band, to ``n_bands - 1``;
        ``n_bands`` is the high-pass band) is the band whose centre is at or
        below ``f``. One logarithm per frequency, rather than one per band.

        With ``n``, ``f`` are the bins of an ``n``-point FFT (frequencies
        ``f * sr / n``), and each one's distance from its band's centre is
        found to an ulp or two of that distance, not of the frequency: the two
        stages of a split evaluate their windows on different bins, and where
        a low-stage window meets a high-stage one their squares must still add
        up to 1 (the steep middle of a window turns a frequency's own rounding
        into a ~1e-15 gap there, ~1e-13 from ``log2(f / fmin)``).

        Returns
        -------
        k : ndarray of int
            Non-decreasing where ``f`` is.
        lower, upper : ndarray
            The windows of bands ``k`` and ``k + 1`` at ``f`` (the values of
            :meth:`window_values`, to rounding).
        """
        B = self.bins_per_octave
        if n is None:
            f = np.asarray(f, dtype=float)
            top = f
        else:
            bins = np.asarray(f)
            if bins.dtype.kind not in "iu":
                raise TypeError(f"with n, f must be integer FFT bins, not {bins.dtype}")
            top = bins.astype(np.int64) * self.sr * 1.0  # exact below 2**53
            f = top / n
        with np.errstate(divide="ignore"):
            pos = B * np.log2(np.maximum(f, 1e-300) / self.fmin)
        k = np.clip(np.floor(pos), -1, self.n_bands - 1)
        # x: the distance in bands from band k's centre c (beyond 0..1 only at the
        # ends), from f - c, exact where it matters (c <= f <= 2 c), not from pos - k
        c = self.centre(k)
        if n is None:
            rel = (f - c) / c
        else:  # (f n - c n) / (c n), with c n as c_hi n (exact) + c_lo n (Veltkamp split)
            c_hi = c * _VELTKAMP_SPLITTER
            c_hi -= c_hi - c
            rel = ((top - c_hi * n) - (c - c_hi) * n) / (c * n)
        with np.errstate(divide="ignore"):
            x = np.maximum(B / np.log(2.0) * np.log1p(np.maximum(rel, -1.0)), -1.0)
        # both shapes are cos(h) and sin(h) = cos(pi/2 - h) (squared for hann), with
        # h = pi/2 s(x) and s(1 - x) = 1 - s(x): one step per frequency, not two
        h = (0.5 * np.pi) * (_smooth_step(x) if self.window == "bump" else np.clip(x, 0.0, 1.0))
        lower, upper = np.cos(h), np.sin(h)
        if self.window == "hann":
            lower *= lower
            upper *= upper
        lower[x >= 1] = 0.0  # beyond the top band (cos(pi/2) is not quite 0)
        return k.astype(np.int64), lower, upper

    def sum_of_squares(self, f):
        """``sum_k g_k(f)**2`` over every band, low- and high-pass included.

        The dual windows are ``g_k / sum_of_squares``; for ``"bump"`` the sum is 1.
        """
        f = np.asarray(f, dtype=float)
        total = self.lowpass_window(f) ** 2 + self.highpass_window(f) ** 2
        with np.errstate(divide="ignore"):
            pos = self.bins_per_octave * np.log2(np.maximum(f, 1e-300) / self.fmin)
        nearest = np.floor(pos)
        for offset in (0, 1):  # at most two constant-Q windows overlap any frequency
            k = nearest + offset
            inside = (k >= 0) & (k < self.n_bands)
            total = total + np.where(inside, self.band_window(np.where(inside, k, 0), f) ** 2, 0)
        return total

    # -- groups --------------------------------------------------------------
    def _hop_for(self, width_hz):
        """Largest power-of-two hop at which a band this wide stays painless."""
        return 2 ** int(np.floor(np.log2(self.sr / width_hz) + 1e-12))

    @cached_property
    def groups(self):
        """The band groups, coarse to fine: low-pass, octaves 0.., high-pass."""
        B = self.bins_per_octave
        width0 = max(np.subtract(*self.support(k)[::-1]) for k in range(B))
        hop0 = self._hop_for(width0)
        if hop0 < 2 ** (self.n_octaves - 1):
            raise ParameterError(
                f"bins_per_octave={B} is too few for {self.n_octaves} octaves at sr={self.sr}: "
                f"the top octave's hop would be below one sample")
        groups = [Group("lowpass", "lowpass", np.array([0.0]),
                        self._hop_for(2 * self.fmin), self._extent("lowpass"))]
        ext0 = self._extent(0)
        for j in range(self.n_octaves):
            freqs = self.centre(np.arange(j * B, (j + 1) * B))
            groups.append(Group(f"octave_{j}", "octave", freqs, hop0 >> j,
                                int(np.ceil(ext0 / 2 ** j))))
        lo, hi = self.support("highpass")
        groups.append(Group("highpass", "highpass", np.array([self.sr / 2]),
                            self._hop_for(hi - lo), self._extent("highpass")))
        return tuple(groups)

    def _transition(self, band):
        """Width in Hz of the narrowest slope of a band's window (it sets the decay)."""
        step = 1 - 2.0 ** (-1.0 / self.bins_per_octave)
        if band == "lowpass":
            return self.fmin * step
        if band == "highpass":
            return self.fmax * (2.0 ** (1.0 / self.bins_per_octave) - 1)
        return float(self.centre(band)) * step

    def _extent(self, band):
        """Samples after which ``band``'s filter and dual envelopes stay below tolerance.

        Computed numerically: the window (and its dual) sampled on a fine
        frequency grid over its support and inverse-transformed gives the
        envelope of the band's impulse response.
        """
        lo, hi = self.support(band)
        width = hi - lo
        span = 64.0 / self._transition(band)  # seconds of impulse response computed
        while span <= MAX_EXTENT_SECONDS * 4:
            f = lo + np.arange(1, int(np.ceil(width * span))) / span
            g = self.window_values(band, f)
            n = 1 << int(np.ceil(np.log2(4 * len(f))))
            extents = []
            for shape in (g, g / self.sum_of_squares(self.fold(f))):
                env = np.abs(np.fft.ifft(shape, n))
                env /= env.max()
                t = np.arange(n) * (span / n)
                loud = np.minimum(t, span - t)[env >= EXTENT_TOLERANCE]
                extents.append(loud.max())
            if max(extents) < 0.3 * span:
                return int(np.ceil(max(extents) * self.sr))
            span *= 2
        raise ParameterError(
            f"window={self.window!r} with bins_per_octave={self.bins_per_octave} and "
            f"fmin={self.fmin:g} Hz: the {band} band's filter rings for more than "
            f"{MAX_EXTENT_SECONDS:g} s (block margins would be too long): use window='bump', "
            "fewer bins per octave or a higher fmin")
