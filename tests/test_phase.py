"""Phase reconstruction (msft_cli.phase), magnitude-only containers and model outputs.

Small transforms keep it fast: 16 kHz, fmin 220 Hz (5 octaves), signals of a
second or two, mostly in "periodic" mode (one block per iteration).
"""

import re

import h5py
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from msft_cli import MSFT, Coefficients, ContainerError, ParameterError, load, save, save_arrays
from msft_cli.cli import main
from msft_cli.io.container.writer import Writer
from msft_cli.phase import (
    group_weights,
    iter_reconstruct,
    main_lobe,
    pghi,
    reconstruct,
    spectral_convergence,
    window_gamma,
)

SR = 16000
FMIN = 220.0


def chirp(n=SR, sr=SR, f0=250.0, f1=3500.0, amp=0.5):
    """An exponential sweep from f0 to f1 Hz over n samples."""
    t = np.arange(n) / sr
    k = np.log(f1 / f0) / (n / sr)
    return amp * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)


def chord(n=SR, sr=SR):
    t = np.arange(n) / sr
    return sum(0.2 * np.sin(2 * np.pi * f * t + i)
               for i, f in enumerate((261.63, 329.63, 392.0, 523.25)))


@pytest.fixture(scope="module")
def periodic():
    return MSFT(SR, fmin=FMIN, mode="periodic")


@pytest.fixture(scope="module")
def zero():
    return MSFT(SR, fmin=FMIN)


def sc_after(c, iterations, init, **kw):
    return spectral_convergence(c, reconstruct(c, iterations, init, **kw).inverse())


# -- spectral convergence -------------------------------------------------------------

