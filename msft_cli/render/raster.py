"""The picture's pixels: the loudest frame of every band in each pixel (numpy only)."""

import inspect
from dataclasses import dataclass

import numpy as np

from msft_cli._checks import integer
from msft_cli.engine.bands import default_fmin
from msft_cli.engine.coefficients import Coefficients
from msft_cli.engine.transform import MSFT
from msft_cli.errors import ContainerError, ParameterError
from msft_cli.io.container.reader import Container

#: Magnitudes of exactly zero get this level (dBFS) instead of -inf.
FLOOR_DB = -240.0

#: Bytes of coefficients read from a container at a time (rounded to whole chunks).
_PIECE_BYTES = 4 << 20


@dataclass
class Raster:
    """Magnitudes in dBFS on a grid of pixels: exactly what a picture shows.

    Attributes
    ----------
    db : ndarray, float32, shape (rows, columns)
        Row 0 is the lowest frequency. Levels are dBFS (a full-scale sinusoid at
        a bin's centre is 0 dB); silence is :data:`FLOOR_DB`, never NaN or -inf.
    start, end : float
        Time range in seconds; column ``c`` covers ``start + c * step`` to
        ``start + (c + 1) * step`` with ``step = (end - start) / columns``.
    frequencies : ndarray
        Centre frequencies (Hz) of the bins shown, low to high. The rows split
        the log-frequency span of these bins evenly (one row per bin when
        there are as many rows as bins).
    bins_per_octave : int
    tuning : float
        A4 in Hz, for note names.
    channel : int or "mix"
    """

    db: np.ndarray
    start: float
    end: float
    frequencies: np.ndarray
    bins_per_octave: int
    tuning: float
    channel: object

    @property
    def shape(self):
        return self.db.shape

    @property
    def log2_extent(self):
        """Bottom and top of the rows on a log2(Hz) axis (the bins' outer edges)."""
        half = 0.5 / self.bins_per_octave
        return (float(np.log2(self.frequencies[0])) - half,
                float(np.log2(self.frequencies[-1])) + half)

    @property
    def peak_db(self):
        """The loudest pixel in dBFS (``FLOOR_DB`` for silence)."""
        return float(self.db.max())


