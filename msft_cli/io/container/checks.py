"""Checks of an untrusted container before h5py or HDF5 reads it: the file, its global heaps,
its attributes and its datasets' storage, each against the file's size."""

import mmap

import h5py
import numpy as np

from msft_cli._files import check_regular
from msft_cli.errors import ContainerError

#: Files up to this size are searched whole for global heaps; larger ones at their ends.
_HEAP_SCAN_WHOLE = 64 << 20
_HEAP_SCAN_ENDS = 4 << 20
#: Types of attribute msft reads: integers, floats, strings and enums (h5py's booleans).
#: A damaged variable-length string turns into a variable-length sequence, which HDF5
#: 2.0 crashes on reading (a segmentation fault).
_ATTRIBUTE_CLASSES = (h5py.h5t.INTEGER, h5py.h5t.FLOAT, h5py.h5t.STRING, h5py.h5t.ENUM)
#: Largest attribute msft reads (the ``frequencies`` of 64 bins take 512 bytes).
_MAX_ATTRIBUTE_BYTES = 1 << 20
#: Largest chunk msft decompresses (its writer's are 128 KiB; HDF5 allows 4 GiB).
_MAX_CHUNK_BYTES = 64 << 20
#: What a compressed dataset may expand to, per byte stored (gzip's ceiling is ~1032).
_MAX_EXPANSION = 1100


def _plain(value):
    """An attribute as a plain Python value: (byte) strings as str, numpy scalars unwrapped."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _first_line(exc):
    """An exception's message, on one line."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__



def _check_regular(path):
    """A missing file, a folder, or a FIFO or device (whose reads would block): refused."""
    check_regular(path, ContainerError, "a container")


def _check_global_heaps(path, size):
    """Refuse damaged global heap collections (where variable-length strings live) before
    HDF5 parses them: HDF5 loops forever on a free-space object that is not the last one
    or has the wrong size. Files up to 64 MiB are searched whole, larger ones in their
    first and last 4 MiB (where writers put their metadata)."""
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
            spans = [(0, size)] if size <= _HEAP_SCAN_WHOLE else \
                [(0, _HEAP_SCAN_ENDS), (size - _HEAP_SCAN_ENDS, size)]
            collections = {}
            for lo, hi in spans:
                at = m.find(b"GCOL", lo, hi)
                while at >= 0:
                    objects = _check_collection(path, m, at, size)
                    if objects is not None:
                        collections[at] = objects
                    at = m.find(b"GCOL", at + 4, hi)
            # the strings pointing into them: (length, collection address, index); HDF5
            # allocates the length before it reads the object (a damaged one: gigabytes)
            for at, objects in collections.items():
                address = at.to_bytes(8, "little")
                for lo, hi in spans:
                    q = m.find(address, lo + 4, hi)
                    while q >= 0:
                        length = int.from_bytes(m[q - 4:q], "little")
                        index = int.from_bytes(m[q + 8:q + 12], "little")
                        inside = any(c <= q < c + 4096 for c in collections)
                        most = objects.get(index)
                        if most is not None and length > most and not inside:
                            raise ContainerError(
                                f"{path}: damaged string at byte {q - 4} (a length of "
                                f"{length} bytes where its heap object holds {most})")
                        q = m.find(address, q + 8, hi)
    except (OSError, ValueError) as exc:  # an empty file cannot be mapped
        if size:
            raise ContainerError(f"{path}: cannot be read ({_first_line(exc)})") from exc



