"""Tests of msft_cli.learn_dft: targets, solvers, evaluation, model files, figure data, CLI.

The problems are small (inputs of 8 to 64 samples) so that the matrix products
stay below the size where BLAS starts threads, and the file runs in seconds.
The published configuration is measured by ``bench/learn_dft.py``.
"""

import inspect
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
from click.testing import CliRunner

from msft_cli import MSFT, learn_dft
from msft_cli import save as msft_cli_save
from msft_cli.cli import main
from msft_cli.errors import ContainerError, ParameterError
from msft_cli.learn_dft import model as model_file
from msft_cli.learn_dft import train

#: A small STFT: Hann 16, n_fft 16, hop 4, 64 samples -> 13 frames x 9 bins.
SMALL_STFT = {"n_fft": 16, "hop_length": 4, "input_length": 64}
#: The four-tone test on the small STFT after training: relative error at most this.
SMALL_STFT_TONES_TOL = 1e-6


@pytest.fixture(scope="module")
def stft_result():
    """The default solver (Adam, learning rate following the gradient's RMS), 8 epochs."""
    return learn_dft.learn_dft("stft", **SMALL_STFT, examples=500, epochs=8, batch_size=16,
                               seed=3)


# -- targets ------------------------------------------------------------------------------

def test_published_stft_shape():
    t = learn_dft.make_target("stft")
    b = t.blocks[0]
    assert (t.n_inputs, b.n_frames, b.n_bins, t.n_outputs) == (2048, 33, 129, 8514)
    assert t.params == {"n_fft": 256, "win_length": 256, "hop_length": 56, "window": "hann",
                        "input_length": 2048, "sr": 8000}
    assert np.allclose(b.times * 8000, np.arange(33) * 56)


@pytest.mark.parametrize("name, params", [
    ("dft", {"size": 12}),
    ("stft", SMALL_STFT),
    ("stft", {"n_fft": 32, "win_length": 20, "hop_length": 7, "input_length": 100,
              "window": "blackman"}),
    ("msft", {}),
])
def test_forward_is_the_analytic_matrix(rng, name, params):
    t = learn_dft.make_target(name, **params)
    x = rng.uniform(-1, 1, (5, t.n_inputs))
    y = t.forward(x)
    a = t.matrix()
    assert y.shape == (5, t.n_outputs) and a.shape == (t.n_inputs, t.n_outputs)
    assert np.allclose(y, x @ a, rtol=0, atol=1e-12 * np.abs(y).max())


def test_dft_target_is_numpy_fft(rng):
    t = learn_dft.make_target("dft", size=10)
    x = rng.standard_normal((3, 10))
    assert np.allclose(t.to_complex(t.forward(x)), np.fft.fft(x, axis=1), atol=1e-12)


def test_stft_target_is_scipy_stft_unscaled_unpadded(rng):
    """Our frames are scipy.signal.stft's without boundary, padding or scaling."""
    t = learn_dft.make_target("stft")
    x = rng.uniform(-1, 1, 2048)
    win = scipy.signal.get_window("hann", 256)
    _, _, z = scipy.signal.stft(x, window="hann", nperseg=256, noverlap=200, nfft=256,
                                boundary=None, padded=False, detrend=False)
    ours = t.split(t.to_complex(t.forward(x[None])[0]))[0]
    assert ours.shape == z.shape == (129, 33)
    assert np.allclose(ours, z * win.sum(), atol=1e-10)


def test_msft_target_is_the_transform(rng):
    t = learn_dft.make_target("msft", bins_per_octave=4)
    tf = MSFT(8000, fmin=500.0, n_octaves=2, bins_per_octave=4, mode="periodic")
    x = rng.uniform(-1, 1, 256)
    c = tf.forward(x)
    parts = t.split(t.to_complex(t.forward(x[None])[0]))
    assert [b.name for b in t.blocks] == ["lowpass", "octave_0", "octave_1", "highpass"]
    for got, want in zip(parts, c.groups):
        assert np.allclose(got, want[0], atol=1e-12)
    assert all(np.all(p.imag == 0) for p, b in zip(parts, t.blocks) if b.real)


