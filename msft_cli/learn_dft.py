"""The linear-layer experiment: one dense layer learns the DFT, an STFT, and msft's transform.

A network of one dense layer, with no bias and no activation, is trained on
random signals with their transforms as targets; its weights become the
transform's matrix: windowed complex sinusoids. This module makes the data,
trains (or solves in closed form), evaluates and keeps everything the figures
need; it returns results and never prints.

Conventions
-----------
Inputs
    Training, validation and "fresh" evaluation signals are white noise,
    independent samples uniform in ``[-1, 1)`` (float64; variance 1/3), made in
    batches from ``numpy.random.default_rng(seed)``.
Targets
    Real vectors: the real parts of every complex output, then the imaginary
    parts (the published layout: "stacked", no scaling, no normalisation). The
    complex outputs are ordered block by block, each block ``(bins, frames)``
    in row-major order (``scipy.signal.spectrogram``'s ``(freq, time)`` layout
    and the ``(rows, frames)`` of :class:`~msft_cli.transform.Coefficients`).

    ``"dft"``
        ``numpy.fft.fft`` of ``size`` samples: all ``size`` bins (the redundant
        upper half too, so the weights are the whole DFT matrix
        ``exp(-2j*pi*k*t/size)``), no window, no scaling: ``size x 2*size`` weights.
    ``"stft"``
        Frames at ``0, hop_length, 2*hop_length, ...`` while they fit in the
        input (no padding, no centring, no detrending), each multiplied by the
        window and real-FFT'd at ``n_fft`` points (a window shorter than
        ``n_fft`` is zero-padded at its end, as ``scipy.signal`` does), no
        scaling. The window is ``scipy.signal.get_window(window, win_length)``,
        which is periodic ("DFT-even"): for ``"hann"``,
        ``0.5 - 0.5*cos(2*pi*t/win_length)``. The defaults are the published
        configuration: Hann 256, ``n_fft`` 256, inputs of 2048 samples, hop 56
        (``noverlap = 200``; the text's "stride 250" cannot give its 33 frames)
        -> 33 frames x 129 bins -> 8514 targets, 2048 x 8514 weights. This is
        ``scipy.signal.stft``/``spectrogram`` framing with ``mode="complex",
        scaling`` and ``detrend`` switched off (their defaults scale by the window
        and subtract each frame's mean).
    ``"msft"``
        :class:`~msft_cli.transform.MSFT` in ``"periodic"`` mode on one period
        of ``input_length`` samples, every band group (low-pass, octaves coarse
        to fine, high-pass) in order; the real low- and high-pass bands have
        imaginary parts that are identically zero. The matrix is the transform
        of the identity basis (exact to rounding), and targets are ``x @ A``.

Loss
    Mean squared error over the batch and every target (Keras's
    ``mean_squared_error``): ``||X W - Y||**2 / (batch * n_outputs)``.

Solvers
    ``"adam"`` (default)
        Adam (Kingma and Ba; Keras's form, ``epsilon`` added to ``sqrt(v)``) on
        minibatches. The targets are an exact linear map of the inputs, so the
        gradient, its noise included, shrinks to zero with the error; Adam's
        step, about ``lr`` per weight whatever the gradient's size, then stalls
        at an error of the order of ``lr`` unless ``lr`` shrinks with the error.
        With ``lr=None`` (the default) it does: the learning rate follows the
        RMS of the gradient over every weight, ``lr_t = gain * lr_sgd *
        sqrt(mean(v_hat))``, with ``lr_sgd`` the SGD step below and ``gain``
        :data:`ADAM_GAIN`, and ``epsilon`` is relative to that RMS. The update is
        then ``gain * lr_sgd * m_hat / (sqrt(v_hat / mean(v_hat)) + epsilon)``:
        the SGD step, shared out between the weights by Adam's second moments
        (``mean(v)`` follows from ``mean(g*g)``, one dot product per step). ``beta1``
        defaults to 0.5, not Keras's 0.9: every weight here sees the same
        curvature, so momentum has no ill-conditioning to cure and its lag only
        slows the descent (on the published STFT, with 0.9 the MSE falls about
        10 times per epoch, the published Keras run's 16 between its 4th and
        10th epochs; with 0.5 about 300 times, SGD's 1000). A given ``lr`` is
        Keras's fixed learning rate.
        Adam wants batches no larger than about the input length, so that the
        gradient's noise evens out its second moments: with batches much
        longer (a 16-point DFT at the default batch of 256) each weight keeps
        a step of its own and the MSE falls a few hundred times per epoch,
        where SGD's falls a million times.
        It is the default because it is the published experiment's optimizer,
        not because it is the fastest here: ``"sgd"`` is (below).
    ``"sgd"``
        Minibatch stochastic gradient descent. With white-noise inputs every
        column of the weights sees the same curvature ``2 * var / n_outputs``
        (``X.T @ X / batch ~ var * I``), and the best fixed step for batches of
        ``b`` examples in ``d`` dimensions is
        ``n_outputs / (2 * var * (1 + (d + 1) / b))`` (it balances the mean
        descent against the batch-to-batch fluctuation of ``X.T @ X``); the
        default ``lr=None`` uses it. Each step is two matrix products into
        preallocated buffers, ``R = X W - Y`` and ``G = X.T R``, then
        ``W -= lr * 2 / (b * n_outputs) * G`` in place. On this problem it is
        the fastest gradient solver (about 1000 times per epoch in MSE);
        ``bench/learn_dft.py`` measures both.
    ``"lstsq"``
        The closed form: ``W = (X.T X)^-1 X.T Y``, with ``X.T X`` and ``X.T Y``
        accumulated batch by batch and a Cholesky solve (``X.T X`` of white
        noise is very well conditioned).

Precision
    ``"mixed"`` (default) computes the gradient steps in float32 (about twice as
    fast) while the training loss is above the reach of float32 rounding
    (relative MSE ``1e-11``), then in float64, which alone reaches ~1e-30
    relative (2e-15 and below in MSE). ``"float64"`` and ``"float32"`` use one
    precision throughout. Evaluation is always float64.

Examples
--------
>>> from msft_cli import learn_dft
>>> # batches of about the input length suit Adam (see Solvers)
>>> r = learn_dft.learn_dft("dft", size=16, examples=2000, epochs=3, batch_size=16, seed=1)
>>> bool(r.evaluation["weights_max_rel_diff"] < 1e-10)
True
"""

