"""msft_cli.io.resample: excerpts, downmix and soxr resampling while reading; and what
analyze, resynth, batches and CropDataset make of them (real corpora: mixed rates)."""

import re

import numpy as np
import pytest
import soundfile as sf
import soxr
from click.testing import CliRunner

from msft_cli import analyze, batch, info, load, read_audio, resynth, stream_audio
from msft_cli.cli import main
from msft_cli.dataset import CropDataset
from msft_cli.errors import ParameterError
from msft_cli.io import resample
from msft_cli.io.resample import AudioReader, check_sr, resample_blocks


def _write(path, x, sr, subtype="FLOAT"):
    """Write ``x`` (channels, samples) and return it as soundfile reads it back."""
    sf.write(str(path), np.asarray(x).T, sr, subtype=subtype)
    return sf.read(str(path), dtype="float64", always_2d=True)[0].T


@pytest.fixture
def noise48(tmp_path, rng):
    """200 000 samples of stereo noise at 48 kHz (several reader chunks)."""
    return tmp_path / "noise48.wav", _write(tmp_path / "noise48.wav",
                                            0.25 * rng.standard_normal((2, 200_000)), 48000)


# -- resampling ----------------------------------------------------------------------------

def test_a_1khz_sine_at_48k_resampled_to_44k1_peaks_at_1khz_with_its_amplitude(tmp_path):
    sr0, amp = 48000, 0.5
    n = 2 * sr0
    _write(tmp_path / "sine.wav", [amp * np.sin(2 * np.pi * 1000 * np.arange(n) / sr0)], sr0)
    report = analyze(tmp_path / "sine.wav", tmp_path / "sine.h5", sr=44100, fmin=31.25,
                     n_octaves=7)  # 1000 Hz = 31.25 * 2**5: bin 0 of octave 5
    assert report.duration == pytest.approx(2.0)
    with load(report.output) as c:
        assert (c.sr, c.n_samples) == (44100, 88200)
        assert (c.attrs["source_rate"], c.attrs["resample_quality"]) == (48000, "HQ")
        mags = [np.abs(c.crop(0.5, 1.5).octaves[j][0]) for j in range(c.n_octaves)]
        loudest = max(range(c.n_octaves), key=lambda j: mags[j].max())
        assert loudest == 5 and int(np.argmax(mags[5].mean(axis=1))) == 0
        assert c.frequencies[5][0] == pytest.approx(1000.0)
        # soxr HQ's passband is flat to far better than 0.1 %
        np.testing.assert_allclose(mags[5][0], amp, rtol=1e-3)


def test_streamed_resampling_equals_one_shot_across_block_boundaries(noise48, monkeypatch):
    path, x = noise48
    monkeypatch.setattr(resample, "_CHUNK", 7919)  # many chunk boundaries, none aligned
    want = soxr.resample(x.T, 48000, 44100, "HQ").T
    with AudioReader(path, sr=44100) as r:
        assert r.n_samples == want.shape[1] == round(200_000 * 44100 / 48000)
        # overlapping reads in increasing order, as a transform makes them, from before 0
        got = np.zeros((2, r.n_samples))
        for start in range(-3000, r.n_samples, 20_000):
            block = r.read(start, start + 26_000)
            assert block.shape == (2, 26_000)
            a, b = max(start, 0), min(start + 26_000, r.n_samples)
            got[:, a:b] = block[:, a - start:b - start]
            assert not block[:, b - start:].any() and not block[:, :a - start].any()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)  # float32 rounding
        back = r.read(1000, 5000)  # a read behind what is kept starts the stream again
        np.testing.assert_allclose(back, want[:, 1000:5000], rtol=0, atol=1e-6)
    with AudioReader(path, sr=44100) as r:  # a first read far into the file
        np.testing.assert_allclose(r.read(150_000, 150_100), want[:, 150_000:150_100],
                                   rtol=0, atol=1e-6)
    blocks = list(stream_audio(path, block_size=10_000, sr=44100))
    assert [s for s, _ in blocks] == list(range(0, want.shape[1], 10_000))
    joined = np.concatenate([y for _, y in blocks], axis=1)
    assert joined.dtype == np.float32
    np.testing.assert_allclose(joined, want, rtol=0, atol=1e-6)
    y, sr = read_audio(path, sr=44100)
    assert sr == 44100 and y.dtype == np.float32
    np.testing.assert_array_equal(y, joined)


