"""Phase reconstruction: msft's PGHI + fast Griffin-Lim against librosa's ``griffinlim_cqt``.

Run ``python bench/phase.py`` (about two hours on two busy cores; with
``--seconds 3``, 12 minutes at a load average of 2 and 28 at 5; ``--quick``
for a short check); it prints markdown on stdout and progress on stderr.

Signals, 44.1 kHz, one channel, ``--seconds`` (5) long: the first channel of
each clip of ``sample_audio/`` from its start, and three generated ones: an
exponential chirp (40 Hz to 12 kHz, 10 ms fades), a drum loop (120 BPM: kick,
snare, closed hi-hats; seeded) and a chord (C major 9 on C3, eight harmonics
per note, 10 ms attack, exponential decay).

msft: the default transform (``MSFT(44100)``: fmin 20.60 Hz = E0, 12 bins per
octave, 10 octaves, "bump" window, "zero" mode), magnitudes ``|c|`` of the
signal's coefficients (the real low-/high-pass bands kept, as a magnitude
container stores them), then ``msft_cli.phase.iter_reconstruct`` with each
initialisation (``pghi``, ``random``, ``zero``; the default momentum,
``msft_cli.phase.DEFAULT_MOMENTUM``, and seed 0). The
estimate after k iterations is ``.inverse()`` of the k-th item; its time is
the generator's wall time up to that item (each item is converted to
``Coefficients``, as the generator does) plus that inverse, with the clock
stopped while the bench measures. Each signal and initialisation runs in a
process of its own.

librosa (``--librosa-python``, a Python with librosa installed: it is an
optional bench dependency, never a runtime one): ``librosa.cqt`` with the same
fmin, bins per octave and number of bins (120, up to 19.9 kHz), ``hop_length``
64 (``--hop``): 1.9 coefficients per sample against msft's 1.7, the closest
power of two; librosa needs one hop for every band while msft's halve from
8192 to 16 samples octave by octave. Then ``griffinlim_cqt(|C|, n_iter=300,
..., init="random", momentum=0.99, random_state=0, length=len(x))``, once:
the estimate and the time after k iterations are captured inside that run
(see ``run_librosa``: exactly what ``n_iter=k`` returns; ``--check`` verifies
one against a separate call). librosa's one-time warm-up (filters, JIT) is
not timed; msft's times include making its transform's plans and geometry
for the period (every call pays it).

Spectral convergence ``20 log10(|| |c(x_hat)| - |c| || / || |c| ||)`` of
every estimate, measured three ways so that no method is judged only by its
own yardstick:

* ``msft``: msft's transform, each coefficient weighted by its hop (the norm
  in which msft's frame is tight; ``msft_cli.phase.spectral_convergence``);
* ``librosa``: librosa's CQT with the parameters above, unweighted (what
  ``griffinlim_cqt`` minimizes);
* ``stft``: a neutral judge, a Hann STFT of 2048 points and hop 256 (8x
  redundant; ``scipy.signal.stft``), unweighted.

Options: ``--quick`` (chirp and one clip, 2 s, iterations 0/8/32), ``--check``,
``--seconds S``, ``--hop H``, ``--iterations 0,32,100,300``,
``--signals chirp,drums,...``, ``--librosa-python PATH`` (default: this
Python if it imports librosa, else the bench is run without librosa and says
so), ``--markdown PATH`` (also write the output there).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SCRIPT = Path(__file__).resolve()
SAMPLES = SCRIPT.parent.parent / "sample_audio"
SR = 44100
INITS = ("pghi", "random", "zero")
ITERATIONS = (0, 32, 100, 300)
CLIPS = ("bach_additive", "house_beat", "techno_bassline", "thai_pentatonic")
GENERATED = ("chirp", "drums", "chord")
HOP = 64
STFT = {"nperseg": 2048, "noverlap": 2048 - 256}


# -- signals ------------------------------------------------------------------------
def _fade(y, seconds=0.01):
    n = int(seconds * SR)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    y[:n] *= ramp
    y[len(y) - n:] *= ramp[::-1]
    return y


def signal(name, seconds):
    """One channel, float64, ``seconds`` long at 44.1 kHz."""
    n = int(round(seconds * SR))
    t = np.arange(n) / SR
    if name == "chirp":
        f0, f1 = 40.0, 12000.0
        k = np.log(f1 / f0) / seconds
        return _fade(0.5 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k))
    if name == "drums":
        rng = np.random.default_rng(7)
        y = np.zeros(n)
        beat = SR // 2  # 120 BPM

        def put(at, sound):
            m = min(len(sound), n - at)
            if m > 0:
                y[at:at + m] += sound[:m]
        k = np.arange(int(0.4 * SR)) / SR
        kick = 0.9 * np.sin(2 * np.pi * (50 * k + 100 * (1 - np.exp(-k * 25)) / 25)) \
            * np.exp(-k * 9)
        s = np.arange(int(0.25 * SR)) / SR
        snare = (0.35 * rng.standard_normal(len(s)) * np.exp(-s * 22)
                 + 0.3 * np.sin(2 * np.pi * 190 * s) * np.exp(-s * 30))
        h = np.arange(int(0.06 * SR)) / SR
        noise = rng.standard_normal(len(h))
        hat = 0.15 * (noise - np.convolve(noise, np.ones(4) / 4, "same")) * np.exp(-h * 90)
        for i, at in enumerate(range(0, n, beat)):
            put(at, kick if i % 2 == 0 else snare)
        for at in range(0, n, beat // 2):
            put(at, hat)
        return y
    if name == "chord":
        y = np.zeros(n)
        env = np.minimum(t / 0.01, 1.0) * np.exp(-t / 1.5)
        for note in (48, 52, 55, 59, 62):  # C3 E3 G3 B3 D4
            f = 440.0 * 2 ** ((note - 69) / 12)
            for h in range(1, 9):
                if f * h < SR / 2:
                    y += 0.12 / h * np.sin(2 * np.pi * f * h * t * (1 + 0.0004 * h)) * env
        return y
    import soundfile as sf
    x, sr = sf.read(str(SAMPLES / f"{name}.wav"), dtype="float64", always_2d=True)
    assert sr == SR, f"{name}: {sr} Hz"
    return np.ascontiguousarray(x[:n, 0])


# -- measures -----------------------------------------------------------------------
def stft_sc(y, x):
    """Spectral convergence in dB in a Hann STFT (2048 points, hop 256)."""
    from scipy.signal import stft
    a = np.abs(stft(x, **STFT)[2])
    b = np.abs(stft(np.asarray(y, dtype=np.float64), **STFT)[2])
    return float(20 * np.log10(np.linalg.norm(b - a) / np.linalg.norm(a)))


# -- child: msft --------------------------------------------------------------------
def run_msft(name, seconds, init, iterations, outdir, transform=None):
    """One signal and one initialisation: SC and time at each checkpoint (``transform``:
    MSFT keywords besides sr, e.g. gamma and oversample)."""
    from msft_cli import MSFT
    from msft_cli.phase import iter_reconstruct, spectral_convergence
    x = signal(name, seconds)
    t = MSFT(SR, **(transform or {}))
    c = t.forward(x)
    t.inverse(c)  # plans and geometry made: not timed below
    results = {}
    steps = iter_reconstruct(c, phase_init=init, seed=0)
    done, generator = -1, 0.0
    for target in sorted(iterations):
        began = time.perf_counter()
        while done < target:
            estimate = next(steps)
            done += 1
        generator += time.perf_counter() - began
        began = time.perf_counter()
        y = estimate.inverse()
        seconds = generator + time.perf_counter() - began
        path = Path(outdir) / f"{name}-msft-{init}-{target}.npy"
        np.save(path, y)
        results[str(target)] = {"seconds": seconds, "msft": spectral_convergence(c, y),
                                "stft": stft_sc(y, x), "path": str(path)}
    return {"name": name, "init": init, "results": results}


# -- child: librosa (runs in a Python with librosa, without msft) ----------------------
def run_librosa(params):
    """librosa's griffinlim_cqt, one run of the largest iteration count.

    The estimate after ``k`` iterations is what ``griffinlim_cqt(n_iter=k)``
    returns: inside the loop, iteration ``k + 1`` starts with the very same
    ``icqt`` call (same arguments, ``length`` included) and hands its result to
    ``cqt``, so wrapping librosa's ``cqt`` captures it, with the time taken so
    far (the clock stopped while copying). One run of 300 iterations instead
    of runs of 0, 32, 100 and 300; ``--check`` compares a capture with a
    separate call.
    """
    import librosa
    import librosa.core.constantq as constantq
    name, seconds, hop, fmin = params["name"], params["seconds"], params["hop"], params["fmin"]
    x = signal(name, seconds)
    opts = {"sr": SR, "fmin": fmin, "bins_per_octave": 12, "hop_length": hop}
    original = constantq.cqt

    def cqt(y):
        return np.abs(original(np.asarray(y, dtype=np.float64), n_bins=120, **opts))
    target = cqt(x)

    def sc(y):
        b = cqt(y)
        return float(20 * np.log10(np.linalg.norm(b - target) / np.linalg.norm(target)))
    gl = {"length": len(x), "init": "random", "momentum": 0.99, "random_state": 0, **opts}
    librosa.griffinlim_cqt(target, n_iter=1, **gl)  # warm-up: filters, JIT
    wanted = sorted(params["iterations"])
    state = {"calls": 0, "paused": 0.0, "captured": {}}

    def hooked(y, *args, **kwargs):
        k = state["calls"]
        state["calls"] += 1
        if k in wanted:
            paused = time.perf_counter()
            state["captured"][k] = (paused - began - state["paused"], np.array(y, copy=True))
            state["paused"] += time.perf_counter() - paused
        return original(y, *args, **kwargs)
    constantq.cqt = hooked
    try:
        began = time.perf_counter()
        y = librosa.griffinlim_cqt(target, n_iter=wanted[-1], **gl)
        state["captured"][wanted[-1]] = (time.perf_counter() - began - state["paused"], y)
    finally:
        constantq.cqt = original
    out = {"version": librosa.__version__, "results": {}, "judged": {}}
    for k in wanted:
        seconds_k, y = state["captured"][k]
        path = Path(params["outdir"]) / f"{name}-librosa-{k}.npy"
        np.save(path, y)
        out["results"][str(k)] = {"seconds": seconds_k, "librosa": sc(y), "path": str(path)}
    if params.get("check"):  # a capture equals a separate call
        k = wanted[len(wanted) // 2]
        alone = librosa.griffinlim_cqt(target, n_iter=k, **gl)
        out["check"] = {"iterations": k, "max_abs_difference":
                        float(np.max(np.abs(alone - state["captured"][k][1])))}
    for path in params["judge"]:  # msft's estimates, in librosa's measure
        out["judged"][path] = sc(np.load(path))
    return out


# -- the parent ---------------------------------------------------------------------
def _child(argv, timeout=None):
    run = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "PYTHONPATH": str(SCRIPT.parent.parent)})
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv[:4]))} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def librosa_python(given):
    candidates = [given] if given else [sys.executable]
    for python in candidates:
        probe = subprocess.run([python, "-c", "import librosa; print(librosa.__version__)"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            return python, probe.stdout.strip()
    return None, None


def fmt(db):
    return "-" if db is None else f"{db:.1f}"


def main():
    from _common import loadavg, machine_lines, markdown_table
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--hop", type=int, default=HOP)
    parser.add_argument("--librosa-python")
    parser.add_argument("--markdown")
    parser.add_argument("--iterations", help="comma-separated iteration counts "
                        f"(default {','.join(map(str, ITERATIONS))})")
    parser.add_argument("--signals", help="comma-separated signal names (default: "
                        f"{','.join(CLIPS + GENERATED)})")
    parser.add_argument("--check", action="store_true",
                        help="check librosa's captured estimates against a separate call")
    parser.add_argument("--gamma", default="0",
                        help="msft's variable-Q gamma: Hz, or 'erb' (default 0: constant-Q)")
    parser.add_argument("--oversample", type=int, default=1,
                        help="msft's time oversampling, a power of two (default 1)")
    parser.add_argument("--inits", default=",".join(INITS),
                        help=f"msft's initial phases to run (default {','.join(INITS)})")
    args = parser.parse_args()
    variant = {"gamma": args.gamma if args.gamma == "erb" else float(args.gamma),
               "oversample": args.oversample}
    names = ("chirp", "house_beat") if args.quick else CLIPS + GENERATED
    inits = tuple(args.inits.split(","))
    if args.signals:
        names = tuple(args.signals.split(","))
        unknown = [n for n in names if n not in CLIPS + GENERATED]
        if unknown:
            parser.error(f"--signals: unknown {', '.join(unknown)}")
    iterations = (0, 8, 32) if args.quick else ITERATIONS
    if args.iterations:
        iterations = tuple(sorted({int(k) for k in args.iterations.split(",")}))
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    python, version = librosa_python(args.librosa_python)
    from msft_cli import MSFT
    fmin = MSFT(SR).fmin

    lines = ["## Phase reconstruction", ""]
    lines += machine_lines("estimate", os.cpu_count())
    lines += [f"- load average at the start: {loadavg()}",
              f"- signals: {seconds:g} s, one channel, 44.1 kHz; msft's default transform "
              f"(fmin {fmin:.2f} Hz, 12 bins/octave, 10 octaves, zero mode), gamma "
              f"{args.gamma}, oversample {args.oversample}",
              f"- librosa: {version or 'not installed: skipped'}"
              + (f", hop_length {args.hop}, 120 bins from {fmin:.2f} Hz" if version else ""),
              ""]
    rows, checks = {}, []
    with tempfile.TemporaryDirectory(prefix="msft-phase-") as outdir:
        for name in names:
            judge = []
            for init in inits:
                print(f"{name}: msft {init} ...", file=sys.stderr, flush=True)
                res = _child([sys.executable, str(SCRIPT), "--child-msft", json.dumps(
                    {"name": name, "seconds": seconds, "init": init,
                     "iterations": list(iterations), "outdir": outdir,
                     "transform": variant})])
                rows[(name, f"msft {init}")] = res["results"]
                judge += [r["path"] for r in res["results"].values()]
            if python:
                print(f"{name}: librosa ...", file=sys.stderr, flush=True)
                res = _child([python, str(SCRIPT), "--child-librosa", json.dumps(
                    {"name": name, "seconds": seconds, "hop": args.hop, "fmin": fmin,
                     "iterations": list(iterations), "outdir": outdir, "judge": judge,
                     "check": args.check and name == names[0]})])
                if "check" in res:
                    check = res["check"]
                    checks.append(f"- check: librosa's estimate after {check['iterations']} "
                                  "iterations, captured in the long run and from its own call, "
                                  f"differ by at most {check['max_abs_difference']:.2g} ({name})")
                lib = res["results"]
                for r in lib.values():  # librosa's estimates in msft's and the STFT's measure
                    r.update(_judge_in_msft(name, seconds, r["path"]))
                rows[(name, "librosa")] = lib
                for (n, method), results in rows.items():
                    if n == name and method != "librosa":
                        for r in results.values():
                            r["librosa"] = res["judged"][r["path"]]
    methods = [f"msft {i}" for i in inits] + (["librosa"] if python else [])
    for measure, title in (("msft", "msft's weighted CQT (the frame's own norm)"),
                           ("librosa", "librosa's CQT (what griffinlim_cqt minimizes)"),
                           ("stft", "a Hann STFT, 2048 points, hop 256 (neutral)")):
        if measure == "librosa" and not python:
            continue
        lines += [f"### Spectral convergence in {title}, dB (lower is better)", ""]
        table = []
        for name in names:
            for method in methods:
                r = rows[(name, method)]
                table.append([name, method] + [fmt(r[str(k)].get(measure)) for k in iterations])
        lines += markdown_table(["signal", "method"] + [f"{k} it." for k in iterations], table,
                                "ll" + "r" * len(iterations))
        lines.append("")
    lines += ["### Time, seconds (median over the signals)", ""]
    table = []
    for method in methods:
        times = [np.median([rows[(name, method)][str(k)]["seconds"] for name in names])
                 for k in iterations]
        table.append([method] + [f"{x:.2f}" for x in times])
    lines += markdown_table(["method"] + [f"{k} it." for k in iterations], table)
    lines += ["", f"- load average at the end: {loadavg()}", "", "### Goals", ""]
    if python:
        lines += _goals(rows, names, iterations) + checks
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


def _judge_in_msft(name, seconds, path):
    from msft_cli import MSFT
    from msft_cli.phase import spectral_convergence
    x = signal(name, seconds)
    y = np.load(path)
    y = np.pad(y, (0, max(0, len(x) - len(y))))[:len(x)]
    return {"msft": spectral_convergence(MSFT(SR).forward(x), y), "stft": stft_sc(y, x)}


def _goals(rows, names, iterations):
    """Whether msft (pghi) beats librosa at equal iterations, and at 100 librosa's 300."""
    out = []
    for measure in ("msft", "librosa", "stft"):
        equal = sum(all(rows[(n, "msft pghi")][str(k)][measure]
                        < rows[(n, "librosa")][str(k)][measure] for k in iterations)
                    for n in names)
        line = (f"- {measure} measure: msft pghi better than librosa at every iteration count "
                f"on {equal}/{len(names)} signals")
        if 100 in iterations and 300 in iterations:
            cross = sum(rows[(n, "msft pghi")]["100"][measure]
                        < rows[(n, "librosa")]["300"][measure] for n in names)
            line += f"; msft pghi at 100 better than librosa at 300 on {cross}/{len(names)}"
        out.append(line)
    return out


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child-msft":
        p = json.loads(sys.argv[2])
        print(json.dumps(run_msft(p["name"], p["seconds"], p["init"], p["iterations"],
                                  p["outdir"], p.get("transform"))))
    elif len(sys.argv) > 2 and sys.argv[1] == "--child-librosa":
        print(json.dumps(run_librosa(json.loads(sys.argv[2]))))
    else:
        main()
