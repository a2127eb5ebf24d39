"""A seeded mutation fuzz of the readers (issue 17): a few hundred damaged files, quick.

The mutations are those of ``bench/fuzz.py`` (which runs 10^4 and more, each in
a child process under a timeout and a memory limit). Here every mutant is read
in this process: each must be read or refused with a one-line ``MsftError``,
never another exception (``filterwarnings = error`` makes a warning one too).
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from msft_cli import MSFT, MsftError, info, load, save
from msft_cli.io.audio import AudioSource

_spec = importlib.util.spec_from_file_location(
    "msft_bench_fuzz", Path(__file__).resolve().parent.parent / "bench" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)

N_CONTAINERS = 160
N_AUDIO = 240


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bases")
    t = MSFT(8000, fmin=500.0, bins_per_octave=4, threads=1)
    y = np.random.default_rng(0).standard_normal((2, 800)) * 0.1
    c = t.forward(y, dtype="complex64")
    containers = {}
    for store in ("complex", "magnitude"):
        path = folder / f"{store}.h5"
        save(c, path, store=store)
        containers[store] = path.read_bytes()
    audio = {}
    x = np.random.default_rng(1).standard_normal((800, 2)) * 0.1
    for name, fmt, subtype in (("a.wav", "WAV", "PCM_16"), ("b.wav", "WAV", "DOUBLE"),
                               ("a.flac", "FLAC", "PCM_16"), ("a.aiff", "AIFF", "PCM_16"),
                               ("a.ogg", "OGG", "VORBIS"), ("a.w64", "W64", "PCM_16"),
                               ("a.caf", "CAF", "PCM_16"), ("a.au", "AU", "PCM_16")):
        path = folder / name
        sf.write(str(path), x, 8000, subtype=subtype, format=fmt)
        audio[name] = path.read_bytes()
    return containers, audio


def _one_line(exc):
    assert "\n" not in str(exc), str(exc)


def test_container_mutants(bases, tmp_path):
    containers, _ = bases
    outcomes = {"ok": 0, "refused": 0}
    for i in range(N_CONTAINERS):
        store = ("complex", "magnitude")[i % 2]
        data, what = fuzz.mutant(containers[store], 1000 + i)
        path = tmp_path / f"m{i}.h5"
        path.write_bytes(data)
        try:
            str(info(path))
            with load(path) as c:
                c.crop(0.02, 0.05)
                coefficients = c.to_coefficients()
                if c.store == "complex":
                    coefficients.transform.inverse(coefficients)
            outcomes["ok"] += 1
        except MsftError as exc:
            _one_line(exc)
            outcomes["refused"] += 1
        except Exception as exc:  # noqa: BLE001 -- what this test looks for
            pytest.fail(f"seed {1000 + i} ({what}): {type(exc).__name__}: {exc}")
        path.unlink()
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0


def test_audio_mutants(bases, tmp_path):
    _, audio = bases
    names = sorted(audio)
    outcomes = {"ok": 0, "refused": 0}
    for i in range(N_AUDIO):
        name = names[i % len(names)]
        data, what = fuzz.mutant(audio[name], 5000 + i)
        path = tmp_path / f"m{i}-{name}"
        path.write_bytes(data)
        try:
            with AudioSource(path) as src:
                src.read(0, src.n_samples)
            outcomes["ok"] += 1
        except MsftError as exc:
            _one_line(exc)
            outcomes["refused"] += 1
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{name} seed {5000 + i} ({what}): {type(exc).__name__}: {exc}")
        path.unlink()
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0
