"""The demo behind ``make demo``: every sample clip through ``msft analyze`` and back.

Runs the real commands (start-up, decoding and HDF5 included) and prints one
table: duration, channels, analysis and resynthesis realtime factors, container
size and the round trip's SNR against the original.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf


def run(*args):
    """Run ``msft`` as a user would; return its output and wall time."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "msft_cli", *args], capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"msft {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout, time.perf_counter() - began


def main(source, build):
    source, build = Path(source), Path(build)
    build.mkdir(parents=True, exist_ok=True)
    clips = sorted(p for p in source.iterdir() if p.suffix.lower() in (".wav", ".flac"))
    if not clips:
        sys.exit(f"{source}: no clips (run `make samples`)")
    print(f"{'clip':<22} {'dur s':>6} {'ch':>3} {'analyze':>9} {'resynth':>9} "
          f"{'size MiB':>9} {'SNR dB':>8}")
    for clip in clips:
        box = build / f"{clip.stem}.h5"
        back = build / f"{clip.stem}.resynth.wav"
        info = sf.info(str(clip))
        _, t_an = run("analyze", str(clip), "-o", str(box), "--quiet")
        out, t_re = run("resynth", str(box), "-o", str(back), "--subtype", "FLOAT",
                        "--reference", str(clip), "--quiet")
        snr = re.search(r"SNR (\S+) dB", out).group(1)
        print(f"{clip.name:<22} {info.duration:>6.2f} {info.channels:>3} "
              f"{info.duration / t_an:>8.1f}x {info.duration / t_re:>8.1f}x "
              f"{box.stat().st_size / 2**20:>9.2f} {snr:>8}")
    print(f"\ncontainers and resynthesized audio are in {build}/ "
          "(realtime factors include start-up, decoding and file writing)")


if __name__ == "__main__":
    main(*(sys.argv[1:] or ["sample_audio", "build/demo"]))
