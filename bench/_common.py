"""Shared plumbing of the bench scripts (``bench/transform.py``, and ``bench/peers.py`` later).

Every measured case runs in its own Python process, so that its peak RSS is its
own and nothing (plans, caches, a peer's monkey-patching of ``numpy.fft``)
leaks between cases. A bench script is both the orchestrator and the worker:

* the parent calls :func:`run_child` ``(script, case, params)``, which starts
  ``python script --child case 'json params'``;
* the child, in the script's ``if __name__ == "__main__"`` block, calls
  :func:`child_main` with its table of case functions; the chosen function
  returns a dict, to which the child adds its peak RSS (``VmHWM``, read from
  ``/proc/self/status`` at its end) and prints as JSON on its last line.

Commands (``python -m msft_cli analyze ...``) are measured from outside by
:func:`run_command`: wall time, and the child's peak RSS from ``os.wait4``'s
resource usage (the same figure as ``/usr/bin/time -v``'s "Maximum resident set
size").

The FFT floor (:func:`fft_floor`) is defined here so that every bench script
compares against the same thing.
"""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SAMPLES = REPO / "sample_audio"
SR = 44100
MIB = 2**20
GIB = 2**30


# -- the machine ------------------------------------------------------------
def loadavg():
    """The 1, 5 and 15 minute load averages, as ``"a / b / c"``."""
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def mem_total():
    """Physical memory in bytes (``MemTotal``), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def git_commit():
    """The checkout's commit, ``+ changes`` when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, text=True, capture_output=True).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def versions():
    """Versions of msft (and its git commit) and of the libraries the timings depend on."""
    import h5py
    import pyfftw
    import soundfile

    import msft_cli
    return {"msft": msft_cli.__version__, "commit": git_commit(), "numpy": np.__version__,
            "pyfftw": pyfftw.__version__, "h5py": h5py.__version__,
            "soundfile": soundfile.__version__, "python": platform.python_version()}


def machine_lines(planner, threads):
    """Markdown lines describing when, where and with what the bench runs."""
    v = versions()
    mem = mem_total()
    now = datetime.datetime.now().astimezone()
    return [
        f"- date: {now:%Y-%m-%d %H:%M %Z}",
        f"- machine: {os.cpu_count()} cores (nproc), {cpu_model()}"
        + (f", {mem / GIB:.1f} GiB RAM" if mem else "") + f", {platform.system()} "
        f"{platform.release()}",
        f"- versions: msft {v['msft']} (commit {v['commit']}), numpy {v['numpy']}, "
        f"pyFFTW {v['pyfftw']}, h5py {v['h5py']}, soundfile {v['soundfile']}, "
        f"Python {v['python']}",
        f"- FFTW: planner `{planner}`; msft with its default threads, the FFT floor with "
        f"{threads} threads",
    ]


# -- signals ----------------------------------------------------------------
def read_clip(name):
    """A sample clip as float64 ``(channels, samples)``."""
    import soundfile as sf
    data, sr = sf.read(str(SAMPLES / name), dtype="float64", always_2d=True)
    assert sr == SR, f"{name}: {sr} Hz"
    return data.T.copy()


