"""Phase retrieval's shared ground: names, defaults, and the problem on a periodic grid."""

import numpy as np

from msft_cli._checks import choice
from msft_cli.engine.coefficients import Coefficients
from msft_cli.engine.transform import MSFT
from msft_cli.errors import ParameterError

#: Initial phases :func:`reconstruct` knows by name.
INITS = ("pghi", "random", "zero")

#: Treatments of the real low-/high-pass bands.
REAL_BANDS = ("keep", "retrieve")

#: Fast Griffin-Lim's iterations by default (msft resynth --iterations).
DEFAULT_ITERATIONS = 100
#: Fast Griffin-Lim's momentum: librosa's 0.99 drifts on this less redundant frame; a neutral
#: STFT judge scored 0.9 up to 4-7 dB better (docs/DESIGN.md, "Phase reconstruction").
DEFAULT_MOMENTUM = 0.9
#: Coefficients this far below the largest (dB) get random phases in PGHI.
DEFAULT_TOL_DB = -80.0

#: Frames beyond the signal's edges whose magnitudes are this far below the largest
#: (dB) are left out of Griffin-Lim in "zero" mode (see ``_Problem``).
REACH_DB = -100.0

#: Magnitudes at or below this have no phase to keep (safe to divide by in float32).
_TINY = 1e-30


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
        choice("real_bands", real_bands, REAL_BANDS)
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


def _check_tol(tol_db):
    tol_db = float(tol_db)
    if not tol_db < 0:
        raise ParameterError(f"tol_db={tol_db:g} must be negative (dB below the largest "
                             "coefficient)")
    return tol_db


def _channel(c, ch):
    """One channel of coefficients, as coefficients of one channel."""
    if c.n_channels == 1:
        return c
    return Coefficients(c.transform, c.n_samples, [a[ch:ch + 1] for a in c.groups],
                        firsts=c.firsts)
