"""Benchmark of the training loader (issue 8): random 2 s crops per second.

Data: the four clips of ``sample_audio/`` tiled to ``--minutes`` each (16-bit
WAV, their own channel counts) and their containers at the default transform
parameters (44.1 kHz, 10 octaves from 20.6 Hz, complex64), made once under
``build/bench/dataset/`` (making them is not measured).

Every row reads the same random crops (``CropDataset.locate`` with one seed):
2.04 s (11 frames of the lowest octave), one channel per item
(``channels="each"``), in batches of 32, with ``--workers`` worker processes
(as ``iter_batches`` runs them: fork, batches through shared memory) or in
this process, and through PyTorch's ``DataLoader`` if torch is installed.
Rates are steady-state: each worker's first batch (opening files, planning
FFTs) is left out. The consumer reads every memory page of each batch (as
training would), which is where batches mapped from shared memory cost.

Rows:

* containers: ``CropDataset`` with each encoding and layout;
* on the fly, exact: decode the crop's audio plus the transform's margin on
  each side (13 s at the defaults) and transform it with ``MSFT.forward`` (one
  FFTW thread per worker): the same coefficients as the container's;
* on the fly, periodic excerpt: transform the 2 s excerpt alone in
  ``mode="periodic"``: cheap, but its edges wrap around (not the container's
  coefficients within a filter length of the crop's edges);
* librosa's ``cqt`` of the excerpt (84 bins from C1, hop 512), if librosa is installed.

The GPU figure: a training step at batch 32 of a mid-size CNN (a ResNet-18-sized
2-D network on inputs of this size) takes about 50-100 ms on one modern GPU
(an A100 or RTX 4090 class card, mixed precision): it consumes 320-640 crops/s.

Usage::

    python bench/dataset.py [--minutes 1] [--crops 960] [--workers 2]
"""

import argparse
import itertools
import multiprocessing
import os
import resource
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import cpu_model, loadavg  # noqa: E402
from msft_cli import MSFT, analyze, load  # noqa: E402
from msft_cli.dataset import CropDataset, Encoding, _from_shared, _init_worker, _load_batch, collate  # noqa: E402
from msft_cli.io.audio import AudioSource, AudioWriter, read  # noqa: E402

WORK = ROOT / "build" / "bench" / "dataset"
SR = 44100
SECONDS = 2.0
BATCH = 32
GPU_NEED = (320, 640)  # crops/s for a 50-100 ms step at batch 32


def make_folder(minutes):
    """The sample clips tiled to ``minutes`` (WAV) and their containers; reused when present."""
    audio, boxes = WORK / "audio", WORK / "containers"
    audio.mkdir(parents=True, exist_ok=True)
    boxes.mkdir(parents=True, exist_ok=True)
    n = int(minutes * 60 * SR)
    for clip in sorted((ROOT / "sample_audio").glob("*.wav")):
        wav, box = audio / clip.name, boxes / (clip.stem + ".h5")
        try:
            with load(box) as c:
                if c.n_samples == n:
                    continue
        except Exception:  # noqa: BLE001 - missing or stale: made again
            pass
        y, sr = read(clip)
        with AudioWriter(wav, sr, y.shape[0], "PCM_16") as w:
            for start in range(0, n, y.shape[1]):
                w.write(y[:, :min(y.shape[1], n - start)])
        began = time.perf_counter()
        analyze(wav, box)
        print(f"made {box.name}: {minutes:g} min, {y.shape[0]} ch, in "
              f"{time.perf_counter() - began:.1f} s", flush=True)
    return audio, boxes


class OnTheFly:
    """The dataset's crops computed from the audio files instead of read from containers.

    Picks the same (file, frame, channel) as ``data`` and returns the same
    ``"octaves"`` (real/imaginary planes) in the same shapes.
    """

    def __init__(self, data, audio, how):
        self.data, self.how = data, how
        self.wavs = [audio / (p.stem + ".wav") for p in data.paths]
        self._t = None

    def __len__(self):
        return len(self.data)

    def _transform(self):
        if self._t is None:
            mode = "periodic" if self.how == "periodic" else "zero"
            self._t = MSFT(SR, mode=mode, threads=1)
        return self._t

    def __getitem__(self, i):
        file, frame, channel = self.data.locate(i)
        start, n = frame * self.data.grid_hop, self.data.crop_samples
        if self.how == "librosa":
            import librosa
            with AudioSource(self.wavs[file]) as src:
                y = src.read(start, start + n)[channel]
            c = librosa.cqt(y, sr=SR, hop_length=512, n_bins=84, bins_per_octave=12)
            return {"cqt": np.stack([c.real, c.imag]).astype(np.float32)}
        t = self._transform()
        margin = 0 if self.how == "periodic" else t.margin
        with AudioSource(self.wavs[file]) as src:
            y = src.read(start - margin, start + n + margin)[channel:channel + 1]
        c = t.forward(y, dtype="complex64")
        octaves = []
        for j in range(t.n_octaves):  # the crop's frames: global margin / hop onwards
            lo = margin // t.hops[j] - c.firsts[j + 1]
            octaves.append(c.groups[j + 1][:, :, lo:lo + self.data.crop_frames * 2**j])
        planes, _ = Encoding("realimag").encode(octaves, t)
        return {"octaves": planes}


