"""msft side by side with its peers: nsgt, librosa and Essentia, in one run (issue 6).

Run ``python bench/peers.py`` (``make bench``); it prints markdown on stdout and
progress on stderr. Peers come from the ``bench`` extra (``pip install -e
'.[bench]'``, then ``pip install --no-build-isolation nsgt``); a peer that is not
installed is reported and skipped.

Every case runs in a process of its own (``bench/peers/runner.py``): peak RSS is
that case's own (``VmHWM``), and nsgt's replacement of ``numpy.fft`` by pyFFTW's
interface (done at import) cannot touch another tool. The parent watches each
case: it is killed past ``--timeout`` seconds or ``--mem-limit`` GiB of resident
memory, and the table says so.

Settings, the same for every tool: 44.1 kHz, lowest band C1 = 32.70 Hz, bands up
to 16 kHz, 12 and 48 bins per octave. msft covers whole octaves (9: up to 15.8 kHz
at 12 bins, 16.5 kHz at 48), nsgt's ``OctScale`` puts its last band on 16 kHz,
librosa and Essentia stop at the last bin at or below 16 kHz (the ``bands`` column
gives the count). Inputs: the techno clip of ``sample_audio/`` tiled to 60 s,
stereo and its first channel alone; 60 s of white noise (one channel, sigma 0.1);
a 10-minute one-channel 16-bit WAV (the techno clip's first channel, tiled),
read whole into memory by every tool but the streamed msft row.

What is measured per case: set-up plus a first forward (the warm-up: planning,
JIT compilation, filter banks), then the median of ``--repeats`` forward/inverse
pairs (fewer, at least one, where they would not fit in half the time limit;
column ``runs``), the realtime factor (audio seconds per second), SNR
``20 log10(||x|| / ||x - x_hat||)`` against the float64 input over all channels,
complex coefficients per input sample and channel (msft's real low/high-pass
values count as half), and the case's peak RSS. Tools that take one channel
(nsgt, Essentia) transform a stereo input channel by channel; msft and librosa
take both at once.

msft runs in the modes ``zero`` (default: blocks, bounded memory) and
``periodic`` (one block), each with FFTW_ESTIMATE and FFTW_MEASURE plans.
Measured plans are made once, by a warm-up process, into a wisdom folder
(``MSFT_CACHE_DIR``, temporary unless ``--wisdom DIR``) that the measure cases
read; estimate cases get an empty one, so that no measured wisdom leaks into
them. ``periodic`` with measured plans is not run on the 10-minute file (one
26-million-point FFTW_MEASURE plan would take far longer than the case). On
the 10-minute file msft also runs as users run it on files: ``msft_cli.analyze``
(WAV -> complex64 HDF5, streamed in blocks) then ``resynth`` (-> WAV), decoding
and HDF5 included.

The FFT floor of DESIGN.md is printed for the 60 s channel: one pyFFTW real FFT
of the whole channel with a measured plan made beforehand, plus batched inverse
FFTs whose total length is msft's coefficient count (``_common.fft_floor``), and
msft's ratio to it.

Options: ``--quick`` (12 bins per octave only, no 10-minute file), ``--peers
nsgt,librosa,essentia`` (which peers; msft always runs), ``--markdown PATH``
(also write the output there), ``--json PATH`` (raw results), ``--repeats``,
``--timeout``, ``--mem-limit``, ``--planners``, ``--wisdom DIR`` (keep measured
FFTW wisdom between runs: the first run plans for minutes, later ones do not),
``--seconds`` (shorter inputs, for a smoke test of the script).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    GIB,
    SR,
    child_env,
    cpu_model,
    fmt_db,
    fmt_mib,
    fmt_s,
    fmt_x,
    loadavg,
    markdown_table,
    mem_total,
    read_clip,
)

RUNNER = Path(__file__).resolve().parent / "peers" / "runner.py"
C1 = 440.0 * 2 ** (-45 / 12)  # 32.703 Hz
FMAX = 16000.0
SECONDS = 60  # the short inputs; --seconds changes it (for a smoke test)
LONG_SECONDS = 600
PEERS = ("nsgt", "librosa", "essentia")
EXACT_DB = 100.0  # a tool reaching this SNR counts as an exact (invertible) transform

#: (tool, variant, label)
MSFT_VARIANTS = [
    ("msft", "zero/estimate", "msft zero, estimate"),
    ("msft", "zero/measure", "msft zero, measure"),
    ("msft", "periodic/estimate", "msft periodic, estimate"),
    ("msft", "periodic/measure", "msft periodic, measure"),
]
STREAMED = ("msft", "stream", "msft analyze + resynth (file, streamed, complex64 HDF5)")
PEER_VARIANTS = {
    "nsgt": [("nsgt", "cq", "nsgt CQ_NSGT"), ("nsgt", "sliced", "nsgt NSGT_sliced (sliCQ)")],
    "librosa": [("librosa", "-", "librosa cqt / icqt, hop 512")],
    "essentia": [("essentia", "full", "Essentia NSGConstantQ (rasterize full, default)"),
                 ("essentia", "piecewise", "Essentia NSGConstantQ (rasterize piecewise)")],
}


def set_seconds(seconds):
    global SECONDS
    SECONDS = seconds


def msft_source(snapshot=None):
    """The commit msft's code comes from, and whether msft_cli/ differs from it."""
    import hashlib
    repo = Path(__file__).resolve().parent.parent
    if snapshot:
        digest = hashlib.sha1()
        for f in sorted((Path(snapshot) / "msft_cli").glob("*.py")):
            digest.update(f.read_bytes())
        return f"msft_cli imported from {snapshot} (sha1 of its .py files " \
               f"{digest.hexdigest()[:10]})"
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "msft_cli"], cwd=repo,
                               text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    if not dirty:
        return f"commit {head}"
    digest = hashlib.sha1()
    for f in sorted((repo / "msft_cli").glob("*.py")):
        digest.update(f.read_bytes())
    return f"commit {head} plus uncommitted changes to msft_cli/ (sha1 of its .py files " \
           f"{digest.hexdigest()[:10]})"


