"""Tiles of the multi-resolution picture: the render module's raster on a fixed grid.

A tile is ``COLUMNS`` pixel columns by one row per bin (all octaves, low
frequencies first), in dBFS as :func:`msft_cli.render.raster` gives them: the
loudest frame of each octave in each column, so a 1 ms click shows at every
zoom. At zoom ``z`` a column spans ``2**z`` frames of the top octave (``z = 0``:
one frame, the finest detail stored), and tile ``x`` starts at sample
``x * COLUMNS * hop * 2**z`` (``hop`` the top octave's hop). The frame grids
nest, so a column spans ``2**(z - s)`` whole frames of an octave whose hop is
``2**s`` times the top one's, or lies inside one frame (held, as the raster
holds it).

Zoomed out, a tile would pool a large part of the file: :class:`Overview`
keeps, per octave, the largest magnitude of every aligned run of ``2**L``
frames (``L`` from ``min_level`` up: a pyramid over time, in memory-mapped
temporary files), computed once in one streamed pass over the container. The
maximum of maxima of whole runs is the maximum of the frames, so a tile drawn
from the pyramid equals the raster of the frames themselves; only zooms whose
columns span fewer than ``2**min_level`` frames read the container's chunks
(at most ``COLUMNS * 2**min_level`` frames per octave).
"""

import threading
import time
import types
from pathlib import Path

import numpy as np

from ._lib import ContainerError, ParameterError, _Frames, _raster, integer

#: Pixel columns per tile.
COLUMNS = 256

#: Coarsest runs read from the container itself: columns spanning fewer than
#: ``2**MIN_LEVEL`` frames of an octave read its chunks (at most ``COLUMNS * 2**MIN_LEVEL``
#: frames, 8192 at 5: a few MiB per tile), wider ones the pyramid (``2 / 2**MIN_LEVEL``
#: of the magnitudes' count, float32: 1/16 of a complex64 container's size at 5).
MIN_LEVEL = 5

#: Frames read from the container at a time while the pyramid is built.
_PIECE_FRAMES = 1 << 15


