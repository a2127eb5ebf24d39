"""Pictures of the coefficients (the only module that imports matplotlib).

Every octave is drawn on its own time grid. The picture's pixel columns split
the time range evenly; for each octave, a column shows the largest magnitude of
the frames whose times fall inside it (so a 1 ms click stays visible in the top
octave however long the file), and where an octave has fewer frames than
columns, each column shows the frame nearest to its centre (each frame is held
over the columns it covers). Rows are handled the same way on the
log-frequency axis: one row per bin when the heights match, the largest bin per
row when there are more bins than rows, and the nearest bin otherwise.

Containers are read piece by piece, aligned to their chunks, and only the
frames of the time range asked for are read, so a long file renders in bounded
memory. matplotlib is imported on first use, with the Agg canvas and no global
pyplot state, so importing this module (and the CLI) does not pay for it.

Inputs are dispatched on what they are (:func:`input_kind`, then
``_RASTERS``): a container, an audio file (analysed on the fly into a
temporary container), or a learn-dft model file (root attribute
``format == "msft-model"``), drawn by :func:`render_model` as one figure of
panels (weight maps, weight rows, the four-tone spectrograms, the loss).
"""

import inspect
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import learn_dft
from ._version import __version__
from .audio import AUDIO_EXTENSIONS, publish
from .audio import info as audio_info
from .container import Container, load
from .convert import Report, analyze
from .errors import ContainerError, MsftError, ParameterError
from .scales import default_fmin
from .transform import MSFT, Coefficients

#: Image formats, picked by the output's extension.
FORMATS = ("png", "svg", "pdf")

#: Extensions taken for containers when looking into a folder or sniffing an input.
CONTAINER_EXTENSIONS = (".h5", ".hdf5")

#: Labels of the frequency axis.
Y_AXES = ("hz", "note")

#: Size of a picture when no width or height is given, in pixels.
DEFAULT_WIDTH, DEFAULT_HEIGHT = 1200, 600

#: Magnitudes of exactly zero get this level (dBFS) instead of -inf.
FLOOR_DB = -240.0

#: The root ``format`` attribute of model files written by ``learn-dft``.
MODEL_FORMAT = "msft-model"

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

#: Bytes of coefficients read from a container at a time (rounded to whole chunks).
_PIECE_BYTES = 4 << 20

#: Transform parameters accepted for audio inputs (``fmin``/``fmax`` are render's own).
_TRANSFORM_PARAMS = tuple(k for k in inspect.signature(MSFT.__init__).parameters
                          if k not in ("self", "sr", "fmin", "fmax"))

_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


# -- what is drawn -----------------------------------------------------------------
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
                       [source.first_frame(g + 1) for g in range(source.transform.n_octaves)],
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
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ParameterError(f"{name}={value} must be at least 1 pixel")
    return int(value)


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


