"""The torch engine's coefficients, and their way to and from :class:`msft_cli.Coefficients`."""

import numpy as np
import torch

from . import _numpy_engine as ne


class TensorCoefficients:
    """Coefficients as tensors: what :meth:`msft_cli.torch.MSFT.forward` returns.

    Parameters
    ----------
    transform : msft_cli.MSFT
        The numpy engine's transform whose geometry made them.
    n_samples : int
        Length of the analysed signals.
    groups : list of torch.Tensor
        ``(..., rows, frames)`` per band group, coarse to fine: the real
        low-pass band (1 row), one complex tensor per octave (``bins_per_octave``
        rows), the real high-pass band (1 row). Leading dimensions are the input's.
    firsts : list of int, optional
        Global index of each group's first frame. Default: the transform's
        frame ranges.

    Examples
    --------
    >>> import torch
    >>> from msft_cli.torch import MSFT, TensorCoefficients
    >>> t = MSFT(sr=22050, dtype=torch.float64)
    >>> c = t(torch.randn(3, 2, 4096, dtype=torch.float64))
    >>> c.octaves[0].shape[:3]
    torch.Size([3, 2, 12])
    >>> box = c[0].to_numpy()           # msft_cli.Coefficients (2 channels): save, render
    >>> back = TensorCoefficients.from_numpy(box)
    >>> bool(torch.allclose(t.inverse(back), t.inverse(c[0])))
    True
    """

    def __init__(self, transform, n_samples, groups, firsts=None):
        if not isinstance(transform, ne.MSFT):
            raise TypeError(f"transform must be an msft_cli.MSFT, not {type(transform).__name__}")
        if len(groups) != len(transform.groups):
            raise ne.ParameterError(f"groups has {len(groups)} band groups: the transform has "
                                    f"{len(transform.groups)}")
        expected = ne.frame_ranges(transform, n_samples)
        for g, (t, spec) in enumerate(zip(groups, transform.groups)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"groups[{g}] must be a torch.Tensor, not {type(t).__name__}")
            if t.ndim < 2 or t.shape[-2] != spec.n_bins or (
                    firsts is None and t.shape[-1] != expected[g][1]):
                raise ne.ParameterError(
                    f"{spec.name} has shape {tuple(t.shape)}: must be (..., {spec.n_bins}, "
                    f"{expected[g][1]}) for {n_samples} samples")
        self.transform = transform
        self.n_samples = int(n_samples)
        self.groups = list(groups)
        self.firsts = [f for f, _ in expected] if firsts is None else [int(f) for f in firsts]

    @property
    def params(self):
        """The transform's parameters (:meth:`msft_cli.MSFT.to_params`)."""
        return self.transform.to_params()

    @property
    def lowpass(self):
        """The real low-pass band, ``(..., 1, frames)``."""
        return self.groups[0]

    @property
    def octaves(self):
        """One complex tensor per octave, coarse to fine: ``(..., bins, frames)``."""
        return self.groups[1:-1]

    @property
    def highpass(self):
        """The real high-pass band, ``(..., 1, frames)``."""
        return self.groups[-1]

    @property
    def shape(self):
        """Leading dimensions (batch, channels, ...)."""
        return self.groups[0].shape[:-2]

    @property
    def dtype(self):
        """Complex dtype of the octaves."""
        return self.groups[1].dtype

    @property
    def device(self):
        return self.groups[0].device

    def __getitem__(self, index):
        """The coefficients of some leading rows: ``c[0]``, ``c[:, 1]`` (indexes the
        leading dimensions only)."""
        if not isinstance(index, tuple):
            index = (index,)
        if Ellipsis in index:
            raise TypeError("indexing with ... is not supported: index the leading dimensions")
        index = index + (slice(None), slice(None))
        return TensorCoefficients(self.transform, self.n_samples, [g[index] for g in self.groups],
                                  self.firsts)

    def to(self, *args, **kwargs):
        """The coefficients moved with :meth:`torch.Tensor.to` (real bands keep a real dtype)."""
        return TensorCoefficients(self.transform, self.n_samples,
                                  [g.to(*args, **kwargs) for g in self.groups], self.firsts)

    def detach(self):
        return TensorCoefficients(self.transform, self.n_samples,
                                  [g.detach() for g in self.groups], self.firsts)

    def inverse(self, module):
        """The signals back (``module.inverse(self)``)."""
        return module.inverse(self)

    def to_numpy(self):
        """A :class:`msft_cli.Coefficients` (for :func:`msft_cli.save`, rendering, resynthesis).

        Leading dimensions must be ``()`` (mono) or ``(channels,)``; index a batch
        first (``c[i]``). complex64 octaves give complex64 coefficients (float32
        bands), complex128 ones complex128.

        Raises
        ------
        ParameterError
            More than one leading dimension.
        """
        lead = self.shape
        if len(lead) > 1:
            raise ne.ParameterError(f"coefficients have leading shape {tuple(lead)}: "
                                    "to_numpy takes () or (channels,); index the batch first")
        arrays = [g.detach().cpu().resolve_conj().numpy() for g in self.groups]
        mono = len(lead) == 0
        if mono:
            arrays = [a[None] for a in arrays]
        return ne.Coefficients(self.transform, self.n_samples, arrays, mono=mono,
                               firsts=self.firsts)

    @classmethod
    def from_numpy(cls, coefficients, device=None, dtype=None):
        """Tensors from a :class:`msft_cli.Coefficients` (or a loaded container's arrays).

        Parameters
        ----------
        coefficients : msft_cli.Coefficients
        device : torch.device or str, optional
        dtype : {None, torch.complex64, torch.complex128}
            Default: the arrays' own.

        Returns
        -------
        TensorCoefficients
            Leading shape ``()`` for mono coefficients, else ``(channels,)``.
        """
        if not isinstance(coefficients, ne.Coefficients):
            raise TypeError("coefficients must be an msft_cli.Coefficients, not "
                            f"{type(coefficients).__name__}")
        if dtype not in (None, torch.complex64, torch.complex128):
            raise ne.ParameterError(f"dtype={dtype} must be torch.complex64 or torch.complex128")
        real = None if dtype is None else (torch.float32 if dtype == torch.complex64
                                           else torch.float64)
        groups = []
        for a in coefficients.groups:
            t = torch.from_numpy(np.ascontiguousarray(a))
            t = t.to(device=device, dtype=(dtype if t.is_complex() else real) or t.dtype)
            groups.append(t[0] if coefficients.mono else t)
        return cls(coefficients.transform, coefficients.n_samples, groups,
                   coefficients.firsts)

    def __repr__(self):
        return (f"<TensorCoefficients of {self.n_samples} samples, leading shape "
                f"{tuple(self.shape)}, {len(self.octaves)} octaves, {self.dtype}, "
                f"{self.device}>")
