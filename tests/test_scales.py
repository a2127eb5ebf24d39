"""Tests of msft_cli.engine.bands: centre frequencies, windows, hops, extents and errors."""

import numpy as np
import pytest

from msft_cli.engine.bands import (
    MAX_BINS_PER_OCTAVE,
    WINDOWS,
    BandLayout,
    default_fmin,
    window_shape,
)
from msft_cli.errors import MsftError, ParameterError

E0 = 440.0 * 2.0 ** (-53 / 12)  # 20.6017... Hz: the lowest 12-TET note at or above 20 Hz

#: (sr, fmin, bins_per_octave) of layouts checked band by band; fmin None = default.
LAYOUTS = [
    (44100, None, 12),
    (48000, None, 24),
    (22050, None, 3),
    (8000, 100.0, 1),
    (16000, 150.0, 24),
    (11025, 440.0, 7),
    (44100, None, 64),
]


def _layout(sr, fmin, bins_per_octave, window="bump", n_octaves=None):
    fmin = default_fmin(bins_per_octave) if fmin is None else fmin
    return BandLayout(sr, fmin, bins_per_octave, n_octaves=n_octaves, window=window)


def _band_width(layout, band):
    lo, hi = layout.support(band)
    return hi - lo


def _group_bands(layout, gi):
    """The bands (indices, or "lowpass"/"highpass") of group ``gi``."""
    group = layout.groups[gi]
    if group.kind != "octave":
        return [group.kind]
    B = layout.bins_per_octave
    return list(range((gi - 1) * B, gi * B))


# -- default tuning ---------------------------------------------------------------

def test_default_fmin_is_e0():
    assert default_fmin() == pytest.approx(E0, rel=1e-12)
    assert default_fmin() == pytest.approx(20.6017, abs=1e-4)
    assert default_fmin(12, 440.0) == default_fmin()


@pytest.mark.parametrize("bins_per_octave", [1, 2, 3, 5, 7, 12, 19, 24, 36, 48, 64])
@pytest.mark.parametrize("tuning", [415.0, 432.0, 440.0, 442.5])
def test_default_fmin_lies_on_the_tuning_grid(bins_per_octave, tuning):
    f = default_fmin(bins_per_octave, tuning)
    steps = bins_per_octave * np.log2(f / tuning)
    assert abs(steps - round(steps)) < 1e-9  # a note of the grid tuning * 2**(k/B)
    assert f >= 20.0  # at or above 20 Hz ...
    assert f * 2.0 ** (-1.0 / bins_per_octave) < 20.0  # ... and the lowest such note


@pytest.mark.parametrize("floor", [16.0, 27.5, 55.0, 100.0])
def test_default_fmin_floor(floor):
    f = default_fmin(12, 440.0, floor=floor)
    assert floor <= f < floor * 2 ** (1 / 12)


def test_default_fmin_floor_on_the_grid_is_its_own_answer():
    assert default_fmin(12, 440.0, floor=55.0) == pytest.approx(55.0, rel=1e-12)
    assert default_fmin(1, 440.0, floor=27.5) == pytest.approx(27.5, rel=1e-12)


@pytest.mark.parametrize("sr, n_octaves", [(44100, 10), (48000, 10), (22050, 9), (16000, 8),
                                           (8000, 7), (96000, 11)])
def test_number_of_octaves_at_default_fmin(sr, n_octaves):
    layout = BandLayout(sr, default_fmin(), 12)
    assert layout.n_octaves == n_octaves
    # whole octaves: the top band's octave ends at or below Nyquist, one more would not
    assert E0 * 2 ** n_octaves <= sr / 2 < E0 * 2 ** (n_octaves + 1)
    assert layout.n_bands == 12 * n_octaves


