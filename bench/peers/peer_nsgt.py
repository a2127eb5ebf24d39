"""nsgt (Grill's NSGT): ``CQ_NSGT`` on the whole signal, or ``NSGT_sliced`` (sliCQ).

Importing nsgt replaces ``numpy.fft`` with ``pyfftw.interfaces.numpy_fft`` for the
whole process when pyFFTW is installed (it is: msft needs it), which is why every
case runs in its own process.

nsgt 0.19 does not run on numpy 2 as released: ``nsgt/nsgfwin_sl.py`` does
``np.clip(M, min_win, np.inf, out=M)`` on an int array, and numpy 2's promotion
rules (NEP 50) make the result float64, which cannot be cast into ``out``
(``UFuncOutputCastingError: Cannot cast ufunc 'clip' output from dtype('float64')
to dtype('int64')``). :func:`fix_numpy2` mends this at run time, in this process
only: that module's ``np`` becomes a view of numpy whose ``clip`` drops an
infinite upper bound (a no-op bound) when writing into an integer array.
"""

import types
import warnings

import numpy as np

LIBRARY = "nsgt"
FIXES = []


def fix_numpy2():
    """Patch nsgt's one numpy-2 incompatibility, if this numpy has it (see above)."""
    import nsgt.nsgfwin_sl as sl
    probe = np.zeros(2, dtype=int)
    try:
        np.clip(probe, 4, np.inf, out=probe)
        return  # numpy 1.x: nothing to fix
    except (TypeError, ValueError):  # UFuncOutputCastingError is a TypeError
        pass

    def clip(a, a_min=None, a_max=None, out=None, **kwargs):
        if (out is not None and np.issubdtype(np.asarray(out).dtype, np.integer)
                and np.isscalar(a_max) and a_max == np.inf):
            a_max = None
        return np.clip(a, a_min, a_max, out=out, **kwargs)

    view = types.ModuleType("numpy_for_nsgt")
    view.__getattr__ = lambda name: getattr(np, name)  # module-level __getattr__ (PEP 562)
    view.clip = clip
    sl.np = view
    FIXES.append("nsgt.nsgfwin_sl.np.clip: no inf upper bound into int arrays (numpy 2)")


with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "falling back to numpy.fft" when pyFFTW is absent
    import nsgt
    import nsgt.fft
fix_numpy2()
from nsgt import CQ_NSGT, NSGT_sliced, OctScale  # noqa: E402


def version():
    return f"nsgt {_dist_version()} (FFT engine {nsgt.fft.ENGINE})"


def _dist_version():
    from importlib.metadata import version as v
    return v("nsgt")


def slice_length(scale, sr, shortest=2**16):
    """The shortest power-of-two slice (at least ``shortest``) whose windows nsgt does
    not have to truncate: nsgt warns "Q-factor too high" unless ``q < f * sl_len / (8 sr)``
    for every band."""
    f, q = scale()
    sl_len = shortest
    while np.any(q >= f * sl_len / (8.0 * sr)):
        sl_len *= 2
    return sl_len


class Transform:
    """One channel: ``CQ_NSGT(fmin, fmax, bins, sr, Ls=n, real=True)`` ("cq") or
    ``NSGT_sliced(OctScale(fmin, fmax, bins), sl_len, sl_len // 16, sr, real=True)``
    ("sliced"); plain list-of-arrays output (no matrix form, no reduced form)."""

    multichannel = False

    def __init__(self, sr, n_samples, channels, bins, fmin, fmax, variant="cq", **_):
        self.variant, self.n = variant, n_samples
        scale = OctScale(fmin, fmax, bins)
        self.bands = len(scale)
        self.top = float(scale()[0][-1])
        if variant == "cq":
            self.t = CQ_NSGT(fmin, fmax, bins, sr, n_samples, real=True)
            self.extra = {}
        else:
            sl_len = slice_length(scale, sr)
            self.t = NSGT_sliced(scale, sl_len, sl_len // 16, sr, real=True)
            self.extra = {"sl_len": sl_len, "tr_area": sl_len // 16}

    def adapt(self, x):
        return x

    def forward(self, x):
        if self.variant == "cq":
            return self.t.forward(x)
        return list(self.t.forward((x,)))

    def inverse(self, c):
        if self.variant == "cq":
            return self.t.backward(c)
        return np.concatenate(list(self.t.backward(c)))[:self.n]

    def count(self, c):
        if self.variant == "cq":
            return float(sum(a.size for a in c))
        return float(sum(a.size for piece in c for a in piece))

    def info(self):
        return dict(self.extra, fixes=FIXES)


def make(variant, **kw):
    return Transform(variant=variant, **kw)
