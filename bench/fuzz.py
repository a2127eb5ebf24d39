"""Mutation fuzzing of msft's readers: containers and audio files (issue 17).

Usage::

    python bench/fuzz.py --count 10000             # 10^4 container + 10^4 audio mutants
    python bench/fuzz.py --count 1000 --kind audio --seed 3 --timeout 10 --memory 2048

Each mutant of a small, valid file (bit flips anywhere or in the first 4 KiB,
runs of random bytes, truncations, zeroed blocks, and for audio header fields
set to extreme values) is read in a child process forked from this one (so
msft is imported once), under a wall-clock timeout and an address-space limit
(``RLIMIT_AS``):

* containers through ``msft info`` (``str(info(path))``), ``load`` with
  ``crop``, ``image`` and ``to_coefficients``, then ``inverse`` (complex) or a
  short phase reconstruction (magnitude);
* audio through ``msft_cli.analyze`` (to a container in a scratch folder).

Outcomes: ``ok``, ``MsftError`` (a one-line refusal), ``other`` (any other
exception: a bug), ``timeout``, ``crash`` (the child died by a signal, e.g. a
segmentation fault inside HDF5) and the peak RSS of the children. The table
goes to stdout, and with ``--json`` the outcome of every non-ok/non-MsftError
mutant (with its seed, so it can be remade with :func:`mutant`).
"""

import argparse
import json
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

#: kinds of mutation, chosen uniformly
MUTATIONS = ("flip", "flip_head", "run", "truncate", "zero", "field")


# -- the files mutated -------------------------------------------------------
def container_bases(folder):
    """A complex and a magnitude container of a short stereo signal: ``{name: bytes}``."""
    from msft_cli import MSFT, save

    t = MSFT(8000, fmin=220.0, threads=1)
    rng = np.random.default_rng(0)
    y = rng.standard_normal((2, 2400)) * 0.1
    c = t.forward(y, dtype="complex64")
    out = {}
    for name, store in (("complex.h5", "complex"), ("magnitude.h5", "magnitude")):
        path = Path(folder) / name
        save(c, path, store=store, source={"name": "x.wav", "format": "WAV",
                                            "subtype": "PCM_16"})
        out[name] = path.read_bytes()
    return out


def audio_bases(folder):
    """Short files of every format libsndfile writes here: ``{name: bytes}``."""
    import soundfile as sf

    rng = np.random.default_rng(1)
    y = (rng.standard_normal((1600, 2)) * 0.1).astype(np.float64)
    specs = [("pcm16.wav", "WAV", "PCM_16"), ("double.wav", "WAV", "DOUBLE"),
             ("a.flac", "FLAC", "PCM_16"), ("a.ogg", "OGG", "VORBIS"),
             ("a.aiff", "AIFF", "PCM_16"), ("a.w64", "W64", "PCM_16"),
             ("a.rf64", "RF64", "PCM_16"), ("a.caf", "CAF", "PCM_16"),
             ("a.au", "AU", "PCM_16"), ("a.mp3", "MP3", "MPEG_LAYER_III")]
    out = {}
    for name, fmt, subtype in specs:
        path = Path(folder) / name
        try:
            sf.write(path, y, 8000, subtype=subtype, format=fmt)
        except (sf.LibsndfileError, ValueError, TypeError):  # a codec this libsndfile lacks
            continue
        out[name] = path.read_bytes()
    return out


