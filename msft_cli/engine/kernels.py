"""Where each band reads and writes in a block, and one block forward or back.

- :class:`Geometry`: where each band of a set of groups reads and writes in a
  block of a given length, at the full or at a decimated sample rate;
- :class:`Analyzer` and :class:`Synthesizer`: one block forward or back, every
  channel at once, in the buffers of reused FFTW plans.

Scalings: FFTW is unnormalized; every factor (block length, ``2`` for the
one-sided complex bands, the dual window) is folded into the weights.
"""

from dataclasses import dataclass

import numpy as np

from msft_cli.engine.multirate import passband


@dataclass(frozen=True)
class GroupMap:
    """Where the bands of one group read and write in one block geometry.

    Each group has a buffer of ``rows`` rows of ``width`` positions: ``m``
    complex frames per band for an octave, the half spectrum ``0 .. m // 2``
    of the real frames for the low- and high-pass bands. ``pieces`` are runs
    ``(row, b0, b1, where, conj, w_an, w_syn)``: spectrum bins ``b0:b1`` land
    on ``buffer[row, where]`` (a slice, reversed for bins that land through
    their mirror image, which ``conj`` marks); ``gaps`` are the runs
    ``(row, slice)`` that no bin reaches.
    """

    index: int        # group index in the transform
    real: bool
    rows: int
    m: int            # frames per block: n // hop
    hop: int          # full-rate samples
    pieces: tuple
    gaps: tuple

    def plan_role(self, maps):
        """``None``, or the group index where another complex group of ``maps`` (one
        geometry) has the same shape: their plans' buffers must not be shared (octaves
        that share a hop, with ``gamma > 0``)."""
        shape = (self.rows, self.m)
        same = [gm for gm in maps if not gm.real and (gm.rows, gm.m) == shape]
        return self.index if len(same) > 1 else None

    @property
    def longest_piece(self):
        return max((p[2] - p[1] for p in self.pieces), default=0)


def _runs(flags):
    """``(start, stop)`` of the runs of True in a boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _support_bins(layout, band, n, half):
    """Bins ``b0 .. b1`` of blocks of ``n`` samples (``half`` bins kept) inside a band's support."""
    lo, hi = layout.support(band)
    b0 = max(0, int(np.floor(lo * n / layout.sr)) + 1)
    b1 = min(half - 1, int(np.ceil(hi * n / layout.sr)) - 1) + 1
    return b0, max(b0, b1)


def _complex_pieces(b0, m, w_an, w_syn, row, name, n):
    """Pieces and gaps of a complex band: bins ``b0 ..`` land on frames ``b % m``
    (one run, or two where ``b`` crosses a multiple of ``m``)."""
    width = len(w_an)
    if width > m:
        raise AssertionError(f"{name}: bins alias at n={n}")  # the hop rule
    if not width:
        return [], [(row, slice(0, m))]
    q0 = b0 % m
    first = min(width, m - q0)  # bins before the wrap
    pieces = [(row, b0, b0 + first, slice(q0, q0 + first), False, w_an[:first], w_syn[:first])]
    if first < width:
        pieces.append((row, b0 + first, b0 + width, slice(0, width - first), False,
                       w_an[first:], w_syn[first:]))
        gaps = [(row, slice(width - first, q0))]
    else:
        gaps = [(row, slice(0, q0)), (row, slice(q0 + width, m))]
    return pieces, [(r, g) for r, g in gaps if g.stop > g.start]


def _real_pieces(b0, m, w_an, w_syn, row, name, n):
    """Pieces and gaps of a real band: bins ``b0 ..`` land on the half spectrum
    ``0 .. m // 2`` of its frames, those past ``m / 2`` through their mirror image."""
    b = np.arange(b0, b0 + len(w_an))
    width = m // 2 + 1
    q = b % m
    conj = q > m // 2
    dst = np.where(conj, (m - q) % m, q)
    hits = np.bincount(dst, minlength=width)
    if len(b) and hits.max() > 1:
        raise AssertionError(f"{name}: bins alias at n={n}")  # the hop rule
    # runs of bins whose positions move by one: up (q = b % m wraps at m), or
    # down for the conjugated ones (m - q, until q wraps to 0, not conjugated)
    cut = np.flatnonzero((np.abs(np.diff(dst)) != 1) | (conj[1:] != conj[:-1]))
    bounds = [0, *(cut + 1).tolist(), len(b)] if len(b) else []
    pieces = []
    for a, z in zip(bounds[:-1], bounds[1:]):
        d0 = int(dst[a])
        if z - a > 1 and dst[a + 1] < d0:  # reversed
            where = slice(d0, d0 - (z - a) if d0 >= z - a else None, -1)
        else:
            where = slice(d0, d0 + z - a)
        pieces.append((row, int(b[a]), int(b[z - 1]) + 1, where, bool(conj[a]),
                       w_an[a:z], w_syn[a:z]))
    return pieces, [(row, slice(a, z)) for a, z in _runs(hits == 0)]


