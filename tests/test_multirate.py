"""Tests of zero mode's two-rate processing (msft_cli.engine.transform with msft_cli.engine.kernels).

The low stage (low-pass band and the lowest octaves) runs on the signal
low-passed and decimated by ``D``; the high stage runs at the full rate with
short margins. In exact arithmetic the coefficients are those of one rate:
these tests compare both paths, check the split's invariants, round trips
across block boundaries, and that the buffer between the stages stays bounded.
"""

import numpy as np
import pytest

from msft_cli.engine import multirate, transform
from msft_cli.engine.transform import MSFT

#: SNR targets in dB (DESIGN.md)
ONE_BLOCK_SNR = 250.0
STREAMED_SNR = 140.0
COMPLEX64_SNR = 135.0

#: A cheap layout that splits: 8 kHz, 4 bins per octave from 60 Hz (margins of 1.6 s)
CHEAP = dict(sr=8000, fmin=60.0, bins_per_octave=4)


def _one_rate(n=None, **kwargs):
    """The same transform kept at one rate (the private switch); given a signal length
    ``n``, with every frame in one block (the reference)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(transform, "_MULTIRATE", False)
        t = MSFT(**kwargs)
        if n is None:
            return t
        return MSFT(**kwargs, block_size=n + 2 * t.margin + t.hop_max)


def _max_rel(c, ref):
    return max(float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
               for a, b in zip(c.groups, ref.groups))


def _reader(y):
    n = y.shape[1]

    def read(start, stop):
        out = np.zeros((y.shape[0], stop - start))
        a, b = max(start, 0), min(stop, n)
        if b > a:
            out[:, a - start:b - start] = y[:, a:b]
        return out
    return read


# -- the split ------------------------------------------------------------------------

def test_default_split():
    """44.1 kHz, 12 bins: low-pass band and octaves 0-3 (up to 330 Hz) at 44100 / 32."""
    t = MSFT(44100)
    split = t._split
    assert (split.octaves, split.decimation) == (4, 32)
    assert split.f1 == pytest.approx(t.fmin * 2 ** 4)
    assert split.f2 == 44100 / 64
    low, high = t._stages
    assert low.groups == tuple(range(5)) and high.groups == tuple(range(5, 12))
    assert (low.decimation, high.decimation) == (32, 1)
    # the low stage keeps about the transform's margin; the high stage's is a fraction of a second
    assert t.margin <= split.low_margin <= 1.25 * t.margin + t.hop_max
    assert split.high_margin < 0.2 * t.margin and split.high_margin / 44100 < 1.5
    assert split.high_margin >= max(split.extent, max(t.groups[g].extent for g in high.groups))
    assert split.high_margin % split.high_granule == 0
    assert t.block_size >= 2 * t.margin  # the documented default is unchanged


@pytest.mark.parametrize("kwargs", [dict(sr=44100), dict(sr=44100, bins_per_octave=48),
                                    dict(sr=48000, bins_per_octave=24), dict(sr=22050),
                                    dict(sr=16000, fmin=100.0), CHEAP])
def test_split_invariants(kwargs):
    """The filter passes every low-stage window untouched and stops below the decimated
    Nyquist frequency; every low-stage hop is a whole number of decimated samples."""
    t = MSFT(**kwargs)
    split = t._split
    assert split is not None
    d = split.decimation
    low, high = t._stages
    layout = t.layout
    tops = [layout.support("lowpass")[1]] + [
        layout.support(k)[1] for k in range(split.octaves * t.bins_per_octave)]
    assert max(tops) <= split.f1 < split.f2 <= t.sr / (2 * d)
    assert all(t.groups[g].hop % d == 0 for g in low.groups)
    assert high.granule % d == 0 and all(high.granule % t.groups[g].hop == 0
                                          for g in high.groups)
    f = np.linspace(0, t.sr / 2, 20001)
    h = multirate.passband(f, split.f1, split.f2)
    assert np.all(h[f <= split.f1] == 1.0) and np.all(h[f >= split.f2] == 0.0)
    assert np.all(np.diff(h) <= 0)
    # the stages overlap by one band: the high stage's lowest window starts below f1
    assert layout.support(split.octaves * t.bins_per_octave)[0] < split.f1


@pytest.mark.parametrize("kwargs", [dict(sr=8000, fmin=200.0, window="hann"),
                                    dict(sr=8000, fmin=150.0)])
def test_no_split_when_not_cheaper(kwargs):
    t = MSFT(**kwargs)
    assert t._split is None and len(t._stages) == 1


def test_periodic_mode_is_one_rate():
    t = MSFT(44100, mode="periodic")
    assert t._split is None and len(t._stages) == 1


def test_private_switch_keeps_one_rate():
    assert _one_rate(sr=44100)._split is None
    assert MSFT(44100)._split is not None  # the switch is restored


def test_passband_extent_bounds_its_response():
    """The filter's impulse response falls below 1e-8 of its peak at its extent."""
    sr, f1, f2 = 44100, 329.6, 689.0625
    extent = multirate.passband_extent(f1, f2, sr)
    n = 1 << 20
    h = np.fft.irfft(multirate.passband(np.fft.rfftfreq(n, 1 / sr), f1, f2), n)
    env = np.abs(h) / np.abs(h).max()
    t = np.minimum(np.arange(n), n - np.arange(n))
    # (measured like the bands' extents, on a continuous frequency grid: to ~10 %)
    assert env[t > 1.05 * extent].max() < 1e-8
    assert env[t > 0.9 * extent].max() > 1e-8  # and the extent is not too long


