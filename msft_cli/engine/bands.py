"""Bands of the transform: centre frequencies, windows, hops and time extents.

The frequency axis is split into ``n_octaves * bins_per_octave`` constant-Q
bands with centres ``fmin * 2**(j + b / bins_per_octave)``, plus a low-pass band
below the lowest centre and a high-pass band above the highest one. Each band
has a smooth window on a log-frequency axis that reaches its neighbours'
centres. Bands are gathered in *groups* that share one hop: the low-pass band,
one group per octave, and the high-pass band, ordered coarse to fine.

Variable-Q (``gamma > 0``, Hz): the centres stay where they are (the bins stay
notes), but each band's window is widened on the log-frequency axis so that
its support is ``f / Q + gamma`` Hz wide, ``f / Q = f * (2**(1/B) - 2**(-1/B))``
being the constant-Q support (from the centre below to the centre above). The
bass bands get wider, so shorter in time: shorter filters, shorter block
margins, finer hops in the low octaves. Windows then overlap more than their
neighbours, and the duals are ``g / sum(g**2)`` over every band (the sum is at
least 1 for ``"bump"``, 1/2 for ``"hann"``: each frequency lies between two
centres whose windows are at least as wide as the constant-Q ones). With
``gamma = 0`` nothing changes, to the bit. ``oversample`` (a power of two)
divides every octave's hop, for finer time grids; the frames stay painless.
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

#: The ERB rule of Glasberg and Moore (1990): an auditory filter at ``f`` Hz is
#: ``ERB_HZ + f / ERB_Q`` Hz wide.
ERB_HZ, ERB_Q = 24.7, 9.265

#: Named values of ``gamma``: see :func:`resolve_gamma`.
GAMMAS = ("erb",)

#: Largest ``gamma`` accepted, in Hz: wider, the bass bands span several octaves (nothing
#: is left of constant-Q there) and their extents take seconds to compute (``"erb"`` is
#: 26 Hz at 12 bins per octave, 343 Hz at 1).
MAX_GAMMA = 1000.0


def constant_q_width(bins_per_octave):
    """``1 / Q``: a constant-Q band's support (centre below to centre above) over its centre."""
    return 2.0 ** (1.0 / bins_per_octave) - 2.0 ** (-1.0 / bins_per_octave)


def erb_gamma(bins_per_octave):
    """``gamma`` making every band's support proportional to the ERB at its centre.

    ``f / Q + gamma = (ERB_HZ + f / ERB_Q) * ERB_Q / Q`` gives ``gamma = ERB_HZ *
    ERB_Q / Q`` (228.8 Hz / Q): constant-Q well above 229 Hz, wider below it
    (26.4 Hz at 12 bins per octave, 13.2 at 24, 6.6 at 48). This is librosa's
    ``vqt`` rule (``gamma = 24.7 * alpha / 0.108``), with msft's support width for
    ``alpha``.
    """
    return ERB_HZ * ERB_Q * constant_q_width(bins_per_octave)


def resolve_gamma(gamma, bins_per_octave):
    """``gamma`` in Hz from a number (``>= 0``, finite) or a name of :data:`GAMMAS`."""
    if isinstance(gamma, str):
        if gamma not in GAMMAS:
            raise ParameterError(f"gamma={gamma!r} is unknown: must be a bandwidth in Hz "
                                 f"(at least 0) or one of {', '.join(map(repr, GAMMAS))}")
        return float(erb_gamma(bins_per_octave))
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)):
        raise TypeError(f"gamma must be a number of Hz or a name, not {type(gamma).__name__}")
    gamma = float(gamma)
    if not np.isfinite(gamma) or gamma < 0:
        raise ParameterError(f"gamma={gamma:g} must be a finite bandwidth in Hz, at least 0")
    if gamma > MAX_GAMMA:
        raise ParameterError(f"gamma={gamma:g} is too wide: must be at most {MAX_GAMMA:g} Hz")
    return gamma