def touch(batch):
    """Read one value per memory page of every array, as a consumer that uses the batch
    would (a batch mapped from shared memory costs page faults when first read)."""
    total = 0.0
    for value in batch.values():
        for a in value if isinstance(value, list) else [value]:
            a = np.asarray(a)
            if a.dtype.kind in "fc":
                total += float(np.abs(a.reshape(-1)[::512]).sum())
    return total


def _task(task):
    """A batch read in a worker (written to /dev/shm as ``iter_batches`` does), with the
    worker's pid and CPU time when it was done."""
    return _load_batch(task), os.getpid(), time.process_time()


def rate(dataset, crops, workers, batch=BATCH):
    """Steady-state wall-clock crops/s and CPU seconds per crop (all processes).

    Batches travel as ``iter_batches`` sends them (shared memory, two per worker
    ahead). Each worker's first batch is left out (it opens files, plans FFTs):
    wall time runs from the moment every worker has delivered one batch, CPU time
    is each worker's own after its first batch plus this process's (which maps
    the batches) over the same window.
    """
    batches = [list(range(i, min(i + batch, crops))) for i in range(0, crops, batch)]
    if workers == 0:
        dataset[batches[0][0]]  # warm: open, plan
        wall, cpu = time.perf_counter(), time.process_time()
        for b in batches:
            touch(collate([dataset[i] for i in b]))
        return crops / (time.perf_counter() - wall), (time.process_time() - cpu) / crops
    ctx = multiprocessing.get_context("fork")
    prefix = f"msft-bench-{os.getpid()}"
    first, last, counted = {}, {}, 0
    began = cpu_began = None
    with ctx.Pool(workers, initializer=_init_worker, initargs=(dataset,)) as pool:
        todo = iter(batches)
        pending = deque(pool.apply_async(_task, ((b, prefix),)) for b in
                        itertools.islice(todo, 2 * workers))
        sizes = deque(len(b) for b in batches)
        while pending:
            message, pid, cpu = pending.popleft().get()
            for b in itertools.islice(todo, 1):
                pending.append(pool.apply_async(_task, ((b, prefix),)))
            touch(_from_shared(message))
            n = sizes.popleft()
            if pid not in first:
                first[pid] = cpu
            else:
                last[pid] = cpu
            if began is not None:
                counted += n
            elif len(first) == workers:
                began, cpu_began = time.perf_counter(), time.process_time()
        wall = time.perf_counter() - began
        mine = time.process_time() - cpu_began
    work = sum(last[p] - first[p] for p in last)
    return counted / wall, (work + mine) / counted


def rate_torch(dataset, crops, workers, batch=BATCH):
    """The same through PyTorch's DataLoader (wall after its first batches; CPU of
    everything, workers' start-up included)."""
    import torch.utils.data

    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, range(crops)),
                                         batch_size=batch, num_workers=workers)
    cpu = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    counted, began = 0, None
    for k, out in enumerate(loader):
        touch(out)  # np.asarray reads a CPU tensor in place
        if k == workers:
            began = time.perf_counter()
        elif k > workers:
            counted += len(out["file"])
    wall = time.perf_counter() - began
    del loader, out
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    kids = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return counted / wall, (kids + time.process_time() - cpu[1]) / crops


