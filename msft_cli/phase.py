"""Phase reconstruction: a signal back from the magnitudes of its coefficients.

Two tools, meant to be used together:

:func:`pghi`
    A non-iterative estimate: phase-gradient heap integration (Prusa, Balazs
    and Sondergaard 2017; for filter banks, Prusa and Holighaus 2017) adapted
    to the octave grid. The phase's derivatives are estimated from the
    magnitudes and integrated over the lattice of every octave, starting from
    the largest coefficients.
:func:`reconstruct`
    Fast Griffin-Lim (Perraudin, Balazs and Sondergaard 2013): alternate
    projections onto the coefficients with the given magnitudes and onto the
    consistent coefficients (those of some signal), with momentum. It starts
    from :func:`pghi` by default, from random or zero phases on request, or
    from any complex coefficients.

Griffin-Lim runs on the exact transform pair: with the default ``"bump"``
window the frame is tight, so synthesis followed by analysis *is* the
orthogonal projection onto the consistent coefficients, with no approximation
(a peer's CQT/ICQT pair is not). One iteration costs one synthesis and one
analysis. ``"zero"``-mode coefficients are processed with a periodic twin of
the transform whose period holds the signal and the frames beyond its edges
that still hold magnitudes above :data:`REACH_DB`, so an iteration is one
block, a few seconds longer than the signal. Channels are reconstructed one
after the other, in complex64; :func:`resynthesize` does long containers in
overlapping segments (bounded memory).

What magnitudes can give back: the frame holds about 1.5 complex coefficients
per signal sample, so its magnitudes are about 1.6 real numbers per sample (the
real bands included), below the ``2N - 1`` magnitudes that guarantee, for
generic real frames, that they determine a signal of ``N`` samples up to its
sign (Balan, Casazza and Edidin 2006). Different signals can share nearly the
same magnitudes: Griffin-Lim can drive the spectral convergence far down on
one that a more redundant analysis (an 8x STFT, say) tells apart from the
original; ``bench/phase.py`` measures both. Starting from :func:`pghi`, whose
phases are coherent across time and frequency as natural sounds' are, lands
much closer.

The quality measure is the spectral convergence (:func:`spectral_convergence`),
``20 log10(|| |c(x_hat)| - s || / || s ||)``, in the norm for which the frame
is tight (each coefficient weighted by its group's share of the signal's
energy: ``hop / 2`` for an octave bin, ``hop`` for the real bands), so that it
measures the same thing in every octave whatever its hop.

Phase derivatives on the octave grid
------------------------------------
Octave bin ``k`` (centre ``f_k``) holds samples of the analytic band signal
``c_k(t) = (x * h_k)(t)``, ``h_k`` the band's filter, with an absolute phase
(a sine at ``f_k`` rotates at ``f_k``). If the band's window were a Gaussian,
``g_k(f) = exp(-pi lam_k (f - f_k)**2)``, the coefficients would be an
analytic function of ``t - i lam_k f`` times ``exp(-pi lam_k f**2)``, and
the Cauchy-Riemann equations give, with ``L = log|c|`` and phase ``phi``::

    d phi / dt = 2 pi f + (1 / lam) dL/df          (rad/s)
    d phi / df = -lam dL/dt                        (rad/Hz)

The windows are defined on a log-frequency axis, ``g_k(f) = w(u)`` with
``u = B log2(f / f_k)`` (``B`` bins per octave), so near ``f_k`` one bin is
``df = f_k ln2 / B`` and ``lam_k = gamma (B / (f_k ln 2))**2``, where
``gamma = 1 / (2 pi var(w))`` matches the window's second moment (1.503 for
``"bump"``, 1.218 for ``"hann"``). Per bin step, the frequency direction is then::

    d phi / dk = -(gamma B / (f_k ln 2)) dL/dt      (rad per bin)

It grows with the band's time extent (``B / f_k``, i.e. ``Q / f_k``): the
phase difference between neighbouring bins after an impulse at ``t0`` is
``2 pi (f_{k+1} - f_k)(t - t0)``, and ``t - t0`` is read off the slope of
the log-envelope, whose width scales with ``Q / f_k``. Time derivatives are
centred differences along each octave's frames (its own hop).

The bump's impulse response follows that Gaussian to within 5% only over
its main lobe (8.4 cycles of ``f_k`` from the impulse at 12 bins per octave,
:func:`main_lobe`; a zero follows near 16 cycles, and a side lobe at -16 dB),
so the time offset read from the slope is capped there.

The time direction needs ``dL/df``, and here the Gaussian model fails: the
windows have compact support (a sine lights exactly two bins, and ``log 0``
has no derivative). The window itself gives the exact answer instead: a sine
at ``u`` bins above ``f_k`` (``0 <= u <= 1``) gives ``|c_k| = A w(u)`` and
``|c_{k+1}| = A w(1 - u)``, and ``w(1 - u) / w(u)`` is increasing, so ``u``
follows from the ratio of the two magnitudes (inverted from a table of the
window). Each coefficient takes the ratio with its larger neighbour (``k - 1``
or ``k + 1``, the neighbour in the next octave at the same time, interpolated
between two frames of the coarser octave); as the other neighbour grows
(broadband sound, where all three are alike), the estimate moves towards the
Gaussian model's ``u = (L_{k+1} - L_{k-1}) / (4 pi gamma)``, weighted by the
ratio of the far neighbour to the near one; then::

    d phi / dt = 2 pi f_k 2**(u / B)               (rad/s)

exact for any stationary sinusoid, and right at an impulse (``u = 0``).

Integration: the coefficients above ``tol_db`` (relative to the channel's
largest) are the nodes of a graph whose edges join time neighbours (the same
bin, consecutive frames of its octave), frequency neighbours (bins ``k`` and
``k + 1`` at the same time, across octave boundaries too: frame ``n`` of
octave ``j`` and frame ``2n`` of octave ``j + 1``). PGHI's heap visits the
coefficients from the largest and gives each the phase of an already visited
neighbour plus the trapezoidal integral of the derivatives along their edge;
here the same idea is run in its offline form, in compiled code: the maximum
spanning tree of the graph with edge weights ``min(|c_a|, |c_b|)`` (the
integration path between any two coefficients then avoids small, unreliable
coefficients as much as possible), rooted at the largest coefficient of each
connected part, and the phases summed along it (pointer jumping). On the test
signals of ``tests/test_phase.py`` and the sample clips this matched a literal
heap (a Python ``heapq`` loop, 3x slower) within 0.3 dB of spectral
convergence on average. Coefficients below the tolerance get random phases.
Coefficients whose phases are known (a previous segment's, in
:func:`resynthesize`) hang from the root first, and the rest integrates from
them.

The real bands
--------------
The low-pass and high-pass bands are real waveforms, not analytic signals;
their "phase" is a sign. A magnitude container stores them unchanged (signed:
the sign costs no storage). With ``real_bands="keep"`` (default) they are used
as given and held fixed; with ``"retrieve"`` only their absolute values are
trusted, the initial sign is + (zero phase) and Griffin-Lim retrieves it.
"""

