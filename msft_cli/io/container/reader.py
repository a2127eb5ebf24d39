"""Reading containers: :func:`load`, the lazy :class:`Container` and its :class:`Crop`, and
:func:`root_format`, what kind of msft file an HDF5 file is.

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

import operator
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from msft_cli._checks import integer
from msft_cli.engine.coefficients import Coefficients, group_index
from msft_cli.engine.transform import MSFT
from msft_cli.errors import ContainerError, ParameterError
from msft_cli.io.container.checks import (
    _check_global_heaps,
    _check_regular,
    _check_storage_size,
    _first_line,
    _int_attr,
    _plain,
    _read_attrs,
    _real_attr,
    _str_attr,
)
from msft_cli.io.container.format import (
    DTYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    MAGNITUDE_DTYPES,
    STORES,
    _from_complex32,
    _group_names,
    _is_complex32,
    transform_params,
)
from msft_cli.io.limits import MAX_CHANNELS, MAX_SAMPLE_RATE, MAX_SAMPLES, MIN_SAMPLE_RATE

#: Types of the real low- and high-pass bands.
_REAL_DTYPES = ("float16", "float32", "float64")
#: A container's ``n_samples`` may be at most this many times the values it stores per
#: channel (msft's files hold about 1.6 values per sample; files cut down to fewer frames
#: hold fewer, but not 64 times fewer).
_SAMPLES_PER_VALUE = 64


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
        _check_regular(self.path)
        self._size = self.path.stat().st_size
        _check_global_heaps(self.path, self._size)
        try:
            self._file = h5py.File(self.path, "r")
        except Exception as exc:  # h5py raises OSError, and others on damaged superblocks
            raise ContainerError(f"{self.path}: not an HDF5 file (corrupt or another "
                                 "format)") from exc
        try:
            self._open()
        except ContainerError:
            self._file.close()
            raise
        except Exception as exc:  # whatever HDF5 says of a damaged file: one line
            self._file.close()
            raise ContainerError(f"{self.path}: incomplete or corrupt container "
                                 f"({_first_line(exc)})") from exc

    def _open(self):
        a = self.attrs = _read_attrs(self._file, self.path, "root")
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
        self.sr = _int_attr(self.path, a, "sample_rate", MIN_SAMPLE_RATE, MAX_SAMPLE_RATE)
        self.n_samples = _int_attr(self.path, a, "n_samples", 1, MAX_SAMPLES)
        self.n_channels = _int_attr(self.path, a, "n_channels", 1, MAX_CHANNELS)
        for name in ("bins_per_octave", "n_octaves"):
            _int_attr(self.path, a, name, 1, 64)
        for name in ("fmin", "tuning"):
            _real_attr(self.path, a, name)
        for name in ("window", "mode"):
            _str_attr(self.path, a, name)
        try:
            self.transform = MSFT.from_params(transform_params(a))
        except ParameterError as exc:
            raise ContainerError(f"{self.path}: parameters that msft cannot use ({exc})") \
                from exc
        self._datasets = []
        for name in _group_names(self.transform.n_octaves):
            try:
                ds = self._file[name]
            except KeyError as exc:
                if name not in self._file:
                    raise ContainerError(f"{self.path}: incomplete or corrupt container "
                                         f"(no dataset {name!r})") from exc
                raise ContainerError(f"{self.path}: dataset {name} is unreadable "
                                     f"({_first_line(exc)})") from exc
            if not isinstance(ds, h5py.Dataset):
                raise ContainerError(f"{self.path}: {name} is not a dataset")
            self._datasets.append(ds)
        #: ``"complex"``, or ``"magnitude"`` for magnitudes only (files without the
        #: ``coefficients`` attribute predate it and are complex)
        self.store = str(a.get("coefficients", "complex"))
        if self.store not in STORES:
            raise ContainerError(f"{self.path}: coefficients attribute is {self.store!r}, "
                                 f"expected one of {', '.join(STORES)}")
        #: stored (first global frame, frame count) of each band group
        self.ranges = []
        values = 0
        for ds, spec in zip(self._datasets, self.transform.groups):
            self.ranges.append(self._check_dataset(ds, spec))
            values += self.ranges[-1][1] * spec.n_bins
        # the signal's length is bounded by what the file holds (a corrupt n_samples must
        # not make a resynthesis of days): see docs/FORMAT.md, "Limits"
        most = _SAMPLES_PER_VALUE * values + 2 * self.transform.hop_max
        if self.n_samples > most:
            raise ContainerError(f"{self.path}: n_samples {self.n_samples} is more than the "
                                 f"stored frames can stand for (at most {most})")
        #: the dtype the octaves are stored in ("complex32" for float16 pairs)
        self.stored_dtype = ("complex32" if _is_complex32(self._datasets[1].dtype)
                             else self._datasets[1].dtype.name)
        self._datasets = [_Complex32(ds) if _is_complex32(ds.dtype) else ds
                          for ds in self._datasets]
        if self.transform.mode == "periodic" and self.ranges != [
                self.transform.frame_range(g, self.n_samples)
                for g in range(len(self._datasets))]:
            raise ContainerError(f"{self.path}: periodic container does not hold every frame "
                                 "of its period")
        self.source = {k: str(a.get(f"source_{k}", "")) for k in ("name", "format", "subtype")}

    def _check_dataset(self, ds, spec):
        """``(first_frame, frames)`` of a band group's dataset, after checking its attributes,
        type, shape and storage against the parameters and the file's size."""
        where = f"{self.path}: dataset {ds.name}"
        attrs = _read_attrs(ds, self.path, f"dataset {ds.name}")
        try:
            first, hop = attrs["first_frame"], attrs["hop"]
            if isinstance(first, bool) or isinstance(hop, bool):
                raise TypeError
            first, hop = operator.index(first), operator.index(hop)
        except (KeyError, TypeError) as exc:
            raise ContainerError(f"{where} lacks its first_frame or hop attribute") from exc
        if hop != spec.hop:
            raise ContainerError(f"{where} has hop {hop}, the parameters give {spec.hop}")
        if abs(first) * hop > 2 * MAX_SAMPLES:
            raise ContainerError(f"{where} has first_frame {first}, beyond any signal")
        expected = (self.n_channels, spec.n_bins)
        if ds.ndim != 3 or ds.shape[:2] != expected:
            raise ContainerError(f"{where} has shape {ds.shape}, expected ({expected[0]}, "
                                 f"{expected[1]}, frames)")
        dtype = ds.dtype
        if spec.kind == "octave":
            allowed = DTYPES if self.store == "complex" else MAGNITUDE_DTYPES
            name = "complex32" if _is_complex32(dtype) else dtype.name
            if name == "complex32":
                dtype = np.dtype("complex64")  # read as complex64
            if name not in allowed:
                if (dtype.kind == "c") != (self.store == "complex"):
                    raise ContainerError(f"{self.path}: dataset {ds.name} is {dtype}, but the "
                                         f"container says it stores {self.store} "
                                         "coefficients")
                raise ContainerError(f"{where} is {dtype}: must be one of "
                                     f"{', '.join(allowed)}")
        elif dtype.name not in _REAL_DTYPES:
            raise ContainerError(f"{where} is {dtype}: must be one of "
                                 f"{', '.join(_REAL_DTYPES)}")
        frames = ds.shape[2]
        _check_storage_size(ds, where, self._size)
        return first, frames

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
        """The octaves' numpy dtype as read (complex64 for a complex32 container)."""
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
        return group_index(which, self.n_octaves)

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
        if not hops[-1] <= integer("hop", hop) <= hops[0] or hop & (hop - 1):
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
            except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
                raise ContainerError(f"{ds.file.filename}: cannot read {ds.name} (corrupt "
                                     f"data: {_first_line(exc)})") from exc
        return out


