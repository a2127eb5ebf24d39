"""The HDF5 container: writing, lazy loading and summaries (the only module that imports h5py).

Layout (format ``"msft"``, version 1; see docs/FORMAT.md):

* root attributes: ``format``, ``format_version``, ``sample_rate``,
  ``n_samples``, ``n_channels``, the transform's parameters (``fmin``,
  ``bins_per_octave``, ``n_octaves``, ``tuning``, ``window``, ``mode``,
  ``period``), the source's ``source_name``, ``source_format`` and
  ``source_subtype``, ``msft_version``, and ``coefficients`` (``"complex"``,
  or ``"magnitude"`` for a magnitude-only container);
* datasets ``lowpass``, ``octave_0`` .. ``octave_<J-1>``, ``highpass``, each
  ``(channels, bins, frames)``, chunked along time with a Fletcher-32 checksum
  per chunk (corruption is detected on read), with attributes ``hop``,
  ``first_frame``, ``first_frame_time`` and ``frequencies``.

Files are written under a temporary name in the target folder and renamed when
complete, so no half-written file ever carries the final name.
"""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ._version import __version__
from .audio import publish
from .errors import ContainerError, ParameterError
from .transform import MSFT, Coefficients

FORMAT_NAME = "msft"
FORMAT_VERSION = 1
DTYPES = ("complex64", "complex128")
#: What a container stores: complex coefficients, or their magnitudes only.
STORES = ("complex", "magnitude")
#: Types of a magnitude-only container's datasets.
MAGNITUDE_DTYPES = ("float16", "float32")
#: The dtype of each store when none is given.
DEFAULT_DTYPES = {"complex": "complex64", "magnitude": "float16"}
COMPRESSIONS = ("none", "gzip", "lzf")

_CHUNK_BYTES = 1 << 17


def _group_names(n_octaves):
    return ["lowpass"] + [f"octave_{j}" for j in range(n_octaves)] + ["highpass"]


def _check_storage(store, dtype):
    """The dtype to store (the store's default for ``None``), or a ParameterError."""
    if store not in STORES:
        raise ParameterError(f"store={store!r} is unknown: must be one of {', '.join(STORES)}")
    if dtype is None:
        return DEFAULT_DTYPES[store]
    if store == "complex" and dtype not in DTYPES:
        raise ParameterError(f"dtype={dtype!r} is unknown: must be one of {', '.join(DTYPES)}")
    if store == "magnitude" and dtype not in MAGNITUDE_DTYPES:
        raise ParameterError(f"dtype={dtype!r} does not fit store='magnitude': must be one of "
                             f"{', '.join(MAGNITUDE_DTYPES)}")
    return dtype