def test_centres_and_group_frequencies():
    layout = BandLayout(16000, 100.0, 12)
    assert layout.n_octaves == 6
    k = np.arange(layout.n_bands)
    np.testing.assert_allclose(layout.centre(k), 100.0 * 2.0 ** (k / 12), rtol=1e-14)
    assert layout.fmax == pytest.approx(100.0 * 2 ** (71 / 12), rel=1e-14)
    groups = layout.groups
    assert [g.name for g in groups] == (["lowpass"] + [f"octave_{j}" for j in range(6)]
                                        + ["highpass"])
    assert [g.kind for g in groups] == ["lowpass"] + ["octave"] * 6 + ["highpass"]
    np.testing.assert_array_equal(groups[0].frequencies, [0.0])
    np.testing.assert_array_equal(groups[-1].frequencies, [8000.0])
    for j, g in enumerate(groups[1:-1]):
        assert g.n_bins == 12
        np.testing.assert_allclose(g.frequencies, 100.0 * 2.0 ** (j + np.arange(12) / 12),
                                   rtol=1e-14)


# -- windows ----------------------------------------------------------------------

def test_window_shape_values():
    x = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(window_shape("bump", x), [1.0, np.sqrt(0.5), 0.0], atol=1e-15)
    np.testing.assert_allclose(window_shape("hann", x), [1.0, 0.5, 0.0], atol=1e-15)
    # outside 0..1 the shapes are clipped, not continued
    np.testing.assert_allclose(window_shape("bump", [-0.5, 1.5]), [1.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(window_shape("hann", [-0.5, 1.5]), [1.0, 0.0], atol=1e-15)


def test_window_shapes_are_complementary_and_decreasing():
    x = np.linspace(0, 1, 10001)
    bump, hann = window_shape("bump", x), window_shape("hann", x)
    # bump: squares of neighbours add to one (tight frame); hann: the windows do
    np.testing.assert_allclose(bump ** 2 + window_shape("bump", 1 - x) ** 2, 1.0, atol=1e-15)
    np.testing.assert_allclose(hann + window_shape("hann", 1 - x), 1.0, atol=1e-15)
    assert np.all(np.diff(bump) <= 0) and np.all(np.diff(hann) <= 0)
    assert np.all((bump >= 0) & (bump <= 1))


def test_bump_is_flat_at_both_ends():
    # C-infinity: every derivative vanishes at 0 and 1, so the shape hugs 1 and 0 there
    assert window_shape("bump", 0.02) == pytest.approx(1.0, abs=1e-12)
    assert window_shape("bump", 0.98) == pytest.approx(0.0, abs=1e-12)
    # while hann only has a vanishing first derivative
    assert 1 - window_shape("hann", 0.02) > 1e-4


@pytest.mark.parametrize("sr, fmin, bins_per_octave", LAYOUTS)
def test_bump_squares_sum_to_one(sr, fmin, bins_per_octave):
    layout = _layout(sr, fmin, bins_per_octave, "bump")
    f = np.linspace(0.0, sr / 2, 200001)
    total = layout.sum_of_squares(f)
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("sr, fmin, bins_per_octave", LAYOUTS[:5])
def test_hann_squares_between_half_and_one(sr, fmin, bins_per_octave):
    layout = _layout(sr, fmin, bins_per_octave, "hann")
    f = np.linspace(0.0, sr / 2, 200001)
    total = layout.sum_of_squares(f)
    assert total.min() >= 0.5 - 1e-12
    assert total.max() <= 1.0 + 1e-12
    assert total.min() < 0.5 + 1e-3  # reached halfway between centres
    assert total.max() == pytest.approx(1.0, abs=1e-12)  # at the centres


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("sr, fmin, bins_per_octave", [(8000, 100.0, 1), (16000, 150.0, 5),
                                                       (22050, 55.0, 12)])
def test_sum_of_squares_matches_every_window(window, sr, fmin, bins_per_octave):
    """The fast sum (two windows per frequency) equals the sum over all bands."""
    layout = BandLayout(sr, fmin, bins_per_octave, window=window)
    f = np.linspace(0.0, sr / 2, 20001)
    total = layout.window_values("lowpass", f) ** 2 + layout.window_values("highpass", f) ** 2
    for k in range(layout.n_bands):
        total += layout.window_values(k, f) ** 2
    np.testing.assert_allclose(layout.sum_of_squares(f), total, rtol=0, atol=1e-13)
    if window == "hann":  # the hann windows themselves add up to one
        plain = layout.window_values("lowpass", f) + layout.window_values("highpass", f)
        for k in range(layout.n_bands):
            plain += layout.window_values(k, f)
        np.testing.assert_allclose(plain, 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("sr, fmin, bins_per_octave", [(8000, 100.0, 1), (16000, 150.0, 5),
                                                       (22050, 55.0, 12), (44100, 20.0, 64)])
def test_window_pairs_are_every_window(window, sr, fmin, bins_per_octave):
    """The two windows at each frequency, from one logarithm, are the bands' own."""
    layout = BandLayout(sr, fmin, bins_per_octave, window=window)
    f = np.linspace(0.0, sr / 2, 20001)
    k, lower, upper = layout.window_pairs(f)
    assert np.all(np.diff(k) >= 0) and k.min() == -1 and k.max() == layout.n_bands - 1
    names = {-1: "lowpass", layout.n_bands: "highpass"}
    for band in range(-1, layout.n_bands + 1):
        want = layout.window_values(names.get(band, band), f)
        got = np.where(k == band, lower, 0.0) + np.where(k == band - 1, upper, 0.0)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=str(band))
        assert np.all((got > 0) <= (want > 0))  # zero where the window is


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="no extended precision")
@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("sr, fmin, bins_per_octave, n", [(44100, 20.6, 12, 786432),
                                                          (44100, 32.7, 48, 3840000),
                                                          (8000, 60.0, 4, 30000)])
def test_window_pairs_on_bins_are_right_to_rounding(window, sr, fmin, bins_per_octave, n):
    """On the bins of an FFT, each window is its value at the bin's exact frequency to a
    few ulps (an extended-precision reference, from the same centres): two stages that
    sample the windows on different bins then still have squares summing to 1 where
    their bands meet. From log2(f / fmin), the error was ~1e-13 at 12 bins per octave
    and ~6e-13 at 48."""
    layout = BandLayout(sr, fmin, bins_per_octave, window=window)
    bins = np.arange(1, n // 2 + 1)
    k, lower, upper = layout.window_pairs(bins, n)
    ld = np.longdouble
    f = bins.astype(ld) * sr / n
    c = layout.centre(k).astype(ld)
    x = np.clip(ld(bins_per_octave) * np.log1p((f - c) / c) / np.log(ld(2)), 0, 1)
    if window == "bump":
        with np.errstate(divide="ignore", over="ignore"):
            x = 1 / (1 + np.exp(2 / x - 2 / (1 - x)))
    h = ld(0.5 * np.pi) * x
    want_lower, want_upper = np.cos(h), np.sin(h)
    if window == "hann":
        want_lower, want_upper = want_lower ** 2, want_upper ** 2
    inside = x < 1  # a few ulps of x, through a slope of up to ~4.4 (bump's middle)
    assert np.max(np.abs(lower - want_lower)[inside]) < 3e-15
    assert np.max(np.abs(upper - want_upper)) < 3e-15
    k2, lower2, upper2 = layout.window_pairs(bins * sr / n)  # from frequencies: close
    assert np.array_equal(k, k2)
    np.testing.assert_allclose(lower2, lower, rtol=0, atol=1e-13)


def test_window_pairs_on_bins_want_integers():
    with pytest.raises(TypeError, match="integer FFT bins"):
        BandLayout(44100, 20.6, 12).window_pairs(np.array([1.5, 2.0]), 1024)


def test_band_window_reaches_neighbour_centres():
    layout = BandLayout(16000, 100.0, 12)
    k = 20
    c_lo, c, c_hi = layout.centre([k - 1, k, k + 1])
    assert layout.band_window(k, c) == pytest.approx(1.0, abs=1e-15)
    assert layout.band_window(k, c_lo) < 1e-15 and layout.band_window(k, c_hi) < 1e-15
    inside = np.linspace(c_lo, c_hi, 1001)[1:-1]
    assert np.all(layout.band_window(k, inside) > 0)
    assert layout.support(k) == pytest.approx((c_lo, c_hi), rel=1e-14)
    # low-pass: 1 up to the centre below fmin, 0 from fmin; high-pass mirrors it
    assert layout.lowpass_window(layout.centre(-1)) == 1.0
    assert layout.lowpass_window(100.0) == 0.0
    assert layout.highpass_window(layout.fmax) == 0.0
    assert layout.highpass_window(layout.centre(layout.n_bands)) == 1.0
    assert layout.support("lowpass") == (-100.0, 100.0)
    assert layout.support("highpass") == pytest.approx((layout.fmax, 16000 - layout.fmax))


# -- hops and extents -------------------------------------------------------------

@pytest.mark.parametrize("sr, fmin, bins_per_octave", LAYOUTS)
def test_hops_halve_and_are_powers_of_two(sr, fmin, bins_per_octave):
    layout = _layout(sr, fmin, bins_per_octave)
    hops = [g.hop for g in layout.groups]
    for h in hops:
        assert h >= 1 and h & (h - 1) == 0, hops
    octave_hops = hops[1:-1]
    assert len(octave_hops) == layout.n_octaves
    for a, b in zip(octave_hops, octave_hops[1:]):
        assert a == 2 * b


@pytest.mark.parametrize("sr, fmin, bins_per_octave", LAYOUTS)
def test_every_band_is_painless_and_hops_are_the_largest(sr, fmin, bins_per_octave):
    """Support width (Hz) * hop / sr <= 1 for every band; doubling a hop breaks it."""
    layout = _layout(sr, fmin, bins_per_octave)
    for gi, group in enumerate(layout.groups):
        widest = max(_band_width(layout, band) for band in _group_bands(layout, gi))
        assert widest * group.hop / sr <= 1.0, (group.name, widest, group.hop)
        if gi <= 1 or gi == len(layout.groups) - 1:
            # the coarsest octave and the two residual bands take the largest painless hop
            # (finer octaves follow by halving)
            assert widest * 2 * group.hop / sr > 1.0, (group.name, widest, group.hop)
    # the residual bands are two-sided: low-pass spans -fmin..fmin, high-pass top..sr-top
    assert _band_width(layout, "lowpass") == pytest.approx(2 * layout.fmin)
    assert _band_width(layout, "highpass") == pytest.approx(sr - 2 * layout.fmax)


@pytest.mark.parametrize("sr, fmin, bins_per_octave", LAYOUTS)
def test_extents_halve_per_octave(sr, fmin, bins_per_octave):
    layout = _layout(sr, fmin, bins_per_octave)
    extents = [g.extent for g in layout.groups[1:-1]]
    assert all(e > 0 for e in extents)
    for a, b in zip(extents, extents[1:]):
        assert 0 <= 2 * b - a <= 1, extents  # b = ceil(a / 2) up to rounding of ext0 / 2**j
    assert layout.groups[0].extent > 0 and layout.groups[-1].extent > 0


def test_extents_grow_with_bins_per_octave_and_for_hann():
    """Narrower bands ring longer; the hann window decays slower than the bump."""
    e6, e12, e24 = (BandLayout(16000, 150.0, b).groups[1].extent for b in (6, 12, 24))
    assert e6 < e12 < e24
    assert e24 / e12 == pytest.approx(2.0, rel=0.1)  # proportional to the band's narrowness
    bump = BandLayout(8000, 200.0, 12, window="bump").groups
    hann = BandLayout(8000, 200.0, 12, window="hann").groups
    for b, h in zip(bump, hann):
        assert b.extent < h.extent


def test_default_layout_extent_at_e0():
    """The 20.6 Hz octave needs margins of about 13 s (DESIGN.md's bump measurement)."""
    layout = BandLayout(44100, default_fmin(), 12)
    seconds = max(g.extent for g in layout.groups) / 44100
    assert 10.0 < seconds < 16.0


def test_fewer_octaves_kept_when_they_fit():
    layout = BandLayout(44100, default_fmin(), 12, n_octaves=8)
    assert layout.n_octaves == 8
    assert len(layout.groups) == 10
    assert layout.fmax == pytest.approx(E0 * 2 ** (8 - 1 / 12))


@pytest.mark.parametrize("sr, bins_per_octave, n_octaves", [(44100, 12, 7), (44100, 12, 5),
                                                            (8000, 12, 2), (44100, 1, 2)])
def test_fewer_octaves_than_fit_build(sr, bins_per_octave, n_octaves):
    layout = BandLayout(sr, default_fmin(bins_per_octave), bins_per_octave, n_octaves=n_octaves)
    groups = layout.groups
    assert len(groups) == n_octaves + 2
    assert groups[-1].extent > 0


@pytest.mark.parametrize("sr, fmin, bins_per_octave", [(16000, 150.0, 18), (8000, 200.0, 24)])
def test_hann_with_many_bins_builds(sr, fmin, bins_per_octave):
    groups = BandLayout(sr, fmin, bins_per_octave, window="hann").groups
    assert len(groups) > 2


def test_hann_at_the_default_fmin_is_refused_for_its_margins():
    with pytest.raises(ParameterError) as info:
        _ = BandLayout(44100, default_fmin(), 12, window="hann").groups
    assert str(info.value) == (
        "window='hann' with bins_per_octave=12 and fmin=20.6017 Hz: the 0 band's filter "
        "rings for more than 100 s (block margins would be too long): use window='bump', "
        "fewer bins per octave or a higher fmin")


# -- errors -----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(bins_per_octave=0),
     "bins_per_octave=0 is out of range: must be between 1 and 64"),
    (dict(bins_per_octave=65),
     "bins_per_octave=65 is out of range: must be between 1 and 64"),
    (dict(fmin=0.0), "fmin=0 must be a positive frequency in Hz"),
    (dict(fmin=-5.0), "fmin=-5 must be a positive frequency in Hz"),
    (dict(fmin=float("nan")), "fmin=nan must be a positive frequency in Hz"),
    (dict(fmin=float("inf")), "fmin=inf must be a positive frequency in Hz"),
    (dict(fmin=11025.5),
     "fmin=11025.5 Hz leaves no whole octave below the Nyquist frequency (22050 Hz at "
     "sr=44100): must be at most 11025 Hz"),
    (dict(fmin=100.0, n_octaves=8),
     "n_octaves=8 does not fit: must be between 1 and 7 for fmin=100 Hz at sr=44100"),
    (dict(fmin=100.0, n_octaves=0),
     "n_octaves=0 does not fit: must be between 1 and 7 for fmin=100 Hz at sr=44100"),
    (dict(window="kaiser"), "window='kaiser' is unknown: must be one of bump, hann"),
    (dict(sr=999), "sr=999 is too low: must be at least 1000 Hz"),
])
def test_parameter_errors(kwargs, message):
    args = dict(sr=44100, fmin=100.0, bins_per_octave=12)
    args.update(kwargs)
    with pytest.raises(ParameterError) as info:
        BandLayout(**args)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError) and isinstance(info.value, MsftError)