# -- inputs and outputs --------------------------------------------------------------
def _hdf5_format(path):
    """The root ``format`` attribute of an HDF5 file (``None`` when it is not HDF5).

    container.py is the only module that imports h5py, and it has no reader of
    a foreign file's attributes yet: this opens the file with
    :func:`msft_cli.load`, so a container gives ``"msft"`` and a foreign file
    the format named by the error (``""`` when it names none). A
    ``container.root_format(path)`` would replace the error parsing.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(2056)
    except OSError:
        return None
    if not any(head[o:o + 8] == _HDF5_SIGNATURE for o in (0, 512, 1024, 2048)):
        return None
    try:
        with load(path):
            return "msft"
    except ContainerError as exc:
        m = re.search(r"format attribute is (?:b?)'([^']*)'", str(exc))
        return m.group(1) if m else ""


def input_kind(path):
    """What an input is: ``"folder"``, ``"container"``, ``"model"``, ``"audio"`` or ``"missing"``.

    Files named ``.h5``/``.hdf5`` and HDF5 files are containers, unless their
    root attribute ``format`` is ``"msft-model"`` (written by ``learn-dft``);
    anything else is tried as audio.
    """
    p = Path(path)
    if p.is_dir():
        return "folder"
    if not p.exists():
        return "missing"
    fmt = _hdf5_format(p)
    if fmt == MODEL_FORMAT:
        return "model"
    if fmt is not None or p.suffix.lower() in CONTAINER_EXTENSIONS:
        return "container"
    return "audio"


def _image_format(path, fmt=None):
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise ParameterError(f"{path}: unknown image extension "
                             f"{'.' + ext if ext else '(none)'}: use .png, .svg or .pdf")
    if fmt is not None and fmt != ext:
        raise ParameterError(f"{path}: the extension .{ext} disagrees with format={fmt!r}")
    return ext


def targets(inputs, output=None, format=None):
    """Pair each input with the image it renders to.

    Parameters
    ----------
    inputs : str, Path or list of them
        Containers, audio files, model files, or folders (each stands for the
        containers and audio files directly inside it, in name order).
    output : str or Path, optional
        For one input file: the image to write, or an existing folder to write
        into. For several inputs or a folder: the folder to write into (made if
        missing). Default: beside each input, with the image's extension.
    format : {"png", "svg", "pdf"}, optional
        Format of the images named here (default ``"png"``); an explicit
        output name's extension must agree.

    Returns
    -------
    list of (Path, Path)

    Raises
    ------
    ParameterError
        An unknown format or extension, a folder holding nothing to render,
        or two inputs that would write the same image.
    """
    if format is not None and format not in FORMATS:
        raise ParameterError(f"format={format!r} is unknown: must be one of "
                             f"{', '.join(FORMATS)}")
    ext = format or "png"
    inputs = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    if not inputs:
        raise ParameterError("no input given")
    files, folder_given = [], False
    for item in map(Path, inputs):
        if item.is_dir():
            folder_given = True
            found = sorted(p for p in item.iterdir() if p.is_file()
                           and not p.name.startswith(".")
                           and p.suffix.lower() in CONTAINER_EXTENSIONS + AUDIO_EXTENSIONS)
            if not found:
                raise ParameterError(f"{item}: holds no container or audio file to render")
            files.extend(found)
        else:
            files.append(item)
    out = None if output is None else Path(output)
    if len(files) == 1 and not folder_given and not (out is not None and out.is_dir()):
        image = files[0].with_suffix("." + ext) if out is None else out
        _image_format(image, format)
        return [(files[0], image)]
    if out is not None:
        if out.suffix.lower().lstrip(".") in FORMATS and not out.is_dir():
            raise ParameterError(f"{out}: must be a folder when rendering several inputs")
        if out.exists() and not out.is_dir():
            raise ParameterError(f"{out}: is a file, not a folder to write images into")
    pairs = [(f, (f.parent if out is None else out) / f"{f.stem}.{ext}") for f in files]
    seen = {}
    for src, image in pairs:
        if image in seen:
            raise ParameterError(f"{seen[image]} and {src} would both be rendered to {image}")
        seen[image] = src
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    return pairs


def _write_atomically(path, write):
    """Call ``write(tmp)`` on a temporary name beside ``path``, then rename it to ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise MsftError(f"{path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise MsftError(f"{path}: is a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.close(fd)
    except OSError as exc:
        raise MsftError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    try:
        write(tmp)
        publish(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise MsftError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- drawing -----------------------------------------------------------------------
def _colormap(cmap):
    import matplotlib
    from matplotlib.colors import Colormap
    if isinstance(cmap, Colormap):
        return cmap
    try:
        return matplotlib.colormaps[cmap]
    except (KeyError, TypeError):
        raise ParameterError(f"cmap={cmap!r} is unknown: use a matplotlib colormap such as "
                             "magma, viridis, inferno, gray or gray_r") from None


def _metadata(fmt):
    software = f"msft {__version__}"
    return {"png": {"Software": software}, "svg": {"Date": None, "Creator": software},
            "pdf": {"CreationDate": None, "Creator": software}}[fmt]


class _Layout:
    """Where the image, the colorbar and the labels go, in whole pixels."""

    def __init__(self, width, height, dpi):
        s = dpi / 100.0  # text is sized in points: margins grow with the dpi
        self.left, self.right = round(64 * s), round(92 * s)
        self.bottom, self.top = round(46 * s), round(30 * s)
        self.bar_gap, self.bar_width = round(12 * s), max(4, round(14 * s))
        self.width, self.height = width, height
        self.image_width = width - self.left - self.right
        self.image_height = height - self.bottom - self.top
        if self.image_width < 16 or self.image_height < 16:
            raise ParameterError(
                f"a {width}x{height} picture at dpi={dpi:g} leaves no room for the image: "
                f"make it at least {self.left + self.right + 16}x"
                f"{self.bottom + self.top + 16} pixels, lower the dpi, or use raw=True")

    def axes(self, fig):
        w, h = self.width, self.height
        ax = fig.add_axes((self.left / w, self.bottom / h, self.image_width / w,
                           self.image_height / h))
        cax = fig.add_axes(((self.left + self.image_width + self.bar_gap) / w, self.bottom / h,
                            self.bar_width / w, self.image_height / h))
        return ax, cax


def _nice_step(span, most, steps):
    """The smallest of ``steps`` giving at most ``most`` intervals over ``span``."""
    for step in steps:
        if span / step <= most:
            return step
    return steps[-1]


def _time_axis(ax, start, end, n_ticks):
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator
    if end < 60:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=n_ticks, steps=[1, 2, 2.5, 5, 10]))
        ax.set_xlabel("Time (s)")
        return
    steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800,
             3600, 7200]
    step = _nice_step(end - start, n_ticks, steps)
    ticks = np.arange(np.ceil(start / step - 1e-9), np.floor(end / step + 1e-9) + 1) * step
    decimals = 0 if step >= 1 else 1

    def mss(t, _pos=None):
        t = round(t, decimals)
        m, s = divmod(t, 60)
        sec = f"{s:0{3 + decimals}.{decimals}f}" if decimals else f"{int(round(s)):02d}"
        return f"{int(m)}:{sec}" if m < 60 else f"{int(m // 60)}:{int(m % 60):02d}:{sec}"

    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(mss))
    ax.set_xlabel("Time (m:ss)")


def _hz_label(f):
    if f >= 1000:
        return f"{f / 1000:g}k"
    return f"{f:g}"


def _densest_sparse(candidates, most, enough=5):
    """The first tick set with at least ``enough`` ticks, from sparse to dense,
    without going past ``most``; thinned to ``most`` if even the sparsest has more."""
    chosen = None
    for ticks in candidates:
        if chosen is not None and len(ticks) > most:
            break
        chosen = ticks
        if len(ticks) >= enough:
            break
    while len(chosen) > most:
        chosen = chosen[::2]
    return chosen


