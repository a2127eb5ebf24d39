"""Tests of ``msft render MODEL.h5``: the figure of a learn-dft model, its raw weights, errors.

The models are small (16 to 256 inputs) and made once per module; a full
figure costs about two seconds of drawing, so few are drawn and most checks
look at what is drawn (panels, rows, title) without drawing it.
"""

import importlib
import shutil
from pathlib import Path

import h5py
import matplotlib
import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure
from matplotlib.image import imread

from msft_cli import MsftError, ParameterError, learn_dft
from msft_cli.cli import main
from msft_cli.learn_dft.figures import WEIGHT_CMAP, render_model
from msft_cli.render import input_kind, render

#: the module (``msft_cli.render`` could be shadowed by a function exported under that name)
rendering = importlib.import_module("msft_cli.learn_dft.figures")

#: A small STFT: Hann 16, n_fft 16, hop 4, 64 samples -> 13 frames x 9 bins, 64 x 234 weights.
SMALL_STFT = {"n_fft": 16, "win_length": 16, "hop_length": 4, "input_length": 64}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Model files: a 16-point DFT, the small STFT by SGD and by lstsq, a tiny msft."""
    folder = tmp_path_factory.mktemp("models")
    made = {"dft": learn_dft.learn_dft("dft", size=16, epochs=2, examples=500),
            "stft": learn_dft.learn_dft("stft", **SMALL_STFT, solver="sgd", epochs=3,
                                        examples=2000),
            "lstsq": learn_dft.learn_dft("stft", **SMALL_STFT, solver="lstsq", examples=200),
            "msft": learn_dft.learn_dft("msft", n_octaves=1, bins_per_octave=4, epochs=2,
                                        examples=600)}
    paths = {}
    for name, result in made.items():
        paths[name] = folder / f"{name}.h5"
        result.save(paths[name])
    return paths


@pytest.fixture
def model_copy(tmp_path, models):
    """A fresh copy of the small STFT model in its own folder (to damage)."""
    def copy(name="stft"):
        path = tmp_path / "in" / f"{name}.h5"
        path.parent.mkdir(exist_ok=True)
        shutil.copy(models[name], path)
        return path
    return copy


def files_in(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def pixels(path):
    """An image file's pixels as floats in 0..1 (RGBA), top row first."""
    return imread(path)


def assert_not_blank(px):
    rgb = px[..., :3]
    assert rgb.std() > 0.05  # text, lines and images, not one colour
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 100


# -- the figure -----------------------------------------------------------------------------
def test_the_figure_is_a_png_of_the_default_size_beside_the_model(models):
    report = render(models["stft"])  # render() dispatches on the file's root attribute
    out = models["stft"].with_suffix(".png")
    px = pixels(out)
    assert px.shape[:2] == (rendering.MODEL_HEIGHT, rendering.MODEL_WIDTH) == (1200, 1600)
    assert_not_blank(px)
    assert report.output == out and report.input == str(models["stft"])
    assert report.extra == {"width": 1600, "height": 1200, "format": "png",
                            "size": out.stat().st_size, "weights": (64, 234)}
    assert report.duration == 64 / 8000  # the input length in seconds
    # both diverging weight colours and the spectrograms' colormap are there
    rgb = (px[..., :3] * 255).round().astype(int).reshape(-1, 3)
    assert np.any((rgb[:, 0] > 150) & (rgb[:, 2] < 90))  # red: positive weights
    assert np.any((rgb[:, 2] > 150) & (rgb[:, 0] < 90))  # blue: negative weights


def test_a_pdf_of_an_lstsq_model(tmp_path, models):
    report = render_model(models["lstsq"], tmp_path / "m.pdf", width=800, height=600)
    assert (tmp_path / "m.pdf").read_bytes().startswith(b"%PDF")
    assert report.extra["format"] == "pdf"
    assert (report.extra["width"], report.extra["height"]) == (800, 600)
    assert files_in(tmp_path) == ["m.pdf"]


