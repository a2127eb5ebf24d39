"""How close learned weights are to the target, and the result of a run."""

import json
import math
from dataclasses import dataclass

import numpy as np

from msft_cli.learn_dft.targets import N_FRESH, Target, _uniform, test_signal


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
        from msft_cli.learn_dft.model import save_model
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
        return save_model(path, self.weights, attrs, arrays)

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