import json
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import ParameterError

TARGETS = ("dft", "stft", "msft")
SOLVERS = ("adam", "sgd", "lstsq")
PRECISIONS = ("mixed", "float64", "float32")
#: STFT windows (names for ``scipy.signal.get_window``, periodic).
STFT_WINDOWS = ("hann", "hamming", "blackman", "boxcar")

#: The four-tone test signal: (frequency in Hz, amplitude) of sines at ``sr``.
TEST_TONES = ((440.0, 1.0), (1000.0, 0.5), (2500.0, 0.25), (3500.0, 0.125))
#: Variance of the white-noise inputs, uniform in [-1, 1).
INPUT_VARIANCE = 1.0 / 3.0
#: Fresh signals used for the validation loss and for the evaluation.
N_VALIDATION = 256
N_FRESH = 256
#: In "mixed" precision, float64 takes over below this relative validation MSE.
MIXED_SWITCH = 1e-11
#: Adam with ``lr=None``: its step in units of the best SGD step.
ADAM_GAIN = 1.2
#: Rows of the weights updated at a time by Adam (cache-sized chunks; half in float64).
_ADAM_ROWS = 64
#: Threads sharing Adam's element-wise update (numpy's ufuncs release the GIL).
_ADAM_THREADS = max(1, min(4, os.cpu_count() or 1))
#: Examples generated at a time.
_GEN_ROWS = 1024


# -- targets ------------------------------------------------------------------
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


def _int_param(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name}={value!r} must be an integer")
    if value < minimum:
        raise ParameterError(f"{name}={value} must be at least {minimum}")
    return int(value)


