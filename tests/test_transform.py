"""Tests of msft_cli.engine.transform: round trips, calibration, block independence, frames, errors.

Most cases run at sr=16000 with fmin=100 Hz (margins of ~3 s) so that many of
them stay fast; the default parameters (fmin = E0 = 20.6 Hz, margins of ~13 s)
are exercised on real sample clips.
"""

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msft_cli.engine.blocks import STEP_MARGINS
from msft_cli.engine.coefficients import Coefficients
from msft_cli.engine.transform import MSFT
from msft_cli.errors import ParameterError

SR = 16000
FMIN = 100.0

#: SNR targets in dB (DESIGN.md), float64 unless said otherwise
PERIODIC_SNR = 290.0
ONE_BLOCK_SNR = 250.0
STREAMED_SNR = 140.0
COMPLEX64_SNR = 135.0


def _chirp(n, sr, f0=30.0, f1=None):
    """Linear chirp from f0 to f1 (default: 0.45 * sr) over n samples."""
    f1 = 0.45 * sr if f1 is None else f1
    t = np.arange(n) / sr
    dur = n / sr
    return np.sin(2 * np.pi * (f0 * t + (f1 - f0) / (2 * dur) * t ** 2))


def _impulse(n, pos):
    y = np.zeros(n)
    y[pos] = 1.0
    return y


def _blocks(transform, n_samples, channels=1):
    """Number of blocks ``iter_forward`` uses: the most pieces any one group comes in
    (each block yields at most one piece per group)."""
    def read(start, stop):
        return np.zeros((channels, stop - start))
    pieces = [0] * len(transform.groups)
    for g, _, _ in transform.iter_forward(read, n_samples, channels):
        pieces[g] += 1
    return max(pieces)


def _read_clip(path, seconds, start=1.0, mono=False):
    """``seconds`` of a sample clip from ``start`` s, float64, (channels, samples) or 1-D."""
    info = sf.info(str(path))
    y, sr = sf.read(str(path), start=int(start * info.samplerate),
                    frames=int(seconds * info.samplerate), dtype="float64", always_2d=True)
    y = y.T.copy()
    if mono:
        y = y.mean(axis=0)
    return y, sr


@pytest.fixture(scope="module")
def periodic44():
    return MSFT(44100, mode="periodic")


@pytest.fixture(scope="module")
def zero16():
    """sr=16000, fmin=100 Hz, zero mode, default block size (one block for a few seconds)."""
    return MSFT(SR, fmin=FMIN)


@pytest.fixture(scope="module")
def streamed16():
    """sr=16000, fmin=200 Hz (margins of ~1.3 s), advancing 4096 samples per block."""
    return MSFT(SR, fmin=200.0, block_size=4096)


@pytest.fixture(scope="module")
def techno_clip(sample_paths):
    """3 s of the techno clip (bass line and drums) mixed to mono, float64."""
    path = next(p for p in sample_paths if p.name == "techno_bassline.wav")
    return _read_clip(path, 3.0, start=2.0, mono=True)


# -- round trips: periodic mode ---------------------------------------------------

