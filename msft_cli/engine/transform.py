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

Zero mode runs at two rates when that is cheaper: see :mod:`msft_cli.engine.multirate`.
"""

from collections import OrderedDict

import numpy as np

from msft_cli._checks import choice, integer
from msft_cli.engine.bands import BandLayout, default_fmin
from msft_cli.engine.blocks import BlockPlanner, block_length, one_rate_margins
from msft_cli.engine.coefficients import Coefficients
from msft_cli.engine.fftw import Plans
from msft_cli.engine.kernels import (
    Analyzer,
    Geometry,
    Synthesizer,
    _geometry_bytes,
    _kernel_bytes,
    _kernel_plans,
    _plan_bytes,
)
from msft_cli.engine.multirate import Stream, plan_split
from msft_cli.errors import ParameterError

MODES = ("zero", "periodic")

#: The transform's defining parameters: what :meth:`MSFT.to_params` gives and
#: :meth:`MSFT.from_params` takes, what a container stores and a dataset compares.
PARAMS = ("sr", "fmin", "bins_per_octave", "n_octaves", "tuning", "window", "mode", "gamma",
          "oversample")

#: Values of the parameters added after the first containers, for dicts without them
#: (containers and manifests written before: constant-Q, no oversampling).
PARAM_DEFAULTS = {"gamma": 0.0, "oversample": 1}

#: Keywords that change how a transform runs, never its coefficients.
OPTIONS = ("block_size", "threads", "planner")

#: Every keyword of :class:`MSFT` besides ``sr``: the parameters, ``fmax`` (another way to
#: give ``n_octaves``) and the options.
KEYWORDS = ("fmin", "bins_per_octave", "n_octaves", "fmax", "tuning", "window", "mode",
            "gamma", "oversample", *OPTIONS)

#: Cofactors ``c`` of the FFT lengths ``hop * c * 2**k`` used in periodic mode.
_PERIODIC_COFACTORS = (1, 3, 5, 7)

#: Most bytes of block geometries, kernels and FFTW plans a transform keeps for block
#: lengths it is not using (least recently used dropped first), so that a worker
#: converting files of every length stays within a bounded size; the two geometries in
#: use (one per stage) are always kept, whatever their size.
CACHE_BYTES = 256 << 20

#: Zero mode splits the bands between two sample rates when that is cheaper (private
#: switch: tests compare against one rate).
_MULTIRATE = True


def _coefficient_dtype(dtype):
    """``dtype`` as a numpy dtype, which must be complex64 or complex128."""
    dtype = np.dtype(dtype)
    if dtype not in (np.complex64, np.complex128):
        raise ParameterError(f"dtype={dtype} must be complex64 or complex128")
    return dtype












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
        Window shape on the log-frequency axis (see :mod:`msft_cli.engine.bands`).
    mode : {"zero", "periodic"}
        Boundary handling (see the module documentation). Default ``"zero"``.
    gamma : float or "erb"
        Variable-Q: Hz added to every band's bandwidth, ``f / Q + gamma`` (the
        centres stay notes; bass bands get wider, so shorter in time: finer hops
        in the low octaves, shorter filters and block margins). ``"erb"``: the
        bandwidths follow the ERB scale (:func:`msft_cli.engine.bands.erb_gamma`,
        26.4 Hz at 12 bins per octave). At most 1000 Hz. Default 0: constant-Q. See
        ``docs/variable_q.md``.
    oversample : int
        A power of two dividing every octave's hop: finer time grids (K times
        the octaves' coefficients), for phase reconstruction or models. Default 1.
    block_size : int, optional
        Samples advanced per block in ``"zero"`` mode (rounded up to a
        multiple of the coarsest hop). Default: the largest step whose block
        (step plus two one-rate margins) is the power of two at least four
        such margins long. At two rates (see the module documentation), both
        stages advance this far per block when it is given, each with its own
        margins (longer ones where blocks meet). With the default, each stage
        takes a step from a ladder below the default times its decimation (see
        :data:`STEP_MARGINS` and ``MSFT._block_plan``): the high stage of a
        split (short margins) or a signal whose frames fit in a shorter block
        gets a shorter step, the decimated low stage (long margins) a longer
        one. The coefficients are those of any other block size.
    threads : int, optional
        FFTW threads. Default: all cores.
    planner : {"estimate", "measure", "patient"}
        FFTW planner effort; plans and wisdom are reused (see :mod:`msft_cli.engine.fftw`).

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
                 tuning=440.0, window="bump", mode="zero", gamma=0.0, oversample=1,
                 block_size=None, threads=None, planner="estimate"):
        tuning = float(tuning)
        if not np.isfinite(tuning) or tuning <= 0:
            raise ParameterError(f"tuning={tuning:g} must be a positive frequency in Hz")
        choice("mode", mode, MODES)
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
        self.layout = BandLayout(sr, fmin, bins_per_octave, n_octaves, window, gamma,
                                 oversample)
        self._tuning = tuning
        self._mode = mode
        self.plans = Plans(threads, planner)
        self.groups = self.layout.groups
        split = (plan_split(self.layout, self.groups, one_rate_margins(self.groups)[0],
                            max(g.hop for g in self.groups))
                 if mode == "zero" and _MULTIRATE else None)
        #: zero mode's stages, margins and step ladders (:class:`BlockPlanner`)
        self.blocks = BlockPlanner(self.groups, block_size, split)
        self._geometries = {}        # full-rate geometries of every group, by block length
        self._stage_geometries = {}  # zero mode: by (first group, block length)
        self._kernels = {}
        #: bytes held per geometry (its maps, kernels and their plans), least recently used
        #: first: ``(cache, key) -> bytes``; see :data:`CACHE_BYTES`
        self._lru = OrderedDict()
        self.cache_bytes = CACHE_BYTES
        self._stream_peak = 0        # most decimated samples held between the stages

    # -- parameters ----------------------------------------------------------
    sr = property(lambda self: self.layout.sr, doc="Sample rate in Hz.")
    fmin = property(lambda self: self.layout.fmin, doc="Centre of the lowest band in Hz.")
    fmax = property(lambda self: self.layout.fmax, doc="Centre of the highest band in Hz.")
    bins_per_octave = property(lambda self: self.layout.bins_per_octave, doc="Bands per octave.")
    n_octaves = property(lambda self: self.layout.n_octaves, doc="Number of octaves.")
    window = property(lambda self: self.layout.window, doc="Window shape name.")
    tuning = property(lambda self: self._tuning, doc="Frequency of A4 in Hz.")
    gamma = property(lambda self: self.layout.gamma,
                     doc="Hz added to every band's bandwidth (0: constant-Q).")
    oversample = property(lambda self: self.layout.oversample,
                          doc="Power of two dividing every octave's hop.")
    mode = property(lambda self: self._mode, doc='Boundary mode, "zero" or "periodic".')
    block_size = property(lambda self: self.blocks.block_size,
                          doc="Samples advanced per zero-mode block, a multiple of the coarsest hop.")
    hop_max = property(lambda self: self.blocks.hop_max, doc="The coarsest hop in samples.")
    margin = property(lambda self: self.blocks.margin,
                      doc="One-rate overlap margin on each side of a block, in samples.")
    _split = property(lambda self: self.blocks.split)
    _stages = property(lambda self: self.blocks.stages)
    _ladders = property(lambda self: self.blocks.ladders)

    @property
    def hops(self):
        """Hop in samples of each octave, coarse to fine."""
        return [g.hop for g in self.groups[1:-1]]

    @property
    def frequencies(self):
        """Centre frequencies in Hz: one array of ``bins_per_octave`` per octave."""
        return [g.frequencies for g in self.groups[1:-1]]

    def to_params(self):
        """The transform's defining parameters (:data:`PARAMS`) as a dict; :meth:`from_params`
        inverts it."""
        return {k: getattr(self, k) for k in PARAMS}

    @classmethod
    def from_params(cls, params, **options):
        """A transform from :meth:`to_params`'s dict (extra keys are ignored); ``options``
        (:data:`OPTIONS`) set how it runs: threads, planner, block_size. Parameters of
        :data:`PARAM_DEFAULTS` may be missing (dicts written before them)."""
        params = {**PARAM_DEFAULTS, **params}
        missing = [k for k in PARAMS if k not in params]
        if missing:
            raise ParameterError(f"transform parameters lack {missing[0]!r}: give "
                                 "MSFT.to_params()'s dict")
        return cls(**{k: params[k] for k in PARAMS}, **options)

    def __eq__(self, other):
        """Transforms are equal when their defining parameters are (not threads or planner)."""
        if not isinstance(other, MSFT):
            return NotImplemented
        return self.to_params() == other.to_params()

    def __hash__(self):
        return hash(tuple(self.to_params().values()))

    def __repr__(self):
        return (f"MSFT(sr={self.sr}, fmin={self.fmin:.4f}, bins_per_octave="
                f"{self.bins_per_octave}, n_octaves={self.n_octaves}, window={self.window!r}, "
                f"mode={self.mode!r}{self._variable_q_repr()})")

    def _variable_q_repr(self):
        """``, gamma=..., oversample=...`` where they are not the defaults (constant-Q
        transforms keep their repr)."""
        text = f", gamma={self.gamma:.4g}" if self.gamma else ""
        return text + (f", oversample={self.oversample}" if self.oversample != 1 else "")

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
        """Index maps of every group for full-rate blocks of ``n`` samples."""
        geo = self._geometries.get(n)
        if geo is None:
            geo = self._geometries[n] = Geometry(self.layout, list(enumerate(self.groups)), n)
            geo._cache_key = ("full", n)
            self._hold(geo._cache_key, _geometry_bytes(geo))
        self._lru.move_to_end(geo._cache_key)
        return geo

    def _stage_geometry(self, stage, n):
        key = (stage.groups[0], n)
        geo = self._stage_geometries.get(key)
        if geo is None:
            geo = self._stage_geometries[key] = Geometry(
                self.layout, [(g, self.groups[g]) for g in stage.groups], n, stage.decimation,
                self._split if stage.feeds else None)
            geo._cache_key = ("stage", key)
            self._hold(geo._cache_key, _geometry_bytes(geo))
        self._lru.move_to_end(geo._cache_key)
        return geo

    def _kernel(self, kind, geo, channels):
        """The :class:`Analyzer` or :class:`Synthesizer` of a geometry (plans made once)."""
        key = (kind, id(geo), channels)
        kernel = self._kernels.get(key)
        if kernel is None:
            before = {id(p) for p in self.plans._plans.values()}
            kernel = self._kernels[key] = kind(self.plans, geo, channels)
            new = sum(_plan_bytes(p) for p in self.plans._plans.values() if id(p) not in before)
            self._hold(geo._cache_key, new + _kernel_bytes(kernel))
        return kernel

    def _hold(self, key, nbytes):
        """Count ``nbytes`` more for a geometry; drop the least recently used beyond
        :attr:`cache_bytes` (never the two most recent: those an operation uses)."""
        self._lru[key] = self._lru.get(key, 0) + nbytes
        self._lru.move_to_end(key)
        while len(self._lru) > 2 and sum(self._lru.values()) > self.cache_bytes:
            self._evict(next(iter(self._lru)))

    def _evict(self, key):
        """Forget a geometry, its kernels and the plans no other kernel uses."""
        del self._lru[key]
        cache, k = key
        geo = (self._geometries if cache == "full" else self._stage_geometries).pop(k)
        for kk in [kk for kk in self._kernels if kk[1] == id(geo)]:
            del self._kernels[kk]
        used = {id(p) for kernel in self._kernels.values() for p in _kernel_plans(kernel)}
        for pk in [pk for pk, p in self.plans._plans.items() if id(p) not in used]:
            del self.plans._plans[pk]

    @property
    def cached_bytes(self):
        """Bytes of the geometries, kernels and plans this transform keeps now (estimated
        from their arrays), at most :attr:`cache_bytes` beyond the two in use."""
        return sum(self._lru.values())

    def _steps(self, n_samples):
        """Samples each zero-mode stage advances per block for a signal of ``n_samples``."""
        return [step for step, _ in self._block_plan(n_samples)]

    def _block_plan(self, n_samples):
        """``(step, margin)`` of each zero-mode stage (:meth:`BlockPlanner.plan`)."""
        ranges = [self.frame_range(g, n_samples) for g in range(len(self.groups))]
        return self.blocks.plan(ranges, n_samples)

    def _blocks(self, n_samples):
        """``(step, geometry, pad)`` of each zero-mode stage for a signal of ``n_samples``:
        its blocks advance ``step`` full-rate samples and start ``pad`` before each step
        (see :meth:`_block_plan`)."""
        blocks = []
        for stage, (step, margin) in zip(self.blocks.stages, self._block_plan(n_samples)):
            n = block_length(step, margin, stage.granule)
            blocks.append((step, self._stage_geometry(stage, n), (n - step) // 2))
        return blocks

    @staticmethod
    def _kept(geo, outputs, start, step, pad, ranges):
        """The frames of a block (views) in its kept ``start .. start + step``:
        a list of ``(group, first_frame, array)``."""
        kept = []
        for gm, out in zip(geo.maps, outputs):
            first, count = ranges[gm.index]
            lo = max(first, start // gm.hop)
            hi = min(first + count, (start + step) // gm.hop)
            if hi > lo:
                off = (start - pad) // gm.hop
                kept.append((gm.index, lo, out[:, :, lo - off:hi - off]))
        return kept

    @staticmethod
    def _fill_frames(geo, inputs, start, pad, read_frames, ranges):
        """Put a block's stored frames in the synthesizer's inputs (0 where none)."""
        for gm, buf in zip(geo.maps, inputs):
            first, count = ranges[gm.index]
            off = (start - pad) // gm.hop
            lo, hi = max(first, off), min(first + count, off + gm.m)
            if hi > lo:
                buf[:, :, :lo - off] = 0
                buf[:, :, lo - off:hi - off] = read_frames(gm.index, lo, hi)
                buf[:, :, hi - off:] = 0
            else:
                buf[...] = 0

    # -- streaming -----------------------------------------------------------
    def _forward_views(self, fill, n_samples, channels):
        """:meth:`iter_forward` on a filler, ``fill(start, out)`` writing samples
        ``start ..`` into ``out`` (channels, length). Yields one list per block of
        ``(group, first_frame, array)``, views of plan buffers valid until the next list.
        """
        ranges = [self.frame_range(g, n_samples) for g in range(len(self.groups))]
        if self.mode == "periodic":
            an = self._kernel(Analyzer, self._geometry(self.period(n_samples)), channels)
            fill(0, an.input)
            an.run()
            yield [(gi, 0, out) for gi, out in enumerate(an.outputs)]
            return
        *low, (step, geo, pad) = self._blocks(n_samples)
        *span_l, (t_lo, t_hi) = self.blocks.spans(ranges, n_samples)
        an = self._kernel(Analyzer, geo, channels)
        highs = iter(range(t_lo, t_hi, step))
        if low:
            (step_l, geo_l, pad_l), d, (l_lo, l_hi) = low[0], self._split.decimation, span_l[0]
            an_l = self._kernel(Analyzer, geo_l, channels)
            stream = Stream(channels, geo_l.size + step // d, t_lo // d)
            keep = slice(pad // d, (pad + step) // d)
            for start_l in range(l_lo, l_hi, step_l):
                at = (start_l - pad_l) // d
                stream.drop(at)
                while stream.hi < at + geo_l.size:  # the high stage runs ahead as needed
                    start = next(highs, None)
                    if start is None:
                        break
                    fill(start - pad, an.input)
                    an.run()
                    stream.append(an.low[:, keep], start // d)
                    yield self._kept(geo, an.outputs, start, step, pad, ranges)
                stream.read(at, an_l.input)
                an_l.run()
                yield self._kept(geo_l, an_l.outputs, start_l, step_l, pad_l, ranges)
            self._stream_peak = stream.peak
        for start in highs:
            fill(start - pad, an.input)
            an.run()
            yield self._kept(geo, an.outputs, start, step, pad, ranges)

    def _inverse_views(self, read_frames, n_samples, channels, ranges):
        """:meth:`iter_inverse`, yielding views of plan buffers (valid until the next item)."""
        if self.mode == "periodic":
            sy = self._kernel(Synthesizer, self._geometry(self.period(n_samples)), channels)
            self._fill_frames(sy.geo, sy.inputs, 0, 0, read_frames, ranges)
            yield 0, sy.run()[:, :n_samples]
            return
        *low, (step, geo, pad) = self._blocks(n_samples)
        sy = self._kernel(Synthesizer, geo, channels)
        if low:
            d, (step_l, geo_l, pad_l) = self._split.decimation, low[0]
            sy_l = self._kernel(Synthesizer, geo_l, channels)
            first = (-pad // self.hop_max) * self.hop_max
            lows = iter(range(first, n_samples + geo.n + step_l, step_l))
            stream = Stream(channels, geo.low_size + step_l // d, first // d)
            keep = slice(pad_l // d, (pad_l + step_l) // d)
        for start in range(0, n_samples, step):
            if low:  # the decimated low band over the block, synthesized as needed
                at = (start - pad) // d
                stream.drop(at)
                while stream.hi < at + geo.low_size:
                    start_l = next(lows)
                    self._fill_frames(geo_l, sy_l.inputs, start_l, pad_l, read_frames, ranges)
                    stream.append(sy_l.run()[:, keep], start_l // d)
                stream.read(at, sy.low)
            self._fill_frames(geo, sy.inputs, start, pad, read_frames, ranges)
            yield start, sy.run()[:, pad:pad + min(step, n_samples - start)]
        if low:
            self._stream_peak = stream.peak

    def iter_forward(self, read, n_samples, channels, dtype="complex128"):
        """Analyse a signal block by block, without holding it whole.

        Parameters
        ----------
        read : callable
            ``read(start, stop)`` returns the samples ``start:stop`` as a float64
            array (channels, stop - start), zeros outside ``0 .. n_samples``.
        n_samples, channels : int
            The signal's length and channel count.
        dtype : {"complex128", "complex64"}
            Type of the octaves' frames; the real low- and high-pass bands get
            the matching real type (float64 or float32).

        Yields
        ------
        (group, first_frame, array)
            ``array`` (channels, rows, frames), a new C-contiguous array, holds
            frames ``first_frame ..`` (global indices) of group ``group``; each
            frame is yielded once, in time order per group.
        """
        dtype = _coefficient_dtype(dtype)
        real = np.dtype(dtype.char.lower())

        def fill(start, out):
            out[...] = read(start, start + out.shape[1])

        for block in self._forward_views(fill, n_samples, channels):
            for gi, first, c in block:  # one at a time (a block's frames are large), and
                # converted once, not copied then converted
                yield gi, first, c.astype(real if c.dtype.kind == "f" else dtype, order="C")

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
        ranges = self._check_ranges(ranges, n_samples)
        for start, x in self._inverse_views(read_frames, n_samples, channels, ranges):
            yield start, x.copy()

    def _check_ranges(self, ranges, n_samples):
        expected = [self.frame_range(g, n_samples) for g in range(len(self.groups))]
        if ranges is None:
            return expected
        ranges = [tuple(r) for r in ranges]
        if self.mode == "periodic" and ranges != expected:
            raise ParameterError("periodic coefficients must hold every frame of the period")
        return ranges

    # -- in memory -----------------------------------------------------------
    def prepare(self, n_samples, channels=1):
        """Make what :meth:`forward` and :meth:`inverse` of a signal of ``n_samples``
        and ``channels`` use: block geometries and FFTW plans.

        Nothing is transformed. The first transform then runs at full speed, and
        with ``planner="measure"`` or ``"patient"`` the plans' wisdom is saved to
        the cache folder (:func:`msft_cli.engine.fftw.wisdom_path`), so that later runs
        (same threads, a planner no more patient than the wisdom's) get those
        plans without planning. In zero mode the high stage uses the same blocks
        for every signal longer than a threshold (24 s at 44.1 kHz and the other
        defaults, 48 s at 24 bins per octave, 96 s at 48), so preparing one long
        length covers them all; the decimated low stage (about a tenth of the
        work) does so from 6.5 minutes (13 at 24 bins, 26 at 48), and below that
        takes one block fitted to the signal (four lengths per octave of
        duration). Periodic mode plans per length.

        Returns
        -------
        int
            FFTW plans this transform holds now (made by this call or before).
        """
        for name, value in (("n_samples", n_samples), ("channels", channels)):
            integer(name, value, minimum=1)
        if self.mode == "periodic":
            geometries = [self._geometry(self.period(n_samples))]
        else:
            geometries = [geo for _, geo, _ in self._blocks(n_samples)]
        for geo in geometries:
            for kind in (Analyzer, Synthesizer):
                self._kernel(kind, geo, int(channels))
        return len(self.plans)

    def working_memory(self, n_samples, channels=1):
        """Bytes of the buffers a streamed transform of ``n_samples`` x ``channels`` allocates.

        The FFTW buffers of each stage's block (input, spectrum, every group's
        frames, the decimated low band) and the stream between the stages, from
        the block plan alone: only the block geometries (index maps, shared by
        every channel) are made, no per-channel buffer. :func:`msft_cli.analyze`
        compares it with the memory available before reading a file. It grows
        with the channels and the sample rate, not with the length (periodic mode
        excepted: one block holds the whole period).
        """
        if self.mode == "periodic":
            geometries = [self._geometry(self.period(n_samples))]
            stream = 0
        else:
            blocks = self._blocks(n_samples)
            geometries = [geo for _, geo, _ in blocks]
            stream = 0 if len(blocks) == 1 else \
                blocks[0][1].size + blocks[-1][0] // self._split.decimation
        per_channel = 8 * stream
        for geo in geometries:
            per_channel += 8 * geo.size + 16 * (geo.size // 2 + 1)
            for gm in geo.maps:
                per_channel += 16 * gm.rows * gm.m if not gm.real else 24 * gm.m + 16
            if geo.low_size is not None:
                per_channel += 16 * (geo.low_size // 2 + 1) + 8 * geo.low_size
        return int(channels) * per_channel

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
        dtype = _coefficient_dtype(dtype)
        x = np.atleast_2d(y).astype(np.float64, copy=False)
        n_samples, channels = x.shape[1], x.shape[0]

        def fill(start, out):
            a, b = max(start, 0), min(start + out.shape[1], n_samples)
            if b <= a:
                out[...] = 0
                return
            out[:, :a - start] = 0
            out[:, a - start:b - start] = x[:, a:b]
            out[:, b - start:] = 0

        arrays, firsts = [], []
        for g, spec in enumerate(self.groups):
            first, count = self.frame_range(g, n_samples)
            real = spec.kind != "octave"
            arrays.append(np.empty((channels, spec.n_bins, count),
                                   dtype.char.lower() if real else dtype))
            firsts.append(first)
        for block in self._forward_views(fill, n_samples, channels):
            for gi, first, c in block:  # every frame comes once
                at = first - firsts[gi]
                arrays[gi][:, :, at:at + c.shape[2]] = c
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

        out = np.empty((c.n_channels, c.n_samples),
                       np.float32 if c.dtype == np.complex64 else np.float64)
        ranges = self._check_ranges([(f, a.shape[2]) for f, a in zip(firsts, c.groups)],
                                    c.n_samples)
        for start, x in self._inverse_views(read_frames, c.n_samples, c.n_channels, ranges):
            out[:, start:start + x.shape[1]] = x
        return out[0] if c.mono else out