import functools

import numpy as np

from .errors import ParameterError
from .scales import window_shape
from .transform import MSFT, Coefficients

#: Initial phases :func:`reconstruct` knows by name.
INITS = ("pghi", "random", "zero")

#: Treatments of the real low-/high-pass bands.
REAL_BANDS = ("keep", "retrieve")

DEFAULT_ITERATIONS = 100
#: Fast Griffin-Lim's momentum. 0.99 (the STFT's usual choice, librosa's default) drives the
#: spectral convergence in this frame's own norm lowest, but on this less redundant frame it
#: drifts towards other signals with nearly the same magnitudes: on bench/phase.py's 3 s
#: signals, a neutral 8x STFT judge found 0.9 better by 4-7 dB on the chirp and the house
#: beat after 100 iterations, and equal (within 0.5 dB) elsewhere, while the frame's own
#: measure differed by at most 3 dB either way.
DEFAULT_MOMENTUM = 0.9
DEFAULT_TOL_DB = -80.0

#: ``resynthesize`` works on segments of this many seconds (bounded memory), overlapping by
#: ``OVERLAP_SECONDS``.
SEGMENT_SECONDS = 20.0
OVERLAP_SECONDS = 4.0

#: Frames beyond the signal's edges whose magnitudes are this far below the largest
#: (dB) are left out of Griffin-Lim in "zero" mode (see ``_Problem``).
REACH_DB = -100.0

#: Magnitudes at or below this have no phase to keep (safe to divide by in float32).
_TINY = 1e-30


# -- measuring ------------------------------------------------------------------
def group_weights(transform):
    """Energy weight of one coefficient of each group: ``hop / 2`` (octaves), ``hop`` (real).

    With them ``sum_g w_g * sum |c_g|**2 == ||x||**2`` for the default tight
    frame: the norm in which synthesis and analysis are adjoint.
    """
    return [g.hop / 2 if g.kind == "octave" else float(g.hop) for g in transform.groups]


def _aligned(coefficients, g, first, count):
    """Frames ``first .. first + count`` (global) of group ``g``; zeros where not stored."""
    a = coefficients.groups[g]
    have = coefficients.firsts[g]
    out = np.zeros(a.shape[:2] + (count,), a.dtype)
    lo, hi = max(first, have), min(first + count, have + a.shape[2])
    if hi > lo:
        out[:, :, lo - first:hi - first] = a[:, :, lo - have:hi - have]
    return out


def spectral_convergence(target, estimate):
    """Spectral convergence in dB of an estimate against target magnitudes.

    ``20 log10(|| |c(x_hat)| - |c| || / || |c| ||)`` over every stored
    coefficient (octaves and real bands), each weighted by its group's
    :func:`group_weights` so that the norm is the signal's energy norm.

    Parameters
    ----------
    target : Coefficients
        The magnitudes to reach (complex coefficients count by their absolute
        values; so do the real bands).
    estimate : Coefficients or array_like
        Coefficients of the same transform, or a signal ``([channels,]
        samples)`` of the target's length, which is analysed first.

    Returns
    -------
    float
        In dB; ``-inf`` for a perfect match.

    Examples
    --------
    >>> import numpy as np
    >>> from msft_cli import MSFT
    >>> from msft_cli.phase import spectral_convergence
    >>> t = MSFT(16000, fmin=220.0)
    >>> y = np.random.default_rng(0).standard_normal(8000)
    >>> spectral_convergence(t.forward(y), -y)   # a sign flip keeps every magnitude
    -inf
    """
    _check_coefficients(target, "target")
    if not isinstance(estimate, Coefficients):
        y = np.asarray(estimate)
        shape = (target.n_channels, target.n_samples)
        if y.shape != shape and not (target.n_channels == 1 and y.shape == shape[1:]):
            shape = shape[1:] if target.mono else shape
            raise ParameterError(f"estimate has shape {y.shape}: must be {shape}, the target's "
                                 "signal")
        estimate = target.transform.forward(y.astype(np.float64, copy=False))
    elif estimate.transform.to_params() != target.transform.to_params():
        raise ParameterError(f"estimate was made by {estimate.transform!r}, the target by "
                             f"{target.transform!r}")
    elif (estimate.n_samples, estimate.n_channels) != (target.n_samples, target.n_channels):
        raise ParameterError(
            f"estimate holds {estimate.n_channels} channel(s) x {estimate.n_samples} samples, "
            f"the target {target.n_channels} x {target.n_samples}")
    err = ref = 0.0
    for g, w in enumerate(group_weights(target.transform)):
        s = np.abs(target.groups[g])
        e = np.abs(_aligned(estimate, g, target.firsts[g], s.shape[2]))
        err += w * float(np.sum((e - s) ** 2))
        ref += w * float(np.sum(s * s))
    if err == 0:
        return float("-inf")
    if ref == 0:
        return float("inf")
    return float(10 * np.log10(err / ref))


