"""The result of a forward transform: band groups that carry their parameters."""

import numpy as np

from msft_cli.errors import ParameterError


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

    def first_frame(self, group):
        """Global index of the first stored frame of a group (0 = low-pass)."""
        return self.firsts[group]

    def frame_times(self, group):
        """Times in seconds of a group's frames (group 0 = low-pass, 1.. octaves)."""
        hop = self.transform.groups[group].hop
        first = self.first_frame(group)
        return (first + np.arange(self.groups[group].shape[2])) * hop / self.transform.sr

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
