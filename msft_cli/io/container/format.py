"""The container format: its name, version, stores, types and compressions."""


import numpy as np

from msft_cli._checks import choice
from msft_cli.errors import ParameterError

#: Extensions of containers (and of every HDF5 file msft writes).
CONTAINER_EXTENSIONS = (".h5", ".hdf5")

FORMAT_NAME = "msft"
FORMAT_VERSION = 1
DTYPES = ("complex64", "complex128", "complex32")
#: What a container stores: complex coefficients, or their magnitudes only.
STORES = ("complex", "magnitude")
#: Types of a magnitude-only container's datasets.
MAGNITUDE_DTYPES = ("float16", "float32")
#: The dtype of each store when none is given.
DEFAULT_DTYPES = {"complex": "complex64", "magnitude": "float16"}
COMPRESSIONS = ("none", "gzip", "lzf")

_CHUNK_BYTES = 1 << 17

#: How complex32 is stored: h5py's complex convention (a compound of members ``r``
#: and ``i``) with IEEE half-precision parts; numpy has no complex32, so h5py reads
#: it as a record array and msft converts it to complex64.
COMPLEX32 = np.dtype([("r", "<f2"), ("i", "<f2")])
#: The largest magnitude float16 holds: a complex32 part beyond it is an overflow.
FLOAT16_MAX = float(np.finfo(np.float16).max)


def _storage_dtypes(dtype, store):
    """The stored dtypes ``(octaves, real bands)`` of a container dtype name."""
    if dtype == "complex32":
        return COMPLEX32, np.dtype(np.float16)
    d = np.dtype(dtype)
    return d, (np.dtype(d.char.lower()) if store == "complex" else d)


def _is_complex32(dtype):
    return np.dtype(dtype) == COMPLEX32


def _to_complex32(frames, where):
    """Complex frames as a COMPLEX32 record array; ParameterError where a part overflows."""
    big = max(float(np.max(np.abs(frames.real), initial=0)),
              float(np.max(np.abs(frames.imag), initial=0)))
    if not big < FLOAT16_MAX + 16:  # what rounds to at most float16's largest
        raise ParameterError(f"{where}: a coefficient part of {big:.4g} overflows "
                             f"dtype='complex32' (float16 holds up to {FLOAT16_MAX:g}): use "
                             "complex64")
    out = np.empty(frames.shape, COMPLEX32)
    out["r"], out["i"] = frames.real, frames.imag
    return out


def _from_complex32(records, out=None):
    """A COMPLEX32 record array as complex64 (into ``out`` when given)."""
    if out is None:
        out = np.empty(records.shape, np.complex64)
    out.real, out.imag = records["r"], records["i"]
    return out


def transform_attrs(params):
    """The root attributes that store a transform's parameters (:func:`transform_params`
    reads them back): the parameters under their own names, ``sr`` as ``sample_rate``."""
    return {("sample_rate" if k == "sr" else k): v for k, v in params.items()}


def transform_params(attrs):
    """The transform's parameters (:meth:`MSFT.to_params
    <msft_cli.engine.transform.MSFT.to_params>`) from a container's root attributes.

    Raises KeyError for a missing attribute, ValueError or TypeError for one of the
    wrong type. ``gamma`` and ``oversample`` came later: containers without them are
    constant-Q (``gamma = 0``) and not oversampled (``oversample = 1``).
    """
    return {"sr": int(attrs["sample_rate"]), "fmin": float(attrs["fmin"]),
            "bins_per_octave": int(attrs["bins_per_octave"]),
            "n_octaves": int(attrs["n_octaves"]), "tuning": float(attrs["tuning"]),
            "window": str(attrs["window"]), "mode": str(attrs["mode"]),
            "gamma": float(attrs.get("gamma", 0.0)),
            "oversample": int(attrs.get("oversample", 1))}


def _group_names(n_octaves):
    return ["lowpass"] + [f"octave_{j}" for j in range(n_octaves)] + ["highpass"]


def _check_storage(store, dtype):
    """The dtype to store (the store's default for ``None``), or a ParameterError."""
    choice("store", store, STORES)
    if dtype is None:
        return DEFAULT_DTYPES[store]
    if store == "complex":
        choice("dtype", dtype, DTYPES)
    if store == "magnitude" and dtype not in MAGNITUDE_DTYPES:
        raise ParameterError(f"dtype={dtype!r} does not fit store='magnitude': must be one of "
                             f"{', '.join(MAGNITUDE_DTYPES)}")
    return dtype

#: The root ``format`` attribute and version of the model files of ``learn-dft``
#: (:mod:`msft_cli.learn_dft.model`); named here so that render can tell them apart.
MODEL_FORMAT_NAME = "msft-model"
MODEL_FORMAT_VERSION = 1