@pytest.mark.parametrize("sr0, sr1", [(48000, 44100), (96000, 22050), (8000, 44100)])
def test_random_reads_restart_the_resampler_near_them(tmp_path, rng, sr0, sr1):
    """Random crops (a dataset's) cost their own length: a read behind or far ahead of what
    is held restarts soxr shortly before it, equal to one stream to float32 rounding."""
    x = _write(tmp_path / "x.wav", 0.25 * rng.standard_normal((2, 12 * sr0)), sr0)
    want = soxr.resample(x.T, sr0, sr1, "HQ").T
    with AudioReader(tmp_path / "x.wav", sr=sr1) as r:
        starts = [int(s) for s in rng.integers(-500, r.n_samples, 12)]
        for start in sorted(starts, reverse=True) + [r.n_samples - 10, 7]:
            got = r.read(start, start + 3000)
            a, b = max(start, 0), min(start + 3000, r.n_samples)
            np.testing.assert_allclose(got[:, a - start:b - start], want[:, a:b], rtol=0,
                                       atol=1e-6)
            assert r._fed <= min(r.count, (a + 3000 + 2 * resample._CHUNK) * sr0 // sr1
                                 + resample._CHUNK)  # decoded no further than the crop needs


def test_resample_blocks_equals_one_shot(rng):
    x = rng.standard_normal((2, 50_001))
    blocks = ((a, x[:, a:a + 4096]) for a in range(0, x.shape[1], 4096))
    out = list(resample_blocks(blocks, 22050, 44100, 2, x.shape[1]))
    y = np.concatenate([b for _, b in out], axis=1)
    assert [s for s, _ in out] == list(np.cumsum([0] + [b.shape[1] for _, b in out[:-1]]))
    np.testing.assert_allclose(y, soxr.resample(x.T, 22050, 44100, "HQ").T, atol=1e-9)


# -- excerpts and downmix ------------------------------------------------------------------

def test_offset_and_duration_pick_exactly_the_samples(tmp_path):
    n = 16000
    ramp = np.arange(n) / n
    x = _write(tmp_path / "ramp.wav", [ramp, -0.5 * ramp], 8000)
    with AudioReader(tmp_path / "ramp.wav", offset=0.5, duration=0.25) as r:
        assert (r.start, r.count, r.n_samples, r.channels) == (4000, 2000, 2000, 2)
        np.testing.assert_array_equal(r.read(0, 2000), x[:, 4000:6000])
        np.testing.assert_array_equal(r.read(-2, 1), np.pad(x[:, 4000:4001], ((0, 0), (2, 0))))
    y, _ = read_audio(tmp_path / "ramp.wav", mono=True, offset=1.5, dtype="float64")
    np.testing.assert_array_equal(y, x[:, 12000:].mean(axis=0, keepdims=True))
    # a duration past the end is cut short by it
    y, _ = read_audio(tmp_path / "ramp.wav", offset=1.9, duration=5, dtype="float64")
    np.testing.assert_array_equal(y, x[:, 15200:])


