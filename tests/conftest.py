"""Shared fixtures: a seeded generator, isolated cache folders, SNR, sample clips, damaged
containers."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from msft_cli.engine import fftw

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_audio"


def snr_db(x, x_hat):
    """Signal-to-noise ratio of a reconstruction in dB: ``20*log10(||x|| / ||x - x_hat||)``.

    Computed in float64 over the whole signal (every channel). An exact
    reconstruction gives ``inf``.
    """
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"shapes differ: {x.shape} and {x_hat.shape}")
    err = np.linalg.norm(x - x_hat)
    if err == 0:
        return np.inf
    return float(20 * np.log10(np.linalg.norm(x) / err))


def corrupt_chunks_outside(path, keep, sr):
    """Flip 16 bytes in the middle of every stored chunk of a container whose frames all lie
    outside ``keep = (t0, t1)`` seconds (at ``sr``); returns how many were damaged.

    A reader that touches only the chunks it needs still succeeds afterwards.
    """
    spots = []
    with h5py.File(path, "r") as f:
        for ds in f.values():
            hop, first, length = int(ds.attrs["hop"]), int(ds.attrs["first_frame"]), \
                ds.chunks[2]
            for i in range(ds.id.get_num_chunks()):
                chunk = ds.id.get_chunk_info(i)
                p0 = chunk.chunk_offset[2]
                p1 = min(p0 + length, ds.shape[2]) - 1
                if (first + p1) * hop / sr < keep[0] or (first + p0) * hop / sr > keep[1]:
                    spots.append((chunk.byte_offset, chunk.size))
    with open(path, "r+b") as fh:
        for offset, size in spots:
            fh.seek(offset + size // 2)
            data = fh.read(16)
            fh.seek(offset + size // 2)
            fh.write(bytes(b ^ 0xFF for b in data))
    return len(spots)


@pytest.fixture(scope="session")
def corrupt_chunks():
    """The :func:`corrupt_chunks_outside` helper."""
    return corrupt_chunks_outside


@pytest.fixture
def rng():
    """A fresh, seeded random generator for each test."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def snr():
    """The :func:`snr_db` helper (session-scoped, so hypothesis tests may use it)."""
    return snr_db


@pytest.fixture(scope="session", autouse=True)
def msft_cache_dir(tmp_path_factory):
    """Point ``MSFT_CACHE_DIR`` at a temporary folder: tests never touch the user's cache."""
    path = tmp_path_factory.mktemp("msft-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MSFT_CACHE_DIR", str(path))
        mp.delenv("XDG_CACHE_HOME", raising=False)
        yield path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty FFTW wisdom folder for one test, and wisdom not yet loaded in
    this process (so that the test sees only what it saves itself)."""
    monkeypatch.setenv("MSFT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fftw, "_wisdom_loaded", False)
    return tmp_path


@pytest.fixture(scope="session")
def sample_paths():
    """Paths of the WAV clips in ``sample_audio/``, sorted by name."""
    paths = sorted(SAMPLE_DIR.glob("*.wav"))
    assert paths, f"no WAV clips in {SAMPLE_DIR}"
    return paths
