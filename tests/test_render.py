"""Tests of msft_cli.render and ``msft render``: pixels first, then inputs, outputs, errors.

The transforms here start at 500 Hz (5 octaves at 44.1 kHz, hops 256 .. 16
samples) so that analysis takes milliseconds; the pixel properties do not
depend on fmin.
"""

import importlib
import inspect
import re
from pathlib import Path

import h5py
import matplotlib
import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure
from matplotlib.image import imread

from msft_cli import MSFT, MsftError, ParameterError, analyze, load, save
from msft_cli.cli import main
from msft_cli.errors import AudioError, ContainerError
from msft_cli.io.audio import AudioWriter
from msft_cli.render import FLOOR_DB, Raster, input_kind, raster, render, targets

#: the module (``msft_cli.render`` could be shadowed by a function exported under that name)
rendering = importlib.import_module("msft_cli.render.picture")
rasters = importlib.import_module("msft_cli.render.raster")
figure = importlib.import_module("msft_cli.render.figure")

SR = 44100
FMIN = 500.0
B = 12
N_BINS = 5 * B  # 500 Hz .. 16 kHz
SINE_BIN = 24   # 500 * 2**(24/12) = 2000 Hz


@pytest.fixture(scope="module")
def transform():
    return MSFT(SR, fmin=FMIN)


@pytest.fixture(scope="module")
def click_coefs(transform):
    """One second of silence with a 1 ms noise click centred at 0.505 s."""
    y = np.zeros(SR)
    at = int(0.505 * SR)
    y[at - 22:at + 22] = 0.5 * np.random.default_rng(7).standard_normal(44)
    return transform.forward(y)


@pytest.fixture(scope="module")
def sine_coefs(transform):
    """One second of a 2000 Hz sine (a bin centre) of amplitude 0.5."""
    return transform.forward(0.5 * np.sin(2 * np.pi * 2000.0 * np.arange(SR) / SR))


@pytest.fixture(scope="module")
def stereo_box(tmp_path_factory, transform):
    """A 4 s stereo container: clicks at 1.005 s and 3.005 s on the left, a 1 kHz sine right."""
    n = 4 * SR
    y = np.zeros((2, n))
    rng = np.random.default_rng(3)
    for t in (1.005, 3.005):
        at = int(t * SR)
        y[0, at - 22:at + 22] = 0.5 * rng.standard_normal(44)
    y[1] = 0.25 * np.sin(2 * np.pi * 1000.0 * np.arange(n) / SR)
    path = tmp_path_factory.mktemp("box") / "stereo.h5"
    save(transform.forward(y.astype(np.float32)), path, source={"name": "stereo.wav"})
    return path


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    """A 1 s stereo WAV: a 3 kHz tone left, noise right."""
    path = tmp_path_factory.mktemp("wav") / "tone.wav"
    t = np.arange(SR) / SR
    y = np.vstack([0.5 * np.sin(2 * np.pi * 3000 * t),
                   0.1 * np.random.default_rng(5).standard_normal(SR)])
    with AudioWriter(path, SR, 2, "FLOAT") as w:
        w.write(y)
    return path


def octave_rows(r, j):
    return r.db[j * B:(j + 1) * B]


def lit_columns(rows, within_db=20.0):
    """Columns whose loudest row is within ``within_db`` of the rows' peak."""
    level = rows.max(axis=0)
    return np.flatnonzero(level >= level.max() - within_db)