def test_test_signal_is_four_tones():
    t = learn_dft.make_target("stft")
    x = learn_dft.test_signal(t)
    spec = np.abs(np.fft.rfft(x * np.hanning(2048)))
    peaks = sorted(np.argsort(spec)[-12:] * 8000 / 2048)
    for f, _ in learn_dft.TEST_TONES:
        assert min(abs(p - f) for p in peaks) < 8, f


# -- solvers ------------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_dft16_learned_to_machine_precision(solver):
    r = learn_dft.learn_dft("dft", size=16, examples=2000, epochs=4, precision="float64",
                            batch_size=16, seed=1, solver=solver)
    e = r.evaluation
    assert e["weights_max_abs_diff"] < 1e-12
    assert e["weights_max_rel_diff"] < 1e-12
    assert e["tones_rel_error"] < 1e-12 and e["fresh_rel_error"] < 1e-12
    assert e["tones_rel_error_db"] < -240
    assert r.history["val_loss"][-1] < 1e-24
    assert r.settings["batch_size"] == 16 and r.settings["epochs"] == 4


def assert_learned_small_stft(result, fall_per_epoch):
    """The small STFT passes the four-tone and fresh-noise tests, its weights match the
    analytic matrix, and its validation MSE fell ``fall_per_epoch`` times every epoch."""
    e = result.evaluation
    assert e["tones_rel_error"] < SMALL_STFT_TONES_TOL
    assert e["fresh_rel_error"] < SMALL_STFT_TONES_TOL
    assert e["weights_max_rel_diff"] < 10 * SMALL_STFT_TONES_TOL
    loss = result.history["val_loss"]
    assert np.all(loss[1:] < loss[:-1] / fall_per_epoch)


def test_adam_learns_a_small_stft(stft_result):
    """Adam, the default, passes the four-tone test; its MSE falls > 30x every epoch."""
    assert stft_result.settings["solver"] == "adam"
    assert stft_result.settings["lr_schedule"] == "rms"
    assert_learned_small_stft(stft_result, fall_per_epoch=30)


def test_sgd_learns_a_small_stft():
    r = learn_dft.learn_dft("stft", **SMALL_STFT, examples=500, epochs=5, batch_size=16,
                            seed=3, solver="sgd")
    assert_learned_small_stft(r, fall_per_epoch=300)


def test_mixed_precision_switches_to_float64(stft_result):
    bits = stft_result.history["bits"]
    assert bits[0] == 32 and bits[-1] == 64
    assert list(bits) == sorted(bits)
    assert stft_result.settings["precision"] == "mixed"


def test_float32_stays_float32():
    r = learn_dft.learn_dft("dft", size=8, examples=500, epochs=3, precision="float32",
                            batch_size=16, seed=2)
    assert list(r.history["bits"]) == [32, 32, 32]
    assert 1e-12 < r.evaluation["weights_max_rel_diff"] < 1e-5  # float32's reach


@pytest.mark.parametrize("name, params", [("dft", {"size": 16}), ("stft", SMALL_STFT),
                                          ("msft", {"bins_per_octave": 4})])
def test_lstsq_is_the_analytic_matrix(name, params):
    r = learn_dft.learn_dft(name, solver="lstsq", examples=600, seed=4, **params)
    assert r.evaluation["weights_max_rel_diff"] < 1e-12
    assert r.evaluation["tones_rel_error"] < 1e-12
    assert r.settings["epochs"] == 1 and np.isnan(r.history["loss"][0])


def test_adam_with_a_fixed_learning_rate():
    """A given lr is Keras's fixed learning rate: it learns, then stalls near lr."""
    r = learn_dft.learn_dft("dft", size=8, solver="adam", lr=0.02, examples=1000, epochs=6,
                            batch_size=16, precision="float64", seed=5)
    loss = r.history["val_loss"]
    assert loss[-1] < 1e-3 * loss[0]
    assert r.settings["lr"] == 0.02 and r.settings["lr_schedule"] == "constant"


def test_adam_threads_change_nothing(monkeypatch):
    """Adam's update shared between threads by rows gives the very same weights."""
    def run():
        return learn_dft.learn_dft("stft", **SMALL_STFT, examples=300, epochs=2,
                                   batch_size=16, seed=6).weights
    monkeypatch.setattr(train, "_ADAM_ROWS", 4)
    monkeypatch.setattr(train, "_ADAM_THREADS", 1)
    one = run()
    monkeypatch.setattr(train, "_ADAM_THREADS", 3)
    assert np.array_equal(run(), one)