# -- the problem on a periodic grid -----------------------------------------------
def _check_coefficients(c, name):
    if not isinstance(c, Coefficients):
        raise TypeError(f"{name} must be a Coefficients object, not {type(c).__name__}")


class _Problem:
    """Target magnitudes on the frames of a periodic twin transform, and the frame pair.

    ``"zero"`` mode: the twin's frames tile one period ``P >= n + 2 reach``
    holding the signal ``[0, n)`` and the frames within ``reach`` of it,
    ``reach`` being how far beyond the signal's edges the target still holds
    magnitudes above :data:`REACH_DB` of its largest (at most the transform's
    ``margin``, its 1e-8 filter extent). The twin's synthesis (truncated to
    ``[0, n)``) and analysis are then the original transform's, up to the
    filters' tails beyond ``reach``, which are as small as the magnitudes left
    out there: a few seconds instead of ``margin`` on each side, so a short clip
    costs a short period.
    """

    def __init__(self, magnitudes, real_bands, twin=None, fixed=None):
        _check_coefficients(magnitudes, "magnitudes")
        if real_bands not in REAL_BANDS:
            raise ParameterError(f"real_bands={real_bands!r} is unknown: must be one of "
                                 f"{', '.join(REAL_BANDS)}")
        t = self.transform = magnitudes.transform
        self.source = magnitudes
        self.n = n = magnitudes.n_samples
        self.channels = magnitudes.n_channels
        if t.mode == "periodic":
            if list(magnitudes.firsts) != [0] * len(t.groups) or \
                    [a.shape[2] for a in magnitudes.groups] != \
                    [t.frame_range(g, n)[1] for g in range(len(t.groups))]:
                raise ParameterError("periodic magnitudes must hold every frame of the period")
            self.twin = t
            self.period = t.period(n)
            reach = None
        else:
            self.twin = twin or MSFT.from_params({**t.to_params(), "mode": "periodic"},
                                                 threads=t.plans.threads,
                                                 planner=t.plans.planner)
            reach = self._reach(magnitudes)
            self.period = self.twin.period(n + 2 * reach)
        self.real = [g.kind != "octave" for g in t.groups]
        self.targets, self.places, self.given, self.fixed = [], [], [], []
        for g, (spec, given) in enumerate(zip(t.groups, magnitudes.groups)):
            values = np.asarray(given)
            if not np.all(np.isfinite(values)):
                raise ParameterError(f"magnitudes of {spec.name} hold NaN or Inf")
            if np.iscomplexobj(values):
                values = np.abs(values) if not self.real[g] else values.real
            elif not self.real[g] and np.any(values < 0):
                raise ParameterError(f"magnitudes of {spec.name} hold negative values")
            if real_bands == "retrieve" and self.real[g]:
                values = np.abs(values)
            m = self.period // spec.hop
            frames = magnitudes.firsts[g] + np.arange(values.shape[2])
            inside = np.ones(len(frames), bool) if reach is None else \
                (frames * spec.hop >= -reach) & (frames * spec.hop < n + reach)
            place = (np.flatnonzero(inside), frames[inside] % m)
            target = np.zeros((self.channels, spec.n_bins, m), np.float32)
            target[:, :, place[1]] = values[:, :, place[0]]
            self.targets.append(target)
            self.places.append(place)
            self.given.append(values)
            if fixed is not None:  # (coefficients in this layout, until): frames to keep
                known, until = fixed
                pick = place[0][frames[place[0]] * spec.hop < until]
                mask = np.zeros(m, bool)
                mask[frames[pick] % m] = True
                keep = np.zeros_like(target, np.float32 if self.real[g] else np.complex64)
                keep[:, :, frames[pick] % m] = known.groups[g][:, :, pick]
                self.fixed.append((mask, keep))
        self.retrieve = real_bands == "retrieve"

    def pin(self, groups):
        """Put the fixed coefficients in place (in place)."""
        for c, (mask, keep) in zip(groups, self.fixed):
            if mask.any():
                c[:, :, mask] = keep[:, :, mask]
        return groups

    @staticmethod
    def _reach(magnitudes):
        """Samples beyond each edge that hold magnitudes above REACH_DB of the largest."""
        t, n = magnitudes.transform, magnitudes.n_samples
        peaks = [np.abs(a).max(axis=(0, 1)) if a.size else np.zeros(0)
                 for a in magnitudes.groups]
        top = max((float(p.max()) for p in peaks if p.size), default=0.0)
        reach = 0
        for g, p in enumerate(peaks):
            hop = t.groups[g].hop
            at = (magnitudes.firsts[g] + np.arange(len(p))) * hop
            far = np.maximum(-at, at - (n - 1))[p > top * 10.0 ** (REACH_DB / 20)]
            if far.size:
                reach = max(reach, int(far.max()) + hop)
        h = t.hop_max
        return min(-(-reach // h) * h + h, t.margin + h)

    # -- the frame pair --------------------------------------------------------
    def synthesis(self, groups):
        """The signal ``(channels, n)`` of twin-layout coefficients."""
        c = Coefficients(self.twin, self.period, groups)
        return self.twin.inverse(c)[:, :self.n]

    def analysis(self, x):
        """Twin-layout coefficients (complex64, real bands float32) of a signal
        ``(channels, n)``, zero elsewhere."""
        padded = np.zeros((self.channels, self.period))
        padded[:, :self.n] = x
        return self.twin.forward(padded, dtype=np.complex64).groups

    def project(self, groups):
        """Give coefficients the target magnitudes, keeping their phases (signs); in place."""
        for g, (c, s) in enumerate(zip(groups, self.targets)):
            if self.real[g]:
                if self.retrieve:
                    np.copysign(s, c, out=c)
                else:
                    c[...] = s
                continue
            scale = np.abs(c)
            lost = scale <= _TINY  # no phase to keep: phase 0
            np.divide(s, scale, out=scale, where=~lost)
            scale[lost] = 0
            c *= scale
            if lost.any():
                c[lost] = s[lost]
        return self.pin(groups)

    def with_phases(self, phases):
        """Target magnitudes with the given octave phases (radians); real bands as set."""
        out = []
        for g, s in enumerate(self.targets):
            out.append(s.copy() if self.real[g] else
                       (s * np.exp(1j * phases[g])).astype(np.complex64))
        return out

    def to_coefficients(self, groups):
        """Twin-layout arrays back in the layout of the magnitudes given (complex64)."""
        src = self.source
        out = []
        for g, (arr, (index, pos)) in enumerate(zip(groups, self.places)):
            # frames out of reach keep their given magnitudes (phase 0)
            a = self.given[g].astype(np.float32 if self.real[g] else np.complex64)
            a[:, :, index] = arr[:, :, pos]
            out.append(a)
        return Coefficients(self.transform, self.n, out, mono=src.mono, firsts=src.firsts)


# -- phase-gradient integration ---------------------------------------------------------
@functools.lru_cache(maxsize=8)
def window_gamma(window):
    """``gamma = 1 / (2 pi var(w))`` of a window shape on ``-1 <= u <= 1`` (see the module)."""
    u = np.linspace(-1.0, 1.0, 40001)
    w = window_shape(window, np.abs(u))
    return float(1.0 / (2 * np.pi * (np.sum(u * u * w) / np.sum(w))))


@functools.lru_cache(maxsize=16)
def main_lobe(window, bins_per_octave, gamma=None, fit=0.95):
    """Cycles ``tau = f_k (t - t0)`` from an impulse within which a band's envelope is Gaussian.

    Every band's impulse response is one shape dilated by ``f_k`` (the
    windows are ``w(B log2(f / f_k))``); this is where its envelope first
    falls below ``fit`` times the Gaussian with ``gamma`` (8.4 cycles for the
    ``"bump"`` window at 12 bins per octave; its first zero is near 16).
    """
    gamma = window_gamma(window) if gamma is None else gamma
    B = bins_per_octave
    r = 2.0 ** np.linspace(-1.0 / B, 1.0 / B, 4001)
    g = window_shape(window, np.abs(B * np.log2(r)))
    taus = np.linspace(0.0, 4.0 * B, 961)
    env = np.abs(np.exp(2j * np.pi * np.outer(taus, r)) @ (g * np.gradient(r)))
    env /= env[0]
    gauss = np.exp(-np.pi * (taus * np.log(2) / B) ** 2 / gamma)
    return float(taus[np.argmax(env < fit * gauss)])


def _offset_table(window):
    """``atan2(w(1 - u), w(u))`` for ``u`` in 0..1 (increasing): ratio to offset in bins."""
    u = np.linspace(0.0, 1.0, 8193)
    return np.arctan2(window_shape(window, 1.0 - u), window_shape(window, u)), u


def _upsample(v):
    """A coarser octave's row at the times of the next octave's frames (twice as many)."""
    out = np.empty(2 * len(v))
    out[0::2] = v
    out[1::2] = 0.5 * (v + np.roll(v, -1))
    return out


def _derivatives(problem, ch, gamma, lobe):
    """Per octave of one channel: magnitudes, phase derivatives along time (rad/s) and
    along bins (rad/bin), in the twin layout."""
    t = problem.transform
    B = t.bins_per_octave
    octaves = [s[ch] for s, real in zip(problem.targets, problem.real) if not real]
    q, uu = _offset_table(t.window)
    top = max(float(np.max(s)) for s in octaves)
    floor = top * 1e-12 if top > 0 else 1.0
    cap = 2 * np.pi * np.log(2) * lobe / B
    d_time, d_bin = [], []
    for j, s in enumerate(octaves):
        # neighbours at the same times: bins k - 1 and k + 1, across octave boundaries
        below, above = np.zeros_like(s), np.zeros_like(s)
        below[1:], above[:-1] = s[:-1], s[1:]
        if j > 0:
            below[0] = _upsample(octaves[j - 1][-1])
        if j + 1 < len(octaves):
            above[-1] = octaves[j + 1][0][0::2]
        # offset in bins of the instantaneous frequency: exact for a sine from the window
        # (the larger neighbour), the Gaussian model's log-slope as the far one grows
        up = above >= below
        near, far = np.where(up, above, below), np.where(up, below, above)
        u = np.interp(np.arctan2(near, s), q, uu)
        ratio = far / np.maximum(near, floor)
        slope = np.log(above + floor) - np.log(below + floor)
        u = (1 - ratio) * np.where(up, u, -u) \
            + ratio * np.clip(slope / (4 * np.pi * gamma), -1.0, 1.0)
        f = t.frequencies[j][:, None]
        d_time.append(2 * np.pi * f * 2.0 ** (u / B))
        # along bins: -(gamma B / (f ln 2)) dL/dt, the time offset capped at the main lobe
        log = np.log(s + floor)
        hop = t.groups[j + 1].hop
        dldt = (np.roll(log, -1, axis=1) - np.roll(log, 1, axis=1)) * (t.sr / (2 * hop))
        d_bin.append(np.clip(-(gamma * B / (f * np.log(2))) * dldt, -cap, cap))
    return octaves, d_time, d_bin


def _integrate(octaves, d_time, d_bin, hops, sr, tol_db, rng, known=None):
    """Phases of every octave coefficient of one channel, integrated over a spanning tree.

    Nodes are numbered octave by octave, bin-major. An edge ``(lo, hi)`` with
    ``hi - lo == 1`` joins two frames of one bin (frequency edges join rows
    ``m >= 2`` apart, and an octave's top bin at frame ``n`` to the next
    octave's bottom bin at frame ``2n``), so an edge's phase step follows from
    its ends alone: no table of edges is kept beyond the tree. ``known``
    (per octave, NaN where unknown) holds phases to keep: those coefficients
    hang from the root first, and the others integrate from them.
    """
    # scipy here, not at import: the CLI and conversions import this module
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import (breadth_first_order, connected_components,
                                      minimum_spanning_tree)

    sizes = [s.size for s in octaves]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n_nodes = int(offsets[-1])
    mag = np.concatenate([s.ravel() for s in octaves])
    phase = rng.uniform(-np.pi, np.pi, n_nodes)
    fixed = np.zeros(n_nodes, bool)
    if known is not None:
        known = np.concatenate([k.ravel() for k in known])
        fixed = ~np.isnan(known)
        phase[fixed] = known[fixed]
    top = float(mag.max()) if n_nodes else 0.0
    if top <= 0:
        return [phase[offsets[j]:offsets[j + 1]].reshape(s.shape) for j, s in enumerate(octaves)]
    # the graph of the coefficients above the tolerance (and the known ones), renumbered
    # 0 .. count - 1; node `count` is the root
    where = np.flatnonzero((mag > top * 10.0 ** (tol_db / 20)) | fixed)
    count = root = len(where)
    index = np.int32 if n_nodes < 2**31 - 1 else np.int64
    number = np.full(n_nodes, -1, index)
    number[where] = np.arange(count, dtype=index)
    heads, tails = [], []
    for j, s in enumerate(octaves):
        rows, m = s.shape
        idx = (offsets[j] + np.arange(rows * m)).astype(index).reshape(rows, m)
        heads += [idx[:, :-1].ravel(), idx[:-1].ravel()]  # time, frequency
        tails += [idx[:, 1:].ravel(), idx[1:].ravel()]
        if j + 1 < len(octaves):  # top bin -> bottom bin of the next octave, same time
            heads.append(idx[-1])
            tails.append((offsets[j + 1] + np.arange(0, 2 * m, 2)).astype(index))
    a, b = number[np.concatenate(heads)], number[np.concatenate(tails)]
    del heads, tails
    use = (a >= 0) & (b >= 0)
    a, b = a[use], b[use]
    del use
    # maximum spanning tree of min(|c_a|, |c_b|): the minimum one of a decreasing cost (>= 1);
    # the known coefficients join the root at a cost below every other edge
    live = mag[where]
    weakest = np.maximum(np.minimum(live[a], live[b]), top * 1e-30)  # known ones may be 0
    cost = (1.0 + np.log(top) - np.log(weakest)).astype(np.float32)
    pinned = number[np.flatnonzero(fixed)]
    a = np.concatenate([a, pinned])
    b = np.concatenate([b, np.full(len(pinned), root)])
    cost = np.concatenate([cost, np.full(len(pinned), 1e-3, np.float32)])
    tree = minimum_spanning_tree(csr_matrix((cost, (a, b)), shape=(count + 1, count + 1)))
    tree = tree.tocoo()
    del a, b, cost
    lo, hi = np.minimum(tree.row, tree.col), np.maximum(tree.row, tree.col)
    to_root = hi == root
    lo, hi = lo[~to_root], hi[~to_root]
    # each edge's phase step from lo to hi: the trapezoid of the derivatives at its ends
    wt = np.concatenate([w.ravel() for w in d_time])[where]
    wb = np.concatenate([w.ravel() for w in d_bin])[where]
    dt = np.concatenate([np.full(n, hop / sr) for n, hop in zip(sizes, hops)])[where]
    along_time = where[hi] - where[lo] == 1
    delta = np.where(along_time, 0.5 * (wt[lo] + wt[hi]) * dt[lo], 0.5 * (wb[lo] + wb[hi]))
    del wt, wb, dt
    # every part of the forest without a known coefficient hangs from the root by its
    # largest coefficient
    _, labels = connected_components(tree, directed=False)
    order = np.lexsort((-np.append(live, np.inf), labels))
    first = np.ones(count + 1, bool)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    roots = order[first]
    roots = roots[labels[roots] != labels[root]]
    del order, first, labels
    ends = np.concatenate([pinned, roots])
    graph = csr_matrix((np.ones(2 * (len(lo) + len(ends)), np.float32),
                        (np.concatenate([lo, hi, np.full(len(ends), root), ends]),
                         np.concatenate([hi, lo, ends, np.full(len(ends), root)]))),
                       shape=(count + 1, count + 1))
    _, parent = breadth_first_order(graph, root, directed=False, return_predecessors=True)
    del graph
    parent[root] = root
    # the step from each node's parent: +delta along (lo -> hi), -delta against it
    step = np.zeros(count + 1)
    down = parent[hi] == lo
    step[hi[down]] = delta[down]
    step[lo[~down]] = -delta[~down]
    step[ends] = phase[where[ends]]  # known phases, and random ones for the other parts
    # add up the steps to the root by pointer jumping over the nodes not yet done
    todo = np.flatnonzero(parent[:count] != root)
    while len(todo):
        up = parent[todo]
        step[todo] += step[up]
        parent[todo] = parent[up]
        todo = todo[parent[todo] != root]
    phase[where] = step[:count]
    return [phase[offsets[j]:offsets[j + 1]].reshape(s.shape) for j, s in enumerate(octaves)]


def _pghi_phases(problem, tol_db, rng, gamma=None):
    """Octave phases (twin layout, per group; ``None`` for the real bands)."""
    t = problem.transform
    gamma = window_gamma(t.window) if gamma is None else gamma
    lobe = main_lobe(t.window, t.bins_per_octave, gamma)
    hops = [g.hop for g in t.groups if g.kind == "octave"]
    per_channel = []
    for ch in range(problem.channels):
        octaves, d_time, d_bin = _derivatives(problem, ch, gamma, lobe)
        known = None
        if problem.fixed:
            known = [np.where(mask, np.angle(keep[ch]), np.nan)
                     for real, (mask, keep) in zip(problem.real, problem.fixed) if not real]
        per_channel.append(_integrate(octaves, d_time, d_bin, hops, t.sr, tol_db, rng, known))
    phases, j = [], 0
    for real in problem.real:
        if real:
            phases.append(None)
        else:
            phases.append(np.stack([p[j] for p in per_channel]))
            j += 1
    return phases


def _check_init(init, magnitudes):
    if isinstance(init, Coefficients) and (
            init.transform.to_params() != magnitudes.transform.to_params()
            or (init.n_samples, init.n_channels) != (magnitudes.n_samples,
                                                     magnitudes.n_channels)):
        raise ParameterError(f"init holds {init.n_channels} channel(s) x {init.n_samples} "
                             f"samples by {init.transform!r}: must match the magnitudes "
                             f"({magnitudes.n_channels} x {magnitudes.n_samples} by "
                             f"{magnitudes.transform!r})")


def _initial(problem, init, seed, tol_db):
    """The starting coefficients (twin layout): target magnitudes with the initial phases,
    and the fixed coefficients in place."""
    rng = np.random.default_rng(seed)
    if isinstance(init, Coefficients):
        _check_init(init, problem.source)
        phases = []
        for g, (index, pos) in enumerate(problem.places):
            if problem.real[g]:
                phases.append(None)
                continue
            a = _aligned(init, g, problem.source.firsts[g], problem.source.groups[g].shape[2])
            p = np.zeros(problem.targets[g].shape)
            p[:, :, pos] = np.angle(a[:, :, index])
            phases.append(p)
    elif init == "pghi":
        phases = _pghi_phases(problem, tol_db, rng)
    elif init == "random":
        phases = [None if r else rng.uniform(-np.pi, np.pi, s.shape)
                  for r, s in zip(problem.real, problem.targets)]
    elif init == "zero":
        phases = [None if r else np.zeros(s.shape) for r, s in zip(problem.real, problem.targets)]
    else:
        raise ParameterError(f"init={init!r} is unknown: must be one of {', '.join(INITS)} or "
                             "complex Coefficients")
    return problem.pin(problem.with_phases(phases))


# -- public functions ---------------------------------------------------------------
def pghi(magnitudes, tol_db=DEFAULT_TOL_DB, real_bands="keep", seed=0):
    """Phases from magnitudes without iterating: phase-gradient heap integration.

    Parameters
    ----------
    magnitudes : Coefficients
        The magnitudes: octave arrays real and non-negative (or complex, whose
        absolute values are taken); the real bands signed as analysis gives
        them (see ``real_bands``).
    tol_db : float
        Coefficients more than this far below the channel's largest (in dB,
        negative) get random phases instead of integrated ones. Default -80.
    real_bands : {"keep", "retrieve"}
        Keep the low-/high-pass values as given, or take their absolute
        values with a + sign.
    seed : int or None
        Seed of the random phases.

    Returns
    -------
    Coefficients
        complex64, with the given magnitudes and the estimated phases:
        ``.inverse()`` is the signal. The same as ``reconstruct(magnitudes, 0)``
        (which does the channels one at a time, each with its own seed).

    Examples
    --------
    >>> import numpy as np
    >>> from msft_cli import MSFT
    >>> from msft_cli.phase import pghi, spectral_convergence
    >>> t = MSFT(16000, fmin=220.0, mode="periodic")
    >>> time = np.arange(16000) / 16000
    >>> c = t.forward(np.sin(2 * np.pi * (300 * time + 400 * time ** 2)))
    >>> spectral_convergence(c, pghi(c).inverse()) < -15
    True
    """
    problem = _Problem(magnitudes, real_bands)
    return problem.to_coefficients(_initial(problem, "pghi", seed, _check_tol(tol_db)))


def _check_tol(tol_db):
    tol_db = float(tol_db)
    if not tol_db < 0:
        raise ParameterError(f"tol_db={tol_db:g} must be negative (dB below the largest "
                             "coefficient)")
    return tol_db


def _check_iterations(iterations):
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)):
        raise TypeError(f"iterations must be an int, not {type(iterations).__name__}")
    if iterations < 0:
        raise ParameterError(f"iterations={iterations} must be at least 0")
    return int(iterations)


