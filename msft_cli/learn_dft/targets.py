"""What the layer learns: the DFT, an STFT or msft as one matrix, and its inputs."""

from dataclasses import dataclass, field

import numpy as np

from msft_cli._checks import choice, integer, real
from msft_cli.errors import ParameterError

TARGETS = ("dft", "stft", "msft")
#: STFT windows (names for ``scipy.signal.get_window``, periodic).
STFT_WINDOWS = ("hann", "hamming", "blackman", "boxcar")

#: The four-tone test signal: (frequency in Hz, amplitude) of sines at ``sr``.
TEST_TONES = ((440.0, 1.0), (1000.0, 0.5), (2500.0, 0.25), (3500.0, 0.125))
#: Variance of the white-noise inputs, uniform in [-1, 1).
INPUT_VARIANCE = 1.0 / 3.0
#: Fresh signals used for the validation loss and for the evaluation.
N_VALIDATION = 256
N_FRESH = 256
#: Examples generated at a time.
_GEN_ROWS = 1024


@dataclass(frozen=True)
class Block:
    """One ``(bins, frames)`` block of a target's complex outputs.

    Attributes
    ----------
    name : str
    n_bins, n_frames : int
    frequencies : ndarray (n_bins,)
        Centre frequency of each bin in Hz, at the target's ``sr``.
    times : ndarray (n_frames,)
        Time of each frame in seconds (the start of STFT frames; the frame time
        of msft's bands).
    real : bool
        The block's values are real (its imaginary targets are all zero).
    """

    name: str
    n_bins: int
    n_frames: int
    frequencies: np.ndarray = field(repr=False)
    times: np.ndarray = field(repr=False)
    real: bool = False

    @property
    def size(self):
        return self.n_bins * self.n_frames