def test_seed_repeats_and_differs():
    def run(seed):
        return learn_dft.learn_dft("dft", size=8, examples=300, epochs=2, seed=seed,
                                   precision="float64")
    a, b, c = run(7), run(7), run(8)
    assert np.array_equal(a.weights, b.weights)
    assert np.array_equal(a.history["loss"], b.history["loss"])
    assert not np.array_equal(a.weights, c.weights)


def test_default_step_and_batch():
    r = learn_dft.learn_dft("dft", size=64, examples=300, epochs=1, seed=0, solver="sgd")
    assert r.settings["batch_size"] == 256
    assert r.settings["lr"] == pytest.approx(128 / (2 / 3 * (1 + 65 / 256)))
    assert r.settings["lr_schedule"] == "constant"
    r = learn_dft.learn_dft("dft", size=64, examples=300, epochs=1, seed=0)
    assert r.settings["solver"] == "adam" and r.settings["lr_schedule"] == "rms"
    assert r.settings["lr"] == pytest.approx(learn_dft.ADAM_GAIN * 128
                                             / (2 / 3 * (1 + 65 / 256)))
    assert (r.settings["beta1"], r.settings["beta2"], r.settings["eps"]) == (0.5, 0.999, 1e-7)
    r = learn_dft.learn_dft("dft", size=8, examples=10, epochs=1, batch_size=64, seed=0)
    assert r.settings["batch_size"] == 10  # at most the examples


def test_tol_stops_early_and_progress_reports_each_epoch():
    seen = []
    r = learn_dft.learn_dft("dft", size=8, examples=500, epochs=20, tol=1e-20, seed=0,
                            precision="float64", solver="sgd",
                            progress=lambda e, n, rec: seen.append((e, n, rec and rec["val_loss"])))
    n = len(r.history["epoch"])
    assert n < 20 and r.history["val_loss"][-1] <= 1e-20 < r.history["val_loss"][-2]
    assert [s[0] for s in seen] == list(range(n + 1)) and seen[0][1] == 20
    assert seen[0][2] is None
    assert np.all(np.diff(r.history["seconds"]) >= 0)


# -- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"target": "dft", "size": 1}, "size=1 must be at least 2"),
    ({"target": "fft"}, "target='fft' is unknown: must be one of dft, stft, msft"),
    ({"hop_length": 300}, "hop_length=300 must not exceed win_length=256 (frames would skip "
                          "samples)"),
    ({"hop_length": 0}, "hop_length=0 must be at least 1"),
    ({"win_length": 300}, "win_length=300 must not exceed n_fft=256"),
    ({"input_length": 100}, "win_length=256 must not exceed input_length=100"),
    ({"n_fft": 1}, "n_fft=1 must be at least 2"),
    ({"window": "kaiser"}, "window='kaiser' is unknown: must be one of hann, hamming, "
                           "blackman, boxcar"),
    ({"examples": 0}, "examples=0 must be at least 1"),
    ({"epochs": 0}, "epochs=0 must be at least 1"),
    ({"batch_size": 0}, "batch_size=0 must be at least 1"),
    ({"lr": -1.0}, "lr=-1.0 must be a positive finite number"),
    ({"lr": float("nan")}, "lr=nan must be a positive finite number"),
    ({"beta1": 1.0}, "beta1=1.0 must be in [0, 1)"),
    ({"eps": 0.0}, "eps=0.0 must be a positive finite number"),
    ({"tol": -1.0}, "tol=-1.0 must not be negative"),
    ({"tol": float("inf")}, "tol=inf must be a finite number"),
    ({"solver": "newton"}, "solver='newton' is unknown: must be one of adam, sgd, lstsq"),
    ({"precision": "half"}, "precision='half' is unknown: must be one of mixed, float64, "
                            "float32"),
    ({"solver": "lstsq", "examples": 100}, "examples=100 must be at least the input length "
                                           "2048 for solver='lstsq' (the normal equations "
                                           "are singular otherwise)"),
    ({"target": "msft", "input_length": 200}, "input_length=200 must be a period of the "
                                              "transform: a multiple of its coarsest hop 32 "
                                              "times 1, 3, 5 or 7 and a power of two "
                                              "(e.g. 224)"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ParameterError) as info:
        learn_dft.learn_dft(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 2.5, "target": "dft"}, "size must be an int, not float"),
    ({"epochs": True}, "epochs must be an int, not bool"),
    ({"lr": "0.1"}, "lr must be a number, not str"),
])
def test_parameters_of_the_wrong_type(kwargs, message):
    with pytest.raises(TypeError) as info:
        learn_dft.learn_dft(**kwargs)
    assert str(info.value) == message