def _frequency_ticks(lo, hi, y_axis, tuning, most):
    """Tick positions (log2 Hz) and labels between ``lo`` and ``hi`` (log2 Hz)."""
    if y_axis == "note":
        a4 = np.log2(tuning)
        notes = np.arange(int(np.ceil(12 * (lo - a4) + 69 - 1e-9)),
                          int(np.floor(12 * (hi - a4) + 69 + 1e-9)) + 1)
        chosen = _densest_sparse(
            [[m for m in notes if m % 12 in keep] for keep in
             ((0,), (0, 7), (0, 4, 7, 9), (0, 2, 4, 5, 7, 9, 11), tuple(range(12)))], most)
        return ([a4 + (m - 69) / 12 for m in chosen],
                [f"{_NOTE_NAMES[m % 12]}{m // 12 - 1}" for m in chosen])
    decades = range(int(np.floor(lo * np.log10(2))) - 1, int(np.ceil(hi * np.log10(2))) + 1)
    candidates = []
    for mantissas in ((1, 2, 5), (1, 2, 3, 5, 7), (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9),
                      tuple(np.arange(10, 100) / 10)):
        freqs = [m * 10.0 ** e for e in decades for m in mantissas]
        candidates.append([f for f in freqs if lo <= np.log2(f) <= hi])
    freqs = _densest_sparse(candidates, most)
    return [np.log2(f) for f in freqs], [_hz_label(round(f, 6)) for f in freqs]


