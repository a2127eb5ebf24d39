"""One case of ``bench/peers.py``, in a process of its own.

``python bench/peers/runner.py 'JSON'`` where JSON names a ``case``:

``probe``
    import a peer (``tool``: msft, nsgt, librosa, essentia); report its version.
``run``
    time one transform (``tool``, ``variant``) on one ``input``: set-up plus a
    first forward and inverse (the warm-up), then ``repeats`` forward/inverse
    pairs (fewer if they would not fit in ``budget`` seconds), median of each;
    SNR of the last inverse against the input; complex coefficients per sample.
``warm``
    msft with FFTW_MEASURE on ``seconds`` of one channel, zero and periodic
    modes: pays for the measured plans once, saving wisdom in ``$MSFT_CACHE_DIR``.
``floor``
    ``bench/_common.fft_floor`` (one real FFT of the signal, batched inverse FFTs).

The last line printed is the result as JSON, with ``peak_rss`` (``VmHWM``) and
``import_rss`` (``VmRSS`` right after importing the peer).
"""

import importlib
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(1, str(HERE.parent))  # bench/: _common

from _common import SR, peak_rss, snr_db, techno  # noqa: E402


def vm(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def load_peer(tool):
    return importlib.import_module(f"peer_{tool}")


def read_input(spec):
    """``(x, path)``: the signal as float64 (channels, samples), and its file if any."""
    import numpy as np
    if spec["kind"] == "techno":
        return techno(spec["seconds"], spec["channels"]), None
    if spec["kind"] == "noise":
        rng = np.random.default_rng(spec.get("seed", 1))
        return 0.1 * rng.standard_normal((spec["channels"], int(spec["seconds"] * SR))), None
    if spec["kind"] == "file":
        import soundfile as sf
        data, sr = sf.read(spec["path"], dtype="float64", always_2d=True)
        assert sr == SR, sr
        return np.ascontiguousarray(data.T), spec["path"]
    raise ValueError(spec["kind"])


def input_shape(spec):
    if spec["kind"] == "file":
        import soundfile as sf
        info = sf.info(spec["path"])
        return info.frames, info.channels
    return int(round(spec["seconds"] * SR)), spec["channels"]


class PerChannel:
    """A one-channel transform applied to each row of (channels, samples)."""

    def __init__(self, t):
        self.t = t

    def adapt(self, x):
        return [self.t.adapt(row) for row in x]

    def forward(self, rows):
        return [self.t.forward(r) for r in rows]

    def inverse(self, cs):
        import numpy as np
        return np.stack([self.t.inverse(c) for c in cs])

    def count(self, cs):
        return sum(self.t.count(c) for c in cs)


def case_probe(tool):
    peer = load_peer(tool)
    return {"version": peer.version(), "import_rss": vm("VmRSS")}


def case_run(tool, variant, input, bins, fmin, fmax, repeats, budget):
    import numpy as np
    began = time.perf_counter()
    peer = load_peer(tool)
    import_seconds = time.perf_counter() - began
    import_rss = vm("VmRSS")
    n, channels = input_shape(input)
    t0 = time.perf_counter()
    t = peer.make(variant, sr=SR, n_samples=n, channels=channels, bins=bins, fmin=fmin,
                  fmax=fmax, path=input.get("path"))
    needs_signal = getattr(t, "needs_signal", True)
    make_seconds = time.perf_counter() - t0
    x = None
    if needs_signal:
        x, _ = read_input(input)
    runner = t
    if x is not None and x.shape[0] > 1 and not t.multichannel:
        runner = PerChannel(t)
    arg = None if x is None else runner.adapt(x[0] if x.shape[0] == 1 else x)

    t0 = time.perf_counter()
    c = runner.forward(arg)
    first_forward = time.perf_counter() - t0
    t0 = time.perf_counter()
    y = runner.inverse(c)
    first_inverse = time.perf_counter() - t0
    count = runner.count(c)
    per_pair = first_forward + first_inverse
    spent = time.perf_counter() - began
    runs = max(1, min(repeats, int((budget - spent) / max(per_pair, 1e-9))))
    fwd, inv = [], []
    for _ in range(runs):
        c = y = None  # never two results alive at once
        t0 = time.perf_counter()
        c = runner.forward(arg)
        t1 = time.perf_counter()
        y = runner.inverse(c)
        fwd.append(t1 - t0)
        inv.append(time.perf_counter() - t1)
    if hasattr(t, "snr_db"):
        snr = t.snr_db(x, y)
    else:
        y = np.asarray(y, dtype=np.float64).reshape(x.shape)
        snr = snr_db(x, y)
    c = y = arg = None
    return {"version": peer.version(), "n_samples": n, "channels": channels,
            "import_seconds": import_seconds, "import_rss": import_rss,
            "make_seconds": make_seconds, "first_forward": first_forward,
            "first_inverse": first_inverse, "forward": statistics.median(fwd),
            "inverse": statistics.median(inv), "runs": runs, "snr": snr,
            "coefficients": count, "per_sample": count / (n * channels),
            "bands": t.bands, "top": t.top, "info": t.info()}


def case_warm(bins, fmin, fmax, seconds, modes):
    from peer_msft import n_octaves

    from msft_cli import MSFT
    x = techno(seconds, 1)[0]
    out = {}
    for mode in modes:
        t0 = time.perf_counter()
        t = MSFT(SR, fmin=fmin, bins_per_octave=bins, n_octaves=n_octaves(bins, fmin, fmax),
                 mode=mode, planner="measure")
        t.inverse(t.forward(x))
        out[mode] = time.perf_counter() - t0
    return {"seconds": out}


def case_floor(n_samples, counts, planner):
    from _common import fft_floor
    return fft_floor(n_samples, counts, planner)


CASES = {"probe": case_probe, "run": case_run, "warm": case_warm, "floor": case_floor}


def main():
    params = json.loads(sys.argv[1])
    case = params.pop("case")
    result = CASES[case](**params)
    result["peak_rss"] = peak_rss()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