def test_an_excerpt_at_a_resampled_rate_holds_the_requested_time(tmp_path):
    sr0, f = 48000, 441.0
    t = np.arange(3 * sr0) / sr0
    _write(tmp_path / "tone.wav", [0.5 * np.sin(2 * np.pi * f * t)] * 2, sr0)
    y, sr = read_audio(tmp_path / "tone.wav", sr=16000, mono=True, offset=0.5, duration=1.0,
                       dtype="float64")
    assert sr == 16000 and y.shape == (1, 16000)
    want = 0.5 * np.sin(2 * np.pi * f * (0.5 + np.arange(16000) / 16000))
    inner = slice(800, -800)  # the cut edges ring with the resampler's filter
    np.testing.assert_allclose(y[0, inner], want[inner], atol=2e-4)
    report = analyze(tmp_path / "tone.wav", tmp_path / "tone.h5", sr=16000, mono=True,
                     offset=0.5, duration=1.0, fmin=110.0)
    with load(report.output) as c:
        assert (c.sr, c.n_samples, c.n_channels) == (16000, 16000, 1)
        a = c.attrs
        assert (a["source_rate"], a["source_n_channels"], a["source_start"],
                a["source_n_samples"], a["resample_quality"], a["downmix"]) == \
            (48000, 2, 24000, 48000, "HQ", "mean")
        np.testing.assert_allclose(c.to_audio(), y, atol=1e-6)
    assert str(info(report.output)).splitlines()[3] == (
        "  read        resampled from 48000 Hz (soxr HQ), 2 channels mixed to 1 (mean), "
        "excerpt 0.500 s + 1.000 s of the source")


def test_a_plain_analysis_records_its_source(tmp_path, rng):
    _write(tmp_path / "a.wav", 0.1 * rng.standard_normal((2, 4410)), 44100)
    with load(analyze(tmp_path / "a.wav", tmp_path / "a.h5", fmin=200.0).output) as c:
        a = c.attrs
        assert (a["source_rate"], a["source_n_channels"], a["source_start"],
                a["source_n_samples"], a["resample_quality"], a["downmix"]) == \
            (44100, 2, 0, 4410, "", "")
    assert "  read  " not in str(info(tmp_path / "a.h5"))


def test_resynth_sr_gives_the_source_rate_back(tmp_path, rng):
    t = np.arange(44100) / 44100
    x = _write(tmp_path / "a.wav", [0.3 * np.sin(2 * np.pi * 300 * t)], 44100)
    analyze(tmp_path / "a.wav", tmp_path / "a.h5", sr=22050, fmin=55.0)
    report = resynth(tmp_path / "a.h5", tmp_path / "back.wav", sr=44100, subtype="FLOAT",
                     reference=tmp_path / "a.wav")
    y, sr = sf.read(str(tmp_path / "back.wav"), always_2d=True)
    assert sr == 44100 and y.shape == (44100, 1)
    inner = slice(2000, -2000)
    np.testing.assert_allclose(y[inner, 0], x[0, inner], atol=1e-4)
    assert report.extra["snr_db"] > 40


# -- a corpus of mixed rates and channel counts ------------------------------------------

def test_a_folder_of_mixed_rates_becomes_one_dataset(tmp_path, rng):
    src = tmp_path / "corpus"
    (src / "sub").mkdir(parents=True)
    _write(src / "a.wav", 0.1 * rng.standard_normal((2, 44100)), 44100)
    _write(src / "b.wav", 0.1 * rng.standard_normal((1, 96000)), 96000)
    sf.write(str(src / "sub" / "c.flac"), 0.1 * rng.standard_normal((22050, 2)), 22050)
    report = batch.run("analyze", [src], tmp_path / "h5", jobs=1, sr=44100, mono=True,
                       fmin=200.0, dtype="complex32")
    assert report.exit_status == 0, report
    rates = {}
    for p in sorted((tmp_path / "h5").rglob("*.h5")):
        with load(p) as c:
            assert (c.sr, c.n_channels, c.stored_dtype) == (44100, 1, "complex32")
            rates[p.name] = c.attrs["source_rate"]
    assert rates == {"a.h5": 44100, "b.h5": 96000, "c.h5": 22050}
    data = CropDataset(tmp_path / "h5", seconds=0.25)
    assert len(data) > 0
    assert np.all(np.isfinite(data[0]["octaves"][0]))
    # a second run with the same options finds everything up to date
    again = batch.run("analyze", [src], tmp_path / "h5", jobs=1, sr=44100, mono=True,
                      fmin=200.0, dtype="complex32")
    assert again.exit_status == 0 and again.skipped == 3


# -- bad values ----------------------------------------------------------------------------