def _check_momentum(momentum):
    momentum = float(momentum)
    if not 0 <= momentum <= 1.5:
        raise ParameterError(f"momentum={momentum:g} is out of range: must be between 0 and "
                             "1.5 (0: plain Griffin-Lim)")
    return momentum


def _iterate(problem, c, momentum):
    """Fast Griffin-Lim in the twin layout: yields the magnitude-true iterate after each step.

    ``t_n = P1(c_{n-1})`` (synthesis then analysis: the consistent part),
    ``c_n = P2(t_n + momentum (t_n - t_{n-1}))`` (the target magnitudes).
    Three coefficient arrays are alive at a time; a yielded one is never
    written to again.
    """
    previous = None
    while True:
        consistent = problem.analysis(problem.synthesis(c))
        if previous is None:
            c = [x.copy() for x in consistent]
        else:
            for p, x in zip(previous, consistent):  # p <- x + momentum (x - p), in p
                p -= x
                p *= -momentum
                p += x
            c = previous
        previous = consistent
        yield problem.project(c)


def iter_reconstruct(magnitudes, init="pghi", momentum=DEFAULT_MOMENTUM, real_bands="keep",
                     seed=0, tol_db=DEFAULT_TOL_DB):
    """Fast Griffin-Lim step by step: yields the estimate after 0, 1, 2, ... iterations.

    Same parameters as :func:`reconstruct` (without ``iterations``). Each
    item is complex :class:`Coefficients` with the target magnitudes; its
    ``.inverse()`` is the signal after that many iterations. The generator
    never ends: stop when you like.
    """
    problem = _Problem(magnitudes, real_bands)
    momentum = _check_momentum(momentum)
    c = _initial(problem, init, seed, _check_tol(tol_db))
    yield problem.to_coefficients(c)
    for c in _iterate(problem, c, momentum):
        yield problem.to_coefficients(c)