# -- model files and figure data ----------------------------------------------------------

def test_model_round_trip(tmp_path, stft_result):
    path = stft_result.save(tmp_path / "m.h5")
    assert path.exists() and not list(tmp_path.glob(".*part"))
    back = learn_dft.load(path)
    assert back.target.params == stft_result.target.params
    assert np.array_equal(back.weights, stft_result.weights)
    assert back.settings == stft_result.settings
    assert back.evaluation == stft_result.evaluation
    assert back.seconds == stft_result.seconds
    for k, v in stft_result.history.items():
        assert np.array_equal(back.history[k], v), k
    raw = model_file.load_model(path)
    assert raw["attrs"]["format"] == "msft-model" and raw["attrs"]["format_version"] == 1
    assert isinstance(raw["attrs"]["format_version"], (int, np.integer))
    t = stft_result.target
    assert np.allclose(raw["arrays"]["test/reference"],
                       t.forward(learn_dft.test_signal(t)[None])[0])


def test_load_rejects_what_is_not_a_model(tmp_path, stft_result):
    with pytest.raises(ContainerError, match="no such file"):
        learn_dft.load(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ContainerError, match="not an HDF5 file"):
        learn_dft.load(tmp_path / "text.h5")
    box = MSFT(8000, fmin=500.0, n_octaves=1, mode="periodic").forward(np.zeros(64))
    msft_cli_save(box, tmp_path / "box.h5")
    with pytest.raises(ContainerError, match="not an msft model file .* 'msft-model'"):
        learn_dft.load(tmp_path / "box.h5")
    model_file.save_model(tmp_path / "new.h5", np.zeros((2, 2)), {"format_version": 2}, {})
    with pytest.raises(ContainerError, match="model format version 2 is newer"):
        learn_dft.load(tmp_path / "new.h5")
    with pytest.raises(ContainerError, match="does not exist"):
        stft_result.save(tmp_path / "nowhere" / "m.h5")


def test_figure_data_of_an_stft(tmp_path, stft_result):
    fig = learn_dft.figure_data(stft_result)
    t = stft_result.target
    assert fig["title"] == t.describe() and fig["sr"] == 8000
    assert [m["frame"] for m in fig["weight_maps"]] == [0, 10]  # 13 frames: 20 and 30 dropped
    for m in fig["weight_maps"]:
        for key in ("real", "imag", "analytic_real", "analytic_imag"):
            assert m[key].shape == (64, 9), key
        assert np.allclose(m["real"], m["analytic_real"], atol=1e-5)
    m = fig["weight_maps"][1]
    assert np.allclose(m["analytic_real"][40:56, 1], np.hanning(17)[:16] * np.cos(
        2 * np.pi * np.arange(16) / 16))
    assert len(fig["weight_rows"]) == 3
    row = fig["weight_rows"][0]
    assert (row["frame"], row["bin"]) == (6, 1) and row["samples"].shape == (64,)
    assert np.allclose(row["learned_imag"], row["analytic_imag"], atol=1e-5)
    s = fig["spectrograms"]
    assert s["reference"].shape == s["network"].shape == s["reference_db"].shape == (9, 13)
    assert s["frequencies"].shape == (9,) and s["times"].shape == (13,)
    assert s["rel_error"] == pytest.approx(stft_result.evaluation["tones_rel_error"])
    assert s["network_db"].min() >= -120.0
    assert set(fig["loss"]) == {"epoch", "loss", "val_loss", "seconds", "bits", "solver"}
    assert fig["metrics"] == stft_result.evaluation
    from_file = learn_dft.figure_data(stft_result.save(tmp_path / "m.h5"))
    assert np.array_equal(from_file["weight_maps"][0]["real"], fig["weight_maps"][0]["real"])
    with pytest.raises(ParameterError, match=r"rows=\(13, 1\) is outside the 13 frames x 9"):
        learn_dft.figure_data(stft_result, rows=[(13, 1)])


