"""The linear-layer experiment in the field's framework: ``torch.nn.Linear`` and ``torch.optim``.

The same experiment as :func:`msft_cli.learn_dft.learn_dft`, with its targets
(:func:`~msft_cli.learn_dft.make_target`), training data (the same seeds, so
the same signals and the same shuffling), evaluation
(:func:`~msft_cli.learn_dft.evaluate`), result type and model file; only the
layer and its training are torch's: one ``torch.nn.Linear(n_inputs,
n_outputs, bias=False)`` started at zero, ``torch.nn.functional.mse_loss`` and
``torch.optim.Adam`` (or ``SGD``), on the CPU or a CUDA device.

Adam's default learning rate follows the gradient's RMS
(``lr_schedule="rms"``, see :mod:`msft_cli.learn_dft`): before each step the
optimizer's ``lr`` and ``eps`` are set so that ``torch.optim.Adam``'s update is
the numpy trainer's, ``lr * sqrt(vbar) / (1 - beta1**t) * m / (sqrt(v) + eps *
sqrt(vbar))`` (``vbar`` the running mean of the squared gradient).
"""

import math
import time

import numpy as np
import torch

from . import _numpy_engine as ne

_ld = ne.learn_dft_module

#: Solvers of this backend (the closed form is numpy's: ``--solver lstsq``).
SOLVERS = ("adam", "sgd")


