"""Phase-gradient heuristic integration (PGHI): phases from magnitudes in one pass."""

import functools

import numpy as np

from msft_cli.engine.bands import window_shape
from msft_cli.phase.problem import DEFAULT_TOL_DB, _check_tol, _Problem

#: Samples of a window shape on ``-1 <= u <= 1`` for its variance (``window_gamma``).
_GAMMA_POINTS = 40001
#: Samples of a band's frequency response, over one bin on each side of its centre.
_LOBE_FREQUENCY_POINTS = 4001
#: Cycles from an impulse, ``0 .. 4 B``, at which the envelope is compared with the Gaussian.
_LOBE_CYCLE_POINTS = 961
#: Entries of the table from a neighbour ratio to an offset in bins (``_offset_table``).
_OFFSET_TABLE_POINTS = 8193
#: Cost of the edges that join known coefficients to the root: below every other edge (>= 1).
_PINNED_COST = 1e-3


@functools.lru_cache(maxsize=8)
def window_gamma(window):
    """``gamma = 1 / (2 pi var(w))`` of a window shape on ``-1 <= u <= 1`` (see the module)."""
    u = np.linspace(-1.0, 1.0, _GAMMA_POINTS)
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
    r = 2.0 ** np.linspace(-1.0 / B, 1.0 / B, _LOBE_FREQUENCY_POINTS)
    g = window_shape(window, np.abs(B * np.log2(r)))
    taus = np.linspace(0.0, 4.0 * B, _LOBE_CYCLE_POINTS)
    env = np.abs(np.exp(2j * np.pi * np.outer(taus, r)) @ (g * np.gradient(r)))
    env /= env[0]
    gauss = np.exp(-np.pi * (taus * np.log(2) / B) ** 2 / gamma)
    return float(taus[np.argmax(env < fit * gauss)])


def _offset_table(window):
    """``atan2(w(1 - u), w(u))`` for ``u`` in 0..1 (increasing): ratio to offset in bins."""
    u = np.linspace(0.0, 1.0, _OFFSET_TABLE_POINTS)
    return np.arctan2(window_shape(window, 1.0 - u), window_shape(window, u)), u


def _upsample(v, r=2):
    """A coarser octave's row at the times of the next octave's frames (``r`` times as
    many: 2, or 1 where variable-Q octaves share a hop, 4 ... never less)."""
    if r == 1:
        return v
    out = np.empty(r * len(v))
    nxt = np.roll(v, -1)
    for i in range(r):
        out[i::r] = v + (i / r) * (nxt - v)
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
    hops = [g.hop for g in t.groups if g.kind == "octave"]
    for j, s in enumerate(octaves):
        # neighbours at the same times: bins k - 1 and k + 1, across octave boundaries
        below, above = np.zeros_like(s), np.zeros_like(s)
        below[1:], above[:-1] = s[:-1], s[1:]
        if j > 0:
            below[0] = _upsample(octaves[j - 1][-1], hops[j - 1] // hops[j])
        if j + 1 < len(octaves):
            above[-1] = octaves[j + 1][0][0::hops[j] // hops[j + 1]]
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
    octave's bottom bin at frame ``r n``, r the ratio of their hops), so an edge's phase step follows from
    its ends alone: no table of edges is kept beyond the tree. ``known``
    (per octave, NaN where unknown) holds phases to keep: those coefficients
    hang from the root first, and the others integrate from them.
    """
    # scipy here, not at import: the CLI and conversions import this module
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import (
        breadth_first_order,
        connected_components,
        minimum_spanning_tree,
    )

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
            r = hops[j] // hops[j + 1]
            heads.append(idx[-1])
            tails.append((offsets[j + 1] + np.arange(0, r * m, r)).astype(index))
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
    cost = np.concatenate([cost, np.full(len(pinned), _PINNED_COST, np.float32)])
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
    phases = _pghi_phases(problem, _check_tol(tol_db), np.random.default_rng(seed))
    return problem.to_coefficients(problem.pin(problem.with_phases(phases)))