def test_an_svg_of_an_msft_model_stacks_its_octaves(tmp_path, models):
    data = learn_dft.figure_data(learn_dft.load(models["msft"]))
    panels = rendering._map_panels(data["weight_maps"])
    # 1 octave x 4 bins, plus low- and high-pass bands that are not maps
    assert all(values.shape == (256, 4) for _, values, _ in panels)
    report = render_model(models["msft"], tmp_path / "msft.svg", width=800, height=600,
                          dpi=80)
    svg = (tmp_path / "msft.svg").read_bytes()
    assert svg.startswith(b"<?xml") and b'width="720pt" height="540pt"' in svg  # 800x600 px
    assert svg.count(b"<image") >= 4 + 4  # weight maps and spectrograms
    assert report.extra["weights"] == (256, 704)


def test_weight_map_panels_follow_the_frames_that_exist(models):
    def labels(result, **kw):
        return [p[0] for p in rendering._map_panels(
            learn_dft.figure_data(result, **kw)["weight_maps"])]

    small = learn_dft.load(models["stft"])  # 13 frames: the 1st and 11th, real and imaginary
    assert labels(small) == ["frame 1, real", "frame 1, imaginary", "frame 11, real",
                             "frame 11, imaginary"]
    longer = learn_dft.learn_dft("stft", **{**SMALL_STFT, "input_length": 256},
                                 solver="lstsq", examples=256)  # 61 frames: all four
    assert labels(longer) == [f"frame {f}, real" for f in (1, 11, 21, 31)]
    assert labels(learn_dft.load(models["dft"])) == ["frame 1, real", "frame 1, imaginary"]
    for _, values, freqs in rendering._map_panels(
            learn_dft.figure_data(longer)["weight_maps"]):
        assert values.shape == (256, 9) and freqs[-1] == 4000.0


def test_default_weight_rows_are_three_distinct_bins():
    published = learn_dft.make_target("stft")  # 129 bins: figure_data's own default
    assert rendering._default_rows(published) == [(16, 8), (16, 16), (16, 32)]
    small = learn_dft.make_target("stft", **SMALL_STFT)  # 9 bins: 1, 1, 2 would repeat
    assert rendering._default_rows(small) == [(6, 1), (6, 2), (6, 4)]
    tiny = learn_dft.make_target("msft", n_octaves=1, bins_per_octave=4)
    assert len(set(rendering._default_rows(tiny))) == 3


def test_the_title_names_the_model_and_its_errors(tmp_path, models, monkeypatch):
    drawn = []
    monkeypatch.setattr(rendering, "_draw_model", lambda data, path, *a: drawn.append(
        (data, a[-1])) or Path(path).write_bytes(b"x"))
    render(models["stft"], tmp_path / "a.png")
    render(models["stft"], tmp_path / "b.png", title="Mine")
    (data, lines), (_, mine) = drawn
    e = learn_dft.load(models["stft"]).evaluation
    assert lines[0] == ("stft.h5 - STFT, hann 16, n_fft 16, hop 4, 64 samples -> 13 frames x "
                        "9 bins: 64 x 234 weights")
    assert mine[0].startswith("Mine - STFT, hann 16")
    assert lines[1].startswith("sgd, 2000 examples, 3 epochs")
    assert f"four tones: relative error {e['tones_rel_error_db']:.1f} dB" in lines[1]
    assert f"max |W - A| {e['weights_max_abs_diff']:.2e}" in lines[1]
    assert [r["bin"] for r in data["weight_rows"]] == [1, 2, 4]


def test_the_loss_panel(models):
    fig = Figure()
    sgd, lstsq = fig.subplots(1, 2)
    rendering._draw_loss(sgd, learn_dft.figure_data(learn_dft.load(models["stft"]))["loss"])
    assert sgd.get_yscale() == "log"
    assert [line.get_label() for line in sgd.get_lines()][:2] == ["training", "validation"]
    assert len(sgd.get_lines()[0].get_xdata()) == 3  # one point per epoch
    loss = learn_dft.figure_data(learn_dft.load(models["lstsq"]))["loss"]
    assert np.isnan(loss["loss"]).all()
    rendering._draw_loss(lstsq, loss)
    assert lstsq.get_yscale() == "log"
    assert [line.get_label() for line in lstsq.get_lines()] == ["validation"]  # one point
    text = " ".join(t.get_text() for t in lstsq.texts)
    assert "closed form (lstsq)" in text and f"{loss['val_loss'][0]:.3g}" in text