def test_figure_data_of_dft_and_msft():
    r = learn_dft.learn_dft("dft", size=8, solver="lstsq", examples=50)
    fig = learn_dft.figure_data(r)
    assert len(fig["weight_maps"]) == 1 and fig["weight_maps"][0]["real"].shape == (8, 8)
    assert fig["spectrograms"]["reference"].shape == (8, 1)
    r = learn_dft.learn_dft("msft", bins_per_octave=4, solver="lstsq", examples=300)
    fig = learn_dft.figure_data(r)
    assert {m["block"] for m in fig["weight_maps"]} == {"octave_0", "octave_1"}
    s = fig["spectrograms"]
    assert s["reference"].shape == (1 + 4 + 4 + 1, 256) and s["times"].shape == (256,)
    assert np.all(np.diff(s["frequencies"]) > 0)


# -- command line -------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(main, ["learn-dft", *map(str, args)])


def test_cli_learns_and_writes_a_model(tmp_path):
    out = tmp_path / "dft.h5"
    result = run("--target", "dft", "--size", "8", "--examples", "400", "--epochs", "6",
                 "--batch-size", "16", "--precision", "float64", "--seed", "1", "-o", out)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "8-point DFT: 8 x 16 weights"
    assert lines[1].startswith("solver adam, 400 examples, seed 1, 6 epochs, batch 16, lr ")
    assert " x gradient RMS, float64 precision: " in lines[1]
    assert lines[2] == "epoch   loss (train)   val_loss   seconds"
    assert lines[-1] == f"-> {out}"
    assert any(line.startswith("weights vs analytic: max abs diff ") for line in lines)
    model = learn_dft.load(out)
    assert model.evaluation["weights_max_rel_diff"] < 1e-12
    quiet = run("--target", "dft", "--size", "4", "--examples", "40", "--epochs", "1", "-q",
                "--solver", "lstsq", "-o", tmp_path / "q.h5")
    assert quiet.exit_code == 0 and quiet.output == ""
    sgd = run("--target", "dft", "--size", "8", "--examples", "400", "--epochs", "3",
              "--solver", "sgd", "--seed", "1", "-o", tmp_path / "sgd.h5")
    assert sgd.exit_code == 0, sgd.output
    assert sgd.stdout.splitlines()[1].startswith("solver sgd, 400 examples, seed 1, 3 epochs, "
                                                 "batch 256, lr ")
    assert " x gradient RMS" not in sgd.stdout


@pytest.mark.parametrize("args, message", [
    (("--target", "dft", "--size", "1"), "size=1 must be at least 2"),
    (("--hop-length", "300"), "hop_length=300 must not exceed win_length=256 (frames would "
                              "skip samples)"),
    (("--input-length", "100"), "win_length=256 must not exceed input_length=100"),
    (("--examples", "0"), "examples=0 must be at least 1"),
    (("--target", "dft", "--batch-size", "0"), "batch_size=0 must be at least 1"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    result = run(*args, "-q", "-o", tmp_path / "x.h5")
    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"
    assert not (tmp_path / "x.h5").exists()


def test_cli_defaults_are_the_library_defaults():
    cmd = main.commands["learn-dft"]
    params = {p.name: p for p in cmd.params}
    for name, p in inspect.signature(learn_dft.learn_dft).parameters.items():
        if name == "progress":
            continue
        assert name in params, f"learn-dft has no option for {name}"
        assert params[name].default == p.default, name
        assert f"--{name.replace('_', '-')}" in params[name].opts, name


def test_load_refuses_damaged_model_files_in_one_line(tmp_path, stft_result):
    """Mutants of a model file (bench/fuzz.py's mutations): read, or one ContainerError."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "msft_bench_fuzz", Path(__file__).resolve().parent.parent / "bench" / "fuzz.py")
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    raw = stft_result.save(tmp_path / "m.h5").read_bytes()
    refused = 0
    for seed in range(60):
        data, what = fuzz.mutant(raw, seed)
        path = tmp_path / f"m{seed}.h5"
        path.write_bytes(data)
        try:
            learn_dft.load(path)
        except ContainerError as exc:
            assert "\n" not in str(exc)
            refused += 1
    assert refused > 0