class Tiles:
    """The tiles of one open container.

    Parameters
    ----------
    box : Container
        An open container; it stays open while tiles are made.
    folder : str or Path
        Where the pyramid's temporary files go (the caller removes the folder).
    min_level : int
        See :data:`MIN_LEVEL`.
    columns : int
        Pixel columns per tile.
    """

    def __init__(self, box, folder, min_level=MIN_LEVEL, columns=COLUMNS):
        integer("min_level", min_level, minimum=1)
        t = box.transform
        self.box = box
        self.columns = int(columns)
        self.hop = t.hops[-1]
        #: per octave, its hop in top-octave hops as a power of two
        self.shifts = [int(h // self.hop).bit_length() - 1 for h in t.hops]
        n = max(1, box.n_samples)
        self.max_zoom = max(0, int(np.ceil(np.log2(n / (self.columns * self.hop)))))
        self.overview = Overview(box, folder, min_level,
                                 [self.max_zoom - s for s in self.shifts])

    def count(self, zoom):
        """How many tiles cover the signal at ``zoom``."""
        width = self.columns * self.hop << zoom
        return max(1, -(-self.box.n_samples // width))

    def span(self, zoom, x):
        """Samples ``(first, stop)`` of tile ``x`` at ``zoom``."""
        width = self.columns * self.hop << zoom
        return x * width, (x + 1) * width

    def check(self, zoom, x):
        """``(zoom, x)`` as ints, or ParameterError naming what is out of range."""
        if not 0 <= zoom <= self.max_zoom:
            raise ParameterError(f"z={zoom} is out of range: 0..{self.max_zoom}")
        if not 0 <= x < self.count(zoom):
            raise ParameterError(f"x={x} is outside the file: tiles 0..{self.count(zoom) - 1} "
                                 f"at z={zoom}")
        return zoom, x

    def tile(self, zoom, x, channel="mix"):
        """Tile ``x`` at ``zoom``: float32 ``(bins, columns)`` in dBFS, row 0 the lowest bin.

        Columns that start at or after the signal's end are NaN.
        """
        zoom, x = self.check(zoom, x)
        box, t = self.box, self.box.transform
        first, stop = self.span(zoom, x)
        octaves, firsts, hops = [], [], []
        for j, shift in enumerate(self.shifts):
            level = zoom - shift
            pooled = self.overview.level(j, level) if level >= self.overview.min_level \
                else None
            if pooled is None:
                octaves.append(box.octaves[j])
                firsts.append(box.ranges[j + 1][0])
                hops.append(t.hops[j])
            else:
                array, entry = pooled
                octaves.append(array)
                firsts.append(entry)
                hops.append(t.hops[j] << level)
        grid = types.SimpleNamespace(sr=t.sr, hops=hops, frequencies=t.frequencies,
                                     bins_per_octave=t.bins_per_octave,
                                     n_octaves=t.n_octaves, tuning=t.tuning)
        frames = _Frames(grid, max(stop, box.n_samples), box.n_channels, octaves, firsts,
                         str(box.path))
        db = _raster(frames, self.columns, None, first / t.sr, stop / t.sr, channel, None,
                     None).db
        step = (stop - first) // self.columns
        outside = first + step * np.arange(self.columns) >= box.n_samples
        db[:, outside] = np.nan
        return db


class Overview:
    """Per octave, the largest magnitude of each aligned run of ``2**L`` frames.

    Level ``L`` of an octave holds, at entry ``i``, the largest magnitude (each
    channel apart) of the octave's frames with global indices ``i * 2**L ..
    (i + 1) * 2**L - 1`` (frames not stored count as 0). Levels go from
    ``min_level`` to ``tops[j]`` for octave ``j``; they are made by
    :meth:`build` (one pass over the container, a piece at a time), and
    :meth:`level` waits for them.
    """

    def __init__(self, box, folder, min_level, tops):
        self.box = box
        self.folder = Path(folder)
        self.min_level = min_level
        self.tops = tops
        self.levels = [{} for _ in tops]  # octave -> {level: (array, first entry)}
        self.error = None
        self.seconds = None  # how long the build took, once done
        self._done = threading.Event()
        self._started = False
        self._lock = threading.Lock()

    @property
    def ready(self):
        """Whether the build is over (successfully or not: see ``error``)."""
        return self._done.is_set()

    @property
    def nbytes(self):
        """Bytes of the levels built so far."""
        return sum(a.nbytes for levels in self.levels for a, _ in list(levels.values()))

    def start(self):
        """Build in a background thread (once); :meth:`level` waits for it."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self.build, name="msft-view-overview", daemon=True).start()

    def build(self):
        """Make every level: one read of each octave, the upper levels from the lower."""
        began = time.perf_counter()
        try:
            for j, top in enumerate(self.tops):
                for level in range(self.min_level, top + 1):
                    self.levels[j][level] = self._make(j, level)
        except Exception as exc:  # reported by every tile that needs the pyramid
            self.error = f"{self.box.path}: cannot build the overview ({exc})"
        finally:
            self.seconds = time.perf_counter() - began
            self._done.set()

    def level(self, octave, level):
        """``(array (channels, bins, entries), first entry)``, or None above the top level."""
        if level > self.tops[octave]:
            return None
        self.start()
        self._done.wait()
        if self.error is not None:
            raise ContainerError(self.error)
        return self.levels[octave][level]

    def _make(self, j, level):
        box = self.box
        first, count = box.ranges[j + 1]
        run = 1 << level
        entry = first // run
        n = (first + count - 1) // run - entry + 1
        channels, bins = box.octaves[j].shape[:2]
        out = np.lib.format.open_memmap(self.folder / f"octave{j}-level{level}.npy", "w+",
                                        np.float32, (channels, bins, n))
        per = max(1, _PIECE_FRAMES >> level) if level == self.min_level else _PIECE_FRAMES
        for i0 in range(entry, entry + n, per):
            i1 = min(i0 + per, entry + n)
            if level == self.min_level:  # from the container's frames
                frames = np.abs(box.read_frames(j, i0 * run, i1 * run))
            else:  # from the level below: pairs of its entries
                below, first_below = self.levels[j][level - 1]
                frames = _entries(below, first_below, 2 * i0, 2 * i1)
            pooled = frames.reshape(channels, bins, i1 - i0, -1).max(axis=3)
            out[:, :, i0 - entry:i1 - entry] = pooled
        out.flush()
        return out, entry


def _entries(array, first, lo, hi):
    """``array``'s entries ``lo .. hi - 1`` (``first`` is its first), zero where absent."""
    out = np.zeros(array.shape[:2] + (hi - lo,), np.float32)
    a, b = max(lo, first), min(hi, first + array.shape[2])
    if b > a:
        out[:, :, a - lo:b - lo] = array[:, :, a - first:b - first]
    return out