class Target:
    """A linear transform to learn: its parameters, output layout, matrix and fast forward.

    Make it with :func:`make_target`. ``forward(x)`` maps signals
    ``(batch, n_inputs)`` to targets ``(batch, n_outputs)``; ``matrix()`` is the
    same map as an ``(n_inputs, n_outputs)`` array (the analytic weights).
    """

    def __init__(self, name, params, n_inputs, blocks, sr):
        self.name = name
        self.params = dict(params)
        self.n_inputs = int(n_inputs)
        self.blocks = list(blocks)
        self.sr = sr
        self.n_complex = sum(b.size for b in self.blocks)
        self.n_outputs = 2 * self.n_complex
        self._matrix = None

    def __repr__(self):
        p = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Target({self.name!r}, {p})"

    def describe(self):
        """One line: what is learned and the weight matrix's shape."""
        p = self.params
        if self.name == "dft":
            what = f"{p['size']}-point DFT"
        elif self.name == "stft":
            b = self.blocks[0]
            what = (f"STFT, {p['window']} {p['win_length']}, n_fft {p['n_fft']}, hop "
                    f"{p['hop_length']}, {p['input_length']} samples -> {b.n_frames} frames x "
                    f"{b.n_bins} bins")
        else:
            what = (f"msft, sr {p['sr']}, fmin {p['fmin']:g} Hz, {p['n_octaves']} octaves x "
                    f"{p['bins_per_octave']} bins, periodic on {p['input_length']} samples")
        return f"{what}: {self.n_inputs} x {self.n_outputs} weights"

    def offsets(self):
        """Start of each block in the complex output vector."""
        return np.cumsum([0] + [b.size for b in self.blocks])[:-1]

    def to_complex(self, y):
        """Targets ``(..., n_outputs)`` as complex ``(..., n_complex)``."""
        y = np.asarray(y)
        return y[..., :self.n_complex] + 1j * y[..., self.n_complex:]

    def split(self, values):
        """Complex values ``(..., n_complex)`` as one ``(..., bins, frames)`` array per block."""
        out = []
        for off, b in zip(self.offsets(), self.blocks):
            out.append(values[..., off:off + b.size].reshape(values.shape[:-1]
                                                             + (b.n_bins, b.n_frames)))
        return out

    # -- the map --------------------------------------------------------------
    def forward(self, x, out=None):
        """Targets of signals ``x`` ``(batch, n_inputs)`` (float64 ``(batch, n_outputs)``)."""
        x = np.asarray(x, dtype=np.float64)
        if out is None:
            out = np.empty((x.shape[0], self.n_outputs))
        p, k = self.params, self.n_complex
        if self.name == "msft":
            np.matmul(x, self.matrix(), out=out)
            return out
        re = out[:, :k].reshape(x.shape[0], self.blocks[0].n_bins, self.blocks[0].n_frames)
        im = out[:, k:].reshape(re.shape)
        import scipy.fft  # here, not at import: the CLI starts faster
        if self.name == "dft":
            spec = scipy.fft.fft(x, axis=1)
            re[:, :, 0] = spec.real
            im[:, :, 0] = spec.imag
            return out
        frames = np.lib.stride_tricks.sliding_window_view(x, p["win_length"], axis=1)
        frames = frames[:, ::p["hop_length"]][:, :self.blocks[0].n_frames]
        work = self.__dict__.get("_work")
        if work is None or work.shape[0] < x.shape[0]:
            work = self._work = np.empty(frames.shape)  # reused: no page faults per batch
        work = work[:x.shape[0]]
        np.multiply(frames, self._window, out=work)
        spec = scipy.fft.rfft(work, n=p["n_fft"], axis=2)  # (batch, frames, bins)
        re[:] = spec.real.transpose(0, 2, 1)
        im[:] = spec.imag.transpose(0, 2, 1)
        return out

    def matrix(self):
        """The analytic weights ``(n_inputs, n_outputs)``: ``forward(x) == x @ matrix()``."""
        if self._matrix is not None:
            return self._matrix
        p, d, k = self.params, self.n_inputs, self.n_complex
        a = np.zeros((d, 2, k))
        if self.name == "dft":
            n = p["size"]
            t = np.arange(n)
            e = np.exp(-2j * np.pi * np.outer(t, t) / n)
            a[:, 0], a[:, 1] = e.real, e.imag
        elif self.name == "stft":
            b = self.blocks[0]
            tau = np.arange(p["win_length"])
            e = self._window[:, None] * np.exp(-2j * np.pi * np.outer(tau, np.arange(b.n_bins))
                                               / p["n_fft"])
            view = a.reshape(d, 2, b.n_bins, b.n_frames)
            for f in range(b.n_frames):
                s = f * p["hop_length"]
                view[s:s + p["win_length"], 0, :, f] = e.real
                view[s:s + p["win_length"], 1, :, f] = e.imag
        else:
            c = self._msft.forward(np.eye(d))
            vals = np.concatenate([g.reshape(d, -1) for g in c.groups], axis=1)
            a[:, 0], a[:, 1] = vals.real, vals.imag
        self._matrix = a.reshape(d, 2 * k)
        self._matrix.flags.writeable = False
        return self._matrix