def _draw_picture(r, path, fmt, layout, dpi, cmap, vmin, vmax, y_axis, title):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(layout.width / dpi, layout.height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax, cax = layout.axes(fig)
    y0, y1 = r.log2_extent
    im = ax.imshow(r.db, origin="lower", aspect="auto", interpolation="nearest",
                   resample=False, extent=(r.start, r.end, y0, y1), cmap=cmap, vmin=vmin,
                   vmax=vmax)
    _time_axis(ax, r.start, r.end, max(2, layout.image_width // 110))
    pos, labels = _frequency_ticks(y0, y1, y_axis, r.tuning, max(2, layout.image_height // 28))
    ax.set_yticks(pos, labels)
    ax.set_ylabel("Note" if y_axis == "note" else "Frequency (Hz)")
    if title:
        ax.set_title(title, fontsize="medium")
    fig.colorbar(im, cax=cax, label="dBFS")
    fig.savefig(path, format=fmt, dpi=dpi, metadata=_metadata(fmt))


def _draw_raw(r, path, fmt, dpi, cmap, vmin, vmax):
    from matplotlib.image import imsave
    imsave(path, r.db, vmin=vmin, vmax=vmax, cmap=cmap, format=fmt, origin="lower", dpi=dpi,
           metadata=_metadata(fmt))


def _prepare(top_db, max_db, cmap, y_axis, raw, width, height, dpi, params):
    """Check the options that do not depend on the input; the colormap and the geometry."""
    unknown = sorted(set(params) - set(_TRANSFORM_PARAMS))
    if unknown:
        raise TypeError(f"render() got an unexpected keyword argument {unknown[0]!r}")
    if y_axis not in Y_AXES:
        raise ParameterError(f"y_axis={y_axis!r} is unknown: must be one of {', '.join(Y_AXES)}")
    top_db = float(top_db)
    if not (np.isfinite(top_db) and top_db > 0):
        raise ParameterError(f"top_db={top_db:g} must be a positive number of dB")
    if max_db is not None and not np.isfinite(float(max_db)):
        raise ParameterError(f"max_db={max_db} must be a finite level in dBFS")
    dpi = float(dpi)
    if not (np.isfinite(dpi) and dpi > 0):
        raise ParameterError(f"dpi={dpi:g} must be positive")
    colormap = _colormap(cmap)
    if raw:
        layout = None
        columns = DEFAULT_WIDTH if width is None else _pixels("width", width)
        rows = None if height is None else _pixels("height", height)
    else:
        layout = _Layout(DEFAULT_WIDTH if width is None else _pixels("width", width),
                         DEFAULT_HEIGHT if height is None else _pixels("height", height), dpi)
        columns, rows = layout.image_width, layout.image_height
    return colormap, layout, columns, rows


def _container_raster(path, columns, rows, start, end, channel, fmin, fmax, params,
                      progress):
    with load(path) as box:
        return raster(box, columns, rows, start, end, channel, fmin, fmax), box.duration


def _audio_raster(path, columns, rows, start, end, channel, fmin, fmax, params, progress):
    """Analyse into a temporary container (bounded memory), then draw it."""
    about = audio_info(path)  # check the selection before a long analysis
    _time_range(str(path), about["duration"], start, end)
    _channel(str(path), about["channels"], channel)
    with tempfile.TemporaryDirectory(prefix="msft-render-") as tmp:
        box_path = Path(tmp) / f"{path.stem}.h5"
        analyze(path, box_path, fmin=_analysis_fmin(fmin, params), progress=progress,
                **params)
        with load(box_path) as box:
            r = _raster(_Frames.of(box, str(path)), columns, rows, start, end, channel,
                        fmin, fmax)
            return r, box.duration


def _no_such_input(path, *args):
    if Path(path).is_dir():
        raise MsftError(f"{path}: is a folder: render the files inside it with targets()")
    raise MsftError(f"{path}: no such file")


#: What :func:`render` does with each kind of input (see :func:`input_kind`): a
#: function ``(path, columns, rows, start, end, channel, fmin, fmax, params,
#: progress) -> (Raster, duration in seconds)``. Models are no raster: render()
#: hands them to :func:`render_model`.
_RASTERS = {"container": _container_raster, "audio": _audio_raster}


def check_options(**options):
    """Check :func:`render`'s options without any input: for a batch, fail once and early.

    Checks what does not depend on the input (colormap, sizes, dynamic range,
    axis, transform parameter names); raises what :func:`render` would raise.

    Examples
    --------
    >>> check_options(cmap="magma", width=2000, height=800)
    >>> check_options(cmap="nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    msft_cli.errors.ParameterError: cmap='nope' is unknown: use a matplotlib colormap ...
    """
    a = inspect.signature(render).bind(None, **options)
    a.apply_defaults()
    a = a.arguments
    _prepare(a["top_db"], a["max_db"], a["cmap"], a["y_axis"], a["raw"], a["width"],
             a["height"], a["dpi"], a["params"])


# -- the whole thing ---------------------------------------------------------------
def render(source, output=None, start=None, end=None, channel="mix", fmin=None, fmax=None,
           top_db=80.0, max_db=None, cmap="magma", y_axis="hz", raw=False, width=None,
           height=None, dpi=100, title=None, progress=None, **params):
    """Draw the magnitudes of a container, an audio file or coefficients as an image.

    Each octave is drawn on its own time grid (see :func:`raster`). The image
    is written to a temporary name and renamed when complete, so a failure
    never leaves a file under the output's name.

    Parameters
    ----------
    source : str, Path, Container or Coefficients
        A container; an audio file (analysed on the fly into a temporary
        container, in bounded memory, with ``params`` as in
        :func:`msft_cli.analyze`);
        an open :class:`Container`; or coefficients in memory. A model file
        written by ``learn-dft`` is drawn by :func:`render_model` (default
        size 1600 x 1200; ``raw``: the weight matrix): ``start``, ``end``,
        ``channel``, ``fmin``, ``fmax`` and ``y_axis`` do not apply to it and
        are refused when given; transform parameters are ignored.
    output : str or Path, optional
        Image to write; its extension picks the format: ``.png``, ``.svg`` or
        ``.pdf``. Default: ``source`` with ``.png`` (required for coefficients).
    start, end : float, optional
        Time range in seconds (default: the whole signal).
    channel : int or "mix"
        A channel, or ``"mix"``: the largest magnitude over channels.
    fmin, fmax : float, optional
        Frequency range shown, in Hz (bins whose centres lie inside). An
        audio input is analysed from the lowest bin of the tuning's grid at
        or above ``fmin`` (less to compute); ``fmax`` only limits the display.
    top_db : float
        Dynamic range shown: levels below ``max_db - top_db`` get the lowest colour.
    max_db : float, optional
        Level in dBFS of the brightest colour. Default: the loudest pixel
        (0 dBFS for silence).
    cmap : str or matplotlib Colormap
        Default ``"magma"``.
    y_axis : {"hz", "note"}
        Label the frequency axis in Hz or with note names (A4 = the tuning).
    raw : bool
        An unadorned image: no axes, title or colorbar; one pixel row per bin
        unless ``height`` is given; for datasets and models.
    width, height : int, optional
        Size in pixels: of the whole picture (default 1200 x 600), or with
        ``raw`` of the image (default 1200 columns, one row per bin).
    dpi : float
        Resolution written into the file; with axes, text is sized for it.
    title : str, optional
        Default: the input's file name.
    progress : callable, optional
        ``progress(done, total)`` in samples while an audio input is analysed.
    **params
        Transform parameters for audio inputs (``bins_per_octave``,
        ``n_octaves``, ``tuning``, ``window``, ``mode``, ``block_size``,
        ``threads``, ``planner``); containers carry their own and ignore them.

    Returns
    -------
    Report
        ``extra`` holds the image's ``width``, ``height``, ``format`` and ``size``.

    Raises
    ------
    MsftError
        A missing or foreign input, an empty time or frequency range, a
        channel that does not exist, an unknown colormap or extension, or an
        output that cannot be written; the message names the file.

    Examples
    --------
    >>> from msft_cli.render import render
    >>> render("sample_audio/house_beat.wav", "/tmp/house.png")  # doctest: +SKIP
    >>> render("house.h5", "/tmp/hats.svg", start=2, end=4, fmin=2000, raw=True)  # doctest: +SKIP
    """
    began = time.perf_counter()
    kind = (None if isinstance(source, (Container, Coefficients)) else
            "model" if isinstance(source, learn_dft.LearnResult) else input_kind(source))
    if kind == "model":
        _prepare(top_db, max_db, cmap, y_axis, True, None, None, dpi, params)
        return _render_model_input(source, output, {
            "start": start, "end": end, "channel": channel, "fmin": fmin, "fmax": fmax,
            "y_axis": y_axis, "raw": raw, "width": width, "height": height, "dpi": dpi,
            "title": title, "cmap": cmap, "top_db": top_db, "max_db": max_db})
    colormap, layout, columns, rows = _prepare(top_db, max_db, cmap, y_axis, raw, width,
                                               height, dpi, params)
    dpi = float(dpi)

    if isinstance(source, (Container, Coefficients)):
        if output is None:
            if isinstance(source, Coefficients):
                raise ParameterError("output is required when rendering coefficients")
            output = Path(source.path).with_suffix(".png")
        name = Path(source.path).name if isinstance(source, Container) else ""
        fmt = _image_format(output)
        r = raster(source, columns, rows, start, end, channel, fmin, fmax)
        duration = source.n_samples / source.transform.sr
    else:
        path = Path(source)
        output = path.with_suffix(".png") if output is None else output
        fmt = _image_format(output)
        name = path.name
        draw = _RASTERS.get(kind, _no_such_input)
        r, duration = draw(path, columns, rows, start, end, channel, fmin, fmax, params,
                           progress)

    if title is None:
        title = name
        if r.channel != "mix":
            title += f" (channel {r.channel})"
    top = (r.peak_db if r.peak_db > FLOOR_DB else 0.0) if max_db is None else float(max_db)
    vmin, vmax = top - float(top_db), top
    if raw:
        _write_atomically(output, lambda tmp: _draw_raw(r, tmp, fmt, dpi, colormap, vmin,
                                                        vmax))
        size = (r.shape[1], r.shape[0])
    else:
        _write_atomically(output, lambda tmp: _draw_picture(r, tmp, fmt, layout, dpi,
                                                            colormap, vmin, vmax, y_axis,
                                                            title))
        size = (layout.width, layout.height)
    output = Path(output)
    shown = ("coefficients" if isinstance(source, Coefficients) else
             str(source.path) if isinstance(source, Container) else str(source))
    return Report(shown, output, duration, time.perf_counter() - began,
                  {"width": size[0], "height": size[1], "format": fmt,
                   "size": output.stat().st_size, "start": r.start, "end": r.end})


# -- models ------------------------------------------------------------------------
#: Size of a model's figure when no width or height is given, in pixels.
MODEL_WIDTH, MODEL_HEIGHT = 1600, 1200

#: Colormap of the (signed) weights, centred on zero.
WEIGHT_CMAP = "RdBu_r"

#: The smallest model figure, in pixels at dpi 100 (it grows with the dpi).
_MODEL_MIN = (640, 480)

#: render()'s options that mean nothing for a model, with the values that say "not given".
_NOT_FOR_MODELS = {"start": None, "end": None, "channel": "mix", "fmin": None, "fmax": None,
                   "y_axis": "hz"}


def render_model(model, output=None, raw=False, width=None, height=None, dpi=100, title=None,
                 cmap="magma", top_db=80.0, max_db=None, frames=(0, 10, 20, 30), rows=None):
    """Draw a model written by ``msft learn-dft``: the published figures, in one image.

    The panels (from :func:`msft_cli.learn_dft.figure_data`): the weight maps
    of output frames 1, 11, 21 and 31 (fewer when the target has fewer; real
    parts, input sample across and output bin up, one symmetric colour scale;
    with two maps or fewer, their imaginary parts too); three weight rows, the
    learned real and imaginary parts beside the analytic windowed sinusoid
    (dashed), zoomed to its support; the reference and the network's
    spectrogram of the four-tone test, linear and in dB, each pair on one
    colour scale; and the loss per epoch on a log axis (for ``lstsq``, the
    closed form's validation MSE as one point). The title gives the target,
    how it was learned, the four-tone relative error and the largest weight
    difference from the analytic matrix.

    Parameters
    ----------
    model : str, Path or LearnResult
        A model file written by :meth:`~msft_cli.learn_dft.LearnResult.save`,
        or a result in memory.
    output : str or Path, optional
        ``.png``, ``.svg`` or ``.pdf``. Default: the model file with ``.png``
        (required for a result in memory).
    raw : bool
        Only the learned weight matrix, one pixel per weight: row ``i`` is
        input sample ``i`` (top to bottom), column ``j`` output ``j`` (the
        real parts, then the imaginary parts), coloured with
        :data:`WEIGHT_CMAP` from ``-max|W|`` to ``+max|W|``. A matrix larger
        than ``width`` x ``height`` is pooled down to it, each pixel showing
        the weight of largest magnitude in its cell (sign kept); it is never
        enlarged.
    width, height : int, optional
        Size of the figure in pixels (default 1600 x 1200), or with ``raw``
        the largest image (default: one pixel per weight).
    dpi : float
        Resolution written into the file; text is sized for it.
    title : str, optional
        First line of the title. Default: the file name.
    cmap : str or Colormap
        Colormap of the spectrograms (the weights use :data:`WEIGHT_CMAP`).
    top_db, max_db : float
        The dB spectrograms show ``max_db - top_db .. max_db`` (default
        ``max_db``: the reference's peak).
    frames, rows
        Which weight maps and weight rows to draw (see
        :func:`~msft_cli.learn_dft.figure_data`).

    Returns
    -------
    Report
        ``duration`` is the input length in seconds; ``extra`` holds the image's
        ``width``, ``height``, ``format`` and ``size``, and the model's
        ``weights`` shape.

    Raises
    ------
    MsftError
        A missing, foreign, corrupt or newer model file, an unknown extension
        or colormap, a figure too small for its panels, or an output that
        cannot be written; the message is one line naming the file.
    """
    began = time.perf_counter()
    colormap = _prepare(top_db, max_db, cmap, "hz", True, None, None, dpi, {})[0]
    dpi = float(dpi)
    if raw:
        size = (None if width is None else _pixels("width", width),
                None if height is None else _pixels("height", height))
    else:
        size = (MODEL_WIDTH if width is None else _pixels("width", width),
                MODEL_HEIGHT if height is None else _pixels("height", height))
        least = [round(m * dpi / 100) for m in _MODEL_MIN]
        if size[0] < least[0] or size[1] < least[1]:
            raise ParameterError(f"a {size[0]}x{size[1]} figure at dpi={dpi:g} leaves no room "
                                 f"for a model's panels: make it at least {least[0]}x"
                                 f"{least[1]} pixels, lower the dpi, or use raw=True")
    if isinstance(model, learn_dft.LearnResult):
        if output is None:
            raise ParameterError("output is required when rendering a model in memory")
        shown, name, result = "model", "", model
        fmt = _image_format(output)
    else:
        path = Path(model)
        output = path.with_suffix(".png") if output is None else output
        shown, name = str(path), path.name
        fmt = _image_format(output)
        result = _load_model(path)
    w = result.weights
    if raw:
        image = _pool_signed(w, w.shape[0] if size[1] is None else min(size[1], w.shape[0]),
                             w.shape[1] if size[0] is None else min(size[0], w.shape[1]))
        lim = _finite_peak([image])
        _write_atomically(output, lambda tmp: _draw_weights_raw(image, lim, tmp, fmt, dpi))
        size = (image.shape[1], image.shape[0])
    else:
        try:
            rows = _default_rows(result.target) if rows is None else rows
            data = learn_dft.figure_data(result, frames=frames, rows=rows)
        except ParameterError:
            raise
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ContainerError(f"{shown}: corrupt model file ({_one_line(exc)})") from exc
        if not data["weight_maps"]:
            n = max(b.n_frames for b in result.target.blocks)
            raise ParameterError(f"frames={tuple(frames)!r}: none is an output frame of "
                                 f"{shown} (it has {n}: 0..{n - 1})")
        lines = [" - ".join(s for s in (name if title is None else title, data["title"]) if s),
                 _model_summary(result, data)]
        _write_atomically(output, lambda tmp: _draw_model(data, tmp, fmt, size, dpi, colormap,
                                                          float(top_db), max_db, lines))
    output = Path(output)
    return Report(shown, output, result.target.n_inputs / result.target.sr,
                  time.perf_counter() - began,
                  {"width": size[0], "height": size[1], "format": fmt,
                   "size": output.stat().st_size, "weights": tuple(w.shape)})


def _render_model_input(source, output, options):
    """render() on a model: refuse the options that mean nothing for it, then draw."""
    in_memory = isinstance(source, learn_dft.LearnResult)
    for key, unset in _NOT_FOR_MODELS.items():
        value = options.pop(key)
        if value != unset:
            raise ParameterError(f"{'model' if in_memory else source}: {key}={value!r} does "
                                 "not apply to a learn-dft model (its figure shows the whole "
                                 "model)")
    # transform parameters are ignored: a model carries its own
    return render_model(source if in_memory else Path(source), output, **options)


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _load_model(path):
    """A model file as a LearnResult; every failure is one line naming the file."""
    try:
        result = learn_dft.load(path)
    except MsftError as exc:
        text = _one_line(exc)
        raise type(exc)(text if text.startswith(str(path)) else f"{path}: {text}") from exc
    except KeyError as exc:
        raise ContainerError(f"{path}: incomplete model file (no {exc.args[0]!r} "
                             "attribute)") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise ContainerError(f"{path}: corrupt model file ({_one_line(exc)})") from exc
    t, w = result.target, result.weights
    if getattr(w, "shape", None) != (t.n_inputs, t.n_outputs) or w.dtype.kind != "f":
        raise ContainerError(f"{path}: corrupt model file (weights are "
                             f"{getattr(w, 'shape', '?')}, the target needs "
                             f"{(t.n_inputs, t.n_outputs)} floats)")
    # what the figure reads besides the weights
    needs = {"history": (result.history, ("epoch", "loss", "val_loss")),
             "settings": (result.settings, ("solver", "examples", "epochs")),
             "evaluation": (result.evaluation, _EVALUATION_SHOWN)}
    for what, (have, keys) in needs.items():
        missing = [k for k in keys if not isinstance(have, dict) or k not in have]
        if missing:
            raise ContainerError(f"{path}: incomplete model file (no {missing[0]!r} in its "
                                 f"{what})")
    lengths = {np.shape(result.history[k]) for k in ("epoch", "loss", "val_loss")}
    if len(lengths) != 1 or len(lengths.pop()) != 1:
        raise ContainerError(f"{path}: corrupt model file (the history's epoch, loss and "
                             "val_loss are not one row per epoch)")
    return result


#: The evaluation figures a model's title shows.
_EVALUATION_SHOWN = ("tones_rel_error_db", "fresh_rel_error_db", "weights_max_abs_diff",
                     "weights_max_rel_diff")


def _model_summary(result, data):
    """The title's second line: how the model was made and how well it does."""
    s, m = result.settings, data["metrics"]
    how = f"{s['solver']}, {s['examples']} examples"
    if s["solver"] != "lstsq":
        how += f", {s['epochs']} epochs"
    return (f"{how}  |  four tones: relative error {m['tones_rel_error_db']:.1f} dB  |  "
            f"fresh noise: {m['fresh_rel_error_db']:.1f} dB  |  weights vs analytic: "
            f"max |W - A| {m['weights_max_abs_diff']:.2e} "
            f"(relative {m['weights_max_rel_diff']:.2e})")


def _default_rows(target):
    """Three distinct weight rows of the middle frame: bins at 1/16, 1/8 and 1/4 of the
    bins (figure_data's default), then 1/2 and 3/4 when a small target repeats one."""
    blocks = [b for b in target.blocks if not b.real]
    main = max(blocks, key=lambda b: b.n_frames) if target.name == "msft" else blocks[-1]
    n = main.n_bins
    bins = []
    for b in [max(1, n // q) for q in (16, 8, 4)] + [n // 2, 3 * n // 4, 0]:
        if b < n and b not in bins and len(bins) < 3:
            bins.append(b)
    return [(main.n_frames // 2, b) for b in sorted(bins)]


def _finite_peak(arrays, rows=256):
    """The largest finite magnitude in ``arrays`` (1 when there is none), for colour scales;
    read ``rows`` rows at a time (no full-size temporaries)."""
    peak = 0.0
    for a in arrays:
        a = np.asarray(a)
        a = a.reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1)
        for r in range(0, a.shape[0], rows):
            block = np.abs(a[r:r + rows])
            block = block[np.isfinite(block)]
            if block.size:
                peak = max(peak, float(block.max()))
    return peak if peak > 0 else 1.0


def _pool_signed(w, rows, cols):
    """``w`` pooled to ``rows x cols`` cells (at most its own size): each cell keeps the
    value of largest magnitude in it, sign and all."""
    hi = lo = np.asarray(w)
    if rows >= hi.shape[0] and cols >= hi.shape[1]:
        return hi  # nothing to pool: the matrix itself, not a copy
    for axis, n in ((1, cols), (0, rows)):
        size = hi.shape[axis]
        if n < size:
            starts = np.arange(n) * size // n
            hi = np.maximum.reduceat(hi, starts, axis=axis)
            lo = np.minimum.reduceat(lo, starts, axis=axis)
    return np.where(hi >= -lo, hi, lo)


def _draw_weights_raw(image, lim, path, fmt, dpi, rows=256):
    """``image`` coloured from ``-lim`` to ``lim``, as 8-bit RGBA made ``rows`` rows at a
    time (a float RGBA copy of a large matrix would be 32 bytes per weight)."""
    from matplotlib.image import imsave
    cmap = _colormap(WEIGHT_CMAP)
    rgba = np.empty(image.shape + (4,), np.uint8)
    for r in range(0, image.shape[0], rows):
        rgba[r:r + rows] = cmap((image[r:r + rows] + lim) / (2 * lim), bytes=True)
    imsave(path, rgba, format=fmt, origin="upper", dpi=dpi, metadata=_metadata(fmt))


def _bin_extent(ax, freqs):
    """Where bins go on an axis: Hz when evenly spaced, else bin numbers labelled in Hz."""
    freqs = np.asarray(freqs, float)
    d = np.diff(freqs)
    if len(freqs) > 1 and d[0] > 0 and np.allclose(d, d[0]):
        return freqs[0] - d[0] / 2, freqs[-1] + d[0] / 2
    n = len(freqs)
    ticks = np.unique(np.linspace(0, n - 1, min(n, 6)).round().astype(int))
    ax.set_yticks(ticks, [_hz_label(float(f"{freqs[i]:.3g}")) for i in ticks])
    return -0.5, n - 0.5


def _map_panels(maps):
    """Weight maps grouped by requested frame (msft: one map per octave, stacked low to high)."""
    groups = []
    for m in maps:
        if not groups or m["block"] in {g["block"] for g in groups[-1]}:
            groups.append([])
        groups[-1].append(m)
    panels = []
    for g in groups:
        label = g[-1]["label"]  # msft: the finest octave's frame; coarser ones hold theirs
        stack = {k: np.concatenate([m[k] for m in g], axis=1) for k in ("real", "imag")}
        freqs = np.concatenate([m["frequencies"] for m in g])
        panels.append((f"{label}, real", stack["real"], freqs))
        if len(groups) <= 2:
            panels.append((f"{label}, imaginary", stack["imag"], freqs))
    return panels


def _draw_model(data, path, fmt, size, dpi, cmap, top_db, max_db, lines):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(h_pad=4 / 72, w_pad=4 / 72, hspace=0.03, wspace=0.03)
    fig.suptitle("\n".join(lines), fontsize="medium")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=(1.15, 1.0, 1.15))
    _draw_weight_maps(top, data["weight_maps"])
    _draw_weight_rows(middle, data["weight_rows"], data["loss"])
    _draw_spectrograms(bottom, data["spectrograms"], cmap, top_db, max_db)
    fig.savefig(path, format=fmt, dpi=dpi, metadata=_metadata(fmt))


def _draw_weight_maps(sub, maps):
    panels = _map_panels(maps)
    axes = sub.subplots(1, len(panels), squeeze=False)[0]
    lim = _finite_peak([p[1] for p in panels])
    for ax, (label, values, freqs) in zip(axes, panels):
        lo, hi = _bin_extent(ax, freqs)
        im = ax.imshow(values.T, origin="lower", aspect="auto", cmap=WEIGHT_CMAP, vmin=-lim,
                       vmax=lim, extent=(-0.5, values.shape[0] - 0.5, lo, hi))
        ax.set_title(label, fontsize="medium")
        ax.set_xlabel("Input sample")
        ax.tick_params(labelsize="small")
    axes[0].set_ylabel("Output bin (Hz)")
    sub.colorbar(im, ax=list(axes), label="Learned weight", shrink=0.9, pad=0.01)


def _draw_weight_rows(sub, rows, loss):
    from matplotlib.ticker import MaxNLocator
    axes = sub.subplots(1, len(rows) + 1, squeeze=False)[0]
    for i, (ax, r) in enumerate(zip(axes, rows)):
        x = r["samples"]
        ax.plot(x, r["learned_real"], color="C0", lw=1.2, label="learned, real")
        ax.plot(x, r["learned_imag"], color="C1", lw=1.2, label="learned, imaginary")
        ax.plot(x, r["analytic_real"], color="k", lw=0.9, ls="--", label="analytic, real")
        ax.plot(x, r["analytic_imag"], color="0.45", lw=0.9, ls="--",
                label="analytic, imaginary")
        support = np.flatnonzero((r["analytic_real"] != 0) | (r["analytic_imag"] != 0))
        if support.size:
            pad = max(1, (support[-1] - support[0]) // 40)
            ax.set_xlim(support[0] - pad, support[-1] + pad)
        ax.set_title(r["label"], fontsize="medium")
        ax.set_xlabel("Input sample")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize="small")
        if i == 0:
            ax.set_ylabel("Weight")
    sub.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4,
               fontsize="small", frameon=False)
    _draw_loss(axes[-1], loss)


def _draw_loss(ax, loss):
    epoch = np.asarray(loss["epoch"], float)
    ax.set_title("Loss (MSE)", fontsize="medium")
    ax.set_xlabel("Epoch")
    ax.tick_params(labelsize="small")
    curves = [(np.asarray(loss["loss"], float), "training", "C0"),
              (np.asarray(loss["val_loss"], float), "validation", "C3")]
    shown = [(y, label, c) for y, label, c in curves if np.any(np.isfinite(y) & (y > 0))]
    if not shown:
        ax.text(0.5, 0.5, "no finite loss", ha="center", va="center", transform=ax.transAxes)
        return
    ax.set_yscale("log")
    marker = "o" if len(epoch) <= 30 else None
    for y, label, c in shown:
        ax.plot(epoch, y, color=c, marker=marker, ms=4, label=label)
    bits = np.asarray(loss.get("bits", []))
    if bits.size == epoch.size and np.any(bits == 32):
        for e in epoch[bits == 32]:
            ax.axvspan(e - 0.5, e + 0.5, color="0.94", lw=0)
        ax.plot([], [], color="0.94", lw=6, label="float32 epochs")
    if loss.get("solver") == "lstsq":
        val = np.asarray(loss["val_loss"], float)
        ax.text(0.5, 0.62, f"closed form (lstsq)\nvalidation MSE {val[-1]:.3g}", ha="center",
                va="bottom", transform=ax.transAxes, fontsize="small")
        ax.set_xticks(epoch)
    else:
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="major", color="0.85", lw=0.6)
    ax.legend(fontsize="x-small")


def _draw_spectrograms(sub, s, cmap, top_db, max_db):
    left, right = sub.subfigures(1, 2)
    freqs, times = np.asarray(s["frequencies"], float), np.asarray(s["times"], float)
    peak = _finite_peak([s["reference_magnitude"]])
    top = float(np.nanmax(s["reference_db"])) if max_db is None else float(max_db)
    for part, (scale, ref, net, lims, unit) in zip((left, right), (
            ("linear", s["reference_magnitude"], s["network_magnitude"], (0.0, peak),
             "|X|"),
            ("dB", s["reference_db"], s["network_db"], (top - top_db, top), "dB"))):
        axes = part.subplots(1, 2, squeeze=False)[0]
        for ax, what, values in zip(axes, ("reference", "network"), (ref, net)):
            ax.set_title(f"{what}, {scale}", fontsize="medium")
            ax.tick_params(labelsize="small")
            if len(times) > 1:
                step = times[1] - times[0]
                lo, hi = _bin_extent(ax, freqs)
                im = ax.imshow(values, origin="lower", aspect="auto", interpolation="nearest",
                               cmap=cmap, vmin=lims[0], vmax=lims[1],
                               extent=(1e3 * times[0], 1e3 * (times[-1] + step), lo, hi))
                ax.set_xlabel("Time (ms)")
            else:  # one frame (the DFT): a spectrum
                im = None
                ax.plot(freqs, values[:, 0], color="C0" if what == "reference" else "C3",
                        marker="o", ms=3, lw=1)
                ax.set_ylim(lims[0], lims[1] + 0.05 * (lims[1] - lims[0]))
                ax.set_xlabel("Frequency (Hz)")
                ax.set_ylabel(unit)
        if im is not None:
            axes[0].set_ylabel("Frequency (Hz)")
            part.colorbar(im, ax=list(axes), label=unit, shrink=0.9, pad=0.01)
    tones = ", ".join(f"{f:g} Hz" for f, _ in s["tones"])
    sub.suptitle(f"Four-tone test ({tones}): relative error {s['rel_error_db']:.1f} dB",
                 fontsize="medium")