def techno(seconds, channels=1):
    """The techno clip tiled to ``seconds``: float64 ``(channels, samples)``."""
    clip = read_clip("techno_bassline.wav")[:channels]
    n = int(round(seconds * SR))
    reps = -(-n // clip.shape[1])
    return np.ascontiguousarray(np.tile(clip, reps)[:, :n])


def snr_db(x, y):
    """``20*log10(||x|| / ||x - y||)`` over the whole signal, all channels."""
    x = np.asarray(x, dtype=np.float64)
    err = np.linalg.norm(x - np.asarray(y, dtype=np.float64))
    return float("inf") if err == 0 else float(20 * np.log10(np.linalg.norm(x) / err))


# -- timing -----------------------------------------------------------------
def first_and_median(fn, repeats=3, before=None):
    """Time ``fn()``: its first call, then the median of ``repeats`` more.

    ``before()`` (untimed) runs ahead of every call, e.g. to drop the previous
    result so that two results are never alive at once. Returns
    ``(first_seconds, median_seconds, last_result)``.
    """
    times, result = [], None
    for _ in range(repeats + 1):
        if before is not None:
            before()
        result = None
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return times[0], statistics.median(times[1:]), result


def time_round_trip(transform, x, repeats):
    """Forward then inverse of ``x``, ``repeats + 1`` times (the first with plans and
    geometry made): the forward and inverse times, and the last coefficients and signal.
    Never two results alive at once."""
    fwd, inv = [], []
    c = y = None
    for _ in range(repeats + 1):
        c = y = None
        began = time.perf_counter()
        c = transform.forward(x)
        mid = time.perf_counter()
        y = transform.inverse(c)
        fwd.append(mid - began)
        inv.append(time.perf_counter() - mid)
    return fwd, inv, c, y


def coefficient_count(coefs):
    """Complex values, counting the real low- and high-pass values as half."""
    return sum(a.size * (0.5 if np.isrealobj(a) else 1.0) for a in coefs.groups)


def peak_rss():
    """This process's peak resident set size in bytes (``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- processes --------------------------------------------------------------
def child_env():
    """The environment for children: this checkout importable, output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait(proc):
    """Wait for ``proc``; return ``(returncode, peak RSS in bytes)`` from ``wait4``."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss * 1024  # Linux reports KiB


def run_command(argv, timeout=None):
    """Run a command as a user would; measure it from outside.

    Returns a dict: ``seconds`` (wall, start-up included), ``peak_rss`` (bytes,
    the child's own maximum resident set), ``stdout``. Raises on failure.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=child_env(), cwd=REPO)
        try:
            code, rss = _wait(proc)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited with {code}:\n{stderr}")
    return {"seconds": seconds, "peak_rss": rss, "stdout": stdout}


def run_child(script, case, params=None):
    """Run one case of a bench script in a fresh process; return its result dict.

    The dict carries ``peak_rss`` (the child's ``VmHWM``, bytes) and
    ``child_seconds`` (wall time of the whole child, start-up included).
    """
    argv = [sys.executable, str(script), "--child", case, json.dumps(params or {})]
    res = run_command(argv)
    lines = res["stdout"].strip().splitlines()
    if not lines:
        raise RuntimeError(f"{case}: the child printed nothing")
    result = json.loads(lines[-1])
    result["child_seconds"] = res["seconds"]
    return result


def child_main(cases):
    """Entry point of a child: ``script --child CASE 'JSON'``; prints the result as JSON."""
    name, params = sys.argv[2], json.loads(sys.argv[3])
    result = cases[name](**params)
    result.setdefault("peak_rss", peak_rss())
    print(json.dumps(result))


def is_child():
    return len(sys.argv) > 1 and sys.argv[1] == "--child"


# -- the FFT floor ----------------------------------------------------------
FLOOR_ROW = 1024  #: length of the batched complex inverse FFTs of the floor


def fft_floor(n_samples, counts, planner="estimate", threads=None, repeats=5):
    """Time the FFT floor of DESIGN.md with pyFFTW, plans made beforehand.

    What is timed (``execute()`` only; inputs refilled outside the timer; median
    of ``repeats`` after one warm-up call):

    * ``rfft``: one real-to-complex FFT of ``n_samples`` points (float64 in,
      complex128 out, out of place);
    * for each coefficient count ``c`` in ``counts``: a batched complex128
      backward FFT of ``ceil(c / 1024)`` rows of 1024 points (out of place,
      along the rows), i.e. inverse FFTs of total length >= ``c``.

    Plans use ``FFTW_<PLANNER>`` and ``FFTW_DESTROY_INPUT`` and ``threads``
    threads (default: all cores), as msft's plans do; msft's saved wisdom is
    loaded first (and, for ``measure``/``patient``, written back so that the
    expensive plan is paid once per machine). Also timed for reference:
    ``numpy.fft.rfft`` of the same signal.

    Returns a dict: ``plan_rfft`` (s), ``rfft`` (s), ``numpy_rfft`` (s),
    ``batched`` ({count: s}), ``plan_batched`` ({count: s}).
    """
    import pyfftw

    from msft_cli.engine import fftw as msft_fftw
    threads = threads or os.cpu_count() or 1
    flags = (f"FFTW_{planner.upper()}", "FFTW_DESTROY_INPUT")
    msft_fftw.load_wisdom()
    rng = np.random.default_rng(0)
    signal = rng.standard_normal(n_samples)

    def timed(plan, fill):
        times = []
        for _ in range(repeats + 1):
            fill()
            began = time.perf_counter()
            plan.execute()
            times.append(time.perf_counter() - began)
        return statistics.median(times[1:])

    began = time.perf_counter()
    a = pyfftw.empty_aligned(n_samples, "float64")
    b = pyfftw.empty_aligned(n_samples // 2 + 1, "complex128")
    rfft = pyfftw.FFTW(a, b, flags=flags, threads=threads)
    result = {"plan_rfft": time.perf_counter() - began}
    result["rfft"] = timed(rfft, lambda: a.__setitem__(slice(None), signal))
    del a, b, rfft

    numpy_times = []
    for _ in range(repeats + 1):
        began = time.perf_counter()
        np.fft.rfft(signal)
        numpy_times.append(time.perf_counter() - began)
    result["numpy_rfft"] = statistics.median(numpy_times[1:])

    result["batched"], result["plan_batched"] = {}, {}
    for count in counts:
        rows = -(-int(count) // FLOOR_ROW)
        began = time.perf_counter()
        a = pyfftw.empty_aligned((rows, FLOOR_ROW), "complex128")
        b = pyfftw.empty_aligned((rows, FLOOR_ROW), "complex128")
        plan = pyfftw.FFTW(a, b, axes=(1,), direction="FFTW_BACKWARD", flags=flags,
                           threads=threads)
        result["plan_batched"][str(count)] = time.perf_counter() - began
        data = (rng.standard_normal((rows, FLOOR_ROW))
                + 1j * rng.standard_normal((rows, FLOOR_ROW)))
        result["batched"][str(count)] = timed(plan, lambda: a.__setitem__(slice(None), data))
        del a, b, plan, data
    if planner != "estimate":
        msft_fftw.save_wisdom()
    return result


# -- output -----------------------------------------------------------------
def markdown_table(headers, rows, align=None):
    """A markdown table; ``align`` is a string of ``l``/``r`` per column (default: l then r)."""
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def fmt_s(seconds):
    """Seconds with 3 significant-ish digits: ``0.0123 s``, ``1.23 s``, ``123 s``."""
    if seconds is None:
        return "-"
    if seconds < 0.1:
        return f"{seconds:.4f} s"
    if seconds < 100:
        return f"{seconds:.3g} s" if seconds < 10 else f"{seconds:.1f} s"
    return f"{seconds:.0f} s"


def fmt_mib(nbytes):
    return "-" if nbytes is None else f"{nbytes / MIB:,.0f} MiB"


def fmt_db(db):
    return "-" if db is None else ("inf" if db == float("inf") else f"{db:.1f} dB")


def fmt_x(ratio, digits=1):
    """A ratio: ``12.3x``; ``digits=0`` gives ``123x`` (2 significant digits below 10)."""
    if ratio is None:
        return "-"
    if digits == 0 and ratio < 10:
        return f"{ratio:.2g}x"
    return f"{ratio:,.{digits}f}x"
