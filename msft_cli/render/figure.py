"""Drawing a raster with matplotlib: axes, ticks, colormaps.

matplotlib is imported here, on first use, and in :mod:`msft_cli.learn_dft.figures` (the
model figures, which use this module's colormaps and metadata).
"""

import numpy as np

from msft_cli._version import __version__
from msft_cli.errors import ParameterError

#: Labels of the frequency axis.
Y_AXES = ("hz", "note")

_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

#: Room for the labels around the image, in pixels at dpi 100 (they grow with the dpi):
#: left (frequency ticks and label), right (colorbar and its label), bottom, top (title).
_MARGINS = {"left": 64, "right": 92, "bottom": 46, "top": 30}
#: The colorbar: its gap from the image and its width, in pixels at dpi 100 (at least 4 wide).
_BAR_GAP, _BAR_WIDTH, _BAR_MIN_WIDTH = 12, 14, 4
#: The smallest image inside the axes, in pixels each way.
_MIN_IMAGE = 16
#: Pixels per tick: at most one time tick per 110 columns, one frequency tick per 28 rows.
_PIXELS_PER_TIME_TICK, _PIXELS_PER_FREQUENCY_TICK = 110, 28


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
        self.left, self.right = round(_MARGINS["left"] * s), round(_MARGINS["right"] * s)
        self.bottom, self.top = round(_MARGINS["bottom"] * s), round(_MARGINS["top"] * s)
        self.bar_gap = round(_BAR_GAP * s)
        self.bar_width = max(_BAR_MIN_WIDTH, round(_BAR_WIDTH * s))
        self.width, self.height = width, height
        self.image_width = width - self.left - self.right
        self.image_height = height - self.bottom - self.top
        if self.image_width < _MIN_IMAGE or self.image_height < _MIN_IMAGE:
            raise ParameterError(
                f"a {width}x{height} picture at dpi={dpi:g} leaves no room for the image: "
                f"make it at least {self.left + self.right + _MIN_IMAGE}x"
                f"{self.bottom + self.top + _MIN_IMAGE} pixels, lower the dpi, or use raw=True")

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
    _time_axis(ax, r.start, r.end, max(2, layout.image_width // _PIXELS_PER_TIME_TICK))
    most = max(2, layout.image_height // _PIXELS_PER_FREQUENCY_TICK)
    pos, labels = _frequency_ticks(y0, y1, y_axis, r.tuning, most)
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
