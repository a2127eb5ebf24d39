"""Writing containers: streamed frames, whole coefficients, or arrays a model made."""

from pathlib import Path

import h5py
import numpy as np

from msft_cli._checks import choice, positive
from msft_cli._files import AtomicWrite
from msft_cli._version import __version__
from msft_cli.engine.coefficients import Coefficients
from msft_cli.engine.transform import MSFT
from msft_cli.errors import ContainerError, ParameterError
from msft_cli.io.container.format import (
    _CHUNK_BYTES,
    COMPRESSIONS,
    DTYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    MAGNITUDE_DTYPES,
    _check_storage,
    _group_names,
    _is_complex32,
    _storage_dtypes,
    _to_complex32,
    transform_attrs,
)

_FLOAT16_MAX = float(np.finfo(np.float16).max)


class Writer:
    """A container being written: datasets sized in advance, filled block by block.

    Use as a context manager; on an exception the temporary file is removed.

    Parameters
    ----------
    path : str or Path
        Final name of the container.
    transform : MSFT
    n_samples, n_channels : int
    dtype : {"complex64", "complex128", "complex32"} or {"float16", "float32"}
        Complex types for ``store="complex"``, real ones for ``"magnitude"``.
        Default: :data:`DEFAULT_DTYPES` of the store. complex32 stores float16
        real and imaginary parts (:data:`~msft_cli.io.container.format.COMPLEX32`)
        and float16 real bands.
    compression : {"none", "gzip", "lzf"}
    source : dict, optional
        ``name``, ``format`` and ``subtype`` of the audio it came from, and what
        was done to it (:meth:`msft_cli.io.resample.AudioReader.describe`:
        ``sample_rate``, ``n_channels``, ``start``, ``n_samples``,
        ``resample_quality``, ``downmix``).
    ranges : list of (first, count), optional
        Stored frames of each band group (default: :meth:`MSFT.frame_range`).
    extra_attrs : dict, optional
        More root attributes (strings and numbers), e.g. the provenance that
        :mod:`msft_cli.batch` records; they may not replace the standard ones.
    store : {"complex", "magnitude"}
        ``"magnitude"`` keeps ``|c|`` of the octave bins (frames written as
        complex are reduced to their absolute values) and the real low-/high-pass
        bands as they are (signed), all in ``dtype``.
    """

    def __init__(self, path, transform, n_samples, n_channels, dtype=None,
                 compression="none", source=None, ranges=None, extra_attrs=None,
                 store="complex"):
        dtype = _check_storage(store, dtype)
        self.store = store
        self.dtype_name = dtype
        #: what the octaves' frames are to be computed in (complex32 from complex64)
        self.dtype = np.dtype("complex64" if dtype == "complex32" else dtype)
        choice("compression", compression, COMPRESSIONS)
        for name, value in (("n_samples", n_samples), ("n_channels", n_channels)):
            positive(name, value)
        self.path = Path(path)
        self.transform = transform
        self._out = AtomicWrite(self.path, ContainerError)
        try:
            self._file = h5py.File(self._out.tmp, "w")
        except OSError as exc:
            raise self._out.failed(exc) from exc
        try:
            self._layout(transform, n_samples, n_channels, dtype, compression, source or {},
                         ranges, store)
            for key, value in (extra_attrs or {}).items():
                if key in self._file.attrs:
                    raise ParameterError(f"extra_attrs: {key!r} is a standard root attribute")
                self._file.attrs[key] = value
        except BaseException:
            self._file.close()
            self._out.discard()
            raise

    def _layout(self, transform, n_samples, n_channels, dtype, compression, source, ranges,
                store="complex"):
        """Root attributes and empty datasets of every band group."""
        f = self._file
        params = transform.to_params()
        f.attrs.update({
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            **transform_attrs(params), "n_samples": int(n_samples),
            "n_channels": int(n_channels),
            "period": transform.period(n_samples) if transform.mode == "periodic" else 0,
            "source_name": str(source.get("name", "")),
            "source_format": str(source.get("format", "")),
            "source_subtype": str(source.get("subtype", "")),
            "source_rate": int(source.get("sample_rate", 0)),
            "source_n_channels": int(source.get("n_channels", 0)),
            "source_start": int(source.get("start", 0)),
            "source_n_samples": int(source.get("n_samples", 0)),
            "resample_quality": str(source.get("resample_quality", "")),
            "downmix": str(source.get("downmix", "")),
            "msft_version": __version__, "coefficients": store,
        })
        self.datasets = []
        cdtype, rdtype = _storage_dtypes(dtype, store)
        for g, (name, spec) in enumerate(zip(_group_names(transform.n_octaves),
                                             transform.groups)):
            first, count = (transform.frame_range(g, n_samples) if ranges is None
                            else ranges[g])
            dt = cdtype if spec.kind == "octave" else rdtype
            per_frame = n_channels * spec.n_bins * dt.itemsize
            chunk = int(min(count, max(1, 1 << int(np.log2(max(1, _CHUNK_BYTES // per_frame))))))
            ds = f.create_dataset(
                name, shape=(n_channels, spec.n_bins, count), dtype=dt,
                chunks=(n_channels, spec.n_bins, chunk), fletcher32=True,
                compression=None if compression == "none" else compression)
            ds.attrs.update({"hop": spec.hop, "first_frame": first,
                             "first_frame_time": first * spec.hop / transform.sr,
                             "frequencies": spec.frequencies, "kind": spec.kind,
                             "extent": spec.extent})
            self.datasets.append(ds)

    def write(self, group, first_frame, frames):
        """Store frames (channels, bins, count) of a group starting at a global frame index."""
        ds = self.datasets[group]
        at = first_frame - int(ds.attrs["first_frame"])
        if self.store == "magnitude" and np.iscomplexobj(frames):
            frames = np.abs(frames) if ds.attrs["kind"] == "octave" else frames.real
        elif _is_complex32(ds.dtype):
            frames = _to_complex32(frames, self.path)
        elif self.dtype_name == "complex32":  # its real bands, float16
            _to_complex32(frames, self.path)  # the same overflow check
        if self.store == "magnitude" and ds.dtype == np.float16 and frames.size:
            peak = float(np.max(np.abs(frames)))  # float16 magnitudes: a small range
            if not peak <= _FLOAT16_MAX:
                raise ParameterError(f"{self.path}: values up to {peak:.3g} do not fit float16 "
                                     f"(largest {_FLOAT16_MAX:g}): store float32")
        ds[:, :, at:at + frames.shape[2]] = frames

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._out.finish(self._file, failed=exc_type is not None)


def save(coefficients, path, dtype=None, compression="none", source=None, store=None):
    """Write in-memory :class:`Coefficients` to a container (atomically).

    ``store`` defaults to ``"complex"`` for complex coefficients and to
    ``"magnitude"`` for magnitudes (real octave arrays, as a magnitude
    container's ``to_coefficients()`` gives); ``store="magnitude"`` of complex
    coefficients keeps their absolute values. ``dtype`` defaults to the
    coefficients' own (complex64 or complex128; float16 or float32
    magnitudes), else the store's default (:data:`DEFAULT_DTYPES`).
    """
    c = coefficients
    magnitudes = np.dtype(c.dtype).kind != "c"
    store = store or ("magnitude" if magnitudes else "complex")
    if store == "complex" and magnitudes:
        raise ParameterError("coefficients hold magnitudes only (real octave arrays): "
                             "store='complex' needs complex coefficients")
    if dtype is None:
        own = np.dtype(c.dtype).name
        dtype = own if own in (DTYPES if store == "complex" else MAGNITUDE_DTYPES) else None
    ranges = [(first, arr.shape[2]) for first, arr in zip(c.firsts, c.groups)]
    with Writer(path, c.transform, c.n_samples, c.n_channels, dtype, compression,
                source, ranges, store=store) as w:
        for g, arr in enumerate(c.groups):
            w.write(g, c.firsts[g], arr)
    return Path(path)


def save_arrays(path, transform, n_samples, octaves, lowpass=None, highpass=None,
                first_frames=None, store=None, dtype=None, compression="none", source=None):
    """Write a container from arrays a model produced: magnitudes or complex coefficients.

    The arrays are checked against the transform (one-line ``ParameterError``
    naming the argument, its shape and the expected one), so that the file
    works with ``msft resynth`` (magnitudes get their phase reconstructed) and
    ``msft render`` like any other.

    Parameters
    ----------
    path : str or Path
        Container to write (atomically).
    transform : MSFT or dict
        The transform the arrays belong to, or its parameters
        (:meth:`MSFT.to_params`, e.g. ``load(other).transform.to_params()``).
    n_samples : int
        Length of the signal the arrays stand for.
    octaves : sequence of array_like
        One array per octave, coarse to fine: ``(bins, frames)`` for one
        channel or ``(channels, bins, frames)``, all alike. Real non-negative
        values are magnitudes; complex values are coefficients.
    lowpass, highpass : array_like, optional
        The real bands, ``(1, frames)`` or ``(channels, 1, frames)`` like the
        octaves, signed as analysis gives them (a magnitude container keeps
        them so). Default: zeros (nothing below ``fmin`` or above the top bin).
    first_frames : sequence of int, optional
        Global index of the first frame of each group (low-pass, octaves,
        high-pass). Default: the frames :meth:`MSFT.frame_range` gives for
        ``n_samples``, whose counts the arrays must then have; when given,
        any count is accepted (frames not stored count as zero).
    store : {"complex", "magnitude"}, optional
        Default: ``"complex"`` for complex octaves, ``"magnitude"`` for real ones.
    dtype : str, optional
        As for :func:`save`.
    compression : {"none", "gzip", "lzf"}
    source : dict, optional
        ``name``, ``format``, ``subtype`` to record (default: empty).

    Returns
    -------
    Path

    Examples
    --------
    >>> import numpy as np
    >>> from msft_cli import MSFT, load, save_arrays
    >>> t = MSFT(16000, fmin=220.0)
    >>> c = t.forward(np.random.default_rng(0).standard_normal(16000))
    >>> mags = [np.abs(o) for o in c.octaves]           # what a model would output
    >>> path = save_arrays("/tmp/model.h5", t.to_params(), 16000, mags)  # doctest: +SKIP
    >>> load(path).store                                                   # doctest: +SKIP
    'magnitude'
    """
    if isinstance(transform, dict):
        transform = MSFT.from_params(transform)
    elif not isinstance(transform, MSFT):
        raise TypeError("transform must be an MSFT or its to_params() dict, not "
                        f"{type(transform).__name__}")
    c = _model_coefficients(transform, n_samples, octaves, lowpass, highpass, first_frames)
    return save(c, path, dtype, compression, source, store)


def _model_coefficients(transform, n_samples, octaves, lowpass, highpass, first_frames):
    """:func:`save_arrays`'s arrays checked against the transform, as Coefficients."""
    positive("n_samples", n_samples)
    J = transform.n_octaves
    octaves = [np.asarray(o) for o in octaves]
    if len(octaves) != J:
        raise ParameterError(f"octaves holds {len(octaves)} arrays: the transform has {J} "
                             "octaves")
    ndim = octaves[0].ndim
    if ndim not in (2, 3):
        raise ParameterError(f"octaves[0] has shape {octaves[0].shape}: must be (bins, "
                             "frames) or (channels, bins, frames)")
    channels = 1 if ndim == 2 else octaves[0].shape[0]
    n_groups = J + 2
    if first_frames is not None:
        first_frames = [int(f) for f in first_frames]
        if len(first_frames) != n_groups:
            raise ParameterError(f"first_frames holds {len(first_frames)} values: must be "
                                 f"{n_groups} (lowpass, {J} octaves, highpass)")
    arrays = []
    for g, spec in enumerate(transform.groups):
        name = "lowpass" if g == 0 else "highpass" if g == n_groups - 1 else f"octaves[{g - 1}]"
        given = lowpass if g == 0 else highpass if g == n_groups - 1 else octaves[g - 1]
        first, count = transform.frame_range(g, n_samples)
        if first_frames is not None:
            first = first_frames[g]
        if given is None:
            arrays.append((first, np.zeros((channels, spec.n_bins, count))))
        else:
            frames = None if first_frames is None else count
            arrays.append((first, _group_array(name, given, spec, channels, ndim, count,
                                               frames, n_samples)))
    _check_octave_kinds([a for _, a in arrays[1:-1]])
    if transform.mode == "periodic" and [(f, a.shape[2]) for f, a in arrays] != \
            [transform.frame_range(g, n_samples) for g in range(n_groups)]:
        raise ParameterError("periodic mode: every group must hold every frame of the period "
                             "from first frame 0")
    if len({a.dtype for _, a in arrays[1:-1]}) > 1:
        common = np.result_type(*[a.dtype for _, a in arrays[1:-1]])
        arrays[1:-1] = [(f, a.astype(common)) for f, a in arrays[1:-1]]
    groups = [a if spec.kind == "octave" else a.astype(np.float64, copy=False)
              for spec, (_, a) in zip(transform.groups, arrays)]
    return Coefficients(transform, int(n_samples), groups, mono=(ndim == 2),
                        firsts=[f for f, _ in arrays])


def _group_array(name, given, spec, channels, ndim, count, frames, n_samples):
    """One group's array, checked: its shape (``count`` frames, or any number when
    ``frames`` is not None), a number type, finite, real for the real bands; as
    ``(channels, rows, frames)``."""
    a = np.asarray(given)
    if frames is not None and a.ndim == ndim:
        count = a.shape[-1]
    want = ((channels,) if ndim == 3 else ()) + (spec.n_bins, count)
    if a.shape != want:
        layout = "(bins, frames)" if ndim == 2 else "(channels, bins, frames)"
        raise ParameterError(f"{name} has shape {a.shape}: must be {want} {layout} for "
                             f"{n_samples} samples")
    if a.dtype.kind not in "biufc":
        raise TypeError(f"{name} must be numeric, not {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"{name} holds NaN or Inf")
    if spec.kind != "octave" and a.dtype.kind == "c":
        raise ParameterError(f"{name} must be real (the band is a real waveform), not "
                             f"{a.dtype}")
    if spec.kind == "octave" and a.dtype.kind in "biu":
        a = a.astype(np.float64)
    return a.reshape((channels,) + a.shape[-2:])


def _check_octave_kinds(octaves):
    """The octaves are all complex coefficients, or all magnitudes (real, at least 0)."""
    kinds = {a.dtype.kind == "c" for a in octaves}
    if len(kinds) > 1:
        raise ParameterError("octaves mix complex and real arrays: give all coefficients or "
                             "all magnitudes")
    if kinds == {False}:
        for j, a in enumerate(octaves):
            if np.any(a < 0):
                raise ParameterError(f"octaves[{j}] holds negative values: magnitudes must "
                                     "be at least 0")
