"""Tests of msft_cli.convert: analyze() and resynth() as library calls."""

import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf

from msft_cli import MSFT, analyze, load, resynth
from msft_cli.convert import Report, default_output
from msft_cli.errors import AudioError, ContainerError, MsftError, ParameterError

SR = 44100
FAST = {"fmin": 200.0}  # short margins: small blocks, fast tests


def _noise(n, channels, seed=0, amp=0.3):
    return np.clip(amp * np.random.default_rng(seed).standard_normal((n, channels)), -0.99, 0.99)


def _write(path, n, channels=2, subtype="PCM_16", seed=0, sr=SR):
    sf.write(str(path), _noise(n, channels, seed), sr, subtype=subtype)
    return sf.read(str(path), dtype="float64", always_2d=True)[0].T


def _snr(x, y):
    return 20 * math.log10(np.linalg.norm(x) / np.linalg.norm(x - y))


@pytest.fixture(scope="module", autouse=True)
def _cache_dir(tmp_path_factory):
    """An FFTW wisdom folder of our own, unless conftest already provides one."""
    if os.environ.get("MSFT_CACHE_DIR"):
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MSFT_CACHE_DIR", str(tmp_path_factory.mktemp("msft-cache-convert")))
        yield


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.wav"
    return path, _write(path, 11025)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """A mono FLOAT clip spanning three blocks at fmin=1000 Hz, and its container."""
    folder = tmp_path_factory.mktemp("long")
    step = MSFT(SR, fmin=1000.0).block_size
    path = folder / "long.wav"
    data = _write(path, int(2.5 * step), 1, "FLOAT", seed=5)
    analyze(path, folder / "long.h5", fmin=1000.0)
    return path, folder / "long.h5", data


def test_analyze_returns_a_report(clip):
    path, _ = clip
    report = analyze(path, **FAST)
    assert isinstance(report, Report)
    assert report.input == str(path)
    assert report.output == path.with_suffix(".h5") == default_output(path, ".h5")
    assert report.output.is_file()
    assert report.duration == pytest.approx(11025 / SR)
    assert report.seconds > 0
    assert 0 < report.realtime_factor < math.inf
    assert report.realtime_factor == pytest.approx(report.duration / report.seconds)
    assert report.extra["size"] == report.output.stat().st_size
    with h5py.File(report.output, "r") as f:
        assert f.attrs["source_name"] == "clip.wav"
        assert f.attrs["n_samples"] == 11025
        assert f.attrs["n_channels"] == 2
        assert f.attrs["fmin"] == 200.0


def test_resynth_returns_a_report_with_the_snr(clip):
    path, data = clip
    box = analyze(path, path.parent / "clip.h5", **FAST).output
    report = resynth(box, reference=path)
    assert report.input == str(box)
    assert report.output == path.parent / "clip.resynth.wav"
    assert report.duration == pytest.approx(11025 / SR)
    assert report.seconds > 0 and report.realtime_factor > 0
    assert report.extra["snr_db"] >= 135
    # the SNR is measured before quantization to the output's subtype
    with load(box) as c:
        assert report.extra["snr_db"] == pytest.approx(_snr(data, c.to_audio()), abs=1e-6)


def test_resynth_without_reference_has_no_snr(clip, tmp_path):
    path, data = clip
    box = analyze(path, tmp_path / "clip.h5", **FAST).output
    report = resynth(box, tmp_path / "back.wav")
    assert "snr_db" not in report.extra
    back, sr = sf.read(str(tmp_path / "back.wav"), dtype="float64", always_2d=True)
    assert sr == SR and sf.info(str(tmp_path / "back.wav")).subtype == "PCM_16"
    assert np.max(np.abs(back.T - data)) <= 1 / 32768


@pytest.mark.parametrize("source_subtype, output, subtype, expected", [
    ("PCM_16", "back.wav", None, "PCM_16"),     # the source's
    ("PCM_24", "back.flac", None, "PCM_24"),    # the source's fits FLAC
    ("FLOAT", "back.flac", None, "PCM_16"),     # FLOAT does not fit FLAC: FLAC's default
    ("PCM_16", "back.ogg", None, "VORBIS"),     # OGG's default
    ("PCM_16", "back.wav", "PCM_24", "PCM_24"),  # as asked
    ("PCM_24", "back.wav", "FLOAT", "FLOAT"),
])
def test_resynth_subtype(tmp_path, source_subtype, output, subtype, expected):
    _write(tmp_path / "clip.wav", 4410, 1, source_subtype)
    box = analyze(tmp_path / "clip.wav", tmp_path / "clip.h5", **FAST).output
    resynth(box, tmp_path / output, subtype=subtype)
    assert sf.info(str(tmp_path / output)).subtype == expected