class Writer:
    """A container being written: datasets sized in advance, filled block by block.

    Use as a context manager; on an exception the temporary file is removed.

    Parameters
    ----------
    path : str or Path
        Final name of the container.
    transform : MSFT
    n_samples, n_channels : int
    dtype : {"complex64", "complex128"} or {"float16", "float32"}
        Complex types for ``store="complex"``, real ones for ``"magnitude"``.
        Default: :data:`DEFAULT_DTYPES` of the store.
    compression : {"none", "gzip", "lzf"}
    source : dict, optional
        ``name``, ``format`` and ``subtype`` of the audio it came from.
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
        self.dtype = np.dtype(dtype)  # of the octaves' datasets
        if compression not in COMPRESSIONS:
            raise ParameterError(f"compression={compression!r} is unknown: must be one of "
                                 f"{', '.join(COMPRESSIONS)}")
        for name, value in (("n_samples", n_samples), ("n_channels", n_channels)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ContainerError(f"{self.path}: the folder {self.path.parent} does not exist")
        if self.path.is_dir():
            raise ContainerError(f"{self.path}: is a folder")
        self.transform = transform
        self._tmp = None
        try:
            fd, self._tmp = tempfile.mkstemp(dir=self.path.parent,
                                             prefix=f".{self.path.name}.", suffix=".part")
            os.close(fd)
            self._file = h5py.File(self._tmp, "w")
        except OSError as exc:
            self._discard()
            raise ContainerError(f"{self.path}: cannot write ({exc.strerror or exc})") from exc
        try:
            self._layout(transform, n_samples, n_channels, dtype, compression, source or {},
                         ranges, store)
            for key, value in (extra_attrs or {}).items():
                if key in self._file.attrs:
                    raise ParameterError(f"extra_attrs: {key!r} is a standard root attribute")
                self._file.attrs[key] = value
        except BaseException:
            self._file.close()
            self._discard()
            raise

    def _layout(self, transform, n_samples, n_channels, dtype, compression, source, ranges,
                store="complex"):
        """Root attributes and empty datasets of every band group."""
        f = self._file
        params = transform.to_params()
        f.attrs.update({
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "sample_rate": params["sr"], "n_samples": int(n_samples),
            "n_channels": int(n_channels), "fmin": params["fmin"],
            "bins_per_octave": params["bins_per_octave"], "n_octaves": params["n_octaves"],
            "tuning": params["tuning"], "window": params["window"], "mode": params["mode"],
            "period": transform.period(n_samples) if transform.mode == "periodic" else 0,
            "source_name": str(source.get("name", "")),
            "source_format": str(source.get("format", "")),
            "source_subtype": str(source.get("subtype", "")),
            "msft_version": __version__, "coefficients": store,
        })
        self.datasets = []
        cdtype = np.dtype(dtype)
        rdtype = np.dtype(cdtype.char.lower()) if store == "complex" else cdtype
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
        ds[:, :, at:at + frames.shape[2]] = frames

    def _discard(self):
        if self._tmp is not None:
            Path(self._tmp).unlink(missing_ok=True)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self._file.close()
        finally:
            if exc_type is None:
                publish(self._tmp, self.path)
                self._tmp = None
            else:
                self._discard()


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
            w.write(g, c.first_frame(g), arr)
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
        try:
            transform = MSFT.from_params(transform)
        except KeyError as exc:
            raise ParameterError(f"transform parameters lack {exc.args[0]!r}: give "
                                 "MSFT.to_params()'s dict") from None
    elif not isinstance(transform, MSFT):
        raise TypeError("transform must be an MSFT or its to_params() dict, not "
                        f"{type(transform).__name__}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) \
            or n_samples < 1:
        raise ParameterError(f"n_samples={n_samples!r} must be a positive integer")
    J, B = transform.n_octaves, transform.bins_per_octave
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
    layout = "(bins, frames)" if ndim == 2 else "(channels, bins, frames)"
    arrays = []
    for g, spec in enumerate(transform.groups):
        name = "lowpass" if g == 0 else "highpass" if g == n_groups - 1 else f"octaves[{g - 1}]"
        given = lowpass if g == 0 else highpass if g == n_groups - 1 else octaves[g - 1]
        first, count = transform.frame_range(g, n_samples)
        if first_frames is not None:
            first = first_frames[g]
        if given is None:
            arrays.append((first, np.zeros((channels, spec.n_bins, count))))
            continue
        a = np.asarray(given)
        frames = a.shape[-1] if first_frames is not None and a.ndim == ndim else count
        want = ((channels,) if ndim == 3 else ()) + (spec.n_bins, frames)
        if a.shape != want:
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
        arrays.append((first, a.reshape((channels,) + a.shape[-2:])))
    kinds = {a.dtype.kind == "c" for _, a in arrays[1:-1]}
    if len(kinds) > 1:
        raise ParameterError("octaves mix complex and real arrays: give all coefficients or "
                             "all magnitudes")
    if kinds == {False}:
        for j, (_, a) in enumerate(arrays[1:-1]):
            if np.any(a < 0):
                raise ParameterError(f"octaves[{j}] holds negative values: magnitudes must "
                                     "be at least 0")
    if transform.mode == "periodic" and [(f, a.shape[2]) for f, a in arrays] != \
            [transform.frame_range(g, n_samples) for g in range(n_groups)]:
        raise ParameterError("periodic mode: every group must hold every frame of the period "
                             "from first frame 0")
    if len({a.dtype for _, a in arrays[1:-1]}) > 1:
        common = np.result_type(*[a.dtype for _, a in arrays[1:-1]])
        arrays[1:-1] = [(f, a.astype(common)) for f, a in arrays[1:-1]]
    groups = [a if spec.kind == "octave" else a.astype(np.float64, copy=False)
              for spec, (_, a) in zip(transform.groups, arrays)]
    c = Coefficients(transform, int(n_samples), groups, mono=(ndim == 2),
                     firsts=[f for f, _ in arrays])
    return save(c, path, dtype, compression, source, store)


@dataclass
class Crop:
    """Coefficients of a time range, read from a container.

    Attributes
    ----------
    start, end : float
        The range asked for, in seconds.
    octaves : list of ndarray
        Complex ``(channels, bins, frames)`` per octave, coarse to fine.
    times : list of ndarray
        Frame times in seconds per octave.
    lowpass, highpass : ndarray
        The real residual bands' frames in the range ``(channels, 1, frames)``.
    frequencies : list of ndarray
        Centre frequencies per octave.
    """

    start: float
    end: float
    octaves: list
    times: list
    lowpass: np.ndarray
    highpass: np.ndarray
    frequencies: list

    def magnitude_db(self, ref=1.0, floor_db=-120.0):
        """Magnitudes in dB relative to ``ref`` (1.0 = full scale), floored, per octave."""
        return [_db(o, ref, floor_db) for o in self.octaves]


def _db(values, ref=1.0, floor_db=-120.0):
    mag = np.abs(values) / ref
    with np.errstate(divide="ignore"):
        return np.maximum(20 * np.log10(mag), floor_db)


class Container:
    """A lazily read container; make it with :func:`load`. Use as a context manager.

    Attributes
    ----------
    path : Path
    transform : MSFT
        The transform the coefficients were made with.
    sr, n_samples, n_channels : int
    source : dict
        The source file's ``name``, ``format`` and ``subtype``.
    attrs : dict
        All root attributes.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise ContainerError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise ContainerError(f"{self.path}: is a folder, not a container")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise ContainerError(f"{self.path}: not an HDF5 file (corrupt or another "
                                 "format)") from exc
        try:
            self._open()
        except Exception:
            self._file.close()
            raise

    def _open(self):
        try:
            a = self.attrs = {k: _plain(v) for k, v in self._file.attrs.items()}
        except (OSError, RuntimeError) as exc:
            raise ContainerError(f"{self.path}: incomplete or corrupt container (unreadable "
                                 f"attributes: {exc})") from exc
        fmt = a.get("format")
        if fmt is None:
            raise ContainerError(f"{self.path}: not an msft container (no format attribute)")
        if fmt != FORMAT_NAME:
            raise ContainerError(f"{self.path}: not an msft container (format attribute is "
                                 f"{fmt!r}, expected {FORMAT_NAME!r})")
        version = a.get("format_version")
        if isinstance(version, bool) or not isinstance(version, (int, np.integer)) \
                or version < 1:
            raise ContainerError(f"{self.path}: format_version {version!r} is not a positive "
                                 "integer")
        if version > FORMAT_VERSION:
            raise ContainerError(f"{self.path}: format version {version} is newer than this "
                                 f"msft reads ({FORMAT_VERSION}): upgrade msft")
        try:
            self.transform = MSFT(
                int(a["sample_rate"]), fmin=float(a["fmin"]),
                bins_per_octave=int(a["bins_per_octave"]), n_octaves=int(a["n_octaves"]),
                tuning=float(a["tuning"]), window=str(a["window"]), mode=str(a["mode"]))
            self.sr = int(a["sample_rate"])
            self.n_samples = int(a["n_samples"])
            self.n_channels = int(a["n_channels"])
            names = _group_names(self.transform.n_octaves)
            self._datasets = [self._file[name] for name in names]
        except (KeyError, ValueError, TypeError) as exc:
            raise ContainerError(f"{self.path}: incomplete or corrupt container ({exc})") \
                from exc
        #: stored (first global frame, frame count) of each band group
        self.ranges = []
        for ds, spec in zip(self._datasets, self.transform.groups):
            try:
                first, hop = int(ds.attrs["first_frame"]), int(ds.attrs["hop"])
            except (KeyError, TypeError, ValueError, OSError, RuntimeError) as exc:
                raise ContainerError(f"{self.path}: dataset {ds.name} lacks its first_frame "
                                     "or hop attribute") from exc
            expected = (self.n_channels, spec.n_bins)
            if ds.ndim != 3 or ds.shape[:2] != expected:
                raise ContainerError(f"{self.path}: dataset {ds.name} has shape {ds.shape}, "
                                     f"expected ({expected[0]}, {expected[1]}, frames)")
            if hop != spec.hop:
                raise ContainerError(f"{self.path}: dataset {ds.name} has hop {hop}, the "
                                     f"parameters give {spec.hop}")
            self.ranges.append((first, ds.shape[2]))
        if self.transform.mode == "periodic" and self.ranges != [
                self.transform.frame_range(g, self.n_samples)
                for g in range(len(self._datasets))]:
            raise ContainerError(f"{self.path}: periodic container does not hold every frame "
                                 "of its period")
        self.source = {k: str(a.get(f"source_{k}", "")) for k in ("name", "format", "subtype")}
        #: ``"complex"``, or ``"magnitude"`` for magnitudes only (files without the
        #: ``coefficients`` attribute predate it and are complex)
        self.store = str(a.get("coefficients", "complex"))
        if self.store not in STORES:
            raise ContainerError(f"{self.path}: coefficients attribute is {self.store!r}, "
                                 f"expected one of {', '.join(STORES)}")
        for ds in self._datasets[1:-1]:
            if (ds.dtype.kind == "c") != (self.store == "complex"):
                raise ContainerError(f"{self.path}: dataset {ds.name} is {ds.dtype}, but the "
                                     f"container says it stores {self.store} coefficients")

    # -- structure -----------------------------------------------------------
    @property
    def duration(self):
        return self.n_samples / self.sr

    @property
    def n_octaves(self):
        return self.transform.n_octaves

    @property
    def octaves(self):
        """The octave datasets, coarse to fine: lazy ``(channels, bins, frames)`` arrays."""
        return self._datasets[1:-1]

    @property
    def lowpass(self):
        return self._datasets[0]

    @property
    def highpass(self):
        return self._datasets[-1]

    @property
    def dtype(self):
        return self._datasets[1].dtype

    @property
    def frequencies(self):
        """Centre frequencies in Hz, one array per octave."""
        return self.transform.frequencies

    @property
    def hops(self):
        """Hop in samples of each octave."""
        return self.transform.hops

    def _group(self, which):
        if which in ("lowpass", "highpass"):
            return 0 if which == "lowpass" else len(self._datasets) - 1
        if isinstance(which, (int, np.integer)) and 0 <= which < self.n_octaves:
            return int(which) + 1
        raise ParameterError(f"octave={which!r} does not exist: must be 0..{self.n_octaves - 1}"
                             " or 'lowpass' or 'highpass'")

    def frame_times(self, octave):
        """Times in seconds of the frames of an octave (or ``"lowpass"``/``"highpass"``)."""
        g = self._group(octave)
        first, count = self.ranges[g]
        return (first + np.arange(count)) * self.transform.groups[g].hop / self.sr

    # -- reading -------------------------------------------------------------
    def _frame_slice(self, g, start, end):
        """Stored frame positions of group ``g`` with times in ``[start, end]``."""
        first, count = self.ranges[g]
        hop = self.transform.groups[g].hop
        lo = np.ceil(start * self.sr / hop - 1e-9) - first
        hi = np.floor(end * self.sr / hop + 1e-9) - first + 1
        return int(np.clip(lo, 0, count)), int(np.clip(hi, 0, count))

    def crop(self, start=None, end=None):
        """The frames with times in ``[start, end]`` seconds, reading only those chunks.

        Defaults cover everything stored (frames reach beyond the signal's edges).
        """
        start = -np.inf if start is None else float(start)
        end = np.inf if end is None else float(end)
        if not end >= start:
            raise ParameterError(f"end={end:g} must not be before start={start:g}")
        arrays, times = [], []
        for g, ds in enumerate(self._datasets):
            lo, hi = self._frame_slice(g, start, end)
            first = self.ranges[g][0]
            hop = self.transform.groups[g].hop
            arrays.append(_read(ds, lo, hi) if hi > lo else
                          np.zeros(ds.shape[:2] + (0,), ds.dtype))
            times.append((first + np.arange(lo, max(hi, lo))) * hop / self.sr)
        return Crop(start, end, arrays[1:-1], times[1:-1], arrays[0], arrays[-1],
                    self.frequencies)

    def magnitude_db(self, octave, ref=1.0, floor_db=-120.0):
        """One octave's magnitudes in dB relative to ``ref`` (1.0 = full scale, dBFS)."""
        ds = self._datasets[self._group(octave)]
        return _db(_read(ds, 0, ds.shape[2]), ref, floor_db)

    def image(self, start=None, end=None, hop=None, channel="mix", db=True, floor_db=-120.0):
        """All octaves on one time grid as a single 2-D array ``(bins, frames)``.

        Grid cell ``m`` is centred on time ``m * hop / sr``. Octaves finer than
        the grid are pooled (largest magnitude of the frames within half a step
        of the centre, so a short click survives); coarser ones hold each frame
        over the cells nearest to it.

        Parameters
        ----------
        start, end : float, optional
            Time range in seconds (default: the signal, 0 .. duration).
        hop : int, optional
            Grid step in samples, a power of two between the finest and the
            coarsest octave hop (default: the finest).
        channel : int or "mix"
            A channel index, or ``"mix"`` for the largest magnitude over channels.
        db : bool
            Magnitudes in dBFS (floored at ``floor_db``) or linear.

        Returns
        -------
        image : ndarray (n_octaves * bins_per_octave, frames), low frequencies first
        times : ndarray (frames,), seconds: the cells' centres
        frequencies : ndarray (n_octaves * bins_per_octave,), Hz
        """
        hops = self.hops
        hop = hops[-1] if hop is None else hop
        if isinstance(hop, bool) or not isinstance(hop, (int, np.integer)) \
                or not hops[-1] <= hop <= hops[0] or hop & (hop - 1):
            raise ParameterError(f"hop={hop} must be a power of two between {hops[-1]} and "
                                 f"{hops[0]}")
        if channel != "mix" and (isinstance(channel, bool)
                                 or not isinstance(channel, (int, np.integer))
                                 or not 0 <= channel < self.n_channels):
            raise ParameterError(f"channel={channel!r} does not exist: the container has "
                                 f"{self.n_channels} channel(s) (0..{self.n_channels - 1}) "
                                 "or 'mix'")
        start = 0.0 if start is None else float(start)
        end = self.duration if end is None else float(end)
        if not end > start:
            raise ParameterError(f"the range {start:g}..{end:g} s is empty")
        n0 = int(np.floor(start * self.sr / hop))
        n1 = max(n0 + 1, int(np.ceil(end * self.sr / hop)))
        rows = []
        for j, ds in enumerate(self.octaves):
            h = hops[j]
            first = self.ranges[j + 1][0]
            if h >= hop:  # coarser: each cell takes the nearest frame
                ratio = h // hop
                nearest = (np.arange(n0, n1) + ratio // 2) // ratio
                lo = int(nearest[0])
                a = _read_frames(ds, lo - first, int(nearest[-1]) + 1 - first)
                mag = np.abs(a[:, :, nearest - lo])
            else:  # finer: the largest magnitude within half a cell of its centre
                ratio = hop // h
                lo = n0 * ratio - ratio // 2
                a = _read_frames(ds, lo - first, n1 * ratio - ratio // 2 - first)
                mag = np.abs(a).reshape(a.shape[0], a.shape[1], n1 - n0, ratio).max(axis=3)
            rows.append(mag.max(axis=0) if channel == "mix" else mag[channel])
        img = np.concatenate(rows, axis=0)
        if db:
            img = _db(img, 1.0, floor_db)
        times = np.arange(n0, n1) * hop / self.sr
        return img, times, np.concatenate(self.frequencies)

    def to_coefficients(self):
        """Everything, read into memory as :class:`Coefficients`."""
        groups = [_read(ds, 0, ds.shape[2]) for ds in self._datasets]
        return Coefficients(self.transform, self.n_samples, groups,
                            firsts=[first for first, _ in self.ranges])

    def iter_audio(self):
        """Resynthesize block by block: yields ``(start_sample, (channels, samples))``.

        A magnitude container has no phases to resynthesize from: ContainerError
        (see :func:`msft_cli.phase.reconstruct`, or ``msft resynth``).
        """
        if self.store == "magnitude":
            raise ContainerError(f"{self.path}: holds magnitudes only: reconstruct the phases "
                                 "(msft_cli.phase.reconstruct, or msft resynth)")

        def read_frames(g, lo, hi):
            first = self.ranges[g][0]
            return _read(self._datasets[g], lo - first, hi - first)

        return self.transform.iter_inverse(read_frames, self.n_samples, self.n_channels,
                                           self.ranges)

    def to_audio(self):
        """The signal back, float64 ``(channels, samples)``."""
        out = np.empty((self.n_channels, self.n_samples))
        for start, block in self.iter_audio():
            out[:, start:start + block.shape[1]] = block
        return out

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"<msft Container {self.path.name}: {self.duration:.2f} s, {self.sr} Hz, "
                f"{self.n_channels} ch, {self.n_octaves} octaves x "
                f"{self.transform.bins_per_octave} bins>")

    def read_frames(self, octave, first, stop):
        """Frames with global indices ``first .. stop - 1`` of an octave (or ``"lowpass"`` /
        ``"highpass"``): ``(channels, bins, stop - first)``, reading only the chunks they
        overlap; frames not stored are zero (used by :mod:`msft_cli.dataset`)."""
        g = self._group(octave)
        if not stop >= first:
            raise ParameterError(f"stop={stop} must not be before first={first}")
        ds = self._datasets[g]
        lo, hi = int(first) - self.ranges[g][0], int(stop) - self.ranges[g][0]
        a, b = max(lo, 0), min(hi, ds.shape[2])
        inside = a == lo and b == hi
        out = (np.empty if inside else np.zeros)(ds.shape[:2] + (hi - lo,), ds.dtype)
        if b > a:  # straight into ``out``: one copy fewer than slicing
            try:
                ds.read_direct(out, np.s_[:, :, a:b], np.s_[:, :, a - lo:b - lo])
            except (OSError, RuntimeError) as exc:
                raise ContainerError(f"{ds.file.filename}: cannot read {ds.name} (corrupt "
                                     f"data: {exc})") from exc
        return out


def _plain(value):
    """An attribute as a plain Python value: (byte) strings as str, numpy scalars unwrapped."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read(ds, lo, hi):
    """Frames ``lo:hi`` (stored positions) of a dataset; unreadable data is a ContainerError."""
    try:
        return ds[:, :, lo:hi]
    except (OSError, RuntimeError) as exc:
        raise ContainerError(f"{ds.file.filename}: cannot read {ds.name} (corrupt data: "
                             f"{exc})") from exc


def _read_frames(ds, lo, hi):
    """Frames ``lo:hi`` of a dataset (positions), zeros where outside what is stored."""
    out = np.zeros(ds.shape[:2] + (hi - lo,), ds.dtype)
    a, b = max(lo, 0), min(hi, ds.shape[2])
    if b > a:
        out[:, :, a - lo:b - lo] = _read(ds, a, b)
    return out


def load(path):
    """Open a container lazily.

    Raises
    ------
    ContainerError
        Missing, a folder, not HDF5, not an msft container, a newer format
        version, or datasets that do not match the stored parameters.
    """
    return Container(path)


class ContainerInfo:
    """A readable summary of a container (``str()`` prints it)."""

    def __init__(self, path):
        with load(path) as c:
            self.path = c.path
            self.attrs = c.attrs
            self.transform = c.transform
            self.duration = c.duration
            self.sr, self.n_samples, self.n_channels = c.sr, c.n_samples, c.n_channels
            self.source = c.source
            self.dtype = str(c.dtype)
            self.store = c.store
            self.groups = []
            for g, ds in enumerate(c._datasets):
                spec = c.transform.groups[g]
                self.groups.append({"name": spec.name, "hop": spec.hop,
                                    "bins": ds.shape[1], "frames": ds.shape[2],
                                    "fmin": float(spec.frequencies[0]),
                                    "fmax": float(spec.frequencies[-1]),
                                    "first_time": c.ranges[g][0] * spec.hop / c.sr})
        self.size = self.path.stat().st_size

    def __str__(self):
        t = self.transform
        src = self.source
        lines = [
            f"{self.path}",
            f"  source      {src['name'] or '?'} ({src['format'] or '?'}, "
            f"{src['subtype'] or '?'})",
            f"  duration    {self.duration:.3f} s ({self.n_samples} samples at {self.sr} Hz), "
            f"{self.n_channels} channel{'s' if self.n_channels != 1 else ''}",
            f"  transform   fmin {t.fmin:.3f} Hz, {t.bins_per_octave} bins/octave, "
            f"{t.n_octaves} octaves (to {t.fmax:.1f} Hz), window {t.window}, "
            f"tuning {t.tuning:g} Hz, mode {t.mode}",
            f"  storage     {self.dtype}{' magnitudes' if self.store == 'magnitude' else ''}, "
            f"{_human(self.size)} on disk, format "
            f"{self.attrs['format']} v{self.attrs['format_version']}, msft "
            f"{self.attrs.get('msft_version', '?')}",
            f"  {'band':<11} {'hop':>6} {'bins':>5} {'frames':>8}  {'first':>8}  range",
        ]
        for g in self.groups:
            if g["name"] == "lowpass":
                rng = f"below {t.fmin:.1f} Hz"
            elif g["name"] == "highpass":
                rng = f"above {t.fmax:.1f} Hz"
            else:
                rng = f"{g['fmin']:.1f} .. {g['fmax']:.1f} Hz"
            lines.append(f"  {g['name']:<11} {g['hop']:>6} {g['bins']:>5} {g['frames']:>8}  "
                         f"{g['first_time']:>7.3f}s  {rng}")
        return "\n".join(lines)


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def info(path):
    """Summary of a container: a :class:`ContainerInfo`, printable."""
    return ContainerInfo(path)


# -- model files of the linear-layer experiment (msft_cli.learn_dft) -----------
MODEL_FORMAT_NAME = "msft-model"
MODEL_FORMAT_VERSION = 1


def save_model(path, weights, attrs, arrays):
    """Write a model file of :mod:`msft_cli.learn_dft` atomically (temporary name, then rename).

    Layout (format ``"msft-model"``, version 1, readable with plain h5py):
    root attributes ``format``, ``format_version``, ``msft_version`` and
    ``attrs`` (strings and numbers; JSON strings for nested settings); the
    dataset ``weights`` ``(n_inputs, n_outputs)`` float64, chunked by rows with
    a Fletcher-32 checksum; one dataset per entry of ``arrays`` (names may hold
    ``/`` for groups, e.g. ``history/loss``).

    Returns the path.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ContainerError(f"{path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise ContainerError(f"{path}: is a folder")
    weights = np.asarray(weights, dtype=np.float64)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.close(fd)
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"format": MODEL_FORMAT_NAME, "format_version": MODEL_FORMAT_VERSION,
                            "msft_version": __version__})
            f.attrs.update(attrs)
            rows = max(1, min(weights.shape[0], _CHUNK_BYTES * 8 // max(1, weights.shape[1] * 8)))
            f.create_dataset("weights", data=weights, chunks=(rows, weights.shape[1]),
                             fletcher32=True)
            for name, value in arrays.items():
                f.create_dataset(name, data=np.asarray(value))
        publish(tmp, path)
        tmp = None
    except OSError as exc:
        raise ContainerError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return path


def load_model(path):
    """Read a model file written by :func:`save_model`.

    Returns a dict: ``attrs`` (root attributes, strings decoded), ``weights``
    (ndarray), ``arrays`` (every other dataset by its full name without the
    leading ``/``, e.g. ``history/loss``).

    Raises
    ------
    ContainerError
        Missing, a folder, not HDF5, not an msft model, a newer format version,
        or unreadable (corrupt) data.
    """
    path = Path(path)
    if not path.exists():
        raise ContainerError(f"{path}: no such file")
    if path.is_dir():
        raise ContainerError(f"{path}: is a folder, not a model file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ContainerError(f"{path}: not an HDF5 file (corrupt or another format)") from exc
    with f:
        attrs = {k: (v.decode(errors="replace") if isinstance(v, bytes) else v)
                 for k, v in f.attrs.items()}
        if attrs.get("format") != MODEL_FORMAT_NAME:
            raise ContainerError(f"{path}: not an msft model file (format attribute is "
                                 f"{attrs.get('format')!r}, expected {MODEL_FORMAT_NAME!r})")
        version = attrs.get("format_version")
        if not isinstance(version, (int, np.integer)):
            raise ContainerError(f"{path}: has no integer format_version")
        if version > MODEL_FORMAT_VERSION:
            raise ContainerError(f"{path}: model format version {version} is newer than this "
                                 f"msft reads ({MODEL_FORMAT_VERSION}): upgrade msft")
        arrays = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name != "weights":
                arrays[name] = obj[()]
        try:
            if "weights" not in f:
                raise ContainerError(f"{path}: incomplete model file (no weights dataset)")
            weights = f["weights"][()]
            f.visititems(visit)
        except (OSError, RuntimeError) as exc:
            raise ContainerError(f"{path}: cannot read (corrupt data: {exc})") from exc
    return {"attrs": attrs, "weights": weights, "arrays": arrays}