def learn_dft(target="stft", *, size=128, n_fft=256, win_length=None, hop_length=56,
              window="hann", input_length=None, sr=8000, fmin=500.0, n_octaves=2,
              bins_per_octave=6, solver="adam", epochs=10, batch_size=None, lr=None,
              beta1=0.5, beta2=0.999, eps=1e-7, examples=15000, precision="mixed", seed=0,
              tol=0.0, progress=None, device=None):
    """Train one ``torch.nn.Linear`` (no bias) to do a transform; evaluate it.

    Parameters are those of :func:`msft_cli.learn_dft.learn_dft` (``solver``
    ``"adam"`` or ``"sgd"``), plus ``device`` (default: CUDA if available,
    else the CPU).

    Returns
    -------
    msft_cli.learn_dft.LearnResult
        ``settings`` also holds ``backend`` (``"torch"``) and ``device``.

    Examples
    --------
    >>> from msft_cli.torch.learn_dft import learn_dft
    >>> r = learn_dft("dft", size=16, epochs=4, examples=2000, device="cpu")
    >>> r.evaluation["weights_max_rel_diff"] < 1e-3
    True
    """
    began = time.perf_counter()
    tgt = _ld.make_target(target, size=size, n_fft=n_fft, win_length=win_length,
                          hop_length=hop_length, window=window, input_length=input_length,
                          sr=sr, fmin=fmin, n_octaves=n_octaves, bins_per_octave=bins_per_octave)
    if solver not in SOLVERS:
        raise ne.ParameterError(f"solver={solver!r} is not a torch solver: must be one of "
                                f"{', '.join(SOLVERS)} (lstsq runs on the numpy backend)")
    if precision not in _ld.PRECISIONS:
        raise ne.ParameterError(f"precision={precision!r} is unknown: must be one of "
                                f"{', '.join(_ld.PRECISIONS)}")
    epochs, batch_size, examples, seed, lr, beta1, beta2, eps, tol = _ld.check_training(
        epochs, batch_size, examples, seed, lr, beta1, beta2, eps, tol)
    device = torch.device(device if device is not None else
                          ("cuda" if torch.cuda.is_available() else "cpu"))
    d, o = tgt.n_inputs, tgt.n_outputs
    if batch_size is None:
        batch_size = max(256, d // 8)
    batch_size = min(batch_size, examples)
    schedule = "rms" if solver == "adam" and lr is None else "constant"
    if lr is None:
        lr = o / (2 * _ld.INPUT_VARIANCE * (1 + (d + 1) / batch_size))
        if solver == "adam":
            lr *= _ld.ADAM_GAIN
    settings = {"solver": solver, "epochs": epochs, "batch_size": batch_size, "lr": float(lr),
                "lr_schedule": schedule, "beta1": beta1, "beta2": beta2, "eps": eps,
                "examples": examples, "precision": precision, "seed": seed, "tol": tol,
                "inputs": "uniform[-1, 1)", "backend": "torch", "device": str(device)}
    seeds = np.random.SeedSequence(seed).spawn(3)
    x_val = _ld._uniform(np.random.default_rng(seeds[1]), _ld.N_VALIDATION, d)
    y_val = tgt.forward(x_val)
    if tgt.name == "msft":
        tgt.matrix()
    x = _ld._uniform(np.random.default_rng(seeds[0]), examples, d)
    if progress is not None:
        progress(0, epochs, None)
    weights, history = _train(tgt, x, x_val, y_val, settings, np.random.default_rng(seeds[2]),
                              began, progress, device)
    settings["epochs"] = len(history["epoch"])
    seconds = time.perf_counter() - began
    evaluation = _ld.evaluate(tgt, weights, seed)
    return _ld.LearnResult(tgt, weights, settings, history, evaluation, seconds)


def _train(tgt, x, x_val, y_val, s, rng, began, progress, device):
    d, o = tgt.n_inputs, tgt.n_outputs
    dtype = torch.float64 if s["precision"] == "float64" else torch.float32
    layer = torch.nn.Linear(d, o, bias=False, device=device, dtype=dtype)
    torch.nn.init.zeros_(layer.weight)
    if s["solver"] == "adam":
        opt = torch.optim.Adam(layer.parameters(), lr=s["lr"], betas=(s["beta1"], s["beta2"]),
                               eps=s["eps"])
    else:
        opt = torch.optim.SGD(layer.parameters(), lr=s["lr"])
    power = float(np.mean(y_val * y_val))
    hist = {k: [] for k in ("epoch", "loss", "val_loss", "seconds", "bits")}
    previous, vbar, step = np.inf, 0.0, 0
    b = s["batch_size"]
    y_buf = np.empty((b, o))
    for epoch in range(1, s["epochs"] + 1):
        bits = 64 if dtype == torch.float64 else 32
        order = rng.permutation(x.shape[0])
        total, count = 0.0, 0
        for start in range(0, x.shape[0], b):
            idx = order[start:start + b]
            xb = x[idx]
            yb = tgt.forward(xb, out=y_buf[:len(idx)])
            xt = torch.from_numpy(xb).to(device=device, dtype=dtype)
            yt = torch.from_numpy(yb).to(device=device, dtype=dtype)
            opt.zero_grad(set_to_none=False)
            loss = torch.nn.functional.mse_loss(layer(xt), yt)
            loss.backward()
            total += float(loss.detach()) * yt.numel()
            count += yt.numel()
            if s["lr_schedule"] == "rms":
                step += 1
                g = layer.weight.grad
                vbar = s["beta2"] * vbar + (1 - s["beta2"]) * float((g * g).mean())
                scale = math.sqrt(vbar)
                root = math.sqrt(1 - s["beta2"] ** step)
                for group in opt.param_groups:  # torch's update made the numpy trainer's
                    group["lr"] = s["lr"] * scale / root
                    group["eps"] = s["eps"] * scale / root
            opt.step()
        w64 = layer.weight.detach().to("cpu", torch.float64).numpy().T
        val = _ld._val_loss(tgt, w64, x_val, y_val)
        loss = total / count
        record = {"epoch": epoch, "loss": loss, "val_loss": val,
                  "seconds": time.perf_counter() - began, "bits": bits}
        for k, v in record.items():
            hist[k].append(v)
        if progress is not None:
            progress(epoch, s["epochs"], record)
        if not np.isfinite(loss):
            break
        if s["precision"] == "mixed" and dtype == torch.float32 and (
                val < _ld.MIXED_SWITCH * power or val > 0.5 * previous):
            dtype = torch.float64
            layer.double()
            for state in opt.state.values():
                for k, v in state.items():
                    if torch.is_tensor(v) and v.is_floating_point() and v.ndim:
                        state[k] = v.double()
        previous = val
        if s["tol"] and val <= s["tol"]:
            break
    w = np.ascontiguousarray(layer.weight.detach().to("cpu", torch.float64).numpy().T)
    return w, {k: np.asarray(v) for k, v in hist.items()}