def mutant(data, seed):
    """``(bytes, description)``: one mutation of ``data`` chosen by ``seed``."""
    r = random.Random(seed)
    b = bytearray(data)
    kind = r.choice(MUTATIONS)
    n = len(b)
    if kind in ("flip", "flip_head"):
        span = min(n, 4096) if kind == "flip_head" else n
        flips = r.choice((1, 1, 2, 4, 16))
        for _ in range(flips):
            i = r.randrange(span)
            b[i] ^= 1 << r.randrange(8)
        return bytes(b), f"{kind} x{flips}"
    if kind == "run":
        i, k = r.randrange(n), r.choice((1, 2, 4, 8, 64, 512))
        b[i:i + k] = r.randbytes(min(k, n - i))
        return bytes(b), f"run {k} at {i}"
    if kind == "truncate":
        k = r.randrange(n)
        return bytes(b[:k]), f"truncate to {k}"
    if kind == "zero":
        i, k = r.randrange(n), r.choice((8, 64, 512, 4096))
        b[i:i + k] = bytes(min(k, n - i))
        return bytes(b), f"zero {k} at {i}"
    # field: a 1, 2, 4 or 8-byte little- or big-endian integer set to an extreme value
    width = r.choice((1, 2, 4, 8))
    i = r.randrange(max(1, min(n, 4096) - width))
    value = r.choice((0, 1, 2**(8 * width) - 1, 2**(8 * width - 1), 2**(8 * width - 1) - 1,
                      r.randrange(2**(8 * width))))
    b[i:i + width] = value.to_bytes(width, r.choice(("little", "big")))
    return bytes(b), f"field {width}B at {i} = {value}"


# -- what a child does with a mutant ----------------------------------------
def read_container(path, scratch):
    from msft_cli import info, load
    from msft_cli.phase import reconstruct

    str(info(path))
    with load(path) as c:
        c.crop(0.05, 0.1)
        c.image()
        coefficients = c.to_coefficients()
        if c.store == "complex":
            coefficients.transform.inverse(coefficients)
        else:
            reconstruct(coefficients, iterations=2)


def read_audio(path, scratch):
    from msft_cli import analyze

    analyze(path, Path(scratch) / "out.h5", threads=1)


TARGETS = {"container": read_container, "audio": read_audio}


def _child(target, path, scratch, memory_mib, wfd):
    resource.setrlimit(resource.RLIMIT_AS, (memory_mib << 20, memory_mib << 20))
    from msft_cli.errors import MsftError

    try:
        TARGETS[target](path, scratch)
        result = {"outcome": "ok"}
    except MsftError as exc:
        msg = str(exc)
        result = {"outcome": "MsftError", "message": msg,
                  "one_line": "\n" not in msg}
    except BaseException as exc:  # noqa: BLE001 -- what the fuzzer is looking for
        result = {"outcome": "other", "type": type(exc).__name__, "message": str(exc)[:300],
                  "trace": traceback.format_exc()[-1500:]}
    os.write(wfd, json.dumps(result).encode())
    os._exit(0)


def run_case(target, data, name, scratch, timeout, memory_mib):
    """Read one mutant in a forked child: the result dict, with ``peak_mib``."""
    path = Path(scratch) / name
    path.write_bytes(data)
    rfd, wfd = os.pipe()
    began = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(rfd)
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            quiet = os.open(os.devnull, os.O_WRONLY)  # decoders' own complaints
            os.dup2(quiet, 2)
            _child(target, str(path), scratch, memory_mib, wfd)
        finally:
            os._exit(70)
    os.close(wfd)
    chunks, status, usage = [], None, None
    deadline = began + timeout
    os.set_blocking(rfd, False)
    while True:
        try:
            part = os.read(rfd, 65536)
            if part:
                chunks.append(part)
        except BlockingIOError:
            pass
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            os.close(rfd)
            return {"outcome": "timeout", "seconds": time.monotonic() - began,
                    "peak_mib": usage.ru_maxrss / 1024}
        time.sleep(0.002)
    while True:
        try:
            part = os.read(rfd, 65536)
        except BlockingIOError:
            break
        if not part:
            break
        chunks.append(part)
    os.close(rfd)
    seconds = time.monotonic() - began
    if os.WIFSIGNALED(status):
        result = {"outcome": "crash", "signal": signal.Signals(os.WTERMSIG(status)).name}
    elif chunks:
        result = json.loads(b"".join(chunks))
    else:
        result = {"outcome": "crash", "signal": f"exit {os.WEXITSTATUS(status)}"}
    result["seconds"] = seconds
    result["peak_mib"] = usage.ru_maxrss / 1024
    return result


