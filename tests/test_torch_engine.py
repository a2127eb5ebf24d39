"""msft_cli.torch.MSFT: the numpy engine's coefficients on tensors, both modes, any length."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import msft_cli
from msft_cli import ParameterError
from msft_cli.torch import MSFT, TensorCoefficients

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

#: Relative difference to the FFTW engine allowed per dtype (the issue's bounds).
TOL = {torch.float32: 1e-6, torch.float64: 1e-12}
NP_REAL = {torch.float32: np.float32, torch.float64: np.float64}


def rel_diff(ct, c, lead=()):
    """``||torch - numpy|| / ||numpy||`` over every group (numpy's channel 0)."""
    num = den = 0.0
    for a, b in zip(ct.groups, c.groups):
        a = a[lead].detach().cpu().numpy().astype(np.complex128)
        b = b[0].astype(np.complex128)
        num += np.sum(np.abs(a - b) ** 2)
        den += np.sum(np.abs(b) ** 2)
    return float(np.sqrt(num / den))


def check_equal(transform, y, dtype, **options):
    """The torch engine's coefficients and inverse against the numpy engine's."""
    c = transform.forward(y)
    tm = MSFT(transform, dtype=dtype, **options)
    ct = tm(torch.from_numpy(y))
    assert [tuple(g.shape) for g in ct.groups] == [g.shape[1:] for g in c.groups]
    assert ct.firsts == c.firsts
    assert rel_diff(ct, c) <= TOL[dtype]
    return tm, ct


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ["zero", "periodic"])
@pytest.mark.parametrize("bins, n", [(12, 1), (12, 9999), (24, 4097), (48, 30001)])
def test_equal_to_numpy_engine(mode, bins, n, dtype, rng, snr):
    t = msft_cli.MSFT(44100, bins_per_octave=bins, mode=mode)
    y = rng.standard_normal(n).astype(NP_REAL[dtype])
    tm, ct = check_equal(t, y, dtype)
    y_hat = tm.inverse(ct)
    assert y_hat.dtype == dtype and y_hat.shape == (n,)
    if n > 1:
        assert snr(y, y_hat.numpy()) >= (130 if dtype == torch.float32 else 290)


@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_longer_than_309505_samples(mode, rng, snr):
    """CQT_pytorch's exact modes broke above 309,505 samples; here several blocks per stage
    (a small chunk bound) must still give the numpy engine's coefficients."""
    t = msft_cli.MSFT(44100, mode=mode)
    y = rng.standard_normal(400_000)
    tm, ct = check_equal(t, y, torch.float64, max_block_samples=1 << 16)
    assert snr(y, tm.inverse(ct).numpy()) >= 290


def test_ten_minutes(rng, snr):
    """A 10-minute float32 signal (at 8 kHz, to keep the suite short): zero mode at two
    rates, several blocks in both stages."""
    t = msft_cli.MSFT(8000, block_size=1 << 20)
    y = rng.standard_normal(600 * 8000).astype(np.float32)
    tm, ct = check_equal(t, y, torch.float32)
    assert snr(y, tm.inverse(ct).numpy()) >= 130


@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_native_float32_block_ffts(mode, rng, snr):
    """block_fft="native" (float32 block FFTs): still the FFTW engine's coefficients to 1e-6;
    the default (float64 block FFTs) round-trips a few dB closer."""
    t = msft_cli.MSFT(22050, mode=mode)
    y = rng.standard_normal((2, 20000)).astype(np.float32)
    native, _ = check_equal(t, y[0], torch.float32, block_fft="native")
    x = torch.from_numpy(y)
    worse = snr(y, native.inverse(native(x)).numpy())
    default = MSFT(t)
    better = snr(y, default.inverse(default(x)).numpy())
    assert 125 < worse < better


def test_one_rate_matches(rng, monkeypatch):
    """Zero mode without the two-rate split (the engine's private switch)."""
    monkeypatch.setattr("msft_cli.engine.transform._MULTIRATE", False)
    t = msft_cli.MSFT(22050, bins_per_octave=24)
    check_equal(t, rng.standard_normal(5000), torch.float64)


