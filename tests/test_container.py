"""The HDF5 container: save/load round trips, layout, lazy reads, images, errors, atomicity."""

import os
import re
import stat
import tempfile

import h5py
import numpy as np
import pytest
import soundfile as sf

import msft_cli
from msft_cli import MSFT, ContainerError, MsftError, ParameterError, analyze, info, load, save
from msft_cli.io.container.writer import Writer

SR = 44100
FMIN = 200.0  # 6 octaves at 44.1 kHz with short margins: fast tests

ROOT_ATTRS = ("format", "format_version", "sample_rate", "n_samples", "n_channels", "fmin",
              "bins_per_octave", "n_octaves", "tuning", "window", "mode", "period",
              "source_name", "source_format", "source_subtype", "msft_version")
DATASET_ATTRS = ("hop", "first_frame", "first_frame_time", "frequencies", "kind", "extent")


def _names(t):
    return ["lowpass"] + [f"octave_{j}" for j in range(t.n_octaves)] + ["highpass"]


def _leftovers(folder):
    """Temporary files a writer may have left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def _signal(rng, n, channels):
    """Noise, a click and a sine: (samples,) for 1 channel, else (channels, samples)."""
    t = np.arange(n) / SR
    y = 0.2 * rng.standard_normal((channels, n)) + 0.3 * np.sin(2 * np.pi * 1000 * t)
    y[:, n // 3] += 0.9
    return y[0] if channels == 1 else y


@pytest.fixture(scope="module")
def small():
    """A zero-mode transform with short margins, shared (its FFTW plans are reused)."""
    return MSFT(SR, fmin=FMIN)


@pytest.fixture(scope="module")
def small_periodic():
    return MSFT(SR, fmin=FMIN, mode="periodic")


@pytest.fixture(scope="module")
def noise_signal():
    """1 s of stereo noise with a click and a sine."""
    return _signal(np.random.default_rng(2024), SR, 2)


@pytest.fixture(scope="module")
def noise_coefficients(small, noise_signal):
    """Coefficients of 1 s of stereo noise (complex128), computed once."""
    return small.forward(noise_signal)


@pytest.fixture(scope="module")
def noise_path(noise_coefficients, tmp_path_factory):
    """A complex64 container of 1 s of stereo noise, fmin 200 Hz."""
    path = tmp_path_factory.mktemp("noise") / "noise.h5"
    return save(noise_coefficients, path, dtype="complex64",
                source={"name": "noise.wav", "format": "WAV", "subtype": "PCM_16"})


@pytest.fixture(scope="module")
def default_box(tmp_path_factory):
    """A container at the default parameters: 1.5 s stereo, a 440 Hz sine at amplitude
    1.0 (left) and 0.5 (right). 440 Hz is a bin centre of the default tuning."""
    t = MSFT(SR)
    n = int(1.5 * SR)
    s = np.sin(2 * np.pi * 440.0 * np.arange(n) / SR)
    y = np.stack([s, 0.5 * s]).astype(np.float32)
    path = tmp_path_factory.mktemp("default") / "a4.h5"
    save(t.forward(y), path, source={"name": "a4.wav", "format": "WAV", "subtype": "FLOAT"})
    return path, t, n


# -- round trips ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_round_trip(mode, channels, dtype, small, small_periodic, rng, snr, tmp_path):
    t = small if mode == "zero" else small_periodic
    y = _signal(rng, 20011, channels)
    c = t.forward(y)  # float64 analysis, complex128
    path = save(c, tmp_path / "x.h5", dtype=dtype)
    with load(path) as box:
        assert (box.n_channels, box.n_samples, box.sr) == (channels, 20011, SR)
        assert box.transform.to_params() == t.to_params()
        assert box.dtype == np.dtype(dtype)
        back = box.to_coefficients()
        assert back.n_samples == 20011 and back.n_channels == channels
        real = np.dtype(dtype).char.lower()
        for g, (saved, orig) in enumerate(zip(back.groups, c.groups)):
            want = dtype if 0 < g < len(c.groups) - 1 else real
            assert saved.dtype == np.dtype(want)
            np.testing.assert_array_equal(saved, orig.astype(want))
            eps = np.finfo(real).eps
            np.testing.assert_allclose(saved, orig, rtol=eps, atol=1e-30)
        audio = box.to_audio()
    assert audio.shape == (channels, 20011) and audio.dtype == np.float64
    y2 = np.atleast_2d(y)
    if dtype == "complex64":
        assert snr(y2, audio) >= 135
    else:
        assert snr(y2, audio) >= 280
        np.testing.assert_allclose(audio, np.atleast_2d(t.inverse(c)), rtol=0, atol=1e-13)


@pytest.mark.parametrize("source, octave_dtype, band_dtype", [
    (np.float32, np.complex64, np.float32), (np.float64, np.complex128, np.float64)])
def test_save_keeps_the_coefficients_dtype_by_default(source, octave_dtype, band_dtype, small,
                                                      rng, tmp_path):
    c = small.forward(rng.standard_normal(3000).astype(source))
    with h5py.File(save(c, tmp_path / "x.h5"), "r") as f:
        assert f["octave_2"].dtype == octave_dtype
        assert f["lowpass"].dtype == band_dtype and f["highpass"].dtype == band_dtype


def test_complex_is_stored_as_an_r_i_compound(noise_path):
    with h5py.File(noise_path, "r") as f:
        tid = f["octave_0"].id.get_type()
        assert isinstance(tid, h5py.h5t.TypeCompoundID)
        assert [tid.get_member_name(i) for i in range(tid.get_nmembers())] == [b"r", b"i"]


# -- root attributes -------------------------------------------------------------

def test_root_attributes_at_default_parameters(default_box):
    path, t, n = default_box
    with h5py.File(path, "r") as f:
        a = dict(f.attrs)
    assert set(ROOT_ATTRS) <= set(a)
    expected = {"format": "msft", "format_version": 1, "sample_rate": SR, "n_samples": n,
                "n_channels": 2, "fmin": msft_cli.default_fmin(), "bins_per_octave": 12,
                "n_octaves": 10, "tuning": 440.0, "window": "bump", "mode": "zero",
                "period": 0, "source_name": "a4.wav", "source_format": "WAV",
                "source_subtype": "FLOAT", "msft_version": msft_cli.__version__}
    assert {k: a[k] for k in expected} == expected
    for k in ("format_version", "sample_rate", "n_samples", "n_channels", "bins_per_octave",
              "n_octaves", "period"):
        assert isinstance(a[k], np.integer), k
    for k in ("fmin", "tuning"):
        assert isinstance(a[k], np.floating), k
    for k in ("format", "window", "mode", "source_name", "source_format", "source_subtype",
              "msft_version"):
        assert isinstance(a[k], str), k
    assert a["fmin"] == t.fmin


def test_root_attributes_periodic(small_periodic, rng, tmp_path):
    n = 30000
    t = small_periodic
    path = save(t.forward(rng.standard_normal(n)), tmp_path / "p.h5")
    with h5py.File(path, "r") as f:
        period = int(f.attrs["period"])
        assert f.attrs["mode"] == "periodic"
        assert period == t.period(n) and period >= n
        for name in _names(t):
            ds = f[name]
            hop = int(ds.attrs["hop"])
            assert period % hop == 0
            assert ds.attrs["first_frame"] == 0 and ds.attrs["first_frame_time"] == 0.0
            assert ds.shape[2] == period // hop
            assert ds.attrs["extent"] == t.groups[_names(t).index(name)].extent


def test_source_attributes_from_an_audio_file(rng, tmp_path):
    wav = tmp_path / "clip.wav"
    sf.write(wav, 0.1 * rng.standard_normal((4410, 2)), SR, subtype="PCM_24")
    analyze(wav, tmp_path / "clip.h5", fmin=FMIN)
    with h5py.File(tmp_path / "clip.h5", "r") as f:
        assert (f.attrs["source_name"], f.attrs["source_format"],
                f.attrs["source_subtype"]) == ("clip.wav", "WAV", "PCM_24")
        assert (f.attrs["n_samples"], f.attrs["n_channels"]) == (4410, 2)


def test_source_attributes_empty_without_a_source(noise_coefficients, tmp_path):
    with h5py.File(save(noise_coefficients, tmp_path / "x.h5"), "r") as f:
        assert [f.attrs[f"source_{k}"] for k in ("name", "format", "subtype")] == ["", "", ""]
    with load(tmp_path / "x.h5") as box:
        assert box.source == {"name": "", "format": "", "subtype": ""}


# -- datasets ---------------------------------------------------------------------

@pytest.mark.parametrize("compression", ["none", "gzip", "lzf"])
def test_dataset_layout(compression, small, noise_coefficients, tmp_path):
    c = noise_coefficients
    path = save(c, tmp_path / "x.h5", dtype="complex64", compression=compression)
    with h5py.File(path, "r") as f:
        assert sorted(f.keys()) == sorted(_names(small))
        multi_chunk = 0
        for g, (name, spec) in enumerate(zip(_names(small), small.groups)):
            ds = f[name]
            first, count = small.frame_range(g, SR)
            octave = name.startswith("octave_")
            assert ds.shape == (2, spec.n_bins, count)
            assert ds.dtype == (np.complex64 if octave else np.float32)
            # chunked along time: every channel and bin, a limited run of frames
            ch, bins, frames = ds.chunks
            assert (ch, bins) == (2, spec.n_bins) and 1 <= frames <= count
            assert frames == count or frames & (frames - 1) == 0
            assert frames == 1 or ds.dtype.itemsize * ch * bins * frames <= 1 << 17
            multi_chunk += ds.id.get_num_chunks() > 1
            assert ds.fletcher32
            assert ds.compression == (None if compression == "none" else compression)
            assert ds.attrs["kind"] == ("octave" if octave else name)
            assert ds.attrs["hop"] == spec.hop
            assert ds.attrs["first_frame"] == first
            assert ds.attrs["first_frame_time"] == first * spec.hop / SR
            # frames are kept `extent` samples beyond each edge of the signal
            extent = ds.attrs["extent"]
            assert isinstance(extent, np.integer) and extent == spec.extent > 0
            assert -first == -(-extent // spec.hop)
            assert first + count - 1 == (SR - 1 + extent) // spec.hop
            assert sorted(ds.attrs) == sorted(DATASET_ATTRS)
            np.testing.assert_array_equal(ds.attrs["frequencies"], spec.frequencies)
            np.testing.assert_array_equal(ds[...], c.groups[g].astype(ds.dtype))
        assert multi_chunk >= 3
        assert [f[f"octave_{j}"].attrs["hop"] for j in range(small.n_octaves)] == small.hops
        np.testing.assert_allclose(f["octave_3"].attrs["frequencies"],
                                   FMIN * 2.0 ** (3 + np.arange(12) / 12), rtol=1e-14)
        assert list(f["lowpass"].attrs["frequencies"]) == [0.0]
        assert list(f["highpass"].attrs["frequencies"]) == [SR / 2]


def test_extent_is_where_each_band_has_rung_down(small):
    """Beyond ``extent`` samples from a click, every band's frames are below about 1e-8 of
    their peak (the extent is estimated numerically: a margin of 5 %), and not long before."""
    s = 172 * 512  # a frame of every band lies on the click
    x = np.zeros(4 * SR)
    x[s] = 1.0
    c = small.forward(x)
    for g, spec in enumerate(small.groups):
        env = np.abs(c.groups[g][0]).max(axis=0)
        offset = np.abs((c.firsts[g] + np.arange(len(env))) * spec.hop - s)
        assert (offset > spec.extent).sum() > 10
        assert env[offset > spec.extent].max() < 1.05e-8 * env.max(), spec.name
        assert env[(offset <= spec.extent) & (offset > 0.8 * spec.extent)].max() \
            > 1e-9 * env.max(), spec.name


# -- frame times ------------------------------------------------------------------

def test_frame_times_match_the_dataset_attributes(noise_path):
    with load(noise_path) as box, h5py.File(noise_path, "r") as f:
        for which, name in [("lowpass", "lowpass"), ("highpass", "highpass")] + \
                [(j, f"octave_{j}") for j in range(box.n_octaves)]:
            ds = f[name]
            hop, first = int(ds.attrs["hop"]), int(ds.attrs["first_frame"])
            times = box.frame_times(which)
            np.testing.assert_array_equal(times, (first + np.arange(ds.shape[2])) * hop / SR)
            assert times[0] == ds.attrs["first_frame_time"]


@pytest.mark.parametrize("mode", ["zero", "periodic"])
def test_octave_grids_nest(mode, small, small_periodic, rng, tmp_path):
    t = small if mode == "zero" else small_periodic
    path = save(t.forward(rng.standard_normal(9000)), tmp_path / "x.h5")
    with load(path) as box:
        for j in range(box.n_octaves - 1):
            assert box.hops[j] == 2 * box.hops[j + 1]
            coarse, fine = box.frame_times(j), box.frame_times(j + 1)
            lo, hi = max(coarse[0], fine[0]), min(coarse[-1], fine[-1])
            coarse = coarse[(coarse >= lo) & (coarse <= hi)]
            fine = fine[(fine >= lo) & (fine <= hi)]
            assert len(coarse) > 10
            # frame n of octave j is at the time of frame 2n of octave j + 1
            offset = 0 if fine[0] == coarse[0] else 1
            np.testing.assert_array_equal(fine[offset::2][:len(coarse)], coarse)
            assert len(fine[offset::2]) == len(coarse)


def test_frame_times_of_a_missing_octave(noise_path):
    with load(noise_path) as box:
        with pytest.raises(ParameterError, match=re.escape(
                "octave=6 does not exist: must be 0..5 or 'lowpass' or 'highpass'")):
            box.frame_times(6)


# -- crop -------------------------------------------------------------------------

@pytest.mark.parametrize("start, end", [
    (0.2, 0.3),
    (40 * 512 / SR, 80 * 512 / SR),   # both ends exactly on frames of every grid
    (-0.5, 0.05),                     # frames before time 0 are stored in zero mode
    (0.9, 1.2),                       # and after the end
    (0.5, 0.5),                       # a single instant
])
def test_crop_returns_exactly_the_frames_in_range(start, end, noise_path):
    with load(noise_path) as box:
        part = box.crop(start, end)
        assert (part.start, part.end) == (start, end)
        for j in range(box.n_octaves):
            times = box.frame_times(j)
            inside = (times >= start) & (times <= end)
            np.testing.assert_array_equal(part.times[j], times[inside])
            np.testing.assert_array_equal(part.octaves[j], box.octaves[j][...][:, :, inside])
            np.testing.assert_array_equal(part.frequencies[j], box.frequencies[j])
        for which, got in (("lowpass", part.lowpass), ("highpass", part.highpass)):
            times = box.frame_times(which)
            inside = (times >= start) & (times <= end)
            np.testing.assert_array_equal(got, getattr(box, which)[...][:, :, inside])
    if start == 40 * 512 / SR:
        assert part.times[0][0] == start and part.times[0][-1] == end


def test_crop_outside_the_stored_range_is_empty(noise_path):
    with load(noise_path) as box:
        part = box.crop(100.0, 101.0)
        assert all(o.shape == (2, 12, 0) for o in part.octaves)
        assert all(len(t) == 0 for t in part.times)
        assert part.lowpass.shape == (2, 1, 0) and part.highpass.shape == (2, 1, 0)


def test_crop_end_before_start(noise_path):
    with load(noise_path) as box:
        with pytest.raises(ParameterError, match=re.escape("end=0.1 must not be before "
                                                           "start=0.2")):
            box.crop(0.2, 0.1)


def test_crop_defaults_cover_everything_stored(noise_path):
    with load(noise_path) as box:
        everything = box.crop()
        for j in range(box.n_octaves):
            np.testing.assert_array_equal(everything.octaves[j], box.octaves[j][...])
            np.testing.assert_array_equal(everything.times[j], box.frame_times(j))
        np.testing.assert_array_equal(everything.lowpass, box.lowpass[...])
        head, tail = box.crop(None, 0.5), box.crop(0.5, None)
        assert head.times[5][-1] <= 0.5 <= tail.times[5][0]
        assert head.times[5][0] == box.frame_times(5)[0]
        assert tail.times[5][-1] == box.frame_times(5)[-1]


def test_crop_reads_only_the_chunks_it_needs(small, tmp_path, corrupt_chunks):
    """Chunks far from the range are damaged; Fletcher-32 fails any read that touches them."""
    y = 0.1 * np.random.default_rng(7).standard_normal(4 * SR)
    path = save(small.forward(y), tmp_path / "long.h5", dtype="complex64")
    with load(path) as box:
        want = box.crop(0.2, 0.3)
        want_image = box.image(0.2, 0.3)
    keep = (0.1, 0.4)  # chunks holding frames with times in here stay intact
    assert corrupt_chunks(path, keep, SR) >= 10
    with load(path) as box:
        got = box.crop(0.2, 0.3)
        for a, b in zip(got.octaves + [got.lowpass, got.highpass],
                        want.octaves + [want.lowpass, want.highpass]):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(box.image(0.2, 0.3), want_image):
            np.testing.assert_array_equal(a, b)
        prefix = re.escape(f"{path}: cannot read /")
        with pytest.raises(ContainerError, match=prefix + r"\w+ \(corrupt data: "):
            box.crop(3.0, 3.5)
        with pytest.raises(ContainerError, match=prefix + r"octave_5 \(corrupt data: "):
            box.magnitude_db(5)
        with pytest.raises(ContainerError, match=prefix):
            box.to_audio()
        with pytest.raises(ContainerError, match=prefix):
            box.to_coefficients()


def test_crop_magnitude_db(noise_path):
    with load(noise_path) as box:
        part = box.crop(0.25, 0.5)
        dbs = part.magnitude_db(floor_db=-90.0)
        assert len(dbs) == box.n_octaves
        for j, db in enumerate(dbs):
            inside = (box.frame_times(j) >= 0.25) & (box.frame_times(j) <= 0.5)
            np.testing.assert_allclose(db, box.magnitude_db(j, floor_db=-90.0)[:, :, inside],
                                       rtol=0, atol=1e-4)


# -- magnitudes -------------------------------------------------------------------

def test_sine_at_a_band_centre_reads_its_level_in_dbfs(default_box):
    path, t, n = default_box
    with load(path) as box:
        j = 4
        b = int(np.argmin(np.abs(box.frequencies[j] - 440.0)))
        assert box.frequencies[j][b] == pytest.approx(440.0, rel=1e-12)
        db = box.magnitude_db(j)
        times = box.frame_times(j)
        mid = (times > 0.5) & (times < 1.0)
        # within 1 % of the amplitude: 0.09 dB
        np.testing.assert_allclose(db[0, b, mid], 0.0, atol=0.09)
        np.testing.assert_allclose(db[1, b, mid], 20 * np.log10(0.5), atol=0.09)
        assert db[:, [b - 1, b + 1]][:, :, mid].max() < -60
        np.testing.assert_allclose(box.magnitude_db(j, ref=0.5)[1, b, mid], 0.0, atol=0.09)
        img, itimes, freqs = box.image(0.5, 1.0, channel=1)
        row = j * 12 + b
        assert freqs[row] == box.frequencies[j][b]
        np.testing.assert_allclose(img[row], 20 * np.log10(0.5), atol=0.09)


def test_magnitude_db_floor_and_ref(noise_path):
    with load(noise_path) as box:
        raw = np.abs(box.octaves[2][...]).astype(np.float64)
        db = box.magnitude_db(2, floor_db=-30.0)
        assert db.shape == raw.shape
        assert db.min() == -30.0
        loud = raw > 10 ** (-30 / 20) * 1.01
        np.testing.assert_allclose(db[loud], 20 * np.log10(raw[loud]), atol=1e-4)
        assert np.all(db[raw < 10 ** (-30 / 20) * 0.99] == -30.0)
        shifted = box.magnitude_db(2, ref=0.5, floor_db=-300.0)
        np.testing.assert_allclose(shifted, box.magnitude_db(2, floor_db=-300.0)
                                   + 20 * np.log10(2), atol=1e-4)
        with pytest.raises(ParameterError, match=re.escape("octave=-1 does not exist")):
            box.magnitude_db(-1)


@pytest.fixture(params=["complex128", "complex64"])
def silent_path(request, small, tmp_path):
    c = small.forward(np.zeros((2, 4410)))
    return save(c, tmp_path / "silence.h5", dtype=request.param)


def test_silence_is_the_floor_not_nan(silent_path):
    """Exact zeros floor quietly (warnings are errors in this suite)."""
    with load(silent_path) as box:
        for j in range(box.n_octaves):
            assert np.all(box.magnitude_db(j) == -120.0)
        assert all(np.all(d == -80.0) for d in box.crop(0, 0.1).magnitude_db(floor_db=-80.0))
        img, _, _ = box.image()
        assert not np.isnan(img).any() and np.all(img == -120.0)


# -- image ------------------------------------------------------------------------

def _reference_image(box, start, end, hop, channel):
    """The documented image, cell by cell: cell ``m`` is centred on time ``m * hop / sr``.

    A coarser octave (hop ``h = r * hop``) gives each cell its nearest frame, global
    index ``round(m / r)`` with halves rounded up; a finer one (``hop = r * h``) the
    largest magnitude of its ``r`` frames within half a cell of the centre, global
    indices ``m * r - r // 2 .. m * r - r // 2 + r - 1``. Frames not stored are zero.
    """
    n = np.arange(int(np.floor(start * SR / hop)), int(np.ceil(end * SR / hop)))
    rows = []
    for j, ds in enumerate(box.octaves):
        mag = np.abs(ds[...]).astype(np.float64)
        mag = mag.max(axis=0) if channel == "mix" else mag[channel]
        first, h = int(ds.attrs["first_frame"]), box.hops[j]
        pad = np.concatenate([mag, np.zeros((mag.shape[0], 1))], axis=1)  # index -1: zero

        def take(idx):
            idx = idx - first
            return pad[:, np.where((idx >= 0) & (idx < mag.shape[1]), idx, -1)]

        if h >= hop:
            r = h // hop
            nearest = np.floor(n / r + 0.5).astype(int)  # round half up
            rows.append(take(nearest))
        else:
            r = hop // h
            rows.append(take(n[:, None] * r - r // 2 + np.arange(r)).max(axis=2))
    return np.concatenate(rows), n * hop / SR


@pytest.mark.parametrize("start, end, hop, channel", [
    (None, None, None, "mix"),
    (0.1, 0.4, 16, 0),
    (0.1, 0.4, 64, 1),
    (0.0, 1.0, 512, "mix"),
    (-0.2, 0.05, 128, 1),
    (0.95, 1.3, 32, "mix"),
])
def test_image_pools_finer_and_takes_the_nearest_coarser_frame(start, end, hop, channel,
                                                               noise_path):
    with load(noise_path) as box:
        img, times, freqs = box.image(start, end, hop=hop, channel=channel, db=False)
        want, want_times = _reference_image(box, 0.0 if start is None else start,
                                            box.duration if end is None else end,
                                            hop or box.hops[-1], channel)
        assert img.shape == (box.n_octaves * 12, len(want_times))
        np.testing.assert_array_equal(times, want_times)
        np.testing.assert_array_equal(freqs, np.concatenate(box.frequencies))
        np.testing.assert_allclose(img, want, rtol=1e-6, atol=0)


@pytest.mark.parametrize("start, end, hop", [(None, None, None), (0.1, 0.4, 64),
                                             (0.0, 1.0, 512)])
def test_image_in_db(start, end, hop, noise_path):
    with load(noise_path) as box:
        lin, _, _ = box.image(start, end, hop=hop, db=False)
        db, _, _ = box.image(start, end, hop=hop, floor_db=-100.0)
        want = 20 * np.log10(np.maximum(lin.astype(np.float64), 1e-300))
        np.testing.assert_allclose(db, np.maximum(want, -100.0), atol=1e-3)
        assert db.min() >= -100.0


def test_image_beyond_the_stored_frames_is_the_floor(noise_path):
    """Grid steps past a fine octave's stored frames are zeros: they must floor quietly."""
    with load(noise_path) as box:
        img, times, _ = box.image(-0.5, 0.0)
        assert times[0] < box.frame_times(box.n_octaves - 1)[0]
        assert not np.isnan(img).any() and np.all(img[-12:, :10] == -120.0)