def fuzz(target, count, seed=0, timeout=10.0, memory_mib=2048, progress=None):
    """Fuzz one target with ``count`` mutants: a list of ``(base, seed, description, result)``."""
    with tempfile.TemporaryDirectory(prefix="msft-fuzz-") as scratch:
        bases = (container_bases if target == "container" else audio_bases)(scratch)
        names = sorted(bases)
        results = []
        for i in range(count):
            s = seed * 10**9 + i
            name = names[i % len(names)]
            data, what = mutant(bases[name], s)
            result = run_case(target, data, "m-" + name, scratch, timeout, memory_mib)
            results.append((name, s, what, result))
            for leftover in Path(scratch).glob("out.h5*"):
                leftover.unlink()
            for leftover in Path(scratch).glob(".out.h5*"):
                leftover.unlink()
            if progress is not None:
                progress(i + 1, count)
    return results


def table(target, results):
    """Markdown rows of a target's outcomes."""
    n = len(results)
    outcomes = Counter(r["outcome"] for *_, r in results)
    multi = sum(1 for *_, r in results if r["outcome"] == "MsftError" and not r["one_line"])
    peak = max((r["peak_mib"] for *_, r in results), default=0)
    slowest = max((r["seconds"] for *_, r in results), default=0)
    return (f"| {target} | {n} | {outcomes['ok']} | {outcomes['MsftError']} "
            f"({multi} multi-line) | {outcomes['other']} | {outcomes['timeout']} | "
            f"{outcomes['crash']} | {slowest:.1f} s | {peak:.0f} MiB |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=1000, help="mutants per kind")
    p.add_argument("--kind", choices=("both", "container", "audio"), default="both")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per mutant")
    p.add_argument("--memory", type=int, default=2048, help="RLIMIT_AS per mutant, MiB")
    p.add_argument("--json", help="write the bugs found (other/timeout/crash) here")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    kinds = ("container", "audio") if args.kind == "both" else (args.kind,)
    import msft_cli  # noqa: F401 -- imported once, before the forks
    import msft_cli.convert  # noqa: F401
    import msft_cli.io.container.info  # noqa: F401
    import msft_cli.phase  # noqa: F401

    rows, bugs, all_results = [], [], []
    began = time.time()
    for kind in kinds:
        t0 = time.time()

        def progress(i, n, kind=kind, t0=t0):
            if i % 500 == 0 or i == n:
                print(f"  {kind}: {i}/{n} ({time.time() - t0:.0f} s)", file=sys.stderr,
                      flush=True)

        results = fuzz(kind, args.count, args.seed, args.timeout, args.memory, progress)
        rows.append(table(kind, results))
        all_results.append(results)
        for name, s, what, r in results:
            if r["outcome"] in ("other", "timeout", "crash") or (
                    r["outcome"] == "MsftError" and not r["one_line"]):
                bugs.append({"kind": kind, "base": name, "seed": s, "mutation": what, **r})
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import cpu_model

    print(f"fuzz: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu_model()}, "
          f"seed {args.seed}, timeout {args.timeout:g} s, RLIMIT_AS {args.memory} MiB, "
          f"{time.time() - began:.0f} s in all")
    print("| target | mutants | ok | MsftError | other exception | timeout | crash | "
          "slowest | peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(row)
    for kind, results in zip(kinds, all_results):
        for name, s, what, r in sorted(results, key=lambda x: -x[3]["peak_mib"])[:3]:
            print(f"- largest peaks: {kind} {name} seed {s} ({what}): {r['outcome']}, "
                  f"{r['peak_mib']:.0f} MiB, {r['seconds']:.1f} s")
    for bug in bugs[:40]:
        print(f"- {bug['kind']} {bug['base']} seed {bug['seed']} ({bug['mutation']}): "
              f"{bug['outcome']} {bug.get('type', bug.get('signal', ''))} "
              f"{bug.get('message', '')[:160]!r}")
    if args.json:
        Path(args.json).write_text(json.dumps(bugs, indent=1))
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