class Geometry:
    """Index maps and weights of some groups for blocks of ``n`` full-rate samples.

    Parameters
    ----------
    layout : BandLayout
    groups : sequence of (index, Group)
    n : int
        Block length in full-rate samples, a multiple of ``decimation`` and of
        every group's hop.
    decimation : int
        The block is sampled at ``sr / decimation``: its FFT length is
        ``size = n // decimation`` (bins keep their frequencies ``k * sr / n``).
    split : Split, optional
        For the high stage of a split: ``low_an`` and ``low_syn`` weigh bins
        ``0 .. n // (2 D)`` by the decimation filter, for the decimated low
        band's blocks of ``low_size = n // D`` samples.
    """

    def __init__(self, layout, groups, n, decimation=1, split=None):
        self.n = n
        self.decimation = decimation
        self.size = size = n // decimation  # FFT length
        half = size // 2 + 1
        B = layout.bins_per_octave
        members = {gi: [group.kind] if group.kind != "octave" else
                   list(range((gi - 1) * B, gi * B)) for gi, group in groups}
        # the bins the groups' windows reach (the band -> bin rule of _support_bins)
        spans = [_support_bins(layout, band, n, half) for gi in members for band in members[gi]]
        lo = min(a for a, _ in spans)
        hi = max(b for _, b in spans)
        if layout.gamma != 0:  # variable-Q: more than two windows overlap a bin
            bands = [band for gi in members for band in members[gi]]
            windows, sum_sq = layout.window_bins(n, lo, hi, bands, half)
            self._maps(layout, groups, members, n, lo, sum_sq,
                       lambda band: (windows[band][0] - lo, windows[band][1]))
            self._low_band(layout, n, split)
            return
        # every window on those bins in one pass, and sum(g**2) for the duals from the same
        # values, so that sum(g * dual) is 1 to rounding (docs/DESIGN.md, "Duals")
        k, lower, upper = layout.window_pairs(np.arange(lo, hi), n)
        sum_sq = lower * lower + upper * upper
        # bins of band j (-1: low-pass): bounds[j + 1] .. bounds[j + 2]
        bounds = np.searchsorted(k, np.arange(-1, layout.n_bands + 1)).tolist() + [len(k)]

        def window(band):
            """First bin (an offset from lo) and values of a band's window where it is not
            0: its rising half is the upper window on the bins of band j - 1 (0, then
            positive), its falling half the lower window on its own bins (positive,
            then 0 beyond the top band's)."""
            j = -1 if band == "lowpass" else layout.n_bands if band == "highpass" else band
            a, c, z = bounds[j] if j > -1 else bounds[0], bounds[j + 1], bounds[j + 2]
            if a < c and upper[a] == 0:
                a += int(np.searchsorted(upper[a:c], 0.0, side="right"))
            if j == layout.n_bands:
                z = c
            elif z > c and lower[z - 1] == 0:
                z = c + int(np.searchsorted(-lower[c:z], 0.0))
            return a, np.concatenate((upper[a:c], lower[c:z]))

        self._maps(layout, groups, members, n, lo, sum_sq, window)
        self._low_band(layout, n, split)

    def _maps(self, layout, groups, members, n, lo, sum_sq, window):
        """:attr:`maps` from ``window(band)`` (first bin as an offset from ``lo``, values)
        and ``sum(g**2)`` on the bins from ``lo``."""
        size = self.size
        self.maps = []
        for gi, group in groups:
            m = n // group.hop
            real = group.kind != "octave"
            pieces, gaps = [], []
            for row, band in enumerate(members[gi]):
                b0, g = window(band)
                dual = g / sum_sq[b0:b0 + len(g)]
                b0 += lo
                if real:
                    p, q = _real_pieces(b0, m, g / size, dual / m, row, group.name, n)
                else:
                    p, q = _complex_pieces(b0, m, g * (2.0 / size), dual / (2.0 * m), row,
                                           group.name, n)
                pieces += p
                gaps += q
            self.maps.append(GroupMap(gi, real, len(members[gi]), m, group.hop,
                                      tuple(pieces), tuple(gaps)))

    def _low_band(self, layout, n, split):
        size = self.size
        self.low_an = self.low_syn = self.low_size = None
        if split is not None:  # the decimation filter on bins 0 .. n / (2 D)
            d = split.decimation
            self.low_size = n // d
            h = passband(np.arange(n // (2 * d) + 1) * (layout.sr / n), split.f1, split.f2)
            self.low_an = h / size          # X H / n: irfft(n / D) gives the decimated block
            self.low_syn = h * (d / size)   # D H Z / n: interpolates the decimated block


class Analyzer:
    """One block forward, every channel at once, in reused plan buffers.

    Fill :attr:`input` (channels, size) and call :meth:`run`; then
    :attr:`outputs` holds each group's frames (channels, rows, m) and, for a
    stage that feeds a low stage, :attr:`low` the decimated low band
    (channels, size / D). Both are overwritten by the next block.
    """

    def __init__(self, plans, geo, channels):
        self.geo = geo
        self._rfft = plans.rfft_rows(channels, geo.size, "block")
        self.input = self._rfft.input_array
        self._plans, self._buffers, self.outputs = [], [], []
        for gm in geo.maps:
            if gm.real:
                plan = plans.irfft_rows(channels, gm.m, gm.index)
                self._buffers.append(plan.input_array[:, None, :])
                self.outputs.append(plan.output_array[:, None, :])
            else:
                plan = plans.ifft_rows(channels * gm.rows, gm.m, gm.plan_role(geo.maps))
                self._buffers.append(plan.input_array.reshape(channels, gm.rows, gm.m))
                self.outputs.append(plan.output_array.reshape(channels, gm.rows, gm.m))
            self._plans.append(plan)
        self._low = (None if geo.low_size is None else
                     plans.irfft_rows(channels, geo.low_size, "low"))
        self.low = None if self._low is None else self._low.output_array

    def run(self):
        self._rfft.execute()
        spec = self._rfft.output_array
        for gm, plan, buf in zip(self.geo.maps, self._plans, self._buffers):
            for row, b0, b1, where, conj, w, _ in gm.pieces:
                out = buf[:, row, where]
                np.multiply(spec[:, b0:b1], w, out=out)
                if conj:
                    np.conjugate(out, out=out)
            for row, where in gm.gaps:  # FFTW may overwrite its inputs: zero them each time
                buf[:, row, where] = 0
            plan.execute()
        if self._low is not None:
            k = len(self.geo.low_an)
            low = self._low.input_array
            np.multiply(spec[:, :k], self.geo.low_an, out=low[:, :k])
            low[:, k:] = 0
            self._low.execute()


class Synthesizer:
    """One block back, every channel at once, in reused plan buffers.

    Fill :attr:`inputs` (each group's frames, (channels, rows, m)) and, for a
    stage fed by a low stage, :attr:`low` (the decimated low band over the
    block, (channels, size / D)); :meth:`run` returns the block's samples
    (channels, size), overwritten by the next block.
    """

    def __init__(self, plans, geo, channels):
        self.geo = geo
        self._plans, self._buffers, self.inputs = [], [], []
        for gm in geo.maps:
            if gm.real:
                plan = plans.rfft_rows(channels, gm.m, gm.index)
                self.inputs.append(plan.input_array[:, None, :])
                self._buffers.append(plan.output_array[:, None, :])
            else:
                plan = plans.fft_rows(channels * gm.rows, gm.m, gm.plan_role(geo.maps))
                self.inputs.append(plan.input_array.reshape(channels, gm.rows, gm.m))
                self._buffers.append(plan.output_array.reshape(channels, gm.rows, gm.m))
            self._plans.append(plan)
        self._irfft = plans.irfft_rows(channels, geo.size, "block")
        longest = max((gm.longest_piece for gm in geo.maps), default=0)
        self._scratch = np.empty((channels, longest), complex)
        self._low = (None if geo.low_size is None else
                     plans.rfft_rows(channels, geo.low_size, "low"))
        self.low = None if self._low is None else self._low.input_array

    def run(self):
        acc = self._irfft.input_array
        acc[...] = 0
        for gm, plan, buf in zip(self.geo.maps, self._plans, self._buffers):
            plan.execute()
            for row, b0, b1, where, conj, _, w in gm.pieces:
                tmp = self._scratch[:, :b1 - b0]
                np.multiply(buf[:, row, where], w, out=tmp)
                if conj:
                    np.conjugate(tmp, out=tmp)
                acc[:, b0:b1] += tmp
        if self._low is not None:
            self._low.execute()
            z = self._low.output_array
            k = len(self.geo.low_syn)
            np.multiply(z[:, :k], self.geo.low_syn, out=z[:, :k])
            acc[:, :k] += z[:, :k]
        self._irfft.execute()
        return self._irfft.output_array


def _kernel_plans(kernel):
    """The FFTW plans an Analyzer or Synthesizer runs."""
    plans = list(kernel._plans)
    for name in ("_rfft", "_irfft", "_low"):
        plan = getattr(kernel, name, None)
        if plan is not None:
            plans.append(plan)
    return plans



def _plan_bytes(plan):
    a, b = plan.input_array, plan.output_array
    return a.nbytes + (0 if b is a or b.base is a else b.nbytes)



def _kernel_bytes(kernel):
    scratch = getattr(kernel, "_scratch", None)
    return 0 if scratch is None else scratch.nbytes



def _geometry_bytes(geo):
    """Bytes of a geometry's weights (its index maps are slices: small)."""
    total = 0
    for gm in geo.maps:
        for piece in gm.pieces:
            total += piece[5].nbytes + piece[6].nbytes + 64
    for extra in (geo.low_an, geo.low_syn):
        total += 0 if extra is None else extra.nbytes
    return total