def test_weights_make_the_coefficient_norm_the_signal_norm(zero, rng):
    y = rng.standard_normal(SR // 2)
    c = zero.forward(y)
    energy = sum(w * np.sum(np.abs(a) ** 2) for w, a in zip(group_weights(zero), c.groups))
    assert energy == pytest.approx(np.sum(y * y), rel=1e-9)


def test_spectral_convergence_of_exact_scaled_and_sign_flipped_signals(periodic, rng):
    y = rng.standard_normal(SR // 2)
    c = periodic.forward(y)
    assert spectral_convergence(c, y) == -np.inf
    assert spectral_convergence(c, -y) == -np.inf  # every magnitude is kept
    assert spectral_convergence(c, 0.5 * y) == pytest.approx(20 * np.log10(0.5), abs=1e-9)
    assert spectral_convergence(c, periodic.forward(0.5 * y)) == \
        pytest.approx(20 * np.log10(0.5), abs=1e-9)
    assert spectral_convergence(c, np.zeros_like(y)) == pytest.approx(0.0, abs=1e-12)


def test_spectral_convergence_refuses_mismatches(periodic, zero, rng):
    y = rng.standard_normal(1000)
    c = periodic.forward(y)
    with pytest.raises(ParameterError, match=re.escape(
            "estimate has shape (999,): must be (1000,), the target's signal")):
        spectral_convergence(c, y[:-1])
    with pytest.raises(ParameterError, match="estimate was made by MSFT"):
        spectral_convergence(c, zero.forward(y))
    with pytest.raises(TypeError, match="target must be a Coefficients object, not ndarray"):
        spectral_convergence(y, y)


# -- convergence ----------------------------------------------------------------------

@pytest.mark.parametrize("make", [chirp, chord], ids=["chirp", "chord"])
def test_own_magnitudes_converge(periodic, make):
    """A signal resynthesized from its own magnitudes: below -30 dB within 32 iterations
    (-34 and -38 dB measured), and still better after 64."""
    c = periodic.forward(make())
    sc32 = sc_after(c, 32, "pghi")
    assert sc32 < -30
    assert sc_after(c, 64, "pghi") < sc32


def test_zero_mode_sample_clip_converges(sample_paths):
    """Real music (1.5 s of a sample clip, first channel), "zero" mode, 22.05 kHz."""
    path = next(p for p in sample_paths if p.name == "house_beat.wav")
    x, sr = sf.read(str(path), dtype="float64", always_2d=True, start=44100, frames=66150)
    y = x[::2, 0]  # 22.05 kHz: the clip has little above 11 kHz
    t = MSFT(sr // 2, fmin=110.0)
    c = t.forward(y)
    assert sc_after(c, 0, "pghi") < -10
    assert sc_after(c, 30, "pghi") < -22


def test_pghi_beats_random_on_a_chirp(periodic):
    c = periodic.forward(chirp())
    for iterations, margin in ((0, 8.0), (5, 3.0), (20, 3.0)):
        assert sc_after(c, iterations, "pghi") < sc_after(c, iterations, "random") - margin, \
            iterations


def test_pghi_alone_gets_the_chirp_and_the_chord(periodic):
    for make, bound in ((chirp, -15), (chord, -20)):
        c = periodic.forward(make())
        assert spectral_convergence(c, pghi(c).inverse()) < bound


def test_results_keep_the_target_magnitudes_and_real_bands(zero, rng):
    c = zero.forward(chirp(SR // 2) + 0.01 * rng.standard_normal(SR // 2))
    r = reconstruct(c, 3)
    assert r.dtype == np.complex64 and r.firsts == c.firsts
    for g, (a, b) in enumerate(zip(r.groups, c.groups)):
        assert a.shape == b.shape
        if zero.groups[g].kind == "octave":
            np.testing.assert_allclose(np.abs(a), np.abs(b), rtol=1e-5, atol=1e-9)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_iterations_zero_is_the_initial_estimate(periodic):
    c = periodic.forward(chirp())
    first = next(iter_reconstruct(c))
    np.testing.assert_array_equal(reconstruct(c, 0).groups[3], first.groups[3])
    np.testing.assert_array_equal(pghi(c).groups[3], first.groups[3])


def test_iter_reconstruct_matches_reconstruct(periodic):
    c = periodic.forward(chord())
    steps = iter_reconstruct(c, phase_init="random", seed=3)
    for _ in range(5):
        last = next(steps)
    np.testing.assert_allclose(last.groups[2], reconstruct(c, 4, "random", seed=3).groups[2],
                               rtol=1e-5, atol=1e-7)


def test_a_yielded_estimate_is_never_changed_afterwards(periodic):
    steps = iter_reconstruct(periodic.forward(chirp()))
    a = next(steps)
    b = next(steps)
    saved = [g.copy() for g in b.groups]
    next(steps), next(steps)
    for x, y in zip(b.groups, saved):
        np.testing.assert_array_equal(x, y)
    assert a is not b


def test_init_from_coefficients_continues_a_run(periodic):
    c = periodic.forward(chirp())
    first = reconstruct(c, 10, phase_init="random", seed=1)
    more = reconstruct(c, 10, phase_init=first)
    assert spectral_convergence(c, more.inverse()) < spectral_convergence(c, first.inverse())


def test_seed_makes_random_starts_repeatable(periodic):
    c = periodic.forward(chord())
    a = reconstruct(c, 2, "random", seed=7).groups[2]
    np.testing.assert_array_equal(a, reconstruct(c, 2, "random", seed=7).groups[2])
    assert not np.array_equal(a, reconstruct(c, 2, "random", seed=8).groups[2])


def test_zero_start_and_plain_griffin_lim_work(periodic):
    c = periodic.forward(chord())
    assert sc_after(c, 40, "zero") < -15  # a slow start on a chord: -20 dB measured
    assert sc_after(c, 20, "pghi", momentum=0.0) < -15


def test_stereo_channels_are_reconstructed_independently(zero):
    y = np.stack([chirp(SR // 2), chord(SR // 2)])
    c = zero.forward(y)
    calls = []
    r = reconstruct(c, 4, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 8) for k in range(1, 9)]
    assert r.n_channels == 2 and not r.mono
    both = r.inverse()
    assert both.shape == (2, SR // 2)
    left = reconstruct(Coefficients(zero, SR // 2, [a[:1] for a in c.groups]), 4)
    np.testing.assert_allclose(both[0], left.inverse()[0], atol=1e-6)


def test_mono_in_mono_out(zero):
    c = zero.forward(chirp(SR // 2))
    y = reconstruct(c, 1).inverse()
    assert y.shape == (SR // 2,)


def test_real_bands_kept_or_retrieved(rng):
    """fmin 440: the low-pass band holds a 220 Hz tone. Kept (signed, as a magnitude
    container stores it) it costs nothing; its sign retrieved from |values| by Griffin-Lim is
    far worse: the band is sampled at barely above its Nyquist rate (1000 Hz for 880 Hz of
    two-sided bandwidth), so its absolute values say little about its signs."""
    t = MSFT(SR, fmin=440.0, mode="periodic")
    time = np.arange(SR) / SR
    y = 0.5 * np.sin(2 * np.pi * 220 * time) + chirp(amp=0.3)
    c = t.forward(y)
    kept = sc_after(c, 30, "pghi")
    retrieved = reconstruct(c, 30, real_bands="retrieve")
    assert kept < -25
    assert kept < spectral_convergence(c, retrieved.inverse()) - 10
    np.testing.assert_allclose(np.abs(retrieved.groups[0]), np.abs(c.groups[0]), rtol=1e-5,
                               atol=1e-9)


def test_zero_mode_leaves_out_silent_frames_only(zero):
    """The periodic twin covers the frames holding more than -100 dB, not all `margin`."""
    from msft_cli.phase.problem import _Problem
    n = SR // 2
    c = zero.forward(chirp(n))
    problem = _Problem(c, "keep")
    assert problem.period < n + 2 * zero.margin
    assert problem.period >= n + 2 * 0  # holds the signal
    full = spectral_convergence(c, reconstruct(c, 10).inverse())
    assert full < -25


def test_periodic_magnitudes_must_hold_the_period(periodic):
    c = periodic.forward(chirp(1000))
    cut = Coefficients(periodic, 1000, [a[:, :, 1:] for a in c.groups],
                       firsts=[1] * len(c.groups))
    with pytest.raises(ParameterError,
                       match="periodic magnitudes must hold every frame of the period"):
        reconstruct(cut, 1)


def test_window_constants():
    assert window_gamma("bump") == pytest.approx(1.503, abs=1e-3)
    assert window_gamma("hann") == pytest.approx(1.218, abs=1e-3)
    assert main_lobe("bump", 12) == pytest.approx(8.4, abs=0.1)
    assert main_lobe("bump", 24) == pytest.approx(2 * main_lobe("bump", 12), abs=0.2)


def test_hann_window_works():
    t = MSFT(SR, fmin=FMIN, window="hann", mode="periodic")
    c = t.forward(chirp())
    assert sc_after(c, 20, "pghi") < -20


# -- errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    ({"iterations": -1}, ParameterError, "iterations=-1 must be at least 0"),
    ({"iterations": 2.0}, TypeError, "iterations must be an int, not float"),
    ({"iterations": True}, TypeError, "iterations must be an int, not bool"),
    ({"phase_init": "smart"}, ParameterError,
     "phase_init='smart' is unknown: must be one of pghi, random, zero or complex Coefficients"),
    ({"momentum": 2.0}, ParameterError,
     "momentum=2 is out of range: must be between 0 and 1.5 (0: plain Griffin-Lim)"),
    ({"real_bands": "drop"}, ParameterError,
     "real_bands='drop' is unknown: must be one of keep, retrieve"),
    ({"tol_db": 10}, ParameterError,
     "tol_db=10 must be negative (dB below the largest coefficient)"),
])
def test_bad_parameters(periodic, kwargs, error, message):
    c = periodic.forward(chirp(2000))
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        reconstruct(c, **{"iterations": 1, **kwargs})


def test_bad_magnitudes(periodic):
    c = periodic.forward(chirp(2000))
    groups = [np.abs(a) if k else a for a, k in zip(c.groups, [0, 1, 1, 1, 1, 1, 0])]
    groups[2] = groups[2].copy()
    groups[2][0, 0, 0] = -1.0
    with pytest.raises(ParameterError, match="^magnitudes of octave_1 hold negative values$"):
        reconstruct(Coefficients(periodic, 2000, groups), 1)
    groups[2][0, 0, 0] = np.nan
    with pytest.raises(ParameterError, match="^magnitudes of octave_1 hold NaN or Inf$"):
        reconstruct(Coefficients(periodic, 2000, groups), 1)
    with pytest.raises(TypeError, match="^magnitudes must be a Coefficients object, not list$"):
        reconstruct(groups, 1)


def test_init_must_match(periodic, zero):
    c = periodic.forward(chirp(2000))
    other = zero.forward(chirp(2000))
    with pytest.raises(ParameterError, match=r"^phase_init holds 1 channel\(s\) x 2000 samples by "
                                             r"MSFT\(.*mode='zero'\): must match the magnitudes"):
        reconstruct(c, 1, phase_init=other)


# -- magnitude containers -------------------------------------------------------------

def _storage(path):
    """Bytes of the octave datasets' values (what the chunks hold, without HDF5's overhead)."""
    with h5py.File(path, "r") as f:
        return sum(f[k].size * f[k].dtype.itemsize for k in f if k.startswith("octave_"))


def test_save_magnitudes_sizes_and_load(zero, tmp_path, rng):
    y = np.stack([chirp(SR), chord(SR)]) + 0.01 * rng.standard_normal((2, SR))
    c = zero.forward(y)
    full = save(c, tmp_path / "c64.h5", dtype="complex64")
    f16 = save(c, tmp_path / "f16.h5", store="magnitude")
    f32 = save(c, tmp_path / "f32.h5", store="magnitude", dtype="float32")
    assert _storage(full) == 4 * _storage(f16) == 2 * _storage(f32)
    # whole files: less than 4x and 2x (the real bands, chunks' padding, HDF5's overhead)
    assert full.stat().st_size > 2.5 * f16.stat().st_size
    assert full.stat().st_size > 1.5 * f32.stat().st_size
    with load(f16) as box, h5py.File(f16, "r") as f:
        assert box.store == "magnitude" and box.dtype == np.float16
        assert f.attrs["coefficients"] == "magnitude"
        assert f["lowpass"].dtype == f["highpass"].dtype == np.float16
        np.testing.assert_allclose(box.octaves[2][...], np.abs(c.groups[3]), rtol=1e-3,
                                   atol=1e-7)
        np.testing.assert_allclose(box.highpass[...], c.groups[-1], rtol=1e-3, atol=1e-7)
        assert (box.highpass[...] < 0).any()  # the real bands keep their signs
        img, _, _ = box.image(db=False)
        with load(full) as other:
            ref, _, _ = other.image(db=False)
        np.testing.assert_allclose(img, ref, rtol=2e-3, atol=1e-6)
    with load(full) as box:
        assert box.store == "complex"


def test_magnitude_container_round_trip(zero, tmp_path):
    c = zero.forward(chirp(SR))
    path = save(c, tmp_path / "m.h5", store="magnitude", dtype="float32")
    with load(path) as box:
        mags = box.to_coefficients()
        with pytest.raises(ContainerError, match="holds magnitudes only: reconstruct the "
                                                 "phases"):
            box.to_audio()
    assert mags.dtype == np.float32
    again = save(mags, tmp_path / "again.h5")  # magnitudes stay magnitudes, in float32
    with load(again) as box:
        assert box.store == "magnitude" and box.dtype == np.float32
    y = reconstruct(mags, 30).inverse()
    assert spectral_convergence(c, y) < -25
    with pytest.raises(ParameterError, match="^coefficients hold magnitudes only"):
        save(mags, tmp_path / "no.h5", store="complex")


def test_older_containers_are_complex_and_bad_stores_are_refused(zero, tmp_path):
    path = save(zero.forward(chirp(2000)), tmp_path / "c.h5")
    with h5py.File(path, "r+") as f:
        del f.attrs["coefficients"]
    with load(path) as box:
        assert box.store == "complex"
    with h5py.File(path, "r+") as f:
        f.attrs["coefficients"] = "phase"
    with pytest.raises(ContainerError, match="coefficients attribute is 'phase', expected one "
                                             "of complex, magnitude$"):
        load(path)
    with h5py.File(path, "r+") as f:
        f.attrs["coefficients"] = "magnitude"
    with pytest.raises(ContainerError, match="dataset /octave_0 is complex128, but the "
                                             "container says it stores magnitude "
                                             "coefficients$"):
        load(path)


def test_writer_store_and_dtype_checks(zero, tmp_path):
    with pytest.raises(ParameterError, match="^store='phase' is unknown: must be one of "
                                             "complex, magnitude$"):
        Writer(tmp_path / "x.h5", zero, 100, 1, store="phase")
    with pytest.raises(ParameterError, match="^dtype='complex64' does not fit store='magnitude'"
                                             ": must be one of float16, float32$"):
        Writer(tmp_path / "x.h5", zero, 100, 1, "complex64", store="magnitude")
    with pytest.raises(ParameterError, match="^dtype='float16' is unknown: must be one of "
                                             "complex64, complex128, complex32$"):
        Writer(tmp_path / "x.h5", zero, 100, 1, "float16")
    assert not list(tmp_path.iterdir())


# -- model outputs --------------------------------------------------------------------

def test_save_arrays_with_magnitudes_and_coefficients(zero, tmp_path):
    y = chord(SR // 2)
    c = zero.forward(y)
    mags = [np.abs(o) for o in c.octaves]  # what a model would produce, 2-D: mono
    path = save_arrays(tmp_path / "m.h5", zero.to_params(), SR // 2, mags,
                       lowpass=c.lowpass, highpass=c.highpass)
    with load(path) as box:
        assert box.store == "magnitude" and box.n_channels == 1
        assert box.dtype == np.float16  # float64 magnitudes: the store's default
        back = box.to_coefficients()
    np.testing.assert_allclose(np.abs(back.groups[4][0]), mags[3], rtol=1e-3, atol=1e-7)
    assert spectral_convergence(c, reconstruct(back, 20).inverse()) < -25
    # complex coefficients (3-D: channels first), the real bands left out: zeros
    path = save_arrays(tmp_path / "c.h5", zero, SR // 2, [o[None] for o in c.octaves])
    with load(path) as box:
        assert box.store == "complex" and box.dtype == np.complex128
        np.testing.assert_array_equal(box.lowpass[...], 0)
        audio = box.to_audio()[0]
    bands = Coefficients(zero, SR // 2, [np.zeros_like(c.groups[0])] + c.groups[1:-1]
                         + [np.zeros_like(c.groups[-1])])
    np.testing.assert_allclose(audio, bands.inverse()[0], atol=1e-9)


def test_save_arrays_with_other_frames(zero, tmp_path):
    """first_frames: any number of frames from any index (missing ones count as zero)."""
    c = zero.forward(chirp(4000))
    octaves = [np.abs(o[:, 5:-5]) for o in c.octaves]
    firsts = [f + (5 if 0 < g < len(c.groups) - 1 else 0) for g, f in enumerate(c.firsts)]
    path = save_arrays(tmp_path / "cut.h5", zero, 4000, octaves, first_frames=firsts)
    with load(path) as box:
        assert box.ranges[2] == (c.firsts[2] + 5, c.groups[2].shape[2] - 10)
        assert box.ranges[0] == zero.frame_range(0, 4000)
        assert np.isfinite(reconstruct(box.to_coefficients(), 2).inverse()).all()


def test_save_arrays_refuses_what_does_not_fit(zero, tmp_path):
    c = zero.forward(chirp(4000))
    mags = [np.abs(o) for o in c.octaves]
    frames = [o.shape[1] for o in mags]

    def refused(message, *args, error=ParameterError, **kwargs):
        with pytest.raises(error) as info:
            save_arrays(tmp_path / "bad.h5", *args, **kwargs)
        assert str(info.value) == message
        assert "\n" not in str(info.value)

    refused("octaves holds 4 arrays: the transform has 5 octaves", zero, 4000, mags[:4])
    bad = mags[:2] + [mags[2][:, :-1]] + mags[3:]
    refused(f"octaves[2] has shape (12, {frames[2] - 1}): must be (12, {frames[2]}) "
            "(bins, frames) for 4000 samples", zero, 4000, bad)
    refused(f"octaves[0] has shape (12, {frames[0]}): must be "
            f"(12, {zero.frame_range(1, 8000)[1]}) (bins, frames) for 8000 samples",
            zero, 8000, mags)
    bad = mags[:1] + [mags[1][:6]] + mags[2:]
    refused(f"octaves[1] has shape (6, {frames[1]}): must be (12, {frames[1]}) (bins, frames) "
            "for 4000 samples", zero, 4000, bad)
    stereo = [np.stack([m, m]) for m in mags]
    stereo[4] = stereo[4][:1]
    refused(f"octaves[4] has shape (1, 12, {frames[4]}): must be (2, 12, {frames[4]}) "
            "(channels, bins, frames) for 4000 samples", zero, 4000, stereo)
    refused("octaves[0] has shape (12,): must be (bins, frames) or (channels, bins, frames)",
            zero, 4000, [m[:, 0] for m in mags])
    refused(f"lowpass has shape {c.lowpass.shape[1:]}: must be {c.lowpass.shape} (bins, "
            "frames) for 4000 samples", zero, 4000, mags, lowpass=c.lowpass[0])
    refused("lowpass must be real (the band is a real waveform), not complex128", zero, 4000,
            mags, lowpass=c.lowpass + 0j)
    bad = [m.copy() for m in mags]
    bad[3][0, 0] = -0.5
    refused("octaves[3] holds negative values: magnitudes must be at least 0", zero, 4000, bad)
    bad[3][0, 0] = np.inf
    refused("octaves[3] holds NaN or Inf", zero, 4000, bad)
    refused("octaves mix complex and real arrays: give all coefficients or all magnitudes",
            zero, 4000, mags[:4] + [c.octaves[4]])
    refused("first_frames holds 3 values: must be 7 (lowpass, 5 octaves, highpass)", zero, 4000,
            mags, first_frames=[0, 0, 0])
    refused("transform parameters lack 'window': give MSFT.to_params()'s dict",
            {k: v for k, v in zero.to_params().items() if k != "window"}, 4000, mags)
    refused("n_samples=0 must be a positive integer", zero, 0, mags)
    refused("transform must be an MSFT or its to_params() dict, not str", "zero", 4000, mags,
            error=TypeError)
    refused("dtype='complex64' does not fit store='magnitude': must be one of float16, "
            "float32", zero, 4000, mags, dtype="complex64")
    periodic = MSFT(SR, fmin=FMIN, mode="periodic")
    pm = [np.abs(o) for o in periodic.forward(chirp(4000)).octaves]
    refused("periodic mode: every group must hold every frame of the period from first frame 0",
            periodic, 4000, [m[:, 1:] for m in pm], first_frames=[0, 1, 1, 1, 1, 1, 0])
    assert not list(tmp_path.iterdir())


# -- the command line -----------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.fixture
def clip(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    y = np.stack([chirp(SR), chord(SR)]).T
    sf.write("clip.wav", y, SR, subtype="FLOAT")
    return tmp_path / "clip.wav"


def test_cli_magnitude_round_trip(clip):
    out = ok(run("analyze", "clip.wav", "-o", "mag.h5", "--store", "magnitude", "--fmin",
                 FMIN)).output
    assert re.fullmatch(r"clip\.wav -> mag\.h5: 1\.00 s in [\d.]+ s \([\d.]+x realtime\), "
                        r"[\d.]+ KiB\n", out), out
    ok(run("analyze", "clip.wav", "-o", "full.h5", "--fmin", FMIN, "-q"))
    ok(run("analyze", "clip.wav", "-o", "f32.h5", "--fmin", FMIN, "-q", "--store", "magnitude",
           "--dtype", "float32"))
    with load("mag.h5") as box:
        assert box.store == "magnitude" and box.dtype == np.float16
    with load("f32.h5") as box:
        assert box.dtype == np.float32
    assert _storage("full.h5") == 4 * _storage("mag.h5") == 2 * _storage("f32.h5")
    assert "  storage     float16 magnitudes, " in ok(run("info", "mag.h5")).output
    result = ok(run("resynth", "mag.h5", "-o", "back.wav", "--iterations", "20"))
    line = re.fullmatch(r"mag\.h5 -> back\.wav: 1\.00 s in [\d.]+ s \([\d.]+x realtime\), "
                        r"spectral convergence (-[\d.]+) dB after 20 iterations from pghi\n",
                        result.stdout)
    assert line, result.stdout
    y, sr = sf.read("back.wav", always_2d=True)
    assert y.shape == (SR, 2) and sr == SR
    with load("full.h5") as box:
        target = box.to_coefficients()
    assert spectral_convergence(target, y.T) == pytest.approx(float(line.group(1)), abs=0.2)
    assert float(line.group(1)) < -20
    ok(run("render", "mag.h5", "-o", "mag.png", "-q"))
    assert (clip.parent / "mag.png").stat().st_size > 0


def test_cli_resynth_options(clip):
    ok(run("analyze", "clip.wav", "-o", "mag.h5", "--store", "magnitude", "--fmin", FMIN, "-q"))
    out = ok(run("resynth", "mag.h5", "-o", "r.wav", "--iterations", "0", "--phase-init",
                 "random")).stdout
    assert "after 0 iterations from random" in out
    assert ok(run("resynth", "mag.h5", "-o", "q.wav", "-q", "--iterations", "1")).stdout == ""
    result = run("resynth", "mag.h5", "--iterations", "-1")
    assert result.exit_code == 2 and "-1 is not in the range x>=0" in result.output
    result = run("resynth", "mag.h5", "--phase-init", "smart")
    assert result.exit_code == 2
    # a complex container ignores the phase options
    ok(run("analyze", "clip.wav", "-o", "full.h5", "--fmin", FMIN, "-q"))
    out = ok(run("resynth", "full.h5", "-o", "f.wav", "--iterations", "3")).stdout
    assert "spectral convergence" not in out


def test_resynth_reports_each_iteration(clip):
    """The phase progress: every iteration of every channel, through the library call and
    as a bar on stderr (never on stdout) from the command."""
    from msft_cli import convert
    ok(run("analyze", "clip.wav", "-o", "mag.h5", "--store", "magnitude", "--fmin", FMIN, "-q"))
    calls = []
    convert.resynth("mag.h5", "r.wav", iterations=3,
                    phase_progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 6) for k in range(1, 7)]  # 3 iterations x 2 channels
    result = ok(run("resynth", "mag.h5", "-o", "s.wav", "--iterations", "3"))
    assert result.stderr.startswith("phase")
    assert result.stdout.startswith("mag.h5 -> s.wav: 1.00 s in ")
    assert ok(run("resynth", "mag.h5", "-o", "t.wav", "--iterations", "3", "-q")).stderr == ""


@pytest.mark.parametrize("change, message", [
    ("bins", "dataset /octave_2 has shape (2, 6, {frames}), expected (2, 12, frames)"),
    ("channels", "dataset /octave_2 has shape (4, 12, {frames}), expected (2, 12, frames)"),
])
def test_cli_resynth_refuses_shapes_that_do_not_fit_the_transform(clip, change, message):
    """A magnitude container whose dataset does not match the stored transform (edited by
    hand, or a model's output written with h5py): a one-line error, exit status 1."""
    ok(run("analyze", "clip.wav", "-o", "mag.h5", "--store", "magnitude", "--fmin", FMIN, "-q"))
    with h5py.File("mag.h5", "r+") as f:
        a, attrs = f["octave_2"][...], dict(f["octave_2"].attrs)
        del f["octave_2"]
        f["octave_2"] = a[:, :6] if change == "bins" else np.concatenate([a, a])
        f["octave_2"].attrs.update(attrs)
    result = run("resynth", "mag.h5", "-o", "bad.wav")
    assert result.exit_code == 1
    assert result.output == f"Error: mag.h5: {message.format(frames=a.shape[2])}\n"
    assert not (clip.parent / "bad.wav").exists()


def test_cli_analyze_refuses_a_complex_dtype_for_magnitudes(clip):
    result = run("analyze", "clip.wav", "-o", "m.h5", "--store", "magnitude", "--dtype",
                 "complex64", "--fmin", FMIN)
    assert result.exit_code == 1
    assert result.output.endswith("Error: dtype='complex64' does not fit store='magnitude': "
                                  "must be one of float16, float32\n")
    assert not (clip.parent / "m.h5").exists()


def test_cli_resynth_of_a_model_output(zero, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = zero.forward(np.stack([chord(SR // 2)] * 2))
    save_arrays("model.h5", zero.to_params(), SR // 2, [np.abs(o) for o in c.octaves])
    out = ok(run("resynth", "model.h5", "--iterations", "5")).stdout
    assert out.startswith("model.h5 -> model.resynth.wav: 0.50 s in ")
    y, sr = sf.read("model.resynth.wav", always_2d=True)
    assert y.shape == (SR // 2, 2) and sr == SR and np.abs(y).max() > 0.1


# -- long containers: segments ----------------------------------------------------------

def test_long_containers_are_reconstructed_in_segments(zero, tmp_path):
    """8 s in segments of 2 s (overlaps of 1 s): contiguous blocks, the phases carried from
    one segment to the next, as good as the whole at once, and an honest figure."""
    from msft_cli.phase import resynthesize
    n = 8 * SR
    y = np.stack([np.concatenate([chirp(n // 2), chord(n // 2)]),
                  np.concatenate([chord(n // 2), chirp(n // 2)])])
    c = zero.forward(y)
    path = save(c, tmp_path / "long.h5", store="magnitude", dtype="float32")
    calls = []
    with load(path) as box:
        blocks, measured = resynthesize(box, 10, segment=2.0, overlap=1.0,
                                        progress=lambda d, t: calls.append((d, t)))
        out, at = np.zeros_like(y), 0
        for start, block in blocks:
            assert start == at and block.dtype == np.float64
            out[:, start:start + block.shape[1]] = block
            at = start + block.shape[1]
        assert at == n
        whole_blocks, whole = resynthesize(box, 10, segment=100.0)
        (_, whole_y), = list(whole_blocks)
    segments = calls[-1][1] // 20  # 10 iterations x 2 channels per segment
    assert segments == 4 and calls[-1][0] == calls[-1][1]
    true = spectral_convergence(c, out)
    assert true < whole["spectral_convergence_db"] + 2
    assert abs(measured["spectral_convergence_db"] - true) < 1.5
    assert true < -20


def test_init_is_the_old_name_of_phase_init():
    """reconstruct, iter_reconstruct and resynthesize took ``init=``; it still works for one
    release, with a DeprecationWarning, and giving both names is an error."""
    t = MSFT(8000, fmin=100.0)
    c = t.forward(np.random.default_rng(0).standard_normal(2000))
    mags = Coefficients(t, c.n_samples, [np.abs(g) if k not in (0, len(c.groups) - 1) else g
                                         for k, g in enumerate(c.groups)])
    with pytest.warns(DeprecationWarning, match=r"^reconstruct\(init=\.\.\.\) is deprecated "
                                                r"since msft 0\.2\.0: use phase_init=$"):
        old = reconstruct(mags, 2, init="zero")
    new = reconstruct(mags, 2, phase_init="zero")
    np.testing.assert_array_equal(old.octaves[0], new.octaves[0])
    with pytest.warns(DeprecationWarning, match=r"^iter_reconstruct\(init="):
        next(iter_reconstruct(mags, init="zero"))
    with pytest.raises(TypeError, match=r"^reconstruct\(\) got both init= and phase_init=: "
                                        r"give phase_init= only$"):
        reconstruct(mags, 2, init="zero", phase_init="zero")
