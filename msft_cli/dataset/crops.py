"""Fixed-length crops of a set of containers: the catalogue, sampling, reading, layout."""

import numpy as np

from msft_cli._checks import choice, integer, non_negative, positive, real
from msft_cli.dataset.catalogue import _container_paths, survey
from msft_cli.dataset.encoding import _encoding
from msft_cli.dataset.handles import ProcessHandles
from msft_cli.engine.coefficients import Coefficients
from msft_cli.engine.transform import MSFT
from msft_cli.errors import ParameterError

LAYOUTS = ("octaves", "image")
ORDERS = ("random", "sequential")
SHORT = ("error", "skip", "pad")
CHANNELS = ("mix", "each", "all")



class CropDataset:
    """Fixed-length crops of a folder (or list) of containers, for training.

    Indexable (``len``, ``data[i]``) and iterable; every item depends only on
    ``(seed, epoch, index)``, so workers, processes and repeated runs see the
    same crops.

    Parameters
    ----------
    source : path or list of paths
        A folder (searched recursively for ``pattern``, hidden files and folders
        skipped), a container, or a list of both.
    seconds : float, optional
        Crop length in seconds, rounded to the nearest whole number of
        lowest-octave frames (:attr:`crop_seconds` is the exact length).
        Default 2.0 unless ``frames`` is given.
    frames : int, optional
        Crop length in frames of the lowest octave (instead of ``seconds``).
    order : {"random", "sequential"}
        ``"random"``: crops at random lowest-octave frames, uniform over all
        the audio (each file weighted by its number of possible starts), drawn
        from ``(seed, epoch, index)``. ``"sequential"``: every file cut into
        consecutive crops from time 0, files in sorted order.
    n_crops : int, optional
        Length of a random epoch. Default: as many crops as ``"sequential"`` has.
    seed : int
        Seed of the random crops (non-negative).
    channels : {"mix", "each", "all"} or int
        ``"mix"``: the mean of the channels (the coefficients of the mono mix,
        since the transform is linear); ``"each"``: every channel is an item of
        its own (random: a channel drawn at random); ``"all"``: every channel,
        stacked (all files must have the same number); an int: that channel.
    encoding : str or Encoding
        See :class:`Encoding`. Default ``"realimag"``.
    layout : {"octaves", "image"}
        ``"octaves"``: one array per octave, coarse to fine, each at its own
        hop. ``"image"``: one array ``(planes * channels, n_octaves * bins,
        cells)`` on the grid of ``image_hop``, cells centred on their times:
        coarser octaves hold each frame over the cells nearest to it, finer
        ones (only for ``"magnitude"`` and ``"db"``) are pooled to the largest
        value within half a cell, as :meth:`Container.image` does.
    image_hop : int, optional
        Grid step in samples of ``"image"``, a power of two between the finest
        and the coarsest octave hop. Default: the finest (every frame kept).
    residuals : bool
        Also return the low-pass and high-pass bands' frames (real, not encoded),
        which :meth:`to_audio` needs for the frequencies outside the octaves.
    short : {"error", "skip", "pad"}
        What to do with a file shorter than one crop: refuse it (naming it),
        leave it out (listed in :attr:`skipped`), or crop it from time 0 with
        the transform of its zero continuation (``sample["valid"]`` says how
        many seconds are signal). ``"pad"`` also keeps the last, partial crop
        of every file in ``"sequential"`` order.
    pattern : str
        Glob pattern of containers in folders. Default ``"*.h5"``.
    max_open : int
        Containers kept open per process (least recently used are closed).

    Attributes
    ----------
    paths : list of Path
        The containers used, sorted per folder.
    skipped : list of (Path, str)
        Files left out with ``short="skip"``, with the reason.
    n_samples, n_channels : list of int
        Length and channel count of each container.
    params : dict
        The transform's parameters (:meth:`MSFT.to_params`), shared by every container.
    transform : MSFT
        The transform every container was made with (made per process).
    sr : int
    hops : list of int
        Hop of each octave in samples, coarse to fine.
    frequencies : list of ndarray
        Bin centres in Hz, per octave.
    crop_frames, crop_samples : int
        Crop length in lowest-octave frames and in samples.
    crop_seconds : float
    grid_hop : int
        Hop of the lowest octave (the largest of the transform): crops start on
        multiples of it, in samples.
    shapes : list of tuple or tuple
        Shapes of an item's ``"octaves"`` or ``"image"``.
    epoch : int
        Set by :meth:`set_epoch`.

    Raises
    ------
    ContainerError
        A folder without containers, a file that is not a container, or two
        containers made with different transform parameters (naming both files
        and the parameter).
    ParameterError
        Bad values, and a file shorter than a crop with ``short="error"``.

    Examples
    --------
    >>> from msft_cli.dataset import CropDataset
    >>> data = CropDataset("containers/", seconds=2.0, encoding="db")  # doctest: +SKIP
    >>> data.set_epoch(1)                          # new random crops  # doctest: +SKIP
    >>> [a.shape for a in data[0]["octaves"]]      # doctest: +SKIP
    [(1, 12, 11), (1, 12, 22), (1, 12, 44), ...]
    """

    def __init__(self, source, seconds=None, frames=None, order="random", n_crops=None,
                 seed=0, channels="mix", encoding="realimag", layout="octaves",
                 image_hop=None, residuals=False, short="error", pattern="*.h5",
                 max_open=32):
        for name, value, allowed in (("order", order, ORDERS), ("layout", layout, LAYOUTS),
                                     ("short", short, SHORT)):
            choice(name, value, allowed)
        if isinstance(channels, bool) or not (
                channels in CHANNELS if isinstance(channels, str)
                else isinstance(channels, (int, np.integer)) and channels >= 0):
            raise ParameterError(f"channels={channels!r} must be one of {', '.join(CHANNELS)} "
                                 "or a channel index (0, 1, ...)")
        non_negative("seed", seed)
        positive("max_open", max_open)
        if n_crops is not None:
            if order != "random":
                raise ParameterError("n_crops applies to order='random' only")
            positive("n_crops", n_crops)
        self.encoding = _encoding(encoding)
        self.order, self.layout, self.short = order, layout, short
        self.channels = channels if isinstance(channels, str) else int(channels)
        self.seed, self.epoch = int(seed), 0
        self.residuals = bool(residuals)
        self.max_open = int(max_open)
        paths = _container_paths(source, pattern)
        self._handles = ProcessHandles(paths, self._unchanged, self.max_open)
        self._survey(paths)
        self._length(seconds, frames)
        self._image_grid(image_hop)
        self._index(n_crops)

    # -- set-up ------------------------------------------------------------------------------
    def _survey(self, paths):
        """Open every container once: same parameters, channel counts, lengths."""
        self.params, self.n_samples, self.n_channels = survey(paths, self.channels)
        self.paths = paths
        t = self.transform
        self.sr = t.sr
        self.hops = list(t.hops)
        self.grid_hop = max(g.hop for g in t.groups)
        self.frequencies = [np.asarray(f) for f in t.frequencies]

    def _length(self, seconds, frames):
        if seconds is not None and frames is not None:
            raise ParameterError("give seconds or frames, not both")
        if frames is not None:
            count = positive("frames", frames,
                             rule="a positive integer (frames of the lowest octave)")
        else:
            seconds = 2.0 if seconds is None else seconds
            seconds = real("seconds", seconds, above=0, rule="a positive duration")
            count = max(1, int(round(seconds * self.sr / self.grid_hop)))
        self.crop_frames = count
        self.crop_samples = count * self.grid_hop
        self.crop_seconds = self.crop_samples / self.sr
        starts, kept, self.skipped = [], [], []
        for i, (path, n) in enumerate(zip(self.paths, self.n_samples)):
            fits = n // self.grid_hop - count + 1
            if fits >= 1:
                starts.append(fits)
                kept.append(i)
                continue
            reason = (f"{path}: lasts {n / self.sr:.3f} s, shorter than a crop of "
                      f"{self.crop_seconds:.3f} s")
            if self.short == "error":
                raise ParameterError(f"{reason}: pass short='skip' to leave such files out "
                                     "or short='pad' to pad their crops with silence")
            if self.short == "skip":
                self.skipped.append((path, reason.split(": ", 1)[1]))
            else:
                starts.append(1)
                kept.append(i)
        if not kept:
            raise ParameterError(f"no container lasts a crop of {self.crop_seconds:.3f} s "
                                 f"({len(self.paths)} skipped as too short)")
        self.paths = [self.paths[i] for i in kept]
        self.n_samples = [self.n_samples[i] for i in kept]
        self.n_channels = [self.n_channels[i] for i in kept]
        #: possible crop starts (lowest-octave frames) of each file
        self._starts = np.array(starts, dtype=np.int64)

    def _image_grid(self, image_hop):
        """Per octave: which frames a crop reads, relative to its first, and how they map."""
        hops = self.hops
        if self.layout == "octaves":
            if image_hop is not None:
                raise ParameterError("image_hop applies to layout='image' only")
            self.image_hop = None
        else:
            image_hop = hops[-1] if image_hop is None else image_hop
            if not hops[-1] <= integer("image_hop", image_hop) <= hops[0] \
                    or image_hop & (image_hop - 1):
                raise ParameterError(f"image_hop={image_hop!r} must be a power of two between "
                                     f"{hops[-1]} and {hops[0]}")
            if image_hop > hops[-1] and not self.encoding.magnitude_like:
                raise ParameterError(
                    f"image_hop={image_hop} is coarser than the finest octave's hop "
                    f"{hops[-1]}: pooling frames would lose the {self.encoding.name!r} "
                    "encoding's information; use image_hop=None, layout='octaves' or a "
                    "magnitude or db encoding")
            self.image_hop = int(image_hop)
        prev = 1 if self.encoding.name == "ifreq" else 0
        self._plan = []
        for j, h in enumerate(hops):
            frames = self.crop_frames * 2**j
            if self.layout == "octaves":
                self._plan.append((-prev, frames, prev, None, 1))
                continue
            cells = self.crop_samples // self.image_hop
            if h >= self.image_hop:  # each cell takes the frame nearest to its centre
                r = h // self.image_hop
                nearest = (np.arange(cells) + r // 2) // r
                self._plan.append((-prev, int(nearest[-1]) + 1, prev, nearest, 1))
            else:  # the largest value of the r frames within half a cell of the centre
                r = self.image_hop // h
                self._plan.append((-(r // 2), cells * r - r // 2, 0, None, r))

    def _index(self, n_crops):
        per_file = np.array([self._items_per_crop(i) for i in range(len(self.paths))])
        if self.order == "sequential":
            counts = np.array([self._sequential_starts(i) for i in range(len(self.paths))])
            self._counts = counts * per_file
            self._offsets = np.concatenate([[0], np.cumsum(self._counts)])
            self._len = int(self._offsets[-1])
        else:
            self._cum_starts = np.cumsum(self._starts)
            if n_crops is None:
                n_crops = int(sum(self._sequential_starts(i) * per_file[i]
                                  for i in range(len(self.paths))))
            self._len = int(n_crops)

    def _items_per_crop(self, i):
        return self.n_channels[i] if self.channels == "each" else 1

    def _sequential_starts(self, i):
        """Consecutive crops of file ``i``: whole ones, plus a partial last one with pad."""
        fits = int(self._starts[i])
        whole = (fits - 1) // self.crop_frames + 1
        if self.short != "pad":
            return whole if self.n_samples[i] >= self.crop_samples else 0
        return -(-self.n_samples[i] // self.crop_samples)

    # -- per process ---------------------------------------------------------------------------
    @property
    def transform(self):
        """The containers' transform (made in each process on first use)."""
        return self._handles.get("data", lambda: MSFT.from_params(self.params, threads=1))

    def _inverse_transform(self):
        """The zero-mode transform that resynthesizes crops (blocks of one crop)."""
        return self._handles.get("inverse", lambda: MSFT.from_params(
            dict(self.params, mode="zero"), threads=1, block_size=self.crop_samples))

    def _unchanged(self, i, box):
        """Whether an opened container ``i`` is the one the survey saw."""
        return box.transform.to_params() == self.params and box.n_samples == self.n_samples[i]

    def _box(self, i):
        """Container ``i``, opened in this process (never a handle inherited by a fork)."""
        return self._handles.container(i)

    def close(self):
        """Close the containers this process opened."""
        self._handles.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- items -------------------------------------------------------------------------------
    def __len__(self):
        return self._len

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def set_epoch(self, epoch):
        """Choose the random crops of another epoch (no effect on ``"sequential"``).

        With PyTorch's ``DataLoader``, call it before iterating (workers are
        made per epoch unless ``persistent_workers=True``).
        """
        self.epoch = non_negative("epoch", epoch)

    def locate(self, index):
        """Where item ``index`` is: ``(file, frame, channel)``, the arguments of :meth:`read`.

        ``file`` indexes :attr:`paths`, ``frame`` is the crop's first
        lowest-octave frame, ``channel`` the channel index or -1 (``"mix"``,
        ``"all"``).
        """
        integer("index", index)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for {n} crops")
        index = int(index) % n
        if self.order == "sequential":
            file = int(np.searchsorted(self._offsets, index, side="right")) - 1
            rest = index - int(self._offsets[file])
            per = self._items_per_crop(file)
            k, ch = divmod(rest, per)
            channel = ch if self.channels == "each" else self._fixed_channel()
            return file, k * self.crop_frames, channel
        rng = np.random.default_rng([self.seed, self.epoch, index])
        u = int(rng.integers(int(self._cum_starts[-1])))
        file = int(np.searchsorted(self._cum_starts, u, side="right"))
        frame = u - (int(self._cum_starts[file - 1]) if file else 0)
        channel = (int(rng.integers(self.n_channels[file])) if self.channels == "each"
                   else self._fixed_channel())
        return file, frame, channel

    def _fixed_channel(self):
        return self.channels if isinstance(self.channels, int) else -1

    def __getitem__(self, index):
        return self.read(*self.locate(index))

    def _select(self, a, channel):
        if self.channels == "mix":
            return a.mean(axis=0, keepdims=True)
        if self.channels == "all":
            return a
        return a[channel:channel + 1]

    def read(self, file, frame, channel=-1):
        """The crop of file ``file`` starting at lowest-octave frame ``frame``.

        Parameters
        ----------
        file : int
            Index in :attr:`paths`.
        frame : int
            First frame, in frames of the lowest octave (time ``frame * grid_hop / sr``).
        channel : int
            The channel for ``channels="each"``; ignored otherwise (an int
            ``channels`` reads that channel).

        Returns
        -------
        dict
            ``"octaves"`` (layout ``"octaves"``): encoded ``(planes * channels,
            bins, crop_frames * 2**j)`` per octave, and ``"times"``: their frame
            times in seconds; or ``"image"`` (layout ``"image"``): ``(planes *
            channels, n_octaves * bins, cells)``, and ``"times"``: the cells'
            centres. ``"phase0"`` (``"ifreq"``): the initial phases, ``(channels,
            bins)`` per octave or ``(channels, n_octaves * bins)`` for an image.
            ``"lowpass"``, ``"highpass"`` (``residuals``): ``(channels, 1,
            frames)``. ``"file"``, ``"channel"`` (-1: mix or all), ``"frame"``,
            ``"start"`` (seconds) and ``"valid"`` (seconds of the crop within
            the signal).
        """
        if isinstance(self.channels, int):
            channel = self.channels
        elif self.channels == "each":
            if not 0 <= channel < self.n_channels[file]:
                raise ParameterError(f"channel={channel} does not exist in "
                                     f"{self.paths[file]}: it has {self.n_channels[file]}")
        box = self._box(file)
        enc = self.encoding
        cplx = np.result_type(enc.dtype, np.complex64)
        t = self.transform
        planes, phase0, times = [], [], []
        for j, (lo, hi, prev, nearest, pool) in enumerate(self._plan):
            base = frame * 2**j
            c = self._select(box.read_frames(j, base + lo, base + hi), channel)
            x, p0 = enc._encode(c.astype(cplx, copy=False), t, j, prev)
            if nearest is not None:
                x = x[..., nearest]
            elif pool > 1:
                x = x.reshape(x.shape[:-1] + (-1, pool)).max(axis=-1)
            planes.append(x)
            phase0.append(p0)
            times.append((base + np.arange(self.crop_frames * 2**j)) * self.hops[j] / self.sr)
        start = frame * self.grid_hop
        sample = {}
        if self.layout == "octaves":
            sample["octaves"], sample["times"] = planes, times
            if enc.name == "ifreq":
                sample["phase0"] = phase0
        else:
            cells = self.crop_samples // self.image_hop
            sample["image"] = np.concatenate(planes, axis=-2)
            sample["times"] = (start // self.image_hop + np.arange(cells)) * self.image_hop \
                / self.sr
            if enc.name == "ifreq":
                sample["phase0"] = np.concatenate(phase0, axis=-1)
        if self.residuals:
            for g, name in ((0, "lowpass"), (len(t.groups) - 1, "highpass")):
                h = t.groups[g].hop
                a = box.read_frames(name, start // h, (start + self.crop_samples) // h)
                sample[name] = self._select(a, channel).astype(enc.dtype)
        sample.update({
            "file": int(file), "channel": int(channel if self.channels == "each"
                                               else self._fixed_channel()),
            "frame": int(frame), "start": start / self.sr,
            "valid": min(self.crop_samples, max(0, self.n_samples[file] - start)) / self.sr,
        })
        return sample

    # -- shapes and decoding --------------------------------------------------------------------
    @property
    def shapes(self):
        """Shape of ``"octaves"`` (a list) or ``"image"`` of one item."""
        k = self.encoding.planes * self._item_channels()
        bins = self.transform.bins_per_octave
        if self.layout == "octaves":
            return [(k, bins, self.crop_frames * 2**j) for j in range(len(self.hops))]
        return (k, bins * len(self.hops), self.crop_samples // self.image_hop)

    def _item_channels(self):
        return self.n_channels[0] if self.channels == "all" else 1

    def _octaves_of(self, sample):
        """Per-octave planes (and phase0) of a sample, taken apart from an image if need be."""
        if "octaves" in sample:
            return list(sample["octaves"]), sample.get("phase0")
        image = np.asarray(sample["image"])
        if self.image_hop != self.hops[-1]:
            raise ParameterError(f"an image on a grid of {self.image_hop} samples pooled the "
                                 f"octaves finer than it: it cannot be decoded (use the finest "
                                 f"grid, {self.hops[-1]}, or layout='octaves')")
        bins = self.transform.bins_per_octave
        planes, phase0 = [], None
        for j, h in enumerate(self.hops):
            r = h // self.image_hop
            planes.append(image[..., j * bins:(j + 1) * bins, ::r][..., :self.crop_frames * 2**j])
        if "phase0" in sample:
            p = np.asarray(sample["phase0"])
            phase0 = [p[..., j * bins:(j + 1) * bins] for j in range(len(self.hops))]
        return planes, phase0

    def decode(self, sample, phase=None):
        """Complex octave coefficients of a sample (or of a model's output in its form).

        Parameters
        ----------
        sample : dict
            An item, or a dict with ``"octaves"`` or ``"image"`` (leading batch
            axes allowed), and ``"phase0"`` for ``"ifreq"`` (if absent, phases
            start at 0).
        phase : list of array_like, optional
            For ``"magnitude"`` and ``"db"``: phases in radians per octave,
            ``(..., channels, bins, frames)``; default zero phase.

        Returns
        -------
        list of ndarray
            Complex ``(..., channels, bins, crop_frames * 2**j)`` per octave.
        """
        planes, phase0 = self._octaves_of(sample)
        return self.encoding.decode(planes, self.transform, phase=phase, phase0=phase0)

    def to_coefficients(self, sample, phase=None):
        """One item as :class:`Coefficients` of the crop, moved to start at time 0.

        The crop holds only its own frames, so frames whose filters reach across
        its edges are missing: :meth:`MSFT.inverse` gives the crop's audio,
        exact away from the edges (within the filters' length of them it is
        not). Without ``residuals``, the low-pass and high-pass bands are zero.
        """
        octaves = self.decode(sample, phase)
        channels = octaves[0].shape[0]
        if octaves[0].ndim != 3:
            raise ParameterError(f"to_coefficients takes one item, not a batch (octave 0 has "
                                 f"shape {octaves[0].shape})")
        t = self._inverse_transform()
        groups = []
        for g, spec in enumerate(t.groups):
            if spec.kind == "octave":
                groups.append(np.asarray(octaves[g - 1], np.complex128))
            elif spec.kind in sample:
                groups.append(np.asarray(sample[spec.kind], np.float64))
            else:
                groups.append(np.zeros((channels, 1, self.crop_samples // spec.hop)))
        return Coefficients(t, self.crop_samples, groups, firsts=[0] * len(groups))

    def to_audio(self, sample, phase=None):
        """The audio of one item's time range, float64 ``(channels, crop_samples)``.

        Exact in the middle of the crop; see :meth:`to_coefficients`.
        """
        return self._inverse_transform().inverse(self.to_coefficients(sample, phase))

    def __repr__(self):
        return (f"<CropDataset of {len(self.paths)} containers: {len(self)} {self.order} crops "
                f"of {self.crop_seconds:.3f} s ({self.crop_frames} frames of {self.grid_hop}), "
                f"channels={self.channels!r}, {self.encoding.name}, {self.layout}>")
