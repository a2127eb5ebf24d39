"""Bench of msft's transform, container and commands against the targets of DESIGN.md.

Run ``python bench/transform.py`` (``make bench``); it prints markdown (tables to
paste into the README) on stdout and progress on stderr. Every case runs in a
fresh Python process (see ``bench/_common.py``), so each peak RSS is that case's
own. Signals are real music: the sample clips of ``sample_audio/``.

What is measured, and how:

1. Engine in memory: ``MSFT.forward`` / ``MSFT.inverse`` on 60 s of the techno
   clip (channel 0, tiled), float64 in, complex128 out, 12 and 48 bins per
   octave, mode ``zero`` (default blocks) and ``periodic`` (the whole signal in
   one block). The first call (planning and geometry included) is reported
   apart; then the median of 3 calls. SNR is
   ``20*log10(||x|| / ||x - x_hat||)``. Coefficients per sample count complex
   values once and the real low-/high-pass values as half. Peak RSS is the
   child's ``VmHWM``. The FFT floor is one pyFFTW real FFT of the whole signal
   plus batched complex inverse FFTs of 1024 points whose total length is at
   least the coefficient count, plans made beforehand (``fft_floor`` in
   ``_common.py`` says exactly what is timed); it is timed in the same process
   right after the engine, so that both see the same machine load.
2. Block size: SNR of forward + inverse with ``block_size`` 2**16, 2**18 and
   the default, on 20 s of the techno clip (stereo), and the largest relative
   coefficient difference ``max|a - b| / max|b|`` per band group against the
   whole signal in one block.
3. Container: ``msft_cli.analyze`` (complex64) then ``Container.to_audio`` and
   ``msft_cli.resynth(reference=...)``: SNR against the float64 input, on every
   sample clip, 60 s of white noise, an impulse and a 0.05 s clip.
4. Files of any length: stereo 16-bit WAVs of 1 and 10 minutes (60 with
   ``--long``) made by tiling the sample clips with a little noise (written
   block by block), then ``python -m msft_cli analyze`` and ``resynth
   --reference`` as real commands: wall time, realtime factor, the command's
   peak RSS (from ``os.wait4``), SNR. The files are deleted afterwards.
5. ``msft analyze`` and ``msft resynth`` of a 60 s stereo clip as commands
   (start-up, decoding and HDF5 included): first run and median of 3.

A final summary compares each figure with its target in DESIGN.md.

Options: ``--quick`` (12 bins only, no 10-minute file), ``--long`` (add the
60-minute file: several minutes and ~6 GB in /tmp), ``--planner
estimate|measure`` (msft's planner; the floor is timed with FFTW_ESTIMATE and,
for ``measure``, also with FFTW_MEASURE: the first such run plans for minutes,
then FFTW wisdom is reused), ``--markdown PATH`` (also write the output to a
file). Other people's work on the machine slows the timings: the load average
at the start and the end is printed with the results.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    GIB,
    MIB,
    SAMPLES,
    SR,
    child_main,
    coefficient_count,
    fft_floor,
    first_and_median,
    fmt_db,
    fmt_mib,
    fmt_s,
    fmt_x,
    is_child,
    loadavg,
    machine_lines,
    markdown_table,
    peak_rss,
    read_clip,
    run_child,
    run_command,
    snr_db,
    techno,
    time_round_trip,
)

SCRIPT = Path(__file__).resolve()
ENGINE_SECONDS = 60
BLOCKS_SECONDS = 20
COMMAND_SECONDS = 60
REPEATS = 3
SHORT_SECONDS = 0.05

TARGET_SNR_ONE_BLOCK = 290.0
TARGET_SNR_STREAMED = 140.0
TARGET_SNR_CONTAINER = 135.0
TARGET_BLOCK_REL = 1e-6
TARGET_SECONDS = 0.1
TARGET_FLOOR_RATIO = 2.5
TARGET_RSS = GIB
FLAT_TOLERANCE = 0.10          # "flat": the longest file within 10% of a shorter one
TARGET_COEFS_PER_SAMPLE = 1.8  # issue 6
TARGET_COMMAND_SECONDS = 1.0   # issue 6


# ===========================================================================
# Cases: each runs in its own process (``bench/transform.py --child NAME JSON``)
# ===========================================================================
def fft_lengths(transform):
    """Block FFT lengths a transform has used, as ``[length, decimation]`` pairs.

    Best effort: read from the engine's private geometry caches (empty if they
    are renamed); a decimation above 1 marks blocks run at ``sr / decimation``.
    """
    found = set()
    for cache in ("_geometries", "_stage_geometries"):
        for geo in getattr(transform, cache, {}).values():
            found.add((int(getattr(geo, "size", geo.n)), int(getattr(geo, "decimation", 1))))
    return sorted(found, key=lambda p: (p[1], p[0]))


def steps_used(transform, n_samples):
    """Samples each zero-mode stage advanced per block (low stage first) for a signal
    length: ``block_size`` unless the engine shortened the default (private, best effort)."""
    steps = getattr(transform, "_steps", None)
    return list(steps(n_samples)) if steps and transform.mode == "zero" else [transform.block_size]


def fmt_lengths(pairs):
    if not pairs:
        return "?"
    return ", ".join(f"{n:,}" + (f" (sr/{d})" if d > 1 else "") for n, d in pairs)


def case_baseline():
    """Nothing but the imports: the RSS every other case starts from."""
    import h5py  # noqa: F401
    import pyfftw  # noqa: F401
    import soundfile  # noqa: F401

    import msft_cli  # noqa: F401
    return {}


def case_engine(bins, mode, seconds, planner, repeats=REPEATS):
    """Forward and inverse in memory of one channel of the techno clip, then the FFT floor
    for its coefficient count in the same process (so both see the same machine load);
    the peak RSS is taken before the floor is measured."""
    from msft_cli import MSFT
    x = techno(seconds, 1)[0]
    t = MSFT(SR, bins_per_octave=bins, mode=mode, planner=planner)
    fwd, inv, c, y = time_round_trip(t, x, repeats)
    count = coefficient_count(c)
    result = {"n_samples": len(x), "first_forward": fwd[0],
              "forward": float(np.median(fwd[1:])), "first_inverse": inv[0],
              "inverse": float(np.median(inv[1:])), "snr": snr_db(x, y), "coefficients": count,
              "per_sample": count / len(x), "fft_lengths": fft_lengths(t),
              "steps": steps_used(t, len(x)),
              "peak_rss": peak_rss()}
    del c, y, t
    planners = ["estimate"] + ([planner] if planner != "estimate" else [])
    result["floors"] = {p: fft_floor(len(x), [count], p) for p in planners}
    return result


def case_blocks(bins, seconds, planner):
    """Coefficients and SNR for several block sizes against one whole block."""
    from msft_cli import MSFT
    x = techno(seconds, 2)
    n = x.shape[1]
    probe = MSFT(SR, bins_per_octave=bins)
    whole = n + 2 * probe.margin + probe.hop_max  # every frame within one block
    configs = [("2**16", 2**16), ("2**18", 2**18), ("default", None), ("whole", whole)]
    results, coefs = [], {}
    for label, size in configs:
        t = MSFT(SR, bins_per_octave=bins, block_size=size, planner=planner)
        began = time.perf_counter()
        c = t.forward(x)
        mid = time.perf_counter()
        y = t.inverse(c)
        results.append({"label": label, "block_size": t.block_size, "steps": steps_used(t, n),
                        "fft_lengths": fft_lengths(t),
                        "forward": mid - began, "inverse": time.perf_counter() - mid,
                        "snr": snr_db(x, y)})
        coefs[label] = c
    ref = coefs["whole"]
    names = [g.name for g in probe.groups]
    for r in results:
        diffs = [float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                 for a, b in zip(coefs[r["label"]].groups, ref.groups)]
        worst = int(np.argmax(diffs))
        r["max_rel"], r["worst_group"] = diffs[worst], names[worst]
    return {"n_samples": n, "results": results}


def make_input(kind, path):
    """Write one test input as a float64 WAV (or use a sample clip); return its path."""
    import soundfile as sf
    if kind.endswith(".wav"):
        return str(SAMPLES / kind)
    if kind == "white noise":
        x = 0.1 * np.random.default_rng(1).standard_normal((1, 60 * SR))
    elif kind == "impulse":
        x = np.zeros((1, SR))
        x[0, SR // 2] = 1.0
    elif kind == "short clip":
        clip = read_clip("techno_bassline.wav")
        x = clip[:, 2 * SR:2 * SR + int(SHORT_SECONDS * SR)]
    else:
        raise ValueError(kind)
    sf.write(path, x.T, SR, subtype="DOUBLE")
    return path


def case_container(kind, workdir, planner):
    """analyze -> container (complex64) -> to_audio and resynth; SNR against the input."""
    import soundfile as sf

    from msft_cli import analyze, load, resynth
    work = Path(workdir)
    src = make_input(kind, str(work / "input.wav"))
    x = sf.read(src, dtype="float64", always_2d=True)[0].T
    box, back = work / "box.h5", work / "back.wav"
    report = analyze(src, box, dtype="complex64", planner=planner)
    began = time.perf_counter()
    with load(box) as c:
        y = c.to_audio()
    to_audio = time.perf_counter() - began
    again = resynth(box, back, reference=src)
    return {"duration": x.shape[1] / SR, "channels": x.shape[0], "analyze": report.seconds,
            "to_audio": to_audio, "resynth": again.seconds, "size": box.stat().st_size,
            "snr_to_audio": snr_db(x, y), "snr_resynth": again.extra["snr_db"]}


def case_generate(path, seconds, clips, noise):
    """Write a stereo 16-bit WAV by tiling clips (plus white noise), 10 s at a time."""
    import soundfile as sf
    parts = []
    for name in clips:
        clip = read_clip(name)
        parts.append(np.repeat(clip, 2, axis=0) if clip.shape[0] == 1 else clip[:2])
    playlist = np.concatenate(parts, axis=1)
    total, step = int(round(seconds * SR)), 10 * SR
    rng = np.random.default_rng(2)
    began = time.perf_counter()
    with sf.SoundFile(path, "w", SR, 2, "PCM_16") as f:
        for start in range(0, total, step):
            idx = (start + np.arange(min(step, total - start))) % playlist.shape[1]
            block = playlist[:, idx] + noise * rng.standard_normal((2, len(idx)))
            f.write(np.clip(block, -1.0, 1.0).T)
    return {"seconds": time.perf_counter() - began, "bytes": os.path.getsize(path)}


CASES = {"baseline": case_baseline, "engine": case_engine,
         "blocks": case_blocks, "container": case_container, "generate": case_generate}


# ===========================================================================
# The parent: runs the cases, prints the tables and the summary
# ===========================================================================
def msft_command(*args):
    return [sys.executable, "-m", "msft_cli", *map(str, args)]


class Bench:
    def __init__(self, args):
        self.args = args
        self.lines = []
        self.checks = []  # (target, measured, met: bool or None)
        self.bins = [12] if args.quick else [12, 48]
        self.work = Path(tempfile.mkdtemp(prefix="msft-bench-"))

    # -- output --------------------------------------------------------------
    def emit(self, *lines):
        for line in lines:
            print(line, flush=True)
            self.lines.append(line)

    def section(self, title, *notes):
        self.emit("", f"## {title}", "", *notes)
        if notes:
            self.emit("")

    @staticmethod
    def progress(message):
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    def check(self, target, measured, met):
        self.checks.append((target, measured, met))

    def child(self, case, **params):
        self.progress(f"{case} {params}")
        return run_child(SCRIPT, case, params)

    # -- 1. engine -----------------------------------------------------------
    def engine(self):
        planner = self.args.planner
        runs = [(b, m, self.child("engine", bins=b, mode=m, seconds=ENGINE_SECONDS,
                                  planner=planner))
                for b in self.bins for m in ("zero", "periodic")]
        n = runs[0][2]["n_samples"]

        self.section(
            f"1. Engine in memory: {ENGINE_SECONDS} s mono (techno clip, tiled), float64",
            f"`MSFT.forward` / `MSFT.inverse`, complex128 coefficients; time = median of "
            f"{REPEATS} calls after a first call (planning and geometry included, shown "
            "apart); RT = realtime factor; coefs/sample counts the real low/high-pass "
            "values as half; peak RSS of the case's process (the import-only baseline is "
            f"{fmt_mib(self.baseline)}).")
        rows = []
        for bins, mode, r in runs:
            f = r["floors"][planner]
            t_floor = r["floor"] = f["rfft"] + f["batched"][str(r["coefficients"])]
            timing = []
            for way in ("forward", "inverse"):
                timing += [fmt_s(r[f"first_{way}"]), fmt_s(r[way]),
                           fmt_x(ENGINE_SECONDS / r[way], 0)]
            rows.append([
                bins, mode, fmt_lengths(r["fft_lengths"]), *timing,
                fmt_db(r["snr"]), f"{r['per_sample']:.3f}", fmt_mib(r["peak_rss"]),
                fmt_s(t_floor), fmt_x(r["forward"] / t_floor), fmt_x(r["inverse"] / t_floor)])
        self.emit(*markdown_table(
            ["bins/oct", "mode", "block FFT lengths", "fwd 1st", "fwd", "fwd RT", "inv 1st", "inv",
             "inv RT", "SNR", "coefs/sample", "peak RSS", "FFT floor", "fwd/floor",
             "inv/floor"], rows, "lllrrrrrrrrrrrr"))

        self.emit("", f"FFT floor, timed in each case's process right after the engine "
                  f"({n:,} samples; pyFFTW `execute()` only, plans made beforehand, median "
                  f"of 5 after a warm-up; {os.cpu_count()} threads): one real FFT of the whole "
                  "signal (float64 -> complex128) plus a batched complex128 backward FFT of "
                  "ceil(count / 1024) rows x 1024 points; numpy's rfft for reference:", "")
        rows = []
        for bins, mode, r in runs:
            count = r["coefficients"]
            for p, f in r["floors"].items():
                rows.append([bins, mode, p, fmt_s(f["plan_rfft"]), fmt_s(f["rfft"]),
                             fmt_s(f["numpy_rfft"]), f"{count:,.0f}",
                             f"{-(-int(count) // 1024):,} x 1024",
                             fmt_s(f["batched"][str(count)]),
                             fmt_s(f["rfft"] + f["batched"][str(count)])])
        self.emit(*markdown_table(
            ["bins/oct", "mode", "planner", "plan rfft", "rfft", "numpy rfft", "coefficients",
             "inverse FFTs", "batched", "floor"], rows, "lllrrrrrrr"))

        for bins, mode, r in runs:
            label = f"{bins} bins, {mode}"
            if mode == "periodic":
                self.check(f"SNR >= {TARGET_SNR_ONE_BLOCK:.0f} dB, float64 in memory, whole "
                           f"signal in one block ({label})", fmt_db(r["snr"]),
                           r["snr"] >= TARGET_SNR_ONE_BLOCK)
            else:
                self.check(f"SNR >= {TARGET_SNR_STREAMED:.0f} dB, float64 streamed in blocks "
                           f"({label}, 60 s)", fmt_db(r["snr"]), r["snr"] >= TARGET_SNR_STREAMED)
        for bins, mode, r in runs:
            if bins != 12:
                continue
            label = f"60 s mono, 12 bins, {mode}"
            for way in ("forward", "inverse"):
                self.check(f"{way} < {TARGET_SECONDS} s ({label})", fmt_s(r[way]),
                           r[way] < TARGET_SECONDS)
                ratio = r[way] / r["floor"]
                self.check(f"{way} within {TARGET_FLOOR_RATIO}x of the FFT floor ({label})",
                           f"{ratio:.2f}x ({fmt_s(r[way])} / {fmt_s(r['floor'])})",
                           ratio <= TARGET_FLOOR_RATIO)
            self.check(f"<= {TARGET_COEFS_PER_SAMPLE} coefficients per sample (issue 6; "
                       f"{label})", f"{r['per_sample']:.3f}",
                       r["per_sample"] <= TARGET_COEFS_PER_SAMPLE)
        self.check("faster than every peer (nsgt, Essentia, librosa)",
                   "peers not run here (bench/peers.py, issue 6)", None)

    # -- 2. block sizes --------------------------------------------------------
    def blocks(self):
        self.section(
            f"2. Block size independence: {BLOCKS_SECONDS} s stereo (techno clip), float64",
            "Coefficients for each block size against the whole signal in one block: "
            "max |a - b| / max |b| per band group (the worst group shown); SNR of forward + "
            "inverse; times are first calls (geometry and plans included) of one run.")
        rows, worst_rel, worst_snr = [], 0.0, float("inf")
        for bins in self.bins:
            r = self.child("blocks", bins=bins, seconds=BLOCKS_SECONDS, planner=self.args.planner)
            for b in r["results"]:
                rows.append([bins, b["label"], " / ".join(f"{s:,}" for s in b["steps"]),
                             fmt_lengths(b["fft_lengths"]),
                             fmt_s(b["forward"]), fmt_s(b["inverse"]), fmt_db(b["snr"]),
                             f"{b['max_rel']:.1e}" if b["label"] != "whole" else "(reference)",
                             b["worst_group"] if b["label"] != "whole" else ""])
                if b["label"] != "whole":
                    worst_rel = max(worst_rel, b["max_rel"])
                worst_snr = min(worst_snr, b["snr"])
        self.emit(*markdown_table(
            ["bins/oct", "block_size", "steps (samples, per stage)", "block FFT lengths",
             "fwd 1st", "inv 1st", "SNR", "max rel. diff", "worst group"], rows, "llrrrrrrl"))
        self.check(f"coefficients equal to {TARGET_BLOCK_REL:g} relative for block sizes "
                   "2**16, 2**18, default, whole", f"{worst_rel:.1e}",
                   worst_rel <= TARGET_BLOCK_REL)
        self.check(f"SNR >= {TARGET_SNR_STREAMED:.0f} dB, float64 streamed in blocks "
                   "(all block sizes, 20 s stereo)", fmt_db(worst_snr),
                   worst_snr >= TARGET_SNR_STREAMED)

    # -- 3. container ------------------------------------------------------------
    def container(self):
        self.section(
            "3. Through a complex64 container",
            "`msft_cli.analyze` (complex64) then `Container.to_audio()` and "
            "`msft_cli.resynth(reference=...)`; SNR against the input read as float64 "
            "(synthetic inputs are written as float64 WAV).")
        kinds = sorted(p.name for p in SAMPLES.glob("*.wav")) + [
            "white noise", "impulse", "short clip"]
        rows, worst = [], float("inf")
        for kind in kinds:
            d = self.work / "container"
            d.mkdir(exist_ok=True)
            r = self.child("container", kind=kind, workdir=str(d), planner=self.args.planner)
            shutil.rmtree(d)
            rows.append([kind, f"{r['duration']:.2f} s", r["channels"], fmt_s(r["analyze"]),
                         fmt_x(r["duration"] / r["analyze"], 0), fmt_s(r["to_audio"]),
                         fmt_s(r["resynth"]), f"{r['size'] / MIB:.1f} MiB",
                         fmt_db(r["snr_to_audio"]), fmt_db(r["snr_resynth"]),
                         fmt_mib(r["peak_rss"])])
            worst = min(worst, r["snr_to_audio"], r["snr_resynth"])
        self.emit(*markdown_table(
            ["input", "duration", "ch", "analyze", "RT", "to_audio", "resynth", "container",
             "SNR to_audio", "SNR resynth", "peak RSS"], rows, "lrrrrrrrrrr"))
        self.check(f"SNR >= {TARGET_SNR_CONTAINER:.0f} dB through a complex64 container "
                   "(clips, noise, impulse, 0.05 s)", fmt_db(worst),
                   worst >= TARGET_SNR_CONTAINER)

    # -- 4. long files --------------------------------------------------------------
    def long_files(self):
        minutes = [1] + ([] if self.args.quick else [10]) + ([60] if self.args.long else [])
        self.section(
            "4. Files of any length: `msft analyze` / `msft resynth` as commands",
            "Stereo 44.1 kHz 16-bit WAV, the sample clips tiled plus white noise at -60 dBFS "
            "(written 10 s at a time). `python -m msft_cli analyze IN -o OUT.h5 --quiet`, "
            "then `resynth OUT.h5 -o BACK.wav --reference IN --quiet` (the time includes "
            "reading the reference for the SNR); wall time and each command's peak RSS "
            "(`wait4`). Files are deleted afterwards.")
        clips = sorted(p.name for p in SAMPLES.glob("*.wav"))
        rows, rss = [], {}
        for m in minutes:
            began = time.perf_counter()
            wav, box, back = (self.work / f"long{m}.wav", self.work / f"long{m}.h5",
                              self.work / f"long{m}.back.wav")
            gen = self.child("generate", path=str(wav), seconds=60 * m, clips=clips,
                             noise=1e-3)
            planner = ["--planner", self.args.planner]
            self.progress(f"msft analyze ({m} min)")
            an = run_command(msft_command("analyze", wav, "-o", box, "--quiet", *planner))
            size = box.stat().st_size
            self.progress(f"msft resynth ({m} min)")
            re_ = run_command(msft_command("resynth", box, "-o", back, "--reference", wav,
                                           "--quiet"))
            snr = float(re.search(r"SNR (\S+) dB", re_["stdout"]).group(1))
            for p in (wav, box, back):
                p.unlink(missing_ok=True)
            total = time.perf_counter() - began
            sec = 60 * m
            rss[m] = max(an["peak_rss"], re_["peak_rss"])
            rows.append([f"{m} min", f"{gen['bytes'] / MIB:,.0f} MiB",
                         f"{fmt_s(gen['seconds'])}, {fmt_mib(gen['peak_rss'])}",
                         fmt_s(an["seconds"]), fmt_x(sec / an["seconds"], 0),
                         fmt_mib(an["peak_rss"]), f"{size / MIB:,.0f} MiB",
                         fmt_s(re_["seconds"]), fmt_x(sec / re_["seconds"], 0),
                         fmt_mib(re_["peak_rss"]), fmt_db(snr), fmt_s(total)])
            self.check(f"SNR >= {TARGET_SNR_CONTAINER:.0f} dB through the container, "
                       f"{m} min stereo file", fmt_db(snr), snr >= TARGET_SNR_CONTAINER)
        self.emit(*markdown_table(
            ["length", "WAV", "generated in, RSS", "analyze", "RT", "analyze RSS",
             "container", "resynth", "RT", "resynth RSS", "SNR", "case total"], rows,
            "lrrrrrrrrrrr"))
        # A 1-minute file is about one block: with 60 minutes measured, flatness compares
        # it with 10 minutes (both streamed through many blocks); 1 minute is in the table.
        longest = max(rss)
        ref = 10 if longest == 60 and 10 in rss else min(rss)
        if longest > ref:
            spread = rss[longest] / rss[ref] - 1
            self.check(f"peak RSS flat in length (within {FLAT_TOLERANCE:.0%} from {ref} "
                       f"to {longest} min)", f"{fmt_mib(rss[ref])} -> "
                       f"{fmt_mib(rss[longest])} ({spread:+.1%})", spread <= FLAT_TOLERANCE)
        else:
            self.check("peak RSS flat in length", f"one length only ({longest} min: "
                       f"{fmt_mib(rss[longest])}); run without --quick", None)
        if 60 in rss:
            self.check("peak RSS < 1 GiB for 60 min stereo", fmt_mib(rss[60]),
                       rss[60] < TARGET_RSS)
        else:
            self.check("peak RSS < 1 GiB for 60 min stereo", "not run (use --long); "
                       f"{longest} min: {fmt_mib(rss[longest])}", None)

    # -- 5. commands -----------------------------------------------------------------
    def commands(self):
        wav, box, back = (self.work / "clip60.wav", self.work / "clip60.h5",
                          self.work / "clip60.back.wav")
        self.child("generate", path=str(wav), seconds=COMMAND_SECONDS,
                   clips=["techno_bassline.wav"], noise=0.0)
        runs = {
            "analyze": msft_command("analyze", wav, "-o", box, "--quiet",
                                    "--planner", self.args.planner),
            "resynth": msft_command("resynth", box, "-o", back, "--quiet"),
        }
        self.section(
            f"5. Commands on a {COMMAND_SECONDS} s stereo clip (techno, 16-bit WAV)",
            f"Wall time of `python -m msft_cli ...` (start-up, decoding, transform and HDF5 "
            f"or WAV writing): the first run, then the median of {REPEATS}.")
        rows = []
        for name, argv in runs.items():
            self.progress(f"msft {name} x {REPEATS + 1}")
            first, median, last = first_and_median(lambda: run_command(argv), REPEATS)
            rows.append([f"msft {name}", fmt_s(first), fmt_s(median),
                         fmt_x(COMMAND_SECONDS / median, 0), fmt_mib(last["peak_rss"])])
            self.check(f"msft {name} of a 60 s stereo clip < {TARGET_COMMAND_SECONDS:g} s "
                       "(issue 6)", fmt_s(median), median < TARGET_COMMAND_SECONDS)
        for p in (wav, box, back):
            p.unlink(missing_ok=True)
        self.emit(*markdown_table(["command", "first run", f"median of {REPEATS}", "RT",
                                   "peak RSS"], rows))

    # -- all ---------------------------------------------------------------------------
    def run(self):
        began = time.perf_counter()
        load_start = loadavg()
        self.emit("# msft bench", "", *machine_lines(self.args.planner, os.cpu_count()))
        self.baseline = self.child("baseline")["peak_rss"]
        try:
            self.engine()
            self.blocks()
            self.container()
            self.long_files()
            self.commands()
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
        self.section("Summary against DESIGN.md's targets (figures from this run)")
        verdict = {True: "met", False: "**not met**", None: "-"}
        self.emit(*markdown_table(["target", "measured", ""],
                                  [[t, m, verdict[ok]] for t, m, ok in self.checks], "lrl"))
        flags = " ".join(f"--{k}" for k in ("quick", "long") if getattr(self.args, k))
        self.emit("", f"- load average (1/5/15 min): {load_start} at start, {loadavg()} at "
                  "end (other work on the machine slows the timings)",
                  f"- bench options: `--planner {self.args.planner}{' ' + flags if flags else ''}`"
                  f"; the bench took {fmt_s(time.perf_counter() - began)}")
        if self.args.markdown:
            Path(self.args.markdown).write_text("\n".join(self.lines) + "\n")
            self.progress(f"wrote {self.args.markdown}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="12 bins per octave only, no 10-minute file")
    ap.add_argument("--long", action="store_true", help="add the 60-minute stereo file")
    ap.add_argument("--planner", choices=("estimate", "measure"), default="estimate",
                    help="FFTW planner for msft and the floor (measure: also the floor with "
                         "FFTW_ESTIMATE)")
    ap.add_argument("--markdown", metavar="PATH", help="also write the output to PATH")
    Bench(ap.parse_args()).run()


if __name__ == "__main__":
    if is_child():
        child_main(CASES)
    else:
        main()