def reconstruct(magnitudes, iterations=DEFAULT_ITERATIONS, init="pghi",
                momentum=DEFAULT_MOMENTUM, real_bands="keep", seed=0, tol_db=DEFAULT_TOL_DB,
                progress=None):
    """Coefficients with the given magnitudes and phases that make them (nearly) consistent.

    Parameters
    ----------
    magnitudes : Coefficients
        The magnitudes to reach: octave arrays real and non-negative (or
        complex: their absolute values are used), the real bands signed (see
        ``real_bands``). For example ``Container.to_coefficients()`` of a
        magnitude container, or a model's output (:func:`msft_cli.save_arrays`).
    iterations : int
        Fast Griffin-Lim iterations (each one synthesis and one analysis);
        0 returns the initial estimate.
    init : {"pghi", "random", "zero"} or Coefficients
        Initial phases: phase-gradient integration (:func:`pghi`), uniform
        random, zero, or the phases of complex coefficients of the same
        transform and signal length (to continue an earlier run).
    momentum : float
        Fast Griffin-Lim's inertia ``alpha`` (0: plain Griffin-Lim). Default 0.9
        (:data:`DEFAULT_MOMENTUM`).
    real_bands : {"keep", "retrieve"}
        Keep the low-/high-pass bands as given (default; a magnitude container
        stores them signed), or trust only their absolute values and retrieve
        the signs.
    seed : int or None
        Seed of the random phases.
    tol_db : float
        :func:`pghi`'s tolerance.
    progress : callable, optional
        ``progress(done, total)`` after each iteration; channels are
        reconstructed one after the other, ``total = iterations * channels``.

    Returns
    -------
    Coefficients
        complex64 octaves with the target magnitudes (the real bands float32):
        ``.inverse()`` is the signal.

    Examples
    --------
    >>> import numpy as np
    >>> from msft_cli import MSFT
    >>> from msft_cli.phase import reconstruct, spectral_convergence
    >>> t = MSFT(16000, fmin=220.0, mode="periodic")
    >>> time = np.arange(16000) / 16000
    >>> y = np.sin(2 * np.pi * (300 * time + 400 * time ** 2))   # a chirp
    >>> c = t.forward(y)
    >>> y_hat = reconstruct(c, iterations=20).inverse()
    >>> spectral_convergence(c, y_hat) < -20
    True
    """
    iterations = _check_iterations(iterations)
    momentum = _check_momentum(momentum)
    tol_db = _check_tol(tol_db)
    _check_coefficients(magnitudes, "magnitudes")
    _check_init(init, magnitudes)
    return _reconstruct(magnitudes, iterations, init, momentum, real_bands, seed, tol_db,
                        progress)