class _Frames:
    """The octaves render reads, from a container or from coefficients in memory."""

    def __init__(self, transform, n_samples, n_channels, octaves, firsts, name):
        self.transform = transform
        self.n_samples = n_samples
        self.n_channels = n_channels
        self.octaves = octaves  # (channels, bins, frames) array-likes, coarse to fine
        self.firsts = firsts    # global index of each octave's first stored frame
        self.name = name

    @classmethod
    def of(cls, source, name=None):
        """Frames of an open container or of coefficients; ``name`` is what errors say."""
        if isinstance(source, Container):
            ranges = getattr(source, "ranges", None) or [
                source.transform.frame_range(g, source.n_samples)
                for g in range(source.n_octaves + 2)]
            return cls(source.transform, source.n_samples, source.n_channels,
                       source.octaves, [first for first, _ in ranges[1:-1]],
                       name or str(source.path))
        if isinstance(source, Coefficients):
            return cls(source.transform, source.n_samples, source.n_channels,
                       source.groups[1:-1],
                       source.firsts[1:-1],
                       name or "coefficients")
        raise TypeError("source must be a Container or Coefficients, not "
                        f"{type(source).__name__}")

    @property
    def duration(self):
        return self.n_samples / self.transform.sr

    def magnitudes(self, j, lo, hi, channel):
        """|coefficients| of octave ``j``, stored frames ``lo:hi``, piece by piece.

        Yields ``(offset, array (bins, n))`` for frames ``offset .. offset + n``;
        the arrays are reused buffers, valid until the next piece. ``channel``
        picks one channel, or ``"mix"`` takes the largest magnitude over
        channels. Pieces are whole chunks of the dataset (about
        ``_PIECE_BYTES``), so each chunk is read once and only the chunks of
        ``lo:hi`` are read.
        """
        ds = self.octaves[j]
        n_ch = ds.shape[0] if channel == "mix" else 1
        rows = slice(None) if channel == "mix" else slice(channel, channel + 1)
        chunk = (getattr(ds, "chunks", None) or (1, 1, 1))[2]
        per_frame = ds.shape[0] * ds.shape[1] * ds.dtype.itemsize
        step = max(1, _PIECE_BYTES // (per_frame * chunk)) * chunk
        step = min(step, -(-(hi - lo) // chunk) * chunk + chunk)
        direct = hasattr(ds, "read_direct")  # h5py: read into one reused buffer
        buf = np.empty((n_ch, ds.shape[1], step), ds.dtype) if direct else None
        mag = np.empty((n_ch, ds.shape[1], step), np.finfo(ds.dtype).dtype)
        mixed = np.empty(mag.shape[1:], mag.dtype) if n_ch > 1 else None
        for a in range(lo - lo % chunk, hi, step):  # aligned to the chunks
            a0, a1 = max(a, lo), min(a + step, hi)
            n = a1 - a0
            try:
                if direct:
                    ds.read_direct(buf, np.s_[rows, :, a0:a1], np.s_[:, :, :n])
                    part = buf[:, :, :n]
                else:
                    part = ds[rows, :, a0:a1]
            except (OSError, RuntimeError) as exc:
                raise ContainerError(f"{self.name}: cannot read octave {j} (corrupt data: "
                                     f"{exc})") from exc
            m = np.abs(part, out=mag[:, :, :n])
            if n_ch > 1:
                m = np.max(m, axis=0, out=mixed[:, :n])
            else:
                m = m[0]
            yield a0, m


def _cells(n_cells, lo, hi, first, rate, count):
    """Which inputs each of ``n_cells`` output cells shows.

    The cells split ``[lo, hi)`` evenly; input ``i`` (``0 <= i < count``) sits
    at ``(first + i) / rate``. A cell shows the inputs inside it (pooled) or,
    when it holds none, the input nearest its centre (held).

    Returns
    -------
    starts, stops : ndarray of int
        Input ranges ``starts[c]:stops[c]`` per cell, never empty.
    held : ndarray of bool
        Cells that hold the nearest input instead of pooling their own.
    """
    edges = lo + (hi - lo) * np.arange(n_cells + 1) / n_cells
    idx = np.clip(np.ceil(edges * rate - first - 1e-9).astype(np.int64), 0, count)
    starts, stops = idx[:-1], idx[1:]
    held = stops <= starts
    centre = 0.5 * (edges[:-1] + edges[1:])
    near = np.clip(np.floor(centre * rate - first + 0.5).astype(np.int64), 0, count - 1)
    starts = np.where(held, near, starts)
    stops = np.where(held, near + 1, stops)
    return starts, stops, held


def _pool_into(out, values, offset, starts, stops, held):
    """Fold the inputs ``offset .. offset + n`` (``values[..., :n]``) into ``out``'s cells.

    Pooled cells take the largest value of their inputs present here; held
    cells take their input if it is here. ``out`` holds running maxima.
    """
    n = values.shape[-1]
    s = np.clip(starts - offset, 0, n)
    e = np.clip(stops - offset, 0, n)
    pooled = ~held & (e > s)
    if pooled.any():
        # The pooled cells' ranges are disjoint, in order and adjacent: reduceat
        # over their starts gives each one its own maximum.
        idx = s[pooled]
        r = np.maximum.reduceat(values[..., :e[pooled][-1]], idx, axis=-1)
        out[..., pooled] = np.maximum(out[..., pooled], r)
    hold = held & (e > s)
    if hold.any():
        out[..., hold] = np.maximum(out[..., hold], values[..., s[hold]])


def raster(source, width, height=None, start=None, end=None, channel="mix", fmin=None,
           fmax=None):
    """Magnitudes in dBFS on a ``height x width`` pixel grid, each octave on its own time grid.

    Parameters
    ----------
    source : Container or Coefficients
        An open container (see :func:`msft_cli.load`) or coefficients in memory.
    width : int
        Pixel columns: they split ``start .. end`` evenly. An octave with more
        frames than columns is pooled (the largest magnitude per column, so a
        short click survives); one with fewer is held (each column shows the
        frame nearest its centre).
    height : int, optional
        Pixel rows: they split the bins' log-frequency span evenly. Default: one
        row per bin.
    start, end : float, optional
        Time range in seconds, clipped to the signal (default: all of it).
    channel : int or "mix"
        A channel, or ``"mix"`` for the largest magnitude over channels.
    fmin, fmax : float, optional
        Show the bins whose centres lie in ``[fmin, fmax]`` Hz (default: all).

    Returns
    -------
    Raster

    Raises
    ------
    ParameterError
        An empty time range or frequency range, a channel that does not exist,
        or a size below one pixel.

    Examples
    --------
    >>> import numpy as np
    >>> from msft_cli import MSFT
    >>> from msft_cli.render import raster
    >>> y = np.zeros(8000); y[4000] = 1.0
    >>> r = raster(MSFT(8000, fmin=200).forward(y), width=100)
    >>> r.shape  # 4 octaves x 12 bins, 100 columns
    (48, 100)
    """
    return _raster(_Frames.of(source), width, height, start, end, channel, fmin, fmax)


def _raster(frames, width, height, start, end, channel, fmin, fmax):
    t = frames.transform
    width = _pixels("width", width)
    start, end = _time_range(frames.name, frames.duration, start, end)
    channel = _channel(frames.name, frames.n_channels, channel)
    freqs = np.concatenate(t.frequencies)
    k0, k1 = _bin_range(frames, freqs, fmin, fmax)
    height = k1 - k0 if height is None else _pixels("height", height)
    B = t.bins_per_octave

    mags = np.zeros((k1 - k0, width), np.float32)
    for j in range(t.n_octaves):
        lo_bin, hi_bin = max(k0, j * B), min(k1, (j + 1) * B)
        if hi_bin <= lo_bin:
            continue
        first = frames.firsts[j]
        count = frames.octaves[j].shape[2]
        starts, stops, held = _cells(width, start, end, first, t.sr / t.hops[j], count)
        out = np.zeros((B, width), np.float32)
        for offset, mags_j in frames.magnitudes(j, int(starts.min()), int(stops.max()),
                                                channel):
            _pool_into(out, mags_j, offset, starts, stops, held)
        mags[lo_bin - k0:hi_bin - k0] = out[lo_bin - j * B:hi_bin - j * B]

    if height != k1 - k0:  # rows: pool or hold bins on the log-frequency axis
        starts, stops, held = _cells(height, -0.5, k1 - k0 - 0.5, 0, 1.0, k1 - k0)
        rows = np.zeros((width, height), np.float32)
        _pool_into(rows, mags.T, 0, starts, stops, held)
        mags = rows.T
    db = 20 * np.log10(np.maximum(mags, np.float32(10 ** (FLOOR_DB / 20))))
    db = np.maximum(db, np.float32(FLOOR_DB))  # exactly the floor, whatever the rounding
    return Raster(np.ascontiguousarray(db, dtype=np.float32), start, end, freqs[k0:k1], B,
                  t.tuning, channel)


def _analysis_fmin(fmin, params):
    """The transform's ``fmin`` for an audio input shown from ``fmin`` Hz up.

    The lowest bin of the tuning's grid at or above ``fmin`` (so bins stay on
    notes, as with the default transform), or the default when ``fmin`` is None.
    """
    if fmin is None:
        return None
    fmin = float(fmin)
    if not (np.isfinite(fmin) and fmin > 0):
        raise ParameterError(f"fmin={fmin:g} must be a positive frequency in Hz")
    defaults = inspect.signature(MSFT.__init__).parameters
    bins = params.get("bins_per_octave", defaults["bins_per_octave"].default)
    tuning = params.get("tuning", defaults["tuning"].default)
    if not isinstance(bins, (int, np.integer)) or bins < 1 \
            or not isinstance(tuning, (int, float)) or not tuning > 0:
        return fmin  # the transform reports the bad parameter
    return default_fmin(bins, tuning, floor=fmin)


def _pixels(name, value):
    return integer(name, value, minimum=1, unit="pixel")


def _time_range(name, duration, start, end):
    for key, v in (("start", start), ("end", end)):
        if v is not None and not np.isfinite(float(v)):
            raise ParameterError(f"{key}={v} must be a finite time in seconds")
    s = 0.0 if start is None else max(0.0, float(start))
    e = duration if end is None else min(duration, float(end))
    if not e > s:
        asked_start = 0.0 if start is None else float(start)
        asked_end = duration if end is None else float(end)
        shown = f"{asked_start:g}..{asked_end:g}"
        raise ParameterError(f"{name}: the range {shown} s is empty: the signal "
                             f"lasts {duration:.2f} s")
    return s, e


def _channel(name, n, channel):
    if channel == "mix":
        return "mix"
    if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool) \
            and 0 <= channel < n:
        return int(channel)
    raise ParameterError(f"{name}: channel={channel!r} does not exist: it has {n} "
                         f"channel{'s' if n != 1 else ''} (0..{n - 1}) or 'mix'")


def _bin_range(frames, freqs, fmin, fmax):
    lo = -np.inf if fmin is None else float(fmin)
    hi = np.inf if fmax is None else float(fmax)
    if not hi > lo:
        raise ParameterError(f"fmax={hi:g} must be above fmin={lo:g} Hz")
    shown = np.flatnonzero((freqs >= lo * (1 - 1e-9)) & (freqs <= hi * (1 + 1e-9)))
    if shown.size == 0:
        raise ParameterError(f"{frames.name}: no bin between {lo:g} and {hi:g} Hz: the "
                             f"transform covers {freqs[0]:.1f}..{freqs[-1]:.1f} Hz")
    return int(shown[0]), int(shown[-1]) + 1