def test_analyze_with_a_transform(clip, tmp_path):
    path, data = clip
    t = MSFT(SR, fmin=300.0, bins_per_octave=6, n_octaves=4)
    report = analyze(path, tmp_path / "t.h5", transform=t)
    with load(report.output) as c:
        assert c.transform.to_params() == t.to_params()
        assert _snr(data, c.to_audio()) >= 135


def test_analyze_transform_of_another_rate(clip, tmp_path):
    path, _ = clip
    with pytest.raises(ParameterError) as err:
        analyze(path, tmp_path / "t.h5", transform=MSFT(48000, fmin=200.0))
    assert str(err.value) == (f"{path}: sample rate 44100 Hz differs from the transform's "
                              "48000 Hz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav"]


def test_analyze_transform_and_parameters(clip, tmp_path):
    path, _ = clip
    with pytest.raises(ParameterError) as err:
        analyze(path, tmp_path / "t.h5", transform=MSFT(SR, fmin=200.0), fmin=300.0)
    assert str(err.value) == "give a transform or transform parameters, not both"


def test_analyze_bad_parameter_names_the_file(clip, tmp_path):
    path, _ = clip
    with pytest.raises(ParameterError) as err:
        analyze(path, tmp_path / "t.h5", fmin=0)
    assert str(err.value) == f"{path}: fmin=0 must be a positive frequency in Hz"
    assert isinstance(err.value, ValueError)
    assert not (tmp_path / "t.h5").exists()


def test_analyze_stdin_needs_an_output():
    with pytest.raises(ParameterError) as err:
        analyze("-")
    assert str(err.value) == "output is required when reading standard input"


def test_errors_are_msft_errors(tmp_path):
    with pytest.raises(AudioError):
        analyze(tmp_path / "missing.wav")
    with pytest.raises(ContainerError):
        resynth(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(MsftError):
        resynth(tmp_path / "foreign.h5", tmp_path / "out.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.h5"]


def test_reference_of_another_file(clip, tmp_path):
    path, _ = clip
    box = analyze(path, tmp_path / "clip.h5", **FAST).output
    other = tmp_path / "other.wav"
    _write(other, 5000, 1)
    with pytest.raises(AudioError) as err:
        resynth(box, tmp_path / "out.wav", reference=other)
    assert str(err.value) == (f"{other}: has 1 channel(s) x 5000 samples, the container 2 x "
                              "11025: not its original")
    assert not (tmp_path / "out.wav").exists()


def test_analyze_progress(long_clip, tmp_path):
    path, _, data = long_clip
    n = data.shape[1]
    calls = []
    analyze(path, tmp_path / "p.h5", fmin=1000.0, progress=lambda done, total:
            calls.append((done, total)))
    assert len(calls) >= 3
    assert all(total == n for _, total in calls)
    done = [d for d, _ in calls]
    assert done[0] > 0 and np.all(np.diff(done) > 0)
    assert done[-1] == n


def test_resynth_progress(long_clip, tmp_path):
    _, box, data = long_clip
    n = data.shape[1]
    calls = []
    report = resynth(box, tmp_path / "p.wav", progress=lambda done, total:
                     calls.append((done, total)))
    assert len(calls) >= 3
    assert all(total == n for _, total in calls)
    done = [d for d, _ in calls]
    assert done[0] > 0 and np.all(np.diff(done) > 0)
    assert done[-1] == n
    assert report.duration == pytest.approx(n / SR)


def test_long_clip_round_trip_across_blocks(long_clip, tmp_path):
    path, box, data = long_clip
    report = resynth(box, tmp_path / "back.wav", reference=path)
    assert report.extra["snr_db"] >= 135
    back, _ = sf.read(str(tmp_path / "back.wav"), dtype="float64", always_2d=True)
    assert sf.info(str(tmp_path / "back.wav")).subtype == "FLOAT"
    assert _snr(data, back.T) >= 135


def test_report_realtime_factor():
    assert Report("a", Path("b"), 2.0, 0.5).realtime_factor == 4.0
    assert Report("a", Path("b"), 2.0, 0.0).realtime_factor == math.inf
