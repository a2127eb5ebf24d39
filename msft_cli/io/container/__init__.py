"""The HDF5 container (h5py's importer, with learn-dft's model file): its format, the writer,
the lazy reader and the summary ``msft info`` prints. The layout is documented in docs/FORMAT.md."""

from .format import (COMPRESSIONS, CONTAINER_EXTENSIONS, DEFAULT_DTYPES, DTYPES, FORMAT_NAME,
                     FORMAT_VERSION, MAGNITUDE_DTYPES, STORES)
from .info import ContainerInfo, info
from .reader import Container, Crop, load, root_format
from .writer import Writer, save, save_arrays

__all__ = ["Container", "ContainerInfo", "Crop", "Writer", "info", "load", "root_format", "save",
           "save_arrays", "CONTAINER_EXTENSIONS",
           "COMPRESSIONS", "DEFAULT_DTYPES", "DTYPES", "FORMAT_NAME", "FORMAT_VERSION",
           "MAGNITUDE_DTYPES", "STORES"]