def check_oversample(oversample):
    """``oversample`` as an int, which must be a power of two (1, 2, 4, ...)."""
    if isinstance(oversample, bool) or not isinstance(oversample, (int, np.integer)):
        raise TypeError(f"oversample must be an int, not {type(oversample).__name__}")
    if oversample < 1 or oversample & (oversample - 1):
        raise ParameterError(f"oversample={oversample} must be a power of two (1, 2, 4, ...)")
    return int(oversample)


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
    gamma : float or str
        Hz added to every band's constant-Q support width (``f / Q + gamma``), 0 to
        :data:`MAX_GAMMA`; ``"erb"``: :func:`erb_gamma`. Default 0 (constant-Q).
    oversample : int
        Power of two dividing every octave's hop. Default 1.
    """

    def __init__(self, sr, fmin, bins_per_octave, n_octaves=None, window="bump", gamma=0.0,
                 oversample=1):
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
        self.gamma = resolve_gamma(gamma, bins_per_octave)
        self.oversample = check_oversample(oversample)
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
    def half_width(self, k):
        """Half-width in bands (``1`` for constant-Q) of band ``k``'s window on the
        log-frequency axis: its support, ``centre * 2**(+-w / B)``, is ``f / Q + gamma``
        Hz wide."""
        c = self.centre(k)
        if self.gamma == 0:
            return np.ones_like(c)
        B = self.bins_per_octave
        return B / np.log(2.0) * np.arcsinh(0.5 * (constant_q_width(B) + self.gamma / c))

    def band_window(self, k, f):
        """Window of constant-Q band ``k`` at frequencies ``f`` (Hz)."""
        f = np.asarray(f, dtype=float)
        with np.errstate(divide="ignore"):
            u = self.bins_per_octave * np.log2(np.maximum(f, 1e-300) / self.centre(k))
        if self.gamma != 0:
            u = u / self.half_width(k)
        return np.where(np.abs(u) < 1, window_shape(self.window, np.abs(u)), 0.0)

    def lowpass_window(self, f):
        """Low-pass window: 1 up to the centre below fmin, falling to 0 at fmin (with
        ``gamma > 0``: 1 up to the bottom of band 0's support)."""
        f = np.asarray(f, dtype=float)
        with np.errstate(divide="ignore"):
            u = self.bins_per_octave * np.log2(np.maximum(f, 1e-300) / self.fmin)
        if self.gamma != 0:  # the complement of band 0's lower slope, as wide as it
            u = u / float(self.half_width(0))
        return np.where(u <= -1, 1.0, np.where(u < 0, window_shape(self.window, 1 + u), 0.0))

    def highpass_window(self, f):
        """High-pass window: 0 up to the top centre, rising to 1 one band above it (with
        ``gamma > 0``: at the top of the top band's support)."""
        f = np.asarray(f, dtype=float)
        with np.errstate(divide="ignore"):
            u = self.bins_per_octave * np.log2(np.maximum(f, 1e-300) / self.fmax)
        if self.gamma != 0:  # the complement of the top band's upper slope
            u = u / float(self.half_width(self.n_bands - 1))
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
        if self.gamma != 0:
            reach = 2.0 ** (self.half_width(band) / self.bins_per_octave)
            c = float(self.centre(band))
            return c / float(reach), c * float(reach)
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

        Constant-Q only (``gamma = 0``): with ``gamma > 0`` more windows overlap
        (see :meth:`window_bins`).
        """
        if self.gamma != 0:
            raise ValueError("window_pairs needs gamma=0: use window_bins")
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

        The dual windows are ``g_k / sum_of_squares``; for ``"bump"`` and
        ``gamma = 0`` the sum is 1.
        """
        f = np.asarray(f, dtype=float)
        total = self.lowpass_window(f) ** 2 + self.highpass_window(f) ** 2
        if self.gamma != 0:  # every band meeting f at once: (bands, frequencies)
            k = np.array(self._bands_meeting(np.min(f, initial=np.inf),
                                             np.max(f, initial=-np.inf)))[:, None]
            if k.size:
                with np.errstate(divide="ignore"):
                    u = np.abs(self.bins_per_octave * np.log2(np.maximum(f, 1e-300)
                                                              / self.centre(k)))
                u /= self.half_width(k)
                g = np.where(u < 1, window_shape(self.window, u), 0.0)
                total = total + np.einsum("ij,ij->j", g, g)
            return total
        with np.errstate(divide="ignore"):
            pos = self.bins_per_octave * np.log2(np.maximum(f, 1e-300) / self.fmin)
        nearest = np.floor(pos)
        for offset in (0, 1):  # at most two constant-Q windows overlap any frequency
            k = nearest + offset
            inside = (k >= 0) & (k < self.n_bands)
            total = total + np.where(inside, self.band_window(np.where(inside, k, 0), f) ** 2, 0)
        return total

    @cached_property
    def _supports(self):
        """``(lo, hi)`` arrays: every constant-Q band's support, as :meth:`support` gives it."""
        lo, hi = zip(*(self.support(k) for k in range(self.n_bands)))
        return np.array(lo), np.array(hi)

    def _bands_meeting(self, lo, hi):
        """Constant-Q bands whose support meets ``lo .. hi`` Hz."""
        s_lo, s_hi = self._supports
        return np.flatnonzero((s_lo < hi) & (s_hi > lo)).tolist()

    def window_bins(self, n, lo, hi, bands, half):
        """Every window on the bins ``lo .. hi`` of ``n``-point FFTs (``gamma > 0``).

        Parameters
        ----------
        n : int
            FFT length at the full rate: bin ``b`` is ``b * sr / n`` Hz (one
            correctly rounded division, so every block length gives the same
            value for the same frequency).
        lo, hi : int
            The bins to cover.
        bands : sequence
            The bands (indices, ``"lowpass"``, ``"highpass"``) whose windows are
            returned.
        half : int
            Bins ``half ..`` are not evaluated (beyond a decimated block's Nyquist).

        Returns
        -------
        windows : dict
            ``band -> (b0, values)``: the band's window on bins ``b0 ..``, inside
            its support, without zeros at either end.
        sum_sq : ndarray
            ``sum(g**2)`` over every band (not only ``bands``) on bins ``lo .. hi``,
            from the same values.
        """
        sum_sq = np.zeros(hi - lo)
        wanted = set(bands)
        windows = {}
        for band in ["lowpass", *range(self.n_bands), "highpass"]:
            s_lo, s_hi = self.support(band)
            a = max(lo, int(np.floor(s_lo * n / self.sr)) + 1)
            z = min(hi, half, int(np.ceil(s_hi * n / self.sr)))
            if z <= a:
                continue
            f = (np.arange(a, z, dtype=np.int64) * self.sr * 1.0) / n
            g = self.window_values(band, f)
            sum_sq[a - lo:z - lo] += g * g
            if band in wanted:
                nz = np.flatnonzero(g)
                if len(nz):
                    windows[band] = (a + int(nz[0]), g[nz[0]:nz[-1] + 1])
                else:
                    windows[band] = (a, g[:0])
        return windows, sum_sq

    # -- groups --------------------------------------------------------------
    def _hop_for(self, width_hz):
        """Largest power-of-two hop at which a band this wide stays painless."""
        return 2 ** int(np.floor(np.log2(self.sr / width_hz) + 1e-12))

    @cached_property
    def groups(self):
        """The band groups, coarse to fine: low-pass, octaves 0.., high-pass.

        Each octave's hop is the largest power of two keeping its widest band
        painless, divided by ``oversample``; with ``gamma = 0`` it halves from
        one octave to the next, with ``gamma > 0`` the lowest octaves may share
        one. Either way the frame grids nest.
        """
        B, J, K = self.bins_per_octave, self.n_octaves, self.oversample
        if self.gamma == 0:
            width0 = max(np.subtract(*self.support(k)[::-1]) for k in range(B))
            hop0 = self._hop_for(width0)
            if hop0 < 2 ** (self.n_octaves - 1):
                raise ParameterError(
                    f"bins_per_octave={B} is too few for {self.n_octaves} octaves at "
                    f"sr={self.sr}: the top octave's hop would be below one sample")
            hops = [hop0 >> j for j in range(J)]
        else:  # the widest band of an octave is its top one (supports grow with k)
            widths = [np.subtract(*self.support((j + 1) * B - 1)[::-1]) for j in range(J)]
            if widths[-1] > self.sr:
                raise ParameterError(
                    f"gamma={self.gamma:g} is too wide at sr={self.sr}: the top octave's hop "
                    "would be below one sample")
            hops = [self._hop_for(w) for w in widths]
        if hops[-1] < K:
            raise ParameterError(
                f"oversample={K} is too high for {J} octaves at sr={self.sr} with "
                f"bins_per_octave={B}: the top octave's hop ({hops[-1]}) would be below one "
                "sample")
        groups = [Group("lowpass", "lowpass", np.array([0.0]),
                        self._hop_for(2 * self.fmin), self._extent("lowpass"))]
        ext0 = self._extent(0)
        for j in range(self.n_octaves):
            freqs = self.centre(np.arange(j * B, (j + 1) * B))
            # variable-Q: no longer one shape dilated; the longest of the octave's bands
            # (mostly its lowest, but the duals' sum of squares varies: up to ~20% longer)
            extent = int(np.ceil(ext0 / 2 ** j)) if self.gamma == 0 else \
                max(self._extent(k) for k in range(j * B, (j + 1) * B))
            groups.append(Group(f"octave_{j}", "octave", freqs, hops[j] // K, extent))
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
        if self.gamma != 0:
            return float(self.centre(band)) - self.support(band)[0]
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
