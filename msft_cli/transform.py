"""The engine: an invertible, octave-rasterized constant-Q transform on FFTW.

The transform is the "painless" nonstationary Gabor transform built in the
frequency domain (Velasco, Holighaus, Doerfler and Grill 2011; Holighaus et al.
2013). A block of ``n`` samples is transformed with one real FFT; for each band
the windowed slice of the spectrum is inverse-transformed at a short length
``m = n / hop``, which filters and decimates in one step. Because every slice is
no longer than ``m``, the frame operator is diagonal and the dual windows are
``g / sum(g**2)``: synthesis mirrors analysis exactly.

All bands of an octave share one power-of-two hop, halving from one octave to
the next, so each octave is a dense ``(bins, frames)`` array and frame ``n`` of
octave ``j`` sits at the time of frame ``2n`` of octave ``j + 1``. Frames lie
at multiples of the hop from time 0.

Two boundary modes:

``"zero"`` (default)
    The signal is zero-extended; frames whose filters reach the signal are
    kept (``extent`` samples beyond each edge). Computed in fixed-size blocks
    with overlap margins longer than the longest filter, so memory is bounded
    and the coefficients do not depend on the block size.
``"periodic"``
    The signal, zero-padded to a length the FFT likes, is one period; one
    block; exact to machine precision, frames cover the padded period.
"""

from dataclasses import dataclass

import numpy as np

from .errors import ParameterError
from .fftw import Plans
from .scales import BandLayout, default_fmin

MODES = ("zero", "periodic")

#: Cofactors ``c`` of the FFT lengths ``hop * c * 2**k`` used in periodic mode.
_PERIODIC_COFACTORS = (1, 3, 5, 7)


def _is_smooth(m):
    """Whether ``m``'s prime factors are all 2, 3, 5 or 7 (FFTW is fast there)."""
    for p in (2, 3, 5, 7):
        while m % p == 0:
            m //= p
    return m == 1


@dataclass(frozen=True)
class _GroupMap:
    """Where each band of a group reads and writes in one block geometry."""

    real: bool        # real two-sided band (low- or high-pass) or complex octave
    rows: int         # bands in the group
    m: int            # frames per block: n // hop
    src: np.ndarray   # spectrum bins read (rfft indices)
    dst: np.ndarray   # positions written: flat (row * m + q) or half-spectrum q
    conj: np.ndarray  # real groups: whether the bin lands through its mirror image
    w_an: np.ndarray  # analysis weights, FFT scaling folded in
    w_syn: np.ndarray  # synthesis weights (dual window), FFT scaling folded in
    parity: tuple     # complex groups: index sets of even and odd rows (disjoint bins)