def files_in(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def pixels(path):
    """An image file's RGB pixels as floats in 0..1, top row first."""
    return imread(path)[..., :3]


def figure_image(path, width, height, dpi=100):
    """The pixels of a picture's image area (the axes' inside, spines trimmed)."""
    layout = figure._Layout(width, height, dpi)
    top = height - layout.bottom - layout.image_height
    region = pixels(path)[top:top + layout.image_height,
                          layout.left:layout.left + layout.image_width]
    return layout, region


# -- pixels --------------------------------------------------------------------------
def test_click_is_one_column_wide_in_the_top_octave_and_wider_below(click_coefs):
    r = raster(click_coefs, width=100)  # 10 ms columns; the click is at column 50's centre
    widths = [len(lit_columns(octave_rows(r, j))) for j in range(5)]
    assert list(lit_columns(octave_rows(r, 4))) == [50]
    assert widths[0] >= 3
    assert widths == sorted(widths, reverse=True)  # wider and wider going down
    assert all(50 in lit_columns(octave_rows(r, j)) for j in range(5))


def test_click_pixels_in_a_raw_png(tmp_path, click_coefs):
    path = tmp_path / "click.png"
    render(click_coefs, path, raw=True, width=100, cmap="gray")
    img = pixels(path)[::-1, :, 0]  # gray: level in 0..1; row 0 = lowest bin
    assert img.shape == (N_BINS, 100)
    top, low = img[4 * B:].max(axis=0), img[:B].max(axis=0)
    step = 20 / 80 + 1 / 255  # 20 dB of the default 80 dB range, and one grey level
    assert list(np.flatnonzero(top >= top.max() - step)) == [50]
    assert len(np.flatnonzero(low >= low.max() - step)) >= 3


def test_columns_pool_the_largest_magnitude_so_a_click_survives(click_coefs):
    r = raster(click_coefs, width=3)  # 333 ms columns: 919 top-octave frames each
    top = np.abs(click_coefs.octaves[4]).max()
    assert octave_rows(r, 4).max() == pytest.approx(20 * np.log10(top), abs=1e-3)


def test_coarse_octave_frames_are_held_over_their_columns(click_coefs, transform):
    width = 400  # 2.5 ms columns; the lowest octave's frames are 5.8 ms apart
    r = raster(click_coefs, width=width)
    hop = transform.hops[0]
    first = click_coefs.first_frame(0)
    centres = (np.arange(width) + 0.5) / width
    nearest = np.floor(centres * SR / hop + 0.5).astype(int) - first
    expected = np.abs(click_coefs.octaves[0][:, nearest]).astype(np.float32)
    got = 10 ** (octave_rows(r, 0) / 20)
    np.testing.assert_allclose(got, np.maximum(expected, 10 ** (FLOOR_DB / 20)), rtol=1e-5)
    runs = np.diff(np.flatnonzero(np.diff(nearest)))  # columns per held frame
    assert set(runs) <= {2, 3}


def test_pieces_of_any_size_give_the_same_picture(stereo_box, monkeypatch):
    with load(stereo_box) as box:
        whole = raster(box, 300, start=0.3, end=3.7)
        monkeypatch.setattr(rasters, "_PIECE_BYTES", 1)  # one chunk at a time
        np.testing.assert_array_equal(raster(box, 300, start=0.3, end=3.7).db, whole.db)
        np.testing.assert_array_equal(raster(box, 7, start=0.3, end=3.7).db,
                                      raster(box.to_coefficients(), 7, start=0.3, end=3.7).db)


def test_periodic_mode(sine_coefs):
    c = MSFT(SR, fmin=FMIN, mode="periodic").forward(sine_coefs.inverse())
    r = raster(c, width=50)
    assert np.all(np.argmax(r.db[:, 5:45], axis=0) == SINE_BIN)
    np.testing.assert_allclose(r.db[SINE_BIN, 5:45], raster(sine_coefs, 50).db[SINE_BIN, 5:45],
                               atol=0.01)


def test_sine_lights_its_row_and_no_row_an_octave_away(sine_coefs):
    r = raster(sine_coefs, width=100)
    inner = r.db[:, 10:90]
    assert np.all(np.argmax(inner, axis=0) == SINE_BIN)
    np.testing.assert_allclose(inner[SINE_BIN], 20 * np.log10(0.5), atol=0.05)  # dBFS
    assert inner[SINE_BIN - B].max() < inner[SINE_BIN].min() - 80
    assert inner[SINE_BIN + B].max() < inner[SINE_BIN].min() - 80


def test_sine_row_in_the_picture(tmp_path, sine_coefs):
    path = tmp_path / "sine.png"
    render(sine_coefs, path, width=500, height=400)
    layout, img = figure_image(path, 500, 400)
    floor = np.array(matplotlib.colormaps["magma"](0.0)[:3])
    lit = np.abs(img - floor).max(axis=2) > 2 / 255
    cols = slice(layout.image_width // 10, -layout.image_width // 10)
    row_lit = lit[:, cols].all(axis=1)
    y0, y1 = np.log2(FMIN) - 0.5 / B, np.log2(FMIN * 2 ** (59 / B)) + 0.5 / B

    def row_of(f):  # pixel row (top first) of a frequency
        return int((y1 - np.log2(f)) / (y1 - y0) * layout.image_height)

    assert row_lit[row_of(2000) - 1:row_of(2000) + 2].any()
    for f in (1000, 4000):  # an octave away: the floor colour all along
        assert not lit[row_of(f) - 2:row_of(f) + 3, cols].any()


def test_silence_renders_at_the_floor_not_nan(tmp_path, transform):
    c = transform.forward(np.zeros(SR // 2))
    r = raster(c, width=50)
    assert np.all(r.db == FLOOR_DB)
    render(c, tmp_path / "raw.png", raw=True, width=50)
    render(c, tmp_path / "pic.png", width=300, height=200)
    floor = np.array(matplotlib.colormaps["magma"](0.0)[:3])
    assert np.abs(pixels(tmp_path / "raw.png") - floor).max() < 1 / 255
    _, img = figure_image(tmp_path / "pic.png", 300, 200)
    assert np.abs(img[2:-2, 2:-2] - floor).max() < 1 / 255


def test_the_picture_shows_the_raster_pixel_for_pixel(tmp_path, click_coefs):
    path = tmp_path / "click.png"
    render(click_coefs, path, width=420, height=260, top_db=60)
    layout, img = figure_image(path, 420, 260)
    r = raster(click_coefs, layout.image_width, layout.image_height)
    norm = np.clip((r.db - (r.peak_db - 60)) / 60, 0, 1)
    expected = matplotlib.colormaps["magma"](norm)[::-1, :, :3]
    assert img.shape == expected.shape
    assert np.abs(img - expected)[2:-2, 2:-2].max() < 1.5 / 255  # inside the spines


def test_rows_pool_bins_or_hold_them(sine_coefs):
    r = raster(sine_coefs, width=20)
    fewer = raster(sine_coefs, width=20, height=N_BINS // 2)  # two bins per row
    np.testing.assert_array_equal(fewer.db, np.maximum(r.db[0::2], r.db[1::2]))
    more = raster(sine_coefs, width=20, height=3 * N_BINS)  # each bin held over 3 rows
    np.testing.assert_array_equal(more.db, np.repeat(r.db, 3, axis=0))


def test_columns_on_a_hop_grid_match_the_containers_image(tmp_path, transform, rng):
    """Container.image's cells are centred on multiples of the hop: the same cells drawn."""
    hop = transform.hops[0]
    y = rng.standard_normal((2, 600 * hop)).astype(np.float32)
    save(transform.forward(y), tmp_path / "noise.h5")
    with load(tmp_path / "noise.h5") as box:
        image, times, _ = box.image(start=100 * hop / SR, end=500 * hop / SR, hop=hop)
        assert times[0] == pytest.approx(100 * hop / SR) and len(times) == 400
        r = raster(box, width=400, start=99.5 * hop / SR, end=499.5 * hop / SR)
    np.testing.assert_allclose(r.db, np.maximum(image, FLOOR_DB), atol=1e-4)


def test_channels_and_their_mix(stereo_box):
    with load(stereo_box) as box:
        left = raster(box, 200, channel=0)
        right = raster(box, 200, channel=1)
        mix = raster(box, 200)
    k = B  # the 1 kHz bin
    assert right.db[k, 20:180].min() == pytest.approx(20 * np.log10(0.25), abs=0.05)
    assert left.db[k].max() < -30  # only the clicks' spread
    assert len(lit_columns(octave_rows(left, 4))) == 2 == len(lit_columns(octave_rows(mix, 4)))
    # the sine's abrupt start and end are clicks too: look between them
    assert octave_rows(right, 4)[:, 5:-5].max() < octave_rows(left, 4).max() - 60
    np.testing.assert_array_equal(mix.db, np.maximum(left.db, right.db))


def test_a_time_range_reads_only_its_chunks(stereo_box, monkeypatch):
    reads = []

    class Spy:
        def __init__(self, ds):
            self.ds = ds

        def __getattr__(self, name):
            return getattr(self.ds, name)

        def read_direct(self, dest, source_sel, dest_sel):
            reads.append((self.ds.name, source_sel[2].start, source_sel[2].stop))
            return self.ds.read_direct(dest, source_sel, dest_sel)

    with load(stereo_box) as box:
        monkeypatch.setattr(type(box), "octaves",
                            property(lambda self: [Spy(d) for d in self._datasets[1:-1]]))
        raster(box, 100, start=2.0, end=2.5)
        for j, ds in enumerate(box._datasets[1:-1]):
            hop, chunk = box.hops[j], ds.chunks[2]
            first = -box.transform.frame_range(j + 1, box.n_samples)[0]
            lo = (int(2.0 * SR / hop) + first) // chunk * chunk
            hi = -(-(int(2.5 * SR / hop) + 2 + first) // chunk) * chunk
            mine = [(a, b) for name, a, b in reads if name == ds.name]
            assert mine and all(lo <= a < b <= hi for a, b in mine), (ds.name, mine, lo, hi)
            assert sum(b - a for a, b in mine) < ds.shape[2] / 4


def test_a_time_range_is_the_same_columns_as_the_whole(stereo_box):
    with load(stereo_box) as box:
        whole = raster(box, 400)
        part = raster(box, 100, start=1.0, end=2.0)
        assert (part.start, part.end) == (1.0, 2.0)
        np.testing.assert_array_equal(part.db, whole.db[:, 100:200])
        clipped = raster(box, 100, start=-3, end=99)
        assert (clipped.start, clipped.end) == (0.0, 4.0)


def test_frequency_range(stereo_box):
    with load(stereo_box) as box:
        r = raster(box, 50, fmin=1000, fmax=4000)
        assert r.shape == (25, 50)
        assert r.frequencies[0] == pytest.approx(1000) and r.frequencies[-1] == pytest.approx(4000)
        assert r.log2_extent == pytest.approx((np.log2(1000) - 1 / 24, np.log2(4000) + 1 / 24))


# -- inputs --------------------------------------------------------------------------
def test_an_audio_file_renders_like_its_container(tmp_path, wav):
    report = render(wav, tmp_path / "direct.png", raw=True, width=80, fmin=500)
    assert report.extra["width"] == 80 and report.extra["height"] == 60  # from C5 = 523 Hz
    analyze(wav, tmp_path / "tone.h5", fmin=440 * 2 ** (3 / 12))
    render(tmp_path / "tone.h5", tmp_path / "via.png", raw=True, width=80)
    np.testing.assert_array_equal(pixels(tmp_path / "direct.png"), pixels(tmp_path / "via.png"))
    wider = render(wav, tmp_path / "b24.png", raw=True, width=80, fmin=500, bins_per_octave=24)
    assert wider.extra["height"] == 120
    assert files_in(tmp_path) == ["b24.png", "direct.png", "tone.h5", "via.png"]


def test_input_kinds(tmp_path, stereo_box, wav):
    with h5py.File(tmp_path / "model.h5", "w") as f:
        f.attrs["format"] = "msft-model"
    (tmp_path / "notes.txt").write_text("not audio")
    assert input_kind(stereo_box) == "container"
    assert input_kind(wav) == "audio"
    assert input_kind(tmp_path / "model.h5") == "model"
    assert input_kind(tmp_path / "notes.txt") == "audio"  # tried as audio, and refused
    assert input_kind(tmp_path) == "folder"
    assert input_kind(tmp_path / "nothing.h5") == "missing"


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "{p}: no such file"),
    (lambda d: d.mkdir(), "{p}: is a folder: render the files inside it with targets()"),
    (lambda d: d.write_text("hello"), "{p}: not a readable audio file"),
    (lambda d: d.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100)),
     "{p}: not an HDF5 file (corrupt or another format)"),
    (lambda d: h5py.File(d, "w").close(),
     "{p}: not an msft container"),
    (lambda d: h5py.File(d, "w").attrs.create("format", "msft-model"),
     "{p}: has no integer format_version"),
], ids=["missing", "folder", "text", "bad-hdf5", "foreign-hdf5", "model"])
def test_bad_inputs_give_one_line_and_no_image(tmp_path, make, message):
    p = tmp_path / "in.dat"
    make(p)
    out = tmp_path / "out"
    out.mkdir()
    before = files_in(tmp_path)
    with pytest.raises(MsftError) as err:
        render(p, out / "x.png")
    text = str(err.value)
    assert text.startswith(message.format(p=p)) and "\n" not in text
    assert files_in(tmp_path) == before and files_in(out) == []


def test_io_failures_raise_the_error_of_their_kind(tmp_path, stereo_box):
    with pytest.raises(AudioError, match="no such file"):
        render(tmp_path / "missing.wav", tmp_path / "x.png")
    with pytest.raises(ContainerError, match="no such file"):
        render(tmp_path / "missing.h5", tmp_path / "x.png")
    with pytest.raises(ParameterError, match="is a folder: render the files inside it"):
        render(tmp_path, tmp_path / "x.png")
    with pytest.raises(ContainerError, match="the folder .* does not exist"):
        render(stereo_box, tmp_path / "no" / "x.png")


def test_coefficients_and_an_open_container(tmp_path, sine_coefs, stereo_box):
    with pytest.raises(ParameterError, match="output is required when rendering coefficients"):
        render(sine_coefs)
    with load(stereo_box) as box:
        report = render(box, tmp_path / "open.png", raw=True, width=10)
    assert report.input == str(stereo_box) and report.duration == 4.0


# -- outputs -------------------------------------------------------------------------
@pytest.mark.parametrize("name, magic", [("a.png", b"\x89PNG"), ("a.svg", b"<?xml"),
                                         ("a.pdf", b"%PDF"), ("a.PNG", b"\x89PNG")])
def test_the_extension_picks_the_format(tmp_path, sine_coefs, name, magic):
    report = render(sine_coefs, tmp_path / name, width=300, height=200)
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert report.extra["format"] == name[-3:].lower()
    assert files_in(tmp_path) == [name]


def test_raw_svg_and_pdf(tmp_path, sine_coefs):
    render(sine_coefs, tmp_path / "r.svg", raw=True, width=30)
    render(sine_coefs, tmp_path / "r.pdf", raw=True, width=30)
    assert b"<image" in (tmp_path / "r.svg").read_bytes()
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


def test_sizes(tmp_path, sine_coefs):
    render(sine_coefs, tmp_path / "d.png")
    assert pixels(tmp_path / "d.png").shape[:2] == (600, 1200)
    render(sine_coefs, tmp_path / "s.png", width=640, height=360, dpi=80)
    assert pixels(tmp_path / "s.png").shape[:2] == (360, 640)
    render(sine_coefs, tmp_path / "r.png", raw=True)
    assert pixels(tmp_path / "r.png").shape[:2] == (N_BINS, 1200)
    render(sine_coefs, tmp_path / "rh.png", raw=True, width=7, height=200)
    assert pixels(tmp_path / "rh.png").shape[:2] == (200, 7)


def test_a_failed_write_leaves_nothing(tmp_path, sine_coefs, monkeypatch):
    def broken(r, path, *args):
        Path(path).write_bytes(b"half an image")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(rendering, "_draw_picture", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        render(sine_coefs, tmp_path / "x.png")
    assert files_in(tmp_path) == []


def test_title_defaults_to_the_file_name(tmp_path, stereo_box, monkeypatch):
    titles = []
    monkeypatch.setattr(rendering, "_draw_picture", lambda *a: titles.append(a[-1]))
    render(stereo_box, tmp_path / "a.png")
    render(stereo_box, tmp_path / "b.png", channel=1)
    render(stereo_box, tmp_path / "c.png", title="Mine")
    assert titles == ["stereo.h5", "stereo.h5 (channel 1)", "Mine"]


# -- errors --------------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    ({"output": "{d}/x.jpg"}, "{d}/x.jpg: unknown image extension .jpg: use .png, .svg or .pdf"),
    ({"output": "{d}/x"}, "{d}/x: unknown image extension (none): use .png, .svg or .pdf"),
    ({"output": "{d}/no/x.png"}, "{d}/no/x.png: the folder {d}/no does not exist"),
    ({"cmap": "nope"}, "cmap='nope' is unknown: use a matplotlib colormap such as magma, "
                       "viridis, inferno, gray or gray_r"),
    ({"channel": 2}, "{box}: channel=2 does not exist: it has 2 channels (0..1) or 'mix'"),
    ({"start": 5}, "{box}: the range 5..4 s is empty: the signal lasts 4.00 s"),
    ({"start": 2, "end": 1}, "{box}: the range 2..1 s is empty: the signal lasts 4.00 s"),
    ({"fmin": 30000}, "{box}: no bin between 30000 and inf Hz: the transform covers "
                      "500.0..15102.0 Hz"),
    ({"fmin": 2000, "fmax": 1000}, "fmax=1000 must be above fmin=2000 Hz"),
    ({"top_db": 0}, "top_db=0 must be a positive number of dB"),
    ({"y_axis": "mel"}, "y_axis='mel' is unknown: must be one of hz, note"),
    ({"width": 0, "raw": True}, "width=0 must be at least 1 pixel"),
    ({"width": 150, "height": 90}, "a 150x90 picture at dpi=100 leaves no room for the "
                                   "image: make it at least 172x92 pixels, lower the dpi, "
                                   "or use raw=True"),
])
def test_errors_name_the_file_and_leave_no_image(tmp_path, stereo_box, options, message):
    options = {k: v.format(d=tmp_path) if isinstance(v, str) and k == "output" else v
               for k, v in options.items()}
    output = options.pop("output", tmp_path / "x.png")
    with pytest.raises(MsftError) as err:
        render(stereo_box, output, **options)
    assert str(err.value) == message.format(d=tmp_path, box=stereo_box)
    assert files_in(tmp_path) == []


