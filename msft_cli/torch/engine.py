"""msft's transform as a :class:`torch.nn.Module`: batched, on any device, differentiable.

The geometry is the numpy engine's (see :mod:`msft_cli.torch._numpy_engine`):
for each block length it meets, the module turns the engine's index maps into
index and window tensors once (non-persistent buffers, so they follow
``.to(device)``) and runs the same blocks:

- analysis of a block: one ``rfft``; per band group a gather of its support
  (``index_select``) times the pre-gathered windows, and one batched inverse
  FFT (every band of an octave has the same power-of-two length);
- synthesis: one FFT per group, the frames' spectra weighted by the dual
  windows and added into the half spectrum with one ``index_add``, one ``irfft``.

Zero mode runs the numpy engine's block plan: blocks with the same steps,
pads and margins, and the two-rate split (the high stage's blocks make the
decimated low band, the low stage's blocks read it). All blocks of a stage
share one geometry, so they are transformed together, ``max_block_samples``
block samples (times the leading dimensions) at a time: the working memory is
bounded whatever the signal's length. Periodic mode is one block of
:meth:`msft_cli.MSFT.period` samples.
"""

import math

import numpy as np
import torch

from . import _numpy_engine as ne
from .coefficients import TensorCoefficients

#: Default block samples transformed together per leading row (batch x channels):
#: ~4 M samples, so a chunk's complex intermediates stay near 0.1-0.3 GiB per row.
MAX_BLOCK_SAMPLES = 1 << 22

_REAL = (torch.float32, torch.float64)
BLOCK_FFTS = ("float64", "native")


def _complex(dtype):
    return torch.complex64 if dtype == torch.float32 else torch.complex128


def _span(x, begin, length):
    """``x[..., begin:begin + length]`` of a signal that is 0 outside ``0 .. len``."""
    n = x.shape[-1]
    left, right = max(0, -begin), max(0, begin + length - n)
    a, b = max(begin, 0), min(begin + length, n)
    if b <= a:
        return x.new_zeros(*x.shape[:-1], length)
    core = x[..., a:b]
    if left or right:
        core = torch.nn.functional.pad(core, (left, right))
    return core


def _weigh_(z, w):
    """``re(z) * w[..., 0] + 1j * im(z) * w[..., 1]`` in place (a real window, conjugated
    where ``w[..., 1] = -w[..., 0]``): one real multiplication."""
    torch.view_as_real(z).mul_(w)
    return z