# -- raw: the weight matrix ------------------------------------------------------------------
def test_raw_is_the_weight_matrix_one_pixel_per_weight(tmp_path, models):
    w = learn_dft.load(models["stft"]).weights
    report = render(models["stft"], tmp_path / "w.png", raw=True)
    px = pixels(tmp_path / "w.png")
    assert px.shape[:2] == w.shape == (64, 234)
    assert (report.extra["width"], report.extra["height"]) == (234, 64)
    lim = np.abs(w).max()
    expected = matplotlib.colormaps[WEIGHT_CMAP]((w + lim) / (2 * lim))
    assert np.abs(px - expected).max() <= 1 / 255 + 1e-6  # input samples down, outputs across


def test_raw_pools_the_largest_magnitude_down_to_the_size_asked(tmp_path, models):
    w = learn_dft.load(models["stft"]).weights
    render_model(models["stft"], tmp_path / "p.png", raw=True, width=50, height=16)
    assert pixels(tmp_path / "p.png").shape[:2] == (16, 50)
    render_model(models["stft"], tmp_path / "big.png", raw=True, width=5000, height=5000)
    assert pixels(tmp_path / "big.png").shape[:2] == (64, 234)  # never enlarged
    render_model(models["stft"], tmp_path / "narrow.png", raw=True, width=100)
    assert pixels(tmp_path / "narrow.png").shape[:2] == (64, 100)
    for ext in ("svg", "pdf"):
        render_model(models["stft"], tmp_path / f"r.{ext}", raw=True)
    assert b"<image" in (tmp_path / "r.svg").read_bytes()


def test_pool_signed_keeps_the_weight_of_largest_magnitude(rng):
    w = rng.standard_normal((13, 37))
    pooled = rendering._pool_signed(w, 4, 10)
    assert pooled.shape == (4, 10)
    r0, c0 = np.arange(4) * 13 // 4, np.arange(10) * 37 // 10
    for i in range(4):
        for j in range(10):
            cell = w[r0[i]:(r0[i + 1] if i < 3 else 13), c0[j]:(c0[j + 1] if j < 9 else 37)]
            assert pooled[i, j] == cell.flat[np.argmax(np.abs(cell))]
    np.testing.assert_array_equal(rendering._pool_signed(w, 13, 37), w)


