"""Training the layer: the solvers (Adam, SGD, least squares) and their precisions."""

import math
import os
import time

import numpy as np

from msft_cli._checks import choice, integer, real
from msft_cli.errors import ParameterError
from msft_cli.learn_dft.evaluate import LearnResult, evaluate
from msft_cli.learn_dft.targets import (
    INPUT_VARIANCE,
    N_VALIDATION,
    _uniform,
    make_target,
)

SOLVERS = ("adam", "sgd", "lstsq")
PRECISIONS = ("mixed", "float64", "float32")
#: In "mixed" precision, float64 takes over below this relative validation MSE.
MIXED_SWITCH = 1e-11
#: Adam with ``lr=None``: its step in units of the best SGD step.
ADAM_GAIN = 1.2
#: Rows of the weights updated at a time by Adam (cache-sized chunks; half in float64).
_ADAM_ROWS = 64
#: Threads sharing Adam's element-wise update (numpy's ufuncs release the GIL).
_ADAM_THREADS = max(1, min(4, os.cpu_count() or 1))


def check_training(epochs, batch_size, examples, seed, lr, beta1, beta2, eps, tol):
    """The training settings every backend shares (see :func:`learn_dft`), checked and
    returned as plain numbers, in the same order."""
    epochs = integer("epochs", epochs, minimum=1)
    if batch_size is not None:
        batch_size = integer("batch_size", batch_size, minimum=1)
    examples = integer("examples", examples, minimum=1)
    seed = integer("seed", seed, minimum=0)
    if lr is not None:
        lr = real("lr", lr, above=0)
    for name, value in (("beta1", beta1), ("beta2", beta2)):
        v = real(name, value)
        if not 0.0 <= v < 1.0:
            raise ParameterError(f"{name}={value!r} must be in [0, 1)")
    eps = real("eps", eps, above=0)
    tol = real("tol", tol)
    if tol < 0:
        raise ParameterError(f"tol={tol!r} must not be negative")
    return epochs, batch_size, examples, seed, lr, float(beta1), float(beta2), eps, tol


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
    choice("solver", solver, SOLVERS)
    choice("precision", precision, PRECISIONS)
    epochs, batch_size, examples, seed, lr, beta1, beta2, eps, tol = check_training(
        epochs, batch_size, examples, seed, lr, beta1, beta2, eps, tol)
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
