"""One training loop, two ways: features from stored containers, or audio transformed on the fly.

Needs the torch extra. The model (a few convolutions per octave, pooled, then a
linear layer) learns which clip of ``sample_audio/`` a crop comes from, from
the crop's log-magnitude octaves. The same loop runs:

1. stored: the clips analysed once into complex64 containers, crops read by
   :class:`msft_cli.dataset.CropDataset` (``encoding="complex"``) and turned into
   tensors by :func:`msft_cli.torch.crop_to_tensors`;
2. on the fly: the WAV files read by :class:`msft_cli.torch.AudioCrops`, each
   batch transformed by :class:`msft_cli.torch.MSFT` inside the training step
   (on the training device: ``--device cuda`` where there is one).

Usage::

    python examples/torch_training.py [--device cpu|cuda] [--batches 20]

It prints the crops per second of each way (loading, features, the model's
forward and backward and the optimizer step, all included).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import msft_cli
import msft_cli.io.audio
from msft_cli.dataset import CropDataset
from msft_cli.torch import MSFT, AudioCrops, crop_to_tensors

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 2.0


class OctaveNet(nn.Module):
    """Per octave: a 1-D convolution over time (bins as channels), averaged; then linear."""

    def __init__(self, bins, octaves, classes):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(bins, 16, 5, padding=2) for _ in range(octaves))
        self.head = nn.Linear(16 * octaves, classes)

    def forward(self, octaves):  # each (batch, bins, frames), log magnitudes
        pooled = [torch.relu(conv(o)).mean(-1) for conv, o in zip(self.convs, octaves)]
        return self.head(torch.cat(pooled, -1))


def log_magnitudes(octaves):
    return [torch.log(o.abs() + 1e-5) for o in octaves]


def train(model, batches, features, label, device, count):
    """``count`` steps over ``batches``; returns crops per second (whole steps, and the
    data and features alone) and the last loss."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    seen, began, loss, data_time = 0, time.perf_counter(), None, 0.0
    mark = time.perf_counter()
    for step, batch in enumerate(batches):
        if step == count:
            break
        x = features(batch)
        if device.type == "cuda":
            torch.cuda.synchronize()
        data_time += time.perf_counter() - mark
        y = label(batch).to(device)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y)
        if device.type == "cuda":
            torch.cuda.synchronize()
        mark = time.perf_counter()
    return seen / (time.perf_counter() - began), seen / data_time, float(loss.detach())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()
    device = torch.device(args.device)
    clips = sorted((ROOT / "sample_audio").glob("*.wav"))
    sr = msft_cli.io.audio.info(clips[0])["sr"]
    transform = msft_cli.MSFT(sr, mode="periodic")
    octaves, bins = transform.n_octaves, transform.bins_per_octave

    # 1. stored containers (made once here; a dataset would have them already)
    folder = Path(tempfile.mkdtemp(prefix="msft-train-"))
    for clip in clips:
        msft_cli.analyze(clip, folder / (clip.stem + ".h5"))
    stored = CropDataset(folder, seconds=SECONDS, encoding="complex", channels="mix",
                         n_crops=args.batch_size * args.batches, seed=0)
    loader = torch.utils.data.DataLoader(stored, batch_size=args.batch_size)

    def stored_features(batch):
        t = crop_to_tensors(batch, device)
        return log_magnitudes([o[:, 0] for o in t["octaves"]])  # (batch, bins, frames)

    model = OctaveNet(bins, octaves, len(clips)).to(device)
    rate, data_rate, loss = train(model, loader, stored_features, lambda b: b["file"], device,
                                  args.batches)
    print(f"stored containers: {rate:.1f} crops/s; reading and features alone "
          f"{data_rate:.1f} crops/s (loss {loss:.3f})")

    # 2. audio crops, transformed in the training step
    audio = AudioCrops(clips, seconds=SECONDS, channels="mix", seed=0,
                       n_crops=args.batch_size * args.batches)
    msft = MSFT(transform, device=device)
    files = {}

    def fly_features(x):
        return log_magnitudes([o[:, 0] for o in msft(x.to(device)).octaves])

    def fly_label(x):  # AudioCrops items are tensors: look the file up by index
        return files.pop(id(x))

    class Labelled(torch.utils.data.Dataset):
        def __len__(self):
            return len(audio)

        def __getitem__(self, i):
            return audio[i], audio.locate(i)[0]

    pairs = torch.utils.data.DataLoader(Labelled(), batch_size=args.batch_size)

    def batches():
        for x, y in pairs:
            files[id(x)] = y
            yield x

    model = OctaveNet(bins, octaves, len(clips)).to(device)
    rate, data_rate, loss = train(model, batches(), fly_features, fly_label, device,
                                  args.batches)
    print(f"on the fly ({device}): {rate:.1f} crops/s; decoding and transform alone "
          f"{data_rate:.1f} crops/s (loss {loss:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
