"""Benchmark of ``msft view``'s server on a 60-minute container: tile latency, peak RSS.

Target (issue 18): any tile at any zoom in under 100 ms, with the server's
memory bounded.

The container (60 minutes, stereo, 44.1 kHz, default transform: 10 octaves x
12 bins, complex64) is made once from the sample clips tiled to length and kept
under ``build/bench/``; making it is not what is measured. The server then runs
as a user runs it, ``python -m msft_cli view IN.h5 --no-browser``, in its own
process; this script reads the URL it prints and, once its overview is built
(the time is reported), requests tiles at five zoom levels, from the finest
(``z = 0``: one top-octave frame, 0.36 ms, per column) to the whole file in one
tile, ``--tiles`` of them at random positions per level, over HTTP on
127.0.0.1, timing each request from the client (first byte sent to last byte
read). Then a 10 s stretch of audio: time to the first byte and to the end.
The server's peak RSS is its ``VmHWM`` read from /proc at the end.

The file is in the page cache (it was just written or read), as on a
workstation that has just opened it.

Usage::

    python bench/view.py [--minutes 60] [--tiles 40] [--markdown OUT.md]

Exit status 0 when every tile took under 100 ms.
"""

import argparse
import datetime
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from render import make_container  # noqa: E402 - bench/render.py's 60-minute container

SR = 44100
TARGET_MS = 100.0


def fetch(url):
    """Seconds to the first byte and to the end, and the body."""
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        first = r.read(1)
        ttfb = time.perf_counter() - began
        body = first + r.read()
    return ttfb, time.perf_counter() - began, body


def peak_rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.MULTILINE)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--tiles", type=int, default=40, help="tiles per zoom level")
    ap.add_argument("--container", type=Path,
                    default=ROOT / "build" / "bench" / "view_60min_stereo.h5")
    ap.add_argument("--markdown", type=Path, help="also write the table here")
    opts = ap.parse_args()

    if opts.container.name == "view_60min_stereo.h5" and opts.minutes != 60:
        opts.container = opts.container.with_name(f"view_{opts.minutes:g}min_stereo.h5")
    make_container(opts.container, opts.minutes)
    size = opts.container.stat().st_size

    proc = subprocess.Popen([sys.executable, "-m", "msft_cli", "view", str(opts.container),
                             "--no-browser"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = None
        for line in proc.stdout:
            m = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
            if m:
                base, token = m.groups()
                url = base
                break
        if url is None:
            sys.exit("the server printed no URL")
        began = time.perf_counter()
        while True:
            meta = json.loads(fetch(f"{base}/api/files?token={token}")[2])["files"][0]
            if meta["overview_ready"]:
                break
            time.sleep(0.2)
        waited = time.perf_counter() - began
        rss_overview = peak_rss(proc.pid)
        top = meta["max_zoom"]
        zooms = sorted({0, round(top / 4), round(top / 2), round(3 * top / 4), top})
        rng = np.random.default_rng(0)
        rows = []
        for z in zooms:
            width = meta["columns"] * meta["top_hop"] << z
            count = -(-meta["n_samples"] // width)
            xs = rng.integers(0, count, min(opts.tiles, count)) if count > 1 else [0] * 5
            ms = []
            for x in xs:
                _, total, body = fetch(f"{base}/api/tile?token={token}&file=0&z={z}&x={x}"
                                       "&channel=mix")
                assert len(body) == 4 * meta["columns"] * len(meta["frequencies"])
                ms.append(1e3 * total)
            per_col = width / meta["columns"] / SR
            rows.append((z, per_col, count, len(ms), statistics.median(ms), max(ms)))
        mid = meta["duration"] / 2
        ttfb, total, body = fetch(f"{base}/api/audio?token={token}&file=0&start={mid}"
                                  f"&end={mid + 10}&format=pcm16")
        assert len(body) == 44 + 10 * SR * 2 * 2
        rss = peak_rss(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()

    def span(s):
        return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"

    lines = [
        f"msft view server, {opts.minutes:g}-minute stereo 44.1 kHz container "
        f"({size / 2**30:.2f} GiB, {meta['n_octaves']} octaves x {meta['bins_per_octave']} bins, "
        f"complex64); {datetime.date.today()}, {cpu_model()}, {os.cpu_count()} cores",
        "",
        f"overview built in {meta['overview_seconds']:.1f} s "
        f"({meta['overview_bytes'] / 2**20:.0f} MiB of temporary files; "
        f"ready {waited:.1f} s after the URL was printed)",
        "",
        "| zoom | one column | tiles at this zoom | requests | median | slowest |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for z, per_col, count, n, med, worst in rows:
        lines.append(f"| {z} | {span(per_col)} | {count} | {n} | {med:.1f} ms | {worst:.1f} ms |")
    lines += ["",
              f"10 s of audio (stereo, 16-bit) from the middle: first byte {ttfb * 1e3:.0f} ms, "
              f"all {total * 1e3:.0f} ms",
              f"server peak RSS: {rss / 2**20:.0f} MiB ({rss_overview / 2**20:.0f} MiB once the "
              "overview was built)"]
    text = "\n".join(lines)
    print(text)
    if opts.markdown:
        opts.markdown.parent.mkdir(parents=True, exist_ok=True)
        opts.markdown.write_text(text + "\n")
    worst = max(r[5] for r in rows)
    sys.exit(0 if worst < TARGET_MS else 1)


if __name__ == "__main__":
    main()