@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_batch_and_channel_dimensions(mode, rng):
    t = msft_cli.MSFT(22050, mode=mode)
    x = torch.from_numpy(rng.standard_normal((2, 3, 3000)))
    tm = MSFT(t, dtype=torch.float64)
    ct = tm(x)
    assert ct.shape == (2, 3)
    for i, j in ((0, 0), (1, 2)):
        one = tm(x[i, j])
        for a, b in zip(ct.groups, one.groups):
            torch.testing.assert_close(a[i, j], b, rtol=1e-12, atol=1e-13)
    y = tm.inverse(ct)
    assert y.shape == x.shape
    torch.testing.assert_close(y, x, rtol=0, atol=1e-12)


def test_dtypes_and_devices(rng):
    t = msft_cli.MSFT(22050)
    x = torch.from_numpy(rng.standard_normal((2, 1000)))
    for dtype, cdt in ((torch.float32, torch.complex64), (torch.float64, torch.complex128)):
        tm = MSFT(t, dtype=dtype)
        ct = tm(x)
        assert ct.lowpass.dtype == ct.highpass.dtype == dtype
        assert all(o.dtype == cdt for o in ct.octaves)
        assert all(g.device == tm.device for g in ct.groups)
        assert tm.inverse(ct).dtype == dtype


def test_module_to_dtype_rebuilds_windows(rng):
    """``.double()`` after a float32 run: the windows are remade in float64, not cast."""
    t = msft_cli.MSFT(22050)
    y = rng.standard_normal(2000)
    tm = MSFT(t, dtype=torch.float32)
    tm(torch.from_numpy(y))
    tm = tm.double()
    assert tm.dtype == torch.float64
    assert rel_diff(tm(torch.from_numpy(y)), t.forward(y)) <= 1e-12