def _float_param(name, value, positive=True):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} must be a number") from None
    if not math.isfinite(v):
        raise ParameterError(f"{name}={value!r} must be a {'positive ' if positive else ''}"
                             "finite number")
    if positive and v <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive finite number")
    return v


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
        ``"msft"``: the transform's bands (see :class:`~msft_cli.transform.MSFT`).

    Returns
    -------
    Target

    Raises
    ------
    ParameterError
        A value out of range; the message names it and the rule.
    """
    if target not in TARGETS:
        raise ParameterError(f"target={target!r} is unknown: must be one of {', '.join(TARGETS)}")
    sr = _int_param("sr", sr, 1)
    if target == "dft":
        size = _int_param("size", size, 2)
        freqs = np.arange(size) * sr / size
        return Target("dft", {"size": size, "sr": sr}, size,
                      [Block("dft", size, 1, freqs, np.zeros(1))], sr)
    if target == "stft":
        n_fft = _int_param("n_fft", n_fft, 2)
        win_length = n_fft if win_length is None else _int_param("win_length", win_length, 1)
        if win_length > n_fft:
            raise ParameterError(f"win_length={win_length} must not exceed n_fft={n_fft}")
        hop_length = _int_param("hop_length", hop_length, 1)
        if hop_length > win_length:
            raise ParameterError(f"hop_length={hop_length} must not exceed win_length="
                                 f"{win_length} (frames would skip samples)")
        input_length = 2048 if input_length is None else _int_param("input_length",
                                                                    input_length, 1)
        if win_length > input_length:
            raise ParameterError(f"win_length={win_length} must not exceed input_length="
                                 f"{input_length}")
        if window not in STFT_WINDOWS:
            raise ParameterError(f"window={window!r} is unknown: must be one of "
                                 f"{', '.join(STFT_WINDOWS)}")
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
    from .transform import MSFT
    input_length = 256 if input_length is None else _int_param("input_length", input_length, 16)
    fmin = _float_param("fmin", fmin)
    n_octaves = _int_param("n_octaves", n_octaves, 1)
    bins_per_octave = _int_param("bins_per_octave", bins_per_octave, 1)
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


# -- results ------------------------------------------------------------------
@dataclass
class LearnResult:
    """A trained (or solved) layer, how it was made, its history and evaluation.

    Attributes
    ----------
    target : Target
    weights : ndarray (n_inputs, n_outputs), float64
    settings : dict
        ``solver``, ``epochs`` (run), ``batch_size``, ``lr`` (the one used),
        ``lr_schedule`` (``"rms"``: Adam's learning rate is ``lr`` times the
        gradient's RMS; ``"constant"``),
        ``beta1``, ``beta2``, ``eps``, ``examples``, ``precision``, ``seed``,
        ``tol``, ``inputs`` (the input distribution).
    history : dict of ndarray
        Per epoch: ``epoch`` (1..), ``loss`` (mean training MSE over the epoch's
        batches, as Keras prints it), ``val_loss`` (MSE on 256 fresh signals after
        the epoch, float64), ``seconds`` (wall time since the start, data
        making included), ``bits`` (32 or 64: the precision of the epoch).
        ``lstsq`` has one row whose ``loss`` is NaN.
    evaluation : dict
        See :func:`evaluate`.
    seconds : float
        Wall time of :func:`learn_dft` up to the evaluation.
    """

    target: Target
    weights: np.ndarray
    settings: dict
    history: dict
    evaluation: dict
    seconds: float

    def save(self, path):
        """Write the model file (HDF5, format ``"msft-model"``; see :func:`load`)."""
        from . import container
        t = self.target
        x = test_signal(t)
        attrs = {"target": t.name, "target_params": json.dumps(t.params),
                 "settings": json.dumps(self.settings),
                 "evaluation": json.dumps(self.evaluation), "seconds": float(self.seconds),
                 "n_inputs": t.n_inputs, "n_outputs": t.n_outputs,
                 "description": t.describe()}
        arrays = {f"history/{k}": np.asarray(v) for k, v in self.history.items()}
        arrays["test/signal"] = x
        arrays["test/reference"] = t.forward(x[None])[0]
        arrays["test/network"] = x @ self.weights
        return container.save_model(path, self.weights, attrs, arrays)

    def summary(self):
        """A few readable lines: what was learned, how, and how well."""
        s, e = self.settings, self.evaluation
        lines = [self.target.describe()]
        how = (f"solver {s['solver']}, {s['examples']} examples, seed {s['seed']}")
        if s["solver"] != "lstsq":
            lr = f"lr {s['lr']:.3g}"
            if s.get("lr_schedule") == "rms":
                lr += " x gradient RMS"
            how += (f", {s['epochs']} epochs, batch {s['batch_size']}, {lr}, "
                    f"{s['precision']} precision")
        lines.append(f"{how}: {self.seconds:.1f} s")
        if s["solver"] != "lstsq":
            lines.append("epoch   loss (train)   val_loss   seconds")
            h = self.history
            for i in range(len(h["epoch"])):
                lines.append(f"{int(h['epoch'][i]):>5}   {h['loss'][i]:>12.3e}   "
                             f"{h['val_loss'][i]:>8.3e}   {h['seconds'][i]:>7.1f}")
        lines.append(f"fresh noise: MSE {e['fresh_mse']:.3e}, relative error "
                     f"{e['fresh_rel_error']:.3e} ({e['fresh_rel_error_db']:.1f} dB)")
        lines.append(f"four tones:  relative error {e['tones_rel_error']:.3e} "
                     f"({e['tones_rel_error_db']:.1f} dB)")
        lines.append(f"weights vs analytic: max abs diff {e['weights_max_abs_diff']:.3e}, "
                     f"max rel diff {e['weights_max_rel_diff']:.3e}")
        return "\n".join(lines)


def _db(r):
    return float(20 * np.log10(r)) if r > 0 else float("-inf")


def evaluate(target, weights, seed=0):
    """How well ``weights`` do the target's transform, on signals not trained on.

    Returns a dict: ``tones_rel_error`` (``||x W - y|| / ||y||`` on the four-tone
    signal) and ``tones_rel_error_db`` (20 log10 of it); ``fresh_mse``,
    ``fresh_rel_error`` and ``fresh_rel_error_db`` on 256 fresh noise signals
    (uniform [-1, 1), from ``seed``'s own stream); ``weights_max_abs_diff``
    (``max|W - A|``), ``weights_max_rel_diff`` (that over ``max|A|``) and
    ``weights_rms_rel_diff`` (``||W - A|| / ||A||``, Frobenius) against the
    analytic matrix ``A``.
    """
    w = np.asarray(weights, dtype=np.float64)
    x = test_signal(target)
    y = target.forward(x[None])[0]
    tones = float(np.linalg.norm(x @ w - y) / np.linalg.norm(y))
    xf = _uniform(np.random.default_rng(np.random.SeedSequence([seed, 3])),
                  N_FRESH, target.n_inputs)
    yf = target.forward(xf)
    rf = xf @ w - yf
    fresh = float(np.linalg.norm(rf) / np.linalg.norm(yf))
    a = target.matrix()
    diff = _max_abs_diff(w, a)
    return {"tones_rel_error": tones, "tones_rel_error_db": _db(tones),
            "fresh_mse": float(np.mean(rf * rf)), "fresh_rel_error": fresh,
            "fresh_rel_error_db": _db(fresh),
            "weights_max_abs_diff": diff, "weights_max_rel_diff": diff / float(np.abs(a).max()),
            "weights_rms_rel_diff": float(_frob_diff(w, a) / np.linalg.norm(a))}


def _max_abs_diff(w, a, rows=256):
    """``max|w - a|`` without a full-size temporary."""
    return max(float(np.abs(w[i:i + rows] - a[i:i + rows]).max())
               for i in range(0, w.shape[0], rows))


def _frob_diff(w, a, rows=256):
    return math.sqrt(sum(float(np.sum((w[i:i + rows] - a[i:i + rows]) ** 2))
                         for i in range(0, w.shape[0], rows)))


# -- data ---------------------------------------------------------------------
def _uniform(rng, n, d, out=None):
    """``n`` white-noise signals of ``d`` samples, uniform in [-1, 1), made in batches."""
    out = np.empty((n, d)) if out is None else out
    for i in range(0, n, _GEN_ROWS):
        chunk = out[i:i + _GEN_ROWS]
        rng.random(out=chunk)
        chunk *= 2.0
        chunk -= 1.0
    return out


# -- training -----------------------------------------------------------------
def learn_dft(target="stft", *, size=128, n_fft=256, win_length=None, hop_length=56,
              window="hann", input_length=None, sr=8000, fmin=500.0, n_octaves=2,
              bins_per_octave=6, solver="adam", epochs=10, batch_size=None, lr=None,
              beta1=0.5, beta2=0.999, eps=1e-7, examples=15000, precision="mixed", seed=0,
              tol=0.0, progress=None):
    """Train one dense layer (no bias, no activation) to do a transform; evaluate it.

    Parameters
    ----------
    target, size, n_fft, win_length, hop_length, window, input_length, sr, fmin, \
n_octaves, bins_per_octave
        The transform: see :func:`make_target`.
    solver : {"adam", "sgd", "lstsq"}
        Adam with a learning rate that follows the gradient's RMS, minibatch SGD
        with the step from the input statistics, or the closed-form
        least-squares solution (see the module documentation).
    epochs : int
        Passes over the training set (at least 1; ``lstsq`` makes one).
    batch_size : int, optional
        Examples per gradient step, at least 1 (at most ``examples`` are used).
        Default: an eighth of the input length, at least 256 (256 for the
        published STFT): per epoch, SGD then gets close to the best its data
        allows (the error falls about ``exp(-examples / n_inputs)`` per epoch;
        smaller batches only add steps), while each step's matrix products stay
        large enough that BLAS, not Python, sets the pace.
    lr : float, optional
        Step size. Default: for ``"sgd"`` the best fixed step for white noise,
        ``lr_sgd = n_outputs / (2/3 * (1 + (n_inputs + 1) / batch_size))``; for
        ``"adam"`` a learning rate that follows the gradient's RMS,
        ``ADAM_GAIN * lr_sgd * sqrt(mean(v_hat))`` (``settings["lr"]`` is then
        ``ADAM_GAIN * lr_sgd`` and ``settings["lr_schedule"]`` is ``"rms"``). A
        given ``lr`` is a fixed step (for ``"adam"``, Keras's learning rate).
    beta1, beta2, eps : float
        Adam's moment decays, each in [0, 1) (``beta1`` 0.5 rather than Keras's
        0.9: see the module documentation), and its epsilon (> 0; relative to
        the gradient's RMS when ``lr`` is None).
    examples : int
        Training signals, at least 1 (``lstsq``: at least ``n_inputs``).
    precision : {"mixed", "float64", "float32"}
        Floating point type of the gradient steps (see the module documentation).
    seed : int
        Seeds the training data, its shuffling and the fresh signals.
    tol : float
        Stop after the first epoch whose ``val_loss`` is at most ``tol`` (0: never).
    progress : callable, optional
        ``progress(0, epochs, None)`` once the parameters are checked and the data
        made, then ``progress(epoch, epochs, record)`` after each epoch, ``record``
        a dict of that epoch's ``history`` values.

    Returns
    -------
    LearnResult

    Raises
    ------
    ParameterError
        A value out of range; the message names it, its value and the rule.
    """
    began = time.perf_counter()
    tgt = make_target(target, size=size, n_fft=n_fft, win_length=win_length,
                      hop_length=hop_length, window=window, input_length=input_length,
                      sr=sr, fmin=fmin, n_octaves=n_octaves, bins_per_octave=bins_per_octave)
    if solver not in SOLVERS:
        raise ParameterError(f"solver={solver!r} is unknown: must be one of {', '.join(SOLVERS)}")
    if precision not in PRECISIONS:
        raise ParameterError(f"precision={precision!r} is unknown: must be one of "
                             f"{', '.join(PRECISIONS)}")
    epochs = _int_param("epochs", epochs, 1)
    if batch_size is not None:
        batch_size = _int_param("batch_size", batch_size, 1)
    examples = _int_param("examples", examples, 1)
    seed = _int_param("seed", seed, 0)
    if lr is not None:
        lr = _float_param("lr", lr)
    for name, value in (("beta1", beta1), ("beta2", beta2)):
        v = _float_param(name, value, positive=False)
        if not 0.0 <= v < 1.0:
            raise ParameterError(f"{name}={value!r} must be in [0, 1)")
    beta1, beta2 = float(beta1), float(beta2)
    eps = _float_param("eps", eps)
    tol = _float_param("tol", tol, positive=False)
    if tol < 0:
        raise ParameterError(f"tol={tol!r} must not be negative")
    d, o = tgt.n_inputs, tgt.n_outputs
    if solver == "lstsq" and examples < d:
        raise ParameterError(f"examples={examples} must be at least the input length {d} for "
                             "solver='lstsq' (the normal equations are singular otherwise)")
    if batch_size is None:
        batch_size = max(256, d // 8)
    batch_size = min(batch_size, examples)
    schedule = "rms" if solver == "adam" and lr is None else "constant"
    if lr is None:
        lr = o / (2 * INPUT_VARIANCE * (1 + (d + 1) / batch_size))  # the best SGD step
        if solver == "adam":
            lr *= ADAM_GAIN
    settings = {"solver": solver, "epochs": 1 if solver == "lstsq" else epochs,
                "batch_size": batch_size, "lr": float(lr), "lr_schedule": schedule,
                "beta1": beta1, "beta2": beta2,
                "eps": eps, "examples": examples,
                "precision": "float64" if solver == "lstsq" else precision, "seed": seed,
                "tol": tol, "inputs": "uniform[-1, 1)"}
    seeds = np.random.SeedSequence(seed).spawn(3)
    x_val = _uniform(np.random.default_rng(seeds[1]), N_VALIDATION, d)
    y_val = tgt.forward(x_val)
    if tgt.name == "msft":
        tgt.matrix()
    x = _uniform(np.random.default_rng(seeds[0]), examples, d)
    if progress is not None:
        progress(0, settings["epochs"], None)
    if solver == "lstsq":
        weights, history = _solve_lstsq(tgt, x, x_val, y_val, began)
        if progress is not None:
            progress(1, 1, {k: v[0] for k, v in history.items()})
    else:
        trainer = _Trainer(tgt, x, x_val, y_val, settings, np.random.default_rng(seeds[2]),
                           began)
        weights, history = trainer.run(epochs, tol, progress)
        settings["epochs"] = len(history["epoch"])
        del trainer
    seconds = time.perf_counter() - began
    del x
    evaluation = evaluate(tgt, weights, seed)
    return LearnResult(tgt, weights, settings, history, evaluation, seconds)


def _val_loss(tgt, w, x_val, y_val):
    r = x_val @ w
    r -= y_val
    return float(np.mean(r * r))


def _solve_lstsq(tgt, x, x_val, y_val, began):
    """The closed form from ``X.T X`` and ``X.T Y``, accumulated in batches."""
    import scipy.linalg
    d, o = tgt.n_inputs, tgt.n_outputs
    gram, gram_part = np.zeros((d, d)), np.empty((d, d))
    xty, xty_part = np.zeros((d, o)), np.empty((d, o))
    step = 2048
    y = np.empty((step, o))
    for i in range(0, x.shape[0], step):
        xb = x[i:i + step]
        yb = tgt.forward(xb, out=y[:xb.shape[0]])
        gram += np.matmul(xb.T, xb, out=gram_part)
        xty += np.matmul(xb.T, yb, out=xty_part)
    del y, xty_part
    try:
        factor = scipy.linalg.cho_factor(gram, lower=False, overwrite_a=True, check_finite=False)
        w = scipy.linalg.cho_solve(factor, xty, overwrite_b=True, check_finite=False)
    except np.linalg.LinAlgError as exc:  # only for degenerate inputs
        raise ParameterError(f"examples={x.shape[0]}: X.T X is singular ({exc})") from exc
    history = {"epoch": np.array([1]), "loss": np.array([np.nan]),
               "val_loss": np.array([_val_loss(tgt, w, x_val, y_val)]),
               "seconds": np.array([time.perf_counter() - began]), "bits": np.array([64])}
    return w, history


class _Trainer:
    """Minibatch SGD or Adam on preallocated buffers, float32 then float64 if mixed."""

    def __init__(self, tgt, x, x_val, y_val, settings, rng, began):
        self.tgt, self.x, self.x_val, self.y_val = tgt, x, x_val, y_val
        self.s, self.rng, self.began = settings, rng, began
        self.dtype = np.float64 if settings["precision"] == "float64" else np.float32
        d, o = tgt.n_inputs, tgt.n_outputs
        self.w = np.zeros((d, o), self.dtype)
        self.m = self.v = None
        if settings["solver"] == "adam":
            self.m = np.zeros((d, o), self.dtype)
            self.v = np.zeros((d, o), self.dtype)
        self.t = 0
        self._pool = None
        self.vbar = 0.0  # mean of v over every weight (Adam with lr=None)
        self.power = float(np.mean(y_val * y_val))

    def _set_dtype(self, dtype):
        self.dtype = dtype
        self.w = self.w.astype(dtype)
        if self.m is not None:
            self.m, self.v = self.m.astype(dtype), self.v.astype(dtype)

    def run(self, epochs, tol, progress):
        hist = {k: [] for k in ("epoch", "loss", "val_loss", "seconds", "bits")}
        previous = np.inf
        try:
            for epoch in range(1, epochs + 1):
                bits = 8 * np.dtype(self.dtype).itemsize
                loss = self._epoch()
                w64 = self.w if self.dtype == np.float64 else self.w.astype(np.float64)
                val = _val_loss(self.tgt, w64, self.x_val, self.y_val)
                del w64
                record = {"epoch": epoch, "loss": loss, "val_loss": val,
                          "seconds": time.perf_counter() - self.began, "bits": bits}
                for k, v in record.items():
                    hist[k].append(v)
                if progress is not None:
                    progress(epoch, epochs, record)
                if not np.isfinite(loss):
                    break
                if self.s["precision"] == "mixed" and self.dtype == np.float32 and (
                        val < MIXED_SWITCH * self.power or val > 0.5 * previous):
                    self._set_dtype(np.float64)
                previous = val
                if tol and val <= tol:
                    break
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
        w = self.w.astype(np.float64, copy=False)
        return w, {k: np.asarray(v) for k, v in hist.items()}

    def _epoch(self):
        x, tgt, dt = self.x, self.tgt, self.dtype
        n, d, o = x.shape[0], tgt.n_inputs, tgt.n_outputs
        b = self.s["batch_size"]
        order = self.rng.permutation(n)
        xb64 = np.empty((b, d))
        yb64 = np.empty((b, o))
        xb = xb64 if dt == np.float64 else np.empty((b, d), dt)
        yb = yb64 if dt == np.float64 else np.empty((b, o), dt)
        res = np.empty((b, o), dt)
        grad = np.empty((d, o), dt)
        total, count = 0.0, 0
        for start in range(0, n, b):
            idx = order[start:start + b]
            k = len(idx)
            np.take(x, idx, axis=0, out=xb64[:k])
            tgt.forward(xb64[:k], out=yb64[:k])
            if dt != np.float64:
                xb[:k] = xb64[:k]
                yb[:k] = yb64[:k]
            xk, r = xb[:k], res[:k]
            np.matmul(xk, self.w, out=r)      # R = X W - Y
            np.subtract(r, yb[:k], out=r)
            flat = r.reshape(-1)
            total += float(np.dot(flat, flat))
            count += flat.size
            np.matmul(xk.T, r, out=grad)      # X.T R; the gradient is 2 / (k * o) times it
            if self.m is None:
                grad *= -self.s["lr"] * 2.0 / (k * o)
                self.w += grad
            else:
                grad *= 2.0 / (k * o)
                self._adam(grad)
        return total / count

    def _adam(self, grad):
        """One Adam step, shared between threads by rows."""
        s = self.s
        self.t += 1
        b1, b2, eps = s["beta1"], s["beta2"], s["eps"]
        if s["lr_schedule"] == "rms":
            # mean(v) follows from mean(g*g) without a pass over v
            flat = grad.reshape(-1)
            self.vbar = b2 * self.vbar + (1.0 - b2) * float(np.dot(flat, flat)) / flat.size
            scale = math.sqrt(self.vbar)
            step = s["lr"] * scale / (1.0 - b1 ** self.t)
            eps = eps * scale
        else:
            step = s["lr"] * math.sqrt(1.0 - b2 ** self.t) / (1.0 - b1 ** self.t)
        d = self.w.shape[0]
        rows = _ADAM_ROWS if self.dtype == np.float32 else _ADAM_ROWS // 2
        cuts = [min(d, -(-d * i // (_ADAM_THREADS * rows)) * rows)
                for i in range(_ADAM_THREADS + 1)]
        parts = [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
        if len(parts) == 1:
            self._adam_rows(grad, 0, d, rows, b1, b2, step, eps)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            self._pool = ThreadPoolExecutor(_ADAM_THREADS, thread_name_prefix="msft-adam")
        jobs = [self._pool.submit(self._adam_rows, grad, a, b, rows, b1, b2, step, eps)
                for a, b in parts]
        for job in jobs:
            job.result()

    def _adam_rows(self, grad, start, stop, rows, b1, b2, step, eps):
        """Adam's update of rows ``start:stop``, a cache-sized chunk at a time."""
        tmp = np.empty((rows, self.w.shape[1]), self.dtype)
        for r0 in range(start, stop, rows):
            r1 = min(r0 + rows, stop)
            gc, tc = grad[r0:r1], tmp[:r1 - r0]
            mc, vc, wc = self.m[r0:r1], self.v[r0:r1], self.w[r0:r1]
            mc -= gc                          # m = b1 m + (1 - b1) g
            mc *= b1
            mc += gc
            vc *= b2                          # v = b2 v + (1 - b2) g*g
            np.multiply(gc, gc, out=tc)
            tc *= 1.0 - b2
            vc += tc
            np.sqrt(vc, out=tc)               # w -= step m / (sqrt(v) + eps)
            tc += eps
            np.divide(mc, tc, out=tc)
            tc *= step
            wc -= tc


# -- model files --------------------------------------------------------------
def load(path):
    """A :class:`LearnResult` from a model file written by :meth:`LearnResult.save`.

    Raises
    ------
    ContainerError
        Missing, not HDF5, not an msft model, or a newer format version.
    """
    from . import container
    data = container.load_model(path)
    a = data["attrs"]
    params = json.loads(a["target_params"])
    tgt = make_target(a["target"], **params)
    history = {k.split("/", 1)[1]: v for k, v in data["arrays"].items()
               if k.startswith("history/")}
    return LearnResult(tgt, data["weights"], json.loads(a["settings"]), history,
                       json.loads(a["evaluation"]), float(a["seconds"]))


# -- figures ------------------------------------------------------------------
def figure_data(model, frames=(0, 10, 20, 30), rows=None, floor_db=-120.0):
    """Everything the published figures show, as arrays: the renderer only draws.

    Parameters
    ----------
    model : LearnResult or str or Path
        A result, or a model file to load.
    frames : sequence of int
        Output frames whose weight maps to show (0-based; the published 1st,
        11th, 21st and 31st are the default). Frames past the last are
        dropped; for ``"dft"`` there is one frame; for ``"msft"`` they index the
        frames of the finest octave and each octave shows its frame at that time.
    rows : sequence of (frame, bin), optional
        Weight rows (columns of the weight matrix) to compare with the analytic
        windowed sinusoid. Default: three bins (1/16, 1/8 and 1/4 of the bins)
        in the middle frame.
    floor_db : float
        Floor of the log-scaled spectrograms.

    Returns
    -------
    dict
        ``"title"`` : str, the target's description.
        ``"sr"`` : int.
        ``"weight_maps"`` : list of dicts, one per frame: ``frame`` (int),
        ``label`` (str), ``block`` (str), ``real``, ``imag`` (learned weights,
        ``(n_inputs, n_bins)``: rows are input samples, columns output bins),
        ``analytic_real``, ``analytic_imag`` (same shapes), ``frequencies``
        ``(n_bins,)`` Hz.
        ``"weight_rows"`` : list of dicts: ``frame``, ``bin``, ``block``,
        ``label``, ``frequency`` (Hz), ``samples`` (``(n_inputs,)`` input index),
        ``learned_real``, ``learned_imag``, ``analytic_real``, ``analytic_imag``
        (each ``(n_inputs,)``).
        ``"spectrograms"`` : dict: ``signal`` (the four-tone input,
        ``(n_inputs,)``), ``tones`` (list of (Hz, amplitude)), ``frequencies``
        (``(rows,)`` Hz, low to high), ``times`` (``(frames,)`` s),
        ``reference`` and ``network`` (complex ``(rows, frames)``),
        ``reference_magnitude``, ``network_magnitude`` (linear) and
        ``reference_db``, ``network_db`` (``20 log10``, floored at ``floor_db``),
        ``rel_error`` and ``rel_error_db``. For ``"msft"``, every band group
        is stacked low to high on the finest hop's time grid (each coarser
        frame held over its span).
        ``"loss"`` : dict of ``(epochs,)`` arrays: ``epoch``, ``loss``,
        ``val_loss``, ``seconds``, ``bits``; ``solver`` (str). For ``lstsq``, one
        epoch with a NaN ``loss``.
        ``"metrics"`` : the evaluation dict (see :func:`evaluate`).
    """
    if not isinstance(model, LearnResult):
        model = load(model)
    tgt, w = model.target, model.weights
    a = tgt.matrix()
    k = tgt.n_complex
    fine = tgt.blocks[-1] if tgt.name != "msft" else max(
        (b for b in tgt.blocks if not b.real), key=lambda b: b.n_frames)
    maps = []
    for f in frames:
        f = int(f)
        if f < 0 or f >= fine.n_frames:
            continue
        for bi, (off, b) in enumerate(zip(tgt.offsets(), tgt.blocks)):
            if tgt.name == "msft" and b.real:
                continue
            if tgt.name == "msft":
                fb = min(b.n_frames - 1, f * b.n_frames // fine.n_frames)
            else:
                fb = f
            cols = off + np.arange(b.n_bins) * b.n_frames + fb
            maps.append({"frame": fb, "block": b.name,
                         "label": f"{b.name} frame {fb + 1}" if tgt.name == "msft"
                         else f"frame {fb + 1}",
                         "real": w[:, cols], "imag": w[:, k + cols],
                         "analytic_real": a[:, cols], "analytic_imag": a[:, k + cols],
                         "frequencies": b.frequencies})
        if tgt.name == "dft":
            break
    main = fine
    off = tgt.offsets()[tgt.blocks.index(main)]
    if rows is None:
        mid = main.n_frames // 2
        rows = [(mid, max(1, main.n_bins // q)) for q in (16, 8, 4)]
    wrows = []
    for f, bn in rows:
        f, bn = int(f), int(bn)
        if not (0 <= f < main.n_frames and 0 <= bn < main.n_bins):
            raise ParameterError(f"rows=({f}, {bn}) is outside the {main.n_frames} frames x "
                                 f"{main.n_bins} bins of {main.name}")
        c = off + bn * main.n_frames + f
        wrows.append({"frame": f, "bin": bn, "block": main.name,
                      "label": f"frame {f + 1}, bin {bn} ({main.frequencies[bn]:.0f} Hz)",
                      "frequency": float(main.frequencies[bn]),
                      "samples": np.arange(tgt.n_inputs),
                      "learned_real": w[:, c].copy(), "learned_imag": w[:, k + c].copy(),
                      "analytic_real": a[:, c].copy(), "analytic_imag": a[:, k + c].copy()})
    x = test_signal(tgt)
    ref = tgt.to_complex(tgt.forward(x[None])[0])
    net = tgt.to_complex(x @ w)
    ref_img, freqs, times = _image(tgt, ref)
    net_img, _, _ = _image(tgt, net)
    err = float(np.linalg.norm(net - ref) / np.linalg.norm(ref))

    def db(z):
        return np.maximum(20 * np.log10(np.maximum(np.abs(z), 1e-300)), floor_db)

    spectro = {"signal": x, "tones": list(TEST_TONES), "frequencies": freqs, "times": times,
               "reference": ref_img, "network": net_img,
               "reference_magnitude": np.abs(ref_img), "network_magnitude": np.abs(net_img),
               "reference_db": db(ref_img), "network_db": db(net_img),
               "rel_error": err, "rel_error_db": _db(err)}
    loss = {kk: np.asarray(v) for kk, v in model.history.items()}
    loss["solver"] = model.settings["solver"]
    return {"title": tgt.describe(), "sr": tgt.sr, "weight_maps": maps, "weight_rows": wrows,
            "spectrograms": spectro, "loss": loss, "metrics": dict(model.evaluation)}


def _image(tgt, values):
    """Complex outputs as one ``(rows, frames)`` image, low frequencies first."""
    blocks = tgt.split(values)
    if tgt.name != "msft":
        b = tgt.blocks[0]
        return blocks[0], b.frequencies, b.times
    n = max(b.n_frames for b in tgt.blocks)
    fine = [b for b in tgt.blocks if b.n_frames == n][0]
    rows, freqs = [], []
    for b, img in zip(tgt.blocks, blocks):
        rows.append(np.repeat(img, n // b.n_frames, axis=1))
        freqs.append(b.frequencies)
    return np.concatenate(rows, axis=0), np.concatenate(freqs), fine.times