def _adjoint_weights(gt, size):
    """Weights that make the synthesis kernel the adjoint of a group's analysis.

    Analysis is ``X = rfft(x)`` (unnormalized), the gather ``z = X[src]`` weighed by
    ``(w, wi)`` on (re, im), then ``ifft`` (octaves) or ``irfft`` (real bands) of length
    ``m``, unnormalized. Adjoints (conjugate-Wirtinger gradients, torch's convention):
    ``ifft``'s is ``fft``; ``irfft``'s is ``rfft`` doubled except at DC and Nyquist;
    the weighing is its own; the gather's is ``index_add``; ``rfft``'s is ``irfft``
    (unnormalized) of the half spectrum halved except at DC and Nyquist. The synthesis
    kernel does ``fft``/``rfft``, a gather at the same positions, a weighing,
    ``index_add`` at the same bins and ``irfft``: with the analysis windows times those
    factors it is the adjoint."""
    w = np.stack((gt.an_w[gt.syn_pos], gt.an_wi[gt.syn_pos]), -1)
    if gt.real:
        q = gt.syn_pos % gt.width
        edge = (q == 0) | ((gt.m % 2 == 0) & (q == gt.m // 2))
        w = w * np.where(edge, 1.0, 2.0)[:, None]
    k = gt.syn_src
    edge = (k == 0) | ((size % 2 == 0) & (k == size // 2))
    return w * np.where(edge, 1.0, 0.5)[:, None]


class _PeriodicAnalysis(torch.autograd.Function):
    """Periodic-mode analysis whose backward is the synthesis kernel with the adjoint
    weights (one block: no overlap, no margins): one ``index_add`` per group instead
    of autograd's chain of gathers, scatters and copies."""

    @staticmethod
    def forward(ctx, x, module, table, period, ranges):
        ctx.module, ctx.table, ctx.n = module, table, x.shape[-1]
        frames, _ = module._forward_stage(x, 0, [0], period, 0, table, 1, ranges)
        return tuple(frames)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        module, table = ctx.module, ctx.table
        get = module._buffers_of(table)
        frames = []
        for gt, g in zip(table.groups, grads):
            if g is None:
                dtype = module.dtype if gt.real else _complex(module.dtype)
                g = torch.zeros(gt.rows, gt.m, dtype=dtype, device=module.device)
            frames.append(g.unsqueeze(-3))  # one block
        lead = torch.broadcast_shapes(*(f.shape[:-3] for f in frames))
        frames = [f.expand(*lead, *f.shape[-3:]) for f in frames]
        y = module._synthesize(frames, table, get, weights="adj")
        return y[..., 0, :ctx.n], None, None, None, None


class MSFT(torch.nn.Module):
    """msft's multi-scale constant-Q transform on PyTorch tensors.

    Parameters
    ----------
    transform : msft_cli.MSFT or dict, optional
        The numpy engine's transform, or its :meth:`~msft_cli.MSFT.to_params`
        dict. Default: a transform made from ``params``.
    device : torch.device or str, optional
        Where the index and window tensors live. Default: the CPU.
    dtype : {torch.float32, torch.float64}
        Real dtype of the computation (coefficients are complex64 or
        complex128). Inputs are cast to it; autocast is switched off inside.
    max_block_samples : int, optional
        Block samples transformed together per leading row (the working-memory
        bound; see the module documentation). Default :data:`MAX_BLOCK_SAMPLES`.
    block_fft : {"float64", "native"}
        In float32, the long FFTs of the blocks (one ``rfft`` per block forward,
        one ``irfft`` back) run in float64 (default) and are rounded to float32
        once: round trips gain ~5 dB (262,144 samples of noise: 136-139 dB,
        where float32 FFTs give 129-134 dB) for ~10-25% more time on the CPU.
        ``"native"`` keeps them in float32 (GPUs with slow float64). The
        short per-octave FFTs are always in the module's dtype.
    adjoint_backward : bool
        Periodic mode: the forward's backward pass is the synthesis kernel with
        the analysis' adjoint weights (one gather and one ``index_add`` per
        group) rather than autograd's own differentiation of each step. Default
        True; zero mode always uses autograd.
    **params
        Parameters of :class:`msft_cli.MSFT` (``sr``, ``bins_per_octave``,
        ``mode``, ...) when ``transform`` is not given.

    Examples
    --------
    >>> import torch
    >>> from msft_cli.torch import MSFT
    >>> t = MSFT(sr=44100, dtype=torch.float64)
    >>> x = torch.randn(2, 44100, dtype=torch.float64)
    >>> c = t(x)                      # TensorCoefficients: octaves (2, 12, frames) ...
    >>> bool(torch.allclose(t.inverse(c), x, atol=1e-9))
    True
    """

    def __init__(self, transform=None, *, device=None, dtype=torch.float32,
                 max_block_samples=None, block_fft="float64", adjoint_backward=True,
                 **params):
        super().__init__()
        if transform is None:
            transform = ne.MSFT(**params)
        elif isinstance(transform, dict):
            transform = ne.MSFT.from_params(transform, **params)
        elif not isinstance(transform, ne.MSFT):
            raise TypeError("transform must be an msft_cli.MSFT or its to_params() dict, not "
                            f"{type(transform).__name__}")
        elif params:
            raise ne.ParameterError(f"give a transform or its parameters, not both "
                                    f"({', '.join(sorted(params))})")
        if dtype not in _REAL:
            raise ne.ParameterError(f"dtype={dtype} must be torch.float32 or torch.float64")
        if max_block_samples is None:
            max_block_samples = MAX_BLOCK_SAMPLES
        if not isinstance(max_block_samples, int) or isinstance(max_block_samples, bool):
            raise TypeError("max_block_samples must be an int, not "
                            f"{type(max_block_samples).__name__}")
        if max_block_samples < 1:
            raise ne.ParameterError(f"max_block_samples={max_block_samples} must be at least 1")
        if block_fft not in BLOCK_FFTS:
            raise ne.ParameterError(f"block_fft={block_fft!r} is unknown: must be one of "
                                    f"{', '.join(BLOCK_FFTS)}")
        self.transform = transform
        self.max_block_samples = max_block_samples
        self.block_fft = block_fft
        self.adjoint_backward = bool(adjoint_backward)
        # a 0-element buffer that follows .to(): the module's device and dtype
        self.register_buffer("_probe", torch.zeros(0, dtype=dtype, device=device),
                             persistent=False)
        self._tables = {}   # geometry key -> (buffer prefix, BlockTable, dtype built in)
        self._plans = {}    # n_samples -> plan (numpy side, no tensors)
        self._flat = {}     # flat gather indices per (geometry, group, rows)

    # -- parameters ----------------------------------------------------------
    @property
    def device(self):
        """Device of the module's tensors."""
        return self._probe.device

    @property
    def dtype(self):
        """Real dtype of the computation (float32 or float64)."""
        return self._probe.dtype

    mode = property(lambda self: self.transform.mode, doc="Boundary mode.")
    sr = property(lambda self: self.transform.sr, doc="Sample rate in Hz.")
    groups = property(lambda self: self.transform.groups, doc="The band groups, coarse to fine.")

    def frame_range(self, group, n_samples):
        """First global frame and frame count of a group (:meth:`msft_cli.MSFT.frame_range`)."""
        return self.transform.frame_range(group, n_samples)

    def extra_repr(self):
        return f"{self.transform!r}, dtype={self.dtype}"

    # -- tables --------------------------------------------------------------
    def _plan(self, n_samples):
        plan = self._plans.get(n_samples)
        if plan is None:
            if self.mode == "periodic":
                table, period = ne.periodic_plan(self.transform, n_samples)
                plan = ("periodic", table, period)
            else:
                stages, d = ne.zero_plan(self.transform, n_samples)
                plan = ("zero", stages, d)
            if len(self._plans) > 64:
                self._plans.clear()
            self._plans[n_samples] = plan
        return plan

    def _buffers_of(self, table):
        """The tensors of a block table, as registered buffers (made once per geometry,
        remade if the module's dtype changed since)."""
        entry = self._tables.get(table.key)
        real = self.dtype
        if entry is None or entry[2] != real:
            prefix = f"_geo{len(self._tables) if entry is None else entry[1]}_"
            index = len(self._tables) if entry is None else entry[1]
            dev = self.device

            def put(name, array, dtype):
                t = torch.as_tensor(array, dtype=dtype).to(dev)
                self.register_buffer(prefix + name, t, persistent=False)

            put("size", [table.size], real)
            for i, gt in enumerate(table.groups):
                # windows as (re, im) weight pairs, for one multiplication of view_as_real
                put(f"{i}_an_src", gt.an_src, torch.int64)
                put(f"{i}_an_w", np.stack((gt.an_w, gt.an_wi), -1).reshape(gt.rows, gt.width, 2),
                    real)
                put(f"{i}_syn_pos", gt.syn_pos, torch.int64)
                put(f"{i}_syn_w", np.stack((gt.syn_w, gt.syn_wi), -1), real)
                put(f"{i}_adj_w", _adjoint_weights(gt, table.size), real)
            put("syn_src", np.concatenate([gt.syn_src for gt in table.groups]), torch.int64)
            if table.low_an is not None:
                put("low_an", table.low_an, real)
                put("low_syn", table.low_syn, real)
            entry = self._tables[table.key] = (prefix, index, real)
        prefix = entry[0]
        return lambda name: getattr(self, prefix + name)

    def _check_input(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, not {type(x).__name__}")
        if x.is_complex() or not (x.is_floating_point() or x.dtype in (
                torch.int16, torch.int32, torch.int64, torch.int8, torch.uint8)):
            raise TypeError(f"x must be a real tensor, not {x.dtype}")
        if x.ndim < 1 or x.shape[-1] == 0:
            raise ne.ParameterError(f"x has shape {tuple(x.shape)}: must be (..., samples) "
                                    "with at least 1 sample")
        return x.to(device=self.device, dtype=self.dtype)

    # -- one stage -----------------------------------------------------------
    def _offsets(self, key, index, rows, width):
        """``index`` into each of ``rows`` rows of ``width``, as one flat index (cached)."""
        if rows == 1:
            return index
        k = (key, rows, width, index.device)
        off = self._flat.get(k)
        if off is None:
            if len(self._flat) > 32:
                self._flat.clear()
            base = torch.arange(rows, device=index.device) * width
            off = self._flat[k] = (base[:, None] + index[None]).reshape(-1)
        return off

    def _gather(self, x, index, key):
        """``x[..., index]`` as one 1-D ``index_select`` of the flattened rows (on the CPU
        several times faster than ``index_select`` on the last of several dimensions)."""
        lead = x.shape[:-1]
        flat = x.reshape(-1)
        return flat.index_select(0, self._offsets(key, index, math.prod(lead),
                                                  x.shape[-1])).view(*lead, -1)

    def _chunks(self, count, n):
        """Ranges of blocks of ``n`` samples transformed together (``max_block_samples``)."""
        per = max(1, self.max_block_samples // max(1, n))
        return [(a, min(count, a + per)) for a in range(0, count, per)]

    def _analyse(self, blocks, table, get, keep_pad, keep_step, low_keep=None):
        """Frames of blocks ``(..., K, size)``: per group ``(..., K, rows, kept)`` (the kept
        frames of each block), and the decimated low band's kept part ``(..., K, len)``."""
        if blocks.dtype == torch.float32 and self.block_fft == "float64":
            spec = torch.fft.rfft(blocks.double(), norm="backward").to(torch.complex64)
        else:
            spec = torch.fft.rfft(blocks, norm="backward")
        outs = []
        for i, gt in enumerate(table.groups):
            buf = self._gather(spec, get(f"{i}_an_src"), (table.key, "an", i))
            buf = _weigh_(buf.unflatten(-1, (gt.rows, gt.width)), get(f"{i}_an_w"))
            if gt.real:
                frames = torch.fft.irfft(buf, n=gt.m, norm="forward")
            else:
                frames = torch.fft.ifft(buf, norm="forward")
            lo = keep_pad // gt.hop
            outs.append(frames[..., lo:lo + keep_step // gt.hop])
        low = None
        if low_keep is not None:
            low_an = get("low_an")
            low = torch.fft.irfft(spec[..., :low_an.shape[0]] * low_an, n=table.low_size,
                                  norm="forward")
            low = low[..., low_keep[0]:low_keep[1]]
        return outs, low

    def _synthesize(self, frames, table, get, low=None, weights="syn"):
        """Blocks ``(..., K, size)`` from each group's block frames ``(..., K, rows, m)`` and,
        for the high stage of a split, the decimated low band over each block. With
        ``weights="adj"``, the adjoint of the analysis instead (see :func:`_adjoint_weights`)."""
        lead = frames[0].shape[:-2]
        half = table.size // 2 + 1
        parts = []
        for i, (gt, f) in enumerate(zip(table.groups, frames)):
            if gt.real:
                z = torch.fft.rfft(f, norm="backward")
            else:
                z = torch.fft.fft(f, norm="backward")
            z = self._gather(z.flatten(-2), get(f"{i}_syn_pos"), (table.key, "syn", i))
            parts.append(_weigh_(z, get(f"{i}_{weights}_w")))
        dtype = _complex(self.dtype)
        acc = torch.zeros(*lead, half, dtype=dtype, device=self.device)
        if parts:
            vals = torch.cat(parts, -1) if len(parts) > 1 else parts[0]
            rows = math.prod(lead)
            index = self._offsets((table.key, "bins"), get("syn_src"), rows, half)
            acc.view(-1).index_add_(0, index, vals.reshape(-1))
        if low is not None:
            low_syn = get("low_syn")
            k = low_syn.shape[0]
            z = torch.fft.rfft(low, norm="backward")[..., :k] * low_syn
            acc = torch.cat((acc[..., :k] + z, acc[..., k:]), -1)
        if acc.dtype == torch.complex64 and self.block_fft == "float64":
            return torch.fft.irfft(acc.to(torch.complex128), n=table.size,
                                   norm="forward").to(torch.float32)
        return torch.fft.irfft(acc, n=table.size, norm="forward")

    def _forward_stage(self, signal, origin, stage_starts, step, pad, table, d, ranges,
                       feeds=None):
        """The frames of a stage's blocks over ``signal`` (at ``sr / d``, sample 0 at
        full-rate ``origin``): per group ``(..., rows, count)``, its ``ranges`` ``(first,
        count)``; and, for the high stage of a split (``feeds``: the split's decimation),
        the decimated low band from full-rate ``starts[0]``. With several chunks of
        blocks, each chunk's kept frames are copied into the result as it is made, so
        that only one chunk's intermediates are alive at a time."""
        get = self._buffers_of(table)
        count = len(stage_starts)
        size = table.size
        first = stage_starts[0]
        # blocks read signal samples (start - pad) / d - origin / d .. + size
        begin = (first - pad) // d - origin // d
        sig = _span(signal, begin, (count - 1) * (step // d) + size)
        blocks = sig.unfold(-1, size, step // d)  # (..., count, size)
        lows = []
        low_keep = (pad // feeds, (pad + step) // feeds) if feeds else None
        chunks = self._chunks(count, size)
        result = [None] * len(table.groups)
        for a, b in chunks:
            outs, low = self._analyse(blocks[..., a:b, :], table, get, pad, step, low_keep)
            if feeds:
                lows.append(low)
            for i, (gt, f) in enumerate(zip(table.groups, outs)):
                f = f.movedim(-3, -2).flatten(-2)  # (..., rows, K * kept) from this chunk's
                at = (first + a * step) // gt.hop  # first block's start
                lo, n = ranges[gt.index]
                if len(chunks) == 1:
                    result[i] = f[..., lo - at:lo - at + n]
                    continue
                if result[i] is None:
                    result[i] = f.new_zeros(*f.shape[:-1], n)
                u, v = max(lo, at), min(lo + n, at + f.shape[-1])
                if v > u:
                    result[i][..., u - lo:v - lo] = f[..., u - at:v - at]
        low = None
        if feeds:
            low = torch.cat(lows, -2) if len(lows) > 1 else lows[0]
            low = low.flatten(-2)
        return result, low

    def _inverse_stage(self, groups, firsts, stage_starts, step, pad, table, low=None,
                       low_origin=0, d=1, n_out=None, keep=None):
        """Samples of a stage's blocks: each block's ``keep`` slice (default ``pad ..
        pad + step``) one after the other, from the first block's start (the first
        ``n_out``). Each chunk of blocks reads only its own frames, and writes its samples
        into the result as it is made."""
        get = self._buffers_of(table)
        count = len(stage_starts)
        first_start = stage_starts[0]
        a_keep, b_keep = keep if keep is not None else (pad, pad + step)
        per = b_keep - a_keep
        total = count * per if n_out is None else min(n_out, count * per)
        chunks = self._chunks(count, table.size)
        y = None
        for a, b in chunks:
            framed = []
            for gt in table.groups:
                c, f0 = groups[gt.index], firsts[gt.index]
                off = (first_start + a * step - pad) // gt.hop
                hop_blocks = step // gt.hop
                span = _span(c, off - f0, (b - a - 1) * hop_blocks + gt.m)
                framed.append(span.unfold(-1, gt.m, hop_blocks).movedim(-2, -3))  # (.., K, rows, m)
            lows = None
            if low is not None:
                size_l = table.low_size
                begin = (first_start + a * step - pad) // d - low_origin
                lows = _span(low, begin, (b - a - 1) * (step // d) + size_l).unfold(
                    -1, size_l, step // d)
            part = self._synthesize(framed, table, get, lows)[..., a_keep:b_keep].flatten(-2)
            if len(chunks) == 1:
                return part[..., :total]
            if y is None:
                y = part.new_zeros(*part.shape[:-1], total)
            u, v = a * per, min(total, b * per)
            if v > u:
                y[..., u:v] = part[..., :v - u]
        return y

    # -- forward and inverse -------------------------------------------------
    def forward(self, x):
        """Coefficients of signals ``x`` of shape ``(..., samples)``.

        Parameters
        ----------
        x : torch.Tensor, shape (..., samples)
            Real signals; leading dimensions (batch, channels) are free. Cast to
            the module's dtype and device.

        Returns
        -------
        TensorCoefficients
            ``groups[g]`` of shape ``(..., rows, frames)``: the real low-pass
            band, one complex tensor per octave, the real high-pass band; the
            same frames and values as :meth:`msft_cli.MSFT.forward`.

        Raises
        ------
        TypeError
            ``x`` is not a real tensor.
        ParameterError
            ``x`` has no samples.
        """
        with torch.autocast(device_type=self.device.type, enabled=False):
            x = self._check_input(x)
            n = x.shape[-1]
            ranges = ne.frame_ranges(self.transform, n)
            kind, *plan = self._plan(n)
            out = [None] * len(ranges)
            if kind == "periodic":
                table, period = plan
                if self.adjoint_backward and torch.is_grad_enabled() and x.requires_grad:
                    frames = _PeriodicAnalysis.apply(x, self, table, period, ranges)
                else:
                    frames, _ = self._forward_stage(x, 0, [0], period, 0, table, 1, ranges)
                for gt, f in zip(table.groups, frames):
                    out[gt.index] = f
            else:
                stages, d = plan
                low = None
                for stage in reversed(stages):  # the high stage (which feeds) first
                    lo, hi = stage.span
                    starts = list(range(lo, hi, stage.step))
                    if stage.feeds:
                        frames, low = self._forward_stage(x, 0, starts, stage.step, stage.pad,
                                                          stage.table, 1, ranges, feeds=d)
                        low_origin = starts[0]
                    elif low is not None:
                        frames, _ = self._forward_stage(low, low_origin, starts, stage.step,
                                                        stage.pad, stage.table, d, ranges)
                    else:
                        frames, _ = self._forward_stage(x, 0, starts, stage.step, stage.pad,
                                                        stage.table, 1, ranges)
                    for gt, f in zip(stage.table.groups, frames):
                        out[gt.index] = f
            return TensorCoefficients(self.transform, n, out)

    def inverse(self, coefficients):
        """The signals back from :meth:`forward`'s coefficients.

        Parameters
        ----------
        coefficients : TensorCoefficients
            Made by :meth:`forward` or :meth:`TensorCoefficients.from_numpy`, of
            a transform with the same parameters (any device, cast to this one's).

        Returns
        -------
        torch.Tensor, shape (..., samples)
            Real, in the module's dtype.
        """
        if not isinstance(coefficients, TensorCoefficients):
            raise TypeError("coefficients must be TensorCoefficients, not "
                            f"{type(coefficients).__name__}")
        if coefficients.params != self.transform.to_params():
            raise ne.ParameterError(f"coefficients were made by {coefficients.params}, not "
                                    f"{self.transform.to_params()}")
        with torch.autocast(device_type=self.device.type, enabled=False):
            n = coefficients.n_samples
            cdt = _complex(self.dtype)
            groups = [g.to(device=self.device, dtype=cdt if g.is_complex() else self.dtype)
                      for g in coefficients.groups]
            firsts = coefficients.firsts
            kind, *plan = self._plan(n)
            if kind == "periodic":
                table, period = plan
                return self._inverse_stage(groups, firsts, [0], period, 0, table, n_out=n)
            stages, d = plan
            if len(stages) == 1:
                st = stages[0]
                return self._inverse_stage(groups, firsts, list(range(0, n, st.step)), st.step,
                                           st.pad, st.table, n_out=n)
            low_st, high = stages
            # the low stage's blocks, from the numpy engine's first one, as far as the
            # high stage's blocks read the decimated low band
            hop = ne.hop_max(self.transform)
            starts_h = list(range(0, n, high.step))
            first = (-high.pad // hop) * hop
            need = (starts_h[-1] - high.pad) // d + high.table.low_size - first // d
            count = max(1, -(-need // (low_st.step // d)))
            starts_l = [first + i * low_st.step for i in range(count)]
            low = self._inverse_stage(groups, firsts, starts_l, low_st.step, low_st.pad,
                                      low_st.table,
                                      keep=(low_st.pad // d, (low_st.pad + low_st.step) // d))
            return self._inverse_stage(groups, firsts, starts_h, high.step, high.pad,
                                       high.table, low=low, low_origin=first // d, d=d,
                                       n_out=n)