# -- the same coefficients as one rate ------------------------------------------------

@pytest.mark.parametrize("kwargs, n, block_size", [
    (dict(sr=16000, fmin=100.0), 2 * 16000, None),     # one block each
    (dict(sr=16000, fmin=100.0), 2 * 16000, 4096),     # streamed
    (CHEAP, 30 * 8000, None),                           # several low-stage blocks
    (CHEAP, 30 * 8000, 2048),                           # both stages streamed
])
def test_coefficients_match_one_rate(rng, kwargs, n, block_size):
    y = rng.standard_normal((2, n))
    ref = _one_rate(n, **kwargs).forward(y)
    t = MSFT(**kwargs, block_size=block_size)
    assert t._split is not None
    c = t.forward(y)
    for a, b in zip(c.groups, ref.groups):
        assert a.shape == b.shape and a.dtype == b.dtype
    assert _max_rel(c, ref) <= 1e-9


def test_coefficients_match_one_rate_real_clip(sample_paths):
    import soundfile as sf
    path = next(p for p in sample_paths if p.name == "techno_bassline.wav")
    y, sr = sf.read(str(path), frames=3 * 44100, dtype="float64", always_2d=True)
    y = y.T.copy()
    ref = _one_rate(y.shape[1], sr=sr).forward(y)
    for block_size in (None, 2 ** 16):
        c = MSFT(sr, block_size=block_size).forward(y)
        assert _max_rel(c, ref) <= 1e-9, block_size


def test_hann_window_two_rates(rng, snr):
    """The duals g / sum(g**2) (not g) across the split."""
    kwargs = dict(sr=16000, fmin=100.0, window="hann")
    y = rng.standard_normal(16000)
    t = MSFT(**kwargs)
    assert t._split is not None
    c = t.forward(y)
    assert _max_rel(c, _one_rate(len(y), **kwargs).forward(y)) <= 1e-9
    assert snr(y, c.inverse()) >= ONE_BLOCK_SNR


def test_block_size_independence_two_rates(rng):
    y = rng.standard_normal(40 * 8000)
    ref = _one_rate(len(y), **CHEAP).forward(y)
    for block_size in (None, 256, 3000, 50000):
        t = MSFT(**CHEAP, block_size=block_size)
        assert _max_rel(t.forward(y), ref) <= 1e-9, block_size


def test_iter_forward_yields_each_frame_once_in_order(rng):
    t = MSFT(**CHEAP, block_size=2048)
    n = 30 * 8000
    y = rng.standard_normal((1, n))
    nxt = {g: t.frame_range(g, n)[0] for g in range(len(t.groups))}
    pieces = dict.fromkeys(nxt, 0)
    for g, first, arr in t.iter_forward(_reader(y), n, 1):
        assert first == nxt[g]
        assert arr.shape[:2] == (1, t.groups[g].n_bins) and arr.flags.owndata
        nxt[g] += arr.shape[2]
        pieces[g] += 1
    for g in nxt:
        first, count = t.frame_range(g, n)
        assert nxt[g] == first + count
    assert min(pieces.values()) > 10  # both stages streamed


# -- round trips ----------------------------------------------------------------------

def _impulse(n, pos):
    y = np.zeros(n)
    y[pos] = 1.0
    return y


@pytest.mark.parametrize("name", ["noise", "impulse_first", "impulse_last", "stereo"])
def test_one_block_round_trip(rng, snr, name):
    t = MSFT(16000, fmin=100.0)
    assert t._split is not None
    n = 2 * 16000
    y = {"noise": lambda: rng.standard_normal(n), "impulse_first": lambda: _impulse(n, 0),
         "impulse_last": lambda: _impulse(n, n - 1),
         "stereo": lambda: rng.standard_normal((2, n))}[name]()
    assert snr(y, t.forward(y).inverse()) >= ONE_BLOCK_SNR


@pytest.mark.parametrize("kwargs", [dict(sr=44100), dict(sr=44100, fmin=32.703, n_octaves=9),
                                    dict(sr=48000, bins_per_octave=24)])