def progress(message):
    print(f"[peers] {message}", file=sys.stderr, flush=True)


# -- running one case ---------------------------------------------------------------
def vm_rss(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_guarded(params, env, timeout, mem_limit):
    """Run the runner on ``params``; kill it past ``timeout`` s or ``mem_limit`` bytes.

    Returns a dict: the runner's JSON result, or ``{"status": ...}`` on failure, with
    ``wall`` (s) and ``rusage_rss`` (bytes, ``wait4``'s maximum resident set) added.
    """
    argv = [sys.executable, str(RUNNER), json.dumps(params)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        killed, seen = None, 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = vm_rss(proc.pid)
            seen = max(seen, rss)
            elapsed = time.perf_counter() - began
            if killed is None and rss > mem_limit:
                killed = f"killed: resident memory over {mem_limit / GIB:.0f} GiB after " \
                         f"{elapsed:.0f} s"
                proc.kill()
            elif killed is None and elapsed > timeout:
                killed = f"killed: not done in {timeout:.0f} s"
                proc.kill()
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    rusage_rss = max(usage.ru_maxrss * 1024, seen)
    if killed:
        return {"status": killed, "wall": wall, "rusage_rss": rusage_rss}
    if proc.returncode != 0:
        last = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        why = last[-1] if last else f"exit {proc.returncode}"
        return {"status": f"failed: {why[:160]}", "wall": wall, "rusage_rss": rusage_rss,
                "stderr": stderr[-4000:]}
    lines = stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return {"status": "failed: no result printed", "wall": wall, "rusage_rss": rusage_rss}
    result.update(status="ok", wall=wall, rusage_rss=rusage_rss)
    return result


# -- inputs -------------------------------------------------------------------------------
def write_long_file(path, seconds):
    """The 10-minute one-channel 16-bit WAV: the techno clip's first channel, tiled."""
    import soundfile as sf
    clip = read_clip("techno_bassline.wav")[0]
    total, step = int(seconds * SR), 10 * SR
    with sf.SoundFile(str(path), "w", SR, 1, "PCM_16") as f:
        for start in range(0, total, step):
            idx = (start + np.arange(min(step, total - start))) % clip.size
            f.write(clip[idx])


# -- the bench ---------------------------------------------------------------------------
class Bench:
    def __init__(self, args):
        self.args = args
        self.lines = []
        self.bins = [12] if args.quick else [12, 48]
        self.planners = [p for p in args.planners.split(",") if p]
        if not self.planners or set(self.planners) - {"estimate", "measure"}:
            raise SystemExit(f"--planners {args.planners!r}: give estimate, measure or both")
        self.peers = [p for p in args.peers.split(",") if p]
        unknown = sorted(set(self.peers) - set(PEERS))
        if unknown:
            raise SystemExit(f"--peers: unknown {', '.join(unknown)} (known: {', '.join(PEERS)})")
        self.work = Path(tempfile.mkdtemp(prefix="msft-peers-"))
        self.wisdom = Path(args.wisdom) if args.wisdom else self.work / "wisdom-measure"
        self.empty_cache = self.work / "wisdom-estimate"
        (self.wisdom / "floor").mkdir(parents=True, exist_ok=True)
        self.empty_cache.mkdir()
        self.results = []
        self.versions, self.missing, self.import_rss = {}, {}, {}
        self.notes = []
        self.warm_failed = {}
        self.warmed = set()

    def emit(self, *lines):
        for line in lines:
            print(line, flush=True)
            self.lines.append(line)

    def env(self, cache):
        env = child_env()
        env["MSFT_CACHE_DIR"] = str(cache)
        if self.args.msft_src:  # msft_cli from a snapshot, ahead of this checkout's
            env["PYTHONPATH"] = os.pathsep.join([self.args.msft_src, env["PYTHONPATH"]])
        return env

    def inputs(self):
        chosen = set(self.args.inputs.split(","))
        specs = [
            (f"techno {SECONDS} s stereo", {"kind": "techno", "seconds": SECONDS,
                                             "channels": 2}),
            (f"techno {SECONDS} s, 1 channel", {"kind": "techno", "seconds": SECONDS,
                                                "channels": 1, "floor": True}),
            (f"white noise {SECONDS} s, 1 channel", {"kind": "noise", "seconds": SECONDS,
                                                     "channels": 1}),
        ]
        names = ["stereo", "channel", "noise"]
        specs = [sp for name, sp in zip(names, specs) if name in chosen]
        if not self.args.quick and "long" in chosen:
            path = self.work / "long.wav"
            progress(f"writing the {LONG_SECONDS // 60}-minute WAV")
            write_long_file(path, LONG_SECONDS)
            specs.append((f"techno {LONG_SECONDS // 60} min, 1 channel (WAV)",
                          {"kind": "file", "path": str(path), "long": True}))
        return specs

    def probe(self):
        for tool in ["msft", *self.peers]:
            r = run_guarded({"case": "probe", "tool": tool}, self.env(self.empty_cache),
                            300, self.args.mem_limit * GIB)
            if r["status"] == "ok":
                self.versions[tool] = r["version"]
                self.import_rss[tool] = r["import_rss"]
            else:
                self.missing[tool] = r["status"]
                progress(f"{tool}: {r['status']}")

    def warm(self, bins, mode):
        """Make msft's measured plans for one geometry, once, before its first measure case.

        Returns True when they could not be made within ``--warm-timeout``."""
        variant = f"{mode}/measure"
        if (bins, variant) in self.warmed:
            return (bins, variant) in self.warm_failed
        self.warmed.add((bins, variant))
        progress(f"msft FFTW_MEASURE plans, {bins} bins/octave, {mode} mode (once; wisdom in "
                 f"{self.wisdom})")
        r = run_guarded({"case": "warm", "bins": bins, "fmin": C1, "fmax": FMAX,
                         "seconds": SECONDS, "modes": [mode]},
                        self.env(self.wisdom), self.args.warm_timeout,
                        self.args.mem_limit * GIB)
        if r["status"] == "ok":
            self.notes.append(
                f"msft FFTW_MEASURE planning, paid once before the measure cases "
                f"({bins} bins/octave, {mode} mode, {SECONDS} s): "
                f"{fmt_s(r['seconds'][mode])} (first forward + inverse, planning included; "
                "wisdom kept from earlier runs counts)")
            return False
        self.warm_failed[bins, variant] = f"FFTW_MEASURE warm-up: {r['status']}"
        self.notes.append(f"msft FFTW_MEASURE warm-up ({bins} bins/octave, {mode} mode): "
                          f"{r['status']}")
        return True

    @staticmethod
    def needs_warm(case):
        """msft measure cases read the warm-up's wisdom (not periodic on the long file:
        ``run_case`` does not run that one)."""
        variant, long = case[4], case[2].get("long")
        return variant == "zero/measure" or (variant == "periodic/measure" and not long)

    @staticmethod
    def by_priority(cases):
        """The order to run cases in: the one-channel 60 s clip first (the targets), then
        stereo, noise and the long file; 12 bins before 48 within each."""
        def rank(case):
            bins, label, spec = case[:3]
            kind = (0 if spec.get("floor") else 1 if spec.get("channels") == 2 else
                    2 if spec.get("kind") == "noise" else 3)
            return (kind, bins)
        return sorted(cases, key=rank)

    def cases(self, specs):
        variants = [v for v in MSFT_VARIANTS if v[1].split("/")[1] in self.planners]
        for p in self.peers:
            if p not in self.missing:
                variants += PEER_VARIANTS[p]
        out = []
        for bins in self.bins:
            for label, spec in specs:
                long = spec.get("long", False)
                for tool, variant, name in variants + ([STREAMED] if long else []):
                    if tool == "msft" and "msft" in self.missing:
                        continue
                    out.append((bins, label, spec, tool, variant, name))
        return out

    def run_case(self, bins, label, spec, tool, variant, name):
        if spec.get("long") and variant == "periodic/measure":  # (run() does not warm it)
            return {"status": "not run: one FFTW_MEASURE plan of the whole file (26M points) "
                              "takes far longer than the case"}
        cache = self.wisdom if variant.endswith("measure") else self.empty_cache
        params = {"case": "run", "tool": tool, "variant": variant, "bins": bins,
                  "input": {k: v for k, v in spec.items() if k not in ("long", "floor")},
                  "fmin": C1, "fmax": FMAX, "repeats": self.args.repeats,
                  "budget": self.args.timeout / 2}
        began = time.perf_counter()
        r = run_guarded(params, self.env(cache), self.args.timeout, self.args.mem_limit * GIB)
        summary = (f"fwd {fmt_s(r['forward'])} inv {fmt_s(r['inverse'])} "
                   f"SNR {fmt_db(r['snr'])} RSS {fmt_mib(r['peak_rss'])}"
                   if r["status"] == "ok" else r["status"])
        progress(f"{bins} bins | {label} | {name}: {summary} "
                 f"({time.perf_counter() - began:.0f} s)")
        return r

    def floor(self, counts):
        """The FFT floor for the 60 s channel, measured plans (and estimate, for reference)."""
        n = SECONDS * SR
        out = {}
        # the floor keeps its own wisdom: one process at a time writes each wisdom file
        for planner, cache in (("measure", self.wisdom / "floor"),
                               ("estimate", self.empty_cache)):
            if planner not in self.planners and planner != "measure":
                continue
            progress(f"FFT floor, FFTW_{planner.upper()} ({n:,} points)")
            out[planner] = run_guarded({"case": "floor", "n_samples": n, "counts": counts,
                                        "planner": planner}, self.env(cache),
                                       self.args.warm_timeout, self.args.mem_limit * GIB)
        return out

    # -- output --------------------------------------------------------------------------------
    def header(self, load_start):
        mem = mem_total()
        now = datetime.datetime.now().astimezone()
        self.emit("# msft and its peers", "",
                  f"- date: {now:%Y-%m-%d %H:%M %Z}",
                  f"- machine: {os.cpu_count()} cores (nproc), {cpu_model()}"
                  + (f", {mem / GIB:.1f} GiB RAM" if mem else "")
                  + f", {platform.system()} {platform.release()}, Python "
                  f"{platform.python_version()}, numpy {np.__version__}",
                  f"- msft source: {self.source}",
                  f"- load average (1/5/15 min) at start: {load_start}")

    def table(self):
        rows = []
        for (bins, label, spec, tool, variant, name), r in self.results:
            dur = None
            if r.get("status") == "ok":
                dur = r["n_samples"] / SR
            ok = r.get("status") == "ok"
            status = "yes" if ok else r["status"]
            rows.append([
                label, bins, name,
                (r.get("bands") or "-") if ok else "-",
                fmt_s(r["make_seconds"] + r["first_forward"]) if ok else "-",
                fmt_s(r["forward"]) if ok else "-",
                fmt_s(r["inverse"]) if ok else "-",
                fmt_x(dur / r["forward"], 0) if ok else "-",
                fmt_x(dur / r["inverse"], 0) if ok else "-",
                fmt_db(r["snr"]) if ok else "-",
                f"{r['per_sample']:.2f}" if ok else "-",
                fmt_mib(r["peak_rss"]) if ok else (fmt_mib(r["rusage_rss"])
                                                   if "rusage_rss" in r else "-"),
                r.get("runs", "-") if ok else "-",
                status])
        self.emit("", "## Results", "",
                  f"Median of up to {self.args.repeats} forward/inverse pairs after a warm-up "
                  "pair (`runs`); `setup + 1st fwd` is building the transform plus the "
                  "first forward (planning, JIT, filters); RT = audio seconds per second; "
                  "coefs/sample = complex coefficients per input sample and channel; peak "
                  "RSS = the case's own process (`VmHWM`; for a killed case, its maximum "
                  "as seen by the parent); `finished` says whether the case ran to the end "
                  f"(limits: {self.args.timeout:.0f} s, {self.args.mem_limit:g} GiB "
                  "resident).", "")
        self.emit(*markdown_table(
            ["input", "bins/oct", "tool", "bands", "setup + 1st fwd", "forward", "inverse",
             "RT fwd", "RT inv", "SNR", "coefs/sample", "peak RSS", "runs", "finished"],
            rows, "lrlrrrrrrrrrrl"))

    def floor_table(self, floors):
        f = floors.get("measure", {})
        e = floors.get("estimate", {})
        self.emit("", f"## FFT floor: the {SECONDS} s channel ({SECONDS * SR:,} samples)", "")
        if f.get("status") != "ok":
            self.emit(f"- not measured: {f.get('status')}")
            return
        self.emit(
            f"- one pyFFTW real FFT of the channel (float64 -> complex128, FFTW_MEASURE plan "
            f"made beforehand: {fmt_s(f['plan_rfft'])} here, less if `--wisdom` already held "
            f"it; all cores): {fmt_s(f['rfft'])}"
            + (f"; with FFTW_ESTIMATE: {fmt_s(e['rfft'])}" if e.get("status") == "ok" else "")
            + f"; numpy.fft.rfft: {fmt_s(f['numpy_rfft'])}",
            "- plus batched complex backward FFTs of 1024 points, total length >= msft's "
            "coefficient count (`_common.fft_floor`); floor = the sum; ratio = msft's "
            "time / floor (DESIGN.md's target: within 2.5x)", "")
        rows = []
        for (bins, label, spec, tool, variant, name), r in self.results:
            if tool != "msft" or variant == "stream" or r.get("status") != "ok" \
                    or not spec.get("floor"):
                continue
            key = str(r["coefficients"])
            if key not in f["batched"]:
                continue
            t_floor = f["rfft"] + f["batched"][key]
            rows.append([bins, name, f"{r['coefficients']:,.0f}", fmt_s(f["batched"][key]),
                         fmt_s(t_floor), fmt_s(r["forward"]), fmt_s(r["inverse"]),
                         fmt_x(r["forward"] / t_floor), fmt_x(r["inverse"] / t_floor)])
        self.emit(*markdown_table(["bins/oct", "msft", "coefficients", "inverse FFTs",
                                   "floor", "forward", "inverse", "fwd / floor",
                                   "inv / floor"], rows, "llrrrrrrr"))

    def comparison(self):
        """Per input and bins: msft's best against the best peer, each figure apart."""
        groups = {}
        for (bins, label, spec, tool, variant, name), r in self.results:
            if r.get("status") == "ok":
                groups.setdefault((bins, label), []).append((tool, variant, name, r))
        if not groups:
            return
        self.emit("", "## msft against the best peer (each figure's best, from the table)",
                  "", "`exact` peers reach SNR >= "
                  f"{EXACT_DB:.0f} dB (librosa's icqt is an approximation). msft's figures "
                  "are its best in-memory variant for each figure; fewer coefficients per "
                  "sample is counted as better (less to store).", "")
        rows = []

        def best(items, key, lowest=True):
            items = [i for i in items if i[3].get(key) is not None]
            if not items:
                return None
            pick = min if lowest else max
            return pick(items, key=lambda i: i[3][key])

        def verdict(m, p, key):
            if m is None or p is None:
                return "-"
            a, b = m[3][key], p[3][key]
            if key == "snr":
                return "ahead" if a > b else "**behind**"
            if a <= 0 or b <= 0:
                return "-"
            return f"ahead ({b / a:.2f}x)" if a < b else f"**behind** ({a / b:.2f}x)"

        def cell(item, key, fmt):
            return "-" if item is None else f"{fmt(item[3][key])} ({item[2]})"

        for (bins, label), items in groups.items():
            ours = [i for i in items if i[0] == "msft" and i[1] != "stream"]
            peers = [i for i in items if i[0] != "msft"]
            exact = [i for i in peers if i[3]["snr"] >= EXACT_DB]
            for key, title, fmt, lowest in (("forward", "forward", fmt_s, True),
                                            ("inverse", "inverse", fmt_s, True),
                                            ("snr", "SNR", fmt_db, False),
                                            ("peak_rss", "peak RSS", fmt_mib, True),
                                            ("per_sample", "coefs/sample",
                                             lambda v: f"{v:.2f}", True)):
                m, p, pe = best(ours, key, lowest), best(peers, key, lowest), \
                    best(exact, key, lowest)
                rows.append([label, bins, title, cell(m, key, fmt), cell(p, key, fmt),
                             verdict(m, p, key), cell(pe, key, fmt), verdict(m, pe, key)])
        self.emit(*markdown_table(["input", "bins/oct", "figure", "msft", "best peer",
                                   "msft vs it", "best exact peer", "msft vs it"], rows,
                                  "lrllllll"))

    def footer(self, load_start, began):
        self.emit("", "## Versions and notes", "")
        for tool in ["msft", *self.peers]:
            if tool in self.versions:
                self.emit(f"- {self.versions[tool]}: import alone "
                          f"{fmt_mib(self.import_rss[tool])} resident")
            else:
                self.emit(f"- {tool}: not run ({self.missing.get(tool)})")
        fixes = {f for _, r in self.results for f in (r.get("info") or {}).get("fixes", [])}
        for f in sorted(fixes):
            self.emit(f"- run-time fix applied in nsgt's processes: {f}")
        sl = {(c[0], r["info"].get("sl_len"), r["info"].get("tr_area"))
              for c, r in self.results if r.get("status") == "ok" and c[3] == "nsgt"
              and r.get("info", {}).get("sl_len")}
        for bins, sl_len, tr in sorted(sl):
            self.emit(f"- nsgt sliCQ at {bins} bins/octave: sl_len {sl_len:,}, tr_area {tr:,} "
                      "(the shortest power-of-two slice for which nsgt does not warn "
                      "\"Q-factor too high\")")
        for note in self.notes:
            self.emit(f"- {note}")
        self.emit("- threads: msft's FFTW plans use every core for transforms of 2**15 "
                  "points or more; nsgt calls pyFFTW's numpy interface with its defaults (one "
                  "thread, FFTW_ESTIMATE); librosa uses numpy's FFT; Essentia its own FFT, "
                  "one thread",
                  "- coefficient types: msft, nsgt and librosa complex128 (float64 in); "
                  "Essentia complex64 (float32 in, SNR against the float64 input)",
                  f"- load average (1/5/15 min): {load_start} at start, "
                  f"{getattr(self, 'load_end', None) or loadavg()} at end "
                  f"on {os.cpu_count()} cores (the machine is shared: other work slows the "
                  "timings)",
                  f"- options: {' '.join(sys.argv[1:]) or '(none)'}"
                  + (f"; the run took {fmt_s(time.perf_counter() - began)}" if began else ""))

    # -- all -------------------------------------------------------------------------------------
    def state(self, floors=None):
        return {"results": [[list(c[:2]) + [c[2]] + list(c[3:]), r] for c, r in self.results],
                "floors": floors or {}, "versions": self.versions, "missing": self.missing,
                "import_rss": self.import_rss, "notes": self.notes,
                "load_start": self.load_start, "load_end": loadavg(), "argv": sys.argv[1:],
                "source": self.source}

    def save(self, floors=None):
        """Raw results so far to ``--json`` (after every case: a crash loses nothing)."""
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(self.state(floors), indent=1) + "\n")

    def run(self):
        began = time.perf_counter()
        self.load_start = loadavg()
        self.source = msft_source(self.args.msft_src)
        floors = {}
        try:
            self.probe()
            specs = self.inputs()
            cases = self.cases(specs)
            done = {}
            for case in self.by_priority(cases):
                key = case[:2] + case[3:]
                late = self.args.deadline and time.perf_counter() - began > 60 * self.args.deadline
                if late:
                    done[key] = {"status": f"not run: past --deadline {self.args.deadline:g} min"}
                elif self.needs_warm(case) and self.warm(case[0], case[4].split("/")[0]):
                    done[key] = {"status": f"not run: {self.warm_failed[case[0], case[4]]}"}
                else:
                    done[key] = self.run_case(*case)
                self.results = [(c, done[c[:2] + c[3:]]) for c in cases
                                if c[:2] + c[3:] in done]
                self.save()
            counts = sorted({r["coefficients"] for (b, label, s, tool, v, n), r in self.results
                             if tool == "msft" and v != "stream" and r.get("status") == "ok"
                             and s.get("floor")})
            self.load_end = loadavg()  # before the floor's planning
            floors = self.floor(counts) if counts else {}
            self.save(floors)
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
        self.report(floors, began)

    def report(self, floors, began=None):
        self.header(self.load_start)
        self.table()
        self.floor_table(floors)
        self.comparison()
        self.footer(self.load_start, began)
        if self.args.markdown:
            Path(self.args.markdown).parent.mkdir(parents=True, exist_ok=True)
            Path(self.args.markdown).write_text("\n".join(self.lines) + "\n")
            progress(f"wrote {self.args.markdown}")

    def rerender(self, path):
        """The tables again from a ``--json`` file of an earlier run (``--from-json``)."""
        states = [json.loads(Path(p).read_text()) for p in path.split(",")]
        st = states[0]
        def key(item):
            c = item[0]
            return (c[0], c[1], c[3], c[4])

        for other in states[1:]:
            theirs = {key(i): i for i in other["results"]}
            merged = []
            for item in st["results"]:  # a later file's result of a case replaces this one
                ran = theirs.get(key(item))
                if ran and (ran[1].get("status") == "ok"
                            or item[1].get("status", "").startswith("not run: past")):
                    merged.append(ran)
                    del theirs[key(item)]
                else:
                    merged.append(item)
            st["results"] = merged + list(theirs.values())
            st["notes"] += other["notes"]
            st["floors"] = other["floors"] or st["floors"]
            st["source"] = other.get("source") or st.get("source")
            for k in ("versions", "missing", "import_rss"):
                st[k] = {**other[k], **st[k]}
            st["argv"] = st["argv"] + ["+"] + other["argv"]
            st["load_end"] = other["load_end"]
        self.results = [(tuple(c), r) for c, r in st["results"]]
        self.versions, self.missing = st["versions"], st["missing"]
        self.import_rss, self.notes = st["import_rss"], st["notes"]
        self.load_start, self.load_end = st["load_start"], st["load_end"]
        self.source = st.get("source", "?")
        self.peers = [t for t in list(self.versions) + list(self.missing) if t != "msft"]
        sys.argv[1:] = st["argv"]
        shutil.rmtree(self.work, ignore_errors=True)
        self.report(st["floors"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="12 bins per octave only, no 10-minute file")
    ap.add_argument("--peers", default=",".join(PEERS),
                    help="comma-separated peers to run (default: %(default)s); msft always runs")
    ap.add_argument("--markdown", metavar="PATH", help="also write the markdown to PATH")
    ap.add_argument("--json", metavar="PATH", help="write the raw results as JSON to PATH")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed forward/inverse pairs after the warm-up (default 3)")
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="seconds before a case is killed (default 300)")
    ap.add_argument("--warm-timeout", type=float, default=1800.0,
                    help="seconds for each msft FFTW_MEASURE warm-up and for the floor "
                         "(default 1800)")
    ap.add_argument("--mem-limit", type=float, default=8.0,
                    help="GiB of resident memory before a case is killed (default 8)")
    ap.add_argument("--planners", default="estimate,measure",
                    help="msft's FFTW planners to run (default: %(default)s; the floor always "
                         "uses a measured plan)")
    ap.add_argument("--deadline", type=float, metavar="MIN",
                    help="start no case after MIN minutes (the rest are listed as not run)")
    ap.add_argument("--wisdom", metavar="DIR",
                    help="keep msft's measured FFTW wisdom in DIR (default: a temporary folder)")
    ap.add_argument("--inputs", default="channel,stereo,noise,long",
                    help="inputs to run (default: %(default)s: the 60 s clip's first channel, "
                         "the 60 s stereo clip, white noise, the 10-minute file)")
    ap.add_argument("--msft-src", metavar="DIR",
                    help="import msft_cli from DIR/msft_cli (e.g. a snapshot of a tree that "
                         "others are editing) instead of this checkout")
    ap.add_argument("--from-json", metavar="PATH[,PATH]",
                    help="print the tables of earlier runs from their --json files (merged); "
                         "run nothing")
    ap.add_argument("--seconds", type=int, default=SECONDS,
                    help="length of the short inputs (default %(default)s; shorter for a "
                         "smoke test of the script)")
    args = ap.parse_args()
    if args.seconds != SECONDS:
        set_seconds(args.seconds)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    if args.from_json:
        Bench(args).rerender(args.from_json)
    else:
        Bench(args).run()


if __name__ == "__main__":
    main()