# -- the command line ------------------------------------------------------------------------
def test_cli_draws_a_model(tmp_path, models):
    out = tmp_path / "dft.png"
    result = CliRunner().invoke(main, ["render", str(models["dft"]), "-o", str(out),
                                       "--width", "640", "--height", "480", "--dpi", "80"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{models['dft']} -> {out}: 640x480 PNG in ")
    px = pixels(out)
    assert px.shape[:2] == (480, 640)
    assert_not_blank(px)
    raw = tmp_path / "raw.png"
    result = CliRunner().invoke(main, ["render", str(models["dft"]), "-o", str(raw), "--raw",
                                       "-q"])
    assert result.exit_code == 0 and result.output == ""
    assert pixels(raw).shape[:2] == (16, 32)  # 16 inputs x 16 bins, real then imaginary


@pytest.mark.parametrize("args, message", [
    (["--start", "1"], "{p}: start=1.0 does not apply to a learn-dft model (its figure shows "
                       "the whole model)"),
    (["--channel", "0"], "{p}: channel=0 does not apply to a learn-dft model"),
    (["--fmax", "1000"], "{p}: fmax=1000.0 does not apply to a learn-dft model"),
    (["--y-axis", "note"], "{p}: y_axis='note' does not apply to a learn-dft model"),
    (["--width", "300", "--height", "200"],
     "a 300x200 figure at dpi=100 leaves no room for a model's panels: make it at least "
     "640x480 pixels, lower the dpi, or use raw=True"),
    (["--cmap", "nope"], "cmap='nope' is unknown"),
], ids=["start", "channel", "fmax", "y-axis", "too-small", "cmap"])
def test_cli_refuses_options_that_do_not_apply(tmp_path, model_copy, args, message):
    path = model_copy()
    result = CliRunner().invoke(main, ["render", str(path), "-o", str(tmp_path / "x.png")]
                                + args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: " + message.format(p=path))
    assert result.output.count("\n") == 1
    assert files_in(tmp_path) == ["in"] and files_in(path.parent) == ["stft.h5"]


def test_transform_options_are_ignored_for_a_model(tmp_path, models):
    # as for containers, which carry their own transform (a batch passes them to every file)
    report = render(models["dft"], tmp_path / "w.png", raw=True, bins_per_octave=24,
                    threads=1)
    assert report.extra["weights"] == (16, 32)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        render(models["dft"], tmp_path / "x.png", colour="red")


def test_a_model_in_memory(tmp_path, models):
    result = learn_dft.load(models["dft"])
    with pytest.raises(ParameterError, match="output is required when rendering a model"):
        render_model(result)
    report = render(result, tmp_path / "m.png", raw=True)
    assert report.input == "model" and pixels(tmp_path / "m.png").shape[:2] == (16, 32)
    with pytest.raises(ParameterError, match=r"^frames=\(50,\): none is an output frame of "
                                             r"model \(it has 1: 0..0\)$"):
        render_model(result, tmp_path / "n.png", frames=(50,))
    assert files_in(tmp_path) == ["m.png"]


# -- damaged and foreign files ---------------------------------------------------------------
def set_attr(name, value):
    def damage(path):
        with h5py.File(path, "a") as f:
            f.attrs[name] = value
    return damage


def replace_dataset(name, value):
    def damage(path):
        with h5py.File(path, "a") as f:
            del f[name]
            f[name] = value
    return damage


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3])


@pytest.mark.parametrize("damage, message", [
    (set_attr("format_version", 99),
     "{p}: model format version 99 is newer than this msft reads (1): upgrade msft"),
    (set_attr("target_params", "{oops"), "{p}: corrupt model file (Expecting "),
    (set_attr("target_params", '{"n_fft": -1}'), "{p}: n_fft=-1 must be at least 2"),
    (set_attr("evaluation", '{"tones_rel_error": 1}'),
     "{p}: incomplete model file (no 'tones_rel_error_db' in its evaluation)"),
    (replace_dataset("weights", np.zeros((3, 3))),
     "{p}: corrupt model file (weights are (3, 3), the target needs (64, 234) floats)"),
    (replace_dataset("history/loss", np.zeros(7)),
     "{p}: corrupt model file (the history's epoch, loss and val_loss are not one row"),
    (truncate, "{p}: not an HDF5 file (corrupt or another format)"),
], ids=["newer", "bad-json", "bad-params", "no-metric", "weights-shape", "history",
        "truncated"])
def test_damaged_model_files_give_one_line_and_no_image(tmp_path, model_copy, damage,
                                                        message):
    path = model_copy()
    damage(path)
    for raw in (False, True):
        with pytest.raises(MsftError) as err:
            render(path, tmp_path / "x.png", raw=raw)
        text = str(err.value)
        assert text.startswith(message.format(p=path)) and "\n" not in text
    result = CliRunner().invoke(main, ["render", str(path), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: " + message.format(p=path))
    assert result.output.count("\n") == 1
    assert files_in(tmp_path) == ["in"] and files_in(path.parent) == ["stft.h5"]


def test_a_newer_model_is_still_recognised_as_a_model(model_copy):
    path = model_copy()
    set_attr("format_version", 99)(path)
    assert input_kind(path) == "model"


def test_a_failed_write_leaves_nothing(tmp_path, models, monkeypatch):
    def broken(data, path, *args):
        Path(path).write_bytes(b"half an image")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(rendering, "_draw_model", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        render(models["stft"], tmp_path / "x.png")
    assert files_in(tmp_path) == []