def test_sine_where_the_stages_meet(snr, kwargs):
    """A sinusoid midway between the low stage's top band and the high stage's lowest,
    where both windows are steepest: the stages sample them on different bins, and
    their squares must still add up to 1 there. (With each window placed from
    log2(f / fmin), this round-tripped at 270-280 dB; elsewhere ~305 dB.)"""
    t = MSFT(**kwargs)
    f0 = t._split.f1 * 2 ** (-0.5 / t.bins_per_octave)
    y = np.sin(2 * np.pi * f0 / t.sr * np.arange(5 * t.sr) + 0.3)
    assert snr(y, t.forward(y).inverse()) >= 295


@pytest.mark.parametrize("pos", [0, 2047, 2048, 2049, 101_000, 150_000, 239_999])
def test_streamed_impulses(snr, pos):
    """Impulses on and next to block boundaries of both stages."""
    t = MSFT(**CHEAP, block_size=2048)
    y = _impulse(30 * 8000, pos)
    assert snr(y, t.forward(y).inverse()) >= STREAMED_SNR


def test_streamed_round_trip_noise_and_complex64(rng, snr):
    t = MSFT(**CHEAP, block_size=3000)
    y = rng.standard_normal((2, 30 * 8000))
    assert snr(y, t.forward(y).inverse()) >= STREAMED_SNR
    y32 = y.astype(np.float32)
    y_hat = t.forward(y32).inverse()
    assert y_hat.dtype == np.float32
    assert snr(y, y_hat) >= COMPLEX64_SNR


def test_iter_inverse_matches_inverse(rng):
    t = MSFT(**CHEAP, block_size=4096)
    n = 30 * 8000
    y = rng.standard_normal((1, n))
    c = t.forward(y)
    whole = c.inverse()
    out = np.empty((1, n))
    blocks = []
    for start, x in t.iter_inverse(lambda g, lo, hi: c.groups[g][:, :, lo - c.firsts[g]:
                                                                 hi - c.firsts[g]], n, 1):
        out[:, start:start + x.shape[1]] = x
        blocks.append(x)
    np.testing.assert_array_equal(out, whole)
    assert len({id(b) for b in blocks}) == len(blocks)  # fresh arrays, not a reused buffer
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)


# -- bounded memory -------------------------------------------------------------------

def _stream_peaks(t, seconds):
    """Most decimated samples held between the stages, forward and inverse, for a long
    synthetic signal read lazily (never held whole)."""
    n = seconds * t.sr
    rng = np.random.default_rng(seconds)
    counts = dict.fromkeys(range(len(t.groups)), 0)
    for g, _, arr in t.iter_forward(lambda a, b: rng.standard_normal((1, b - a)), n, 1):
        counts[g] += arr.shape[2]
    assert counts == {g: t.frame_range(g, n)[1] for g in range(len(t.groups))}
    forward = t._stream_peak

    def read_frames(g, lo, hi):
        return np.zeros((1, t.groups[g].n_bins, hi - lo),
                        np.float64 if t.groups[g].kind != "octave" else np.complex128)

    for _ in t.iter_inverse(read_frames, n, 1):
        pass
    return forward, t._stream_peak


def test_stream_between_stages_is_bounded():
    """The same peak for 1 and 4 minutes, within the window's fixed capacity."""
    t = MSFT(**CHEAP, block_size=2048)
    d = t._split.decimation
    (step_l, geo_l, _), (_, geo, _) = t._blocks(60 * t.sr)  # short blocks: seams
    short, long = _stream_peaks(t, 60), _stream_peaks(t, 240)
    assert short == long
    forward, inverse = long
    assert 0 < forward <= geo_l.size + t.block_size // d
    assert 0 < inverse <= geo.low_size + step_l // d
    assert max(forward, inverse) < 60 * t.sr // d / 2  # far less than the decimated signal


def test_stream_window():
    s = multirate.Stream(1, 10, origin=-4)
    out = np.empty((1, 6))
    s.read(-10, out)
    assert np.all(out == 0)
    s.append(np.arange(6.0)[None], -4)          # samples -4 .. 1
    s.read(-6, out)
    np.testing.assert_array_equal(out[0], [0, 0, 0, 1, 2, 3])
    s.drop(-1)
    s.append(np.arange(6.0, 13.0)[None], 2)     # samples 2 .. 8: held -1 .. 8
    assert s.peak == 10
    s.read(-1, out)
    np.testing.assert_array_equal(out[0], [3, 4, 5, 6, 7, 8])
    s.read(7, out)
    np.testing.assert_array_equal(out[0], [11, 12, 0, 0, 0, 0])
    with pytest.raises(AssertionError, match="dropped"):
        s.read(-3, out)
    with pytest.raises(AssertionError, match="gap"):
        s.append(np.zeros((1, 2)), 20)
    with pytest.raises(AssertionError, match="overflows"):
        s.append(np.zeros((1, 2)), 9)
    s.drop(30)                                  # past the end: the next samples are skipped
    s.append(np.arange(25.0)[None], 9)          # 9 .. 33: keeps 30 .. 33
    s.read(30, out)
    np.testing.assert_array_equal(out[0], [21, 22, 23, 24, 0, 0])
