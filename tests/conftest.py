"""Shared fixtures: a seeded generator, an isolated cache folder, SNR, sample clips."""

from pathlib import Path

import numpy as np
import pytest

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


@pytest.fixture(scope="session")
def sample_paths():
    """Paths of the WAV clips in ``sample_audio/``, sorted by name."""
    paths = sorted(SAMPLE_DIR.glob("*.wav"))
    assert paths, f"no WAV clips in {SAMPLE_DIR}"
    return paths