def _periodic_signals(rng, sr):
    n = sr
    t = np.arange(n) / sr
    sigs = {
        "noise": rng.standard_normal(n),
        "sine": 0.5 * np.sin(2 * np.pi * 440.0 * t + 0.3),
        "chirp": _chirp(n, sr, 30.0, 8000.0),
        "chirp_to_0.45sr": _chirp(n, sr),
        "clip_0.05s": rng.standard_normal(int(0.05 * sr)),
        "stereo": rng.standard_normal((2, n)),
    }
    for pos in (0, 1, n // 3, n - 2, n - 1):
        sigs[f"impulse@{pos}"] = _impulse(n, pos)
    return sigs


@pytest.mark.parametrize("name", [
    "noise", "sine", "chirp", "clip_0.05s", "stereo", "impulse@0", "impulse@1",
    "impulse@14700", "impulse@44098", "impulse@44099",
    "chirp_to_0.45sr",
])
def test_periodic_round_trip(periodic44, rng, snr, name):
    y = _periodic_signals(rng, 44100)[name]
    y_hat = periodic44.forward(y).inverse()
    assert y_hat.shape == y.shape and y_hat.dtype == np.float64
    assert snr(y, y_hat) >= PERIODIC_SNR


def test_periodic_round_trip_real_clip(sample_paths, snr):
    path = next(p for p in sample_paths if p.name == "house_beat.wav")
    y, sr = _read_clip(path, 2.0)
    t = MSFT(sr, mode="periodic")
    y_hat = t.inverse(t.forward(y))
    assert y_hat.shape == y.shape
    assert snr(y, y_hat) >= PERIODIC_SNR


# -- round trips: zero mode -------------------------------------------------------

@pytest.mark.parametrize("name", ["noise", "impulse_first", "impulse_last", "chirp", "stereo",
                                  "short"])
def test_zero_mode_one_block_round_trip(zero16, rng, snr, name):
    n = 2 * SR
    y = {"noise": lambda: rng.standard_normal(n),
         "impulse_first": lambda: _impulse(n, 0),
         "impulse_last": lambda: _impulse(n, n - 1),
         "chirp": lambda: _chirp(n, SR),
         "stereo": lambda: rng.standard_normal((2, n)),
         "short": lambda: rng.standard_normal(int(0.05 * SR))}[name]()
    assert _blocks(zero16, y.shape[-1]) == 1
    y_hat = zero16.forward(y).inverse()
    assert y_hat.shape == y.shape
    assert snr(y, y_hat) >= ONE_BLOCK_SNR


def test_zero_mode_one_block_hann(rng, snr):
    t = MSFT(8000, fmin=200.0, window="hann")
    y = rng.standard_normal(8000)
    assert _blocks(t, len(y)) == 1
    assert snr(y, t.forward(y).inverse()) >= ONE_BLOCK_SNR


@pytest.mark.parametrize("name", ["noise", "impulse_first", "impulse_last", "impulse_mid",
                                  "chirp", "stereo"])
def test_zero_mode_streamed_round_trip(streamed16, rng, snr, name):
    n = SR
    y = {"noise": lambda: rng.standard_normal(n),
         "impulse_first": lambda: _impulse(n, 0),
         "impulse_last": lambda: _impulse(n, n - 1),
         "impulse_mid": lambda: _impulse(n, 4096 * 3 + 17),  # near a block boundary
         "chirp": lambda: _chirp(n, SR),
         "stereo": lambda: rng.standard_normal((2, n))}[name]()
    assert _blocks(streamed16, n) > 10
    y_hat = streamed16.forward(y).inverse()
    assert y_hat.shape == y.shape
    assert snr(y, y_hat) >= STREAMED_SNR


@pytest.mark.parametrize("mode, block_size", [("zero", None), ("zero", 4096),
                                              ("periodic", None)])
@pytest.mark.parametrize("signal", ["noise", "chirp"])
def test_complex64_round_trip(rng, snr, mode, block_size, signal):
    n = SR + 123
    y64 = rng.standard_normal(n) if signal == "noise" else _chirp(n, SR)
    y32 = y64.astype(np.float32)
    t = MSFT(SR, fmin=200.0 if block_size else FMIN, mode=mode, block_size=block_size)
    c = t.forward(y32)
    assert c.dtype == np.complex64
    y_hat = c.inverse()
    assert y_hat.dtype == np.float32 and y_hat.shape == y64.shape
    assert snr(y64, y_hat) >= COMPLEX64_SNR  # measured against the float64 original


def test_complex64_round_trip_real_clip(sample_paths, snr):
    path = next(p for p in sample_paths if p.name == "thai_pentatonic.wav")
    y64, sr = _read_clip(path, 1.0)
    t = MSFT(sr, fmin=220.0, block_size=1 << 14)
    assert _blocks(t, y64.shape[-1], channels=2) > 2
    y_hat = t.forward(y64.astype(np.float32)).inverse()
    assert snr(y64, y_hat) >= COMPLEX64_SNR


# -- real clips at the default parameters ------------------------------------------

@pytest.fixture(scope="module")
def default_coefficients(techno_clip):
    """Coefficients of the techno clip at the default parameters, per block size."""
    y, sr = techno_clip
    out = {}
    for block_size in (None, 2 ** 18, 2 ** 16):
        out[block_size] = MSFT(sr, block_size=block_size).forward(y)
    return out


def test_default_parameters_round_trip_real_clip(techno_clip, default_coefficients, snr):
    y, sr = techno_clip
    c = default_coefficients[None]
    t = c.transform
    assert t.fmin == pytest.approx(20.6017, abs=1e-4) and t.n_octaves == 10
    assert _blocks(t, y.shape[-1]) == 1
    y_hat = c.inverse()
    assert y_hat.shape == y.shape
    assert snr(y, y_hat) >= ONE_BLOCK_SNR


def test_default_parameters_streamed_round_trip_real_clip(techno_clip, default_coefficients,
                                                          snr):
    y, _ = techno_clip
    c = default_coefficients[2 ** 18]
    assert _blocks(c.transform, y.shape[-1]) > 3
    assert snr(y, c.inverse()) >= STREAMED_SNR


@pytest.mark.parametrize("block_size", [2 ** 16, 2 ** 18])
def test_block_size_independence(default_coefficients, block_size):
    whole = default_coefficients[None]
    blocked = default_coefficients[block_size]
    assert blocked.transform.block_size == block_size
    for g, (a, b) in enumerate(zip(blocked.groups, whole.groups)):
        assert a.shape == b.shape and a.dtype == b.dtype
        rel = np.max(np.abs(a - b)) / np.max(np.abs(b))
        assert rel <= 1e-6, (g, rel)


def test_block_size_independence_small_blocks(rng):
    """Also for tiny blocks (a few coarsest hops) in a cheap layout."""
    y = rng.standard_normal((2, SR))
    ref = MSFT(SR, fmin=200.0).forward(y)
    for block_size in (3000, 8192):
        c = MSFT(SR, fmin=200.0, block_size=block_size).forward(y)
        for a, b in zip(c.groups, ref.groups):
            assert np.max(np.abs(a - b)) / np.max(np.abs(b)) <= 1e-6


@pytest.mark.parametrize("seconds", [0.05, 1.0, 5.0])
def test_short_signals_take_shorter_blocks(rng, snr, seconds):
    """With the default block size, a short signal gets a shorter step (one block per
    stage, from the stage's ladders) and the coefficients of the long block."""
    t = MSFT(44100)
    y = rng.standard_normal((2, int(seconds * 44100)))
    steps = t._steps(y.shape[1])
    assert steps[-1] < t.block_size and max(steps) <= t.block_size  # the high stage's
    assert all(s in coarse + fine for s, (coarse, fine) in zip(steps, t._ladders))
    assert all(s >= stage.margin for s, stage in zip(steps, t._stages))
    assert _blocks(t, y.shape[1]) == 1
    c = t.forward(y)
    ref = MSFT(44100, block_size=t.block_size).forward(y)  # explicit: never shortened
    assert ref.transform._steps(y.shape[1]) == [t.block_size] * len(t._stages)
    for a, b in zip(c.groups, ref.groups):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) / np.max(np.abs(b)) <= 1e-9
    assert snr(y, c.inverse()) >= ONE_BLOCK_SNR