def test_wrong_types_and_unknown_options(sine_coefs, tmp_path):
    with pytest.raises(TypeError, match="width must be an int, not float"):
        render(sine_coefs, tmp_path / "x.png", width=10.5, raw=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        render(sine_coefs, tmp_path / "x.png", colour="red")
    with pytest.raises(TypeError, match="source must be a Container or Coefficients"):
        raster(np.zeros(10), 10)


def test_audio_errors_come_before_the_analysis(tmp_path, wav):
    with pytest.raises(ParameterError, match=r"tone.wav: channel=5 does not exist"):
        render(wav, tmp_path / "x.png", channel=5)
    with pytest.raises(ParameterError, match=r"tone.wav: the range 3..9 s is empty"):
        render(wav, tmp_path / "x.png", start=3, end=9)
    with pytest.raises(ParameterError, match="tone.wav: bins_per_octave=0"):
        render(wav, tmp_path / "x.png", bins_per_octave=0)
    assert files_in(tmp_path) == []


# -- targets -------------------------------------------------------------------------
def test_targets(tmp_path, stereo_box, wav):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("b.wav", "a.h5", ".hidden.wav", "notes.txt"):
        (folder / name).write_bytes(b"")
    assert targets(folder) == [(folder / "a.h5", folder / "a.png"),
                               (folder / "b.wav", folder / "b.png")]
    out = tmp_path / "out"
    assert targets([folder], out, "svg") == [(folder / "a.h5", out / "a.svg"),
                                             (folder / "b.wav", out / "b.svg")]
    assert (tmp_path / "out").is_dir()
    assert targets(stereo_box) == [(stereo_box, stereo_box.with_suffix(".png"))]
    assert targets(wav, tmp_path / "out") == [(wav, tmp_path / "out" / "tone.png")]
    assert targets(wav, tmp_path / "t.pdf") == [(wav, tmp_path / "t.pdf")]
    (folder / "a.wav").write_bytes(b"")
    with pytest.raises(ParameterError, match=r"a.h5 and .*a.wav would both be rendered to"):
        targets(folder)
    with pytest.raises(ParameterError, match="must be a folder when rendering several inputs"):
        targets([stereo_box, wav], tmp_path / "x.png")
    with pytest.raises(ParameterError, match="the extension .png disagrees with format='svg'"):
        targets(wav, tmp_path / "x.png", "svg")
    with pytest.raises(ParameterError, match="holds no container or audio file to render"):
        targets(tmp_path / "out")


def test_targets_of_a_folder_tree_mirror_it_as_a_batch_does(tmp_path):
    folder = tmp_path / "in"
    for name in ("b.wav", "sub/a.h5", "sub/deeper/c.flac", ".hidden/d.wav", "sub/.e.wav"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"")
    assert targets(folder) == [(folder / "b.wav", folder / "b.png"),
                               (folder / "sub/a.h5", folder / "sub/a.png"),
                               (folder / "sub/deeper/c.flac", folder / "sub/deeper/c.png")]
    out = tmp_path / "out"
    assert targets(folder, out) == [(folder / "b.wav", out / "b.png"),
                                    (folder / "sub/a.h5", out / "sub/a.png"),
                                    (folder / "sub/deeper/c.flac", out / "sub/deeper/c.png")]
    assert (out / "sub/deeper").is_dir()


# -- axes ----------------------------------------------------------------------------
def tick_labels(start, end):
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_xlim(start, end)
    figure._time_axis(ax, start, end, 10)
    fig.canvas.draw()
    return ax.get_xlabel(), [t.get_text() for t in ax.get_xticklabels()]


def test_time_axis_in_seconds_then_minutes():
    label, ticks = tick_labels(0, 8)
    assert label == "Time (s)" and "4" in ticks
    label, ticks = tick_labels(0, 600)
    assert label == "Time (m:ss)" and ticks == [f"{m}:00" for m in range(11)]
    label, ticks = tick_labels(61, 95)
    assert ticks[:3] == ["1:05", "1:10", "1:15"]
    assert tick_labels(3600, 3700)[1][0] == "1:00:00"


def test_frequency_ticks_in_hz_and_notes():
    pos, labels = figure._frequency_ticks(np.log2(20), np.log2(20000), "hz", 440, 20)
    assert labels == ["20", "50", "100", "200", "500", "1k", "2k", "5k", "10k", "20k"]
    pos, labels = figure._frequency_ticks(np.log2(30), np.log2(5000), "note", 440, 20)
    assert labels == ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8"]
    assert pos[3] == pytest.approx(np.log2(261.6255653))
    _, labels = figure._frequency_ticks(np.log2(430), np.log2(900), "note", 440, 20)
    assert labels == ["A4", "C5", "E5", "G5", "A5"]


# -- command line --------------------------------------------------------------------
def test_cli_defaults_are_the_librarys():
    params = {p.name: p for p in main.commands["render"].params}
    for name, p in inspect.signature(render).parameters.items():
        if p.default is not inspect.Parameter.empty and name not in ("output", "progress"):
            assert params[name].default == p.default, name
    assert "fmin" in params and "bins_per_octave" in params


def test_cli_renders_a_container(tmp_path, stereo_box):
    out = tmp_path / "s.png"
    result = CliRunner().invoke(main, ["render", str(stereo_box), "-o", str(out),
                                       "--width", "400", "--height", "250", "--channel", "1"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(rf"{re.escape(str(stereo_box))} -> {re.escape(str(out))}: 400x250 PNG "
                        r"in \d+\.\d\d s\n", result.output)
    assert pixels(out).shape[:2] == (250, 400)


def test_cli_renders_a_folder_and_reports_a_bad_input(tmp_path, stereo_box, wav):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "stereo.h5").write_bytes(stereo_box.read_bytes())
    (folder / "broken.wav").write_text("not audio")
    result = CliRunner().invoke(main, ["render", str(folder), str(wav), "-o",
                                       str(tmp_path / "out"), "--raw", "-q", "--fmin", "1000"])
    assert result.exit_code == 1
    assert result.output == (f"Error: {folder / 'broken.wav'}: not a readable audio file "
                             "(Format not recognised.)\n")
    assert files_in(tmp_path / "out") == ["stereo.png", "tone.png"]
    assert pixels(tmp_path / "out" / "stereo.png").shape[:2] == (48, 1200)  # 1000 Hz up


@pytest.mark.parametrize("args, code, message", [
    (["--cmap", "nope"], 1, "Error: cmap='nope' is unknown: use a matplotlib colormap such "
                            "as magma, viridis, inferno, gray or gray_r\n"),
    (["--channel", "9"], 1, "Error: {box}: channel=9 does not exist: it has 2 channels "
                            "(0..1) or 'mix'\n"),
    (["--start", "7"], 1, "Error: {box}: the range 7..4 s is empty: the signal lasts 4.00 s\n"),
    (["-o", "{d}/x.gif"], 1, "Error: {d}/x.gif: unknown image extension .gif: use .png, .svg "
                             "or .pdf\n"),
    (["--channel", "left"], 2, "'left' is neither a channel number nor 'mix'"),
])
def test_cli_errors(tmp_path, stereo_box, args, code, message):
    args = [a.format(d=tmp_path) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "x.png")]
    result = CliRunner().invoke(main, ["render", str(stereo_box), *args])
    assert result.exit_code == code
    message = message.format(d=tmp_path, box=stereo_box)
    assert result.output == message if code == 1 else message in result.output
    assert files_in(tmp_path) == []


def test_cli_reports_a_bad_option_once_for_many_inputs(tmp_path, stereo_box, wav):
    result = CliRunner().invoke(main, ["render", str(stereo_box), str(wav), "-o",
                                       str(tmp_path), "--cmap", "nope", "--raw"])
    assert result.exit_code == 1
    assert result.output.count("Error: cmap='nope' is unknown") == 1
    assert files_in(tmp_path) == []


def test_check_options():
    rendering.check_options(cmap="gray", width=2000, height=800, bins_per_octave=24)
    with pytest.raises(ParameterError, match="top_db=-1 must be a positive number of dB"):
        rendering.check_options(top_db=-1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        rendering.check_options(colour="red")


def test_cli_help_has_an_example():
    result = CliRunner().invoke(main, ["render", "--help"])
    assert result.exit_code == 0
    assert "msft render sample_audio/house_beat.wav -o house.png" in result.output
    assert "render" in CliRunner().invoke(main, ["--help"]).output


def test_raster_is_a_dataclass_with_the_picture_data(sine_coefs):
    r = raster(sine_coefs, 10)
    assert isinstance(r, Raster) and r.db.dtype == np.float32 and r.channel == "mix"
    assert r.bins_per_octave == B and r.tuning == 440.0
    assert np.isfinite(r.db).all()