class _Geometry:
    """Index maps and weights of every group for blocks of ``n`` samples."""

    def __init__(self, layout, groups, n):
        self.n = n
        freqs = np.arange(n // 2 + 1) * (layout.sr / n)
        dual = 1.0 / layout.sum_of_squares(freqs)
        self.maps = []
        for gi, group in enumerate(groups):
            m = n // group.hop
            if group.kind == "octave":
                j = gi - 1
                bands = range(j * layout.bins_per_octave, (j + 1) * layout.bins_per_octave)
            else:
                bands = [group.kind]
            srcs, dsts, conjs, ws, rows = [], [], [], [], []
            for row, band in enumerate(bands):
                lo, hi = layout.support(band)
                lo_bin = max(0, int(np.floor(lo * n / layout.sr)) + 1)
                hi_bin = min(n // 2, int(np.ceil(hi * n / layout.sr)) - 1)
                b = np.arange(lo_bin, hi_bin + 1)
                g = layout.window_values(band, freqs[b])
                b, g = b[g > 0], g[g > 0]
                q = b % m
                if group.kind == "octave":
                    dst, cj = row * m + q, np.zeros(len(b), bool)
                else:  # real band: keep the half spectrum 0..m/2 of the folded bins
                    cj = q > m // 2
                    dst = np.where(cj, (m - q) % m, q)
                srcs.append(b); dsts.append(dst); conjs.append(cj); ws.append(g)
                rows.append(np.full(len(b), row))
            src, dst, g = np.concatenate(srcs), np.concatenate(dsts), np.concatenate(ws)
            row_of = np.concatenate(rows)
            size = len(bands) * m if group.kind == "octave" else m // 2 + 1
            if np.bincount(dst, minlength=size).max() > 1:  # excluded by the hop rule
                raise AssertionError(f"{group.name}: bands alias at n={n}")
            if group.kind == "octave":
                w_an, w_syn = g * (2.0 / n), g * dual[src] / (2.0 * m)
                parity = (np.flatnonzero(row_of % 2 == 0), np.flatnonzero(row_of % 2 == 1))
            else:
                w_an, w_syn = g / n, g * dual[src] / m
                parity = ()
            self.maps.append(_GroupMap(group.kind != "octave", len(bands), m, src, dst,
                                       np.concatenate(conjs), w_an, w_syn, parity))


class MSFT:
    """Multi-scale constant-Q transform: parameters validated once, forward and inverse.

    Parameters
    ----------
    sr : int
        Sample rate of the signals, in Hz.
    fmin : float, optional
        Centre of the lowest band in Hz. Default: the lowest equal-tempered
        bin (relative to ``tuning``) at or above 20 Hz.
    bins_per_octave : int
        Bands per octave, 1 to 64. Default 12.
    n_octaves : int, optional
        Number of octaves. Default: as many whole octaves as fit under the
        Nyquist frequency. Give ``n_octaves`` or ``fmax``, not both.
    fmax : float, optional
        Highest frequency to cover: the fewest octaves whose top band reaches it.
    tuning : float
        Frequency of A4 in Hz for the default ``fmin``. Default 440.
    window : {"bump", "hann"}
        Window shape on the log-frequency axis (see :mod:`msft_cli.scales`).
    mode : {"zero", "periodic"}
        Boundary handling (see the module documentation). Default ``"zero"``.
    block_size : int, optional
        Samples advanced per block in ``"zero"`` mode (rounded up to a
        multiple of the coarsest hop). Default: the largest step whose block
        (step plus two margins) is the power of two at least four margins long.
    threads : int, optional
        FFTW threads. Default: all cores.
    planner : {"estimate", "measure", "patient"}
        FFTW planner effort; plans and wisdom are reused (see :mod:`msft_cli.fftw`).

    Examples
    --------
    >>> import numpy as np
    >>> from msft_cli import MSFT
    >>> t = MSFT(sr=44100)
    >>> y = np.random.default_rng(0).standard_normal(44100)
    >>> c = t.forward(y)
    >>> bool(np.allclose(t.inverse(c), y, atol=1e-6))
    True
    """

    def __init__(self, sr, fmin=None, bins_per_octave=12, n_octaves=None, fmax=None,
                 tuning=440.0, window="bump", mode="zero", block_size=None, threads=None,
                 planner="estimate"):
        tuning = float(tuning)
        if not np.isfinite(tuning) or tuning <= 0:
            raise ParameterError(f"tuning={tuning:g} must be a positive frequency in Hz")
        if mode not in MODES:
            raise ParameterError(f"mode={mode!r} is unknown: must be one of {', '.join(MODES)}")
        if fmin is None:
            if isinstance(bins_per_octave, (int, np.integer)) and bins_per_octave >= 1:
                fmin = default_fmin(bins_per_octave, tuning)
            else:
                fmin = 20.0  # BandLayout reports the bad bins_per_octave
        if fmax is not None:
            if n_octaves is not None:
                raise ParameterError("give n_octaves or fmax, not both")
            fmax = float(fmax)
            if not np.isfinite(fmax) or fmax <= float(fmin):
                raise ParameterError(f"fmax={fmax:g} must be above fmin={float(fmin):g} Hz")
            if isinstance(bins_per_octave, (int, np.integer)) and bins_per_octave >= 1:
                n_octaves = max(1, int(np.ceil(np.log2(fmax / float(fmin))
                                               + 1.0 / bins_per_octave - 1e-9)))
        self.layout = BandLayout(sr, fmin, bins_per_octave, n_octaves, window)
        self.tuning = tuning
        self.mode = mode
        self.plans = Plans(threads, planner)
        self.groups = self.layout.groups
        hop_max = max(g.hop for g in self.groups)
        self.hop_max = hop_max
        #: overlap margin on each side of a block, a multiple of the coarsest hop
        self.margin = -(-max(g.extent for g in self.groups) // hop_max) * hop_max
        if block_size is None:
            n = 1 << int(np.ceil(np.log2(4 * self.margin)))
            block_size = n - 2 * self.margin
        if not isinstance(block_size, (int, np.integer)) or isinstance(block_size, bool):
            raise TypeError(f"block_size must be an int, not {type(block_size).__name__}")
        if block_size < 1:
            raise ParameterError(f"block_size={block_size} must be at least 1 sample")
        self.block_size = int(-(-block_size // hop_max) * hop_max)
        self._geometries = {}

    # -- parameters ----------------------------------------------------------
    sr = property(lambda self: self.layout.sr, doc="Sample rate in Hz.")
    fmin = property(lambda self: self.layout.fmin, doc="Centre of the lowest band in Hz.")
    fmax = property(lambda self: self.layout.fmax, doc="Centre of the highest band in Hz.")
    bins_per_octave = property(lambda self: self.layout.bins_per_octave, doc="Bands per octave.")
    n_octaves = property(lambda self: self.layout.n_octaves, doc="Number of octaves.")
    window = property(lambda self: self.layout.window, doc="Window shape name.")

    @property
    def hops(self):
        """Hop in samples of each octave, coarse to fine."""
        return [g.hop for g in self.groups[1:-1]]

    @property
    def frequencies(self):
        """Centre frequencies in Hz: one array of ``bins_per_octave`` per octave."""
        return [g.frequencies for g in self.groups[1:-1]]

    def to_params(self):
        """The transform's defining parameters as a dict (``from_params`` inverts it)."""
        return {"sr": self.sr, "fmin": self.fmin, "bins_per_octave": self.bins_per_octave,
                "n_octaves": self.n_octaves, "tuning": self.tuning, "window": self.window,
                "mode": self.mode}

    @classmethod
    def from_params(cls, params, **options):
        """A transform from :meth:`to_params`'s dict; ``options`` set threads, planner, block_size."""
        keys = ("sr", "fmin", "bins_per_octave", "n_octaves", "tuning", "window", "mode")
        return cls(**{k: params[k] for k in keys}, **options)

    def __repr__(self):
        return (f"MSFT(sr={self.sr}, fmin={self.fmin:.4f}, bins_per_octave="
                f"{self.bins_per_octave}, n_octaves={self.n_octaves}, window={self.window!r}, "
                f"mode={self.mode!r})")

    # -- frame ranges --------------------------------------------------------
    def frame_range(self, group, n_samples):
        """First global frame index and frame count of ``group`` for a signal length.

        In ``"zero"`` mode the frames reach ``extent`` samples beyond both
        edges; in ``"periodic"`` mode they tile the padded period.
        """
        g = self.groups[group]
        if self.mode == "periodic":
            return 0, self.period(n_samples) // g.hop
        first = -(-g.extent // g.hop)
        last = (n_samples - 1 + g.extent) // g.hop
        return -first, last + first + 1

    def period(self, n_samples):
        """FFT length of periodic mode: ``hop_max * c * 2**k >= n_samples``, ``c`` in 1, 3, 5, 7."""
        need = -(-max(n_samples, 1) // self.hop_max)
        best = None
        for c in _PERIODIC_COFACTORS:
            m = c << max(0, int(np.ceil(np.log2(need / c))))
            best = m if best is None else min(best, m)
        return best * self.hop_max

    def _geometry(self, n):
        geo = self._geometries.get(n)
        if geo is None:
            geo = self._geometries[n] = _Geometry(self.layout, self.groups, n)
        return geo

    def _block_length(self, step):
        """FFT length for blocks advancing ``step`` samples: ``step`` plus two margins
        (each a multiple of the coarsest hop), rounded up to a 7-smooth size."""
        h = self.hop_max
        m = (step + 2 * self.margin) // h
        while not (_is_smooth(m) and (m - step // h) % 2 == 0):
            m += 1
        return m * h

    # -- one block -----------------------------------------------------------
    def _analyze_block(self, x, geo):
        """Coefficients of every group for one block ``x`` of shape (channels, n).

        Yields ``(group_index, array (channels, rows, m))``.
        """
        rfft = self.plans.rfft(geo.n)
        spectra = []
        for ch in range(x.shape[0]):
            rfft.input_array[:] = x[ch]
            rfft.execute()
            spectra.append(rfft.output_array.copy())
        for gi, gm in enumerate(geo.maps):
            dtype = np.float64 if gm.real else np.complex128
            out = np.empty((x.shape[0], gm.rows, gm.m), dtype)
            for ch, spec in enumerate(spectra):
                vals = spec[gm.src] * gm.w_an
                if gm.real:
                    plan = self.plans.irfft(gm.m)
                    buf = plan.input_array
                    buf[:] = 0
                    buf[gm.dst] = np.where(gm.conj, vals.conj(), vals)
                    plan.execute()
                    out[ch, 0] = plan.output_array
                else:
                    plan = self.plans.ifft_rows(gm.rows, gm.m)
                    buf = plan.input_array
                    buf[:] = 0
                    buf.reshape(-1)[gm.dst] = vals
                    plan.execute()
                    out[ch] = plan.output_array
            yield gi, out

    def _synthesize_block(self, frames, geo, channels):
        """Samples (channels, n) of one block from per-group frames (channels, rows, m)."""
        acc = np.zeros((channels, geo.n // 2 + 1), np.complex128)
        for gm, c in zip(geo.maps, frames):
            for ch in range(channels):
                if gm.real:
                    plan = self.plans.rfft(gm.m)
                    plan.input_array[:] = c[ch, 0]
                    plan.execute()
                    vals = plan.output_array[gm.dst]
                    acc[ch, gm.src] += np.where(gm.conj, vals.conj(), vals) * gm.w_syn
                else:
                    plan = self.plans.fft_rows(gm.rows, gm.m)
                    plan.input_array[:] = c[ch]
                    plan.execute()
                    vals = plan.output_array.reshape(-1)[gm.dst] * gm.w_syn
                    for idx in gm.parity:  # bins within one parity never repeat
                        acc[ch, gm.src[idx]] += vals[idx]
        irfft = self.plans.irfft(geo.n)
        out = np.empty((channels, geo.n))
        for ch in range(channels):
            irfft.input_array[:] = acc[ch]
            irfft.execute()
            out[ch] = irfft.output_array
        return out

    # -- streaming -----------------------------------------------------------
    def iter_forward(self, read, n_samples, channels):
        """Analyse a signal block by block, without holding it whole.

        Parameters
        ----------
        read : callable
            ``read(start, stop)`` returns the samples ``start:stop`` as a float64
            array (channels, stop - start), zeros outside ``0 .. n_samples``.
        n_samples, channels : int
            The signal's length and channel count.

        Yields
        ------
        (group, first_frame, array)
            ``array`` (channels, rows, frames) holds frames ``first_frame ..``
            (global indices) of group ``group``; each frame is yielded once, in
            time order per group.
        """
        if self.mode == "periodic":
            n = self.period(n_samples)
            geo = self._geometry(n)
            for gi, c in self._analyze_block(read(0, n), geo):
                yield gi, 0, c
            return
        ranges = [self.frame_range(g, n_samples) for g in range(len(self.groups))]
        h, step, margin = self.hop_max, self.block_size, self.margin
        t_lo = min(first * g.hop for (first, _), g in zip(ranges, self.groups))
        t_hi = max((first + count) * g.hop for (first, count), g in zip(ranges, self.groups))
        t_lo = (t_lo // h) * h
        n = self._block_length(step)
        pad = (n - step) // 2
        geo = self._geometry(n)
        for start in range(t_lo, t_hi, step):
            x = read(start - pad, start - pad + n)
            for gi, c in self._analyze_block(x, geo):
                hop = self.groups[gi].hop
                first, count = ranges[gi]
                lo = max(first, start // hop)
                hi = min(first + count, (start + step) // hop)
                if hi > lo:
                    off = (start - pad) // hop
                    yield gi, lo, c[:, :, lo - off:hi - off]

    def iter_inverse(self, read_frames, n_samples, channels, ranges=None):
        """Synthesize a signal block by block from stored frames.

        Parameters
        ----------
        read_frames : callable
            ``read_frames(group, first, stop)`` returns the group's frames with
            global indices ``first .. stop`` (within the stored range) as an array
            (channels, rows, stop - first).
        n_samples, channels : int
            Length and channel count of the signal to produce.
        ranges : list of (first, count), optional
            The stored frames of each group (default: :meth:`frame_range`).
            Frames outside them count as zero.

        Yields
        ------
        (start, array)
            Samples ``start ..`` of the signal, (channels, samples), in order.
        """
        if ranges is None:
            ranges = [self.frame_range(g, n_samples) for g in range(len(self.groups))]
        if self.mode == "periodic":
            n = self.period(n_samples)
            if [tuple(r) for r in ranges] != [self.frame_range(g, n_samples)
                                              for g in range(len(self.groups))]:
                raise ParameterError("periodic coefficients must hold every frame of the "
                                     "period")
            frames = [read_frames(g, 0, count) for g, (_, count) in enumerate(ranges)]
            yield 0, self._synthesize_block(frames, self._geometry(n), channels)[:, :n_samples]
            return
        step = self.block_size
        n = self._block_length(step)
        pad = (n - step) // 2
        geo = self._geometry(n)
        for start in range(0, n_samples, step):
            frames = []
            for gi, (gm, (first, count)) in enumerate(zip(geo.maps, ranges)):
                hop = self.groups[gi].hop
                off = (start - pad) // hop
                lo, hi = max(first, off), min(first + count, off + gm.m)
                block = np.zeros((channels, gm.rows, gm.m),
                                 np.float64 if gm.real else np.complex128)
                if hi > lo:
                    block[:, :, lo - off:hi - off] = read_frames(gi, lo, hi)
                frames.append(block)
            x = self._synthesize_block(frames, geo, channels)
            yield start, x[:, pad:pad + min(step, n_samples - start)]

    # -- in memory -----------------------------------------------------------
    def forward(self, y, dtype=None):
        """Coefficients of a signal held in memory.

        Parameters
        ----------
        y : array_like, shape (samples,) or (channels, samples)
            Real signal, float32 or float64 (other real types are converted).
        dtype : {None, "complex64", "complex128"}
            Coefficient type; default complex64 for float32 input, else complex128.

        Returns
        -------
        Coefficients
            Carries this transform and the signal's length: ``inverse`` needs
            nothing else.

        Raises
        ------
        TypeError
            ``y`` is complex or not numeric.
        ParameterError
            ``y`` is empty, has more than 2 dimensions, or holds NaN or Inf.
        """
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise TypeError(f"y must be a real numeric array, not {y.dtype}")
        if y.ndim not in (1, 2):
            raise ParameterError(f"y has {y.ndim} dimensions: must be (samples,) or "
                                 "(channels, samples)")
        if y.shape[-1] == 0 or y.size == 0:
            raise ParameterError("y has no samples")
        if not np.all(np.isfinite(y)):
            raise ParameterError("y contains NaN or Inf samples")
        if dtype is None:
            dtype = np.complex64 if y.dtype == np.float32 else np.complex128
        dtype = np.dtype(dtype)
        if dtype not in (np.complex64, np.complex128):
            raise ParameterError(f"dtype={dtype} must be complex64 or complex128")
        x = np.atleast_2d(y).astype(np.float64, copy=False)
        n_samples, channels = x.shape[1], x.shape[0]

        def read(start, stop):
            out = np.zeros((channels, stop - start))
            a, b = max(start, 0), min(stop, n_samples)
            if b > a:
                out[:, a - start:b - start] = x[:, a:b]
            return out

        arrays = []
        for g in range(len(self.groups)):
            _, count = self.frame_range(g, n_samples)
            real = self.groups[g].kind != "octave"
            arrays.append(np.zeros((channels, self.groups[g].n_bins, count),
                                   dtype.char.lower() if real else dtype))
        firsts = [self.frame_range(g, n_samples)[0] for g in range(len(self.groups))]
        for gi, first, c in self.iter_forward(read, n_samples, channels):
            a = arrays[gi]
            a[:, :, first - firsts[gi]:first - firsts[gi] + c.shape[2]] = c
        return Coefficients(self, n_samples, arrays, mono=(y.ndim == 1))

    def inverse(self, coefficients):
        """The signal back from :meth:`forward`'s coefficients.

        Parameters
        ----------
        coefficients : Coefficients
            Made by a transform with the same parameters.

        Returns
        -------
        ndarray, shape (samples,) or (channels, samples)
            float64, or float32 for complex64 coefficients; the input's shape.
        """
        if not isinstance(coefficients, Coefficients):
            raise TypeError("coefficients must be a Coefficients object, not "
                            f"{type(coefficients).__name__}")
        if coefficients.transform.to_params() != self.to_params():
            raise ParameterError(
                f"coefficients were made by {coefficients.transform!r}, not {self!r}")
        c = coefficients
        firsts = c.firsts

        def read_frames(g, lo, hi):
            return c.groups[g][:, :, lo - firsts[g]:hi - firsts[g]]

        out = np.empty((c.n_channels, c.n_samples))
        ranges = [(f, a.shape[2]) for f, a in zip(firsts, c.groups)]
        for start, x in self.iter_inverse(read_frames, c.n_samples, c.n_channels, ranges):
            out[:, start:start + x.shape[1]] = x
        if c.dtype == np.complex64:
            out = out.astype(np.float32)
        return out[0] if c.mono else out


class Coefficients:
    """The result of :meth:`MSFT.forward`: octave arrays that carry their parameters.

    Attributes
    ----------
    transform : MSFT
        The transform that made them.
    n_samples : int
        Length of the analysed signal.
    groups : list of ndarray
        ``(channels, rows, frames)`` arrays, coarse to fine: the low-pass band
        (real), one complex array per octave, the high-pass band (real).
    mono : bool
        The signal was 1-D: properties drop the channel axis.
    firsts : list of int
        Global index of each group's first frame. Default: the transform's
        :meth:`MSFT.frame_range`, whose counts the arrays must then match;
        when given, any number of frames may be stored (missing ones count as 0).
    """

    def __init__(self, transform, n_samples, groups, mono=False, firsts=None):
        if len(groups) != len(transform.groups):
            raise ParameterError(f"expected {len(transform.groups)} band groups, got "
                                 f"{len(groups)}")
        expected = [transform.frame_range(g, n_samples) for g in range(len(groups))]
        for g, (arr, spec) in enumerate(zip(groups, transform.groups)):
            count = expected[g][1] if firsts is None else arr.shape[-1]
            if arr.ndim != 3 or arr.shape[1:] != (spec.n_bins, count) \
                    or arr.shape[0] != groups[0].shape[0]:
                raise ParameterError(
                    f"{spec.name} has shape {arr.shape}: must be (channels, {spec.n_bins}, "
                    f"{count}) for {n_samples} samples")
        self.transform = transform
        self.n_samples = int(n_samples)
        self.groups = list(groups)
        self.mono = bool(mono)
        self.firsts = [f for f, _ in expected] if firsts is None else [int(f) for f in firsts]

    def _view(self, a):
        return a[0] if self.mono else a

    @property
    def n_channels(self):
        return self.groups[0].shape[0]

    @property
    def dtype(self):
        """Complex type of the octave arrays."""
        return self.groups[1].dtype

    @property
    def octaves(self):
        """One complex array per octave, coarse to fine: ``([channels,] bins, frames)``."""
        return [self._view(a) for a in self.groups[1:-1]]

    @property
    def lowpass(self):
        """The real low-pass band, ``([channels,] 1, frames)``."""
        return self._view(self.groups[0])

    @property
    def highpass(self):
        """The real high-pass band, ``([channels,] 1, frames)``."""
        return self._view(self.groups[-1])

    def first_frame(self, group):
        """Global index of the first stored frame of a group (0 = low-pass)."""
        return self.firsts[group]

    def frame_times(self, group):
        """Times in seconds of a group's frames (group 0 = low-pass, 1.. octaves)."""
        hop = self.transform.groups[group].hop
        first = self.first_frame(group)
        return (first + np.arange(self.groups[group].shape[2])) * hop / self.transform.sr

    @property
    def size(self):
        """Number of coefficients, all channels and groups."""
        return sum(a.size for a in self.groups)

    def inverse(self):
        """The signal back (the transform's :meth:`MSFT.inverse`)."""
        return self.transform.inverse(self)

    def __repr__(self):
        return (f"<Coefficients of {self.n_samples} samples x {self.n_channels} channels, "
                f"{len(self.octaves)} octaves, {self.dtype}, by {self.transform!r}>")