def check_same(data, fly, items=2):
    """The exact on-the-fly crops equal the container's (to float32 rounding)."""
    worst = 0.0
    for i in range(items):
        a, b = data[i]["octaves"], fly[i]["octaves"]
        worst = max(worst, max(float(np.abs(x - y).max() / max(np.abs(x).max(), 1e-12))
                               for x, y in zip(a, b)))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=1.0, help="length of each file")
    ap.add_argument("--crops", type=int, default=960, help="crops per container row")
    ap.add_argument("--fly-crops", type=int, default=48, help="crops per on-the-fly row")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    audio, boxes = make_folder(args.minutes)
    size = sum(p.stat().st_size for p in boxes.glob("*.h5"))
    cores = os.cpu_count()
    print(f"\n- machine: {cores} cores, {cpu_model()}; load average before: {loadavg()}")
    print(f"- data: {len(list(boxes.glob('*.h5')))} containers of {args.minutes:g} min "
          f"({size / 2**20:.0f} MiB, complex64, default parameters); random crops of "
          f"{SECONDS:g} s (2.043 s), one channel each, batches of {BATCH} "
          f"(4 on the fly), {args.workers} worker processes (fork)\n")
    rows = []

    def data(**kw):
        return CropDataset(boxes, seconds=SECONDS, channels="each", seed=0,
                           n_crops=max(args.crops, args.fly_crops), **kw)

    def add(source, what, mb, workers, r):
        rows.append((source, what, mb, workers, r))
        print(f"  {source}: {what}, {workers} workers: {r[0]:.1f} crops/s, "
              f"{1e3 * r[1]:.1f} ms CPU per crop", flush=True)

    cases = [
        ("realimag, octaves", {}, "1.1 MB"),
        ("complex, octaves", {"encoding": "complex"}, "1.1 MB"),
        ("db, octaves", {"encoding": "db"}, "0.5 MB"),
        ("ifreq, octaves", {"encoding": "ifreq"}, "1.1 MB"),
        ("realimag, image on the finest grid (16 samples)", {"layout": "image"}, "5.4 MB"),
        ("db, image on a grid of 128 samples",
         {"encoding": "db", "layout": "image", "image_hop": 128}, "0.3 MB"),
    ]
    for what, kw, mb in cases:
        d = data(**kw)
        for workers in sorted({0, args.workers}):
            add("containers", what, mb, workers, rate(d, args.crops, workers))
    try:
        import torch  # noqa: F401
        for what, kw, mb in (cases[0], cases[-1]):
            add("containers, torch DataLoader", what, mb, args.workers,
                rate_torch(data(**kw), args.crops, args.workers))
    except ImportError:
        print("  torch DataLoader: skipped, torch is not installed")
    base = data()
    err = check_same(base, OnTheFly(base, audio, "exact"))
    for how, what in (("exact", "msft forward, zero mode, the crop +-13 s (the same "
                               f"coefficients: max relative difference {err:.0e})"),
                      ("periodic", "msft forward, periodic mode, the 2 s excerpt alone "
                                   "(edges wrap around: other coefficients)")):
        add("audio on the fly", what, "1.1 MB", args.workers,
            rate(OnTheFly(base, audio, how), args.fly_crops, args.workers, batch=4))
    try:
        import librosa  # noqa: F401
        add("audio on the fly", "librosa.cqt of the excerpt (84 bins, hop 512)", "-",
            args.workers, rate(OnTheFly(base, audio, "librosa"), args.fly_crops,
                               args.workers, batch=4))
    except ImportError:
        rows.append(("audio on the fly", "librosa.cqt: skipped, librosa is not installed "
                     "(optional: pip install librosa)", "-", args.workers, None))
    exact = next(r for s, w, _, _, r in rows if w.startswith("msft forward, zero"))
    print(f"\n- load average after: {loadavg()}. wall: crops/s measured under that load; "
          f"CPU: CPU time per crop of every process (workers and the consumer), steady "
          f"state; {cores} idle cores: {cores} / CPU per crop (in one process: 1 / CPU)\n")
    print(f"| source | what | per crop | workers | wall crops/s | CPU ms/crop | {cores} idle "
          f"cores, crops/s | vs exact on the fly | vs GPU need ({GPU_NEED[0]}-{GPU_NEED[1]}"
          "/s) |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for source, what, mb, workers, r in rows:
        if r is None:
            print(f"| {source} | {what} | {mb} | {workers} | - | - | - | - | - |")
            continue
        wall, cpu = r
        ideal = min(cores, max(workers, 1)) / cpu
        print(f"| {source} | {what} | {mb} | {workers} | {wall:.1f} | {1e3 * cpu:.1f} | "
              f"{ideal:.0f} | {exact[1] / cpu:.0f}x | {ideal / GPU_NEED[1]:.2f}-"
              f"{ideal / GPU_NEED[0]:.2f}x |")
    print(f"\nGPU need: a batch-32 step of a mid-size CNN takes ~50-100 ms on one modern GPU, "
          f"so {GPU_NEED[0]}-{GPU_NEED[1]} crops/s (an assumption, not measured here).")


if __name__ == "__main__":
    main()