class _Complex32:
    """A complex32 dataset (float16 pairs, see docs/FORMAT.md) read as complex64.

    Has what msft uses of an h5py dataset: ``shape``, ``ndim``, ``dtype``,
    ``chunks``, ``name``, ``file``, ``attrs``, slicing and ``read_direct``.
    """

    def __init__(self, ds):
        self._ds = ds
        self.shape, self.ndim, self.chunks = ds.shape, ds.ndim, ds.chunks
        self.name, self.file, self.attrs = ds.name, ds.file, ds.attrs
        self.dtype = np.dtype(np.complex64)

    def __len__(self):
        return len(self._ds)

    def __getitem__(self, key):
        return _from_complex32(self._ds[key])

    def read_direct(self, out, source_sel=None, dest_sel=None):
        sel = np.s_[...] if dest_sel is None else dest_sel
        out[sel] = self[np.s_[...] if source_sel is None else source_sel]






















def _read(ds, lo, hi):
    """Frames ``lo:hi`` (stored positions) of a dataset; unreadable data is a ContainerError."""
    try:
        return ds[:, :, lo:hi]
    except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
        raise ContainerError(f"{ds.file.filename}: cannot read {ds.name} (corrupt data: "
                             f"{_first_line(exc)})") from exc


def _read_frames(ds, lo, hi):
    """Frames ``lo:hi`` of a dataset (positions), zeros where outside what is stored."""
    out = np.zeros(ds.shape[:2] + (hi - lo,), ds.dtype)
    a, b = max(lo, 0), min(hi, ds.shape[2])
    if b > a:
        out[:, :, a - lo:b - lo] = _read(ds, a, b)
    return out


#: The 8-byte signature of an HDF5 file, at offset 0 or a power of two from 512 (a user
#: block before it).
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_SIGNATURE_OFFSETS = (0, 512, 1024, 2048)


def root_format(path):
    """The root ``format`` attribute of an HDF5 file: what kind of msft file it is.

    Returns
    -------
    str or None
        ``"msft"`` for a container, ``"msft-model"`` for a learn-dft model
        file, another file's own ``format`` attribute, ``""`` for an HDF5 file
        without one (or whose attributes cannot be read), None for a file that
        is not HDF5 (or cannot be opened).
    """
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block: its reader refuses it
            return None
        with open(path, "rb") as fh:
            head = fh.read(_SIGNATURE_OFFSETS[-1] + len(_HDF5_SIGNATURE))
    except OSError:
        return None
    if not any(head[o:o + len(_HDF5_SIGNATURE)] == _HDF5_SIGNATURE
               for o in _SIGNATURE_OFFSETS):
        return None
    try:
        _check_global_heaps(path, st.st_size)  # what HDF5 would loop on
        with h5py.File(path, "r") as f:
            if "format" not in f.attrs or h5py.h5a.open(f.id, b"format").get_type() \
                    .get_class() != h5py.h5t.STRING:  # what HDF5 would crash on
                return ""
            fmt = _plain(f.attrs["format"])
    except Exception:  # noqa: BLE001 - a damaged HDF5 file is still HDF5: its readers say why
        return ""
    return fmt if isinstance(fmt, str) else ""


def load(path):
    """Open a container lazily.

    Raises
    ------
    ContainerError
        Missing, a folder, not HDF5, not an msft container, a newer format
        version, or datasets that do not match the stored parameters.
    """
    return Container(path)
