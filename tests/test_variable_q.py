"""Variable-Q (``gamma``) and oversampled (``oversample``) transforms: still exact,
calibrated, nested and block-size independent; stored, compared and refused as documented."""

import re

import h5py
import numpy as np
import pytest

from msft_cli import MSFT, ContainerError, ParameterError, load, save
from msft_cli.dataset import CropDataset
from msft_cli.engine.bands import BandLayout, erb_gamma

SR = 22050


def _snr(x, y):
    return 20 * np.log10(np.linalg.norm(x) / np.linalg.norm(x - y))


def test_gamma_zero_is_todays_transform():
    y = np.random.default_rng(0).standard_normal(SR)
    a, b = MSFT(SR), MSFT(SR, gamma=0.0, oversample=1)
    assert a == b and repr(a) == repr(b) and "gamma" not in repr(a)
    assert a.to_params()["gamma"] == 0.0 and a.to_params()["oversample"] == 1
    for x, z in zip(a.forward(y).groups, b.forward(y).groups):
        assert np.array_equal(x, z)
    assert all(h == a.hops[0] >> j for j, h in enumerate(a.hops))


def test_old_parameter_dicts_read_as_constant_q():
    params = MSFT(SR).to_params()
    del params["gamma"], params["oversample"]
    assert MSFT.from_params(params) == MSFT(SR)


def test_erb_gamma_and_repr():
    assert erb_gamma(12) == pytest.approx(24.7 * 9.265 * (2 ** (1 / 12) - 2 ** (-1 / 12)))
    t = MSFT(SR, gamma="erb", oversample=2)
    assert t.gamma == pytest.approx(26.45, abs=0.01)
    assert t == MSFT(SR, gamma=erb_gamma(12), oversample=2)
    assert repr(t).endswith(", mode='zero', gamma=26.45, oversample=2)")


@pytest.mark.parametrize("B", [12, 24, 48])
def test_supports_hops_and_sum_of_squares(B):
    layout = BandLayout(SR, 27.5, B, gamma=erb_gamma(B))
    Q1 = 2 ** (1 / B) - 2 ** (-1 / B)
    for k in range(0, layout.n_bands, 7):
        lo, hi = layout.support(k)
        c = layout.centre(k)
        assert hi - lo == pytest.approx(c * Q1 + layout.gamma, rel=1e-12)
        assert layout.band_window(k, c) == 1.0  # calibration: 1 at its own centre
    f = np.linspace(0, SR / 2, 50001)
    assert layout.sum_of_squares(f).min() >= 1 - 1e-12  # never vanishes (>= 1 for bump)
    octaves = [g for g in layout.groups if g.kind == "octave"]
    for j, g in enumerate(octaves):
        lo, hi = layout.support((j + 1) * B - 1)  # the widest band of the octave
        assert g.hop & (g.hop - 1) == 0 and g.hop <= SR / (hi - lo) < 2 * g.hop
        if j:
            assert octaves[j - 1].hop % g.hop == 0  # the grids nest


def test_extents_and_margins_shrink():
    cq, vq = MSFT(44100), MSFT(44100, gamma="erb")
    assert vq.groups[1].extent < cq.groups[1].extent / 5
    assert vq.groups[0].extent < cq.groups[0].extent / 5
    assert vq.margin < cq.margin / 5
    assert vq.hops[0] == cq.hops[0] // 8  # 1024 samples, not 8192


