"""The result of a forward transform: band groups that carry their parameters."""

import numpy as np

from msft_cli.errors import ParameterError


def group_index(band, n_octaves):
    """The index in :attr:`Coefficients.groups` of a band named the public way.

    ``band`` is an octave ``0 .. n_octaves - 1`` (coarse to fine), ``"lowpass"``
    or ``"highpass"``: the one convention of :class:`Coefficients`, containers,
    render and datasets. Groups are the low-pass band (0), the octaves
    (``1 .. n_octaves``) and the high-pass band (``n_octaves + 1``).
    """
    if band in ("lowpass", "highpass"):
        return 0 if band == "lowpass" else n_octaves + 1
    if isinstance(band, (int, np.integer)) and not isinstance(band, bool) \
            and 0 <= band < n_octaves:
        return int(band) + 1
    raise ParameterError(f"octave={band!r} does not exist: must be 0..{n_octaves - 1}"
                         " or 'lowpass' or 'highpass'")


class Coefficients:
    """The result of :meth:`MSFT.forward`: octave arrays that carry their parameters.

    Attributes
    ----------
    transform : MSFT
        The transform that made them.
    n_samples : int
        Length of the analysed signal.
    groups : list of ndarray
        ``(channels, rows, frames)`` arrays, coarse to fine: the low-pass band
        (real), one complex array per octave, the high-pass band (real).
    mono : bool
        The signal was 1-D: properties drop the channel axis.
    firsts : list of int
        Global index of each group's first frame. Default: the transform's
        :meth:`MSFT.frame_range`, whose counts the arrays must then match;
        when given, any number of frames may be stored (missing ones count as 0).
    """

    def __init__(self, transform, n_samples, groups, mono=False, firsts=None):
        if len(groups) != len(transform.groups):
            raise ParameterError(f"expected {len(transform.groups)} band groups, got "
                                 f"{len(groups)}")
        expected = [transform.frame_range(g, n_samples) for g in range(len(groups))]
        for g, (arr, spec) in enumerate(zip(groups, transform.groups)):
            count = expected[g][1] if firsts is None else arr.shape[-1]
            if arr.ndim != 3 or arr.shape[1:] != (spec.n_bins, count) \
                    or arr.shape[0] != groups[0].shape[0]:
                raise ParameterError(
                    f"{spec.name} has shape {arr.shape}: must be (channels, {spec.n_bins}, "
                    f"{count}) for {n_samples} samples")
        self.transform = transform
        self.n_samples = int(n_samples)
        self.groups = list(groups)
        self.mono = bool(mono)
        self.firsts = [f for f, _ in expected] if firsts is None else [int(f) for f in firsts]

    def _view(self, a):
        return a[0] if self.mono else a

    @property
    def n_channels(self):
        return self.groups[0].shape[0]

    @property
    def dtype(self):
        """Complex type of the octave arrays."""
        return self.groups[1].dtype

    @property
    def octaves(self):
        """One complex array per octave, coarse to fine: ``([channels,] bins, frames)``."""
        return [self._view(a) for a in self.groups[1:-1]]

    @property
    def lowpass(self):
        """The real low-pass band, ``([channels,] 1, frames)``."""
        return self._view(self.groups[0])

    @property
    def highpass(self):
        """The real high-pass band, ``([channels,] 1, frames)``."""
        return self._view(self.groups[-1])

    def first_frame(self, band):
        """Global index of the first stored frame of a band: an octave ``0 ..
        n_octaves - 1`` (coarse to fine, as in :attr:`octaves`), ``"lowpass"`` or
        ``"highpass"`` (the convention of :meth:`Container.frame_times
        <msft_cli.io.container.Container.frame_times>` too)."""
        return self.firsts[group_index(band, self.transform.n_octaves)]

    def frame_times(self, band):
        """Times in seconds of a band's frames: an octave ``0 .. n_octaves - 1``,
        ``"lowpass"`` or ``"highpass"`` (see :meth:`first_frame`)."""
        g = group_index(band, self.transform.n_octaves)
        hop = self.transform.groups[g].hop
        return (self.firsts[g] + np.arange(self.groups[g].shape[2])) * hop / self.transform.sr

    @property
    def size(self):
        """Number of coefficients, all channels and groups."""
        return sum(a.size for a in self.groups)

    def inverse(self):
        """The signal back (the transform's :meth:`MSFT.inverse`)."""
        return self.transform.inverse(self)

    def __repr__(self):
        return (f"<Coefficients of {self.n_samples} samples x {self.n_channels} channels, "
                f"{len(self.octaves)} octaves, {self.dtype}, by {self.transform!r}>")