@pytest.mark.parametrize("sr", [0, -5, 22050.5, 768001, float("nan")])
def test_bad_sample_rates_are_refused(sr):
    with pytest.raises(ParameterError, match=f"^sr={re.escape(repr(sr))} must be a whole "
                                             "number of Hz from 1 to 768000$"):
        check_sr(sr)


def test_sample_rate_types_and_integral_floats():
    assert check_sr(22050.0) == 22050 and isinstance(check_sr(22050.0), int)
    with pytest.raises(TypeError, match="^sr must be a number of Hz, not str$"):
        check_sr("22050")


def test_bad_excerpts_are_refused(tmp_path, rng):
    path = tmp_path / "a.wav"
    _write(path, 0.1 * rng.standard_normal((1, 8000)), 8000)
    with pytest.raises(ParameterError, match=re.escape(
            f"{path}: offset=1 s is past the end of the file (1.000 s)")):
        AudioReader(path, offset=1)
    with pytest.raises(ParameterError, match=r"^duration=-1 must be more than 0 seconds$"):
        AudioReader(path, duration=-1)
    with pytest.raises(ParameterError, match=r"^offset=-0.5 must be at least 0 seconds$"):
        read_audio(path, offset=-0.5)
    with pytest.raises(ParameterError, match=r"^quality='best' is unknown: must be one of "
                                             "QQ, LQ, MQ, HQ, VHQ$"):
        AudioReader(path, quality="best")


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("args, message", [
    (["--sr", "0"], "Error: sr=0 must be a whole number of Hz from 1 to 768000"),
    (["--sr", "-8000"], "Error: sr=-8000 must be a whole number of Hz from 1 to 768000"),
    (["--sr", "22050.5"], "Error: sr=22050.5 must be a whole number of Hz from 1 to 768000"),
    (["--sr", "1000000"], "Error: sr=1000000 must be a whole number of Hz from 1 to 768000"),
    (["--offset", "2"], "Error: {wav}: offset=2 s is past the end of the file (1.000 s)"),
    (["--duration", "-1"], "Error: duration=-1 must be more than 0 seconds"),
])
def test_cli_refuses_bad_reading_options_in_one_line(tmp_path, rng, args, message):
    wav = tmp_path / "a.wav"
    _write(wav, 0.1 * rng.standard_normal((2, 8000)), 8000)
    result = _cli("analyze", wav, "-o", tmp_path / "a.h5", *args)
    assert result.exit_code == 1
    assert result.output.strip() == message.format(wav=wav)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_cli_refuses_mono_and_sr_on_a_container(tmp_path, rng):
    wav = tmp_path / "a.wav"
    _write(wav, 0.1 * rng.standard_normal((2, 8000)), 8000)
    assert _cli("analyze", wav, "-q", "--fmin", "200").exit_code == 0
    box = tmp_path / "a.h5"
    result = _cli("render", box, "-o", tmp_path / "a.png", "--mono")
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: {box}: mono=True applies to audio inputs, not to "
                                     "a container (it keeps the channels it was made with)")
    result = _cli("render", box, "-o", tmp_path / "a.png", "--sr", "16000")
    assert result.output.strip() == (f"Error: {box}: sr=16000 applies to audio inputs, not to "
                                     "a container (it keeps the rate it was made with)")
    result = _cli("resynth", box, "-o", tmp_path / "b.wav", "--sr", "0")
    assert result.output.strip() == "Error: sr=0 must be a whole number of Hz from 1 to 768000"
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "b.wav").exists()


def test_cli_analyze_sr_mono_excerpt(tmp_path, rng):
    wav = tmp_path / "a.wav"
    _write(wav, 0.1 * rng.standard_normal((2, 48000)), 48000)
    result = _cli("analyze", wav, "-o", tmp_path / "a.h5", "--sr", "16000", "--mono",
                  "--offset", "0.25", "--duration", "0.5", "--fmin", "200",
                  "--resample-quality", "VHQ")
    assert result.exit_code == 0, result.output
    with load(tmp_path / "a.h5") as c:
        assert (c.sr, c.n_samples, c.n_channels) == (16000, 8000, 1)
        assert (c.attrs["source_start"], c.attrs["resample_quality"]) == (12000, "VHQ")