def test_oversample_divides_every_octave_hop():
    for gamma in (0, "erb"):
        base = MSFT(SR, gamma=gamma)
        for k in (2, 4):
            t = MSFT(SR, gamma=gamma, oversample=k)
            assert t.hops == [h // k for h in base.hops]
            assert [g.hop for g in (t.groups[0], t.groups[-1])] == \
                   [g.hop for g in (base.groups[0], base.groups[-1])]


@pytest.mark.parametrize("B", [12, 24, 48])
@pytest.mark.parametrize("oversample", [1, 2])
@pytest.mark.parametrize("mode", ["periodic", "zero"])
def test_round_trips(B, oversample, mode):
    y = np.random.default_rng(B + oversample).standard_normal((2, SR // 2))
    t = MSFT(SR, bins_per_octave=B, gamma="erb", oversample=oversample, mode=mode)
    assert _snr(y, t.inverse(t.forward(y))) >= 290


def test_a_sine_at_a_band_centre_has_its_amplitude_in_its_bin():
    t = MSFT(SR, gamma="erb", oversample=2)
    n = 3 * SR
    for j, b in ((0, 5), (2, 0), (6, 11)):
        f = t.frequencies[j][b]
        y = 0.3 * np.cos(2 * np.pi * f * np.arange(n) / SR + 0.4)
        c = t.forward(y)
        octave = np.abs(c.groups[j + 1][0])
        times = (c.firsts[j + 1] + np.arange(octave.shape[1])) * t.hops[j]
        middle = (times > SR) & (times < 2 * SR)
        np.testing.assert_allclose(octave[b, middle], 0.3, rtol=1e-4)
        # the largest, to the flatness of the widened bass windows' tops (the "bump" is
        # within 1e-6 of 1 up to ~0.15 of its half-width: ~1.5 bins in octave 0 here)
        assert (octave[b, middle] >= octave[:, middle].max(axis=0) - 1e-6).all()
        assert (np.argmax(octave[:, middle], axis=0) == b).all() or j == 0


def test_an_impulse_peaks_at_its_frame_with_the_windows_sum():
    t = MSFT(SR, gamma="erb", oversample=2, mode="periodic")
    n = t.period(SR)
    at = t.hop_max * (n // t.hop_max // 2)
    y = np.zeros(n)
    y[at] = 1.0
    c = t.forward(y)
    f = np.arange(1, n // 2) * SR / n
    for j in (0, 3, 7):
        for b in (0, 6):
            k = j * t.bins_per_octave + b
            row = c.groups[j + 1][0, b]
            frame = at // t.hops[j]
            assert np.argmax(np.abs(row)) == frame
            want = 2 / n * t.layout.window_values(k, f).sum()
            assert row[frame] == pytest.approx(want, rel=1e-9)


def test_coefficients_do_not_depend_on_the_block_size():
    y = np.random.default_rng(3).standard_normal(8 * SR)
    ref = MSFT(SR, gamma="erb", oversample=2).forward(y)
    for block in (4096, 3 * 8192):
        other = MSFT(SR, gamma="erb", oversample=2, block_size=block).forward(y)
        assert other.firsts == ref.firsts
        for a, b in zip(ref.groups, other.groups):
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-9 * np.abs(a).max())


def test_containers_keep_gamma_and_oversample(tmp_path):
    y = np.random.default_rng(4).standard_normal(SR)
    t = MSFT(SR, gamma=10.0, oversample=4)
    path = save(t.forward(y), tmp_path / "v.h5", dtype="complex128")
    with load(path) as box:
        assert box.transform == t
        assert _snr(y, box.transform.inverse(box.to_coefficients())) >= 290
    with h5py.File(path, "r") as f:
        assert f.attrs["gamma"] == 10.0 and f.attrs["oversample"] == 4
    old = save(MSFT(SR).forward(y), tmp_path / "old.h5")
    with h5py.File(old, "a") as f:  # as written before gamma and oversample
        del f.attrs["gamma"], f.attrs["oversample"]
    with load(old) as box:
        assert box.transform == MSFT(SR)


def test_a_dataset_refuses_to_mix_gammas(tmp_path):
    y = np.zeros((1, SR))
    a = save(MSFT(SR).forward(y), tmp_path / "a.h5")
    b = save(MSFT(SR, gamma=5.0).forward(y), tmp_path / "b.h5")
    with pytest.raises(ContainerError, match=re.escape(
            f"{b} was made with gamma=5.0 but {a} with gamma=0.0: the containers of one "
            "dataset must share the transform's parameters")):
        CropDataset([a, b])


@pytest.mark.parametrize("kwargs, error, message", [
    ({"gamma": -1.0}, ParameterError, "gamma=-1 must be a finite bandwidth in Hz, at least 0"),
    ({"gamma": float("nan")}, ParameterError,
     "gamma=nan must be a finite bandwidth in Hz, at least 0"),
    ({"gamma": float("inf")}, ParameterError,
     "gamma=inf must be a finite bandwidth in Hz, at least 0"),
    ({"gamma": 1000.5}, ParameterError, "gamma=1000.5 is too wide: must be at most 1000 Hz"),
    ({"gamma": "bark"}, ParameterError,
     "gamma='bark' is unknown: must be a bandwidth in Hz (at least 0) or one of 'erb'"),
    ({"gamma": True}, TypeError, "gamma must be a number of Hz or a name, not bool"),
    ({"oversample": 3}, ParameterError, "oversample=3 must be a power of two (1, 2, 4, ...)"),
    ({"oversample": 0}, ParameterError, "oversample=0 must be a power of two (1, 2, 4, ...)"),
    ({"oversample": 2.0}, TypeError, "oversample must be an int, not float"),
    ({"oversample": 64}, ParameterError,
     "oversample=64 is too high for 9 octaves at sr=22050 with bins_per_octave=12: the top "
     "octave's hop (16) would be below one sample"),
])
def test_bad_values_are_refused(kwargs, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        MSFT(SR, **kwargs)


def test_the_command_line_takes_gamma_and_oversample(tmp_path):
    import soundfile as sf
    from click.testing import CliRunner

    from msft_cli.cli import main
    wav = tmp_path / "x.wav"
    sf.write(wav, np.random.default_rng(6).standard_normal(SR // 2) * 0.1, SR)
    out = tmp_path / "x.h5"
    res = CliRunner().invoke(main, ["analyze", str(wav), "-o", str(out), "--gamma", "erb",
                                    "--oversample", "2"])
    assert res.exit_code == 0, res.output
    with load(out) as box:
        assert box.transform == MSFT(SR, gamma="erb", oversample=2)
    res = CliRunner().invoke(main, ["analyze", str(wav), "-o", str(out), "--oversample", "3"])
    assert res.exit_code == 1
    assert res.output.endswith(f"Error: {wav}: oversample=3 must be a power of two "
                               "(1, 2, 4, ...)\n")
    res = CliRunner().invoke(main, ["analyze", str(wav), "-o", str(out), "--gamma", "wide"])
    assert res.exit_code == 2
    assert "Invalid value for '--gamma': 'wide' is not a number of Hz or one of erb" in res.output


@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_the_torch_engine_takes_the_same_geometry(mode):
    torch = pytest.importorskip("torch")
    from msft_cli.torch import MSFT as TorchMSFT
    kwargs = {"gamma": "erb", "oversample": 2, "mode": mode}
    t = TorchMSFT(sr=SR, dtype=torch.float64, **kwargs)
    x = torch.randn(2, SR, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    c = t(x)
    assert _snr(x.numpy(), t.inverse(c).numpy()) >= 290
    ref = MSFT(SR, **kwargs).forward(x.numpy())
    for a, b in zip(c.to_numpy().groups, ref.groups):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())
