"""Train a small CNN on msft crops with PyTorch's DataLoader and 2 worker processes.

torch is not a dependency of msft: install it to run this (``pip install torch``).
The dataset never imports torch; it is an ordinary indexable object whose items
are dicts of numpy arrays, which the DataLoader's default collate turns into
tensors. Each worker opens the containers itself on first use.

Usage::

    python examples/torch_dataloader.py [CONTAINER_FOLDER]

Without a folder, the clips of ``sample_audio/`` are analysed into a temporary
folder first (a few seconds per clip). The script times the loader alone,
runs two short epochs of a tiny model that predicts the clip a crop comes from
(on the CPU: slow, the model is the cost), then turns one crop, and a model's
"output" in the same encoding, back into audio.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

import msft_cli
from msft_cli.dataset import CropDataset

ROOT = Path(__file__).resolve().parent.parent


def containers(folder=None):
    """A folder of containers: the one given, or the sample clips analysed."""
    if folder is not None:
        return Path(folder)
    out = Path(tempfile.mkdtemp(prefix="msft-crops-"))
    for clip in sorted((ROOT / "sample_audio").glob("*.wav")):
        msft_cli.analyze(clip, out / (clip.stem + ".h5"))
    return out


class Net(nn.Module):
    """A few convolutions over the (planes, 120 bins, cells) image, pooled to classes."""

    def __init__(self, planes, classes):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(planes, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d((1, 4)),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        return self.head(self.body(x).flatten(1))


def main():
    folder = containers(sys.argv[1] if len(sys.argv) > 1 else None)
    # 2 s crops, one channel per item, dB magnitudes floored at -100 dB, on a grid
    # of 128 samples (2.9 ms): one (1, 120, 704) image per crop at the defaults
    data = CropDataset(folder, seconds=2.0, channels="each", encoding="db",
                       layout="image", image_hop=128, n_crops=128, seed=0,
                       short="skip")
    print(data)
    loader = DataLoader(data, batch_size=32, shuffle=False, num_workers=2,
                        persistent_workers=False)
    began = time.perf_counter()
    n = sum(len(batch["image"]) for batch in loader)  # the loader alone
    print(f"loader alone: {n} crops in {time.perf_counter() - began:.1f} s "
          f"(2 workers, including their start)")
    model = Net(data.shapes[0], len(data.paths))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(2):
        data.set_epoch(epoch)  # new random crops; workers are made again per epoch
        began, seen, total = time.perf_counter(), 0, 0.0
        for batch in loader:
            x = (batch["image"] + 100.0) / 100.0  # dBFS -> about 0..1
            loss = nn.functional.cross_entropy(model(x), batch["file"])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            seen += len(x)
            total += loss.item() * len(x)
        print(f"epoch {epoch}: {seen} crops in {time.perf_counter() - began:.1f} s "
              f"(training on the CPU), loss {total / seen:.3f}")

    # back to audio: a crop in an exact encoding, through the inverse transform
    exact = CropDataset(folder, seconds=2.0, channels="mix", encoding="realimag",
                        residuals=True, short="skip", seed=0)
    sample = exact[0]
    audio = exact.to_audio(sample)  # (1, crop_samples): exact away from the crop's edges
    with msft_cli.load(exact.paths[sample["file"]]) as box:
        start = sample["frame"] * exact.grid_hop
        reference = box.to_audio()[:, start:start + exact.crop_samples].mean(axis=0)
    mid = slice(exact.crop_samples // 4, 3 * exact.crop_samples // 4)
    err = np.linalg.norm(reference[mid] - audio[0, mid]) / np.linalg.norm(reference[mid])
    print(f"crop {sample['start']:.2f} s of {exact.paths[sample['file']].name}: "
          f"middle half within {20 * np.log10(err):.0f} dB of the container's audio")
    # a model output in the same encoding (here: the input, 6 dB quieter) is saved as
    # a container of the crop's length: `msft resynth` and `msft render` read it
    output = {"octaves": [0.5 * planes for planes in sample["octaves"]],
              "lowpass": 0.5 * sample["lowpass"], "highpass": 0.5 * sample["highpass"]}
    path = Path(tempfile.mkdtemp(prefix="msft-output-")) / "model_output.h5"
    msft_cli.save(exact.to_coefficients(output), path)
    print(f"wrote {path}: msft resynth {path} -o out.wav")


if __name__ == "__main__":
    main()