def test_fmin_exactly_one_octave_below_nyquist_is_accepted():
    layout = BandLayout(44100, 11025.0, 12)
    assert layout.n_octaves == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(sr=44100.0), "sr must be an int, not float"),
    (dict(sr=True), "sr must be an int, not bool"),
    (dict(sr="44100"), "sr must be an int, not str"),
    (dict(bins_per_octave=12.0), "bins_per_octave must be an int, not float"),
    (dict(bins_per_octave=True), "bins_per_octave must be an int, not bool"),
    (dict(n_octaves=3.0), "n_octaves must be an int, not float"),
])
def test_type_errors(kwargs, message):
    args = dict(sr=44100, fmin=100.0, bins_per_octave=12)
    args.update(kwargs)
    with pytest.raises(TypeError) as info:
        BandLayout(**args)
    assert str(info.value) == message
    assert not isinstance(info.value, ValueError)


def test_numpy_integers_accepted():
    layout = BandLayout(np.int64(16000), 100.0, np.int32(12), n_octaves=np.int16(6))
    assert (layout.sr, layout.bins_per_octave, layout.n_octaves) == (16000, 12, 6)
    assert type(layout.sr) is int and type(layout.bins_per_octave) is int


def test_window_shape_unknown_name():
    with pytest.raises(ParameterError) as info:
        window_shape("gauss", 0.5)
    assert str(info.value) == "window='gauss' is unknown: must be one of bump, hann"


def test_max_bins_per_octave_is_accepted():
    layout = BandLayout(44100, default_fmin(MAX_BINS_PER_OCTAVE), MAX_BINS_PER_OCTAVE)
    assert layout.bins_per_octave == 64
    assert len(layout.groups) == layout.n_octaves + 2
