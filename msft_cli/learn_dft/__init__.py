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
    and the ``(rows, frames)`` of :class:`~msft_cli.engine.coefficients.Coefficients`).

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
        :class:`~msft_cli.engine.transform.MSFT` in ``"periodic"`` mode on one period
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

from .evaluate import LearnResult, evaluate
from .figures import figure_data
from .model import load
from .targets import STFT_WINDOWS, TARGETS, TEST_TONES, Block, Target, make_target, test_signal
from .train import ADAM_GAIN, MIXED_SWITCH, PRECISIONS, SOLVERS, learn_dft

__all__ = ["ADAM_GAIN", "MIXED_SWITCH", "TARGETS", "STFT_WINDOWS", "TEST_TONES", "Block", "Target", "make_target", "test_signal", "SOLVERS", "PRECISIONS", "learn_dft", "LearnResult", "evaluate", "load", "figure_data"]
