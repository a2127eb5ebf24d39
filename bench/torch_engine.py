"""Bench of msft's torch engine (msft_cli.torch.MSFT) against the torch.fft floor, msft's FFTW
engine and the torch peers, on the CPU and, where there is one, a CUDA device.

Usage::

    python bench/torch_engine.py [--quick] [--device cpu|cuda] [--markdown PATH]

Inputs: white noise at 44.1 kHz, 262,144 samples, batch 1, 4 and 32 (``--quick``:
1 and 4); settings (a) msft's default (12 bins per octave from E0, 10 octaves)
and (b) 8 octaves x 32 bins per octave from 86.13 Hz (CQT_pytorch's published
setting: its lowest band is ``sr / 2 / 2**8``; msft's top band then sits a
32nd of an octave under Nyquist). Each case runs in its own process (its peak
RSS is its own). Columns:

- forward, inverse: median (``--min``: minimum) wall time of 5 calls after 2 warm-ups
  (CUDA: synchronized);
- fwd+bwd: forward, ``sum |c|^2`` over every coefficient, backward;
- SNR: float32 round trip, forward then inverse;
- peak: ``torch.cuda.max_memory_allocated`` on CUDA, the process's peak RSS on the CPU;
- floor: torch.fft's floor: one ``rfft`` of the batch plus batched ``ifft``s of
  the coefficients' shapes (each octave's ``(batch, bins, frames)``);
- FFTW: msft's numpy engine on the CPU (the batch as channels, all cores), forward
  and inverse.

Peers (the bench extra), where they run: cqt-nsgt-pytorch's ``oct`` and
``matrix_complete`` modes (its ``nsgfwin`` needs numpy < 2: patched here as nsgt
was, ``np.clip`` into an integer array with an infinite bound), nnAudio's
``CQT2010v2`` (forward only, hop 512: it has no inverse).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

N = 262_144
SR = 44100
SETTINGS = {
    "a": {"sr": SR},
    "b": {"sr": SR, "fmin": SR / 2 / 2**8, "bins_per_octave": 32, "n_octaves": 8},
}
#: How the repeats are summarized: "median", or "min" (``--min``: on a loaded machine the
#: minimum is the better estimate of a call's own cost)
STAT = "median"
SETTING_NAMES = {"a": "(a) 12 bins x 10 oct", "b": "(b) 32 bins x 8 oct"}


def _signal(batch, dtype="float32"):
    import numpy as np
    return np.random.default_rng(0).standard_normal((batch, N)).astype(dtype)


def _timer(device):
    import torch

    def timed(fn, repeats=5, warm=2):
        for _ in range(warm):
            out = fn()
        del out
        times = []
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = fn()
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            del out
        return min(times) if STAT == "min" else statistics.median(times)
    return timed


def _peak(device):
    import torch
    if device == "cuda":
        return torch.cuda.max_memory_allocated()
    return common.peak_rss()


def _stat(stat):
    global STAT
    STAT = stat


def case_msft(setting, batch, mode, device, compile=False, stat="median"):
    _stat(stat)
    import numpy as np
    import torch

    import msft_cli
    from msft_cli.torch import MSFT
    t = msft_cli.MSFT(**SETTINGS[setting], mode=mode)
    module = MSFT(t, device=device)
    x = torch.from_numpy(_signal(batch)).to(device)
    timed = _timer(device)
    fwd = module
    if compile:
        fwd = torch.compile(module)
    c = fwd(x)
    forward = timed(lambda: fwd(x))
    inverse = timed(lambda: module.inverse(c))
    y = module.inverse(c)
    snr = common.snr_db(x.cpu().numpy(), y.cpu().numpy())

    xg = x.clone().requires_grad_()

    def fwd_bwd():
        out = module(xg)
        loss = sum((g.real ** 2 + g.imag ** 2).sum() if g.is_complex() else (g ** 2).sum()
                   for g in out.groups)
        loss.backward()
        xg.grad = None
        return loss
    both = timed(fwd_bwd)
    shapes = [tuple(g.shape) for g in c.groups]
    c = y = None  # noqa: F841 - freed before the floor

    def floor():
        s = torch.fft.rfft(x)
        outs = [torch.fft.ifft(z) for z in zs]
        return s, outs
    zs = [torch.ones(sh, dtype=torch.complex64, device=device) for sh in shapes]
    fl = timed(floor)
    count = int(sum(np.prod(sh) for sh in shapes))
    return {"forward": forward, "inverse": inverse, "fwd_bwd": both, "snr": snr,
            "peak": _peak(device), "floor": fl, "coefficients": count,
            "threads": torch.get_num_threads()}


def _cpu_time(fn, repeats=5, warm=2):
    """Like the torch timer, without importing torch (the FFTW case's RSS is its own)."""
    for _ in range(warm):
        out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return (min(times) if STAT == "min" else statistics.median(times)), out


def case_fftw(setting, batch, mode, stat="median"):
    import msft_cli
    _stat(stat)
    t = msft_cli.MSFT(**SETTINGS[setting], mode=mode)
    x = _signal(batch)
    t.prepare(N, batch)
    forward, c = _cpu_time(lambda: t.forward(x))
    inverse, y = _cpu_time(lambda: t.inverse(c))
    return {"forward": forward, "inverse": inverse, "snr": common.snr_db(x, y)}


def _patch_cqt_nsgt():
    """cqt-nsgt-pytorch 0.0.10's nsgfwin clips an integer array with an infinite bound,
    which numpy 2 refuses: give it the integer type's maximum instead."""
    import numpy as np
    from cqt_nsgt_pytorch import nsgfwin

    class _Numpy:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def clip(a, lo, hi, out=None):
            if np.isinf(hi) and np.asarray(a).dtype.kind in "iu":
                hi = np.iinfo(np.asarray(a).dtype).max
            return np.clip(a, lo, hi, out=out)
    nsgfwin.np = _Numpy()


def case_cqt_nsgt(batch, mode, device, stat="median"):
    _stat(stat)
    import contextlib
    import io

    import torch
    _patch_cqt_nsgt()
    from cqt_nsgt_pytorch import CQT_nsgt
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its window choice
        cq = CQT_nsgt(8, 32, mode=mode, fs=SR, audio_len=N, device=device)
    x = torch.from_numpy(_signal(batch)).to(device)[:, None, :]
    timed = _timer(device)
    c = cq.fwd(x)
    forward = timed(lambda: cq.fwd(x))
    inverse = timed(lambda: cq.bwd(c))
    y = cq.bwd(c)
    return {"forward": forward, "inverse": inverse,
            "snr": common.snr_db(x.cpu().numpy(), y[..., :N].cpu().numpy()),
            "peak": _peak(device)}


def case_nnaudio(batch, device, stat="median"):
    _stat(stat)
    import contextlib
    import io
    import warnings

    import torch
    from nnAudio.features import CQT2010v2
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        cq = CQT2010v2(sr=SR, hop_length=512, fmin=SR / 2 / 2**8, n_bins=256,
                       bins_per_octave=32, verbose=False).to(device)
    x = torch.from_numpy(_signal(batch)).to(device)
    forward = _timer(device)(lambda: cq(x))
    return {"forward": forward, "peak": _peak(device)}


CASES = {"msft": case_msft, "fftw": case_fftw, "cqt_nsgt": case_cqt_nsgt,
         "nnaudio": case_nnaudio}


def _ms(s):
    return "-" if s is None else f"{1000 * s:.1f}"


def _try(case, params):
    params = dict(params, stat=STAT)
    try:
        return common.run_child(Path(__file__), case, params)
    except Exception as exc:  # noqa: BLE001 - a peer that fails is reported, not fatal
        return {"error": str(exc).strip().splitlines()[-1][:120] if str(exc) else repr(exc)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="batch 1 and 4 only")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--modes", default="periodic,zero")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--compile", action="store_true", help="also torch.compile's forward")
    ap.add_argument("--min", action="store_true", help="the minimum of the repeats, not the "
                    "median (a loaded machine)")
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args()
    global STAT
    STAT = "min" if args.min else "median"
    import torch
    batches = (1, 4) if args.quick else (1, 4, 32)
    dev = args.device
    head = ["setting", "batch", "engine", "forward ms", "inverse ms", "fwd+bwd ms", "SNR",
            "peak", "floor ms", "vs FFTW fwd / inv"]
    rows = []
    for setting in ("a", "b"):
        for batch in batches:
            for mode in args.modes.split(","):
                r = _try("msft", {"setting": setting, "batch": batch, "mode": mode,
                                  "device": dev})
                f = _try("fftw", {"setting": setting, "batch": batch, "mode": mode})
                name = SETTING_NAMES[setting]
                if "error" in r:
                    rows.append([name, batch, f"msft torch {mode}", r["error"]] + [""] * 6)
                    continue
                ratio = "-" if "error" in f else \
                    f"{r['forward'] / f['forward']:.2f}x / {r['inverse'] / f['inverse']:.2f}x"
                rows.append([name, batch, f"msft torch {mode}", _ms(r["forward"]),
                             _ms(r["inverse"]), _ms(r["fwd_bwd"]), common.fmt_db(r["snr"]),
                             common.fmt_mib(r["peak"]), _ms(r["floor"]), ratio])
                if "error" not in f:
                    rows.append([name, batch, f"msft FFTW (CPU) {mode}", _ms(f["forward"]),
                                 _ms(f["inverse"]), "-", common.fmt_db(f["snr"]),
                                 common.fmt_mib(f.get("peak_rss")), "-", ""])
                if args.compile:
                    c = _try("msft", {"setting": setting, "batch": batch, "mode": mode,
                                      "device": dev, "compile": True})
                    rows.append([name, batch, f"msft torch {mode}, torch.compile",
                                 _ms(c.get("forward")) if "error" not in c else c["error"],
                                 "", "", "", "", "", ""])
            # the peers hold every block at once: cqt-nsgt-pytorch's oct mode peaked at 2.1 GB
            # of RSS at batch 4, so batch 32 (~17 GB) is left out on the CPU
            if setting == "b" and not args.no_peers and (dev == "cuda" or batch <= 4):
                for mode in ("oct", "matrix_complete"):
                    p = _try("cqt_nsgt", {"batch": batch, "mode": mode, "device": dev})
                    rows.append([SETTING_NAMES[setting], batch, f"cqt-nsgt-pytorch {mode}"]
                                + ([p["error"]] + [""] * 6 if "error" in p else
                                   [_ms(p["forward"]), _ms(p["inverse"]), "-",
                                    common.fmt_db(p["snr"]), common.fmt_mib(p["peak"]),
                                    "-", ""]))
                p = _try("nnaudio", {"batch": batch, "device": dev})
                rows.append([SETTING_NAMES[setting], batch, "nnAudio CQT2010v2 (hop 512)"]
                            + ([p["error"]] + [""] * 6 if "error" in p else
                               [_ms(p["forward"]), "no inverse", "-", "-",
                                common.fmt_mib(p["peak"]), "-", ""]))
    where = (torch.cuda.get_device_name() if dev == "cuda" else common.cpu_model())
    lines = [f"### msft torch engine, {dev}: {where}", "",
             f"- torch {torch.__version__}, {torch.get_num_threads()} threads; 262,144 "
             f"samples of float32 noise at 44.1 kHz; times: the {STAT} of 5 calls; load "
             f"average {common.loadavg()}", *common.machine_lines("estimate", "-"), ""]
    lines += common.markdown_table(head, rows, "llllrrrrrr")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    if common.is_child():
        common.child_main(CASES)
    else:
        main()
