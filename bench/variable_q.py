"""Bench of variable-Q (``gamma``) and oversampling (``oversample``) against constant-Q.

Run ``python bench/variable_q.py [--seconds 60] [--markdown PATH]``: markdown on
stdout. Each case runs in a fresh process (``bench/_common.py``), so its peak RSS
is its own. Signal: one channel of the techno clip tiled to ``--seconds``
(44.1 kHz, float64 in, complex128 out), mode ``zero`` with default blocks.

Per case: the lowest octave's hop and its filter extent (``Group.extent``, the
1e-8 envelope reach), the low-pass band's extent, the zero-mode margins (the
one-rate margin, and with a two-rate split the high and low stage margins),
coefficients per sample (complex values once, the real low-/high-pass values
as half), forward and inverse time (median of 3 after a first call, which is
reported apart: planning and geometry), peak RSS and the round-trip SNR.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    child_main,
    coefficient_count,
    time_round_trip,
    cpu_model,
    is_child,
    loadavg,
    markdown_table,
    peak_rss,
    run_child,
    snr_db,
    techno,
)

SR = 44100
REPEATS = 3
CONFIGS = ((0.0, 1), ("erb", 1), ("erb", 2), ("erb", 4))


def case_engine(bins, gamma, oversample, seconds):
    from msft_cli import MSFT
    x = techno(seconds, 1)[0]
    t = MSFT(SR, bins_per_octave=bins, gamma=gamma, oversample=oversample)
    fwd, inv, c, y = time_round_trip(t, x, REPEATS)
    count = coefficient_count(c)
    split = t.blocks.split
    return {"gamma": t.gamma, "hop0": t.hops[0], "extent0": t.groups[1].extent / SR,
            "extent_lp": t.groups[0].extent / SR, "margin": t.margin / SR,
            "split": None if split is None else [split.high_margin / SR, split.low_margin / SR,
                                                 split.decimation],
            "per_sample": count / len(x), "first_forward": fwd[0],
            "forward": float(np.median(fwd[1:])), "first_inverse": inv[0],
            "inverse": float(np.median(inv[1:])), "snr": snr_db(x, y),
            "peak_rss": peak_rss()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--bins", type=int, nargs="+", default=[12, 24, 48])
    ap.add_argument("--markdown", metavar="PATH")
    args = ap.parse_args()
    lines = [f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu_model()}, "
             f"load {loadavg()}; {args.seconds:g} s mono (techno clip), 44.1 kHz, zero mode", ""]
    rows = []
    for bins in args.bins:
        for gamma, k in CONFIGS:
            print(f"{bins} bins, gamma={gamma}, oversample={k}", file=sys.stderr, flush=True)
            r = run_child(__file__, "engine", {"bins": bins, "gamma": gamma, "oversample": k,
                                               "seconds": args.seconds})
            split = "-" if r["split"] is None else \
                f"{r['split'][0]:.2f} / {r['split'][1]:.2f} (D={r['split'][2]})"
            rows.append([str(bins), f"{gamma}" + (f" ({r['gamma']:.1f} Hz)" if gamma else ""),
                         str(k), str(r["hop0"]), f"{r['extent0']:.2f}", f"{r['extent_lp']:.2f}",
                         f"{r['margin']:.2f}", split, f"{r['per_sample']:.3f}",
                         f"{r['first_forward']:.2f}", f"{r['forward']:.3f}",
                         f"{r['first_inverse']:.2f}", f"{r['inverse']:.3f}",
                         f"{r['peak_rss'] / 2**20:.0f}", f"{r['snr']:.1f}"])
    lines += markdown_table(
        ["bins/oct", "gamma", "oversample", "octave 0 hop", "octave 0 extent (s)",
         "low-pass extent (s)", "one-rate margin (s)", "split margins high / low (s)",
         "coefs/sample", "fwd 1st (s)", "fwd (s)", "inv 1st (s)", "inv (s)", "peak RSS (MiB)",
         "SNR (dB)"], rows, "llrrrrrlrrrrrrr")
    lines += ["", f"load at the end {loadavg()}"]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    if is_child():
        child_main({"engine": case_engine})
    else:
        main()