def _reconstruct(magnitudes, iterations, init, momentum, real_bands, seed, tol_db, progress,
                 fixed=None, twin=None, signal=False):
    """:func:`reconstruct` without the checks; ``fixed`` = (complex coefficients in the
    magnitudes' layout, until): frames before sample ``until`` keep those values.

    With ``signal``, returns ``(coefficients, y, analysed)``: also the signal
    (float64, channels first) and its coefficients, both by the periodic twin.
    """
    channels, parts, ys, analysed = magnitudes.n_channels, [], [], []
    total = iterations * channels
    for ch in range(channels):  # channels are independent: one at a time, in less memory
        keep = None if fixed is None else (_channel(fixed[0], ch), fixed[1])
        problem = _Problem(_channel(magnitudes, ch), real_bands, twin, keep)
        twin = problem.twin
        start = _channel(init, ch) if isinstance(init, Coefficients) else init
        c = _initial(problem, start, None if seed is None else [seed, ch], tol_db)
        if iterations:
            steps = _iterate(problem, c, momentum)
            for done in range(1, iterations + 1):
                c = next(steps)
                if progress is not None:
                    progress(ch * iterations + done, total)
        parts.append(problem.to_coefficients(c).groups)
        if signal:
            y = problem.synthesis(c)
            ys.append(y.astype(np.float64))
            analysed.append(problem.to_coefficients(problem.analysis(y)).groups)
        del problem, c
    groups = [np.concatenate([p[g] for p in parts]) for g in range(len(parts[0]))]
    result = Coefficients(magnitudes.transform, magnitudes.n_samples, groups,
                          mono=magnitudes.mono, firsts=magnitudes.firsts)
    if not signal:
        return result
    again = [np.concatenate([p[g] for p in analysed]) for g in range(len(groups))]
    return result, np.concatenate(ys), Coefficients(magnitudes.transform, magnitudes.n_samples,
                                                    again, firsts=magnitudes.firsts)


