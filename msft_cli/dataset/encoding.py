"""How coefficients become a model's input planes, and back."""

import numpy as np

from msft_cli._checks import choice
from msft_cli.errors import ParameterError

ENCODINGS = ("complex", "realimag", "magnitude", "db", "ifreq")
#: Float types of the encoded planes (``Encoding(dtype=...)``).
PLANE_DTYPES = ("float32", "float64")

#: Quantum (radians) of the stored ``"ifreq"`` phase deviations: a power of two
#: small enough that a deviation (at most pi plus one quantum) is exact in float32,
#: so the decode's running sum in float64 is exact and errors never accumulate.
IF_QUANTUM = 2.0 ** -21


def _principal(x):
    """Angles wrapped to ``[-pi, pi]`` (``x - 2 pi round(x / 2 pi)``: faster than ``%``)."""
    return x - (2 * np.pi) * np.round(x * (0.5 / np.pi))


class Encoding:
    """How complex octave coefficients become real arrays for a model, and back.

    Every encoding maps one octave's complex array ``(..., channels, bins,
    frames)`` to an array ``(..., planes * channels, bins, frames)``: the
    planes of the encoding, each holding every channel (``[re ch0, re ch1, im
    ch0, im ch1]`` for ``"realimag"`` in stereo).

    Parameters
    ----------
    name : {"complex", "realimag", "magnitude", "db", "ifreq"}
        ``"complex"``: the coefficients themselves (1 complex plane; exact).
        ``"realimag"``: real and imaginary parts (2 planes; exact).
        ``"magnitude"``: ``|c|`` (1 plane). ``"db"``: ``20 log10(|c| / ref)``,
        floored at ``floor_db`` (1 plane). Both drop the phase: decode with the
        original phase (exact, and for ``"db"`` exact above the floor, while
        values at the floor decode to 0), or as magnitudes with zero phase.
        ``"ifreq"``: magnitude and instantaneous-frequency deviation (2 planes;
        exact up to float rounding, with the initial phases returned by
        :meth:`encode`). The deviation at frame ``t`` is the phase advance from
        frame ``t - 1`` minus the advance of a sine at the bin's centre
        frequency ``f`` over one hop ``h``, ``2 pi f h / sr``, wrapped to
        ``[-pi, pi]``, in radians per the octave's own hop; it is quantised to
        :data:`IF_QUANTUM` so that the decode's running sum is exact.
    ref : float
        Reference amplitude of 0 dB (1.0: dBFS), for ``"db"`` and ``magnitude="db"``.
    floor_db : float
        Lowest level kept, in dB relative to ``ref``; quieter values become the floor.
    magnitude : {"linear", "db"}
        Magnitude plane of ``"ifreq"``: linear (exact) or in dB (exact above the floor).
    dtype : {"float32", "float64"}
        Type of the encoded planes (complex64 or complex128 for ``"complex"``).

    Examples
    --------
    >>> import numpy as np
    >>> from msft_cli import MSFT
    >>> from msft_cli.dataset import Encoding
    >>> t = MSFT(22050, fmin=220.0)
    >>> c = t.forward(np.random.default_rng(0).standard_normal((1, 22050)), dtype="complex64")
    >>> enc = Encoding("ifreq")
    >>> planes, phase0 = enc.encode(c.groups[1:-1], t)
    >>> back = enc.decode(planes, t, phase0=phase0)
    >>> bool(np.allclose(back[2], c.groups[3], rtol=0, atol=1e-5))
    True
    """

    def __init__(self, name="realimag", ref=1.0, floor_db=-120.0, magnitude="linear",
                 dtype="float32"):
        choice("encoding", name, ENCODINGS)
        ref = float(ref)
        if not np.isfinite(ref) or ref <= 0:
            raise ParameterError(f"ref={ref:g} must be a positive amplitude")
        floor_db = float(floor_db)
        if not np.isfinite(floor_db):
            raise ParameterError(f"floor_db={floor_db:g} must be a finite level in dB")
        if magnitude not in ("linear", "db"):
            raise ParameterError(f"magnitude={magnitude!r} is unknown: must be linear or db")
        choice("dtype", dtype, PLANE_DTYPES)
        self.name, self.ref, self.floor_db = name, ref, floor_db
        self.magnitude, self.dtype = magnitude, np.dtype(dtype)

    @property
    def planes(self):
        """Planes per channel: 2 for ``"realimag"`` and ``"ifreq"``, else 1."""
        return 2 if self.name in ("realimag", "ifreq") else 1

    @property
    def exact(self):
        """Whether :meth:`decode` gives back the coefficients without the original phase."""
        return self.name in ("complex", "realimag") or (self.name == "ifreq"
                                                        and self.magnitude == "linear")

    @property
    def keeps_phase(self):
        """Whether the encoding holds the phase (``"magnitude"`` and ``"db"`` do not)."""
        return self.name not in ("magnitude", "db")

    @property
    def magnitude_like(self):
        """One plane growing with ``|c|``: can be pooled by its maximum on a coarser grid."""
        return self.name in ("magnitude", "db")

    def to_params(self):
        """The encoding's parameters as a dict (``Encoding(**params)`` inverts it)."""
        return {"name": self.name, "ref": self.ref, "floor_db": self.floor_db,
                "magnitude": self.magnitude, "dtype": self.dtype.name}

    def __repr__(self):
        return "Encoding(" + ", ".join(f"{k}={v!r}" for k, v in self.to_params().items()) + ")"

    def __eq__(self, other):
        return isinstance(other, Encoding) and self.to_params() == other.to_params()

    def __hash__(self):
        return hash(tuple(self.to_params().values()))

    # -- one octave ----------------------------------------------------------------------
    def _db(self, mag):
        """Levels in dB, the floor exactly ``floor_db`` (in the output type too)."""
        with np.errstate(divide="ignore"):
            db = 20.0 * np.log10(np.asarray(mag, np.float64) / self.ref)
        return np.maximum(db, self.floor_db)

    def _undb(self, db):
        """Magnitudes from levels; the floor (in the levels' type) and below give 0."""
        db = np.asarray(db)
        floor = np.asarray(self.floor_db).astype(db.dtype if db.dtype.kind == "f" else float)
        return np.where(db <= floor, 0.0, self.ref * 10.0 ** (db.astype(np.float64) / 20.0))

    def _advance(self, transform, octave):
        """Phase advance over one hop of a sine at each bin centre of an octave."""
        hop = transform.hops[octave]
        return 2 * np.pi * np.asarray(transform.frequencies[octave]) * hop / transform.sr

    def _encode(self, c, transform, octave, prev=0):
        """Planes ``(..., planes * channels, bins, frames)`` of one octave, and its initial
        phases ``(..., channels, bins)`` for ``"ifreq"`` (else None).

        ``c`` holds ``prev`` (0 or 1) frames before the first one encoded: with one,
        the first ``"ifreq"`` deviation is measured from it, else it is 0.
        """
        real, cplx = self.dtype, np.result_type(self.dtype, np.complex64)
        c = np.asarray(c)
        if self.name == "complex":
            return c[..., prev:].astype(cplx, copy=False), None
        if self.name == "realimag":
            c = c[..., prev:]
            return np.concatenate([c.real, c.imag], axis=-3).astype(real), None
        if self.name in ("magnitude", "db"):
            mag = np.abs(c[..., prev:])
            return (self._db(mag) if self.name == "db" else mag).astype(real), None
        mag = np.abs(c[..., prev:])
        channels, frames = c.shape[-3], mag.shape[-1]
        out = np.empty(c.shape[:-3] + (2 * channels,) + mag.shape[-2:], real)
        out[..., :channels, :, :] = self._db(mag) if self.magnitude == "db" else mag
        steps = out[..., channels:, :, :]
        phi = np.angle(c.astype(np.complex128))
        phase0 = phi[..., prev].astype(real)
        dev = np.diff(phi, axis=-1)
        dev -= self._advance(transform, octave)[:, None]
        dev = _principal(dev)
        # the unwrapped deviation since the first frame, on the quantum's grid: its
        # differences are exact in float32 and their running sum is exact in float64
        grid = np.cumsum(dev[..., prev:], axis=-1)
        grid *= 1.0 / IF_QUANTUM
        np.round(grid, out=grid)
        if frames > 1:
            steps[..., 1] = grid[..., 0]
            steps[..., 2:] = np.diff(grid, axis=-1)
            steps[..., 1:] *= IF_QUANTUM  # integers times a power of two: exact
        steps[..., 0] = (np.round(dev[..., 0] / IF_QUANTUM) * IF_QUANTUM) if prev else 0.0
        return out, phase0

    def _decode(self, x, transform, octave, phase=None, phase0=None):
        """Complex ``(..., channels, bins, frames)`` from one octave's planes."""
        cplx = np.result_type(self.dtype, np.complex64)
        x = np.asarray(x)
        if x.ndim < 3:
            raise ParameterError(f"octave {octave}: encoded array has shape {x.shape}: must "
                                 "be (..., planes * channels, bins, frames)")
        planes = x.shape[-3]
        if planes % self.planes:
            raise ParameterError(f"octave {octave}: {planes} planes is not a multiple of "
                                 f"{self.planes} ({self.name!r} has {self.planes} per channel)")
        half = planes // self.planes
        if self.name == "complex":
            return x.astype(cplx, copy=False)
        if self.name == "realimag":
            return (x[..., :half, :, :] + 1j * x[..., half:, :, :]).astype(cplx)
        if self.name in ("magnitude", "db"):
            mag = self._undb(x) if self.name == "db" else np.asarray(x, np.float64)
            if phase is None:
                return mag.astype(cplx)
            return (mag * np.exp(1j * np.asarray(phase, np.float64))).astype(cplx)
        mag = x[..., :half, :, :]
        mag = self._undb(mag) if self.magnitude == "db" else mag.astype(np.float64)
        steps = np.asarray(x[..., half:, :, :], np.float64).copy()
        steps[..., 0] = 0.0
        frames = np.arange(x.shape[-1])
        phi = np.cumsum(steps, axis=-1) + frames * self._advance(transform, octave)[:, None]
        if phase0 is not None:
            phi = phi + np.asarray(phase0, np.float64)[..., None]
        return (mag * np.exp(1j * phi)).astype(cplx)

    # -- every octave --------------------------------------------------------------------
    def encode(self, octaves, transform):
        """Encode complex octaves.

        Parameters
        ----------
        octaves : list of ndarray
            One complex array ``(..., channels, bins, frames)`` per octave, coarse
            to fine (``Coefficients.groups[1:-1]``, ``Crop.octaves``).
        transform : MSFT
            The transform they come from (``"ifreq"`` needs its hops and frequencies).

        Returns
        -------
        planes : list of ndarray
            ``(..., planes * channels, bins, frames)`` per octave.
        phase0 : list of ndarray or None
            ``"ifreq"``: the phase of each bin's first frame, ``(..., channels,
            bins)`` per octave (the first deviation is 0); else None.
        """
        out = [self._encode(c, transform, j) for j, c in enumerate(octaves)]
        planes = [p for p, _ in out]
        return planes, ([p0 for _, p0 in out] if self.name == "ifreq" else None)

    def decode(self, planes, transform, phase=None, phase0=None):
        """Complex octaves from encoded planes (a model's output as well as :meth:`encode`'s).

        Parameters
        ----------
        planes : list of array_like
            ``(..., planes * channels, bins, frames)`` per octave.
        transform : MSFT
        phase : list of array_like, optional
            ``"magnitude"``, ``"db"``: the phase in radians of every coefficient,
            ``(..., channels, bins, frames)`` per octave. Without it the
            coefficients are the magnitudes with zero phase.
        phase0 : list of array_like, optional
            ``"ifreq"``: the initial phases :meth:`encode` returned. Without them
            every bin starts at phase 0 (the same sound up to a phase per bin).

        Returns
        -------
        list of ndarray
            Complex ``(..., channels, bins, frames)`` per octave.
        """
        if phase is not None and self.name not in ("magnitude", "db"):
            raise ParameterError(f"phase applies to the magnitude and db encodings, not "
                                 f"{self.name!r}")
        if phase0 is not None and self.name != "ifreq":
            raise ParameterError(f"phase0 applies to the ifreq encoding, not {self.name!r}")
        for name, extra in (("phase", phase), ("phase0", phase0)):
            if extra is not None and len(extra) != len(planes):
                raise ParameterError(f"{name} has {len(extra)} arrays for {len(planes)} "
                                     "octaves")
        return [self._decode(x, transform, j,
                             None if phase is None else phase[j],
                             None if phase0 is None else phase0[j])
                for j, x in enumerate(planes)]


def _encoding(value):
    if isinstance(value, Encoding):
        return value
    if isinstance(value, str):
        return Encoding(value)
    raise TypeError(f"encoding must be a name or an Encoding, not {type(value).__name__}")
