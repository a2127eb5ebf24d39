"""Training data for the torch engine: audio crops decoded on the fly, and stored crops as
tensors.

:class:`AudioCrops` is the on-the-fly counterpart of
:class:`msft_cli.dataset.CropDataset`: it holds no coefficients, only audio
files, and gives fixed-length crops as tensors, which the torch engine
transforms inside the training step (no stored features: a complex64 container
is about 6 times its 16-bit WAV). Its crops are repeatable like
``CropDataset``'s: each depends only on ``(seed, epoch, index)``.
"""

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from . import _numpy_engine as ne
from .coefficients import TensorCoefficients

ORDERS = ("random", "sequential")
CHANNELS = ("mix", "all")
SHORT = ("error", "skip")


def _audio_paths(source):
    exts = ne.audio_module.AUDIO_EXTENSIONS
    items = [source] if isinstance(source, (str, Path)) else list(source)
    paths = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in exts and q.is_file())
            if not found:
                raise ne.ParameterError(f"source={str(p)!r} holds no audio files "
                                        f"({', '.join(exts)})")
            paths += found
        else:
            paths.append(p)
    if not paths:
        raise ne.ParameterError("source names no audio files")
    return paths


class AudioCrops(torch.utils.data.Dataset):
    """Fixed-length crops of audio files, as tensors, for transforms in the training step.

    Parameters
    ----------
    source : path or list of paths
        A folder (searched recursively for audio files), a file, or a list of both.
        Every file must have the same sample rate, unless ``sr`` is given.
    seconds : float
        Crop length in seconds (rounded to whole samples). Default 2.0.
    order : {"random", "sequential"}
        ``"random"``: crops at random samples, uniform over all the audio
        (each file weighted by its number of possible starts), drawn from
        ``(seed, epoch, index)``. ``"sequential"``: every file cut into
        consecutive whole crops from time 0, files in sorted order.
    n_crops : int, optional
        Length of a random epoch. Default: as many as ``"sequential"`` has.
    seed : int
        Seed of the random crops (non-negative).
    channels : {"mix", "all"} or int
        The mean of the channels (one channel), every channel (all files must
        have the same number), or that channel.
    short : {"error", "skip"}
        A file shorter than one crop: refuse it, or leave it out (:attr:`skipped`).
    dtype : torch.dtype
        Of the crops. Default float32.
    max_open : int
        Files kept open per process.
    sr : int, optional
        Resample every file to this rate while reading (soxr, streamed; see
        :class:`msft_cli.io.resample.AudioReader`): a folder of mixed rates
        becomes one dataset. Default: the files' own (common) rate.

    Examples
    --------
    >>> import torch
    >>> from msft_cli.torch import MSFT, AudioCrops
    >>> data = AudioCrops("sample_audio", seconds=1.0, seed=0)       # doctest: +SKIP
    >>> loader = torch.utils.data.DataLoader(data, batch_size=8)     # doctest: +SKIP
    >>> msft = MSFT(sr=data.sr)                                      # doctest: +SKIP
    >>> for x in loader:                  # (8, 1, 44100)              doctest: +SKIP
    ...     c = msft(x)                   # on the fly, in the training step
    """

    def __init__(self, source, seconds=2.0, order="random", n_crops=None, seed=0,
                 channels="mix", short="error", dtype=torch.float32, max_open=16, sr=None):
        if order not in ORDERS:
            raise ne.ParameterError(f"order={order!r} is unknown: must be one of "
                                    f"{', '.join(ORDERS)}")
        if not (channels in CHANNELS or (isinstance(channels, int)
                                         and not isinstance(channels, bool) and channels >= 0)):
            raise ne.ParameterError(f"channels={channels!r} must be 'mix', 'all' or a channel "
                                    "index")
        if short not in SHORT:
            raise ne.ParameterError(f"short={short!r} is unknown: must be one of "
                                    f"{', '.join(SHORT)}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ne.ParameterError(f"seed={seed!r} must be a non-negative integer")
        seconds = float(seconds)
        if not 0 < seconds < np.inf:
            raise ne.ParameterError(f"seconds={seconds:g} must be positive and finite")
        self.order, self.seed, self.channels, self.dtype = order, seed, channels, dtype
        self.max_open, self.epoch = int(max_open), 0
        self.paths, self.n_samples, self.n_channels, self.skipped = [], [], [], []
        self.sr = None
        self._rate = sr
        for p in _audio_paths(source):
            with self._reader(p) as src:
                if self.sr is None:
                    self.sr = src.sr
                    self.crop_samples = max(1, int(round(seconds * self.sr)))
                elif src.sr != self.sr:
                    raise ne.ParameterError(f"{p}: sample rate {src.sr} Hz, the others "
                                            f"{self.sr} Hz: crops need one rate (give sr= "
                                            "to resample)")
                if src.n_samples < self.crop_samples:
                    if short == "error":
                        raise ne.ParameterError(
                            f"{p}: {src.n_samples} samples, shorter than a crop of "
                            f"{self.crop_samples} (short='skip' leaves it out)")
                    self.skipped.append((p, "shorter than one crop"))
                    continue
                if isinstance(channels, int) and channels >= src.channels:
                    raise ne.ParameterError(f"channels={channels}: {p} has {src.channels}")
                self.paths.append(p)
                self.n_samples.append(src.n_samples)
                self.n_channels.append(src.channels)
        if not self.paths:
            raise ne.ParameterError("every file is shorter than one crop")
        if channels == "all" and len(set(self.n_channels)) > 1:
            raise ne.ParameterError(f"channels='all' needs one channel count: the files have "
                                    f"{sorted(set(self.n_channels))}")
        self._starts = np.array([n - self.crop_samples + 1 for n in self.n_samples], np.int64)
        self._cum = np.cumsum(self._starts)
        whole = np.array([n // self.crop_samples for n in self.n_samples], np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(whole)])
        if n_crops is None:
            n_crops = int(self._offsets[-1])
        if isinstance(n_crops, bool) or not isinstance(n_crops, int) or n_crops < 1:
            raise ne.ParameterError(f"n_crops={n_crops!r} must be a positive integer")
        self._len = int(self._offsets[-1]) if order == "sequential" else n_crops
        self._open = OrderedDict()

    def _reader(self, path):
        """A file opened for reading, resampled to ``sr`` when one was given."""
        return ne.AudioReader(path, sr=self._rate)

    @property
    def crop_seconds(self):
        return self.crop_samples / self.sr

    def __len__(self):
        return self._len

    def set_epoch(self, epoch):
        """Choose the random crops of another epoch (no effect on ``"sequential"``)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ne.ParameterError(f"epoch={epoch!r} must be a non-negative integer")
        self.epoch = int(epoch)

    def locate(self, index):
        """``(file, start)`` of crop ``index``: the index in :attr:`paths` and the first sample."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, not {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} crops")
        index = int(index) % len(self)
        if self.order == "sequential":
            file = int(np.searchsorted(self._offsets, index, side="right")) - 1
            return file, (index - int(self._offsets[file])) * self.crop_samples
        rng = np.random.default_rng([self.seed, self.epoch, index])
        u = int(rng.integers(int(self._cum[-1])))
        file = int(np.searchsorted(self._cum, u, side="right"))
        return file, u - (int(self._cum[file - 1]) if file else 0)

    def _source(self, file):
        src = self._open.get(file)
        if src is None:
            src = self._open[file] = self._reader(self.paths[file])
            while len(self._open) > self.max_open:
                self._open.popitem(last=False)[1].close()
        else:
            self._open.move_to_end(file)
        return src

    def __getitem__(self, index):
        """Crop ``index`` as a tensor ``(channels, crop_samples)`` (one channel unless
        ``channels="all"``)."""
        file, start = self.locate(index)
        a = self._source(file).read(start, start + self.crop_samples)
        if self.channels == "mix":
            a = a.mean(axis=0, keepdims=True)
        elif isinstance(self.channels, int):
            a = a[self.channels:self.channels + 1]
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.dtype)

    def close(self):
        """Close the files this dataset opened."""
        for src in self._open.values():
            src.close()
        self._open = OrderedDict()

    def __getstate__(self):  # workers open their own files
        state = dict(self.__dict__)
        state["_open"] = OrderedDict()
        return state

    def __repr__(self):
        return (f"<AudioCrops of {len(self.paths)} files: {len(self)} {self.order} crops of "
                f"{self.crop_seconds:.3f} s at {self.sr} Hz, channels={self.channels!r}>")


def crop_to_tensors(sample, device=None):
    """A :class:`msft_cli.dataset.CropDataset` item (or a batch of them) with tensors for
    arrays.

    numpy arrays become tensors (sharing memory on the CPU), lists of arrays lists
    of tensors; other values stay as they are.
    """
    if not isinstance(sample, dict):
        raise TypeError(f"sample must be a dict, not {type(sample).__name__}")

    def conv(v):
        if isinstance(v, np.ndarray):
            return torch.from_numpy(np.ascontiguousarray(v)).to(device)
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    return {k: conv(v) for k, v in sample.items()}


def crop_coefficients(dataset, sample, device=None, phase=None):
    """One CropDataset item as :class:`TensorCoefficients` of the crop (see
    :meth:`msft_cli.dataset.CropDataset.to_coefficients`): ``MSFT(...).inverse`` of them
    is the crop's audio."""
    if not isinstance(dataset, ne.dataset_module.CropDataset):
        raise TypeError(f"dataset must be a CropDataset, not {type(dataset).__name__}")
    return TensorCoefficients.from_numpy(dataset.to_coefficients(sample, phase), device=device)