def _channel(c, ch):
    """One channel of coefficients, as coefficients of one channel."""
    if c.n_channels == 1:
        return c
    return Coefficients(c.transform, c.n_samples, [a[ch:ch + 1] for a in c.groups],
                        firsts=c.firsts)


def _errors(target, estimate, lo=-np.inf, hi=np.inf):
    """Weighted squared error and reference of a spectral convergence (see there), over the
    frames at samples ``lo <= time < hi``."""
    err = ref = 0.0
    for g, (w, spec) in enumerate(zip(group_weights(target.transform), target.transform.groups)):
        s = np.abs(target.groups[g])
        e = np.abs(_aligned(estimate, g, target.firsts[g], s.shape[2]))
        at = (target.firsts[g] + np.arange(s.shape[2])) * spec.hop
        inside = (at >= lo) & (at < hi)
        err += w * float(np.sum((e - s)[:, :, inside] ** 2))
        ref += w * float(np.sum(s[:, :, inside] ** 2))
    return err, ref


def resynthesize(container, iterations=DEFAULT_ITERATIONS, init="pghi", progress=None,
                 segment=SEGMENT_SECONDS, overlap=OVERLAP_SECONDS):
    """Audio from a magnitude container (what ``msft resynth`` does with one).

    Signals longer than ``segment + overlap`` seconds are reconstructed a
    segment at a time, so memory stays bounded whatever the
    length: segment ``k`` covers ``[k S, (k + 1) S + O)`` (``S``, ``O`` rounded
    to the coarsest hop) with the frames up to ``O / 4`` beyond it (the
    signal's own tails beyond its first and last sample); its coefficients
    before ``k S + O / 2`` are fixed to the previous segment's result (the
    phase integration starts from them, Griffin-Lim keeps them), so the phases
    carry on, and the two signals are cross-faded (raised cosine) over
    ``[k S + O / 8, k S + 3 O / 8)``, where they agree. On test signals this
    reaches the spectral convergence of one reconstruction of the whole, or
    better. ``"periodic"`` containers are done whole.

    Parameters
    ----------
    container : Container
        An open magnitude container.
    iterations, init : int, str
        As for :func:`reconstruct`.
    progress : callable, optional
        ``progress(done, total)`` in iterations, over every segment and channel.
    segment, overlap : float
        Seconds per segment (at least ``overlap``), and of overlap between two.

    Returns
    -------
    blocks : iterator of (int, ndarray)
        ``(start_sample, float64 (channels, samples))`` in order, as
        :meth:`msft_cli.container.Container.iter_audio` yields them.
    measured : dict
        ``iterations``, ``phase_init``, and (once ``blocks`` is exhausted)
        ``spectral_convergence_db`` of the result against the magnitudes
        (accumulated segment by segment: each segment's signal alone against
        the frames of the part of the output it gives, from the middle of one
        overlap to the middle of the next).
    """
    iterations = _check_iterations(iterations)
    if init not in INITS:
        raise ParameterError(f"init={init!r} is unknown: must be one of {', '.join(INITS)}")
    if not float(overlap) > 0 or not float(segment) >= float(overlap):
        raise ParameterError(f"segment={segment:g} s and overlap={overlap:g} s: the overlap "
                             "must be positive and the segment at least as long")
    t, n = container.transform, container.n_samples
    h = t.hop_max
    overlap = max(1, int(round(float(overlap) * t.sr / (8 * h)))) * 8 * h
    step = max(overlap, int(round(float(segment) * t.sr / h)) * h)
    measured = {"iterations": iterations, "phase_init": init}
    if t.mode == "periodic" or n <= step + overlap:
        magnitudes = container.to_coefficients()
        y = reconstruct(magnitudes, iterations, init, progress=progress).inverse()
        measured["spectral_convergence_db"] = spectral_convergence(magnitudes, y)
        return iter([(0, y.astype(np.float64))]), measured
    return _segments(container, iterations, init, progress, step, overlap, measured), measured