def test_seams_get_longer_margins(rng, snr):
    """60 s from 110 Hz: several blocks in each stage, so seam margins (twice the
    extents), and the round trip stays near the one-block floor (it was ~258 dB with
    the one-block margins at the seams). (From the default 20.6 Hz, the low stage
    takes 60 s in one block.)"""
    t = MSFT(44100, fmin=110)
    y = rng.standard_normal(60 * 44100)
    plan = t._block_plan(len(y))
    assert [m for _, m in plan] == [stage.seam for stage in t._stages]
    assert all(stage.seam > stage.margin for stage in t._stages)
    assert _blocks(t, len(y)) > 1
    assert snr(y, t.forward(y).inverse()) >= 295


def test_one_block_keeps_short_margins():
    """A clip whose stages fit one block each has no seams: the short margins."""
    t = MSFT(44100)
    plan = t._block_plan(44100)
    assert [m for _, m in plan] == [stage.margin for stage in t._stages]
    assert _blocks(t, 44100) == 1


@pytest.mark.parametrize("seconds", [60, 300])
def test_low_stage_takes_a_song_in_one_block(seconds):
    """At the defaults, the decimated low stage's frames of a 1 to 5 minute file (its
    span: the file and 13 s of filter reach each side) fit one block: no seam, the
    short margins, a step from the finer ladder just above the span (the high stage
    keeps its short seamed blocks)."""
    t = MSFT(44100)
    n = seconds * 44100
    (step, margin), (high_step, high_margin) = t._block_plan(n)
    low, high = t._stages
    ranges = [t.frame_range(g, n) for g in range(len(t.groups))]
    lo, hi = t.blocks.spans(ranges, n)[0]
    coarse, fine = t._ladders[0]
    assert margin == low.margin and step in fine and hi - lo <= step < 1.25 * (hi - lo)
    assert step > t.block_size  # beyond the one-rate default: the old plan had seams
    assert high_margin == high.seam and high_step < hi - lo


def test_one_longer_block_replaces_two(rng):
    """16 s at the defaults: the high stage's frames just exceed one default step; one
    block from the finer ladder (no seam, short margins) is cheaper than two, and
    gives the coefficients of an explicit block size."""
    t = MSFT(44100)
    y = rng.standard_normal(16 * 44100)
    (_, _), (step, margin) = t._block_plan(len(y))
    high = t._stages[1]
    ladder, fine = t._ladders[1]
    assert step not in ladder and step in fine and margin == high.margin
    assert _blocks(t, len(y)) == 1
    ref = MSFT(44100, block_size=ladder[3])  # several seamed blocks in each stage
    assert _blocks(ref, len(y)) > 1
    for a, b in zip(t.forward(y).groups, ref.forward(y).groups):
        assert np.max(np.abs(a - b)) / np.max(np.abs(b)) <= 1e-9


def test_default_steps_meet_few_block_lengths():
    t = MSFT(44100)
    plans = {tuple(t._block_plan(n)) for n in np.geomspace(100, 200 * 44100, 60).astype(int)}
    # (step, margin) of both stages: each a pair of block lengths; the low stage's
    # one block comes from the finer ladder (four steps an octave) up to ~4 minutes
    assert len(plans) <= 14
    low = t._stages[0]
    plan = t._block_plan(600 * 44100)  # long: seams in both stages, each step the
    for (step, margin), stage, (ladder, _) in zip(plan, t._stages, t._ladders):  # ladder's
        assert margin == stage.seam and step in ladder  # shortest of STEP_MARGINS margins
        assert STEP_MARGINS * stage.margin <= step < 2 * STEP_MARGINS * stage.margin
    assert plan[0][0] > t.block_size > plan[1][0]  # the decimated stage's ladder reaches
    assert t._ladders[0][0][0] == t.block_size * low.decimation  # D times further
    assert MSFT(44100, block_size=t.block_size)._steps(600 * 44100) == [t.block_size] * 2


