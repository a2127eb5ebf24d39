"""Training data from containers: fixed-length crops, encodings with exact decodes, workers.

A :class:`CropDataset` reads fixed-length crops out of a folder (or a list) of
containers. It is indexable and iterable, so PyTorch's ``DataLoader`` (or any
loop over indices) can use it, with worker processes, without this module
importing torch.

Alignment
    Crops start on a frame of the lowest octave, whose hop ``H`` (the largest of
    the transform, a power of two) is a multiple of every other band group's
    hop. A crop of ``L`` lowest-octave frames starting at lowest-octave frame
    ``n`` covers the samples ``n * H .. (n + L) * H`` and holds, in octave
    ``j``, the global frames ``n * 2**j .. (n + L) * 2**j - 1``: every octave's
    grid starts at the crop's first sample, and every crop has the same shapes.

Reading
    Each crop slices the containers' datasets through
    :meth:`msft_cli.io.container.Container.read_frames`, which reads only the chunks
    the crop overlaps. Files are opened on first use in each process (the
    dataset keeps paths, never an HDF5 handle it inherited: after a fork, the
    child opens its own), and at most ``max_open`` stay open per process.

Encodings (:class:`Encoding`)
    ``"complex"`` and ``"realimag"`` keep the coefficients as they are;
    ``"magnitude"`` and ``"db"`` keep the magnitudes (decode with the original
    phase, or magnitude-only); ``"ifreq"`` keeps the magnitude and the phase's
    advance per frame relative to the bin's centre frequency, and its decode
    integrates it back from the crop's initial phase, exactly up to float32
    rounding.

Examples
--------
>>> from msft_cli.dataset import CropDataset
>>> data = CropDataset("containers/", seconds=2.0, encoding="realimag")  # doctest: +SKIP
>>> sample = data[0]                                                      # doctest: +SKIP
>>> [a.shape for a in sample["octaves"]]  # 2 planes, 12 bins, 11 * 2**j  # doctest: +SKIP
>>> audio = data.to_audio(sample)         # the crop's audio, exact in its middle  # doctest: +SKIP
"""

from .crops import CHANNELS, LAYOUTS, ORDERS, SHORT, CropDataset
from .encoding import ENCODINGS, IF_QUANTUM, PLANE_DTYPES, Encoding
from .loader import collate, iter_batches

__all__ = ["ENCODINGS", "IF_QUANTUM", "Encoding", "LAYOUTS", "ORDERS", "SHORT", "CHANNELS", "PLANE_DTYPES", "CropDataset", "collate", "iter_batches"]


def __getattr__(name):
    if name == "DTYPES":  # the container's DTYPES are complex types: one name, one meaning
        import warnings
        warnings.warn("msft_cli.dataset.DTYPES is deprecated since msft 0.2.0: use "
                      "PLANE_DTYPES", DeprecationWarning, stacklevel=2)
        return PLANE_DTYPES
    raise AttributeError(f"module 'msft_cli.dataset' has no attribute {name!r}")
