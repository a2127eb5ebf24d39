"""Where the engine's time goes, line by line: forward and inverse of 60 s of music (mono by default).

``python bench/profile_engine.py [--bins 12] [--mode zero] [--channels 1] [--top 25]``

cProfile cannot see inside the engine's block loops: pyFFTW's ``execute()``
and numpy's indexing, copies and arithmetic are not Python calls, so their
time disappears into the enclosing function. This script uses a small line
profiler instead (``sys.settrace``, restricted to the files of ``msft_cli/``):
every line of msft's own code is charged the wall time until the next traced
event, which includes the C work it starts (an FFT, a fancy-indexed gather, a
buffer zeroing, an allocation). Code outside ``msft_cli/`` (numpy's Python
helpers, pyFFTW) is not traced and counts towards the msft line that called it.
Nothing in the engine is copied or patched, so the profile follows the code as
it changes.

Method: the techno clip (channel 0) tiled to 60 s; one untimed forward +
inverse pays for plans and geometry; then ``--repeats`` forward and inverse
calls, first untraced (the reference times), then traced. The tracing adds a
few microseconds per executed line, small against the lines that matter here.
"""

import argparse
import collections
import linecache
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SR, loadavg, techno  # noqa: E402

import msft_cli  # noqa: E402
from msft_cli import MSFT  # noqa: E402

PACKAGE = str(Path(msft_cli.__file__).resolve().parent)


class LineProfiler:
    """Wall time per executed line of the files under ``root``."""

    def __init__(self, root):
        self.root = root
        self.spent = collections.defaultdict(float)
        self.hits = collections.defaultdict(int)
        self._last = None
        self._stamp = 0.0

    def _ours(self, frame):
        return frame is not None and frame.f_code.co_filename.startswith(self.root)

    def _key(self, frame):
        return frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name

    def _trace(self, frame, event, arg):
        now = time.perf_counter()
        if self._last is not None:
            self.spent[self._last] += now - self._stamp
        if event == "line":
            self._last = self._key(frame)
            self.hits[self._last] += 1
        elif event == "return":  # a return or a generator's yield: back to the caller's line
            caller = frame.f_back
            self._last = self._key(caller) if self._ours(caller) else None
        self._stamp = time.perf_counter()
        return self._trace

    def _enter(self, frame, event, arg):
        if not self._ours(frame):
            return None  # not traced: its time goes to the msft line that called it
        return self._trace(frame, event, arg)

    def run(self, fn):
        self._last = None
        sys.settrace(self._enter)
        try:
            return fn()
        finally:
            sys.settrace(None)

    def report(self, total, calls, top):
        """Lines sorted by time: ms per call, share of ``total`` (seconds per call)."""
        by_function = collections.defaultdict(float)
        for (path, _, func), s in self.spent.items():
            by_function[(Path(path).name, func)] += s
        lines = ["  by function (time spent on its own lines, per call):"]
        for (name, func), s in sorted(by_function.items(), key=lambda kv: -kv[1])[:8]:
            lines.append(f"    {name}:{func:<24} {s / calls * 1e3:8.1f} ms "
                         f"{100 * s / calls / total:5.1f}%")
        lines.append(f"  top {top} lines:")
        for key, s in sorted(self.spent.items(), key=lambda kv: -kv[1])[:top]:
            path, lineno, func = key
            src = linecache.getline(path, lineno).strip()
            lines.append(f"    {s / calls * 1e3:7.1f} ms {100 * s / calls / total:5.1f}%  "
                         f"{Path(path).name}:{lineno} ({func}) x{self.hits[key] // calls}  "
                         f"{src[:90]}")
        return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bins", type=int, default=12)
    ap.add_argument("--mode", default="zero")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--channels", type=int, choices=(1, 2), default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    x = techno(args.seconds, args.channels)
    x = x[0] if args.channels == 1 else x
    t = MSFT(SR, bins_per_octave=args.bins, mode=args.mode)
    began = time.perf_counter()
    c = t.forward(x)
    t.inverse(c)
    print(f"{args.seconds:g} s, {args.channels} channel(s), {args.bins} bins/octave, mode {args.mode}, msft "
          f"{msft_cli.__version__} in {PACKAGE}; load {loadavg()}")
    print(f"first forward + inverse (plans, geometry): {time.perf_counter() - began:.2f} s")

    for way, fn in (("forward", lambda: t.forward(x)), ("inverse", lambda: t.inverse(c))):
        plain = []
        for _ in range(args.repeats):
            s = time.perf_counter()
            fn()
            plain.append(time.perf_counter() - s)
        prof = LineProfiler(PACKAGE)
        s = time.perf_counter()
        for _ in range(args.repeats):
            prof.run(fn)
        traced = (time.perf_counter() - s) / args.repeats
        plain = sorted(plain)[len(plain) // 2]
        print(f"\n{way}: {plain * 1e3:.0f} ms untraced (median of {args.repeats}), "
              f"{traced * 1e3:.0f} ms traced (mean)")
        print("\n".join(prof.report(traced, args.repeats, args.top)))


if __name__ == "__main__":
    main()