def _segments(container, iterations, init, progress, step, overlap, measured):
    t, n = container.transform, container.n_samples
    count = -(-(n - overlap) // step)
    names = ["lowpass"] + list(range(t.n_octaves)) + ["highpass"]
    fade = overlap // 4  # cross-fade over [O/8, 3 O/8), where this segment is pinned
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
    err = ref = 0.0
    previous, tail = None, None
    twin = MSFT.from_params({**t.to_params(), "mode": "periodic"}, threads=t.plans.threads,
                            planner=t.plans.planner)  # one for all segments
    for k in range(count):
        start = k * step
        stop = n if k == count - 1 else min(n, start + step + overlap)
        length = stop - start
        # frames beyond an inner edge hold the neighbouring music, which this segment
        # cannot explain: a quarter of an overlap of them; beyond the signal's edges, its
        # tails
        before = t.margin if k == 0 else overlap // 4
        after = t.margin if k == count - 1 else overlap // 4
        firsts, groups = [], []
        for g, spec in enumerate(t.groups):
            lo = -(-(start - before) // spec.hop)
            hi = (stop - 1 + after) // spec.hop + 1
            groups.append(container.read_frames(names[g], lo, hi))
            firsts.append(lo - start // spec.hop)
        magnitudes = Coefficients(t, length, groups, firsts=firsts)
        fixed = None
        if previous is not None:  # the previous result, moved to this segment's frames
            shift = [step // spec.hop for spec in t.groups]
            moved = Coefficients(t, previous.n_samples, previous.groups,
                                 firsts=[f - d for f, d in zip(previous.firsts, shift)])
            known = [_aligned(moved, g, firsts[g], a.shape[2]) for g, a in enumerate(groups)]
            fixed = (Coefficients(t, length, known, firsts=firsts), overlap // 2)

        def report(done, total, k=k):
            if progress is not None:
                progress(k * total + done, count * total)
        result, y, analysed = _reconstruct(magnitudes, iterations, init, DEFAULT_MOMENTUM,
                                           "keep", [0, k], DEFAULT_TOL_DB, report, fixed, twin,
                                           signal=True)
        core = (overlap // 4 if k else -np.inf, step + overlap // 4 if k < count - 1 else np.inf)
        e, r = _errors(magnitudes, analysed, *core)
        err, ref = err + e, ref + r
        # out: the previous tail cross-faded into this segment over [O/8, 3 O/8)
        if tail is None:
            body = y
        else:
            a = overlap // 8
            mixed = tail[:, a:a + fade] * ramp[::-1] + y[:, a:a + fade] * ramp
            yield start, np.concatenate([tail[:, :a], mixed], axis=1)
            start, body = start + a + fade, y[:, a + fade:]
        if k < count - 1:
            keep = step - (start - k * step)  # up to the next segment's start
            yield start, body[:, :keep]
            tail = body[:, keep:]
        else:
            yield start, body
        previous = result
    measured["spectral_convergence_db"] = (float("-inf") if err == 0 else
                                           float(10 * np.log10(err / ref)) if ref else
                                           float("inf"))