def test_autocast_runs_in_float32(rng):
    t = msft_cli.MSFT(22050)
    tm = MSFT(t)
    x = torch.from_numpy(rng.standard_normal(2000).astype(np.float32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ct = tm(x.to(torch.bfloat16))
        y = tm.inverse(ct)
    assert ct.octaves[0].dtype == torch.complex64 and y.dtype == torch.float32


@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_gradcheck(mode):
    t = msft_cli.MSFT(1000, bins_per_octave=4, fmin=100, n_octaves=2, mode=mode)
    tm = MSFT(t, dtype=torch.float64)
    x = torch.randn(24, dtype=torch.float64, generator=torch.Generator().manual_seed(0),
                    requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: tuple(tm(v).groups), (x,),
                                    fast_mode=(mode == "zero"))
    c = [g.detach().requires_grad_() for g in tm(x).groups]

    def inverse(*groups):
        return tm.inverse(TensorCoefficients(t, 24, list(groups)))

    assert torch.autograd.gradcheck(inverse, tuple(c), fast_mode=True)


def test_interop_with_numpy_coefficients(rng, tmp_path, snr):
    t = msft_cli.MSFT(22050)
    y = rng.standard_normal((2, 3000))
    tm = MSFT(t, dtype=torch.float64)
    ct = tm(torch.from_numpy(y))
    box = ct.to_numpy()
    assert isinstance(box, msft_cli.Coefficients) and box.n_channels == 2 and not box.mono
    assert snr(y, t.inverse(box)) >= 290
    msft_cli.save(box, tmp_path / "c.h5")
    with msft_cli.load(tmp_path / "c.h5") as loaded:
        back = TensorCoefficients.from_numpy(loaded.to_coefficients())
    torch.testing.assert_close(tm.inverse(back), torch.from_numpy(y), rtol=0, atol=1e-6)
    mono = ct[1].to_numpy()
    assert mono.mono and np.allclose(t.inverse(mono), y[1])
    c32 = TensorCoefficients.from_numpy(box, dtype=torch.complex64)
    assert c32.octaves[0].dtype == torch.complex64 and c32.lowpass.dtype == torch.float32
    with pytest.raises(ParameterError, match="leading shape"):
        TensorCoefficients(t, 3000, [g[None] for g in ct.groups]).to_numpy()


def test_errors():
    t = msft_cli.MSFT(22050)
    with pytest.raises(TypeError, match="x must be a torch.Tensor, not ndarray"):
        MSFT(t)(np.zeros(10))
    with pytest.raises(TypeError, match="x must be a real tensor"):
        MSFT(t)(torch.zeros(10, dtype=torch.complex64))
    with pytest.raises(ParameterError, match=r"x has shape \(2, 0\)"):
        MSFT(t)(torch.zeros(2, 0))
    with pytest.raises(ParameterError, match="dtype=torch.float16 must be"):
        MSFT(t, dtype=torch.float16)
    with pytest.raises(TypeError, match="transform must be an msft_cli.MSFT"):
        MSFT("44100")
    with pytest.raises(ParameterError, match="block_fft='float16' is unknown"):
        MSFT(t, block_fft="float16")
    with pytest.raises(ParameterError, match="max_block_samples=0 must be at least 1"):
        MSFT(t, max_block_samples=0)
    with pytest.raises(ParameterError, match="coefficients were made by"):
        other = MSFT(sr=22050, bins_per_octave=24)
        other.inverse(MSFT(t)(torch.zeros(100)))


def test_params_dict_and_keywords():
    t = msft_cli.MSFT(22050, bins_per_octave=24, mode="periodic")
    assert MSFT(t.to_params()).transform.to_params() == t.to_params()
    assert MSFT(sr=22050, bins_per_octave=24, mode="periodic").transform.to_params() \
        == t.to_params()


def test_import_msft_does_not_import_torch():
    code = "import sys, msft_cli, msft_cli.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@cuda
@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_cuda_equal_to_numpy_engine(mode, rng):
    t = msft_cli.MSFT(44100, mode=mode)
    y = rng.standard_normal((2, 400_000)).astype(np.float32)
    tm = MSFT(t, device="cuda")
    ct = tm(torch.from_numpy(y).cuda())
    assert all(g.is_cuda for g in ct.groups)
    c = t.forward(y)
    for ch in range(2):
        num = sum(np.sum(np.abs(a[ch].cpu().numpy() - b[ch]) ** 2)
                  for a, b in zip(ct.groups, c.groups))
        den = sum(np.sum(np.abs(b[ch]) ** 2) for b in c.groups)
        assert np.sqrt(num / den) <= 1e-6


def test_chunks_give_the_same_values_and_gradients(rng):
    """Blocks one at a time (``max_block_samples=1``: results written chunk by chunk) or all
    at once: the same coefficients, signal and gradients."""
    t = msft_cli.MSFT(8000, fmin=110.0, block_size=2048)
    x = torch.from_numpy(rng.standard_normal((2, 5000)))
    results = []
    for limit in (None, 1):
        tm = MSFT(t, dtype=torch.float64, max_block_samples=limit)
        xx = x.clone().requires_grad_()
        c = tm(xx)
        y = tm.inverse(c)
        (sum((g.abs() ** 2).sum() for g in c.groups) + (y ** 3).sum()).backward()
        results.append((c, y, xx.grad))
    (c0, y0, g0), (c1, y1, g1) = results
    for a, b in zip(c0.groups, c1.groups):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-13)
    torch.testing.assert_close(y0, y1, rtol=0, atol=1e-13)
    torch.testing.assert_close(g0, g1, rtol=1e-12, atol=1e-12)


def test_adjoint_backward_equals_autograd(rng):
    """Periodic mode's backward (the synthesis kernel with the adjoint weights) gives
    autograd's gradients, with batch dimensions and unused groups."""
    t = msft_cli.MSFT(22050, mode="periodic")
    x = torch.from_numpy(rng.standard_normal((2, 3, 5000)))
    grads = []
    for adjoint in (True, False):
        tm = MSFT(t, dtype=torch.float64, adjoint_backward=adjoint)
        xx = x.clone().requires_grad_()
        c = tm(xx)
        loss = (c.octaves[2].abs() ** 3).sum() + c.lowpass.sum() + (c.highpass ** 2).sum()
        loss.backward()
        grads.append(xx.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)