def make_target(target="stft", *, size=128, n_fft=256, win_length=None, hop_length=56,
                window="hann", input_length=None, sr=8000, fmin=500.0, n_octaves=2,
                bins_per_octave=6):
    """The transform to learn, validated.

    Parameters
    ----------
    target : {"dft", "stft", "msft"}
    size : int
        ``"dft"``: points of the DFT, at least 2 (the input length).
    n_fft : int
        ``"stft"``: FFT length, at least 2.
    win_length : int, optional
        ``"stft"``: window length, 1 .. ``n_fft`` (default ``n_fft``).
    hop_length : int
        ``"stft"``: samples between frames, 1 .. ``win_length``.
    window : {"hann", "hamming", "blackman", "boxcar"}
        ``"stft"``: periodic window (``scipy.signal.get_window``).
    input_length : int, optional
        Samples per signal: ``"stft"`` at least ``win_length`` (default 2048);
        ``"msft"`` at least 16 (default 256). Not used by ``"dft"`` (``size``).
    sr : int
        Sample rate in Hz: the axes of figures and the test tones; for
        ``"msft"`` also the transform's rate.
    fmin, n_octaves, bins_per_octave
        ``"msft"``: the transform's bands (see :class:`~msft_cli.engine.transform.MSFT`).

    Returns
    -------
    Target

    Raises
    ------
    ParameterError
        A value out of range; the message names it and the rule.
    """
    choice("target", target, TARGETS)
    sr = integer("sr", sr, minimum=1)
    if target == "dft":
        size = integer("size", size, minimum=2)
        freqs = np.arange(size) * sr / size
        return Target("dft", {"size": size, "sr": sr}, size,
                      [Block("dft", size, 1, freqs, np.zeros(1))], sr)
    if target == "stft":
        n_fft = integer("n_fft", n_fft, minimum=2)
        win_length = n_fft if win_length is None else integer("win_length", win_length, minimum=1)
        if win_length > n_fft:
            raise ParameterError(f"win_length={win_length} must not exceed n_fft={n_fft}")
        hop_length = integer("hop_length", hop_length, minimum=1)
        if hop_length > win_length:
            raise ParameterError(f"hop_length={hop_length} must not exceed win_length="
                                 f"{win_length} (frames would skip samples)")
        input_length = 2048 if input_length is None else integer("input_length",
                                                                    input_length, minimum=1)
        if win_length > input_length:
            raise ParameterError(f"win_length={win_length} must not exceed input_length="
                                 f"{input_length}")
        choice("window", window, STFT_WINDOWS)
        n_frames = (input_length - win_length) // hop_length + 1
        n_bins = n_fft // 2 + 1
        params = {"n_fft": n_fft, "win_length": win_length, "hop_length": hop_length,
                  "window": window, "input_length": input_length, "sr": sr}
        t = Target("stft", params, input_length,
                   [Block("stft", n_bins, n_frames, np.arange(n_bins) * sr / n_fft,
                          np.arange(n_frames) * hop_length / sr)], sr)
        import scipy.signal
        t._window = scipy.signal.get_window(window, win_length, fftbins=True)
        return t
    from msft_cli.engine.transform import MSFT
    input_length = (256 if input_length is None
                    else integer("input_length", input_length, minimum=16))
    fmin = real("fmin", fmin, above=0)
    n_octaves = integer("n_octaves", n_octaves, minimum=1)
    bins_per_octave = integer("bins_per_octave", bins_per_octave, minimum=1)
    tf = MSFT(sr, fmin=fmin, bins_per_octave=bins_per_octave, n_octaves=n_octaves,
              mode="periodic", threads=1)
    if tf.period(input_length) != input_length:
        raise ParameterError(f"input_length={input_length} must be a period of the transform: "
                             f"a multiple of its coarsest hop {tf.hop_max} times 1, 3, 5 or 7 "
                             f"and a power of two (e.g. {tf.period(input_length)})")
    blocks = []
    for g, spec in enumerate(tf.groups):
        first, count = tf.frame_range(g, input_length)
        blocks.append(Block(spec.name, spec.n_bins, count, np.asarray(spec.frequencies, float),
                            (first + np.arange(count)) * spec.hop / sr, spec.kind != "octave"))
    params = {"sr": sr, "fmin": fmin, "n_octaves": n_octaves,
              "bins_per_octave": bins_per_octave, "input_length": input_length}
    t = Target("msft", params, input_length, blocks, sr)
    t._msft = tf
    return t


def test_signal(target):
    """The four-tone test signal (:data:`TEST_TONES`, sines at ``target.sr``), ``(n_inputs,)``."""
    t = np.arange(target.n_inputs) / target.sr
    return sum(a * np.sin(2 * np.pi * f * t) for f, a in TEST_TONES)


def _uniform(rng, n, d, out=None):
    """``n`` white-noise signals of ``d`` samples, uniform in [-1, 1), made in batches."""
    out = np.empty((n, d)) if out is None else out
    for i in range(0, n, _GEN_ROWS):
        chunk = out[i:i + _GEN_ROWS]
        rng.random(out=chunk)
        chunk *= 2.0
        chunk -= 1.0
    return out