# -- property tests ---------------------------------------------------------------

@st.composite
def _cases(draw):
    sr = draw(st.integers(8000, 16000))
    fmin = draw(st.floats(50.0, min(2000.0, sr / 4)))
    bins_per_octave = draw(st.integers(1, 24))
    n = draw(st.integers(1, 5000))
    channels = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return sr, fmin, bins_per_octave, n, channels, seed


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=_cases(), mode=st.sampled_from(["zero", "periodic"]))
def test_round_trip_property(snr, case, mode):
    sr, fmin, bins_per_octave, n, channels, seed = case
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(n) if channels == 1 else rng.standard_normal((channels, n))
    t = MSFT(sr, fmin=fmin, bins_per_octave=bins_per_octave, mode=mode)
    c = t.forward(y)
    for g, a in enumerate(c.groups):
        assert a.shape == (channels, t.groups[g].n_bins, t.frame_range(g, n)[1])
    y_hat = c.inverse()
    assert y_hat.shape == y.shape and y_hat.dtype == np.float64
    # zero mode streams in blocks when the margins are short: the streamed target holds.
    # Periodic mode is one exact block; over random layouts it measures 284-310 dB (worst
    # seen: sr=14084, 24 bins, fmin=751 Hz, 109 samples: 283.8 dB), so 280 dB here.
    assert snr(y, y_hat) >= (STREAMED_SNR if mode == "zero" else 280.0)


@settings(max_examples=25, deadline=None)
@given(case=_cases())
def test_complex64_property(snr, case):
    sr, fmin, bins_per_octave, n, channels, seed = case
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((channels, n))
    t = MSFT(sr, fmin=fmin, bins_per_octave=bins_per_octave)
    y_hat = t.forward(y.astype(np.float32)).inverse()
    assert y_hat.dtype == np.float32 and y_hat.shape == y.shape
    assert snr(y, y_hat) >= COMPLEX64_SNR


# -- calibration ------------------------------------------------------------------

@pytest.fixture(scope="module")
def calibration_transforms():
    return {12: MSFT(SR, fmin=FMIN), 24: MSFT(SR, fmin=FMIN, bins_per_octave=24),
            "hann": MSFT(8000, fmin=200.0, window="hann")}


@pytest.mark.parametrize("which, octave, b", [
    (12, 0, 0),    # 100 Hz, the lowest band
    (12, 1, 5),    # 267 Hz
    (12, 3, 3),    # 951 Hz
    (12, 5, 11),   # 6.0 kHz, the highest band
    (24, 2, 13),   # 586 Hz
    (24, 4, 7),    # 1957 Hz
    ("hann", 1, 4),  # 504 Hz with the hann window
])
def test_sine_at_band_centre_has_its_amplitude(calibration_transforms, which, octave, b):
    t = calibration_transforms[which]
    sr = t.sr
    f = t.frequencies[octave][b]
    # for b > 0, 2**(b/B) is irrational: the centre is on no FFT bin of any block length
    amplitude = 0.37
    n = 4 * sr
    y = amplitude * np.cos(2 * np.pi * f * np.arange(n) / sr + 0.7)
    c = t.forward(y)
    times = c.frame_times(octave)
    middle = (times > 1.5) & (times < 2.5)  # far from the edges' transients
    mag = np.abs(c.octaves[octave][b, middle])
    np.testing.assert_allclose(mag, amplitude, rtol=0.01)
    for other in (octave - 1, octave + 1):  # the same bin an octave away is silent
        if 0 <= other < t.n_octaves:
            tt = c.frame_times(other)
            assert np.abs(c.octaves[other][b, (tt > 1.5) & (tt < 2.5)]).max() < 0.01 * amplitude


def test_sine_on_an_fft_bin_has_its_amplitude():
    """fmin=125 Hz = 16000/128 lies on the bin grid of every block length used."""
    t = MSFT(SR, fmin=125.0)
    n = 4 * SR
    for octave in (0, 2):
        f = t.frequencies[octave][0]
        y = 0.5 * np.sin(2 * np.pi * f * np.arange(n) / SR)
        c = t.forward(y)
        tt = c.frame_times(octave)
        mag = np.abs(c.octaves[octave][0, (tt > 1.5) & (tt < 2.5)])
        np.testing.assert_allclose(mag, 0.5, rtol=0.01)


def test_residual_bands_calibrated(zero16):
    """A constant lands in the low-pass band, a Nyquist-rate alternation in the high-pass
    band, each with its amplitude."""
    n = 3 * SR
    a = 0.3
    c = zero16.forward(np.full(n, a))
    tt = c.frame_times("lowpass")
    np.testing.assert_allclose(c.lowpass[0, (tt > 1) & (tt < 2)], a, rtol=1e-3)
    assert max(np.abs(o[:, (c.frame_times(j) > 1) & (c.frame_times(j) < 2)]).max()
               for j, o in enumerate(c.octaves)) < 1e-3 * a
    c = zero16.forward(a * (-1.0) ** np.arange(n))
    tt = c.frame_times("highpass")
    np.testing.assert_allclose(np.abs(c.highpass[0, (tt > 1) & (tt < 2)]), a, rtol=1e-3)


