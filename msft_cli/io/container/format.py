"""The container format: its name, version, stores, types and compressions."""


from msft_cli._checks import choice
from msft_cli.errors import ParameterError

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
    choice("store", store, STORES)
    if dtype is None:
        return DEFAULT_DTYPES[store]
    if store == "complex":
        choice("dtype", dtype, DTYPES)
    if store == "magnitude" and dtype not in MAGNITUDE_DTYPES:
        raise ParameterError(f"dtype={dtype!r} does not fit store='magnitude': must be one of "
                             f"{', '.join(MAGNITUDE_DTYPES)}")
    return dtype
