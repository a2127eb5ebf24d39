"""Real corpora: container sizes and round trips per store, decoding speed of compressed
formats, and resampling an hour-long file. Prints markdown tables (docs/benchmarks-corpora.md).

    python bench/corpora.py                 # stores and formats (a few minutes)
    python bench/corpora.py --hour          # and the 60-minute stereo file (several more)

Every analysis runs with msft's defaults (12 bins per octave from 20.6 Hz, the
default threads and planner). Sizes and SNRs are of the four sample clips
(sample_audio/*.wav, 8-15 s each); decoding and the realtime factors are of the
clips joined into 60 s of stereo audio at 44.1 kHz, written with soundfile in each
format. The hour-long runs are commands (``python -m msft_cli analyze``) measured
from outside: wall time with start-up, and peak RSS from ``os.wait4``.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SAMPLES,
    cpu_model,
    loadavg,
    markdown_table,
    run_command,
    snr_db,
)

from msft_cli import analyze, load, resynth  # noqa: E402
from msft_cli.io.audio import AudioSource  # noqa: E402

STORES = [("complex", "complex128"), ("complex", "complex64"), ("complex", "complex32"),
          ("magnitude", "float32"), ("magnitude", "float16")]
#: name, extension, soundfile subtype
FORMATS = [("WAV (PCM 16)", "wav", "PCM_16"), ("FLAC", "flac", "PCM_16"),
           ("OGG Vorbis", "ogg", "VORBIS"), ("MP3", "mp3", "MPEG_LAYER_III")]


def fmt_mib(nbytes):
    return f"{nbytes / 2**20:.1f} MiB"


def clips():
    return sorted(p for p in SAMPLES.glob("*.wav"))


def stores_table(tmp):
    """Size on disk and round trip of each store, per clip and in all."""
    rows, totals = [], {}
    for store, dtype in STORES:
        size = signal = error = 0.0
        convergence = []
        for clip in clips():
            out = tmp / f"{clip.stem}-{dtype}.h5"
            analyze(clip, out, store=store, dtype=dtype)
            size += out.stat().st_size
            x, _ = sf.read(str(clip), always_2d=True)
            if store == "complex":
                with load(out) as c:
                    y = c.to_audio().T
                signal += float(np.sum(x * x))
                error += float(np.sum((x - y) ** 2))
            else:
                r = resynth(out, tmp / f"{clip.stem}-{dtype}.wav")
                convergence.append(r.extra["spectral_convergence_db"])
            out.unlink()
        totals[dtype] = size
        rows.append((store, dtype, size, 10 * np.log10(signal / error) if error else None,
                     np.mean(convergence) if convergence else None))
    base = totals["complex64"]
    return markdown_table(
        ["store", "dtype", "size of the 4 clips", "vs complex64", "round-trip SNR",
         "phase reconstruction (spectral convergence, mean)"],
        [[s, f"`{d}`", fmt_mib(size), f"{size / base:.2f}x",
          f"{snr:.1f} dB" if snr is not None else "-",
          f"{sc:.1f} dB" if sc is not None else "-"]
         for s, d, size, snr, sc in rows])


def minute_of_clips(seconds=60.0):
    """The sample clips joined (stereo, 44.1 kHz) and repeated to ``seconds``."""
    parts = []
    for clip in clips():
        x, sr = sf.read(str(clip), always_2d=True)
        assert sr == 44100
        parts.append(x if x.shape[1] == 2 else np.repeat(x, 2, axis=1))
    y = np.concatenate(parts)
    n = int(seconds * 44100)
    return np.resize(y.T, (2, n)).T  # repeats whole


def decode_seconds(path, repeats=3):
    """Best wall time of reading the whole file through msft's reader, in blocks."""
    best = np.inf
    for _ in range(repeats):
        began = time.perf_counter()
        with AudioSource(path) as src:
            for a in range(0, src.n_samples, 1 << 18):
                src.read(a, min(a + (1 << 18), src.n_samples))
        best = min(best, time.perf_counter() - began)
    return best


def formats_table(tmp):
    y = minute_of_clips()
    duration = len(y) / 44100
    rows = []
    for name, ext, subtype in FORMATS:
        path = tmp / f"minute.{ext}"
        with sf.SoundFile(str(path), "w", 44100, 2, subtype) as f:
            for a in range(0, len(y), 1 << 15):  # libsndfile 1.2's Vorbis encoder
                f.write(y[a:a + (1 << 15)])       # overflows its stack on one long write
        dec = decode_seconds(path)
        analyze(path, tmp / "warm.h5")  # plans and wisdom made once, as in a batch
        times = []
        for _ in range(2):
            times.append(analyze(path, tmp / "minute.h5").seconds)
        best = min(times)
        rows.append([name, fmt_mib(path.stat().st_size), f"{dec:.2f} s",
                     f"{duration / dec:.0f}x", f"{best:.2f} s", f"{duration / best:.0f}x"])
    return markdown_table(
        ["format", "60 s stereo file", "decoding (msft's reader)", "decoding realtime",
         "analyze (library, best of 2)", "analyze realtime"], rows)


def hour_table(tmp, minutes=60):
    """``msft analyze`` of a 60-minute stereo file, with and without --sr 22050."""
    path = tmp / "hour.wav"
    block = minute_of_clips()
    with sf.SoundFile(str(path), "w", 44100, 2, "PCM_16") as f:
        for _ in range(minutes):
            f.write(block)
    rows = []
    cmd = [sys.executable, "-m", "msft_cli", "analyze", str(path), "-q", "-o"]
    for label, extra in (("analyze", []), ("analyze --sr 22050", ["--sr", "22050"]),
                         ("analyze --sr 22050 --mono", ["--sr", "22050", "--mono"])):
        out = tmp / "hour.h5"
        res = run_command(cmd + [str(out)] + extra)
        with load(out) as c:
            sr = c.sr
        rows.append([f"`{label}`", f"{sr}", f"{res['seconds']:.1f} s",
                     f"{minutes * 60 / res['seconds']:.0f}x", fmt_mib(res["peak_rss"]),
                     fmt_mib(out.stat().st_size)])
        out.unlink()
    return markdown_table(["command", "container rate", "wall time", "realtime",
                           "peak RSS", "container"], rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hour", action="store_true", help="also the 60-minute stereo file")
    ap.add_argument("--only-hour", action="store_true", help="only the 60-minute file")
    ap.add_argument("--no-stores", action="store_true",
                    help="leave out the stores (their phase reconstructions take minutes)")
    args = ap.parse_args()
    print(f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"- CPU: {cpu_model()}; load average at start {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="msft-bench-corpora-") as tmp:
        tmp = Path(tmp)
        if not (args.only_hour or args.no_stores):
            print("\n### Stores: size and round trip (the 4 sample clips)\n")
            print("\n".join(stores_table(tmp)), flush=True)
        if not args.only_hour:
            print("\n### Formats: decoding and analysis of 60 s of stereo audio\n")
            print("\n".join(formats_table(tmp)), flush=True)
        if args.hour or args.only_hour:
            print("\n### A 60-minute stereo file at 44.1 kHz (PCM 16)\n")
            print("\n".join(hour_table(tmp)), flush=True)
    print(f"\n- load average at end {loadavg()}")


if __name__ == "__main__":
    main()