# -- frame grids ------------------------------------------------------------------

def _band(t, group):
    """The public name of band group ``group`` (0 = low-pass): an octave or a real band."""
    return ("lowpass", *range(t.n_octaves), "highpass")[group]


def _frame_samples(c, group):
    """Times of a group's stored frames in samples (exact integers)."""
    t = c.transform
    first, count = t.frame_range(group, c.n_samples)
    return (first + np.arange(count)) * t.groups[group].hop


@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_frame_grids_nest(mode):
    """Frame k of octave j sits at the time of frame 2k of octave j+1, hops halve."""
    t = MSFT(SR, fmin=FMIN, mode=mode)
    n = SR + 77
    c = t.forward(np.zeros(n))
    hops = t.hops
    assert hops == [512, 256, 128, 64, 32, 16]
    for j in range(t.n_octaves - 1):
        assert hops[j] == 2 * hops[j + 1]
        a, b = _frame_samples(c, j + 1), _frame_samples(c, j + 2)
        np.testing.assert_allclose(c.frame_times(j), a / SR, rtol=0, atol=1e-12)
        # global index k of octave j and 2k of octave j+1 share a time
        ka = c.first_frame(j) + np.arange(len(a))
        assert np.array_equal(ka * hops[j], (2 * ka) * hops[j + 1])
        # where both octaves hold frames, the coarse times are exactly every second fine one
        lo, hi = max(a[0], b[0]), min(a[-1], b[-1])
        fine = b[(b >= lo) & (b <= hi)]
        coarse = a[(a >= lo) & (a <= hi)]
        assert len(coarse) > 10
        assert set(coarse) == set(fine[(fine // hops[j + 1]) % 2 == 0])
        # and the fine grid covers the whole signal at least as densely
        assert b[0] <= 0 and b[-1] >= n - 1


@pytest.mark.parametrize("mode", ["periodic"])
def test_stored_frame_times_are_subsets(mode):
    """The stored frame times of octave j are a subset of those of octave j+1.

    Only in periodic mode: in zero mode each octave keeps frames as far beyond
    the edges as its own filters reach, so coarse octaves reach further out (the
    grids still nest: see the test above).
    """
    t = MSFT(SR, fmin=FMIN, mode=mode)
    c = t.forward(np.zeros(SR + 77))
    for j in range(t.n_octaves - 1):
        a, b = _frame_samples(c, j + 1), _frame_samples(c, j + 2)
        assert set(a) <= set(b), j
        assert set(a) == set(b[::2] if c.first_frame(j + 1) % 2 == 0 else b[1::2])


@pytest.mark.parametrize("n", [1, 1000, SR + 77])
def test_frames_cover_signal_and_extents(n):
    t = MSFT(SR, fmin=FMIN)
    c = t.forward(np.ones(n))
    for g, group in enumerate(t.groups):
        first, count = t.frame_range(g, n)
        assert c.first_frame(_band(t, g)) == first
        assert c.groups[g].shape == (1, group.n_bins, count)
        assert first < 0
        start, stop = first * group.hop, (first + count) * group.hop  # stop is exclusive
        assert start <= -group.extent < start + group.hop  # just reaches the extent
        assert stop - group.hop <= n - 1 + group.extent < stop
        times = c.frame_times(_band(t, g))
        assert len(times) == count
        np.testing.assert_allclose(times, (first + np.arange(count)) * group.hop / SR,
                                   rtol=0, atol=1e-12)


def test_periodic_frames_tile_the_period():
    t = MSFT(SR, fmin=FMIN, mode="periodic")
    hop_max = max(g.hop for g in t.groups)
    for n in (1, 1000, SR, 3 * SR + 1):
        period = t.period(n)
        assert period >= n and period % hop_max == 0
        m = period // hop_max
        while m % 2 == 0:
            m //= 2
        assert m in (1, 3, 5, 7)
        for g, group in enumerate(t.groups):
            assert t.frame_range(g, n) == (0, period // group.hop)


def test_impulse_peaks_at_its_frame_time(zero16):
    """Frame times are real times: an impulse on the coarsest grid peaks there in every
    group (the bands' filters are zero-phase)."""
    n = 2 * SR
    pos = 512 * 21
    c = zero16.forward(_impulse(n, pos))
    for g in range(len(zero16.groups)):
        env = np.abs(c.groups[g][0]).max(axis=0)
        assert c.frame_times(_band(zero16, g))[np.argmax(env)] * SR == pytest.approx(pos)


def test_iter_forward_yields_each_frame_once_in_order(streamed16, rng):
    n = SR
    y = rng.standard_normal((1, n))

    def read(start, stop):
        out = np.zeros((1, stop - start))
        a, b = max(start, 0), min(stop, n)
        if b > a:
            out[:, a - start:b - start] = y[:, a:b]
        return out

    nxt = {g: streamed16.frame_range(g, n)[0] for g in range(len(streamed16.groups))}
    for g, first, arr in streamed16.iter_forward(read, n, 1):
        assert first == nxt[g]
        nxt[g] += arr.shape[2]
    for g in nxt:
        first, count = streamed16.frame_range(g, n)
        assert nxt[g] == first + count


def test_iter_forward_converts_to_the_dtype_asked(streamed16, rng):
    y = rng.standard_normal((2, SR // 2))

    def read(start, stop):
        out = np.zeros((2, stop - start))
        a, b = max(start, 0), min(stop, y.shape[1])
        if b > a:
            out[:, a - start:b - start] = y[:, a:b]
        return out

    wide = list(streamed16.iter_forward(read, y.shape[1], 2))
    narrow = list(streamed16.iter_forward(read, y.shape[1], 2, dtype="complex64"))
    assert [(g, f) for g, f, _ in wide] == [(g, f) for g, f, _ in narrow]
    for (g, _, a), (_, _, b) in zip(wide, narrow):
        real = streamed16.groups[g].kind != "octave"
        assert a.dtype == (np.float64 if real else np.complex128)
        assert b.dtype == (np.float32 if real else np.complex64) and b.flags.c_contiguous
        np.testing.assert_array_equal(b, a.astype(b.dtype))
    with pytest.raises(ParameterError, match="dtype=float32 must be complex64 or complex128"):
        next(streamed16.iter_forward(read, y.shape[1], 2, dtype="float32"))


# -- shapes and dtypes ------------------------------------------------------------

def test_mono_shapes(zero16, rng):
    y = rng.standard_normal(3000)
    c = zero16.forward(y)
    assert c.mono and c.n_channels == 1 and c.n_samples == 3000
    assert len(c.groups) == zero16.n_octaves + 2 and len(c.octaves) == zero16.n_octaves
    for j, o in enumerate(c.octaves):
        assert o.shape == (12, zero16.frame_range(j + 1, 3000)[1]) and o.dtype == np.complex128
    assert c.lowpass.shape[0] == 1 and c.lowpass.ndim == 2 and c.lowpass.dtype == np.float64
    assert c.highpass.shape[0] == 1 and c.highpass.ndim == 2 and c.highpass.dtype == np.float64
    assert c.size == sum(a.size for a in c.groups)
    out = c.inverse()
    assert out.shape == (3000,) and out.dtype == np.float64


def test_stereo_shapes(zero16, rng):
    y = rng.standard_normal((2, 3000))
    c = zero16.forward(y)
    assert not c.mono and c.n_channels == 2
    assert all(o.shape[:2] == (2, 12) for o in c.octaves)
    assert c.lowpass.shape[:2] == (2, 1) and c.highpass.shape[:2] == (2, 1)
    assert c.inverse().shape == (2, 3000)
    # channels are transformed independently
    left = zero16.forward(y[0])
    for a, b in zip(c.groups, left.groups):
        np.testing.assert_array_equal(a[0], b[0])


def test_single_channel_2d_stays_2d(zero16, rng):
    y = rng.standard_normal((1, 500))
    c = zero16.forward(y)
    assert not c.mono and c.octaves[0].shape[0] == 1
    assert c.inverse().shape == (1, 500)


def test_float32_gives_complex64_and_float32(zero16, rng):
    y = rng.standard_normal(2000).astype(np.float32)
    c = zero16.forward(y)
    assert c.dtype == np.complex64
    assert [a.dtype for a in c.groups] == ([np.float32] + [np.complex64] * zero16.n_octaves
                                          + [np.float32])
    assert c.inverse().dtype == np.float32


def test_other_real_types_and_explicit_dtype(zero16, rng):
    y16 = (rng.standard_normal(1000) * 1000).astype(np.int16)
    c = zero16.forward(y16)
    assert c.dtype == np.complex128 and c.inverse().dtype == np.float64
    c = zero16.forward(y16.astype(np.float64), dtype="complex64")
    assert c.dtype == np.complex64 and c.lowpass.dtype == np.float32
    c = zero16.forward(np.ones(10, np.float32), dtype=np.complex128)
    assert c.dtype == np.complex128


def test_params_round_trip(zero16, rng, snr):
    params = zero16.to_params()
    assert params == {"sr": SR, "fmin": FMIN, "bins_per_octave": 12, "n_octaves": 6,
                      "tuning": 440.0, "window": "bump", "mode": "zero", "gamma": 0.0,
                      "oversample": 1}
    other = MSFT.from_params(params, threads=1, planner="estimate", block_size=4096)
    assert other.to_params() == params and other.block_size == 4096
    y = rng.standard_normal(5000)
    # coefficients carry their parameters: another transform with the same ones inverts them
    assert snr(y, other.inverse(zero16.forward(y))) >= STREAMED_SNR


def test_fmax_takes_the_fewest_octaves_reaching_it():
    # octave tops (centre of their last band) at fmin=100: 189, 378, 755, 1510, 3020, 6040 Hz
    for fmax, expected in [(1000.0, 4), (1510.0, 4), (1511.0, 5), (3000.0, 5), (6000.0, 6)]:
        t = MSFT(SR, fmin=FMIN, fmax=fmax)
        assert t.n_octaves == expected, fmax
        assert t.fmax >= fmax  # the top band reaches fmax ...
        assert FMIN * 2 ** (expected - 1 - 1 / 12) < fmax  # ... one octave fewer falls short


def test_default_fmin_follows_tuning_and_bins():
    assert MSFT(SR, tuning=432.0).fmin == pytest.approx(432.0 * 2 ** (-53 / 12))
    assert MSFT(SR, bins_per_octave=24).fmin == pytest.approx(440.0 * 2 ** (-107 / 24))


@pytest.mark.parametrize("kwargs", [dict(fmax=2000.0), dict(n_octaves=7),
                                    dict(fmin=FMIN, fmax=300.0)])
def test_limited_range_round_trip(kwargs, rng, snr):
    sr = 44100 if "fmin" not in kwargs else SR
    t = MSFT(sr, mode="periodic", **kwargs)
    y = rng.standard_normal(4000)
    assert snr(y, t.forward(y).inverse()) >= PERIODIC_SNR


# -- errors -----------------------------------------------------------------------

@pytest.mark.parametrize("y, exc, message", [
    (np.zeros(0), ParameterError, "y has no samples"),
    (np.zeros((2, 0)), ParameterError, "y has no samples"),
    (np.zeros((0, 5)), ParameterError, "y has no samples"),
    (np.array([0.0, np.nan, 1.0]), ParameterError, "y contains NaN or Inf samples"),
    (np.array([[0.0, 1.0], [np.inf, 0.0]]), ParameterError, "y contains NaN or Inf samples"),
    (np.array([0.0, -np.inf]), ParameterError, "y contains NaN or Inf samples"),
    (np.zeros((1, 2, 3)), ParameterError,
     "y has 3 dimensions: must be (samples,) or (channels, samples)"),
    (np.array(1.0), ParameterError,
     "y has 0 dimensions: must be (samples,) or (channels, samples)"),
    (np.zeros(5, complex), TypeError, "y must be a real numeric array, not complex128"),
    (np.zeros(5, np.complex64), TypeError, "y must be a real numeric array, not complex64"),
    (np.array(["a", "b"]), TypeError, "y must be a real numeric array, not <U1"),
])
def test_forward_errors(zero16, y, exc, message):
    with pytest.raises(exc) as info:
        zero16.forward(y)
    assert type(info.value) is exc
    assert str(info.value) == message


def test_forward_bad_dtype(zero16):
    with pytest.raises(ParameterError) as info:
        zero16.forward(np.zeros(5), dtype="float32")
    assert str(info.value) == "dtype=float32 must be complex64 or complex128"


def test_inverse_with_other_parameters(zero16):
    c = MSFT(SR, fmin=125.0).forward(np.ones(100))
    with pytest.raises(ParameterError) as info:
        zero16.inverse(c)
    assert str(info.value) == (
        "coefficients were made by MSFT(sr=16000, fmin=125.0000, bins_per_octave=12, "
        "n_octaves=6, window='bump', mode='zero'), not MSFT(sr=16000, fmin=100.0000, "
        "bins_per_octave=12, n_octaves=6, window='bump', mode='zero')")
    c = MSFT(SR, fmin=FMIN, mode="periodic").forward(np.ones(100))
    with pytest.raises(ParameterError, match="mode='periodic'"):
        zero16.inverse(c)


def test_inverse_needs_coefficients(zero16):
    with pytest.raises(TypeError) as info:
        zero16.inverse(np.zeros((1, 12, 5)))
    assert str(info.value) == "coefficients must be a Coefficients object, not ndarray"


def test_coefficients_shape_checked(zero16):
    c = zero16.forward(np.ones(100))
    groups = list(c.groups)
    bad = groups[1][:, :, :-1]
    with pytest.raises(ParameterError) as info:
        Coefficients(zero16, 100, [groups[0], bad] + groups[2:])
    count = zero16.frame_range(1, 100)[1]
    assert str(info.value) == (f"octave_0 has shape {bad.shape}: must be (channels, 12, "
                               f"{count}) for 100 samples")
    with pytest.raises(ParameterError) as info:
        Coefficients(zero16, 100, groups[:-1])
    assert str(info.value) == "expected 8 band groups, got 7"


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(fmax=1000.0, n_octaves=3), ParameterError, "give n_octaves or fmax, not both"),
    (dict(fmax=10.0), ParameterError, "fmax=10 must be above fmin=20.6017 Hz"),
    (dict(mode="reflect"), ParameterError,
     "mode='reflect' is unknown: must be one of zero, periodic"),
    (dict(block_size=0), ParameterError, "block_size=0 must be at least 1 sample"),
    (dict(block_size=-5), ParameterError, "block_size=-5 must be at least 1 sample"),
    (dict(block_size=1.5), TypeError, "block_size must be an int, not float"),
    (dict(threads=0), ParameterError, "threads=0 must be at least 1"),
    (dict(threads=2.0), TypeError, "threads must be an int, not float"),
    (dict(planner="wisdom"), ParameterError,
     "planner='wisdom' is unknown: must be one of estimate, measure, patient"),
    (dict(tuning=0.0), ParameterError, "tuning=0 must be a positive frequency in Hz"),
    (dict(tuning=float("nan")), ParameterError, "tuning=nan must be a positive frequency in Hz"),
    (dict(bins_per_octave=0), ParameterError,
     "bins_per_octave=0 is out of range: must be between 1 and 64"),
    (dict(bins_per_octave=65), ParameterError,
     "bins_per_octave=65 is out of range: must be between 1 and 64"),
    (dict(bins_per_octave=12.0), TypeError, "bins_per_octave must be an int, not float"),
    (dict(fmin=0.0), ParameterError, "fmin=0 must be a positive frequency in Hz"),
    (dict(window="kaiser"), ParameterError,
     "window='kaiser' is unknown: must be one of bump, hann"),
    (dict(n_octaves=11), ParameterError,
     "n_octaves=11 does not fit: must be between 1 and 10 for fmin=20.6017 Hz at sr=44100"),
])
def test_constructor_errors(kwargs, exc, message):
    with pytest.raises(exc) as info:
        MSFT(44100, **kwargs)
    assert type(info.value) is exc
    assert str(info.value) == message


def test_constructor_sr_errors():
    with pytest.raises(ParameterError) as info:
        MSFT(500)
    assert str(info.value) == "sr=500 is too low: must be at least 1000 Hz"
    with pytest.raises(TypeError) as info:
        MSFT(44100.0)
    assert str(info.value) == "sr must be an int, not float"


def test_block_size_rounded_to_coarsest_hop():
    t = MSFT(SR, fmin=FMIN, block_size=1000)
    hop_max = max(g.hop for g in t.groups)
    assert t.block_size == 1024 == hop_max * 2
    assert MSFT(SR, fmin=FMIN, block_size=1).block_size == hop_max
    # the default block covers at least two margins
    default = MSFT(SR, fmin=FMIN)
    assert default.block_size >= 2 * default.margin
    assert default.margin % hop_max == 0
    assert default.margin >= max(g.extent for g in default.groups)


def test_the_parameter_registry_is_the_constructors():
    """PARAMS, OPTIONS and KEYWORDS name every keyword of MSFT, and to_params gives PARAMS."""
    import inspect

    from msft_cli.engine.transform import KEYWORDS, OPTIONS, PARAMS
    keywords = tuple(inspect.signature(MSFT.__init__).parameters)[2:]  # self, sr
    assert KEYWORDS == keywords
    assert set(PARAMS) | set(OPTIONS) | {"fmax"} == {"sr", *keywords}
    t = MSFT(SR, fmin=FMIN, bins_per_octave=6, mode="periodic", threads=1)
    assert tuple(t.to_params()) == PARAMS
    assert MSFT.from_params({**t.to_params(), "n_samples": 5}, threads=2) == t


def test_transforms_are_equal_by_their_parameters_and_read_only():
    a = MSFT(SR, fmin=FMIN, threads=1)
    b = MSFT(SR, fmin=FMIN, threads=2, planner="measure", block_size=4096)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != MSFT(SR, fmin=FMIN, mode="periodic") and a != "MSFT"
    for name in ("sr", "fmin", "tuning", "mode", "window", "block_size", "n_octaves"):
        with pytest.raises(AttributeError):
            setattr(a, name, getattr(a, name))


def test_from_params_names_the_missing_parameter():
    params = MSFT(SR, fmin=FMIN).to_params()
    del params["window"]
    with pytest.raises(ParameterError, match=r"^transform parameters lack 'window': give "
                                             r"MSFT.to_params\(\)'s dict$"):
        MSFT.from_params(params)


def test_bands_are_named_one_way_in_coefficients_and_containers(tmp_path):
    """Octave j (coarse to fine), "lowpass" and "highpass": the same band for frame_times
    of Coefficients and of the container they are saved to."""
    from msft_cli import load, save
    t = MSFT(SR, fmin=FMIN)
    c = t.forward(np.random.default_rng(1).standard_normal(SR // 2))
    save(c, tmp_path / "c.h5", dtype="complex128")
    with load(tmp_path / "c.h5") as box:
        for band in (*range(t.n_octaves), "lowpass", "highpass"):
            np.testing.assert_array_equal(c.frame_times(band), box.frame_times(band))
    assert c.first_frame(0) == c.firsts[1] and c.first_frame("highpass") == c.firsts[-1]
    for bad in (t.n_octaves, -1, True, "octave_0"):
        with pytest.raises(ParameterError, match=r"^octave=.* does not exist: must be 0\.\.5 "
                                                 r"or 'lowpass' or 'highpass'$"):
            c.frame_times(bad)
