"""A batch worker's peak memory over files of every length (issue 17).

One transform analyses, one after another, signals of every length from 1 s to
``--longest`` minutes (a quarter octave of duration apart up to 8 minutes,
where the block plan stops changing, then the longest), as a batch worker does
with its shard. The samples are zeros read block by block (the work, the
buffers and the caches are those of real files; no disk). Run once with the
transform's cache bounded (:data:`msft_cli.engine.transform.CACHE_BYTES`) and
once unbounded, each in its own process: peak RSS (``VmHWM``), the bytes the
cache holds at the end, and the time.

Usage::

    python bench/cache.py                 # 12 bins per octave, stereo, to 60 min
    python bench/cache.py --bins 48 --longest 10
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SR = 44100


def lengths(longest_min):
    out, s = [], 1.0
    while s <= 8 * 60:
        out.append(int(s * SR))
        s *= 2 ** 0.25
    out.append(int(longest_min * 60 * SR))
    return out


def vm(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(bins, bounded, longest, channels):
    from msft_cli.engine.transform import MSFT

    t = MSFT(SR, bins_per_octave=bins, threads=1)
    if not bounded:
        t.cache_bytes = float("inf")

    def read(start, stop):
        return np.zeros((channels, stop - start))

    began = time.perf_counter()
    n_total = 0
    for n in lengths(longest):
        for _ in t.iter_forward(read, n, channels, "complex64"):
            pass
        n_total += n
    return {"bins": bins, "bounded": bounded, "peak_mib": vm("VmHWM"),
            "rss_end_mib": vm("VmRSS"), "cached_mib": t.cached_bytes / 2**20,
            "geometries": len(t._lru), "files": len(lengths(longest)),
            "audio_min": n_total / SR / 60, "seconds": time.perf_counter() - began}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bins", type=int, nargs="+", default=[12])
    p.add_argument("--longest", type=float, default=60.0, help="minutes")
    p.add_argument("--channels", type=int, default=2)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        bins, bounded = json.loads(args.child)
        print(json.dumps(child(bins, bounded, args.longest, args.channels)))
        return 0
    from msft_cli.engine.transform import CACHE_BYTES
    print(f"cache bound {CACHE_BYTES / 2**20:.0f} MiB; {len(lengths(args.longest))} signals "
          f"of {args.channels} channel(s), 1 s to {args.longest:g} min, at {SR} Hz; "
          f"load {os.getloadavg()[0]:.1f}")
    print("| bins/octave | cache | peak RSS | RSS at end | cache holds | geometries | time |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for bins in args.bins:
        for bounded in (True, False):
            out = subprocess.run([sys.executable, __file__, "--child", json.dumps([bins, bounded]),
                                  "--longest", str(args.longest), "--channels",
                                  str(args.channels)], capture_output=True, text=True,
                                 check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {bins} | {'bounded' if bounded else 'unbounded'} | "
                  f"{r['peak_mib']:.0f} MiB | {r['rss_end_mib']:.0f} MiB | "
                  f"{r['cached_mib']:.0f} MiB | {r['geometries']} | {r['seconds']:.0f} s |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
