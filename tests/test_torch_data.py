"""msft_cli.torch.data: audio crops on the fly, repeatable; stored crops as tensors."""

import numpy as np
import pytest
import soundfile as sf
import torch

import msft_cli
from msft_cli import ParameterError
from msft_cli.dataset import CropDataset
from msft_cli.torch import MSFT, AudioCrops, crop_coefficients, crop_to_tensors


@pytest.fixture
def folder(tmp_path, rng):
    for name, n, ch in (("a.wav", 9000, 2), ("b.flac", 4000, 2), ("c.wav", 500, 2)):
        sf.write(tmp_path / name, rng.uniform(-0.5, 0.5, (n, ch)), 8000, subtype="PCM_16")
    return tmp_path


def test_random_crops_repeat_per_seed_and_epoch(folder):
    data = AudioCrops(folder, seconds=0.25, seed=3, short="skip")
    assert [p.name for p in data.paths] == ["a.wav", "b.flac"]
    assert [p.name for p, _ in data.skipped] == ["c.wav"]
    again = AudioCrops(folder, seconds=0.25, seed=3, short="skip")
    first = [data[i] for i in range(len(data))]
    assert all(torch.equal(a, again[i]) for i, a in enumerate(first))
    data.set_epoch(1)
    assert not all(torch.equal(a, data[i]) for i, a in enumerate(first))
    other = AudioCrops(folder, seconds=0.25, seed=4, short="skip")
    assert not all(torch.equal(a, other[i]) for i, a in enumerate(first))
    assert first[0].shape == (1, 2000) and first[0].dtype == torch.float32


def test_sequential_crops_are_the_audio(folder):
    data = AudioCrops(folder, seconds=0.25, order="sequential", channels="all", short="skip",
                      dtype=torch.float64)
    assert len(data) == 9000 // 2000 + 4000 // 2000
    audio, _ = sf.read(folder / "a.wav")
    assert data.locate(1) == (0, 2000)
    np.testing.assert_array_equal(data[1].numpy(), audio[2000:4000].T)
    np.testing.assert_array_equal(data[4].numpy(), sf.read(folder / "b.flac")[0][:2000].T)


def test_loader_batches_transformed_on_the_fly(folder):
    data = AudioCrops(folder, seconds=0.25, seed=0, short="skip", n_crops=6)
    loader = torch.utils.data.DataLoader(data, batch_size=3)
    t = MSFT(sr=8000, fmin=110.0)
    batches = [t(x) for x in loader]
    assert len(batches) == 2 and batches[0].shape == (3, 1)


def test_errors(folder):
    with pytest.raises(ParameterError, match="shorter than a crop of 2000"):
        AudioCrops(folder, seconds=0.25)
    with pytest.raises(ParameterError, match="order='x' is unknown"):
        AudioCrops(folder, order="x")
    with pytest.raises(ParameterError, match="seconds=0 must be positive"):
        AudioCrops(folder, seconds=0)
    data = AudioCrops(folder, seconds=0.25, short="skip")
    with pytest.raises(IndexError, match="out of range"):
        data[len(data)]
    with pytest.raises(ParameterError, match="epoch=-1"):
        data.set_epoch(-1)


def test_crop_dataset_items_as_tensors(folder, tmp_path):
    out = tmp_path / "boxes"
    out.mkdir()
    msft_cli.analyze(folder / "a.wav", out / "a.h5", fmin=110.0)
    crops = CropDataset(out, frames=2, encoding="complex", residuals=True, seed=1)
    sample = crops[0]
    tensors = crop_to_tensors(sample)
    assert all(isinstance(o, torch.Tensor) for o in tensors["octaves"])
    np.testing.assert_array_equal(tensors["octaves"][2].numpy(), sample["octaves"][2])
    c = crop_coefficients(crops, sample)
    y = MSFT(crops._inverse_transform(), dtype=torch.float64).inverse(c)
    np.testing.assert_allclose(y.numpy(), crops.to_audio(sample), atol=1e-6)
    with pytest.raises(TypeError, match="sample must be a dict"):
        crop_to_tensors([1])


def test_mixed_rates_become_one_with_sr(tmp_path, rng):
    """Files at 8 and 16 kHz: refused as they are, one dataset at sr=8000 (resampled while
    read, the 16 kHz file's crops the resampled audio's)."""
    sf.write(tmp_path / "low.wav", rng.uniform(-0.5, 0.5, 8000), 8000, subtype="FLOAT")
    t = np.arange(32000) / 16000
    sf.write(tmp_path / "high.wav", 0.5 * np.sin(2 * np.pi * 500 * t), 16000, subtype="FLOAT")
    with pytest.raises(ParameterError, match=r"crops need one rate \(give sr= to resample\)$"):
        AudioCrops(tmp_path, seconds=0.25)
    data = AudioCrops(tmp_path, seconds=0.25, sr=8000, order="sequential")
    assert data.sr == 8000 and data.n_samples == [16000, 8000]  # high.wav, then low.wav
    crop = data[1][0].numpy()  # the second quarter second of high.wav, at 8 kHz
    want = 0.5 * np.sin(2 * np.pi * 500 * (2000 + np.arange(2000)) / 8000)
    assert np.max(np.abs(crop - want)) < 1e-3
