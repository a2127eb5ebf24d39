"""The model file of the linear-layer experiment (an HDF5 file with a format of its own)."""

import json
from pathlib import Path

import h5py
import numpy as np

from msft_cli._files import AtomicWrite
from msft_cli._version import __version__
from msft_cli.errors import ContainerError, MsftError
from msft_cli.io.container.format import _CHUNK_BYTES, MODEL_FORMAT_NAME, MODEL_FORMAT_VERSION
from msft_cli.io.container.reader import (
    _check_global_heaps,
    _check_regular,
    _check_storage_size,
    _first_line,
    _read_attrs,
)
from msft_cli.learn_dft.evaluate import LearnResult
from msft_cli.learn_dft.targets import make_target


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
    weights = np.asarray(weights, dtype=np.float64)
    with AtomicWrite(path, ContainerError) as out:
        with h5py.File(out.tmp, "w") as f:
            f.attrs.update({"format": MODEL_FORMAT_NAME, "format_version": MODEL_FORMAT_VERSION,
                            "msft_version": __version__})
            f.attrs.update(attrs)
            rows = max(1, min(weights.shape[0], _CHUNK_BYTES * 8 // max(1, weights.shape[1] * 8)))
            f.create_dataset("weights", data=weights, chunks=(rows, weights.shape[1]),
                             fletcher32=True)
            for name, value in arrays.items():
                f.create_dataset(name, data=np.asarray(value))
    return out.path


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
    if path.is_dir():
        raise ContainerError(f"{path}: is a folder, not a model file")
    _check_regular(path)
    size = path.stat().st_size
    _check_global_heaps(path, size)
    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # OSError, and others on damaged superblocks
        raise ContainerError(f"{path}: not an HDF5 file (corrupt or another format)") from exc
    with f:
        try:
            attrs, weights, arrays = _read_model(f, path, size)
        except ContainerError:
            raise
        except Exception as exc:  # whatever HDF5 says of a damaged file: one line
            raise ContainerError(f"{path}: cannot read (corrupt data: {_first_line(exc)})") \
                from exc
    return {"attrs": attrs, "weights": weights, "arrays": arrays}


def _read_model(f, path, size):
    attrs = _read_attrs(f, path, "root")
    if attrs.get("format") != MODEL_FORMAT_NAME:
        raise ContainerError(f"{path}: not an msft model file (format attribute is "
                             f"{attrs.get('format')!r}, expected {MODEL_FORMAT_NAME!r})")
    version = attrs.get("format_version")
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)):
        raise ContainerError(f"{path}: has no integer format_version")
    if version > MODEL_FORMAT_VERSION:
        raise ContainerError(f"{path}: model format version {version} is newer than this "
                             f"msft reads ({MODEL_FORMAT_VERSION}): upgrade msft")
    if "weights" not in f:
        raise ContainerError(f"{path}: incomplete model file (no weights dataset)")
    datasets = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            _check_storage_size(obj, f"{path}: dataset {obj.name}", size)
            datasets[name] = obj
    f.visititems(visit)
    if "weights" not in datasets:
        raise ContainerError(f"{path}: weights is not a dataset")
    arrays = {name: ds[()] for name, ds in datasets.items() if name != "weights"}
    return attrs, datasets["weights"][()], arrays


def load(path):
    """A :class:`LearnResult` from a model file written by :meth:`LearnResult.save`.

    Raises
    ------
    ContainerError
        Missing, not HDF5, not an msft model, or a newer format version.
    """
    data = load_model(path)
    a = data["attrs"]
    try:
        params = json.loads(a["target_params"])
        tgt = make_target(a["target"], **params)
        settings, evaluation = json.loads(a["settings"]), json.loads(a["evaluation"])
        seconds = float(a["seconds"])
    except MsftError:
        raise  # a target's own refusal of its parameters
    except (KeyError, TypeError, ValueError) as exc:
        raise ContainerError(f"{path}: corrupt model file ({_first_line(exc)})") from exc
    history = {k.split("/", 1)[1]: v for k, v in data["arrays"].items()
               if k.startswith("history/")}
    return LearnResult(tgt, data["weights"], settings, history, evaluation, seconds)