def test_image_default_grid(noise_path):
    with load(noise_path) as box:
        img, times, freqs = box.image()
        hop = box.hops[-1]
        assert img.shape == (72, int(np.ceil(SR / hop)))
        assert times[0] == 0.0 and times[-1] < box.duration <= times[-1] + hop / SR
        np.testing.assert_allclose(np.diff(times), hop / SR, rtol=1e-9)
        assert np.all(np.diff(freqs) > 0) and freqs[0] == FMIN


def test_image_channels(noise_path):
    with load(noise_path) as box:
        left, _, _ = box.image(0.2, 0.6, db=False, channel=0)
        right, _, _ = box.image(0.2, 0.6, db=False, channel=1)
        mix, _, _ = box.image(0.2, 0.6, db=False)
        assert not np.array_equal(left, right)
        np.testing.assert_array_equal(mix, np.maximum(left, right))


@pytest.mark.parametrize("s", [
    10752,  # 21 * 512: a frame of every octave lies on the click
    11029,  # 5 samples after a top-octave frame, 11 before the next
    11052,  # past the middle of a 512-sample cell: the nearest coarse centre is the next one
])
def test_click_is_a_narrow_column_in_the_top_octave(s, small, tmp_path):
    x = np.zeros(SR // 2)
    x[s] = 1.0
    path = save(small.forward(x), tmp_path / "click.h5")
    with load(path) as box:
        img, times, _ = box.image()
        grid = box.hops[-1]
        assert times[1] - times[0] == grid / SR
        widths = []
        for j in range(box.n_octaves):
            level = img[j * 12:(j + 1) * 12].max(axis=0)
            loud = times[level > level.max() - 20]
            widths.append(loud.max() - loud.min())
            # the loudest cells are those of the octave's frame nearest the click (the
            # frame's time is their middle): never delayed by more than half its hop
            h = box.hops[j]
            r = h // grid
            k = round(s / h)  # nearest frame (no ties for these clicks)
            assert abs(k * h - s) < h / 2
            cells = np.flatnonzero(level == level.max())  # times[0] == 0: index = cell
            assert cells.tolist() == list(range(k * r - r // 2, k * r - r // 2 + r))
            assert (cells[0] - 0.5) * grid <= s  # the lit cells start by the click
        top = img[-12:].max(axis=0)
        # the column whose centre is nearest the click lights, and it alone
        assert np.argmax(top) == round(s / grid)
        assert np.count_nonzero(top == top.max()) == 1
        assert widths[-1] < 0.010  # seconds within 20 dB of the peak
        assert all(a > b for a, b in zip(widths, widths[1:]))  # narrower each octave up
        # pooling onto the coarsest grid keeps the click's peak, in the one column whose
        # centre is nearest the click
        coarse = box.hops[0]
        pooled, ptimes, _ = box.image(hop=coarse, db=False)
        stored = np.abs(box.octaves[-1][...])
        column = pooled[-12:].max(axis=0)
        assert column.max() == stored.max()
        assert np.flatnonzero(column == column.max()).tolist() == [round(s / coarse)]
        assert abs(ptimes[np.argmax(column)] - s / SR) <= coarse / 2 / SR


def test_image_errors(noise_path):
    with load(noise_path) as box:
        for hop in (48, 8, 1024, 0):
            with pytest.raises(ParameterError, match=re.escape(
                    f"hop={hop} must be a power of two between 16 and 512")):
                box.image(hop=hop)
        for channel in (2, -1, "left"):
            with pytest.raises(ParameterError, match=re.escape(
                    f"channel={channel!r} does not exist: the container has 2 channel(s) "
                    "(0..1) or 'mix'")):
                box.image(channel=channel)
        for start, end in ((0.5, 0.5), (0.6, 0.5)):
            with pytest.raises(ParameterError, match=re.escape(
                    f"the range {start:g}..{end:g} s is empty")):
                box.image(start, end)


@pytest.mark.parametrize("channel", [True, False])
def test_image_rejects_a_bool_channel(channel, noise_path):
    with load(noise_path) as box:
        with pytest.raises(ParameterError, match=re.escape(
                f"channel={channel!r} does not exist: the container has 2 channel(s) "
                "(0..1) or 'mix'")):
            box.image(channel=channel)


# -- stored frame ranges ------------------------------------------------------------

@pytest.fixture(scope="module")
def exact_path(noise_coefficients, tmp_path_factory):
    """The noise container in complex128, for resynthesis to machine precision."""
    return save(noise_coefficients, tmp_path_factory.mktemp("exact") / "exact.h5",
                dtype="complex128")


def _restore(src, dst, frames):
    """Copy a container, each dataset rewritten to hold the global frames
    ``frames(hop, first, count) -> (lo, hi)`` (``lo .. hi - 1``; zeros where not stored)."""
    _copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for name in list(f):
            ds = f[name]
            hop, first, count = int(ds.attrs["hop"]), int(ds.attrs["first_frame"]), ds.shape[2]
            lo, hi = frames(hop, first, count)
            data = np.zeros(ds.shape[:2] + (hi - lo,), ds.dtype)
            a, b = max(lo, first), min(hi, first + count)
            if b > a:
                data[:, :, a - lo:b - lo] = ds[:, :, a - first:b - first]
            _replace_dataset(f, name, data, first_frame=lo, first_frame_time=lo * hop / SR)
    return dst


def _within_the_signal(beyond):
    """Frames of the signal's time span plus ``beyond`` on each side."""
    return lambda hop, first, count: (-beyond, (SR - 1) // hop + 1 + beyond)


def _padded(before, after):
    return lambda hop, first, count: (first - before, first + count + after)


def test_a_container_holding_fewer_frames_loads_and_resynthesizes(
        exact_path, noise_signal, small, snr, tmp_path):
    """Frames may be dropped (here: all but 3 beyond each edge): the loader reads the
    stored ranges, and resynthesis counts the missing frames as zero."""
    path = _restore(exact_path, tmp_path / "fewer.h5", _within_the_signal(3))
    with load(path) as box, load(exact_path) as full:
        assert box.ranges == [(-3, (SR - 1) // g.hop + 7) for g in small.groups]
        assert box.ranges != full.ranges
        for which in ["lowpass", "highpass"] + list(range(box.n_octaves)):
            g = box._group(which)
            hop = small.groups[g].hop
            times = box.frame_times(which)
            np.testing.assert_array_equal(times, (np.arange(len(times)) - 3) * hop / SR)
            # the frames kept are the full container's frames at those times
            kept = np.isin(full.frame_times(which), times)
            assert kept.sum() == len(times)
            ds, ref = box._datasets[g], full._datasets[g]
            np.testing.assert_array_equal(ds[...], ref[...][:, :, kept])
        everything = box.crop()
        for j in range(box.n_octaves):
            np.testing.assert_array_equal(everything.times[j], box.frame_times(j))
            np.testing.assert_array_equal(everything.octaves[j], box.octaves[j][...])
        part, ref = box.crop(0.3, 0.6), full.crop(0.3, 0.6)
        for a, b in zip(part.octaves + part.times, ref.octaves + ref.times):
            np.testing.assert_array_equal(a, b)
        c = box.to_coefficients()
        assert c.firsts == [first for first, _ in box.ranges]
        assert [a.shape[2] for a in c.groups] == [count for _, count in box.ranges]
        audio = box.to_audio()
    np.testing.assert_allclose(audio, small.inverse(c), rtol=0, atol=1e-13)
    middle = slice(SR // 4, 3 * SR // 4)
    assert snr(noise_signal[:, middle], audio[:, middle]) >= 80
    # the edges lost the frames beyond them: worse than the interior, far from exact
    assert snr(noise_signal, audio) < snr(noise_signal[:, middle], audio[:, middle]) - 10
    assert 20 < snr(noise_signal, audio) < 150
    # and saving those coefficients again keeps the frames they hold
    with load(save(c, tmp_path / "again.h5", dtype="complex128")) as again:
        assert again.ranges == box.ranges
        np.testing.assert_array_equal(again.to_audio(), audio)


def test_a_container_holding_more_frames_resynthesizes_the_same(exact_path, snr, tmp_path):
    """Extra (zero) frames beyond those msft writes change nothing."""
    path = _restore(exact_path, tmp_path / "more.h5", _padded(5, 7))
    with load(path) as box, load(exact_path) as full:
        assert box.ranges == [(first - 5, count + 12) for first, count in full.ranges]
        np.testing.assert_array_equal(box.frame_times(2)[5:-7], full.frame_times(2))
        np.testing.assert_allclose(box.to_audio(), full.to_audio(), rtol=0, atol=1e-13)
        img, times, _ = box.image(-0.1, 1.1, hop=64, db=False)
        want, want_times = _reference_image(box, -0.1, 1.1, 64, "mix")
        np.testing.assert_array_equal(times, want_times)
        np.testing.assert_allclose(img, want, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(img, full.image(-0.1, 1.1, hop=64, db=False)[0])


def test_image_of_a_container_holding_fewer_frames(exact_path, tmp_path):
    path = _restore(exact_path, tmp_path / "fewer.h5", _within_the_signal(2))
    with load(path) as box:
        for start, end, hop in ((-0.05, 1.05, 16), (-0.05, 1.05, 256), (0.2, 0.5, 32)):
            img, times, _ = box.image(start, end, hop=hop, db=False, channel=1)
            want, want_times = _reference_image(box, start, end, hop, 1)
            np.testing.assert_array_equal(times, want_times)
            np.testing.assert_allclose(img, want, rtol=1e-12, atol=0)
        # cells beyond the stored frames are zeros: in dB, the floor, quietly
        db, times, _ = box.image(-0.05, 0.0, floor_db=-100.0)
        assert np.all(db[-12:, times < -3 * 16 / SR] == -100.0)


def test_a_dataset_may_hold_no_frames(exact_path, tmp_path):
    path = _restore(exact_path, tmp_path / "none.h5",
                    lambda hop, first, count: (0, 0) if hop == 2 else (first, first + count))
    with load(path) as box, load(exact_path) as full:
        assert box.ranges[-1] == (0, 0) and box.ranges[:-1] == full.ranges[:-1]
        assert len(box.frame_times("highpass")) == 0
        assert box.crop().highpass.shape == (2, 1, 0)
        assert box.to_coefficients().groups[-1].shape == (2, 1, 0)
        audio = box.to_audio()
        assert audio.shape == (2, SR) and np.all(np.isfinite(audio))
        # what is missing is the high-pass band: a good part of the noise, and only
        # frequencies above the highest bin (up to leakage at the 1 s signal's edges)
        missing = full.to_audio() - audio
        assert np.linalg.norm(missing) > 0.3 * np.linalg.norm(audio)
        spectrum = np.abs(np.fft.rfft(missing)) ** 2
        above = np.fft.rfftfreq(SR, 1 / SR) > box.transform.fmax
        assert spectrum[:, ~above].sum() < 1e-4 * spectrum.sum()


def test_coefficients_holding_more_frames_can_be_saved(exact_path, tmp_path):
    path = _restore(exact_path, tmp_path / "more.h5", _padded(5, 7))
    with load(path) as box:
        c = box.to_coefficients()
        audio = box.to_audio()
    with load(save(c, tmp_path / "again.h5", dtype="complex128")) as again:
        np.testing.assert_allclose(again.to_audio(), audio, rtol=0, atol=1e-13)


# -- loading errors ---------------------------------------------------------------

def _copy(src, dst):
    dst.write_bytes(src.read_bytes())
    return dst


def test_load_missing_file(tmp_path):
    path = tmp_path / "nothing.h5"
    with pytest.raises(ContainerError, match=re.escape(f"{path}: no such file")):
        load(path)


def test_load_folder(tmp_path):
    with pytest.raises(ContainerError, match=re.escape(f"{tmp_path}: is a folder, not a "
                                                       "container")):
        load(tmp_path)


@pytest.mark.parametrize("content", [b"not an hdf5 file\n" * 50, b"", "truncated"])
def test_load_not_hdf5(content, noise_path, tmp_path):
    path = tmp_path / "bad.h5"
    if content == "truncated":
        content = noise_path.read_bytes()[:20000]
    path.write_bytes(content)
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: not an HDF5 file (corrupt or another format)")):
        load(path)


def test_load_hdf5_without_format(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(3)
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: not an msft container (no format attribute)")):
        load(path)


def test_load_other_format(noise_path, tmp_path):
    path = _copy(noise_path, tmp_path / "other.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["format"] = "other"
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: not an msft container (format attribute is 'other', expected 'msft')")):
        load(path)


def test_load_newer_version(noise_path, tmp_path):
    path = _copy(noise_path, tmp_path / "future.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: format version 99 is newer than this msft reads (1): upgrade msft")):
        load(path)


def test_load_ignores_unknown_additions(noise_path, tmp_path):
    """Within a version, new attributes and datasets are additions old readers ignore."""
    path = _copy(noise_path, tmp_path / "extra.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["some_future_attribute"] = 3
        f["some_future_dataset"] = np.arange(4)
        f["octave_1"].attrs["some_future_attribute"] = "x"
    with load(path) as box, load(noise_path) as ref:
        np.testing.assert_array_equal(box.octaves[1][...], ref.octaves[1][...])


def _replace_dataset(f, name, data, **attrs):
    """Swap a dataset for ``data``, keeping its attributes unless given in ``attrs``."""
    kept = dict(f[name].attrs)
    del f[name]
    f.create_dataset(name, data=data)
    f[name].attrs.update({**kept, **attrs})


@pytest.mark.parametrize("shape, shown", [
    ((2, 11, 10), "(2, 11, 10)"),    # a bin short
    ((1, 12, 10), "(1, 12, 10)"),    # a channel short
    ((2, 12), "(2, 12)"),            # no time axis
    ((2, 12, 10, 1), "(2, 12, 10, 1)"),
])
def test_load_dataset_of_the_wrong_shape(shape, shown, noise_path, tmp_path):
    path = _copy(noise_path, tmp_path / "shape.h5")
    with h5py.File(path, "r+") as f:
        _replace_dataset(f, "octave_2", np.zeros(shape, np.complex64))
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: dataset /octave_2 has shape {shown}, expected (2, 12, frames)")):
        load(path)


@pytest.mark.parametrize("attr", ["first_frame", "hop"])
def test_load_dataset_without_first_frame_or_hop(attr, noise_path, tmp_path):
    path = _copy(noise_path, tmp_path / "attr.h5")
    with h5py.File(path, "r+") as f:
        del f["highpass"].attrs[attr]
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: dataset /highpass lacks its first_frame or hop attribute")):
        load(path)


def test_load_dataset_with_another_hop(noise_path, tmp_path):
    path = _copy(noise_path, tmp_path / "hop.h5")
    with h5py.File(path, "r+") as f:
        f["octave_3"].attrs["hop"] = 32
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: dataset /octave_3 has hop 32, the parameters give 64")):
        load(path)


@pytest.mark.parametrize("name, keep", [("octave_1", slice(0, -1)), ("lowpass", slice(1, None)),
                                        ("highpass", slice(0, 0))])
def test_load_periodic_container_missing_frames(name, keep, small_periodic, rng, tmp_path):
    """A period is resynthesized in one piece: every frame of it must be there."""
    path = save(small_periodic.forward(rng.standard_normal(5000)), tmp_path / "p.h5")
    with h5py.File(path, "r+") as f:
        first = int(f[name].attrs["first_frame"]) + (keep.start or 0)
        _replace_dataset(f, name, f[name][:, :, keep], first_frame=first)
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: periodic container does not hold every frame of its period")):
        load(path)


def test_load_periodic_container_with_shifted_frames(small_periodic, rng, tmp_path):
    path = save(small_periodic.forward(rng.standard_normal(5000)), tmp_path / "p.h5")
    with h5py.File(path, "r+") as f:
        f["octave_4"].attrs["first_frame"] = 1
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: periodic container does not hold every frame of its period")):
        load(path)


@pytest.mark.parametrize("version", [0, -1, True, 1.0, "1", None])
def test_load_format_version_not_a_positive_integer(version, noise_path, tmp_path):
    path = _copy(noise_path, tmp_path / "version.h5")
    with h5py.File(path, "r+") as f:
        if version is None:
            del f.attrs["format_version"]
        else:
            f.attrs["format_version"] = version
        stored = f.attrs.get("format_version")  # as h5py gives it back
    if isinstance(stored, bytes):
        stored = stored.decode()
    if isinstance(stored, np.generic):  # numpy scalars are shown as plain numbers
        stored = stored.item()
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: format_version {stored!r} is not a positive integer")):
        load(path)


def test_format_version_message_shows_a_plain_number(noise_path, tmp_path):
    path = _copy(noise_path, tmp_path / "version.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 0
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: format_version 0 is not a positive integer")):
        load(path)


def test_load_fixed_length_byte_string_attributes(noise_path, tmp_path):
    """Other writers may store strings as fixed-length bytes (np.bytes_): they read as str."""
    path = _copy(noise_path, tmp_path / "bytes.h5")
    with h5py.File(path, "r+") as f:
        for k in ("format", "window", "mode", "source_name", "source_format",
                  "source_subtype", "msft_version"):
            f.attrs[k] = np.bytes_(f.attrs[k].encode())
        f["octave_0"].attrs["kind"] = np.bytes_(b"octave")
        assert isinstance(f.attrs["window"], np.bytes_)
    with load(path) as box, load(noise_path) as ref:
        assert box.attrs == ref.attrs
        assert all(type(box.attrs[k]) is str for k in ("format", "window", "mode",
                                                       "msft_version"))
        assert box.transform.to_params() == ref.transform.to_params()
        assert box.source == {"name": "noise.wav", "format": "WAV", "subtype": "PCM_16"}
        np.testing.assert_array_equal(box.to_audio(), ref.to_audio())
    assert "noise.wav (WAV, PCM_16)" in str(info(path))


def test_load_missing_dataset(noise_path, tmp_path):
    path = _copy(noise_path, tmp_path / "missing.h5")
    with h5py.File(path, "r+") as f:
        del f["highpass"]
    with pytest.raises(ContainerError, match=re.escape(
            f"{path}: incomplete or corrupt container (")):
        load(path)


def test_container_error_is_an_msft_error():
    assert issubclass(ContainerError, MsftError)


# -- info -------------------------------------------------------------------------

def test_info_summary(default_box):
    path, t, n = default_box
    summary = info(path)
    text = str(summary)
    assert str(path) in text
    assert "a4.wav (WAV, FLOAT)" in text
    assert f"1.500 s ({n} samples at 44100 Hz), 2 channels" in text
    assert "12 bins/octave, 10 octaves" in text and "window bump" in text
    assert "mode zero" in text and "format msft v1" in text and "complex64" in text
    with h5py.File(path, "r") as f:
        for name in _names(t):
            ds = f[name]
            line = rf"^\s+{name}\s+{ds.attrs['hop']}\s+{ds.shape[1]}\s+{ds.shape[2]}\s"
            assert re.search(line, text, re.MULTILINE), name
    assert summary.size == path.stat().st_size
    assert (summary.sr, summary.n_samples, summary.n_channels) == (SR, n, 2)


def test_info_of_a_container_without_first_frame_time(noise_path, tmp_path):
    path = _copy(noise_path, tmp_path / "plain.h5")
    with h5py.File(path, "r+") as f:
        for ds in f.values():
            del ds.attrs["first_frame_time"]
    with load(path) as box:
        first = box.frame_times("lowpass")[0]
    assert f"{first:>7.3f}s" in str(info(path))


# -- writing ----------------------------------------------------------------------

def test_an_exception_while_writing_leaves_nothing(small, noise_coefficients, tmp_path):
    path = tmp_path / "x.h5"
    c = noise_coefficients
    with pytest.raises(RuntimeError, match="stop"):
        with Writer(path, small, c.n_samples, c.n_channels) as w:
            w.write(1, c.firsts[1], c.groups[1].astype(np.complex64))
            assert not path.exists()  # never under the final name while incomplete
            assert len(_leftovers(tmp_path)) == 1
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_existing_file(small, noise_coefficients, tmp_path):
    path = save(noise_coefficients, tmp_path / "x.h5")
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with Writer(path, small, 100, 1):
            raise RuntimeError("stop")
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_written_file_gets_the_usual_permissions(noise_coefficients, tmp_path):
    path = save(noise_coefficients, tmp_path / "x.h5")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert _leftovers(tmp_path) == []


def test_writer_rejects_a_bad_dtype(small, noise_coefficients, tmp_path):
    with pytest.raises(ParameterError, match=re.escape(
            "dtype='float32' is unknown: must be one of complex64, complex128, complex32")):
        Writer(tmp_path / "x.h5", small, 100, 1, dtype="float32")
    with pytest.raises(ParameterError, match=re.escape(
            "dtype='complex256' is unknown: must be one of complex64, complex128, complex32")):
        save(noise_coefficients, tmp_path / "x.h5", dtype="complex256")
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_a_bad_compression(small, noise_coefficients, tmp_path):
    with pytest.raises(ParameterError, match=re.escape(
            "compression='zstd' is unknown: must be one of none, gzip, lzf")):
        Writer(tmp_path / "x.h5", small, 100, 1, compression="zstd")
    with pytest.raises(ParameterError, match=re.escape(
            "compression=None is unknown: must be one of none, gzip, lzf")):
        save(noise_coefficients, tmp_path / "x.h5", compression=None)
    assert list(tmp_path.iterdir()) == []


def test_writer_bad_destination(small, tmp_path):
    missing = tmp_path / "nowhere" / "x.h5"
    with pytest.raises(ContainerError, match=re.escape(
            f"{missing}: the folder {missing.parent} does not exist")):
        Writer(missing, small, 100, 1)
    folder = tmp_path / "d.h5"
    folder.mkdir()
    with pytest.raises(ContainerError, match=re.escape(f"{folder}: is a folder")):
        Writer(folder, small, 100, 1)
    assert _leftovers(tmp_path) == [] and list(folder.iterdir()) == []


def test_writer_rejects_no_channels_and_leaves_nothing(small, tmp_path):
    with pytest.raises(ParameterError, match=re.escape("n_channels=0 must be a positive integer")):
        Writer(tmp_path / "x.h5", small, 100, 0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("n_samples, n_channels, error, message", [
    (0, 1, ParameterError, "n_samples=0 must be a positive integer"),
    (-5, 1, ParameterError, "n_samples=-5 must be a positive integer"),
    (100.0, 1, TypeError, "n_samples must be an int, not float"),
    (True, 1, TypeError, "n_samples must be an int, not bool"),
    ("100", 1, TypeError, "n_samples must be an int, not str"),
    (100, -1, ParameterError, "n_channels=-1 must be a positive integer"),
    (100, 2.0, TypeError, "n_channels must be an int, not float"),
    (100, True, TypeError, "n_channels must be an int, not bool"),
    (100, None, TypeError, "n_channels must be an int, not NoneType"),
])
def test_writer_validates_its_sizes_before_making_a_file(n_samples, n_channels, error, message,
                                                         small, tmp_path, monkeypatch):
    def no_file(*args, **kwargs):
        raise AssertionError("a temporary file was made before the sizes were checked")

    monkeypatch.setattr(tempfile, "mkstemp", no_file)
    with pytest.raises(error) as info:
        Writer(tmp_path / "x.h5", small, n_samples, n_channels)
    assert str(info.value) == message
    assert list(tmp_path.iterdir()) == []


def test_writer_accepts_numpy_integer_sizes(small, rng, tmp_path):
    c = small.forward(rng.standard_normal((2, 3000)))
    with Writer(tmp_path / "x.h5", small, np.int64(3000), np.int32(2)) as w:
        for g, arr in enumerate(c.groups):
            w.write(g, c.firsts[g], arr)
    with load(tmp_path / "x.h5") as box:
        assert (box.n_samples, box.n_channels) == (3000, 2)


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failure_while_laying_out_leaves_nothing(error, small, noise_coefficients, tmp_path,
                                                   monkeypatch):
    """The datasets are created in the constructor: a failure there removes the file too."""
    path = save(noise_coefficients, tmp_path / "x.h5")
    before = path.read_bytes()
    made = []
    create = h5py.Group.create_dataset

    def failing(self, name, *args, **kwargs):
        made.append(name)
        if len(made) == 3:
            raise error
        return create(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(type(error)):
        Writer(path, small, SR, 2)
    assert len(made) == 3
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["x.h5"]


# -- complex32: float16 real and imaginary parts ------------------------------------------

def test_complex32_round_trip_rounds_each_part_to_float16(noise_coefficients, noise_signal,
                                                           noise_path, tmp_path):
    path = save(noise_coefficients, tmp_path / "c32.h5", dtype="complex32")
    with h5py.File(path, "r") as f:  # the documented layout, as plain h5py sees it
        ds = f["octave_3"]
        assert ds.dtype == np.dtype([("r", "<f2"), ("i", "<f2")])
        assert f["lowpass"].dtype == np.float16 and f["highpass"].dtype == np.float16
        raw = ds[...]
    want = noise_coefficients.octaves[3]
    for part, got in ((want.real, raw["r"]), (want.imag, raw["i"])):
        # round to nearest: half an ulp of float16 (2**-11 relative), 2**-25 near zero
        assert np.all(np.abs(got.astype(float) - part) <= 2.0**-11 * np.abs(part) + 2.0**-25)
    with load(path) as box:
        assert (box.stored_dtype, box.dtype) == ("complex32", np.complex64)
        assert box.octaves[3].dtype == np.complex64
        np.testing.assert_array_equal(box.octaves[3][...], raw["r"] + 1j * raw["i"])
        first = box.ranges[4][0]  # octave 3 is group 4
        got = box.read_frames(3, first - 2, first + 5)
        assert got.dtype == np.complex64 and not got[:, :, :2].any()
        np.testing.assert_array_equal(got[:, :, 2:], box.crop().octaves[3][:, :, :5])
        y = box.to_audio()
        assert "storage     complex32," in str(info(path))
    # each coefficient within 2**-11 of itself: about 66 dB for a tight frame
    snr = 20 * np.log10(np.linalg.norm(noise_signal) / np.linalg.norm(noise_signal - y))
    assert snr > 60
    assert path.stat().st_size < 0.55 * noise_path.stat().st_size


def test_complex32_refuses_coefficients_beyond_float16(noise_coefficients, small, tmp_path):
    loud = small.forward(1e5 * np.ones(SR // 10))
    with pytest.raises(ParameterError, match=r"a coefficient part of [\d.e+]+ overflows "
                                             r"dtype='complex32' \(float16 holds up to "
                                             r"65504\): use complex64$"):
        save(loud, tmp_path / "loud.h5", dtype="complex32")
    assert _leftovers(tmp_path) == [] and not (tmp_path / "loud.h5").exists()


def test_complex32_containers_resynthesize_render_and_crop(tmp_path, rng):
    from msft_cli import resynth
    from msft_cli.dataset import CropDataset
    from msft_cli.render import render
    x = 0.2 * rng.standard_normal((SR // 2, 2))
    sf.write(str(tmp_path / "a.wav"), x, SR, subtype="FLOAT")
    analyze(tmp_path / "a.wav", tmp_path / "a.h5", dtype="complex32", fmin=FMIN)
    analyze(tmp_path / "a.wav", tmp_path / "ref.h5", dtype="complex64", fmin=FMIN)
    report = resynth(tmp_path / "a.h5", tmp_path / "back.wav", reference=tmp_path / "a.wav")
    assert report.extra["snr_db"] > 60
    assert render(tmp_path / "a.h5", tmp_path / "a.png").extra["width"] == 1200
    crops = CropDataset(tmp_path / "a.h5", frames=4, order="sequential", encoding="complex")
    refs = CropDataset(tmp_path / "ref.h5", frames=4, order="sequential", encoding="complex")
    a, b = crops[1]["octaves"][2], refs[1]["octaves"][2]
    assert np.max(np.abs(a - b)) <= 2.0**-10 * np.max(np.abs(b))


def test_root_format_tells_msft_files_apart(tmp_path):
    """root_format reads the root ``format`` attribute: msft containers, model files, foreign
    HDF5 files (with and without one) and files that are not HDF5 at all."""
    from msft_cli.io.container import root_format
    box = tmp_path / "box.h5"
    save(MSFT(8000, fmin=100.0).forward(np.zeros(800)), box)
    assert root_format(box) == "msft"
    for name, attrs in (("model.h5", {"format": "msft-model"}), ("other.h5", {"format": "x"}),
                        ("bare.h5", {})):
        with h5py.File(tmp_path / name, "w") as f:
            f.attrs.update(attrs)
        assert root_format(tmp_path / name) == attrs.get("format", "")
    (tmp_path / "text.h5").write_text("not hdf5")
    assert root_format(tmp_path / "text.h5") is None
    assert root_format(tmp_path / "missing.h5") is None