def _check_collection(path, m, at, file_size):
    """One global heap collection at ``at``, if its header is plausible (version 1,
    zeroed reserved bytes, at least 4096 bytes, inside the file): its objects must tile it.
    Returns ``{index: size}`` of its objects, or None where there is no collection."""
    header = m[at:at + 16]
    if len(header) < 16 or header[4:8] != b"\x01\x00\x00\x00":
        return None
    size = int.from_bytes(header[8:16], "little")
    if size < 4096 or at + size > file_size:
        return None  # not a collection (or one HDF5 refuses by itself)
    p, end = at + 16, at + size
    objects = {}
    while p + 16 <= end:
        index = int.from_bytes(m[p:p + 2], "little")
        length = int.from_bytes(m[p + 8:p + 16], "little")
        if index == 0:  # free space: the rest of the collection, exactly
            if length != end - p:
                raise ContainerError(f"{path}: damaged global heap at byte {at} (free space "
                                     f"of {length} bytes where {end - p} remain)")
            return objects
        objects[index] = length
        p += 16 + -(-length // 8) * 8
    if p > end:
        raise ContainerError(f"{path}: damaged global heap at byte {at} (an object "
                             "overruns the collection)")
    return objects



def _read_attrs(obj, path, where):
    """All attributes of an HDF5 object as plain values, each checked for size first."""
    out = {}
    try:
        names = list(obj.attrs.keys())
    except Exception as exc:
        raise ContainerError(f"{path}: {where} attributes are unreadable "
                             f"({_first_line(exc)})") from exc
    for name in names:
        try:
            aid = h5py.h5a.open(obj.id, name.encode("utf-8", "surrogateescape"))
            kind = aid.get_type().get_class()
            if kind not in _ATTRIBUTE_CLASSES:  # HDF5 crashes reading some damaged ones
                raise ContainerError(f"{path}: {where} attribute {name!r} has a type msft does "
                                     f"not read (HDF5 type class {kind})")
            count = int(np.prod(aid.shape, dtype=np.float64)) if aid.shape else 1
            if count * max(aid.dtype.itemsize, 1) > _MAX_ATTRIBUTE_BYTES:
                raise ContainerError(f"{path}: {where} attribute {name!r} has shape "
                                     f"{aid.shape}: too large to be msft's")
            value = obj.attrs[name]
        except ContainerError:
            raise
        except Exception as exc:
            raise ContainerError(f"{path}: {where} attribute {name!r} is unreadable "
                                 f"({_first_line(exc)})") from exc
        out[name] = _plain(value)
    return out



def _int_attr(path, attrs, name, lo, hi):
    """A root attribute that must be an integer in ``lo..hi``."""
    value = attrs.get(name)
    if value is None:
        raise ContainerError(f"{path}: incomplete or corrupt container (no {name} attribute)")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not lo <= value <= hi:
        raise ContainerError(f"{path}: attribute {name} is {_short(value)}: must be an "
                             f"integer in {lo}..{hi}")
    return int(value)



def _real_attr(path, attrs, name):
    value = attrs.get(name)
    if value is None:
        raise ContainerError(f"{path}: incomplete or corrupt container (no {name} attribute)")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        raise ContainerError(f"{path}: attribute {name} is {_short(value)}: must be a finite "
                             "number")
    return float(value)



def _str_attr(path, attrs, name):
    value = attrs.get(name)
    if value is None:
        raise ContainerError(f"{path}: incomplete or corrupt container (no {name} attribute)")
    if not isinstance(value, str):
        raise ContainerError(f"{path}: attribute {name} is {_short(value)}: must be a string")
    return value



def _short(value):
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."



def _check_storage_size(ds, where, file_size):
    """The data a dataset declares must fit what the file stores: every chunk written,
    chunks of a sane size, and no more expansion than compression can give."""
    nbytes = ds.size * ds.dtype.itemsize
    if ds.chunks is not None:
        chunk_bytes = int(np.prod(ds.chunks)) * ds.dtype.itemsize
        if chunk_bytes > _MAX_CHUNK_BYTES:
            raise ContainerError(f"{where} has chunks of {chunk_bytes} bytes, more than msft "
                                 f"reads ({_MAX_CHUNK_BYTES})")
        if nbytes:
            n_chunks = 1
            for size, chunk in zip(ds.shape, ds.chunks):
                n_chunks *= -(-size // chunk)
            if n_chunks > file_size // 8:  # an index entry takes more than 8 bytes
                raise ContainerError(f"{where} declares {n_chunks} chunks, more than a file "
                                     f"of {file_size} bytes holds")
            stored = ds.id.get_num_chunks()
            if stored != n_chunks:
                raise ContainerError(f"{where} stores {stored} of its {n_chunks} chunks "
                                     "(incomplete or corrupt)")
    if nbytes:
        held = ds.id.get_storage_size()
        if held > file_size:
            raise ContainerError(f"{where} claims {held} bytes of storage in a file of "
                                 f"{file_size}")
        filtered = ds.chunks is not None and (ds.compression is not None
                                              or ds.scaleoffset is not None)
        if nbytes > (held * _MAX_EXPANSION if filtered else held):
            raise ContainerError(f"{where} declares {nbytes} bytes of data but stores "
                                 f"{held}")
